// The one DType traits table.
#include "tensor/dtype.h"

#include <array>

namespace gemrun {
namespace {

constexpr DTypeTraits kRemoved{nullptr, 0, 0, false, DType::kF32};

constexpr std::array<DTypeTraits, kDTypeCount> MakeTable() {
  std::array<DTypeTraits, kDTypeCount> t{};
  for (auto& e : t) e = kRemoved;
  using D = DType;
  auto set = [&t](D id, const char* name, int bs, int ts, bool ok, D vd) {
    t[static_cast<uint32_t>(id)] = DTypeTraits{name, bs, ts, ok, vd};
  };
  set(D::kF32, "F32", 1, 4, true, D::kF32);
  set(D::kF16, "F16", 1, 2, true, D::kF16);
  set(D::kQ4_0, "Q4_0", 32, 18, true, D::kQ8_0);
  set(D::kQ4_1, "Q4_1", 32, 20, true, D::kQ8_1);
  set(D::kQ5_0, "Q5_0", 32, 22, true, D::kQ8_0);
  set(D::kQ5_1, "Q5_1", 32, 24, true, D::kQ8_1);
  set(D::kQ8_0, "Q8_0", 32, 34, true, D::kQ8_0);
  set(D::kQ8_1, "Q8_1", 32, 36, false, D::kQ8_1);
  set(D::kQ2_K, "Q2_K", 256, 84, true, D::kQ8_K);
  set(D::kQ3_K, "Q3_K", 256, 110, true, D::kQ8_K);
  set(D::kQ4_K, "Q4_K", 256, 144, true, D::kQ8_K);
  set(D::kQ5_K, "Q5_K", 256, 176, true, D::kQ8_K);
  set(D::kQ6_K, "Q6_K", 256, 210, true, D::kQ8_K);
  set(D::kQ8_K, "Q8_K", 256, 292, false, D::kQ8_K);
  set(D::kIQ2_XXS, "IQ2_XXS", 256, 66, false, D::kQ8_K);
  set(D::kIQ2_XS, "IQ2_XS", 256, 74, false, D::kQ8_K);
  set(D::kIQ3_XXS, "IQ3_XXS", 256, 98, false, D::kQ8_K);
  set(D::kIQ1_S, "IQ1_S", 256, 50, false, D::kQ8_K);
  set(D::kIQ4_NL, "IQ4_NL", 32, 18, true, D::kQ8_0);
  set(D::kIQ3_S, "IQ3_S", 256, 110, false, D::kQ8_K);
  set(D::kIQ2_S, "IQ2_S", 256, 82, false, D::kQ8_K);
  set(D::kIQ4_XS, "IQ4_XS", 256, 136, true, D::kQ8_K);
  set(D::kI8, "I8", 1, 1, false, D::kF32);
  set(D::kI16, "I16", 1, 2, false, D::kF32);
  set(D::kI32, "I32", 1, 4, false, D::kF32);
  set(D::kI64, "I64", 1, 8, false, D::kF32);
  set(D::kF64, "F64", 1, 8, false, D::kF32);
  set(D::kIQ1_M, "IQ1_M", 256, 56, false, D::kQ8_K);
  set(D::kBF16, "BF16", 1, 2, true, D::kBF16);
  set(D::kTQ1_0, "TQ1_0", 256, 54, false, D::kQ8_K);
  set(D::kTQ2_0, "TQ2_0", 256, 66, false, D::kQ8_K);
  set(D::kMXFP4, "MXFP4", 32, 17, false, D::kQ8_0);
  set(D::kNVFP4, "NVFP4", 64, 36, false, D::kQ8_0);
  set(D::kQ1_0, "Q1_0", 128, 18, false, D::kQ8_0);
  return t;
}

constexpr std::array<DTypeTraits, kDTypeCount> kTable = MakeTable();
static_assert(kTable[static_cast<uint32_t>(DType::kQ4_K)].type_size == 144);
static_assert(kTable[static_cast<uint32_t>(DType::kQ6_K)].type_size == 210);
static_assert(kTable[4].name == nullptr, "Q4_2 is removed");

}  // namespace

const DTypeTraits& Traits(DType t) { return kTable[static_cast<uint32_t>(t)]; }

bool IsKnownDType(uint32_t id) { return id < kDTypeCount && kTable[id].name != nullptr; }

std::string DTypeName(uint32_t id) {
  if (id < kDTypeCount && kTable[id].name) return kTable[id].name;
  return "type " + std::to_string(id);
}

}  // namespace gemrun
