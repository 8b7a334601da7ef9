// The local store's directory layout, atomic manifest writes and reference-counted removal.
#include "store/store.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "gguf/gguf.h"
#include "model/describe.h"
#include "tensor/dtype.h"

namespace gemrun::store {
namespace fs = std::filesystem;

namespace {

// Manifest file names: '/' and '%' escaped so "org/repo:Q4_K_M" is one file.
std::string EscapeName(const std::string& name) {
  std::string out;
  for (char c : name) {
    if (c == '/') out += "%2F";
    else if (c == '%') out += "%25";
    else out += c;
  }
  return out;
}

StatusOr<std::string> ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFoundError("cannot open " + path + ": " + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The tensor type holding the most bytes: what users call the file's quantization.
std::string MainTensorType(const GgufFile& f) {
  std::map<DType, uint64_t> bytes;
  for (const auto& t : f.tensors()) bytes[t.type] += t.nbytes;
  DType best = DType::kF32;
  uint64_t most = 0;
  for (const auto& [type, n] : bytes)
    if (n > most) { most = n; best = type; }
  return most ? DTypeName(best) : std::string();
}

}  // namespace

std::string Store::DefaultRoot() {
  if (const char* h = std::getenv("GEMRUN_HOME"); h && *h) return h;
  if (const char* x = std::getenv("XDG_DATA_HOME"); x && *x) return std::string(x) + "/gemrun";
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : ".") + "/.local/share/gemrun";
}

Status Store::EnsureDirs() const {
  for (const char* sub : {"/blobs", "/manifests", "/partial"}) {
    std::error_code ec;
    fs::create_directories(root_ + sub, ec);
    if (ec) return InternalError("cannot create the store directory " + root_ + sub + ": " + ec.message() +
                                 " (set GEMRUN_HOME to a writable directory)");
  }
  return OkStatus();
}

bool Store::HasBlob(const std::string& sha256) const {
  struct stat st;
  return ::stat(BlobPath(sha256).c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

Status Store::AdoptBlob(const std::string& file, const std::string& sha256) const {
  RETURN_IF_ERROR(EnsureDirs());
  if (HasBlob(sha256)) {
    std::remove(file.c_str());
    return OkStatus();
  }
  if (std::rename(file.c_str(), BlobPath(sha256).c_str()) != 0)
    return InternalError("cannot move " + file + " to " + BlobPath(sha256) + ": " + std::strerror(errno));
  ::chmod(BlobPath(sha256).c_str(), 0444);  // blobs never change: a stray write would break the hash
  return OkStatus();
}

Status Store::ValidateName(const std::string& name) {
  if (name.empty() || name.size() > 200)
    return InvalidArgumentError("a model name must have 1 to 200 characters, got " + std::to_string(name.size()));
  if (name[0] == '.' || name[0] == '-' || name.find("..") != std::string::npos)
    return InvalidArgumentError("model name '" + name + "' must not start with '.' or '-' nor contain '..'");
  for (unsigned char c : name)
    if (c < 0x20 || c == 0x7f || c == '\\')
      return InvalidArgumentError("model name '" + name + "' has a control character or backslash");
  return OkStatus();
}

std::string Store::ManifestPath(const std::string& name) const {
  return root_ + "/manifests/" + EscapeName(name) + ".json";
}

bool Store::Has(const std::string& name) const {
  if (!ValidateName(name).ok()) return false;
  struct stat st;
  return ::stat(ManifestPath(name).c_str(), &st) == 0;
}

StatusOr<Manifest> Store::Get(const std::string& name) const {
  RETURN_IF_ERROR(ValidateName(name));
  const std::string path = ManifestPath(name);
  auto text = ReadText(path);
  if (!text.ok())
    return NotFoundError("no model named '" + name + "' in the store " + root_ +
                         " (see `gemrun list`; fetch it with `gemrun pull " + name + "`)");
  return Manifest::FromJson(*text, path);
}

Status Store::Put(const Manifest& m) const {
  RETURN_IF_ERROR(ValidateName(m.name));
  RETURN_IF_ERROR(EnsureDirs());
  const std::string path = ManifestPath(m.name), tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << m.ToJson();
    out.flush();
    if (!out) return InternalError("cannot write " + tmp + ": " + std::strerror(errno));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    return InternalError("cannot rename " + tmp + " to " + path + ": " + std::strerror(errno));
  return OkStatus();
}

StatusOr<std::vector<Manifest>> Store::List() const {
  std::vector<Manifest> out;
  std::error_code ec;
  fs::directory_iterator it(root_ + "/manifests", ec), end;
  if (ec) return out;  // no store yet: nothing pulled
  for (; it != end; it.increment(ec)) {
    const std::string p = it->path().string();
    if (it->path().extension() != ".json") continue;
    ASSIGN_OR_RETURN(std::string text, ReadText(p));
    ASSIGN_OR_RETURN(Manifest m, Manifest::FromJson(text, p));
    out.push_back(std::move(m));
  }
  std::sort(out.begin(), out.end(), [](const Manifest& a, const Manifest& b) { return a.name < b.name; });
  return out;
}

StatusOr<uint64_t> Store::Remove(const std::string& name) const {
  ASSIGN_OR_RETURN(Manifest m, Get(name));
  if (std::remove(ManifestPath(name).c_str()) != 0)
    return InternalError("cannot remove " + ManifestPath(name) + ": " + std::strerror(errno));
  ASSIGN_OR_RETURN(std::vector<Manifest> rest, List());
  auto referenced = [&](const std::string& sha) {
    for (const auto& o : rest)
      if (o.model.sha256 == sha || (o.projector && o.projector->sha256 == sha)) return true;
    return false;
  };
  uint64_t freed = 0;
  std::vector<BlobRef> blobs{m.model};
  if (m.projector) blobs.push_back(*m.projector);
  for (const auto& b : blobs)
    if (!referenced(b.sha256) && std::remove(BlobPath(b.sha256).c_str()) == 0) freed += b.size;
  return freed;
}

Status FillFromHeader(const std::string& path, Manifest* m) {
  ASSIGN_OR_RETURN(auto f, GgufFile::Open(path));
  auto arch = f->GetStringOr("general.architecture", "");
  m->architecture = arch.ok() ? *arch : "";
  m->quantization = MainTensorType(*f);
  m->description = DescribeGguf(*f);
  return OkStatus();
}

std::optional<ResolvedModel> ResolveModelArg(const std::string& arg) {
  struct stat st;
  if (arg.empty() || ::stat(arg.c_str(), &st) == 0) return std::nullopt;  // a path: used as given
  const Store s = Store::Default();
  if (!s.Has(arg)) return std::nullopt;
  auto m = s.Get(arg);
  if (!m.ok()) return std::nullopt;
  ResolvedModel r{s.BlobPath(m->model.sha256), ""};
  if (m->projector) r.projector_path = s.BlobPath(m->projector->sha256);
  return r;
}

std::string UtcNow() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace gemrun::store
