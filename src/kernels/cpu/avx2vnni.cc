// AVX2 + AVX-VNNI kernels (compiled with -mavx2 -mfma -mf16c -mavxvnni; Intel client cores since
// Alder Lake, AMD Zen 5): the kRows16 tiles of avx2_rows16.h on VEX vpdpbusd / vpdpwssd, for
// Q4_0, Q5_0, Q8_0, Q4_K and Q6_K. Everything else in this table comes from the AVX2 level.
#include <immintrin.h>

#include "kernels/cpu/avx2_rows16.h"
#include "kernels/cpu/cpu_internal.h"
#include "kernels/cpu/cpu_kernels.h"

namespace gemrun::kernels {
namespace {

// u8 x s8 dword products accumulated exactly in int32 (any u8 codes).
struct DotVnni {
  static GEMRUN_INLINE __m256i Dot2(__m256i t, __m256i u0, __m256i a0, __m256i u1, __m256i a1) {
    return _mm256_dpbusd_avx_epi32(_mm256_dpbusd_avx_epi32(t, u0, a0), u1, a1);
  }
  static GEMRUN_INLINE __m256i DotW(__m256i t, __m256i w, __m256i a) { return _mm256_dpwssd_avx_epi32(t, w, a); }
};

// Activation rows per prefill pass: 5 int32 + 5 f32 accumulators + 4 temporaries + scale.
constexpr int kNc = 5;

}  // namespace

IsaKernels Avx2VnniKernels() {
  IsaKernels k{Isa::kAvx2Vnni, "avx2vnni", {}, {}, nullptr, {}, {}};
  k.rows16_tile[static_cast<uint32_t>(DType::kQ4_0)] = y16::Tile<y16::Blocks32<y16::YQ4_0, DotVnni, kNc>>;
  k.rows16_tile[static_cast<uint32_t>(DType::kQ8_0)] = y16::Tile<y16::Blocks32<y16::YQ8_0, DotVnni, kNc>>;
  k.rows16_tile[static_cast<uint32_t>(DType::kQ4_K)] = y16::Tile<y16::SuperQ4K<DotVnni, kNc>>;
  k.rows16_tile[static_cast<uint32_t>(DType::kQ5_0)] = y16::Tile<y16::Blocks32<y16::YQ5_0, DotVnni, kNc>>;
  k.rows16_tile[static_cast<uint32_t>(DType::kQ6_K)] = y16::Tile<y16::SuperQ6K<DotVnni, kNc>>;
  k.block_sums[static_cast<uint32_t>(DType::kQ8_0)] = y16::Q8_0Sums;
  k.rows16_desc = "rows16 as 2 x 8-row ymm halves, vpdpbusd (Q4_0 Q5_0 Q8_0 Q4_K Q6_K)";
  DeclareNeeds(k, kAvx2Code | kFeatAvxVnni);
  return k;
}

}  // namespace gemrun::kernels
