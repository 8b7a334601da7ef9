// GGUF reader implementation: a bounds-checked cursor over the mapping, then validation of
// the tensor table (types, dims, sizes, alignment, bounds, overlap). Nothing here trusts a
// count, length or offset from the file: every one is checked before it is used, and no
// allocation is sized by a count that the remaining bytes could not hold.
#include "gguf/gguf.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <limits>
#include <type_traits>

namespace gemrun {
namespace {

constexpr uint32_t kMagic = 0x46554747u;  // "GGUF" read as a little-endian u32
constexpr uint32_t kMaxDims = 4;
constexpr uint64_t kMaxNameLen = 64;  // llama.cpp GGML_MAX_NAME: names must be shorter
constexpr uint64_t kMaxAlignment = uint64_t{1} << 30;
constexpr uint64_t kMaxInt64 = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
// Smallest possible records, used to bound counts by the bytes left in the file.
constexpr uint64_t kMinKvBytes = 8 + 4 + 1;                   // empty key, type, 1-byte value
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;   // empty name, n_dims, 1 dim, type, offset
// Vectors sized by a count from the file grow as elements are read; this caps the up-front
// reserve so that a large file with a corrupt count cannot trigger a huge allocation.
constexpr uint64_t kMaxReserve = 1 << 16;
// GetPerLayerInt's n comes from the file too (block_count); beyond this it is nonsense.
constexpr int64_t kMaxLayers = 1 << 20;

// Printable, length-capped copy of untrusted bytes for error messages.
std::string Printable(std::string_view s, size_t max_len = 80) {
  std::string out;
  const size_t n = std::min(s.size(), max_len);
  for (size_t i = 0; i < n; ++i) {
    const auto ch = static_cast<unsigned char>(s[i]);
    if (ch >= 0x20 && ch < 0x7F && ch != '\\') {
      out += static_cast<char>(ch);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", ch);
      out += buf;
    }
  }
  if (s.size() > max_len) out += "...(" + std::to_string(s.size()) + " bytes)";
  return out;
}
std::string Q(std::string_view s) { return "'" + Printable(s) + "'"; }

// `what` is either a string or a callable returning one; callables let hot loops (262k
// vocabulary strings) describe the field only when an error is actually reported.
template <typename W>
std::string Describe(const W& what) {
  if constexpr (std::is_invocable_v<const W&>) {
    return what();
  } else {
    return std::string(what);
  }
}

// Reads little-endian primitives from [data, data + size) with every access bounds-checked.
class Cursor {
 public:
  Cursor(const uint8_t* data, uint64_t size, const std::string& file)
      : data_(data), size_(size), file_(file) {}

  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return size_ - pos_; }
  const uint8_t* here() const { return data_ + pos_; }

  template <typename W>
  Status Need(uint64_t n, const W& what) const {
    if (n <= remaining()) return OkStatus();
    return DataLossError(file_ + ": truncated while reading " + Describe(what) + " at offset " +
                         std::to_string(pos_) + " (need " + std::to_string(n) + " bytes, " +
                         std::to_string(remaining()) + " left)");
  }
  template <typename T, typename W>
  Status Read(T* out, const W& what) {
    RETURN_IF_ERROR(Need(sizeof(T), what));
    std::memcpy(out, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return OkStatus();
  }
  template <typename W>
  Status ReadString(std::string_view* out, const W& what) {
    uint64_t len = 0;
    RETURN_IF_ERROR(Read(&len, [&] { return Describe(what) + " length"; }));
    if (len > remaining())
      return DataLossError(file_ + ": " + Describe(what) + " has length " + std::to_string(len) +
                           " but only " + std::to_string(remaining()) + " bytes remain at offset " +
                           std::to_string(pos_));
    *out = std::string_view(reinterpret_cast<const char*>(data_ + pos_), len);
    pos_ += len;
    return OkStatus();
  }
  // Only after a successful Need(n).
  void Skip(uint64_t n) { pos_ += n; }

 private:
  const uint8_t* data_;
  uint64_t size_;
  uint64_t pos_ = 0;
  const std::string& file_;
};

uint64_t ScalarSize(GgufType t) {
  switch (t) {
    case GgufType::kU8: case GgufType::kI8: case GgufType::kBool: return 1;
    case GgufType::kU16: case GgufType::kI16: return 2;
    case GgufType::kU32: case GgufType::kI32: case GgufType::kF32: return 4;
    case GgufType::kU64: case GgufType::kI64: case GgufType::kF64: return 8;
    default: return 0;
  }
}

bool CheckedMul(uint64_t a, uint64_t b, uint64_t* out) { return !__builtin_mul_overflow(a, b, out); }
bool CheckedAdd(uint64_t a, uint64_t b, uint64_t* out) { return !__builtin_add_overflow(a, b, out); }

// Decodes one scalar of type t at p into v.
void DecodeScalar(GgufType t, const uint8_t* p, GgufValue* v) {
  auto rd = [p](auto tag) { decltype(tag) x; std::memcpy(&x, p, sizeof(x)); return x; };
  switch (t) {
    case GgufType::kU8: v->u = rd(uint8_t{}); v->i = static_cast<int64_t>(v->u); break;
    case GgufType::kI8: v->i = rd(int8_t{}); v->u = static_cast<uint64_t>(v->i); break;
    case GgufType::kU16: v->u = rd(uint16_t{}); v->i = static_cast<int64_t>(v->u); break;
    case GgufType::kI16: v->i = rd(int16_t{}); v->u = static_cast<uint64_t>(v->i); break;
    case GgufType::kU32: v->u = rd(uint32_t{}); v->i = static_cast<int64_t>(v->u); break;
    case GgufType::kI32: v->i = rd(int32_t{}); v->u = static_cast<uint64_t>(v->i); break;
    case GgufType::kU64: v->u = rd(uint64_t{}); v->i = static_cast<int64_t>(v->u); break;
    case GgufType::kI64: v->i = rd(int64_t{}); v->u = static_cast<uint64_t>(v->i); break;
    case GgufType::kF32: v->f = rd(float{}); break;
    case GgufType::kF64: v->f = rd(double{}); break;
    case GgufType::kBool: v->u = p[0] != 0; v->i = static_cast<int64_t>(v->u); break;
    default: break;
  }
}

bool IsIntType(GgufType t) {
  switch (t) {
    case GgufType::kU8: case GgufType::kI8: case GgufType::kU16: case GgufType::kI16:
    case GgufType::kU32: case GgufType::kI32: case GgufType::kU64: case GgufType::kI64:
      return true;
    default: return false;
  }
}

// Names of GGML type ids that existed once and were removed from the file format (§8).
const char* RemovedTypeName(uint32_t id) {
  switch (id) {
    case 4: return "Q4_2";
    case 5: return "Q4_3";
    case 31: return "Q4_0_4_4";
    case 32: return "Q4_0_4_8";
    case 33: return "Q4_0_8_8";
    case 36: return "IQ4_NL_4_4";
    case 37: return "IQ4_NL_4_8";
    case 38: return "IQ4_NL_8_8";
    default: return nullptr;
  }
}

std::string Shape(const GgufTensorInfo& t) {
  std::string s = "[";
  for (uint32_t d = 0; d < t.n_dims; ++d) s += (d ? ", " : "") + std::to_string(t.ne[d]);
  return s + "]";
}

// Magic, version and the two counts (bounded by the bytes that follow them).
Status ParseHeader(Cursor& c, const std::string& file, uint32_t* version, uint64_t* n_tensors,
                   uint64_t* n_kv) {
  uint32_t magic = 0;
  RETURN_IF_ERROR(c.Read(&magic, "magic"));
  if (magic != kMagic) {
    char got[4];
    std::memcpy(got, &magic, 4);
    return DataLossError(file + ": not a GGUF file (magic bytes are " + Q(std::string_view(got, 4)) +
                         ", expected 'GGUF')");
  }
  RETURN_IF_ERROR(c.Read(version, "version"));
  if ((*version & 0xFFFF) == 0 && *version != 0)
    return UnimplementedError(file + ": big-endian GGUF (version field reads " + std::to_string(*version) +
                              ") is not supported; convert it to little-endian");
  if (*version != 2 && *version != 3)
    return UnimplementedError(file + ": GGUF version " + std::to_string(*version) +
                              " is not supported (need 2 or 3)");
  int64_t nt = 0, nk = 0;
  RETURN_IF_ERROR(c.Read(&nt, "tensor_count"));
  RETURN_IF_ERROR(c.Read(&nk, "kv_count"));
  if (nk < 0 || static_cast<uint64_t>(nk) > c.remaining() / kMinKvBytes)
    return DataLossError(file + ": kv_count " + std::to_string(nk) + " is impossible for a " +
                         std::to_string(c.remaining() + c.pos()) + "-byte file");
  if (nt < 0 || static_cast<uint64_t>(nt) > c.remaining() / kMinTensorInfoBytes)
    return DataLossError(file + ": tensor_count " + std::to_string(nt) + " is impossible for a " +
                         std::to_string(c.remaining() + c.pos()) + "-byte file");
  *n_tensors = static_cast<uint64_t>(nt);
  *n_kv = static_cast<uint64_t>(nk);
  return OkStatus();
}

// The payload of an array value (element type and count already read).
Status ParseArray(Cursor& c, const std::string& file, std::string_view key, GgufValue* v) {
  v->raw = c.here();
  if (v->elem_type == GgufType::kString) {
    if (v->count > c.remaining() / 8)
      return DataLossError(file + ": key " + Q(key) + " claims " + std::to_string(v->count) +
                           " strings, more than the remaining " + std::to_string(c.remaining()) +
                           " bytes can hold");
    v->strs.reserve(std::min(v->count, kMaxReserve));
    for (uint64_t i = 0; i < v->count; ++i) {
      std::string_view s;
      RETURN_IF_ERROR(c.ReadString(&s, [&] { return "element " + std::to_string(i) + " of key " + Q(key); }));
      v->strs.push_back(s);
    }
    return OkStatus();
  }
  uint64_t bytes = 0;
  if (!CheckedMul(v->count, ScalarSize(v->elem_type), &bytes) || bytes > c.remaining())
    return DataLossError(file + ": key " + Q(key) + " claims " + std::to_string(v->count) + " elements of " +
                         GgufTypeName(v->elem_type) + ", more than the remaining " +
                         std::to_string(c.remaining()) + " bytes hold");
  c.Skip(bytes);
  return OkStatus();
}

// One metadata record: key, value type, value.
Status ParseKv(Cursor& c, const std::string& file, uint64_t index, std::string_view* key, GgufValue* v) {
  RETURN_IF_ERROR(c.ReadString(key, [&] { return "metadata key #" + std::to_string(index); }));
  const std::string_view k = *key;
  uint32_t vt = 0;
  RETURN_IF_ERROR(c.Read(&vt, [&] { return "value type of key " + Q(k); }));
  if (vt > static_cast<uint32_t>(GgufType::kF64))
    return DataLossError(file + ": key " + Q(k) + " has unknown value type " + std::to_string(vt));
  v->type = static_cast<GgufType>(vt);
  if (v->type == GgufType::kString)
    return c.ReadString(&v->str, [&] { return "value of key " + Q(k); });
  if (v->type == GgufType::kArray) {
    uint32_t et = 0;
    RETURN_IF_ERROR(c.Read(&et, [&] { return "element type of key " + Q(k); }));
    RETURN_IF_ERROR(c.Read(&v->count, [&] { return "element count of key " + Q(k); }));
    if (et > static_cast<uint32_t>(GgufType::kF64))
      return DataLossError(file + ": array key " + Q(k) + " has unknown element type " + std::to_string(et));
    v->elem_type = static_cast<GgufType>(et);
    if (v->elem_type == GgufType::kArray)
      return UnimplementedError(file + ": key " + Q(k) + " is a nested array (arrays of arrays are not supported)");
    return ParseArray(c, file, k, v);
  }
  const uint64_t sz = ScalarSize(v->type);
  RETURN_IF_ERROR(c.Need(sz, [&] { return "value of key " + Q(k); }));
  DecodeScalar(v->type, c.here(), v);
  c.Skip(sz);
  return OkStatus();
}

// Checks the row length against the block size and computes nbytes. Products are formed
// with zero dimensions counted as 1 and must fit in int64, so that neither a zero nor an
// overflow can hide a shape whose TensorView strides or element count would overflow.
Status SizeTensor(const std::string& file, const std::string& tn, GgufTensorInfo* t) {
  const DTypeTraits& tr = Traits(t->type);
  if (t->ne[0] % tr.block_size != 0)
    return DataLossError(file + ": " + tn + " row length " + std::to_string(t->ne[0]) +
                         " is not a multiple of the " + tr.name + " block size " + std::to_string(tr.block_size));
  uint64_t n_el = 1;
  bool any_zero = false;
  for (int d = 0; d < 4; ++d) {
    const uint64_t ne = t->ne[d] == 0 ? 1 : static_cast<uint64_t>(t->ne[d]);
    any_zero |= t->ne[d] == 0;
    if (!CheckedMul(n_el, ne, &n_el) || n_el > kMaxInt64)
      return DataLossError(file + ": " + tn + " element count overflows (ne = " + Shape(*t) + ")");
  }
  uint64_t bytes = 0;
  bool ok = CheckedMul(static_cast<uint64_t>(t->ne[0]) / tr.block_size, tr.type_size, &bytes);
  for (int d = 1; d < 4 && ok; ++d)
    ok = CheckedMul(bytes, t->ne[d] == 0 ? 1 : static_cast<uint64_t>(t->ne[d]), &bytes);
  if (!ok || bytes > kMaxInt64)
    return DataLossError(file + ": " + tn + " byte size overflows (ne = " + Shape(*t) + ", type " +
                         tr.name + ")");
  t->nbytes = any_zero ? 0 : bytes;
  return OkStatus();
}

// One tensor-info record: name, n_dims, dims, type, offset; then its size.
Status ParseTensorInfo(Cursor& c, const std::string& file, uint64_t index, GgufTensorInfo* t) {
  std::string_view nm;
  RETURN_IF_ERROR(c.ReadString(&nm, [&] { return "name of tensor #" + std::to_string(index); }));
  const std::string tn = "tensor " + Q(nm);
  if (nm.size() >= kMaxNameLen)
    return DataLossError(file + ": " + tn + " has a " + std::to_string(nm.size()) +
                         "-byte name (names must be shorter than " + std::to_string(kMaxNameLen) + " bytes)");
  t->name = std::string(nm);
  RETURN_IF_ERROR(c.Read(&t->n_dims, [&] { return "n_dims of " + tn; }));
  if (t->n_dims < 1 || t->n_dims > kMaxDims)
    return DataLossError(file + ": " + tn + " has n_dims " + std::to_string(t->n_dims) + " (must be 1..4)");
  for (uint32_t d = 0; d < t->n_dims; ++d) {
    int64_t ne = 0;
    RETURN_IF_ERROR(c.Read(&ne, [&] { return "dimension " + std::to_string(d) + " of " + tn; }));
    if (ne < 0)
      return DataLossError(file + ": " + tn + " dimension " + std::to_string(d) + " is negative (" +
                           std::to_string(ne) + ")");
    t->ne[d] = ne;
  }
  uint32_t type_id = 0;
  RETURN_IF_ERROR(c.Read(&type_id, [&] { return "type of " + tn; }));
  RETURN_IF_ERROR(c.Read(&t->offset, [&] { return "offset of " + tn; }));
  if (const char* removed = RemovedTypeName(type_id))
    return UnimplementedError(file + ": " + tn + " has tensor type id " + std::to_string(type_id) + " (" +
                              removed + "), which was removed from GGUF; re-convert the model with current llama.cpp");
  if (!IsKnownDType(type_id))
    return UnimplementedError(file + ": " + tn + " has unknown tensor type id " + std::to_string(type_id) +
                              " (known ids are 0.." + std::to_string(kDTypeCount - 1) + ")");
  t->type = static_cast<DType>(type_id);
  return SizeTensor(file, tn, t);
}

}  // namespace

const char* GgufTypeName(GgufType t) {
  static const char* kNames[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32",
                                 "bool", "string", "array", "u64", "i64", "f64"};
  const auto i = static_cast<uint32_t>(t);
  return i < 13 ? kNames[i] : "unknown";
}

bool GgufValue::is_int() const { return IsIntType(type); }

StatusOr<std::unique_ptr<GgufFile>> GgufFile::Open(const std::string& path) {
  ASSIGN_OR_RETURN(auto map, MappedFile::Open(path));
  std::unique_ptr<GgufFile> f(new GgufFile());
  f->data_ = map->data();
  f->size_ = map->size();
  f->name_ = path;
  f->map_ = std::move(map);
  RETURN_IF_ERROR(f->ParseAll());
  // Every shard of a split model is a complete GGUF; only the metadata says it is partial.
  if (f->Has("split.count")) {
    ASSIGN_OR_RETURN(int64_t count, f->GetInt("split.count"));
    if (count > 1) {
      const auto no = f->GetIntOr("split.no", 0);
      return UnimplementedError(path + ": this file is one shard (split.no = " +
                                (no.ok() ? std::to_string(*no) : std::string("?")) + ") of a model split into " +
                                std::to_string(count) + " files (split.count = " + std::to_string(count) +
                                "), which is not supported; merge the shards first with "
                                "`llama-gguf-split --merge FIRST-SHARD OUT.gguf`");
    }
  }
  return f;
}

StatusOr<std::unique_ptr<GgufFile>> GgufFile::Parse(const uint8_t* data, uint64_t size,
                                                    const std::string& name) {
  std::unique_ptr<GgufFile> f(new GgufFile());
  f->data_ = data;
  f->size_ = data ? size : 0;
  f->name_ = name;
  RETURN_IF_ERROR(f->ParseAll());
  return f;
}

Status GgufFile::ParseAll() {
  Cursor c(data_, size_, name_);
  uint64_t n_tensors = 0, n_kv = 0;
  RETURN_IF_ERROR(ParseHeader(c, name_, &version_, &n_tensors, &n_kv));

  kv_.reserve(std::min(n_kv, kMaxReserve));
  for (uint64_t k = 0; k < n_kv; ++k) {
    std::string_view key;
    GgufValue v;
    RETURN_IF_ERROR(ParseKv(c, name_, k, &key, &v));
    if (kv_index_.count(key)) return DataLossError(name_ + ": duplicate metadata key " + Q(key));
    kv_index_.emplace(std::string(key), kv_.size());
    kv_.emplace_back(std::string(key), std::move(v));
  }

  if (const GgufValue* a = Find("general.alignment")) {
    if (!a->is_int() || a->u == 0 || (a->u & (a->u - 1)) != 0 || a->u > kMaxAlignment)
      return DataLossError(name_ + ": general.alignment must be a power of two between 1 and 2^30, got " +
                           (a->is_int() ? std::to_string(a->i) : std::string("a ") + GgufTypeName(a->type)));
    alignment_ = a->u;
  }

  if (n_tensors > c.remaining() / kMinTensorInfoBytes)
    return DataLossError(name_ + ": tensor_count " + std::to_string(n_tensors) + " is impossible: only " +
                         std::to_string(c.remaining()) + " bytes follow the metadata");
  tensors_.reserve(std::min(n_tensors, kMaxReserve));
  for (uint64_t ti = 0; ti < n_tensors; ++ti) {
    GgufTensorInfo t;
    RETURN_IF_ERROR(ParseTensorInfo(c, name_, ti, &t));
    if (tensor_index_.count(t.name)) return DataLossError(name_ + ": duplicate tensor name " + Q(t.name));
    tensor_index_.emplace(t.name, tensors_.size());
    tensors_.push_back(std::move(t));
  }
  return ValidateLayout(c.pos());
}

Status GgufFile::ValidateLayout(uint64_t header_end) {
  // Data section starts at the next alignment boundary (absolute file offset).
  uint64_t start = 0;
  if (!CheckedAdd(header_end, alignment_ - 1, &start)) return DataLossError(name_ + ": header end overflows");
  data_start_ = start / alignment_ * alignment_;
  if (data_start_ > size_ && !tensors_.empty())
    return DataLossError(name_ + ": truncated: data section would start at " + std::to_string(data_start_) +
                         " but the file has " + std::to_string(size_) + " bytes");
  const uint64_t data_size = size_ > data_start_ ? size_ - data_start_ : 0;

  std::vector<const GgufTensorInfo*> order;
  order.reserve(tensors_.size());
  for (const auto& t : tensors_) {
    if (t.offset % alignment_ != 0)
      return DataLossError(name_ + ": tensor " + Q(t.name) + " offset " + std::to_string(t.offset) +
                           " is not a multiple of the alignment " + std::to_string(alignment_));
    uint64_t end = 0;
    if (!CheckedAdd(t.offset, t.nbytes, &end) || end > data_size)
      return DataLossError(name_ + ": tensor " + Q(t.name) + " data [" + std::to_string(t.offset) + ", +" +
                           std::to_string(t.nbytes) + ") lies outside the data section (" +
                           std::to_string(data_size) + " bytes; file truncated?)");
    if (t.nbytes > 0) order.push_back(&t);
  }
  // Non-empty tensors must not share bytes. Sorted by offset, each must start at or after the
  // furthest end seen so far.
  std::sort(order.begin(), order.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
  const GgufTensorInfo* furthest = nullptr;
  for (const GgufTensorInfo* t : order) {
    if (furthest && t->offset < furthest->offset + furthest->nbytes)
      return DataLossError(name_ + ": tensor " + Q(furthest->name) + " [" + std::to_string(furthest->offset) +
                           ", " + std::to_string(furthest->offset + furthest->nbytes) + ") overlaps tensor " +
                           Q(t->name) + " [" + std::to_string(t->offset) + ", " +
                           std::to_string(t->offset + t->nbytes) + ")");
    if (!furthest || t->offset + t->nbytes > furthest->offset + furthest->nbytes) furthest = t;
  }
  return OkStatus();
}

const GgufValue* GgufFile::Find(std::string_view key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

StatusOr<int64_t> GgufFile::GetInt(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (!v) return NotFoundError(name_ + ": metadata key " + Q(key) + " is missing");
  if (!v->is_int() && v->type != GgufType::kBool)
    return InvalidModelError(name_ + ": metadata key " + Q(key) + " should be an integer, found " +
                                GgufTypeName(v->type));
  if (v->type == GgufType::kU64 && v->u > kMaxInt64)
    return InvalidModelError(name_ + ": metadata key " + Q(key) + " value " + std::to_string(v->u) +
                                " is out of range (max " + std::to_string(kMaxInt64) + ")");
  return v->i;
}

StatusOr<int64_t> GgufFile::GetIntOr(std::string_view key, int64_t def) const {
  return Has(key) ? GetInt(key) : StatusOr<int64_t>(def);
}

StatusOr<double> GgufFile::GetFloat(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (!v) return NotFoundError(name_ + ": metadata key " + Q(key) + " is missing");
  if (v->is_float()) return v->f;
  if (v->type == GgufType::kU64) return static_cast<double>(v->u);
  if (v->is_int()) return static_cast<double>(v->i);
  return InvalidModelError(name_ + ": metadata key " + Q(key) + " should be a number, found " +
                              GgufTypeName(v->type));
}

StatusOr<double> GgufFile::GetFloatOr(std::string_view key, double def) const {
  return Has(key) ? GetFloat(key) : StatusOr<double>(def);
}

StatusOr<bool> GgufFile::GetBoolOr(std::string_view key, bool def) const {
  const GgufValue* v = Find(key);
  if (!v) return def;
  if (v->type == GgufType::kBool || v->is_int()) return v->u != 0;
  return InvalidModelError(name_ + ": metadata key " + Q(key) + " should be a bool, found " +
                              GgufTypeName(v->type));
}

StatusOr<std::string> GgufFile::GetString(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (!v) return NotFoundError(name_ + ": metadata key " + Q(key) + " is missing");
  if (v->type != GgufType::kString)
    return InvalidModelError(name_ + ": metadata key " + Q(key) + " should be a string, found " +
                                GgufTypeName(v->type));
  return std::string(v->str);
}

StatusOr<std::string> GgufFile::GetStringOr(std::string_view key, const std::string& def) const {
  return Has(key) ? GetString(key) : StatusOr<std::string>(def);
}

namespace {
Status ExpectArray(const std::string& file, std::string_view key, const GgufValue* v, bool numeric) {
  if (!v) return NotFoundError(file + ": metadata key " + Q(key) + " is missing");
  if (v->type != GgufType::kArray)
    return InvalidModelError(file + ": metadata key " + Q(key) + " should be an array, found " +
                                GgufTypeName(v->type));
  if (numeric && v->elem_type == GgufType::kString)
    return InvalidModelError(file + ": metadata key " + Q(key) + " should be a numeric array, found strings");
  return OkStatus();
}

Status ExpectCount(const std::string& file, std::string_view key, const GgufValue& v, uint64_t max) {
  if (v.count > max)
    return InvalidModelError(file + ": metadata key " + Q(key) + " holds " + std::to_string(v.count) +
                             " elements, more than the " + std::to_string(max) +
                             " gemrun reads from a metadata array (a corrupt or crafted file?)");
  return OkStatus();
}

// Element i of a numeric array (bounds and type were validated by the parser).
GgufValue Element(const GgufValue& arr, uint64_t i) {
  GgufValue e;
  e.type = arr.elem_type;
  DecodeScalar(arr.elem_type, arr.raw + i * ScalarSize(arr.elem_type), &e);
  return e;
}
}  // namespace

StatusOr<std::vector<int64_t>> GgufFile::GetIntArray(std::string_view key, uint64_t max_elements) const {
  const GgufValue* v = Find(key);
  RETURN_IF_ERROR(ExpectArray(name_, key, v, true));
  RETURN_IF_ERROR(ExpectCount(name_, key, *v, max_elements));
  if (!IsIntType(v->elem_type) && v->elem_type != GgufType::kBool)
    return InvalidModelError(name_ + ": metadata key " + Q(key) + " should hold integers, holds " +
                                GgufTypeName(v->elem_type));
  std::vector<int64_t> out(v->count);
  for (uint64_t i = 0; i < v->count; ++i) {
    const GgufValue e = Element(*v, i);
    if (e.type == GgufType::kU64 && e.u > kMaxInt64)
      return InvalidModelError(name_ + ": metadata key " + Q(key) + " element " + std::to_string(i) +
                                  " value " + std::to_string(e.u) + " is out of range (max " +
                                  std::to_string(kMaxInt64) + ")");
    out[i] = e.i;
  }
  return out;
}

StatusOr<std::vector<float>> GgufFile::GetFloatArray(std::string_view key, uint64_t max_elements) const {
  const GgufValue* v = Find(key);
  RETURN_IF_ERROR(ExpectArray(name_, key, v, true));
  RETURN_IF_ERROR(ExpectCount(name_, key, *v, max_elements));
  std::vector<float> out(v->count);
  for (uint64_t i = 0; i < v->count; ++i) {
    const GgufValue e = Element(*v, i);
    out[i] = e.is_float()                ? static_cast<float>(e.f)
             : e.type == GgufType::kU64 ? static_cast<float>(e.u)
                                        : static_cast<float>(e.i);
  }
  return out;
}

StatusOr<std::vector<bool>> GgufFile::GetBoolArray(std::string_view key) const {
  const GgufValue* v = Find(key);
  RETURN_IF_ERROR(ExpectArray(name_, key, v, true));
  if (v->elem_type != GgufType::kBool && !IsIntType(v->elem_type))
    return InvalidModelError(name_ + ": metadata key " + Q(key) + " should hold bools, holds " +
                                GgufTypeName(v->elem_type));
  std::vector<bool> out(v->count);
  for (uint64_t i = 0; i < v->count; ++i) out[i] = Element(*v, i).u != 0;
  return out;
}

StatusOr<std::vector<std::string_view>> GgufFile::GetStringArray(std::string_view key) const {
  const GgufValue* v = Find(key);
  RETURN_IF_ERROR(ExpectArray(name_, key, v, false));
  if (v->elem_type != GgufType::kString)
    return InvalidModelError(name_ + ": metadata key " + Q(key) + " should hold strings, holds " +
                                GgufTypeName(v->elem_type));
  return v->strs;
}

StatusOr<std::vector<int64_t>> GgufFile::GetPerLayerInt(std::string_view key, int64_t n) const {
  if (n < 0 || n > kMaxLayers)
    return InvalidModelError(name_ + ": layer count " + std::to_string(n) + " for metadata key " + Q(key) +
                                " is out of range (0.." + std::to_string(kMaxLayers) + ")");
  const GgufValue* v = Find(key);
  if (!v) return NotFoundError(name_ + ": metadata key " + Q(key) + " is missing");
  if (v->type != GgufType::kArray) {
    ASSIGN_OR_RETURN(int64_t x, GetInt(key));
    return std::vector<int64_t>(static_cast<size_t>(n), x);
  }
  ASSIGN_OR_RETURN(auto arr, GetIntArray(key));
  if (static_cast<int64_t>(arr.size()) != n)
    return InvalidModelError(name_ + ": metadata key " + Q(key) + " has " + std::to_string(arr.size()) +
                                " entries, expected one per layer (" + std::to_string(n) + ")");
  return arr;
}

const GgufTensorInfo* GgufFile::FindTensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

TensorView GgufFile::View(const GgufTensorInfo& t) const {
  // Parse guaranteed: offset + nbytes <= data size, and every stride below fits in int64.
  TensorView v;
  v.type = t.type;
  v.name = t.name;
  for (int d = 0; d < 4; ++d) v.ne[d] = t.ne[d];
  const DTypeTraits& tr = Traits(t.type);
  v.nb[0] = tr.type_size;
  v.nb[1] = t.ne[0] / tr.block_size * tr.type_size;
  v.nb[2] = v.nb[1] * t.ne[1];
  v.nb[3] = v.nb[2] * t.ne[2];
  v.data = data_ + data_start_ + t.offset;
  return v;
}

}  // namespace gemrun
