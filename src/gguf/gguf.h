// GGUF reader: parses and validates a v2/v3 file over a read-only mmap. Every count,
// length and offset is bounds-checked with overflow-safe arithmetic; every failure is a
// Status naming the file, the field and the bad value. Arrays point into the mapping.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/mapped_file.h"
#include "base/status.h"
#include "kernels/tensor_view.h"

namespace gemrun {

enum class GgufType : uint32_t {
  kU8 = 0, kI8 = 1, kU16 = 2, kI16 = 3, kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7,
  kString = 8, kArray = 9, kU64 = 10, kI64 = 11, kF64 = 12,
};
const char* GgufTypeName(GgufType t);

// One metadata value. Scalars are decoded; arrays keep a pointer into the mapping.
struct GgufValue {
  GgufType type = GgufType::kU8;
  // Scalars (the one matching `type` is set; integers also mirror into both).
  int64_t i = 0;
  uint64_t u = 0;
  double f = 0;
  std::string_view str;
  // Arrays: element type, count, and the raw bytes of the elements. For string arrays
  // `strs` holds views of every element.
  GgufType elem_type = GgufType::kU8;
  uint64_t count = 0;
  const uint8_t* raw = nullptr;
  std::vector<std::string_view> strs;

  bool is_int() const;
  bool is_float() const { return type == GgufType::kF32 || type == GgufType::kF64; }
};

struct GgufTensorInfo {
  std::string name;
  uint32_t n_dims = 0;
  int64_t ne[4] = {1, 1, 1, 1};
  DType type = DType::kF32;
  uint64_t offset = 0;  // relative to the data section
  uint64_t nbytes = 0;
};

class GgufFile {
 public:
  // Opens, maps and validates. NotFound when the path does not exist. Shards of a split
  // model (metadata split.count > 1, files named -00001-of-0000N) are rejected
  // (Unimplemented) with a message saying how to merge them.
  static StatusOr<std::unique_ptr<GgufFile>> Open(const std::string& path);
  // Parses an in-memory buffer (for fuzzing and tests); `name` is used in messages.
  // The buffer must outlive the GgufFile. Never reads outside [data, data + size).
  // Errors: DataLoss for malformed or truncated input, Unimplemented for valid input this
  // reader does not support (big-endian, version != 2/3, nested arrays, removed or unknown
  // tensor type ids). On success every tensor lies inside the buffer, tensors do not
  // overlap, and every element count, byte size and stride of View() fits in int64.
  static StatusOr<std::unique_ptr<GgufFile>> Parse(const uint8_t* data, uint64_t size,
                                                   const std::string& name);

  const std::string& path() const { return name_; }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t file_size() const { return size_; }
  uint64_t data_offset() const { return data_start_; }

  // Metadata in file order.
  const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return kv_; }
  const GgufValue* Find(std::string_view key) const;
  bool Has(std::string_view key) const { return Find(key) != nullptr; }

  // Typed getters: NotFound when absent, InvalidArgument naming key and type when the
  // stored type does not fit. Integers accept any integer type, range-checked.
  StatusOr<int64_t> GetInt(std::string_view key) const;
  StatusOr<int64_t> GetIntOr(std::string_view key, int64_t def) const;
  StatusOr<double> GetFloat(std::string_view key) const;  // also accepts integers
  StatusOr<double> GetFloatOr(std::string_view key, double def) const;
  StatusOr<bool> GetBoolOr(std::string_view key, bool def) const;
  StatusOr<std::string> GetString(std::string_view key) const;
  StatusOr<std::string> GetStringOr(std::string_view key, const std::string& def) const;
  // Numeric arrays are widened on read (8 bytes per element for integers, 4 for floats,
  // whatever the stored type), so a crafted u8 array would cost 8x its size in the file:
  // arrays longer than `max_elements` are refused (InvalidModel naming the key and count).
  // The default is far above any real vocabulary (262144 tokens).
  static constexpr uint64_t kMaxArrayElements = uint64_t{1} << 22;
  StatusOr<std::vector<int64_t>> GetIntArray(std::string_view key, uint64_t max_elements = kMaxArrayElements) const;
  StatusOr<std::vector<float>> GetFloatArray(std::string_view key, uint64_t max_elements = kMaxArrayElements) const;
  StatusOr<std::vector<bool>> GetBoolArray(std::string_view key) const;
  StatusOr<std::vector<std::string_view>> GetStringArray(std::string_view key) const;
  // Scalar or per-layer array: returns n values (a scalar is repeated). InvalidArgument if
  // an array has a length other than n, or if n is outside 0..2^20.
  StatusOr<std::vector<int64_t>> GetPerLayerInt(std::string_view key, int64_t n) const;

  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* FindTensor(std::string_view name) const;
  TensorView View(const GgufTensorInfo& t) const;
  const uint8_t* base() const { return data_; }
  // True when the bytes are a mapping of a file (Open), false for Parse's caller-owned buffer.
  bool mapped() const { return map_ != nullptr; }
  // DataLoss when the file has shrunk below the mapped size (tensors past its end would fault).
  Status CheckFileSize() const { return map_ ? map_->CheckSize() : OkStatus(); }

 private:
  GgufFile() = default;
  Status ParseAll();
  // Computes data_start_ and checks every tensor's alignment, bounds and overlap.
  Status ValidateLayout(uint64_t header_end);

  std::unique_ptr<MappedFile> map_;
  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
  std::string name_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_start_ = 0;
  std::vector<std::pair<std::string, GgufValue>> kv_;
  std::map<std::string, size_t, std::less<>> kv_index_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
};

}  // namespace gemrun
