// AVX2 dot tiles for the 32-element block formats with Q8_0 / Q8_1 activations:
// Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL. One block (32 values) per step; each weight block is
// decoded once per pass and reused across the activation rows. Unsigned codes (q = u - off)
// use vpmaddubsw with the offset term -off * sum(a) precomputed per activation block; signed
// codes (Q8_0, IQ4_NL) use the sign trick. Integer block sums are exact.
#include <immintrin.h>

#include "kernels/cpu/avx2_common.h"
#include "kernels/cpu/cpu_internal.h"
#include "quant/blocks.h"

namespace gemrun::kernels {
namespace {

GEMRUN_INLINE __m256i Nibbles(const uint8_t* q) {
  const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
  const __m256i z = _mm256_inserti128_si256(_mm256_castsi128_si256(x), _mm_srli_epi16(x, 4), 1);
  return _mm256_and_si256(z, _mm256_set1_epi8(0x0F));
}

// Bit j of the little-endian u32 at p -> 0x10 in byte j.
GEMRUN_INLINE __m256i FifthBits(const uint8_t* p) {
  const __m256i shuf = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202, 0x0101010101010101, 0);
  __m256i bytes = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(LoadU32(p))), shuf);
  bytes = _mm256_or_si256(bytes, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe));
  return _mm256_and_si256(_mm256_cmpeq_epi8(bytes, _mm256_set1_epi64x(-1)), _mm256_set1_epi8(0x10));
}

struct WQ4_0 {
  static constexpr int kBytes = 18, kOffShift = 3;  // off = 8
  static constexpr bool kMin = false, kSigned = false;
  static GEMRUN_INLINE __m256i V(const uint8_t* p) { return Nibbles(p + 2); }
  static GEMRUN_INLINE float M(const uint8_t*) { return 0.f; }
};
struct WQ4_1 {
  static constexpr int kBytes = 20, kOffShift = -1;
  static constexpr bool kMin = true, kSigned = false;
  static GEMRUN_INLINE __m256i V(const uint8_t* p) { return Nibbles(p + 4); }
  static GEMRUN_INLINE float M(const uint8_t* p) { return H2F(p + 2); }
};
struct WQ5_0 {
  static constexpr int kBytes = 22, kOffShift = 4;  // off = 16
  static constexpr bool kMin = false, kSigned = false;
  static GEMRUN_INLINE __m256i V(const uint8_t* p) { return _mm256_or_si256(Nibbles(p + 6), FifthBits(p + 2)); }
  static GEMRUN_INLINE float M(const uint8_t*) { return 0.f; }
};
struct WQ5_1 {
  static constexpr int kBytes = 24, kOffShift = -1;
  static constexpr bool kMin = true, kSigned = false;
  static GEMRUN_INLINE __m256i V(const uint8_t* p) { return _mm256_or_si256(Nibbles(p + 8), FifthBits(p + 4)); }
  static GEMRUN_INLINE float M(const uint8_t* p) { return H2F(p + 2); }
};
struct WQ8_0 {
  static constexpr int kBytes = 34, kOffShift = -1;
  static constexpr bool kMin = false, kSigned = true;
  static GEMRUN_INLINE __m256i V(const uint8_t* p) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 2));
  }
  static GEMRUN_INLINE float M(const uint8_t*) { return 0.f; }
};
struct WIQ4_NL {
  static constexpr int kBytes = 18, kOffShift = -1;
  static constexpr bool kMin = false, kSigned = true;
  static GEMRUN_INLINE __m256i V(const uint8_t* p) {
    const __m256i table = _mm256_broadcastsi128_si256(
        _mm_setr_epi8(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113));
    return _mm256_shuffle_epi8(table, Nibbles(p + 2));
  }
  static GEMRUN_INLINE float M(const uint8_t*) { return 0.f; }
};

template <class W, int NR, int NC>
struct DotQ8ActImpl {
  static void Run(int64_t n, const uint8_t* w, int64_t ws, const uint8_t* a, int64_t as, float* out,
                  int64_t ldo) {
    constexpr int kAB = W::kMin ? 36 : 34, kAQ = W::kMin ? 4 : 2;
    const int64_t nb = n / kQK;
    __m256 acc[NR * NC];
    float msum[NR * NC] = {};
    GEMRUN_UNROLL
    for (int p = 0; p < NR * NC; ++p) acc[p] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      __m256i aq[NC], init[NC];
      float da[NC], sa[NC];
      GEMRUN_UNROLL
      for (int c = 0; c < NC; ++c) {
        const uint8_t* p = a + c * as + b * kAB;
        aq[c] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + kAQ));
        da[c] = H2F(p);
        if constexpr (W::kMin) sa[c] = H2F(p + 2);
        if constexpr (W::kOffShift >= 0)
          init[c] = _mm256_sub_epi32(_mm256_setzero_si256(),
                                     _mm256_slli_epi32(DotU8S8(_mm256_set1_epi8(1), aq[c]), W::kOffShift));
      }
      GEMRUN_UNROLL
      for (int r = 0; r < NR; ++r) {
        const uint8_t* p = w + r * ws + b * W::kBytes;
        if constexpr (NC == 1) PrefetchLines<W::kBytes>(w + r * ws, b * W::kBytes);
        const __m256i v = W::V(p);
        const float dw = H2F(p);
        __m256i absw;
        if constexpr (W::kSigned) absw = _mm256_sign_epi8(v, v);
        float mw = 0.f;
        if constexpr (W::kMin) mw = W::M(p);
        GEMRUN_UNROLL
        for (int c = 0; c < NC; ++c) {
          __m256i dot;
          if constexpr (W::kSigned) dot = DotU8S8(absw, _mm256_sign_epi8(aq[c], v));
          else if constexpr (W::kOffShift >= 0) dot = _mm256_add_epi32(DotU8S8(v, aq[c]), init[c]);
          else dot = DotU8S8(v, aq[c]);
          acc[r * NC + c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_set1_ps(dw * da[c]), acc[r * NC + c]);
          if constexpr (W::kMin) msum[r * NC + c] += mw * sa[c];
        }
      }
    }
    GEMRUN_UNROLL
    for (int r = 0; r < NR; ++r)
      GEMRUN_UNROLL
      for (int c = 0; c < NC; ++c) out[c * ldo + r] = HSum(acc[r * NC + c]) + msum[r * NC + c];
  }
};

template <class W>
struct DotQ8Act {
  template <int NR, int NC>
  using K = TwoRowPasses<NR, NC, DotQ8ActImpl<W, 2, NC>, DotQ8ActImpl<W, 1, NC>>;
};

template <int NR, int NC> using KQ4_0 = DotQ8Act<WQ4_0>::K<NR, NC>;
template <int NR, int NC> using KQ4_1 = DotQ8Act<WQ4_1>::K<NR, NC>;
template <int NR, int NC> using KQ5_0 = DotQ8Act<WQ5_0>::K<NR, NC>;
template <int NR, int NC> using KQ5_1 = DotQ8Act<WQ5_1>::K<NR, NC>;
template <int NR, int NC> using KQ8_0 = DotQ8Act<WQ8_0>::K<NR, NC>;
template <int NR, int NC> using KIQ4_NL = DotQ8Act<WIQ4_NL>::K<NR, NC>;

}  // namespace

void Avx2AddQ8Tiles(IsaKernels& k) {
  SetDot(k, DType::kQ4_0, DotTile<KQ4_0>);
  SetDot(k, DType::kQ4_1, DotTile<KQ4_1>);
  SetDot(k, DType::kQ5_0, DotTile<KQ5_0>);
  SetDot(k, DType::kQ5_1, DotTile<KQ5_1>);
  SetDot(k, DType::kQ8_0, DotTile<KQ8_0>);
  SetDot(k, DType::kIQ4_NL, DotTile<KIQ4_NL>);
}

}  // namespace gemrun::kernels
