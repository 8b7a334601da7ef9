// AArch64 + FEAT_I8MM (compiled with -march=armv8.2-a+dotprod+i8mm): the Q8_0-activation family
// (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL) on smmla when a tile has 4 weight rows and at least 2
// activation rows (prefill). smmla multiplies a 2x8 by an 8x2 int8 block into a 2x2 int32
// tile, so one instruction covers 2 rows x 2 columns x 8 values (32 products, twice sdot's 16).
// Decode tiles (one activation row) and single rows stay on sdot; the K-quants come from the
// neondot table.
#include <arm_neon.h>

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/neon_tiles.h"

namespace gemrun::kernels {
namespace {

struct DotSdot {
  static GEMRUN_INLINE int32x4_t Dot(int32x4_t acc, int8x16_t a, int8x16_t b) { return vdotq_s32(acc, a, b); }
};

// The 32 codes of two blocks as smmla operands: vector k holds bytes 8k..8k+7 of block x then
// of block y.
GEMRUN_INLINE void Interleave(int8x16_t xl, int8x16_t xh, int8x16_t yl, int8x16_t yh, int8x16_t out[4]) {
  const int64x2_t a = vreinterpretq_s64_s8(xl), b = vreinterpretq_s64_s8(yl);
  const int64x2_t c = vreinterpretq_s64_s8(xh), d = vreinterpretq_s64_s8(yh);
  out[0] = vreinterpretq_s8_s64(vzip1q_s64(a, b));
  out[1] = vreinterpretq_s8_s64(vzip2q_s64(a, b));
  out[2] = vreinterpretq_s8_s64(vzip1q_s64(c, d));
  out[3] = vreinterpretq_s8_s64(vzip2q_s64(c, d));
}

// 4 weight rows x 2P activation rows. Accumulator (row pair q, column pair p) holds
// [r0 c0, r0 c1, r1 c0, r1 c1] of that 2x2 sub-tile.
template <class W, int P>
void Mmla4(int64_t n, const uint8_t* w, int64_t ws, const uint8_t* a, int64_t as, float* out, int64_t ldo) {
  using A = ActOf<W>;
  const int64_t nb = n / 32;
  float32x4_t acc[2 * P], macc[2 * P];
  GEMRUN_UNROLL
  for (int t = 0; t < 2 * P; ++t) acc[t] = macc[t] = vdupq_n_f32(0.f);
  for (int64_t b = 0; b < nb; ++b) {
    int8x16_t wx[2][4];
    float32x4_t dw[2], mw[2];
    GEMRUN_UNROLL
    for (int q = 0; q < 2; ++q) {
      const uint8_t* b0 = w + (2 * q) * ws + b * W::kBytes;
      const uint8_t* b1 = b0 + ws;
      int8x16_t l0, h0, l1, h1;
      W::Decode(b0, l0, h0);
      W::Decode(b1, l1, h1);
      Interleave(l0, h0, l1, h1, wx[q]);
      dw[q] = vcombine_f32(vdup_n_f32(W::D(b0)), vdup_n_f32(W::D(b1)));  // [d0 d0 d1 d1]
      if constexpr (W::kMin) mw[q] = vcombine_f32(vdup_n_f32(W::M(b0)), vdup_n_f32(W::M(b1)));
    }
    GEMRUN_UNROLL
    for (int p = 0; p < P; ++p) {
      const uint8_t* a0 = a + (2 * p) * as + b * A::kBytes;
      const uint8_t* a1 = a0 + as;
      auto codes = [](const uint8_t* q) { return vld1q_s8(reinterpret_cast<const int8_t*>(q)); };
      int8x16_t ax[4];
      Interleave(codes(a0 + A::kQs), codes(a0 + A::kQs + 16), codes(a1 + A::kQs), codes(a1 + A::kQs + 16), ax);
      const float32x2_t d01 = vset_lane_f32(H2F(a1), vdup_n_f32(H2F(a0)), 1);
      const float32x4_t da = vcombine_f32(d01, d01);  // [a0 a1 a0 a1]
      float32x4_t sa = vdupq_n_f32(0.f);
      if constexpr (W::kMin) {
        const float32x2_t s01 = vset_lane_f32(H2F(a1 + 2), vdup_n_f32(H2F(a0 + 2)), 1);
        sa = vcombine_f32(s01, s01);
      }
      GEMRUN_UNROLL
      for (int q = 0; q < 2; ++q) {
        int32x4_t s = vmmlaq_s32(vdupq_n_s32(0), wx[q][0], ax[0]);
        s = vmmlaq_s32(s, wx[q][1], ax[1]);
        s = vmmlaq_s32(s, wx[q][2], ax[2]);
        s = vmmlaq_s32(s, wx[q][3], ax[3]);
        acc[q * P + p] = vfmaq_f32(acc[q * P + p], vcvtq_f32_s32(s), vmulq_f32(dw[q], da));
        if constexpr (W::kMin) macc[q * P + p] = vfmaq_f32(macc[q * P + p], mw[q], sa);
      }
    }
  }
  GEMRUN_UNROLL
  for (int q = 0; q < 2; ++q)
    GEMRUN_UNROLL
    for (int p = 0; p < P; ++p) {
      float v[4];
      vst1q_f32(v, vaddq_f32(acc[q * P + p], macc[q * P + p]));
      out[(2 * p) * ldo + 2 * q] = v[0];
      out[(2 * p + 1) * ldo + 2 * q] = v[1];
      out[(2 * p) * ldo + 2 * q + 1] = v[2];
      out[(2 * p + 1) * ldo + 2 * q + 1] = v[3];
    }
}

template <class W>
struct Q8Mmla {
  template <int NR, int NC>
  struct K {
    static void Run(int64_t n, const uint8_t* w, int64_t ws, const uint8_t* a, int64_t as, float* out,
                    int64_t ldo) {
      using Sdot = typename Q8Family<W, DotSdot>::template K<NR, NC>;
      if constexpr (NR != 4 || NC == 1) {
        Sdot::Run(n, w, ws, a, as, out, ldo);
      } else {
        Mmla4<W, NC / 2>(n, w, ws, a, as, out, ldo);
        if constexpr (NC % 2 == 1)  // the odd column on sdot
          Q8Family<W, DotSdot>::template K<4, 1>::Run(n, w, ws, a + (NC - 1) * as, as, out + (NC - 1) * ldo, ldo);
      }
    }
  };
};

}  // namespace

IsaKernels NeonI8mmKernels() {
  IsaKernels k{};
  k.isa = Isa::kNeonI8mm;
  k.name = "neoni8mm";
  SetDot(k, DType::kQ4_0, DotTile<Q8Mmla<WQ4_0>::K>);
  SetDot(k, DType::kQ4_1, DotTile<Q8Mmla<WQ4_1>::K>);
  SetDot(k, DType::kQ5_0, DotTile<Q8Mmla<WQ5_0>::K>);
  SetDot(k, DType::kQ5_1, DotTile<Q8Mmla<WQ5_1>::K>);
  SetDot(k, DType::kQ8_0, DotTile<Q8Mmla<WQ8_0>::K>);
  SetDot(k, DType::kIQ4_NL, DotTile<Q8Mmla<WIQ4_NL>::K>);
  DeclareNeeds(k, kNeonI8mmCode);
  return k;
}

}  // namespace gemrun::kernels
