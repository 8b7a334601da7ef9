// AVX-512 (F/BW/VL/DQ) kernels: activation quantizers, the F32/F16 dot tiles, and assembly
// of the AVX-512 table (the BF16 tile lives in avx512_bf16.cc, the VNNI tiles in
// avx512_q8.cc, avx512_kquants.cc and avx512_rows16.cc, each file with its own target flags). Numerics follow the scalar twins in quant/quant.h; see README.md.
#include <immintrin.h>

#include "kernels/cpu/cpu_internal.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/x86_common.h"
#include "quant/blocks.h"

namespace gemrun::kernels {
namespace {

// ---- activation quantizers ---------------------------------------------------------------

GEMRUN_INLINE __m512i RoundToI32(__m512 v) {
  return _mm512_cvt_roundps_epi32(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

// Q8_0 / Q8_1 (spec §10): d = amax/127 stored as half, q = RNE(x * (127/amax)).
template <bool kQ81>
void QuantizeQ8Block(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<uint8_t*>(dst);
  constexpr int kBytes = kQ81 ? 36 : 34, kQs = kQ81 ? 4 : 2;
  for (int64_t b = 0; b < n / kQK; ++b, x += kQK, y += kBytes) {
    const __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
    const float d = amax / 127.f;
    const float id = amax != 0.f ? 127.f / amax : 0.f;
    const uint16_t dh = F2H(d);
    std::memcpy(y, &dh, 2);
    const __m512 mul = _mm512_set1_ps(id);
    const __m512i q0 = RoundToI32(_mm512_mul_ps(v0, mul)), q1 = RoundToI32(_mm512_mul_ps(v1, mul));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + kQs), _mm512_cvtsepi32_epi8(q0));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + kQs + 16), _mm512_cvtsepi32_epi8(q1));
    if constexpr (kQ81) {
      const int sum = _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
      const uint16_t sh = F2H(d * static_cast<float>(sum));
      std::memcpy(y + 2, &sh, 2);
    }
  }
}

void QuantizeQ8_0(const float* x, void* dst, int64_t n) { QuantizeQ8Block<false>(x, dst, n); }
void QuantizeQ8_1(const float* x, void* dst, int64_t n) { QuantizeQ8Block<true>(x, dst, n); }

// Q8_K (spec §10): iscale = -127/max (max = signed value of the first largest |x|),
// q = min(127, RNE(iscale * x)), d = 1/iscale as f32, bsums over each 16 values.
void QuantizeQ8_K(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<uint8_t*>(dst);
  for (int64_t b = 0; b < n / kQKK; ++b, x += kQKK, y += sizeof(BlockQ8_K)) {
    __m512 v[16];
    __m512 am = _mm512_setzero_ps();
    GEMRUN_UNROLL
    for (int j = 0; j < 16; ++j) {
      v[j] = _mm512_loadu_ps(x + 16 * j);
      am = _mm512_max_ps(am, _mm512_abs_ps(v[j]));
    }
    const float amax = _mm512_reduce_max_ps(am);
    if (amax == 0.f) {
      std::memset(y, 0, sizeof(BlockQ8_K));
      continue;
    }
    int idx = 0;
    const __m512 amv = _mm512_set1_ps(amax);
    GEMRUN_UNROLL
    for (int j = 0; j < 16; ++j) {
      const __mmask16 m = _mm512_cmp_ps_mask(_mm512_abs_ps(v[j]), amv, _CMP_EQ_OQ);
      if (m) {
        idx = 16 * j + __builtin_ctz(m);
        break;
      }
    }
    const float iscale = -127.f / x[idx];
    const __m512 mul = _mm512_set1_ps(iscale);
    const __m512i k127 = _mm512_set1_epi32(127);
    int16_t bsums[16];
    GEMRUN_UNROLL
    for (int j = 0; j < 16; ++j) {
      const __m512i q = _mm512_min_epi32(RoundToI32(_mm512_mul_ps(v[j], mul)), k127);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(y + 4 + 16 * j), _mm512_cvtsepi32_epi8(q));
      bsums[j] = static_cast<int16_t>(_mm512_reduce_add_epi32(q));
    }
    const float d = 1.f / iscale;
    std::memcpy(y, &d, 4);
    std::memcpy(y + 4 + kQKK, bsums, sizeof(bsums));
  }
}

void QuantizeF16(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<uint16_t*>(dst);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i),
                        _mm512_cvtps_ph(_mm512_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  for (; i < n; ++i) y[i] = F2H(x[i]);
}

// Bit-exact with F2Bf16 (the AVX-512 BF16 convert instruction flushes denormals, so it is
// not used here).
void QuantizeBF16(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<uint16_t*>(dst);
  const __m512i abs_mask = _mm512_set1_epi32(0x7FFFFFFF), inf = _mm512_set1_epi32(0x7F800000);
  const __m512i bias = _mm512_set1_epi32(0x7FFF), one = _mm512_set1_epi32(1), quiet = _mm512_set1_epi32(0x40);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512i u = _mm512_castps_si512(_mm512_loadu_ps(x + i));
    const __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, abs_mask), inf);
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), one);
    __m512i r = _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(u, bias), lsb), 16);
    r = _mm512_mask_or_epi32(r, nan, _mm512_srli_epi32(u, 16), quiet);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i), _mm512_cvtepi32_epi16(r));
  }
  for (; i < n; ++i) y[i] = F2Bf16(x[i]);
}

void QuantizeF32(const float* x, void* dst, int64_t n) { std::memcpy(dst, x, n * sizeof(float)); }

// ---- float dot tiles ---------------------------------------------------------------------

struct F32Elem {
  static constexpr int kElemBytes = 4;
  static GEMRUN_INLINE __m512 Load(const uint8_t* p, __mmask16 m) {
    return _mm512_maskz_loadu_ps(m, p);
  }
};
struct F16Elem {
  static constexpr int kElemBytes = 2;
  static GEMRUN_INLINE __m512 Load(const uint8_t* p, __mmask16 m) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
  }
};

// out[c][r] = sum_i w[r][i] * a[c][i]: 16 lanes per step, every weight vector reused across
// the NC activation rows; small tiles unroll twice to hide FMA latency.
template <class L, int NR, int NC>
struct DotFloat {
  static constexpr bool kRowAtATimeDecode = true;
  static void Run(int64_t n, const uint8_t* w, int64_t ws, const uint8_t* a, int64_t as, float* out,
                  int64_t ldo) {
    constexpr int kU = NR * NC < 8 ? 2 : 1;
    constexpr int kE = L::kElemBytes;
    __m512 acc[kU][NR * NC];
    GEMRUN_UNROLL
    for (int u = 0; u < kU; ++u)
      GEMRUN_UNROLL
      for (int p = 0; p < NR * NC; ++p) acc[u][p] = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 16 * kU <= n; i += 16 * kU) {
      GEMRUN_UNROLL
      for (int u = 0; u < kU; ++u) {
        __m512 av[NC];
        GEMRUN_UNROLL
        for (int c = 0; c < NC; ++c) av[c] = L::Load(a + c * as + (i + 16 * u) * kE, 0xFFFF);
        GEMRUN_UNROLL
        for (int r = 0; r < NR; ++r) {
          if constexpr (NC == 1) PrefetchAhead<16 * kE>(w + r * ws + (i + 16 * u) * kE);
          const __m512 wv = L::Load(w + r * ws + (i + 16 * u) * kE, 0xFFFF);
          GEMRUN_UNROLL
          for (int c = 0; c < NC; ++c) acc[u][r * NC + c] = _mm512_fmadd_ps(wv, av[c], acc[u][r * NC + c]);
        }
      }
    }
    for (; i < n; i += 16) {
      const __mmask16 m = n - i >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << (n - i)) - 1);
      __m512 av[NC];
      GEMRUN_UNROLL
      for (int c = 0; c < NC; ++c) av[c] = L::Load(a + c * as + i * kE, m);
      GEMRUN_UNROLL
      for (int r = 0; r < NR; ++r) {
        const __m512 wv = L::Load(w + r * ws + i * kE, m);
        GEMRUN_UNROLL
        for (int c = 0; c < NC; ++c) acc[0][r * NC + c] = _mm512_fmadd_ps(wv, av[c], acc[0][r * NC + c]);
      }
    }
    if constexpr (kU == 2)
      GEMRUN_UNROLL
      for (int p = 0; p < NR * NC; ++p) acc[0][p] = _mm512_add_ps(acc[0][p], acc[1][p]);
    GEMRUN_UNROLL
    for (int r = 0; r < NR; ++r)
      GEMRUN_UNROLL
      for (int c = 0; c < NC; ++c) out[c * ldo + r] = _mm512_reduce_add_ps(acc[0][r * NC + c]);
  }
};

template <int NR, int NC> using DotF32 = DotFloat<F32Elem, NR, NC>;
template <int NR, int NC> using DotF16 = DotFloat<F16Elem, NR, NC>;

}  // namespace

// GELU through the F16 table: round x to F16 (RNE, like F16C), gather the table entries,
// widen; |x| >= 10 handled as the scalar twin does. Bit-identical to it.
void GeluMulAvx512(const float* gate, const float* up, float* y, int64_t n, const uint16_t* table) {
  const __m512 lo = _mm512_set1_ps(-10.0f), hi = _mm512_set1_ps(10.0f);
  int64_t i = 0;
  for (; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << (n - i)) - 1);
    const __m512 x = _mm512_maskz_loadu_ps(m, gate + i);
    const __m256i h = _mm512_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m512i idx = _mm512_cvtepu16_epi32(h);
    const __m512i g32 = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), m, idx, table, 2);
    __m512 g = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(g32));
    g = _mm512_mask_mov_ps(g, _mm512_cmp_ps_mask(x, hi, _CMP_GE_OQ), x);
    g = _mm512_mask_mov_ps(g, _mm512_cmp_ps_mask(x, lo, _CMP_LE_OQ), _mm512_setzero_ps());
    if (up) g = _mm512_mul_ps(g, _mm512_maskz_loadu_ps(m, up + i));
    _mm512_mask_storeu_ps(y + i, m, g);
  }
}

IsaKernels Avx512Kernels() {
  IsaKernels k{Isa::kAvx512, "avx512", {}, {}, nullptr, {}, {}, {}};
  SetQuant(k, DType::kF32, QuantizeF32);
  SetQuant(k, DType::kF16, QuantizeF16);
  SetQuant(k, DType::kBF16, QuantizeBF16);
  SetQuant(k, DType::kQ8_0, QuantizeQ8_0);
  SetQuant(k, DType::kQ8_1, QuantizeQ8_1);
  SetQuant(k, DType::kQ8_K, QuantizeQ8_K);
  SetDot(k, DType::kF32, DotTile<DotF32>);
  SetDot(k, DType::kF16, DotTile<DotF16>);
  k.gelu_mul = GeluMulAvx512;
  DeclareNeeds(k, kAvx512Code);
  // Entries from files built with more features declare them, so a CPU without VNNI or BF16
  // gets the AVX2 implementation of just those entries.
  Avx512AddQ8Tiles(k);
  Avx512AddKQuantTiles(k);
  Avx512AddRows16Tiles(k);
  DeclareNeeds(k, kAvx512VnniCode);
  Avx512AddBf16Tiles(k);
  DeclareNeeds(k, kAvx512Bf16Code);
  k.rows16_desc = "rows16 zmm (16 rows per vector), vpdpbusd (Q4_0 Q8_0 Q4_K)";
  return k;
}

}  // namespace gemrun::kernels
