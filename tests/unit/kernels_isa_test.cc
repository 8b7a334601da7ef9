// Kernel selection by CPU feature: a table built for a CPU that lacks a feature never hands
// out a kernel that needs it, and such a kernel falls back to the next lower implementation.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "kernels/isa.h"
#include "kernels/ref/ref_kernels.h"

namespace gemrun::kernels {
namespace {

// Calls fn(slot name, function pointer, declared needs) for every entry of `k`.
template <class Fn>
void ForEachEntry(const IsaKernels& k, Fn fn) {
  for (uint32_t i = 0; i < kDTypeCount; ++i) {
    const std::string t = DTypeName(static_cast<DType>(i));
    fn("quantize_act " + t, reinterpret_cast<const void*>(k.quantize_act[i]), k.needs.quantize_act[i]);
    fn("dot_tile " + t, reinterpret_cast<const void*>(k.dot_tile[i]), k.needs.dot_tile[i]);
    fn("rows16_tile " + t, reinterpret_cast<const void*>(k.rows16_tile[i]), k.needs.rows16_tile[i]);
    fn("block_sums " + t, reinterpret_cast<const void*>(k.block_sums[i]), k.needs.block_sums[i]);
  }
  fn("gelu_mul", reinterpret_cast<const void*>(k.gelu_mul), k.needs.gelu_mul);
}

constexpr const Isa (&kIsas)[kIsaCount] = kIsasByRank;

TEST(KernelsIsaTest, NoEntryNeedsAMissingFeature) {
  for (int bit = 0; bit < kCpuFeatureCount; ++bit) {
    const auto missing = static_cast<CpuFeature>(1u << bit);
    const CpuFeatures cpu = CpuFeatures::FromSet(kAllCpuFeatures & ~missing);
    for (Isa isa : kIsas) {
      const IsaKernels k = BuildKernels(isa, cpu);
      const IsaKernels& ref = RefKernels();
      ForEachEntry(k, [&](const std::string& slot, const void* fn, FeatureSet needs) {
        EXPECT_EQ(needs & missing, 0u) << IsaName(isa) << " " << slot << " needs the missing "
                                       << CpuFeatureName(missing);
        EXPECT_EQ(needs & ~cpu.Set(), 0u) << IsaName(isa) << " " << slot;
      });
      // Every type the reference handles still has a kernel.
      for (uint32_t i = 0; i < kDTypeCount; ++i) {
        if (ref.dot_tile[i]) EXPECT_NE(k.dot_tile[i], nullptr) << IsaName(isa) << " " << i;
        if (ref.quantize_act[i]) EXPECT_NE(k.quantize_act[i], nullptr) << IsaName(isa) << " " << i;
      }
      EXPECT_NE(k.gelu_mul, nullptr);
    }
  }
}

TEST(KernelsIsaTest, FeatureSetRoundTrips) {
  for (int bit = 0; bit < kCpuFeatureCount; ++bit) {
    const FeatureSet s = kAllCpuFeatures & ~(1u << bit);
    EXPECT_EQ(CpuFeatures::FromSet(s).Set(), s);
    EXPECT_STRNE(CpuFeatureName(static_cast<CpuFeature>(1u << bit)), "?");
  }
}

#if defined(__x86_64__)
// The crash this guards against: the AVX-512 table used to install the vdpbf16ps tile on every
// AVX-512 VNNI CPU. Without BF16 the AVX-512 table must use the AVX2 BF16 tile, and without
// VNNI the AVX2 integer tiles and no row-interleaved tiles.
TEST(KernelsIsaTest, MissingFeatureFallsBackPerKernel) {
  const uint32_t bf16 = static_cast<uint32_t>(DType::kBF16), q4 = static_cast<uint32_t>(DType::kQ4_0);
  const uint32_t f16 = static_cast<uint32_t>(DType::kF16);
  const CpuFeatures all = CpuFeatures::FromSet(kAllCpuFeatures);
  const IsaKernels full = BuildKernels(Isa::kAvx512, all), avx2 = BuildKernels(Isa::kAvx2, all);
  EXPECT_TRUE(full.needs.dot_tile[bf16] & kFeatAvx512Bf16) << "the vdpbf16ps tile must declare BF16";
  EXPECT_TRUE(full.needs.dot_tile[q4] & kFeatAvx512Vnni);

  const IsaKernels icelake = BuildKernels(Isa::kAvx512, CpuFeatures::FromSet(kAllCpuFeatures & ~kFeatAvx512Bf16));
  EXPECT_EQ(icelake.dot_tile[bf16], avx2.dot_tile[bf16]);
  EXPECT_EQ(icelake.dot_tile[q4], full.dot_tile[q4]);  // VNNI tiles kept
  EXPECT_EQ(icelake.dot_tile[f16], full.dot_tile[f16]);

  const IsaKernels skx = BuildKernels(Isa::kAvx512, CpuFeatures::FromSet(kAllCpuFeatures & ~kFeatAvx512Vnni));
  EXPECT_EQ(skx.dot_tile[q4], avx2.dot_tile[q4]);
  EXPECT_EQ(skx.dot_tile[f16], full.dot_tile[f16]);  // plain AVX-512 tiles kept
  for (uint32_t i = 0; i < kDTypeCount; ++i) EXPECT_EQ(skx.rows16_tile[i], nullptr);

  // No OS support for ZMM state: nothing from the AVX-512 files at all.
  const IsaKernels no_zmm = BuildKernels(Isa::kAvx512, CpuFeatures::FromSet(kAllCpuFeatures & ~kFeatOsZmm));
  for (uint32_t i = 0; i < kDTypeCount; ++i) EXPECT_EQ(no_zmm.dot_tile[i], avx2.dot_tile[i]) << i;
}
#endif

#if defined(__aarch64__)
// The ARM levels: sdot tiles need dotprod and smmla tiles i8mm; without them each entry falls
// back one level (neoni8mm -> neondot -> neon), never to a kernel the CPU cannot run.
TEST(KernelsIsaTest, ArmMissingFeatureFallsBackPerKernel) {
  const uint32_t q4 = static_cast<uint32_t>(DType::kQ4_0), q4k = static_cast<uint32_t>(DType::kQ4_K);
  const uint32_t f16 = static_cast<uint32_t>(DType::kF16);
  const CpuFeatures all = CpuFeatures::FromSet(kAllCpuFeatures);
  const IsaKernels i8mm = BuildKernels(Isa::kNeonI8mm, all), dot = BuildKernels(Isa::kNeonDot, all);
  const IsaKernels neon = BuildKernels(Isa::kNeon, all);
  EXPECT_TRUE(i8mm.needs.dot_tile[q4] & kFeatI8mm) << "the smmla tile must declare i8mm";
  EXPECT_TRUE(dot.needs.dot_tile[q4] & kFeatDotProd);
  EXPECT_EQ(i8mm.dot_tile[q4k], dot.dot_tile[q4k]);  // K-quants: sdot at both levels
  EXPECT_NE(dot.dot_tile[q4], neon.dot_tile[q4]);
  EXPECT_EQ(dot.dot_tile[f16], neon.dot_tile[f16]);  // float tiles come from the baseline

  const IsaKernels no_i8mm = BuildKernels(Isa::kNeonI8mm, CpuFeatures::FromSet(kAllCpuFeatures & ~kFeatI8mm));
  EXPECT_EQ(no_i8mm.dot_tile[q4], dot.dot_tile[q4]);
  const IsaKernels no_dot = BuildKernels(Isa::kNeonI8mm, CpuFeatures::FromSet(kAllCpuFeatures & ~kFeatDotProd));
  for (uint32_t i = 0; i < kDTypeCount; ++i) EXPECT_EQ(no_dot.dot_tile[i], neon.dot_tile[i]) << i;
  const IsaKernels no_neon = BuildKernels(Isa::kNeon, CpuFeatures::FromSet(kAllCpuFeatures & ~kFeatNeon));
  for (uint32_t i = 0; i < kDTypeCount; ++i) EXPECT_EQ(no_neon.dot_tile[i], RefKernels().dot_tile[i]) << i;
}
#endif

// CI sets GEMRUN_REQUIRE_ISA to the level its machine (or emulator: qemu -cpu max has dotprod
// and i8mm) must offer, so that the SIMD parity tests cannot pass by skipping.
TEST(KernelsIsaTest, RequiredIsaIsAvailable) {
  const char* want = std::getenv("GEMRUN_REQUIRE_ISA");
  if (!want || !*want) GTEST_SKIP() << "GEMRUN_REQUIRE_ISA is not set";
  bool known = false;
  for (Isa isa : kIsas)
    if (!std::strcmp(want, IsaName(isa))) {
      known = true;
      EXPECT_TRUE(IsaAvailable(isa)) << want << " is not available (CPU features 0x" << std::hex
                                     << DetectCpuFeatures().Set() << ")";
    }
  EXPECT_TRUE(known) << "unknown level GEMRUN_REQUIRE_ISA=" << want;
}

TEST(KernelsIsaTest, AvailabilityFollowsTheBaseline) {
  const FeatureSet have = DetectCpuFeatures().Set();
  for (Isa isa : kIsas)
    if (IsaAvailable(isa)) EXPECT_EQ(have & IsaBaseline(isa), IsaBaseline(isa)) << IsaName(isa);
  EXPECT_TRUE(IsaAvailable(Isa::kScalar));
}

}  // namespace
}  // namespace gemrun::kernels
