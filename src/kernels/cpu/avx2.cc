// AVX2 + FMA + F16C kernels (compiled with -mavx2 -mfma -mf16c only): activation quantizers,
// F32/F16/BF16 dot tiles and assembly of the AVX2 table (quantized tiles live in avx2_q8.cc
// and avx2_kquants.cc). 16 ymm registers: tiles run two weight rows per pass.
#include <immintrin.h>

#include "kernels/cpu/avx2_common.h"
#include "kernels/cpu/cpu_internal.h"
#include "kernels/cpu/cpu_kernels.h"
#include "quant/blocks.h"

namespace gemrun::kernels {
namespace {

// ---- activation quantizers ---------------------------------------------------------------

GEMRUN_INLINE __m256i RoundToI32(__m256 v) {
  return _mm256_cvtps_epi32(_mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

// Four vectors of 8 int32 (values in -127..127) -> 32 int8 in order.
GEMRUN_INLINE __m256i PackI32ToI8(__m256i a, __m256i b, __m256i c, __m256i d) {
  const __m256i ab = _mm256_packs_epi32(a, b), cd = _mm256_packs_epi32(c, d);
  const __m256i x = _mm256_packs_epi16(ab, cd);  // lanes interleaved: a0 b0 c0 d0 | a1 b1 c1 d1
  return _mm256_permutevar8x32_epi32(x, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

GEMRUN_INLINE __m256 Abs(__m256 v) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v); }

// Q8_0 / Q8_1 (spec §10): d = amax/127 stored as half, q = RNE(x * (127/amax)).
template <bool kQ81>
void QuantizeQ8Block(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<uint8_t*>(dst);
  constexpr int kBytes = kQ81 ? 36 : 34, kQs = kQ81 ? 4 : 2;
  for (int64_t b = 0; b < n / kQK; ++b, x += kQK, y += kBytes) {
    __m256 v[4];
    __m256 m = _mm256_setzero_ps();
    GEMRUN_UNROLL
    for (int j = 0; j < 4; ++j) {
      v[j] = _mm256_loadu_ps(x + 8 * j);
      m = _mm256_max_ps(m, Abs(v[j]));
    }
    const float amax = HMax(m);
    const float d = amax / 127.f;
    const float id = amax != 0.f ? 127.f / amax : 0.f;
    const uint16_t dh = F2H(d);
    std::memcpy(y, &dh, 2);
    const __m256 mul = _mm256_set1_ps(id);
    __m256i q[4];
    GEMRUN_UNROLL
    for (int j = 0; j < 4; ++j) q[j] = RoundToI32(_mm256_mul_ps(v[j], mul));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + kQs), PackI32ToI8(q[0], q[1], q[2], q[3]));
    if constexpr (kQ81) {
      const int sum = HSumI32(_mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3])));
      const uint16_t sh = F2H(d * static_cast<float>(sum));
      std::memcpy(y + 2, &sh, 2);
    }
  }
}

void QuantizeQ8_0(const float* x, void* dst, int64_t n) { QuantizeQ8Block<false>(x, dst, n); }
void QuantizeQ8_1(const float* x, void* dst, int64_t n) { QuantizeQ8Block<true>(x, dst, n); }

// Q8_K (spec §10), bit-exact with the scalar reference.
void QuantizeQ8_K(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<uint8_t*>(dst);
  for (int64_t b = 0; b < n / kQKK; ++b, x += kQKK, y += sizeof(BlockQ8_K)) {
    __m256 m = _mm256_setzero_ps();
    for (int j = 0; j < 32; ++j) m = _mm256_max_ps(m, Abs(_mm256_loadu_ps(x + 8 * j)));
    const float amax = HMax(m);
    if (amax == 0.f) {
      std::memset(y, 0, sizeof(BlockQ8_K));
      continue;
    }
    int idx = 0;
    const __m256 amv = _mm256_set1_ps(amax);
    for (int j = 0; j < 32; ++j) {
      const int mask = _mm256_movemask_ps(_mm256_cmp_ps(Abs(_mm256_loadu_ps(x + 8 * j)), amv, _CMP_EQ_OQ));
      if (mask) {
        idx = 8 * j + __builtin_ctz(static_cast<unsigned>(mask));
        break;
      }
    }
    const float iscale = -127.f / x[idx];
    const __m256 mul = _mm256_set1_ps(iscale);
    const __m256i k127 = _mm256_set1_epi32(127);
    int16_t bsums[16];
    GEMRUN_UNROLL
    for (int g = 0; g < 8; ++g) {  // 32 values per step
      __m256i q[4];
      GEMRUN_UNROLL
      for (int j = 0; j < 4; ++j)
        q[j] = _mm256_min_epi32(RoundToI32(_mm256_mul_ps(_mm256_loadu_ps(x + 32 * g + 8 * j), mul)), k127);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + 4 + 32 * g), PackI32ToI8(q[0], q[1], q[2], q[3]));
      bsums[2 * g] = static_cast<int16_t>(HSumI32(_mm256_add_epi32(q[0], q[1])));
      bsums[2 * g + 1] = static_cast<int16_t>(HSumI32(_mm256_add_epi32(q[2], q[3])));
    }
    const float d = 1.f / iscale;
    std::memcpy(y, &d, 4);
    std::memcpy(y + 4 + kQKK, bsums, sizeof(bsums));
  }
}

void QuantizeF16(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<uint16_t*>(dst);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  for (; i < n; ++i) y[i] = F2H(x[i]);
}

void QuantizeBF16(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<uint16_t*>(dst);
  const __m256i abs_mask = _mm256_set1_epi32(0x7FFFFFFF), inf = _mm256_set1_epi32(0x7F800000);
  const __m256i bias = _mm256_set1_epi32(0x7FFF), one = _mm256_set1_epi32(1), quiet = _mm256_set1_epi32(0x40);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i u = _mm256_castps_si256(_mm256_loadu_ps(x + i));
    // Signed compare is fine: both sides are below 2^31 after masking.
    const __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, abs_mask), inf);
    const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), one);
    const __m256i r = _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(u, bias), lsb), 16);
    const __m256i q = _mm256_or_si256(_mm256_srli_epi32(u, 16), quiet);
    const __m256i v = _mm256_blendv_epi8(r, q, nan);
    const __m128i packed = _mm_packus_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i), packed);
  }
  for (; i < n; ++i) y[i] = F2Bf16(x[i]);
}

void QuantizeF32(const float* x, void* dst, int64_t n) { std::memcpy(dst, x, n * sizeof(float)); }

// ---- float dot tiles ---------------------------------------------------------------------

struct F32Elem {
  static constexpr int kElemBytes = 4;
  static GEMRUN_INLINE __m256 Load(const uint8_t* p) { return _mm256_loadu_ps(reinterpret_cast<const float*>(p)); }
  static GEMRUN_INLINE float One(const uint8_t* p) { return LoadF32(p); }
};
struct F16Elem {
  static constexpr int kElemBytes = 2;
  static GEMRUN_INLINE __m256 Load(const uint8_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static GEMRUN_INLINE float One(const uint8_t* p) { return H2F(p); }
};
struct BF16Elem {
  static constexpr int kElemBytes = 2;
  static GEMRUN_INLINE __m256 Load(const uint8_t* p) {
    const __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
  }
  static GEMRUN_INLINE float One(const uint8_t* p) { return Bf162F(LoadU16(p)); }
};

// NR <= 2 rows x NC columns, 8 lanes per step, small tiles unrolled twice.
template <class L, int NR, int NC>
struct DotFloatImpl {
  static constexpr bool kRowAtATimeDecode = true;
  static void Run(int64_t n, const uint8_t* w, int64_t ws, const uint8_t* a, int64_t as, float* out,
                  int64_t ldo) {
    constexpr int kU = NR * NC < 4 ? 2 : 1;
    constexpr int kE = L::kElemBytes;
    __m256 acc[kU][NR * NC];
    GEMRUN_UNROLL
    for (int u = 0; u < kU; ++u)
      GEMRUN_UNROLL
      for (int p = 0; p < NR * NC; ++p) acc[u][p] = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 * kU <= n; i += 8 * kU) {
      GEMRUN_UNROLL
      for (int u = 0; u < kU; ++u) {
        __m256 av[NC];
        GEMRUN_UNROLL
        for (int c = 0; c < NC; ++c) av[c] = L::Load(a + c * as + (i + 8 * u) * kE);
        GEMRUN_UNROLL
        for (int r = 0; r < NR; ++r) {
          if constexpr (NC == 1) PrefetchLines<8 * kE>(w + r * ws, (i + 8 * u) * kE);
          const __m256 wv = L::Load(w + r * ws + (i + 8 * u) * kE);
          GEMRUN_UNROLL
          for (int c = 0; c < NC; ++c) acc[u][r * NC + c] = _mm256_fmadd_ps(wv, av[c], acc[u][r * NC + c]);
        }
      }
    }
    for (; i + 8 <= n; i += 8)
      GEMRUN_UNROLL
      for (int r = 0; r < NR; ++r) {
        const __m256 wv = L::Load(w + r * ws + i * kE);
        GEMRUN_UNROLL
        for (int c = 0; c < NC; ++c)
          acc[0][r * NC + c] = _mm256_fmadd_ps(wv, L::Load(a + c * as + i * kE), acc[0][r * NC + c]);
      }
    if constexpr (kU == 2)
      GEMRUN_UNROLL
      for (int p = 0; p < NR * NC; ++p) acc[0][p] = _mm256_add_ps(acc[0][p], acc[1][p]);
    GEMRUN_UNROLL
    for (int r = 0; r < NR; ++r)
      GEMRUN_UNROLL
      for (int c = 0; c < NC; ++c) {
        float s = HSum(acc[0][r * NC + c]);
        for (int64_t j = i; j < n; ++j) s += L::One(w + r * ws + j * kE) * L::One(a + c * as + j * kE);
        out[c * ldo + r] = s;
      }
  }
};

template <int NR, int NC> using DotF32 = TwoRowPasses<NR, NC, DotFloatImpl<F32Elem, 2, NC>, DotFloatImpl<F32Elem, 1, NC>>;
template <int NR, int NC> using DotF16 = TwoRowPasses<NR, NC, DotFloatImpl<F16Elem, 2, NC>, DotFloatImpl<F16Elem, 1, NC>>;
template <int NR, int NC> using DotBF16 = TwoRowPasses<NR, NC, DotFloatImpl<BF16Elem, 2, NC>, DotFloatImpl<BF16Elem, 1, NC>>;

}  // namespace

IsaKernels Avx2Kernels() {
  IsaKernels k{Isa::kAvx2, "avx2", {}, {}, nullptr, {}, {}, {}};
  SetQuant(k, DType::kF32, QuantizeF32);
  SetQuant(k, DType::kF16, QuantizeF16);
  SetQuant(k, DType::kBF16, QuantizeBF16);
  SetQuant(k, DType::kQ8_0, QuantizeQ8_0);
  SetQuant(k, DType::kQ8_1, QuantizeQ8_1);
  SetQuant(k, DType::kQ8_K, QuantizeQ8_K);
  SetDot(k, DType::kF32, DotTile<DotF32>);
  SetDot(k, DType::kF16, DotTile<DotF16>);
  SetDot(k, DType::kBF16, DotTile<DotBF16>);
  Avx2AddQ8Tiles(k);
  Avx2AddKQuantTiles(k);
  Avx2AddRows16Tiles(k);
  DeclareNeeds(k, kAvx2Code);
  return k;
}

}  // namespace gemrun::kernels
