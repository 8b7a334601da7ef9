// The quantized dot tiles of the AArch64 levels, templated on the integer dot policy: neon.cc
// instantiates them with DotNeon (smull/sadalp), neon_dot.cc with DotSdot (sdot). Every block's
// integer sum is exact; block scales combine in f32 as in the scalar twin (kernels/ref), only
// the order of the f32 additions differs.
#pragma once

#include "kernels/cpu/neon_common.h"

namespace gemrun::kernels {
namespace {

// acc + x * s[lane] (fmla by element; the lane must be a constant, hence the switch that the
// unrolled callers fold away).
GEMRUN_INLINE float32x4_t FmaLane(float32x4_t acc, float32x4_t x, float32x4_t s, int lane) {
  switch (lane) {
    case 0: return vfmaq_laneq_f32(acc, x, s, 0);
    case 1: return vfmaq_laneq_f32(acc, x, s, 1);
    case 2: return vfmaq_laneq_f32(acc, x, s, 2);
    default: return vfmaq_laneq_f32(acc, x, s, 3);
  }
}

// ---- Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 IQ4_NL: NR weight rows x NC activation rows ------------------
// Per 32-value block: the NR weight blocks are decoded once (two int8x16 each) and reused by
// the NC columns; per (row, column) pair two dots, one int->f32 convert and one fmla by the
// scalar d_w * d_a.
template <class W, class D>
struct Q8Family {
  template <int NR, int NC>
  struct K {
    static void Run(int64_t n, const uint8_t* w, int64_t ws, const uint8_t* a, int64_t as, float* out,
                    int64_t ldo) {
      using A = ActOf<W>;
      const int64_t nb = n / 32;
      float32x4_t acc[NR * NC];
      float macc[NR * NC];
      GEMRUN_UNROLL
      for (int p = 0; p < NR * NC; ++p) acc[p] = vdupq_n_f32(0.f), macc[p] = 0.f;
      for (int64_t b = 0; b < nb; ++b) {
        int8x16_t wl[NR], wh[NR];
        uint16x4_t dh = vdup_n_u16(0);  // the NR half scales, one lane each
        float mw[NR];
        GEMRUN_UNROLL
        for (int r = 0; r < NR; ++r) {
          const uint8_t* blk = w + r * ws + b * W::kBytes;
          W::Decode(blk, wl[r], wh[r]);
          if constexpr (NR > 1) dh = vld1_lane_u16(reinterpret_cast<const uint16_t*>(blk), dh, r);
          mw[r] = W::M(blk);
        }
        // One row (decode): a scalar convert is cheaper than lane load + fcvtl.
        const float32x4_t dw = NR == 1 ? vdupq_n_f32(W::D(w + b * W::kBytes)) : vcvt_f32_f16(vreinterpret_f16_u16(dh));
        GEMRUN_UNROLL
        for (int c = 0; c < NC; ++c) {
          const uint8_t* ab = a + c * as + b * A::kBytes;
          const int8x16_t al = vld1q_s8(reinterpret_cast<const int8_t*>(ab + A::kQs));
          const int8x16_t ah = vld1q_s8(reinterpret_cast<const int8_t*>(ab + A::kQs + 16));
          const float32x4_t scale = vmulq_n_f32(dw, H2F(ab));  // lane r: d_w[r] * d_a
          GEMRUN_UNROLL
          for (int r = 0; r < NR; ++r) {
            const int32x4_t p = D::Dot(D::Dot(vdupq_n_s32(0), wl[r], al), wh[r], ah);
            acc[r * NC + c] = FmaLane(acc[r * NC + c], vcvtq_f32_s32(p), scale, r);
            if constexpr (W::kMin) macc[r * NC + c] += mw[r] * H2F(ab + 2);
          }
        }
      }
      GEMRUN_UNROLL
      for (int r = 0; r < NR; ++r)
        GEMRUN_UNROLL
        for (int c = 0; c < NC; ++c) out[c * ldo + r] = vaddvq_f32(acc[r * NC + c]) + macc[r * NC + c];
    }
  };
};

// ---- K-quants and IQ4_XS (256-value super-blocks, Q8_K activations) ------------------------
// A decoder gives, per super-block and row, the integer sub-block scales (Prep), and per
// 32-value sub-block j the signed codes (Decode). kPer16: one scale per 16 values (Q2_K, Q3_K,
// Q6_K), else one per 32. The sub-block dots are scaled in int32 (exact, as in the twin) and
// converted once per super-block; the min term (Q2_K, Q4_K, Q5_K) uses the activation bsums.

constexpr int kQ8KBytes = sizeof(BlockQ8_K);  // d (f32) at 0, codes at 4, bsums at 260

struct KPrep {
  int32_t sc[16];   // per 16 (kPer16) or per 32 values
  int16_t mins[16]; // per 16 values (Q2_K) or per 32 (Q4_K, Q5_K); unused otherwise
  float d, dmin;
};

// sum of mins[i] * (bsums of the values that scale covers), over the super-block.
template <bool kPer16>
GEMRUN_INLINE int32_t MinSum(const KPrep& p, const uint8_t* act) {
  int16x8_t b0 = vld1q_s16(reinterpret_cast<const int16_t*>(act + 260));
  int16x8_t b1 = vld1q_s16(reinterpret_cast<const int16_t*>(act + 276));
  if constexpr (kPer16) {
    int32x4_t s = vmull_s16(vget_low_s16(b0), vld1_s16(p.mins));
    s = vmlal_high_s16(s, b0, vld1q_s16(p.mins));
    s = vmlal_s16(s, vget_low_s16(b1), vld1_s16(p.mins + 8));
    s = vmlal_high_s16(s, b1, vld1q_s16(p.mins + 8));
    return vaddvq_s32(s);
  } else {
    const int16x8_t pairs = vpaddq_s16(b0, b1);  // bsums[2j] + bsums[2j + 1], j = 0..7
    const int16x8_t m = vld1q_s16(p.mins);
    return vaddvq_s32(vmlal_high_s16(vmull_s16(vget_low_s16(pairs), vget_low_s16(m)), pairs, m));
  }
}

struct KQ4_K {
  static constexpr int kBytes = 144;
  static constexpr bool kPer16 = false, kMins = true;
  static GEMRUN_INLINE void Prep(const uint8_t* b, KPrep& p) {
    p.d = H2F(b);
    p.dmin = H2F(b + 2);
    for (int j = 0; j < 8; ++j) {
      uint8_t sc, m;
      quant_internal::GetScaleMinK4(j, b + 4, &sc, &m);
      p.sc[j] = sc;
      p.mins[j] = m;
    }
  }
  static GEMRUN_INLINE void Decode(const uint8_t* b, int j, int8x16_t& lo, int8x16_t& hi) {
    const uint8_t* q = b + 16 + 32 * (j / 2);
    lo = Nib(vld1q_u8(q), j & 1);
    hi = Nib(vld1q_u8(q + 16), j & 1);
  }
};
struct KQ5_K {
  static constexpr int kBytes = 176;
  static constexpr bool kPer16 = false, kMins = true;
  static GEMRUN_INLINE void Prep(const uint8_t* b, KPrep& p) { KQ4_K::Prep(b, p); }
  static GEMRUN_INLINE void Decode(const uint8_t* b, int j, int8x16_t& lo, int8x16_t& hi) {
    const uint8_t* q = b + 48 + 32 * (j / 2);
    const uint8x16_t bit = vdupq_n_u8(static_cast<uint8_t>(1u << j)), k10 = vdupq_n_u8(0x10);
    const uint8x16_t h0 = vandq_u8(vtstq_u8(vld1q_u8(b + 16), bit), k10);
    const uint8x16_t h1 = vandq_u8(vtstq_u8(vld1q_u8(b + 32), bit), k10);
    lo = vreinterpretq_s8_u8(vorrq_u8(vreinterpretq_u8_s8(Nib(vld1q_u8(q), j & 1)), h0));
    hi = vreinterpretq_s8_u8(vorrq_u8(vreinterpretq_u8_s8(Nib(vld1q_u8(q + 16), j & 1)), h1));
  }
};
struct KQ6_K {
  static constexpr int kBytes = 210;
  static constexpr bool kPer16 = true, kMins = false;
  static GEMRUN_INLINE void Prep(const uint8_t* b, KPrep& p) {
    p.d = H2F(b + 208);
    for (int g = 0; g < 16; ++g) p.sc[g] = static_cast<int8_t>(b[192 + g]);
    p.dmin = 0.f;
  }
  // Sub-block j = 4h + k: low nibbles of ql[64h + 32(k%2) ..] (k < 2) or high ones, plus bits
  // 2k, 2k+1 of qh[32h ..] as bits 4-5; minus 32.
  static GEMRUN_INLINE void Decode(const uint8_t* b, int j, int8x16_t& lo, int8x16_t& hi) {
    const int h = j / 4, k = j % 4;
    const uint8_t* ql = b + 64 * h + 32 * (k % 2);
    const uint8_t* qh = b + 128 + 32 * h;
    const int8x16_t shift = vdupq_n_s8(static_cast<int8_t>(4 - 2 * k));
    const uint8x16_t k30 = vdupq_n_u8(0x30);
    const int8x16_t k32 = vdupq_n_s8(32);
    const uint8x16_t h0 = vandq_u8(vshlq_u8(vld1q_u8(qh), shift), k30);
    const uint8x16_t h1 = vandq_u8(vshlq_u8(vld1q_u8(qh + 16), shift), k30);
    lo = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(vreinterpretq_u8_s8(Nib(vld1q_u8(ql), k >= 2)), h0)), k32);
    hi = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(vreinterpretq_u8_s8(Nib(vld1q_u8(ql + 16), k >= 2)), h1)), k32);
  }
};
struct KQ3_K {
  static constexpr int kBytes = 110;
  static constexpr bool kPer16 = true, kMins = false;
  static GEMRUN_INLINE void Prep(const uint8_t* b, KPrep& p) {
    int8_t s[16];
    quant_internal::UnpackQ3KScales(b + 96, s);
    for (int g = 0; g < 16; ++g) p.sc[g] = s[g];
    p.d = H2F(b + 108);
    p.dmin = 0.f;
  }
  // Sub-block j = 4h + k: bits 2k, 2k+1 of qs[32h ..], minus 4 where bit j of hmask is clear.
  static GEMRUN_INLINE void Decode(const uint8_t* b, int j, int8x16_t& lo, int8x16_t& hi) {
    const uint8_t* q = b + 32 + 32 * (j / 4);
    const int8x16_t shift = vdupq_n_s8(static_cast<int8_t>(-2 * (j % 4)));
    const uint8x16_t k3 = vdupq_n_u8(3), k4 = vdupq_n_u8(4), bit = vdupq_n_u8(static_cast<uint8_t>(1u << j));
    auto one = [&](const uint8_t* qq, const uint8_t* hm) {
      const uint8x16_t v = vandq_u8(vshlq_u8(vld1q_u8(qq), shift), k3);
      const uint8x16_t minus = vbicq_u8(k4, vtstq_u8(vld1q_u8(hm), bit));  // 4 where the bit is clear
      return vsubq_s8(vreinterpretq_s8_u8(v), vreinterpretq_s8_u8(minus));
    };
    lo = one(q, b);
    hi = one(q + 16, b + 16);
  }
};
struct KQ2_K {
  static constexpr int kBytes = 84;
  static constexpr bool kPer16 = true, kMins = true;
  static GEMRUN_INLINE void Prep(const uint8_t* b, KPrep& p) {
    for (int g = 0; g < 16; ++g) p.sc[g] = b[g] & 0xF, p.mins[g] = b[g] >> 4;
    p.d = H2F(b + 80);
    p.dmin = H2F(b + 82);
  }
  static GEMRUN_INLINE void Decode(const uint8_t* b, int j, int8x16_t& lo, int8x16_t& hi) {
    const uint8_t* q = b + 16 + 32 * (j / 4);
    const int8x16_t shift = vdupq_n_s8(static_cast<int8_t>(-2 * (j % 4)));
    const uint8x16_t k3 = vdupq_n_u8(3);
    lo = vreinterpretq_s8_u8(vandq_u8(vshlq_u8(vld1q_u8(q), shift), k3));
    hi = vreinterpretq_s8_u8(vandq_u8(vshlq_u8(vld1q_u8(q + 16), shift), k3));
  }
};
struct KIQ4_XS {
  static constexpr int kBytes = 136;
  static constexpr bool kPer16 = false, kMins = false;
  static GEMRUN_INLINE void Prep(const uint8_t* b, KPrep& p) {
    BlockIQ4_XS blk;
    std::memcpy(&blk, b, sizeof(blk));
    for (int j = 0; j < 8; ++j) p.sc[j] = quant_internal::Iq4XsScale(blk, j);
    p.d = H2F(b);
    p.dmin = 0.f;
  }
  static GEMRUN_INLINE void Decode(const uint8_t* b, int j, int8x16_t& lo, int8x16_t& hi) {
    Iq4Codes(b + 8 + 16 * j, lo, hi);
  }
};

// NR <= 2 weight rows x NC activation rows (RowPairs makes the 4-row tile).
template <class W, class D>
struct KQuant {
  template <int NR, int NC>
  struct K2 {
    static void Run(int64_t n, const uint8_t* w, int64_t ws, const uint8_t* a, int64_t as, float* out,
                    int64_t ldo) {
      const int64_t nb = n / 256;
      float32x4_t acc[NR * NC];
      float macc[NR * NC];
      GEMRUN_UNROLL
      for (int p = 0; p < NR * NC; ++p) acc[p] = vdupq_n_f32(0.f), macc[p] = 0.f;
      for (int64_t b = 0; b < nb; ++b) {
        KPrep prep[NR];
        const uint8_t* wb[NR];
        GEMRUN_UNROLL
        for (int r = 0; r < NR; ++r) {
          wb[r] = w + r * ws + b * W::kBytes;
          W::Prep(wb[r], prep[r]);
        }
        int32x4_t isum[NR * NC];
        GEMRUN_UNROLL
        for (int p = 0; p < NR * NC; ++p) isum[p] = vdupq_n_s32(0);
        for (int j = 0; j < 8; ++j) {
          int8x16_t wl[NR], wh[NR];
          GEMRUN_UNROLL
          for (int r = 0; r < NR; ++r) W::Decode(wb[r], j, wl[r], wh[r]);
          GEMRUN_UNROLL
          for (int c = 0; c < NC; ++c) {
            const int8_t* q8 = reinterpret_cast<const int8_t*>(a + c * as + b * kQ8KBytes + 4 + 32 * j);
            const int8x16_t al = vld1q_s8(q8), ah = vld1q_s8(q8 + 16);
            GEMRUN_UNROLL
            for (int r = 0; r < NR; ++r) {
              int32x4_t& s = isum[r * NC + c];
              if constexpr (W::kPer16) {
                s = vmlaq_n_s32(s, D::Dot(vdupq_n_s32(0), wl[r], al), prep[r].sc[2 * j]);
                s = vmlaq_n_s32(s, D::Dot(vdupq_n_s32(0), wh[r], ah), prep[r].sc[2 * j + 1]);
              } else {
                s = vmlaq_n_s32(s, D::Dot(D::Dot(vdupq_n_s32(0), wl[r], al), wh[r], ah), prep[r].sc[j]);
              }
            }
          }
        }
        GEMRUN_UNROLL
        for (int c = 0; c < NC; ++c) {
          const uint8_t* act = a + c * as + b * kQ8KBytes;
          const float da = LoadF32(act);
          GEMRUN_UNROLL
          for (int r = 0; r < NR; ++r) {
            acc[r * NC + c] = vfmaq_n_f32(acc[r * NC + c], vcvtq_f32_s32(isum[r * NC + c]), prep[r].d * da);
            if constexpr (W::kMins)
              macc[r * NC + c] -= prep[r].dmin * da * static_cast<float>(MinSum<W::kPer16>(prep[r], act));
          }
        }
      }
      GEMRUN_UNROLL
      for (int r = 0; r < NR; ++r)
        GEMRUN_UNROLL
        for (int c = 0; c < NC; ++c) out[c * ldo + r] = vaddvq_f32(acc[r * NC + c]) + macc[r * NC + c];
    }
  };
  template <int NR, int NC>
  using K = RowPairs<NR, NC, K2>;
};

// Fills the quantized dot tiles of a table with the policy D.
template <class D>
void AddIntTiles(IsaKernels& k) {
  SetDot(k, DType::kQ4_0, DotTile<Q8Family<WQ4_0, D>::template K>);
  SetDot(k, DType::kQ4_1, DotTile<Q8Family<WQ4_1, D>::template K>);
  SetDot(k, DType::kQ5_0, DotTile<Q8Family<WQ5_0, D>::template K>);
  SetDot(k, DType::kQ5_1, DotTile<Q8Family<WQ5_1, D>::template K>);
  SetDot(k, DType::kQ8_0, DotTile<Q8Family<WQ8_0, D>::template K>);
  SetDot(k, DType::kIQ4_NL, DotTile<Q8Family<WIQ4_NL, D>::template K>);
  SetDot(k, DType::kQ2_K, DotTile<KQuant<KQ2_K, D>::template K>);
  SetDot(k, DType::kQ3_K, DotTile<KQuant<KQ3_K, D>::template K>);
  SetDot(k, DType::kQ4_K, DotTile<KQuant<KQ4_K, D>::template K>);
  SetDot(k, DType::kQ5_K, DotTile<KQuant<KQ5_K, D>::template K>);
  SetDot(k, DType::kQ6_K, DotTile<KQuant<KQ6_K, D>::template K>);
  SetDot(k, DType::kIQ4_XS, DotTile<KQuant<KIQ4_XS, D>::template K>);
}

}  // namespace
}  // namespace gemrun::kernels
