// AArch64 baseline kernels (ARMv8.0 Advanced SIMD only): the six activation quantizers, the
// F32/F16/BF16 dot tiles, GELU through the F16 table, and the quantized tiles of neon_tiles.h
// on smull/sadalp. Assembles the `neon` table; neon_dot.cc and neon_i8mm.cc add to it.
#include <arm_neon.h>

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/neon_tiles.h"

namespace gemrun::kernels {
namespace {

// ---- activation quantizers (bit-exact with QuantizeActRowRef) ------------------------------

// Q8_0 / Q8_1: d = amax/127 stored as half, q = RNE(x * (127/amax)) (fcvtns rounds to even).
template <bool kQ81>
void QuantizeQ8Block(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<uint8_t*>(dst);
  constexpr int kBytes = kQ81 ? 36 : 34, kQs = kQ81 ? 4 : 2;
  for (int64_t b = 0; b < n / kQK; ++b, x += kQK, y += kBytes) {
    float32x4_t v[8];
    float32x4_t m = vdupq_n_f32(0.f);
    GEMRUN_UNROLL
    for (int j = 0; j < 8; ++j) {
      v[j] = vld1q_f32(x + 4 * j);
      m = vmaxq_f32(m, vabsq_f32(v[j]));
    }
    const float amax = vmaxvq_f32(m);
    const float d = amax / 127.f;
    const float id = amax != 0.f ? 127.f / amax : 0.f;
    const uint16_t dh = Fp32ToFp16(d);
    std::memcpy(y, &dh, 2);
    int32x4_t q[8], sum = vdupq_n_s32(0);
    GEMRUN_UNROLL
    for (int j = 0; j < 8; ++j) {
      q[j] = vcvtnq_s32_f32(vmulq_n_f32(v[j], id));
      sum = vaddq_s32(sum, q[j]);
    }
    GEMRUN_UNROLL
    for (int h = 0; h < 2; ++h) {
      const int16x8_t a = vcombine_s16(vqmovn_s32(q[4 * h]), vqmovn_s32(q[4 * h + 1]));
      const int16x8_t c = vcombine_s16(vqmovn_s32(q[4 * h + 2]), vqmovn_s32(q[4 * h + 3]));
      vst1q_s8(reinterpret_cast<int8_t*>(y + kQs + 16 * h), vcombine_s8(vqmovn_s16(a), vqmovn_s16(c)));
    }
    if constexpr (kQ81) {
      const uint16_t sh = Fp32ToFp16(d * static_cast<float>(vaddvq_s32(sum)));
      std::memcpy(y + 2, &sh, 2);
    }
  }
}
void QuantizeQ8_0(const float* x, void* dst, int64_t n) { QuantizeQ8Block<false>(x, dst, n); }
void QuantizeQ8_1(const float* x, void* dst, int64_t n) { QuantizeQ8Block<true>(x, dst, n); }

// Q8_K: scale from the first element of largest magnitude, iscale = -127/max,
// q = min(127, RNE(iscale * x)), bsums per 16, d = 1/iscale.
void QuantizeQ8_K(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<uint8_t*>(dst);
  for (int64_t b = 0; b < n / kQKK; ++b, x += kQKK, y += sizeof(BlockQ8_K)) {
    float32x4_t m = vdupq_n_f32(0.f);
    for (int j = 0; j < 64; ++j) m = vmaxq_f32(m, vabsq_f32(vld1q_f32(x + 4 * j)));
    const float amax = vmaxvq_f32(m);
    if (amax == 0.f) {
      std::memset(y, 0, sizeof(BlockQ8_K));
      continue;
    }
    int idx = 0;
    while (std::fabs(x[idx]) != amax) ++idx;
    const float iscale = -127.f / x[idx];
    const int32x4_t k127 = vdupq_n_s32(127);
    int16_t bsums[16];
    for (int g = 0; g < 16; ++g) {  // 16 values per step
      int32x4_t q[4];
      GEMRUN_UNROLL
      for (int j = 0; j < 4; ++j) q[j] = vminq_s32(vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(x + 16 * g + 4 * j), iscale)), k127);
      const int16x8_t a = vcombine_s16(vqmovn_s32(q[0]), vqmovn_s32(q[1]));
      const int16x8_t c = vcombine_s16(vqmovn_s32(q[2]), vqmovn_s32(q[3]));
      vst1q_s8(reinterpret_cast<int8_t*>(y + 4 + 16 * g), vcombine_s8(vqmovn_s16(a), vqmovn_s16(c)));
      bsums[g] = static_cast<int16_t>(vaddvq_s32(vaddq_s32(vaddq_s32(q[0], q[1]), vaddq_s32(q[2], q[3]))));
    }
    const float d = 1.f / iscale;
    std::memcpy(y, &d, 4);
    std::memcpy(y + 4 + kQKK, bsums, sizeof(bsums));
  }
}

// F16: fcvtn rounds to nearest even with subnormals and overflow to inf, as Fp32ToFp16.
void QuantizeF16(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<uint16_t*>(dst);
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) vst1_u16(y + i, vreinterpret_u16_f16(vcvt_f16_f32(vld1q_f32(x + i))));
  for (; i < n; ++i) y[i] = Fp32ToFp16(x[i]);
}

// BF16: the integer round-to-nearest-even of Fp32ToBf16, NaN made quiet.
void QuantizeBF16(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<uint16_t*>(dst);
  const uint32x4_t abs_mask = vdupq_n_u32(0x7FFFFFFF), inf = vdupq_n_u32(0x7F800000);
  const uint32x4_t bias = vdupq_n_u32(0x7FFF), one = vdupq_n_u32(1), quiet = vdupq_n_u32(0x40);
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const uint32x4_t u = vreinterpretq_u32_f32(vld1q_f32(x + i));
    const uint32x4_t nan = vcgtq_u32(vandq_u32(u, abs_mask), inf);
    const uint32x4_t hi = vshrq_n_u32(u, 16);
    const uint32x4_t r = vshrq_n_u32(vaddq_u32(vaddq_u32(u, bias), vandq_u32(hi, one)), 16);
    vst1_u16(y + i, vmovn_u32(vbslq_u32(nan, vorrq_u32(hi, quiet), r)));
  }
  for (; i < n; ++i) y[i] = Fp32ToBf16(x[i]);
}

void QuantizeF32(const float* x, void* dst, int64_t n) { std::memcpy(dst, x, n * sizeof(float)); }

// ---- float dot tiles ---------------------------------------------------------------------

struct F32Elem {
  static constexpr int kBytes = 4;
  static GEMRUN_INLINE float32x4_t Load(const uint8_t* p) { return vld1q_f32(reinterpret_cast<const float*>(p)); }
  static GEMRUN_INLINE float One(const uint8_t* p) { return LoadF32(p); }
};
struct F16Elem {
  static constexpr int kBytes = 2;
  static GEMRUN_INLINE float32x4_t Load(const uint8_t* p) {
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(reinterpret_cast<const uint16_t*>(p))));
  }
  static GEMRUN_INLINE float One(const uint8_t* p) { return H2F(p); }
};
struct BF16Elem {
  static constexpr int kBytes = 2;
  static GEMRUN_INLINE float32x4_t Load(const uint8_t* p) {
    return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(reinterpret_cast<const uint16_t*>(p)), 16));
  }
  static GEMRUN_INLINE float One(const uint8_t* p) {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return Bf16ToFp32(v);
  }
};

// NR x NC pairs, 4 lanes per step; small tiles keep kU independent accumulators per pair so
// the f32 sums stay short (and the fmla latency hidden).
template <class L>
struct DotFloat {
  template <int NR, int NC>
  struct K {
    static void Run(int64_t n, const uint8_t* w, int64_t ws, const uint8_t* a, int64_t as, float* out,
                    int64_t ldo) {
      constexpr int kU = NR * NC <= 2 ? 4 : NR * NC <= 4 ? 2 : 1;
      constexpr int kE = L::kBytes;
      float32x4_t acc[kU][NR * NC];
      GEMRUN_UNROLL
      for (int u = 0; u < kU; ++u)
        GEMRUN_UNROLL
        for (int p = 0; p < NR * NC; ++p) acc[u][p] = vdupq_n_f32(0.f);
      int64_t i = 0;
      for (; i + 4 * kU <= n; i += 4 * kU) {
        GEMRUN_UNROLL
        for (int u = 0; u < kU; ++u) {
          float32x4_t av[NC];
          GEMRUN_UNROLL
          for (int c = 0; c < NC; ++c) av[c] = L::Load(a + c * as + (i + 4 * u) * kE);
          GEMRUN_UNROLL
          for (int r = 0; r < NR; ++r) {
            const float32x4_t wv = L::Load(w + r * ws + (i + 4 * u) * kE);
            GEMRUN_UNROLL
            for (int c = 0; c < NC; ++c) acc[u][r * NC + c] = vfmaq_f32(acc[u][r * NC + c], wv, av[c]);
          }
        }
      }
      for (; i + 4 <= n; i += 4)
        GEMRUN_UNROLL
        for (int r = 0; r < NR; ++r) {
          const float32x4_t wv = L::Load(w + r * ws + i * kE);
          GEMRUN_UNROLL
          for (int c = 0; c < NC; ++c) acc[0][r * NC + c] = vfmaq_f32(acc[0][r * NC + c], wv, L::Load(a + c * as + i * kE));
        }
      GEMRUN_UNROLL
      for (int u = 1; u < kU; ++u)
        GEMRUN_UNROLL
        for (int p = 0; p < NR * NC; ++p) acc[0][p] = vaddq_f32(acc[0][p], acc[u][p]);
      GEMRUN_UNROLL
      for (int r = 0; r < NR; ++r)
        GEMRUN_UNROLL
        for (int c = 0; c < NC; ++c) {
          float s = vaddvq_f32(acc[0][r * NC + c]);
          for (int64_t j = i; j < n; ++j) s += L::One(w + r * ws + j * kE) * L::One(a + c * as + j * kE);
          out[c * ldo + r] = s;
        }
    }
  };
};

// ---- GELU through the F16 table ------------------------------------------------------------

// The table index is the half encoding of x (fcvtn = Fp32ToFp16 for non-NaN x), four lookups
// per step; the +-10 cut-offs as in the scalar twin.
void GeluMul(const float* gate, const float* up, float* y, int64_t n, const uint16_t* table) {
  const float32x4_t lo = vdupq_n_f32(-10.f), hi = vdupq_n_f32(10.f);
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const float32x4_t x = vld1q_f32(gate + i);
    uint16_t h[4];
    vst1_u16(h, vreinterpret_u16_f16(vcvt_f16_f32(x)));
    const uint16_t t[4] = {table[h[0]], table[h[1]], table[h[2]], table[h[3]]};
    float32x4_t g = vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(t)));
    g = vbslq_f32(vcgeq_f32(x, hi), x, g);
    g = vbslq_f32(vcleq_f32(x, lo), vdupq_n_f32(0.f), g);
    vst1q_f32(y + i, up ? vmulq_f32(g, vld1q_f32(up + i)) : g);
  }
  for (; i < n; ++i) {
    const float x = gate[i];
    float g;
    if (x <= -10.0f) g = 0.0f;
    else if (x >= 10.0f) g = x;
    else g = Fp16ToFp32(table[Fp32ToFp16(x)]);
    y[i] = up ? g * up[i] : g;
  }
}

}  // namespace

IsaKernels NeonKernels() {
  IsaKernels k{};
  k.isa = Isa::kNeon;
  k.name = "neon";
  SetQuant(k, DType::kF32, QuantizeF32);
  SetQuant(k, DType::kF16, QuantizeF16);
  SetQuant(k, DType::kBF16, QuantizeBF16);
  SetQuant(k, DType::kQ8_0, QuantizeQ8_0);
  SetQuant(k, DType::kQ8_1, QuantizeQ8_1);
  SetQuant(k, DType::kQ8_K, QuantizeQ8_K);
  SetDot(k, DType::kF32, DotTile<DotFloat<F32Elem>::K>);
  SetDot(k, DType::kF16, DotTile<DotFloat<F16Elem>::K>);
  SetDot(k, DType::kBF16, DotTile<DotFloat<BF16Elem>::K>);
  AddIntTiles<DotNeon>(k);
  k.gelu_mul = GeluMul;
  DeclareNeeds(k, kNeonCode);
  return k;
}

}  // namespace gemrun::kernels
