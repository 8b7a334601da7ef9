// ustar writer and reader for model bundles (see bundle.h). Only what bundles need: regular
// files, names under 100 bytes, octal or GNU base-256 sizes.
#include "store/bundle.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "store/sha256.h"

namespace gemrun::store {
namespace {

using File = std::unique_ptr<FILE, int (*)(FILE*)>;
constexpr size_t kBlock = 512;
constexpr uint64_t kMaxManifestBytes = 1 << 20;

void PutOctal(char* field, size_t width, uint64_t v) {  // width includes the terminating NUL
  std::snprintf(field, width, "%0*llo", static_cast<int>(width - 1), static_cast<unsigned long long>(v));
}

void Header(char (&h)[kBlock], const std::string& name, uint64_t size) {
  std::memset(h, 0, kBlock);
  std::memcpy(h, name.data(), name.size());  // names here are < 100 bytes
  PutOctal(h + 100, 8, 0644);
  PutOctal(h + 108, 8, 0);
  PutOctal(h + 116, 8, 0);
  if (size < (uint64_t{1} << 33)) {
    PutOctal(h + 124, 12, size);
  } else {  // GNU base-256: high bit set, big-endian value
    h[124] = static_cast<char>(0x80);
    for (int i = 0; i < 8; ++i) h[135 - i] = static_cast<char>(size >> (8 * i));
  }
  PutOctal(h + 136, 12, 0);
  h[156] = '0';
  std::memcpy(h + 257, "ustar", 6);
  std::memcpy(h + 263, "00", 2);
  std::memset(h + 148, ' ', 8);
  unsigned sum = 0;
  for (size_t i = 0; i < kBlock; ++i) sum += static_cast<unsigned char>(h[i]);
  std::snprintf(h + 148, 8, "%06o", sum);
}

Status WriteAll(FILE* f, const void* p, size_t n, const std::string& path) {
  if (std::fwrite(p, 1, n, f) != n) return ResourceExhaustedError("cannot write " + path + ": " + std::strerror(errno));
  return OkStatus();
}

Status Pad(FILE* f, uint64_t size, const std::string& path) {
  static const char zeros[kBlock] = {};
  const size_t pad = (kBlock - size % kBlock) % kBlock;
  return WriteAll(f, zeros, pad, path);
}

Status CopyBlob(FILE* out, const std::string& blob, uint64_t size, const std::string& path) {
  File in(std::fopen(blob.c_str(), "rb"), &std::fclose);
  if (!in) return NotFoundError("cannot open the blob " + blob + ": " + std::strerror(errno));
  std::vector<char> buf(1 << 20);
  uint64_t done = 0;
  for (size_t n; (n = std::fread(buf.data(), 1, buf.size(), in.get())) > 0; done += n)
    RETURN_IF_ERROR(WriteAll(out, buf.data(), n, path));
  if (done != size)
    return DataLossError("the blob " + blob + " has " + std::to_string(done) + " bytes, the manifest says " +
                         std::to_string(size) + "; the store is damaged (pull the model again)");
  return Pad(out, size, path);
}

// Parses one header; false at the end-of-archive (zero) block.
StatusOr<bool> ReadHeader(const char (&h)[kBlock], const std::string& where, std::string* name, uint64_t* size) {
  bool zero = true;
  for (char c : h) zero &= c == 0;
  if (zero) return false;
  unsigned sum = 0;
  for (size_t i = 0; i < kBlock; ++i) sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(h[i]);
  if (std::strtoul(std::string(h + 148, 8).c_str(), nullptr, 8) != sum)
    return DataLossError(where + ": a tar header has a bad checksum (not a gemrun bundle, or damaged)");
  *name = std::string(h, strnlen(h, 100));
  if (static_cast<unsigned char>(h[124]) == 0x80) {
    *size = 0;
    for (int i = 128; i < 136; ++i) *size = *size << 8 | static_cast<unsigned char>(h[i]);
  } else {
    *size = std::strtoull(std::string(h + 124, 12).c_str(), nullptr, 8);
  }
  if (h[156] != '0' && h[156] != 0) return DataLossError(where + ": member " + *name + " is not a regular file");
  return true;
}

// Streams `size` bytes (plus padding) of `in` into `dst` (nullptr: into *text), hashing them.
Status ReadMember(FILE* in, uint64_t size, FILE* dst, std::string* text, Sha256* h, const std::string& where) {
  std::vector<char> buf(1 << 20);
  const uint64_t padded = (size + kBlock - 1) / kBlock * kBlock;
  for (uint64_t done = 0; done < padded;) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), padded - done));
    if (std::fread(buf.data(), 1, want, in) != want) return DataLossError(where + ": truncated bundle");
    const size_t data = static_cast<size_t>(std::min<uint64_t>(want, size > done ? size - done : 0));
    h->Update(buf.data(), data);
    if (dst && std::fwrite(buf.data(), 1, data, dst) != data)
      return ResourceExhaustedError(where + ": cannot write into the store (disk full?): " + std::strerror(errno));
    if (text) text->append(buf.data(), data);
    done += want;
  }
  return OkStatus();
}

}  // namespace

Status ExportBundle(const Store& store, const std::string& name, const std::string& out_path) {
  ASSIGN_OR_RETURN(Manifest m, store.Get(name));
  const std::string tmp = out_path + ".tmp";
  File out(std::fopen(tmp.c_str(), "wb"), &std::fclose);
  if (!out) return InvalidArgumentError("cannot create " + tmp + ": " + std::strerror(errno));
  auto write = [&]() -> Status {
    const std::string json = m.ToJson();
    char h[kBlock];
    Header(h, "manifest.json", json.size());
    RETURN_IF_ERROR(WriteAll(out.get(), h, kBlock, tmp));
    RETURN_IF_ERROR(WriteAll(out.get(), json.data(), json.size(), tmp));
    RETURN_IF_ERROR(Pad(out.get(), json.size(), tmp));
    std::vector<BlobRef> blobs{m.model};
    if (m.projector && m.projector->sha256 != m.model.sha256) blobs.push_back(*m.projector);
    for (const auto& b : blobs) {
      Header(h, "blobs/sha256-" + b.sha256, b.size);
      RETURN_IF_ERROR(WriteAll(out.get(), h, kBlock, tmp));
      RETURN_IF_ERROR(CopyBlob(out.get(), store.BlobPath(b.sha256), b.size, tmp));
    }
    static const char end[2 * kBlock] = {};
    RETURN_IF_ERROR(WriteAll(out.get(), end, sizeof end, tmp));
    if (std::fflush(out.get()) != 0) return ResourceExhaustedError("cannot write " + tmp + ": " + std::strerror(errno));
    return OkStatus();
  };
  Status st = write();
  out.reset();
  if (st.ok() && std::rename(tmp.c_str(), out_path.c_str()) != 0)
    st = InternalError("cannot rename " + tmp + " to " + out_path + ": " + std::strerror(errno));
  if (!st.ok()) std::remove(tmp.c_str());
  return st;
}

StatusOr<Manifest> ImportBundle(const Store& store, const std::string& bundle_path, const std::string& rename) {
  File in(std::fopen(bundle_path.c_str(), "rb"), &std::fclose);
  if (!in) return NotFoundError("cannot open the bundle " + bundle_path + ": " + std::strerror(errno));
  RETURN_IF_ERROR(store.EnsureDirs());
  std::string manifest_text;
  std::vector<std::pair<std::string, std::string>> verified;  // sha256 -> partial path
  auto cleanup = [&] { for (auto& v : verified) std::remove(v.second.c_str()); };
  while (true) {
    char h[kBlock];
    if (std::fread(h, 1, kBlock, in.get()) != kBlock) { cleanup(); return DataLossError(bundle_path + ": truncated bundle (no end-of-archive block)"); }
    std::string member;
    uint64_t size = 0;
    auto more = ReadHeader(h, bundle_path, &member, &size);
    if (!more.ok()) { cleanup(); return more.status(); }
    if (!*more) break;
    const std::string where = bundle_path + " member " + member;
    Sha256 hash;
    Status st;
    if (member == "manifest.json") {
      st = size > kMaxManifestBytes ? DataLossError(where + ": too large for a manifest")
                                    : ReadMember(in.get(), size, nullptr, &manifest_text, &hash, where);
    } else if (member.rfind("blobs/sha256-", 0) == 0 && member.size() == 13 + 64) {
      const std::string want = member.substr(13), partial = store.PartialDir() + "/import-" + want + ".partial";
      File dst(std::fopen(partial.c_str(), "wb"), &std::fclose);
      if (!dst) st = InternalError("cannot create " + partial + ": " + std::strerror(errno));
      else st = ReadMember(in.get(), size, dst.get(), nullptr, &hash, where);
      if (dst && std::fclose(dst.release()) != 0 && st.ok()) st = ResourceExhaustedError("cannot write " + partial);
      const std::string got = hash.FinishHex();
      if (st.ok() && got != want)
        st = DataLossError("SHA-256 mismatch for " + where + ": expected " + want + ", got " + got +
                           "; the bundle is damaged and nothing was imported");
      verified.push_back({want, partial});
    } else {
      st = DataLossError(where + ": unexpected member (a gemrun bundle has manifest.json and blobs/sha256-*)");
    }
    if (!st.ok()) { cleanup(); return st; }
  }
  auto m = Manifest::FromJson(manifest_text, bundle_path + " manifest.json");
  if (manifest_text.empty()) m = DataLossError(bundle_path + ": no manifest.json (not a gemrun bundle)");
  if (!m.ok()) { cleanup(); return m.status(); }
  std::vector<BlobRef> need{m->model};
  if (m->projector) need.push_back(*m->projector);
  for (const auto& b : need) {
    bool found = false;
    for (const auto& v : verified) found |= v.first == b.sha256;
    if (!found && !store.HasBlob(b.sha256)) {
      cleanup();
      return DataLossError(bundle_path + ": the manifest names blob sha256-" + b.sha256 + " (" + b.file +
                           ") but the bundle does not contain it; nothing was imported");
    }
  }
  for (const auto& [sha, partial] : verified) RETURN_IF_ERROR(store.AdoptBlob(partial, sha));
  if (!rename.empty()) m->name = rename;
  m->model.source = m->model.source.empty() ? "import:" + bundle_path : m->model.source;
  RETURN_IF_ERROR(store.Put(*m));
  return *m;
}

}  // namespace gemrun::store
