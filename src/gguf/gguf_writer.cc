// GGUF header serialization (ggml gguf_write_out's byte layout) and the atomic file writer.
#include "gguf/gguf_writer.h"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

namespace gemrun {
namespace {

template <typename T>
void Put(std::string* out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));  // little-endian hosts only (the reader refuses big-endian)
  out->append(b, sizeof(T));
}

void PutString(std::string* out, std::string_view s) {
  Put<uint64_t>(out, s.size());
  out->append(s.data(), s.size());
}

size_t ScalarSize(GgufType t) {
  switch (t) {
    case GgufType::kU8: case GgufType::kI8: case GgufType::kBool: return 1;
    case GgufType::kU16: case GgufType::kI16: return 2;
    case GgufType::kU32: case GgufType::kI32: case GgufType::kF32: return 4;
    case GgufType::kU64: case GgufType::kI64: case GgufType::kF64: return 8;
    default: return 0;
  }
}

// The scalar's bytes from the decoded value (integers keep their low bytes).
void PutScalar(std::string* out, const GgufValue& v) {
  switch (v.type) {
    case GgufType::kF32: Put<float>(out, static_cast<float>(v.f)); return;
    case GgufType::kF64: Put<double>(out, v.f); return;
    case GgufType::kBool: Put<uint8_t>(out, v.u != 0 ? 1 : 0); return;
    case GgufType::kString: out->append(v.str.data(), v.str.size()); return;
    default: {
      const uint64_t u = v.u;
      out->append(reinterpret_cast<const char*>(&u), ScalarSize(v.type));
    }
  }
}

}  // namespace

GgufOutKv GgufOutKv::U32(std::string key, uint32_t v) {
  GgufOutKv kv;
  kv.key = std::move(key);
  kv.type = GgufType::kU32;
  Put<uint32_t>(&kv.value, v);
  return kv;
}

GgufOutKv GgufOutKv::Copy(std::string key, const GgufValue& v) {
  GgufOutKv kv;
  kv.key = std::move(key);
  kv.type = v.type;
  if (v.type == GgufType::kString) {
    PutString(&kv.value, v.str);
  } else if (v.type != GgufType::kArray) {
    PutScalar(&kv.value, v);
  } else {
    kv.elem_type = v.elem_type;
    kv.count = v.count;
    if (v.elem_type == GgufType::kString) {
      for (std::string_view s : v.strs) PutString(&kv.value, s);
    } else if (v.elem_type == GgufType::kBool) {
      for (uint64_t i = 0; i < v.count; ++i) Put<uint8_t>(&kv.value, v.raw[i] != 0 ? 1 : 0);
    } else {
      kv.value.assign(reinterpret_cast<const char*>(v.raw), v.count * ScalarSize(v.elem_type));
    }
  }
  return kv;
}

uint32_t GgmlNDims(const int64_t ne[4]) {
  for (int i = 3; i >= 1; --i) {
    if (ne[i] > 1) return static_cast<uint32_t>(i + 1);
  }
  return 1;
}

uint64_t LayoutTensors(std::vector<GgufOutTensor>* tensors, uint64_t alignment) {
  uint64_t off = 0;
  for (GgufOutTensor& t : *tensors) {
    t.offset = off;
    off += PadTo(t.nbytes, alignment);
  }
  return off;
}

std::string SerializeGgufHeader(const std::vector<GgufOutKv>& kv,
                                const std::vector<GgufOutTensor>& tensors, uint64_t alignment) {
  std::string out = "GGUF";
  Put<uint32_t>(&out, 3);
  Put<int64_t>(&out, static_cast<int64_t>(tensors.size()));
  Put<int64_t>(&out, static_cast<int64_t>(kv.size()));
  for (const GgufOutKv& p : kv) {
    PutString(&out, p.key);
    if (p.type == GgufType::kArray) {
      Put<int32_t>(&out, static_cast<int32_t>(GgufType::kArray));
      Put<int32_t>(&out, static_cast<int32_t>(p.elem_type));
      Put<uint64_t>(&out, p.count);
    } else {
      Put<int32_t>(&out, static_cast<int32_t>(p.type));
    }
    out += p.value;
  }
  for (const GgufOutTensor& t : tensors) {
    PutString(&out, t.name);
    const uint32_t n_dims = GgmlNDims(t.ne);
    Put<uint32_t>(&out, n_dims);
    for (uint32_t j = 0; j < n_dims; ++j) Put<int64_t>(&out, t.ne[j]);
    Put<int32_t>(&out, static_cast<int32_t>(t.type));
    Put<uint64_t>(&out, t.offset);
  }
  out.resize(PadTo(out.size(), alignment), '\0');
  return out;
}

StatusOr<std::unique_ptr<AtomicFileWriter>> AtomicFileWriter::Create(const std::string& path,
                                                                     uint64_t expected_bytes) {
  std::unique_ptr<AtomicFileWriter> w(new AtomicFileWriter());
  w->path_ = path;
  w->partial_ = path + ".partial";
  w->fd_ = ::open(w->partial_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (w->fd_ < 0) {
    return InvalidArgumentError("cannot create output file " + w->partial_ + ": " +
                                std::strerror(errno) + " (is the directory there and writable?)");
  }
  struct statvfs fs;
  if (::fstatvfs(w->fd_, &fs) == 0) {
    const uint64_t avail = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
    if (avail < expected_bytes) {
      return ResourceExhaustedError("not enough free disk space for " + path + ": need " +
                                    std::to_string(expected_bytes) + " bytes, " +
                                    std::to_string(avail) + " available");
    }
  }
  return w;
}

AtomicFileWriter::~AtomicFileWriter() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_ && !partial_.empty()) ::unlink(partial_.c_str());
}

Status AtomicFileWriter::Error(const char* what, int err) const {
  const std::string msg = std::string(what) + " " + partial_ + " after " +
                          std::to_string(written_) + " bytes: " + std::strerror(err);
  if (err == ENOSPC || err == EDQUOT) return ResourceExhaustedError("disk full: " + msg);
  return InternalError(msg);
}

Status AtomicFileWriter::Write(const void* data, uint64_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t k = ::write(fd_, p, n);
    if (k < 0) {
      if (errno == EINTR) continue;
      return Error("cannot write", errno);
    }
    if (k == 0) return Error("cannot write", ENOSPC);
    p += k;
    n -= static_cast<uint64_t>(k);
    written_ += static_cast<uint64_t>(k);
  }
  return OkStatus();
}

Status AtomicFileWriter::WriteZeros(uint64_t n) {
  static const char kZeros[256] = {};
  while (n > 0) {
    const uint64_t k = n < sizeof kZeros ? n : sizeof kZeros;
    RETURN_IF_ERROR(Write(kZeros, k));
    n -= k;
  }
  return OkStatus();
}

Status AtomicFileWriter::Commit() {
  // Data reaches the disk before the name does, so a crash never leaves a short file there.
  if (::fdatasync(fd_) != 0) return Error("cannot flush", errno);
  if (::close(fd_) != 0) {
    fd_ = -1;
    return Error("cannot close", errno);
  }
  fd_ = -1;
  if (::rename(partial_.c_str(), path_.c_str()) != 0) return Error("cannot rename", errno);
  committed_ = true;
  return OkStatus();
}

}  // namespace gemrun
