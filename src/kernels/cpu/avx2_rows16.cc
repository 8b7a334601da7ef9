// AVX2 (no VNNI) instantiation of the kRows16 tiles of avx2_rows16.h: Q4_0, Q5_0, Q4_K and
// Q6_K, whose codes (below 64) let two vpmaddubsw results be added in int16 before one
// vpmaddwd, and Q8_0 by the sign trick (its unsigned codes, up to 255, would saturate).
#include <immintrin.h>

#include "kernels/cpu/avx2_rows16.h"
#include "kernels/cpu/cpu_internal.h"

namespace gemrun::kernels {
namespace {

// Codes u <= 63, |a| <= 127 (Q8_0 and Q8_K codes are in -127..127): each vpmaddubsw pair sum
// is at most 16002, the int16 sum of two at most 32004, so nothing saturates.
struct DotMadd {
  static GEMRUN_INLINE __m256i Dot2(__m256i t, __m256i u0, __m256i a0, __m256i u1, __m256i a1) {
    const __m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(u0, a0), _mm256_maddubs_epi16(u1, a1));
    return _mm256_add_epi32(t, _mm256_madd_epi16(p, _mm256_set1_epi16(1)));
  }
  static GEMRUN_INLINE __m256i DotW(__m256i t, __m256i w, __m256i a) {
    return _mm256_add_epi32(t, _mm256_madd_epi16(w, a));
  }
};

// Signed Q8_0 codes q (-128..127) by the sign trick: vpmaddubsw(|q|, a * sign(q)); each pair
// sum is at most 2 * 128 * 127 = 32512, so every product vector takes its own vpmaddwd.
struct DotSign {
  static GEMRUN_INLINE __m256i Dot1(__m256i s, __m256i a) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(s, s), _mm256_sign_epi8(a, s)),
                             _mm256_set1_epi16(1));
  }
  static GEMRUN_INLINE __m256i Dot2(__m256i t, __m256i s0, __m256i a0, __m256i s1, __m256i a1) {
    return _mm256_add_epi32(t, _mm256_add_epi32(Dot1(s0, a0), Dot1(s1, a1)));
  }
};

constexpr int kNc = 4;  // the AVX2 dot needs one more temporary than VNNI
constexpr int kNcQ8 = 3;  // and the sign trick two more

}  // namespace

void Avx2AddRows16Tiles(IsaKernels& k) {
  k.rows16_tile[static_cast<uint32_t>(DType::kQ4_0)] = y16::Tile<y16::Blocks32<y16::YQ4_0, DotMadd, kNc>>;
  k.rows16_tile[static_cast<uint32_t>(DType::kQ4_K)] = y16::Tile<y16::SuperQ4K<DotMadd, kNc>>;
  k.rows16_tile[static_cast<uint32_t>(DType::kQ5_0)] = y16::Tile<y16::Blocks32<y16::YQ5_0, DotMadd, kNc>>;
  k.rows16_tile[static_cast<uint32_t>(DType::kQ8_0)] = y16::Tile<y16::Blocks32<y16::YQ8_0Signed, DotSign, kNcQ8>>;
  k.rows16_tile[static_cast<uint32_t>(DType::kQ6_K)] = y16::Tile<y16::SuperQ6K<DotMadd, kNc>>;
  k.block_sums[static_cast<uint32_t>(DType::kQ8_0)] = y16::Q8_0Sums;
  k.rows16_desc = "rows16 as 2 x 8-row ymm halves, vpmaddubsw (Q4_0 Q5_0 Q4_K Q6_K; Q8_0 by the sign trick)";
}

}  // namespace gemrun::kernels
