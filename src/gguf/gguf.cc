// GGUF reader implementation: a bounds-checked cursor over the mapping, then validation of
// the tensor table (types, dims, alignment, bounds, overlap).
#include "gguf/gguf.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <regex>

namespace gemrun {
namespace {

constexpr uint64_t kMaxDims = 4;
constexpr uint64_t kMaxNameLen = 64;  // llama.cpp: GGML_MAX_NAME

// Reads little-endian primitives from [data, data + size) with every access bounds-checked.
class Cursor {
 public:
  Cursor(const uint8_t* data, uint64_t size, const std::string& file)
      : data_(data), size_(size), file_(file) {}

  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return size_ - pos_; }

  Status Need(uint64_t n, const std::string& what) const {
    if (n > remaining())
      return DataLossError(file_ + ": truncated while reading " + what + " at offset " +
                           std::to_string(pos_) + " (need " + std::to_string(n) + " bytes, " +
                           std::to_string(remaining()) + " left)");
    return OkStatus();
  }
  template <typename T>
  Status Read(T* out, const std::string& what) {
    RETURN_IF_ERROR(Need(sizeof(T), what));
    std::memcpy(out, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return OkStatus();
  }
  Status ReadString(std::string_view* out, const std::string& what) {
    uint64_t len = 0;
    RETURN_IF_ERROR(Read(&len, what + " length"));
    if (len > remaining())
      return DataLossError(file_ + ": " + what + " has length " + std::to_string(len) +
                           " but only " + std::to_string(remaining()) + " bytes remain");
    *out = std::string_view(reinterpret_cast<const char*>(data_ + pos_), len);
    pos_ += len;
    return OkStatus();
  }
  const uint8_t* here() const { return data_ + pos_; }
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
    case GgufType::kU8: v->u = rd(uint8_t{}); v->i = (int64_t)v->u; break;
    case GgufType::kI8: v->i = rd(int8_t{}); v->u = (uint64_t)v->i; break;
    case GgufType::kU16: v->u = rd(uint16_t{}); v->i = (int64_t)v->u; break;
    case GgufType::kI16: v->i = rd(int16_t{}); v->u = (uint64_t)v->i; break;
    case GgufType::kU32: v->u = rd(uint32_t{}); v->i = (int64_t)v->u; break;
    case GgufType::kI32: v->i = rd(int32_t{}); v->u = (uint64_t)v->i; break;
    case GgufType::kU64: v->u = rd(uint64_t{}); v->i = (int64_t)v->u; break;
    case GgufType::kI64: v->i = rd(int64_t{}); v->u = (uint64_t)v->i; break;
    case GgufType::kF32: v->f = rd(float{}); break;
    case GgufType::kF64: v->f = rd(double{}); break;
    case GgufType::kBool: v->u = p[0] != 0; v->i = (int64_t)v->u; break;
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

}  // namespace

const char* GgufTypeName(GgufType t) {
  static const char* kNames[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32",
                                 "bool", "string", "array", "u64", "i64", "f64"};
  const auto i = static_cast<uint32_t>(t);
  return i < 13 ? kNames[i] : "unknown";
}

bool GgufValue::is_int() const { return IsIntType(type); }

StatusOr<std::unique_ptr<GgufFile>> GgufFile::Open(const std::string& path) {
  static const std::regex kSplit(R"(-(\d{5})-of-(\d{5})\.gguf$)");
  ASSIGN_OR_RETURN(auto map, MappedFile::Open(path));
  std::unique_ptr<GgufFile> f(new GgufFile());
  f->data_ = map->data();
  f->size_ = map->size();
  f->name_ = path;
  f->map_ = std::move(map);
  RETURN_IF_ERROR(f->ParseAll());
  std::smatch m;
  if (std::regex_search(path, m, kSplit) || f->Has("split.count")) {
    auto count = f->GetIntOr("split.count", 0);
    if (count.ok() && *count > 1)
      return UnimplementedError(path + ": this is shard of a split model (split.count = " +
                                std::to_string(*count) +
                                "); merge it first with `llama-gguf-split --merge FIRST-SHARD OUT.gguf`");
  }
  return f;
}

StatusOr<std::unique_ptr<GgufFile>> GgufFile::Parse(const uint8_t* data, uint64_t size,
                                                    const std::string& name) {
  std::unique_ptr<GgufFile> f(new GgufFile());
  f->data_ = data;
  f->size_ = size;
  f->name_ = name;
  RETURN_IF_ERROR(f->ParseAll());
  return f;
}

Status GgufFile::ParseAll() {
  Cursor c(data_, size_, name_);
  uint32_t magic = 0;
  RETURN_IF_ERROR(c.Read(&magic, "magic"));
  if (magic != 0x46554747u)  // "GGUF" little-endian
    return DataLossError(name_ + ": not a GGUF file (magic bytes are not \"GGUF\")");
  RETURN_IF_ERROR(c.Read(&version_, "version"));
  if ((version_ & 0xFFFF) == 0 && version_ != 0)
    return UnimplementedError(name_ + ": big-endian GGUF (version field " + std::to_string(version_) +
                              ") is not supported");
  if (version_ != 2 && version_ != 3)
    return UnimplementedError(name_ + ": GGUF version " + std::to_string(version_) +
                              " is not supported (need 2 or 3)");
  int64_t n_tensors = 0, n_kv = 0;
  RETURN_IF_ERROR(c.Read(&n_tensors, "tensor_count"));
  RETURN_IF_ERROR(c.Read(&n_kv, "kv_count"));
  // Each KV needs >= 8+1+4+1 bytes and each tensor info >= 8+1+4+8+4+8: bound counts by size.
  if (n_kv < 0 || static_cast<uint64_t>(n_kv) > c.remaining() / 13)
    return DataLossError(name_ + ": kv_count " + std::to_string(n_kv) + " is impossible for a " +
                         std::to_string(size_) + "-byte file");
  if (n_tensors < 0 || static_cast<uint64_t>(n_tensors) > c.remaining() / 32)
    return DataLossError(name_ + ": tensor_count " + std::to_string(n_tensors) +
                         " is impossible for a " + std::to_string(size_) + "-byte file");

  kv_.reserve(static_cast<size_t>(n_kv));
  for (int64_t k = 0; k < n_kv; ++k) {
    const std::string where = "metadata key #" + std::to_string(k);
    std::string_view key;
    RETURN_IF_ERROR(c.ReadString(&key, where));
    const std::string skey(key);
    uint32_t vt = 0;
    RETURN_IF_ERROR(c.Read(&vt, "type of key '" + skey + "'"));
    if (vt > 12)
      return DataLossError(name_ + ": key '" + skey + "' has unknown value type " + std::to_string(vt));
    GgufValue v;
    v.type = static_cast<GgufType>(vt);
    if (v.type == GgufType::kString) {
      RETURN_IF_ERROR(c.ReadString(&v.str, "value of key '" + skey + "'"));
    } else if (v.type == GgufType::kArray) {
      uint32_t et = 0;
      RETURN_IF_ERROR(c.Read(&et, "element type of key '" + skey + "'"));
      RETURN_IF_ERROR(c.Read(&v.count, "element count of key '" + skey + "'"));
      if (et > 12)
        return DataLossError(name_ + ": array key '" + skey + "' has unknown element type " + std::to_string(et));
      v.elem_type = static_cast<GgufType>(et);
      if (v.elem_type == GgufType::kArray)
        return UnimplementedError(name_ + ": key '" + skey + "' is a nested array (not supported)");
      v.raw = c.here();
      if (v.elem_type == GgufType::kString) {
        if (v.count > c.remaining() / 8)
          return DataLossError(name_ + ": key '" + skey + "' claims " + std::to_string(v.count) +
                               " strings, more than the file can hold");
        v.strs.resize(v.count);
        for (uint64_t i = 0; i < v.count; ++i)
          RETURN_IF_ERROR(c.ReadString(&v.strs[i], "element " + std::to_string(i) + " of key '" + skey + "'"));
      } else {
        uint64_t bytes = 0;
        if (!CheckedMul(v.count, ScalarSize(v.elem_type), &bytes) || bytes > c.remaining())
          return DataLossError(name_ + ": key '" + skey + "' claims " + std::to_string(v.count) +
                               " elements of " + GgufTypeName(v.elem_type) + ", more than the file holds");
        c.Skip(bytes);
      }
    } else {
      const uint64_t sz = ScalarSize(v.type);
      RETURN_IF_ERROR(c.Need(sz, "value of key '" + skey + "'"));
      DecodeScalar(v.type, c.here(), &v);
      c.Skip(sz);
    }
    if (kv_index_.count(skey))
      return DataLossError(name_ + ": duplicate metadata key '" + skey + "'");
    kv_index_.emplace(skey, kv_.size());
    kv_.emplace_back(skey, std::move(v));
  }

  if (const GgufValue* a = Find("general.alignment")) {
    if (!a->is_int() || a->u == 0 || (a->u & (a->u - 1)) != 0 || a->u > (1u << 30))
      return DataLossError(name_ + ": general.alignment must be a power of two, got " +
                           (a->is_int() ? std::to_string(a->i) : std::string(GgufTypeName(a->type))));
    alignment_ = a->u;
  }

  tensors_.reserve(static_cast<size_t>(n_tensors));
  for (int64_t ti = 0; ti < n_tensors; ++ti) {
    GgufTensorInfo t;
    std::string_view nm;
    RETURN_IF_ERROR(c.ReadString(&nm, "name of tensor #" + std::to_string(ti)));
    t.name = std::string(nm);
    const std::string tn = "tensor '" + t.name + "'";
    if (nm.size() >= kMaxNameLen)
      return DataLossError(name_ + ": " + tn + " name is " + std::to_string(nm.size()) + " bytes (max 63)");
    RETURN_IF_ERROR(c.Read(&t.n_dims, "n_dims of " + tn));
    if (t.n_dims < 1 || t.n_dims > kMaxDims)
      return DataLossError(name_ + ": " + tn + " has n_dims " + std::to_string(t.n_dims) + " (must be 1..4)");
    for (uint32_t d = 0; d < t.n_dims; ++d) {
      int64_t ne = 0;
      RETURN_IF_ERROR(c.Read(&ne, "dimension " + std::to_string(d) + " of " + tn));
      if (ne < 0)
        return DataLossError(name_ + ": " + tn + " dimension " + std::to_string(d) + " is negative (" + std::to_string(ne) + ")");
      t.ne[d] = ne;
    }
    uint32_t type_id = 0;
    RETURN_IF_ERROR(c.Read(&type_id, "type of " + tn));
    RETURN_IF_ERROR(c.Read(&t.offset, "offset of " + tn));
    if (!IsKnownDType(type_id))
      return DataLossError(name_ + ": " + tn + " has unknown or removed tensor type id " + std::to_string(type_id));
    t.type = static_cast<DType>(type_id);
    const DTypeTraits& tr = Traits(t.type);
    if (t.ne[0] % tr.block_size != 0)
      return DataLossError(name_ + ": " + tn + " row length " + std::to_string(t.ne[0]) +
                           " is not a multiple of the " + tr.name + " block size " + std::to_string(tr.block_size));
    uint64_t n_el = 1;
    for (int d = 0; d < 4; ++d)
      if (!CheckedMul(n_el, static_cast<uint64_t>(t.ne[d]), &n_el))
        return DataLossError(name_ + ": " + tn + " element count overflows");
    uint64_t rows = n_el / std::max<uint64_t>(1, t.ne[0]);
    uint64_t row_bytes = static_cast<uint64_t>(t.ne[0]) / tr.block_size * tr.type_size;
    if (!CheckedMul(rows, row_bytes, &t.nbytes))
      return DataLossError(name_ + ": " + tn + " byte size overflows");
    if (tensor_index_.count(t.name))
      return DataLossError(name_ + ": duplicate tensor name '" + t.name + "'");
    tensor_index_.emplace(t.name, tensors_.size());
    tensors_.push_back(std::move(t));
  }

  // Data section starts at the next alignment boundary (absolute file offset).
  uint64_t start = c.pos();
  if (!CheckedAdd(start, alignment_ - 1, &start))
    return DataLossError(name_ + ": header end overflows");
  data_start_ = start / alignment_ * alignment_;
  if (data_start_ > size_ && !tensors_.empty())
    return DataLossError(name_ + ": truncated: data section would start at " + std::to_string(data_start_) +
                         " but the file has " + std::to_string(size_) + " bytes");
  const uint64_t data_size = size_ > data_start_ ? size_ - data_start_ : 0;

  std::vector<const GgufTensorInfo*> order;
  for (const auto& t : tensors_) {
    const std::string tn = "tensor '" + t.name + "'";
    if (t.offset % alignment_ != 0)
      return DataLossError(name_ + ": " + tn + " offset " + std::to_string(t.offset) +
                           " is not a multiple of the alignment " + std::to_string(alignment_));
    uint64_t end = 0;
    if (!CheckedAdd(t.offset, t.nbytes, &end) || end > data_size)
      return DataLossError(name_ + ": " + tn + " data [" + std::to_string(t.offset) + ", +" +
                           std::to_string(t.nbytes) + ") lies outside the data section (" +
                           std::to_string(data_size) + " bytes; file truncated?)");
    order.push_back(&t);
  }
  std::sort(order.begin(), order.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < order.size(); ++i)
    if (order[i - 1]->offset + order[i - 1]->nbytes > order[i]->offset)
      return DataLossError(name_ + ": tensor '" + order[i - 1]->name + "' overlaps tensor '" +
                           order[i]->name + "'");
  return OkStatus();
}

const GgufValue* GgufFile::Find(std::string_view key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

namespace {
std::string Q(std::string_view k) { return "'" + std::string(k) + "'"; }
}  // namespace

StatusOr<int64_t> GgufFile::GetInt(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (!v) return NotFoundError(name_ + ": metadata key " + Q(key) + " is missing");
  if (!v->is_int() && v->type != GgufType::kBool)
    return InvalidArgumentError(name_ + ": metadata key " + Q(key) + " should be an integer, found " +
                                GgufTypeName(v->type));
  if (v->type == GgufType::kU64 && v->u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    return InvalidArgumentError(name_ + ": metadata key " + Q(key) + " value " + std::to_string(v->u) + " is out of range");
  return v->i;
}

StatusOr<int64_t> GgufFile::GetIntOr(std::string_view key, int64_t def) const {
  return Has(key) ? GetInt(key) : StatusOr<int64_t>(def);
}

StatusOr<double> GgufFile::GetFloat(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (!v) return NotFoundError(name_ + ": metadata key " + Q(key) + " is missing");
  if (v->is_float()) return v->f;
  if (v->is_int()) return static_cast<double>(v->i);
  return InvalidArgumentError(name_ + ": metadata key " + Q(key) + " should be a number, found " +
                              GgufTypeName(v->type));
}

StatusOr<double> GgufFile::GetFloatOr(std::string_view key, double def) const {
  return Has(key) ? GetFloat(key) : StatusOr<double>(def);
}

StatusOr<bool> GgufFile::GetBoolOr(std::string_view key, bool def) const {
  const GgufValue* v = Find(key);
  if (!v) return def;
  if (v->type == GgufType::kBool || v->is_int()) return v->u != 0;
  return InvalidArgumentError(name_ + ": metadata key " + Q(key) + " should be a bool, found " +
                              GgufTypeName(v->type));
}

StatusOr<std::string> GgufFile::GetString(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (!v) return NotFoundError(name_ + ": metadata key " + Q(key) + " is missing");
  if (v->type != GgufType::kString)
    return InvalidArgumentError(name_ + ": metadata key " + Q(key) + " should be a string, found " +
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
    return InvalidArgumentError(file + ": metadata key " + Q(key) + " should be an array, found " +
                                GgufTypeName(v->type));
  if (numeric && v->elem_type == GgufType::kString)
    return InvalidArgumentError(file + ": metadata key " + Q(key) + " should be a numeric array, found strings");
  return OkStatus();
}

GgufValue Element(const GgufValue& arr, uint64_t i) {
  GgufValue e;
  e.type = arr.elem_type;
  DecodeScalar(arr.elem_type, arr.raw + i * ScalarSize(arr.elem_type), &e);
  return e;
}
}  // namespace

StatusOr<std::vector<int64_t>> GgufFile::GetIntArray(std::string_view key) const {
  const GgufValue* v = Find(key);
  RETURN_IF_ERROR(ExpectArray(name_, key, v, true));
  if (!IsIntType(v->elem_type) && v->elem_type != GgufType::kBool)
    return InvalidArgumentError(name_ + ": metadata key " + Q(key) + " should hold integers, holds " +
                                GgufTypeName(v->elem_type));
  std::vector<int64_t> out(v->count);
  for (uint64_t i = 0; i < v->count; ++i) out[i] = Element(*v, i).i;
  return out;
}

StatusOr<std::vector<float>> GgufFile::GetFloatArray(std::string_view key) const {
  const GgufValue* v = Find(key);
  RETURN_IF_ERROR(ExpectArray(name_, key, v, true));
  std::vector<float> out(v->count);
  for (uint64_t i = 0; i < v->count; ++i) {
    GgufValue e = Element(*v, i);
    out[i] = e.is_float() ? static_cast<float>(e.f) : static_cast<float>(e.i);
  }
  return out;
}

StatusOr<std::vector<bool>> GgufFile::GetBoolArray(std::string_view key) const {
  const GgufValue* v = Find(key);
  RETURN_IF_ERROR(ExpectArray(name_, key, v, true));
  if (v->elem_type != GgufType::kBool && !IsIntType(v->elem_type))
    return InvalidArgumentError(name_ + ": metadata key " + Q(key) + " should hold bools, holds " +
                                GgufTypeName(v->elem_type));
  std::vector<bool> out(v->count);
  for (uint64_t i = 0; i < v->count; ++i) out[i] = Element(*v, i).u != 0;
  return out;
}

StatusOr<std::vector<std::string_view>> GgufFile::GetStringArray(std::string_view key) const {
  const GgufValue* v = Find(key);
  RETURN_IF_ERROR(ExpectArray(name_, key, v, false));
  if (v->elem_type != GgufType::kString)
    return InvalidArgumentError(name_ + ": metadata key " + Q(key) + " should hold strings, holds " +
                                GgufTypeName(v->elem_type));
  return v->strs;
}

StatusOr<std::vector<int64_t>> GgufFile::GetPerLayerInt(std::string_view key, int64_t n) const {
  const GgufValue* v = Find(key);
  if (!v) return NotFoundError(name_ + ": metadata key " + Q(key) + " is missing");
  if (v->type != GgufType::kArray) {
    ASSIGN_OR_RETURN(int64_t x, GetInt(key));
    return std::vector<int64_t>(static_cast<size_t>(n), x);
  }
  ASSIGN_OR_RETURN(auto arr, GetIntArray(key));
  if (static_cast<int64_t>(arr.size()) != n)
    return InvalidArgumentError(name_ + ": metadata key " + Q(key) + " has " + std::to_string(arr.size()) +
                                " entries, expected one per layer (" + std::to_string(n) + ")");
  return arr;
}

const GgufTensorInfo* GgufFile::FindTensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

TensorView GgufFile::View(const GgufTensorInfo& t) const {
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
