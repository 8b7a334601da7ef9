// Test-only GGUF writer: builds byte images in memory, valid by default, with hooks to
// corrupt any field (magic, version, counts, value types, tensor dims/type/offset, layout).
// Header-only; used by the gguf_* unit tests and handy for fuzz seeds.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gguf/gguf.h"
#include "tensor/dtype.h"

namespace gemrun::testing {

// Little-endian byte sink.
class Bytes {
 public:
  template <typename T>
  Bytes& Put(T v) {
    uint8_t b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    buf_.insert(buf_.end(), b, b + sizeof(T));
    return *this;
  }
  Bytes& Str(std::string_view s) {
    Put<uint64_t>(s.size());
    buf_.insert(buf_.end(), s.begin(), s.end());
    return *this;
  }
  Bytes& Raw(const std::vector<uint8_t>& b) {
    buf_.insert(buf_.end(), b.begin(), b.end());
    return *this;
  }
  Bytes& Zeros(uint64_t n) {
    buf_.resize(buf_.size() + n, 0);
    return *this;
  }
  const std::vector<uint8_t>& data() const { return buf_; }
  std::vector<uint8_t>& data() { return buf_; }
  uint64_t size() const { return buf_.size(); }

 private:
  std::vector<uint8_t> buf_;
};

inline uint32_t Tag(GgufType t) { return static_cast<uint32_t>(t); }

// Scalar payload helpers (the value bytes after the type tag).
template <typename T>
std::vector<uint8_t> Le(T v) {
  return Bytes().Put(v).data();
}

// Bytes of a tensor of this type and shape, or nullopt if unknown type or overflow.
inline std::optional<uint64_t> TensorBytes(uint32_t type, const std::vector<int64_t>& ne) {
  if (!IsKnownDType(type) || ne.empty()) return std::nullopt;
  const DTypeTraits& tr = Traits(static_cast<DType>(type));
  if (ne[0] < 0 || ne[0] % tr.block_size) return std::nullopt;
  uint64_t n = static_cast<uint64_t>(ne[0]) / tr.block_size * tr.type_size;
  for (size_t d = 1; d < ne.size(); ++d) {
    if (ne[d] < 0 || __builtin_mul_overflow(n, static_cast<uint64_t>(ne[d]), &n)) return std::nullopt;
  }
  return n;
}

inline uint64_t AlignUp(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

class GgufBuilder {
 public:
  struct Tensor {
    std::string name;
    std::optional<uint32_t> n_dims;  // default: ne.size()
    std::vector<int64_t> ne;         // written as given (n_dims values are written)
    uint32_t type = 0;
    std::optional<uint64_t> offset;  // default: packed, each tensor padded to the alignment
    std::optional<uint64_t> data_bytes;  // bytes reserved in the data section (default: real size, 0 if invalid)
    uint8_t fill = 0;                    // data bytes are fill, fill+1, ... (distinct per tensor)
  };

  // ---- header
  GgufBuilder& Magic(uint32_t m) { magic_ = m; return *this; }
  GgufBuilder& Version(uint32_t v) { version_ = v; return *this; }
  GgufBuilder& KvCount(uint64_t n) { kv_count_ = n; return *this; }
  GgufBuilder& TensorCount(uint64_t n) { tensor_count_ = n; return *this; }
  // Layout alignment only; add a general.alignment key separately (or use Alignment()).
  GgufBuilder& LayoutAlignment(uint64_t a) { align_ = a; return *this; }
  GgufBuilder& Alignment(uint32_t a) { align_ = a; return U32("general.alignment", a); }
  // Pad the data section after the last tensor to the alignment (llama.cpp's writer does).
  GgufBuilder& PadTail(bool p) { pad_tail_ = p; return *this; }
  // Extra bytes appended at the very end.
  GgufBuilder& Trailer(std::vector<uint8_t> b) { trailer_ = std::move(b); return *this; }

  // ---- metadata: raw record = key, type tag, payload
  GgufBuilder& Kv(std::string_view key, uint32_t type, const std::vector<uint8_t>& payload) {
    kv_.Str(key).Put(type).Raw(payload);
    ++n_kv_;
    return *this;
  }
  // Arbitrary bytes counted as one metadata record (e.g. a key whose length is a lie).
  GgufBuilder& RawRecord(const std::vector<uint8_t>& bytes) {
    kv_.Raw(bytes);
    ++n_kv_;
    return *this;
  }
  GgufBuilder& U8(std::string_view k, uint8_t v) { return Kv(k, Tag(GgufType::kU8), Le(v)); }
  GgufBuilder& I8(std::string_view k, int8_t v) { return Kv(k, Tag(GgufType::kI8), Le(v)); }
  GgufBuilder& U16(std::string_view k, uint16_t v) { return Kv(k, Tag(GgufType::kU16), Le(v)); }
  GgufBuilder& I16(std::string_view k, int16_t v) { return Kv(k, Tag(GgufType::kI16), Le(v)); }
  GgufBuilder& U32(std::string_view k, uint32_t v) { return Kv(k, Tag(GgufType::kU32), Le(v)); }
  GgufBuilder& I32(std::string_view k, int32_t v) { return Kv(k, Tag(GgufType::kI32), Le(v)); }
  GgufBuilder& U64(std::string_view k, uint64_t v) { return Kv(k, Tag(GgufType::kU64), Le(v)); }
  GgufBuilder& I64(std::string_view k, int64_t v) { return Kv(k, Tag(GgufType::kI64), Le(v)); }
  GgufBuilder& F32(std::string_view k, float v) { return Kv(k, Tag(GgufType::kF32), Le(v)); }
  GgufBuilder& F64(std::string_view k, double v) { return Kv(k, Tag(GgufType::kF64), Le(v)); }
  GgufBuilder& Bool(std::string_view k, bool v) { return Kv(k, Tag(GgufType::kBool), Le<uint8_t>(v)); }
  GgufBuilder& Str(std::string_view k, std::string_view v) {
    return Kv(k, Tag(GgufType::kString), Bytes().Str(v).data());
  }
  // Array of scalars of C++ type T stored as `elem`; count defaults to values.size().
  template <typename T>
  GgufBuilder& Array(std::string_view k, GgufType elem, const std::vector<T>& values,
                     std::optional<uint64_t> count = std::nullopt) {
    Bytes b;
    b.Put(Tag(elem)).Put<uint64_t>(count.value_or(values.size()));
    for (const T& v : values) b.Put(v);
    return Kv(k, Tag(GgufType::kArray), b.data());
  }
  GgufBuilder& BoolArray(std::string_view k, const std::vector<bool>& values) {
    std::vector<uint8_t> u(values.begin(), values.end());
    return Array(k, GgufType::kBool, u);
  }
  GgufBuilder& StrArray(std::string_view k, const std::vector<std::string>& values,
                        std::optional<uint64_t> count = std::nullopt) {
    Bytes b;
    b.Put(Tag(GgufType::kString)).Put<uint64_t>(count.value_or(values.size()));
    for (const auto& s : values) b.Str(s);
    return Kv(k, Tag(GgufType::kArray), b.data());
  }

  // ---- tensors
  Tensor& AddTensor(std::string name, std::vector<int64_t> ne, DType type) {
    return AddTensorId(std::move(name), std::move(ne), static_cast<uint32_t>(type));
  }
  Tensor& AddTensorId(std::string name, std::vector<int64_t> ne, uint32_t type) {
    Tensor t;
    t.name = std::move(name);
    t.ne = std::move(ne);
    t.type = type;
    t.fill = static_cast<uint8_t>(0x10 * (tensors_.size() + 1));
    tensors_.push_back(std::move(t));
    return tensors_.back();
  }
  std::vector<Tensor>& tensors() { return tensors_; }

  // ---- layout results (valid after Build)
  uint64_t header_end() const { return header_end_; }  // end of the last tensor info
  uint64_t data_start() const { return data_start_; }
  const std::vector<uint64_t>& offsets() const { return offsets_; }

  std::vector<uint8_t> Build() {
    Bytes out;
    out.Put(magic_).Put(version_);
    out.Put<uint64_t>(tensor_count_.value_or(tensors_.size()));
    out.Put<uint64_t>(kv_count_.value_or(n_kv_));
    out.Raw(kv_.data());
    offsets_.clear();
    std::vector<uint64_t> sizes;
    uint64_t running = 0;
    for (const Tensor& t : tensors_) {
      const uint64_t size = t.data_bytes.value_or(TensorBytes(t.type, t.ne).value_or(0));
      const uint64_t off = t.offset.value_or(running);
      running = AlignUp(off + size, align_);
      offsets_.push_back(off);
      sizes.push_back(size);
      out.Str(t.name).Put<uint32_t>(t.n_dims.value_or(static_cast<uint32_t>(t.ne.size())));
      for (int64_t d : t.ne) out.Put(d);
      out.Put(t.type).Put(off);
    }
    header_end_ = out.size();
    data_start_ = AlignUp(out.size(), align_);
    out.Zeros(data_start_ - out.size());
    // Data: each tensor's bytes at its offset (later tensors overwrite overlaps).
    uint64_t end = 0;
    for (size_t i = 0; i < tensors_.size(); ++i)
      if (sizes[i] > 0) end = std::max(end, offsets_[i] + sizes[i]);  // empty: offset may be absurd
    if (pad_tail_) end = AlignUp(end, align_);
    auto& buf = out.data();
    buf.resize(data_start_ + end, 0);
    for (size_t i = 0; i < tensors_.size(); ++i)
      for (uint64_t j = 0; sizes[i] > 0 && j < sizes[i]; ++j)
        buf[data_start_ + offsets_[i] + j] = static_cast<uint8_t>(tensors_[i].fill + j);
    out.Raw(trailer_);
    return buf;
  }

 private:
  uint32_t magic_ = 0x46554747u;
  uint32_t version_ = 3;
  std::optional<uint64_t> kv_count_, tensor_count_;
  uint64_t align_ = 32;
  bool pad_tail_ = false;
  std::vector<uint8_t> trailer_;
  Bytes kv_;
  uint64_t n_kv_ = 0;
  std::vector<Tensor> tensors_;
  std::vector<uint64_t> offsets_;
  uint64_t header_end_ = 0;
  uint64_t data_start_ = 0;
};

// Parses an exact-size heap copy of the image, so that AddressSanitizer catches any read
// past the end (a vector's spare capacity would hide it).
struct ParsedImage {
  std::unique_ptr<uint8_t[]> bytes;
  StatusOr<std::unique_ptr<GgufFile>> file;
};
inline ParsedImage ParseCopy(const std::vector<uint8_t>& image, uint64_t len, const std::string& name = "test.gguf") {
  std::unique_ptr<uint8_t[]> copy(new uint8_t[len > 0 ? len : 1]);
  if (len) std::memcpy(copy.get(), image.data(), len);
  auto f = GgufFile::Parse(copy.get(), len, name);
  return ParsedImage{std::move(copy), std::move(f)};
}
inline ParsedImage ParseCopy(const std::vector<uint8_t>& image, const std::string& name = "test.gguf") {
  return ParseCopy(image, image.size(), name);
}

}  // namespace gemrun::testing
