// Helpers for the AVX2 kernel files (internal linkage; see x86_common.h).
#pragma once

#include <immintrin.h>

#include "kernels/cpu/x86_common.h"

namespace gemrun::kernels {
namespace {

GEMRUN_INLINE float HSum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
GEMRUN_INLINE float HMax(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
GEMRUN_INLINE int HSumI32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  return _mm_cvtsi128_si32(s);
}

// u8 x s8 -> int32 lanes (sums of 4 products) without VNNI. |u * a| pair sums must fit int16.
GEMRUN_INLINE __m256i DotU8S8(__m256i u, __m256i a) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, a), _mm256_set1_epi16(1));
}
// s8 x s8 via the sign trick (|w| as unsigned, a with w's sign). w = -128 is fine (|w| = 128 as u8).
GEMRUN_INLINE __m256i DotS8S8(__m256i w, __m256i a) {
  return DotU8S8(_mm256_sign_epi8(w, w), _mm256_sign_epi8(a, w));
}

// A 4-row tile as two passes of a 2-row kernel (16 ymm registers do not hold 4x4 accumulators).
template <int NR, int NC, class Impl2, class Impl1>
struct TwoRowPasses {
  static constexpr bool kRowAtATimeDecode = RowAtATimeDecode<Impl1>();
  static void Run(int64_t n, const uint8_t* w, int64_t ws, const uint8_t* a, int64_t as, float* out,
                  int64_t ldo) {
    if constexpr (NR == 4) {
      Impl2::Run(n, w, ws, a, as, out, ldo);
      Impl2::Run(n, w + 2 * ws, ws, a, as, out + 2, ldo);
    } else {
      static_assert(NR == 1);
      Impl1::Run(n, w, ws, a, as, out, ldo);
    }
  }
};

}  // namespace
}  // namespace gemrun::kernels
