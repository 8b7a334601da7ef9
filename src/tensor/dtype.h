// DType: the GGML tensor type ids and ONE traits table (name, block size, bytes, support).
#pragma once

#include <cstdint>
#include <string>

namespace gemrun {

// Values are the GGML type ids stored in GGUF files (spec/gguf.md §8).
enum class DType : uint32_t {
  kF32 = 0, kF16 = 1, kQ4_0 = 2, kQ4_1 = 3, kQ5_0 = 6, kQ5_1 = 7, kQ8_0 = 8, kQ8_1 = 9,
  kQ2_K = 10, kQ3_K = 11, kQ4_K = 12, kQ5_K = 13, kQ6_K = 14, kQ8_K = 15,
  kIQ2_XXS = 16, kIQ2_XS = 17, kIQ3_XXS = 18, kIQ1_S = 19, kIQ4_NL = 20, kIQ3_S = 21,
  kIQ2_S = 22, kIQ4_XS = 23, kI8 = 24, kI16 = 25, kI32 = 26, kI64 = 27, kF64 = 28,
  kIQ1_M = 29, kBF16 = 30, kTQ1_0 = 34, kTQ2_0 = 35, kMXFP4 = 39, kNVFP4 = 40, kQ1_0 = 41,
};

constexpr uint32_t kDTypeCount = 42;  // GGML_TYPE_COUNT at the reference snapshot

struct DTypeTraits {
  const char* name;      // GGML name, e.g. "Q4_K"; nullptr for removed ids
  int32_t block_size;    // elements per block (1 for scalar types)
  int32_t type_size;     // bytes per block
  bool weight_ok;        // we can dequantize and multiply it as a weight
  DType vec_dot;         // activation format its dot product consumes
};

// Traits of a valid id (< kDTypeCount). Removed ids have name == nullptr.
const DTypeTraits& Traits(DType t);
// True for ids that name a type in the table (not removed, < kDTypeCount).
bool IsKnownDType(uint32_t id);
// "Q4_K" or "type 99" for unknown ids.
std::string DTypeName(uint32_t id);
inline std::string DTypeName(DType t) { return DTypeName(static_cast<uint32_t>(t)); }

// Bytes of one row of n elements (n must be a multiple of the block size).
inline int64_t RowBytes(DType t, int64_t n) {
  const DTypeTraits& tr = Traits(t);
  return n / tr.block_size * tr.type_size;
}

}  // namespace gemrun
