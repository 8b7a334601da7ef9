// Pull orchestration: listing -> file choice -> free-space check -> download -> verify -> adopt.
#include "store/pull.h"

#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <cstdio>
#include <vector>

#include "store/sha256.h"
#include "base/sys_info.h"
#include "gguf/gguf.h"
#include "store/download.h"
#include "store/ref.h"

namespace gemrun::store {
namespace {

// One file to fetch.
struct Wanted {
  std::string url, file, sha256;  // sha256 "" when unknown (plain URL)
  uint64_t size = 0;              // 0 when unknown
  bool projector = false;
};

std::string Trim(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

std::string BaseName(const std::string& p) {
  const size_t k = p.rfind('/');
  return k == std::string::npos ? p : p.substr(k + 1);
}

uint64_t FileSize(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

std::string PartialPath(const Store& s, const Wanted& w) {
  return s.PartialDir() + "/" + (w.sha256.empty() ? "url-" + Sha256Hex(w.url).substr(0, 32) : w.sha256) + ".partial";
}

StatusOr<std::vector<Wanted>> ResolveFiles(const PullRef& r, const PullOptions& o,
                                           const std::function<void(const std::string&)>& log) {
  if (r.kind == PullRef::Kind::kUrl) return std::vector<Wanted>{{r.url, BaseName(r.url), "", 0, false}};
  const std::string endpoint = Trim(o.endpoint);
  const std::string listing_url = endpoint + "/api/models/" + r.repo + "/tree/main?recursive=true";
  HttpOptions h{.token = o.token, .max_attempts = o.max_attempts, .backoff_s = o.backoff_s, .progress = false,
                .label = r.repo, .what = "Hugging Face repo " + r.repo};
  std::string body;
  RETURN_IF_ERROR(HttpGetText(listing_url, h, &body));
  ASSIGN_OR_RETURN(std::vector<RepoFile> files, ParseRepoListing(body, listing_url));
  RepoFile model, projector;
  if (r.kind == PullRef::Kind::kHfFile) {
    for (const auto& f : files)
      if (f.path == r.file) model = f;
    if (model.path.empty())
      return NotFoundError("Hugging Face repo " + r.repo + " has no file " + r.file + " (listed at " + listing_url + ")");
    if (BaseName(model.path).rfind("mmproj", 0) != 0) projector = ChooseProjector(files);
  } else {
    ASSIGN_OR_RETURN(QuantChoice c, ChooseFiles(files, r.repo, r.quant));
    model = c.model;
    projector = c.projector;
  }
  std::vector<Wanted> out;
  for (const RepoFile* f : {&model, &projector}) {
    if (f->path.empty()) continue;
    if (f->sha256.empty())
      return DataLossError("the listing of " + r.repo + " gives no LFS sha256 for " + f->path +
                           "; refusing a file that cannot be verified (pull its URL to record a computed hash)");
    out.push_back({endpoint + "/" + r.repo + "/resolve/main/" + f->path, f->path, f->sha256, f->size, f == &projector});
  }
  if (!projector.path.empty()) log("projector: " + projector.path);
  return out;
}

Status CheckFreeSpace(const Store& s, const std::vector<Wanted>& files) {
  uint64_t need = 0;
  for (const auto& w : files) {
    if (!w.sha256.empty() && s.HasBlob(w.sha256)) continue;
    const uint64_t have = FileSize(PartialPath(s, w));
    if (w.size > have) need += w.size - have;
  }
  struct statvfs v;
  if (need == 0 || ::statvfs(s.root().c_str(), &v) != 0) return OkStatus();
  const uint64_t free_bytes = static_cast<uint64_t>(v.f_bavail) * v.f_frsize;
  if (free_bytes >= need) return OkStatus();
  return ResourceExhaustedError("not enough disk space in " + s.root() + ": the download needs " + HumanBytes(need) +
                                " but only " + HumanBytes(free_bytes) +
                                " are free; free some space (`gemrun rm NAME`) or set GEMRUN_HOME to a larger disk");
}

// Downloads one file into partial/, verifies it and moves it into blobs/. Returns its BlobRef.
StatusOr<BlobRef> Fetch(const Store& s, const Wanted& w, const PullOptions& o, Manifest* m,
                        const std::function<void(const std::string&)>& log) {
  BlobRef b{w.sha256, w.size, w.url, BaseName(w.file), w.sha256.empty() ? "computed" : "lfs"};
  if (!w.sha256.empty() && s.HasBlob(w.sha256)) {
    b.size = FileSize(s.BlobPath(w.sha256));  // the blob's true size, whatever the listing claims
    log("already in the store: " + b.file + " (sha256 " + w.sha256.substr(0, 12) + ")");
    return b;
  }
  const std::string partial = PartialPath(s, w);
  const uint64_t resume = FileSize(partial);
  log("downloading " + b.file + (w.size ? " (" + HumanBytes(w.size) + ")" : "") +
      (resume ? ", resuming at " + HumanBytes(resume) : ""));
  HttpOptions h{.token = o.token, .max_attempts = o.max_attempts, .backoff_s = o.backoff_s,
                .progress = o.progress, .label = b.file, .what = "file " + w.file};
  RETURN_IF_ERROR(DownloadFile(w.url, partial, w.size, h));
  ASSIGN_OR_RETURN(std::string got, Sha256File(partial));
  const uint64_t size = FileSize(partial);
  if (!w.sha256.empty() && got != w.sha256) {
    std::remove(partial.c_str());  // wrong bytes must not be resumed from either
    return DataLossError("SHA-256 mismatch for " + w.file + " from " + w.url + ": expected " + w.sha256 +
                         " (the repo listing's LFS oid), got " + got + " (" + std::to_string(size) +
                         " bytes); the download was deleted and nothing was added to the store. Pull again; if it "
                         "repeats, the mirror or a proxy is serving different bytes");
  }
  // A GGUF header check before the blob enters the store: a URL to an HTML page is caught here.
  Manifest header;
  if (Status st = FillFromHeader(partial, &header); !st.ok()) {
    std::remove(partial.c_str());
    return DataLossError(w.url + " is not a usable GGUF file (" + st.message() + "); nothing was added to the store");
  }
  if (!w.projector) {
    m->architecture = header.architecture;
    m->quantization = header.quantization;
    m->description = header.description;
  }
  b.sha256 = got;
  b.size = size;
  if (w.sha256.empty()) log("note: " + w.url + " publishes no hash; recorded the computed sha256 " + got);
  RETURN_IF_ERROR(s.AdoptBlob(partial, got));
  return b;
}

}  // namespace

StatusOr<PullResult> Pull(const Store& store, const std::string& ref, const PullOptions& o,
                          const std::function<void(const std::string&)>& log) {
  ASSIGN_OR_RETURN(PullRef r, ParsePullRef(ref));
  PullResult out;
  const std::string name = o.name.empty() ? r.name : o.name;
  RETURN_IF_ERROR(Store::ValidateName(name));
  if (!o.force && store.Has(name)) {
    ASSIGN_OR_RETURN(out.manifest, store.Get(name));
    if (store.HasBlob(out.manifest.model.sha256) &&
        (!out.manifest.projector || store.HasBlob(out.manifest.projector->sha256))) {
      out.already_present = true;
      return out;
    }
  }
  if (o.offline)
    return InvalidArgumentError("'" + name + "' is not in the store " + store.root() +
                                " and offline mode (--offline / GEMRUN_OFFLINE=1) forbids downloading it");
  if (!r.catalogue_name.empty()) log(r.catalogue_name + " -> " + r.repo + ":" + r.quant + " (public Hugging Face repo)");
  RETURN_IF_ERROR(store.EnsureDirs());
  ASSIGN_OR_RETURN(std::vector<Wanted> files, ResolveFiles(r, o, log));
  RETURN_IF_ERROR(CheckFreeSpace(store, files));
  Manifest& m = out.manifest;
  m.name = name;
  m.ref = ref;
  m.created = UtcNow();
  for (const auto& w : files) {
    ASSIGN_OR_RETURN(BlobRef b, Fetch(store, w, o, &m, log));
    if (w.projector) m.projector = b;
    else m.model = b;
  }
  if (m.architecture.empty()) {  // the model blob was already present: read its header from the store
    Status st = FillFromHeader(store.BlobPath(m.model.sha256), &m);
    if (!st.ok()) return st;
  }
  // The repo's name for the quantization ("Q4_K_M") says more than the dominant tensor type.
  if (r.kind == PullRef::Kind::kHfQuant) {
    m.quantization = r.quant;
    for (char& c : m.quantization) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  RETURN_IF_ERROR(store.Put(m));
  return out;
}

}  // namespace gemrun::store

namespace gemrun::store {
namespace {

constexpr uint64_t kMaxHeaderBytes = uint64_t{256} << 20;

// The sparse stand-in of a remote file: `prefix`, then a hole up to `size` bytes, opened as a
// GGUF (which checks the tensor table against the true size) and unlinked at once.
StatusOr<std::unique_ptr<GgufFile>> OpenStandIn(const std::string& prefix, uint64_t size) {
  const char* dir = std::getenv("TMPDIR");
  std::string path = std::string(dir && *dir ? dir : "/tmp") + "/gemrun-header-XXXXXX";
  const int fd = ::mkstemp(path.data());
  if (fd < 0) return InternalError("cannot create a temporary file in " + path + ": " + std::strerror(errno));
  bool ok = true;
  for (size_t done = 0; ok && done < prefix.size();) {
    const ssize_t w = ::write(fd, prefix.data() + done, prefix.size() - done);
    if (w < 0 && errno == EINTR) continue;
    ok = w > 0;
    if (ok) done += static_cast<size_t>(w);
  }
  ok = ok && ::ftruncate(fd, static_cast<off_t>(std::max<uint64_t>(size, prefix.size()))) == 0;
  const int err = errno;
  ::close(fd);
  if (!ok) {
    ::unlink(path.c_str());
    return InternalError("cannot write the temporary file " + path + ": " + std::strerror(err));
  }
  auto f = GgufFile::Open(path);
  ::unlink(path.c_str());  // the mapping keeps it alive
  return f;
}

StatusOr<RemoteHeader> FetchHeader(const Wanted& w, const PullOptions& o) {
  RemoteHeader h;
  h.url = w.url;
  HttpOptions http{.token = o.token, .max_attempts = o.max_attempts, .backoff_s = o.backoff_s, .progress = false,
                   .label = w.file, .what = "file " + w.file};
  std::string bytes;
  for (uint64_t want = std::max<uint64_t>(o.header_bytes, 64);; want *= 2) {  // a 262k-token vocabulary is ~6 MiB
    // Only the bytes not fetched yet: [have, want).
    uint64_t total = 0;
    std::string more;
    const uint64_t have = bytes.size();
    RETURN_IF_ERROR(HttpGetRange(w.url, have, want - have, http, &more, &total));
    bytes += more;
    h.size = total ? total : (w.size ? w.size : bytes.size());
    h.fetched = bytes.size();
    const bool whole = bytes.size() >= h.size;
    auto f = OpenStandIn(bytes, h.size);
    // The parse is only real when the header ended within the fetched bytes (past them it
    // read the hole's zeros): otherwise fetch more, up to a bound.
    if (f.ok() && ((*f)->data_offset() <= bytes.size() || whole)) {
      h.file = std::move(*f);
      return h;
    }
    if (whole || more.empty() || want >= kMaxHeaderBytes) {
      const std::string why = f.ok() ? "the header does not end within " + std::to_string(bytes.size()) + " bytes"
                                     : f.status().message();
      return DataLossError(w.url + " is not a usable GGUF file: " + why);
    }
  }
}

}  // namespace

StatusOr<RemoteModel> FetchRemoteHeaders(const std::string& ref, const PullOptions& o) {
  ASSIGN_OR_RETURN(PullRef r, ParsePullRef(ref));
  if (o.offline)
    return InvalidArgumentError("'" + ref + "' is neither a file nor in the store, and offline mode (--offline / "
                                "GEMRUN_OFFLINE=1) forbids reading its header over the network");
  ASSIGN_OR_RETURN(std::vector<Wanted> files, ResolveFiles(r, o, [](const std::string&) {}));
  RemoteModel out;
  for (const Wanted& w : files) {
    ASSIGN_OR_RETURN(RemoteHeader h, FetchHeader(w, o));
    if (w.projector) out.projector = std::move(h);
    else out.model = std::move(h);
  }
  return out;
}

}  // namespace gemrun::store
