// Reading inputs: files and directory trees (sorted, .gitignore and --include/--exclude globs
// applied, binary files skipped with a note), with the size caps of IngestLimits.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "ingest/gitignore.h"
#include "ingest/ingest.h"

namespace gemrun::ingest {
namespace {

namespace fs = std::filesystem;

bool AnyGlob(const std::vector<std::string>& globs, const std::string& rel) {
  const size_t slash = rel.rfind('/');
  const std::string base = slash == std::string::npos ? rel : rel.substr(slash + 1);
  for (const std::string& g : globs)
    if (GlobMatch(g, rel) || (g.find('/') == std::string::npos && GlobMatch(g, base))) return true;
  return false;
}

Status ReadFile(const fs::path& p, const IngestLimits& lim, std::string* out) {
  std::error_code ec;
  const uintmax_t size = fs::file_size(p, ec);
  if (ec) return NotFoundError("cannot read " + p.string() + ": " + ec.message());
  if (size > lim.max_file_bytes)
    return InvalidArgumentError(p.string() + ": " + std::to_string(size >> 20) + " MiB is over the " +
                                std::to_string(lim.max_file_bytes >> 20) + " MiB cap per file; raise --max-bytes");
  std::ifstream in(p, std::ios::binary);
  if (!in) return NotFoundError("cannot open " + p.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return DataLossError("read error in " + p.string());
  *out = std::move(ss).str();
  return OkStatus();
}

// Decodes one file; `in_walk`: found in a directory (binary -> note) rather than named.
Status AddFile(const fs::path& p, bool in_walk, const IngestOptions& opts, IngestResult* out) {
  std::string bytes;
  RETURN_IF_ERROR(ReadFile(p, opts.limits, &bytes));
  auto doc = DecodeBytes(p.lexically_normal().string(), std::move(bytes), opts.limits, &out->notes);
  if (!doc.ok()) {
    if (in_walk && doc.status().code() == StatusCode::kUnimplemented) {
      out->notes.push_back("skipped " + doc.status().message());
      return OkStatus();
    }
    return doc.status();
  }
  out->total_bytes += doc->text.size();
  if (out->total_bytes > opts.limits.max_total_bytes)
    return InvalidArgumentError("the inputs decode to more than " + std::to_string(opts.limits.max_total_bytes >> 20) +
                                " MiB in all (at " + p.string() + "); give fewer files or narrow with --include");
  out->docs.push_back(std::move(*doc));
  return OkStatus();
}

Status Walk(const fs::path& root, const std::string& rel, GitIgnore ignore, const IngestOptions& opts,
            IngestResult* out) {
  const fs::path dir = rel.empty() ? root : root / rel;
  if (opts.gitignore) {
    std::ifstream gi(dir / ".gitignore", std::ios::binary);
    if (gi) {
      std::ostringstream ss;
      ss << gi.rdbuf();
      ignore.AddRules(rel, ss.str());
    }
  }
  std::error_code ec;
  std::vector<fs::directory_entry> entries;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) entries.push_back(*it);
  if (ec) return NotFoundError("cannot list " + dir.string() + ": " + ec.message());
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.path() < b.path(); });
  for (const auto& e : entries) {
    const std::string name = e.path().filename().string();
    if (name == ".git") continue;
    const std::string sub = rel.empty() ? name : rel + "/" + name;
    const bool link = e.is_symlink(ec);
    const bool is_dir = e.is_directory(ec);
    if (is_dir && link) continue;  // no loops through directory links
    if (AnyGlob(opts.exclude, sub)) continue;
    if (opts.gitignore && ignore.Ignored(sub, is_dir)) continue;
    if (is_dir) {
      RETURN_IF_ERROR(Walk(root, sub, ignore, opts, out));
    } else if (e.is_regular_file(ec)) {
      if (!opts.include.empty() && !AnyGlob(opts.include, sub)) continue;
      RETURN_IF_ERROR(AddFile(e.path(), /*in_walk=*/true, opts, out));
    }
  }
  return OkStatus();
}

}  // namespace

Status IngestPaths(const std::vector<std::string>& paths, const IngestOptions& opts, IngestResult* out) {
  for (const std::string& p : paths) {
    std::error_code ec;
    const fs::file_status st = fs::status(p, ec);
    if (ec || !fs::exists(st)) return NotFoundError("no such file or directory: " + p);
    if (fs::is_directory(st)) {
      RETURN_IF_ERROR(Walk(fs::path(p), "", GitIgnore(), opts, out));
    } else {
      RETURN_IF_ERROR(AddFile(fs::path(p), /*in_walk=*/false, opts, out));
    }
  }
  return OkStatus();
}

Status IngestBytes(const std::string& name, std::string bytes, const IngestOptions& opts, IngestResult* out) {
  ASSIGN_OR_RETURN(Document d, DecodeBytes(name, std::move(bytes), opts.limits, &out->notes));
  out->total_bytes += d.text.size();
  out->docs.push_back(std::move(d));
  return OkStatus();
}

}  // namespace gemrun::ingest
