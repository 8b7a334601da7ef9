// Simple weight quantizers for the 256-element super-block formats (Q2_K..Q6_K, IQ4_XS), for
// test fixtures only: per-sub-block min/max or signed max-abs scales, themselves quantized
// against one half-precision super-block scale. No llama.cpp-style error search.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "base/fp16.h"
#include "quant/blocks.h"
#include "quant/quant_internal.h"
#include "quant/quantize_weight_internal.h"

namespace gemrun::quant_internal {
namespace {

// Nearest integer to v clamped to [lo, hi]; clamps first so NearestInt's range holds.
int ClampedNearest(float v, int lo, int hi) {
  v = std::min(std::max(v, (float)lo - 1.0f), (float)hi + 1.0f);
  return std::min(std::max(NearestInt(v), lo), hi);
}

// An affine super-block: y = (d*sc_i)*q - (dmin*m_i) for sub-block i, q in 0..nq,
// sc_i and m_i in 0..smax. d and dmin are already rounded through half.
struct AffineFit {
  uint16_t d_h, dmin_h;
  float d, dmin;
  uint8_t sc[16], m[16];
};

AffineFit FitAffine(const float* x, int n_sub, int len, int nq, int smax) {
  AffineFit f{};
  float neg_min[16], hi[16], max_neg_min = 0.0f;
  for (int i = 0; i < n_sub; ++i) {
    const float* s = x + i * len;
    neg_min[i] = std::max(0.0f, -*std::min_element(s, s + len));  // the min is kept <= 0
    hi[i] = *std::max_element(s, s + len);
    max_neg_min = std::max(max_neg_min, neg_min[i]);
  }
  // Mins first, so each scale can cover [-quantized min, hi] of its sub-block.
  f.dmin_h = Fp32ToFp16(max_neg_min / smax);
  f.dmin = Fp16ToFp32(f.dmin_h);
  float scale[16], max_scale = 0.0f;
  for (int i = 0; i < n_sub; ++i) {
    f.m[i] = f.dmin > 0.0f ? (uint8_t)ClampedNearest(neg_min[i] / f.dmin, 0, smax) : 0;
    scale[i] = std::max(0.0f, (hi[i] + f.dmin * f.m[i]) / nq);
    max_scale = std::max(max_scale, scale[i]);
  }
  f.d_h = Fp32ToFp16(max_scale / smax);
  f.d = Fp16ToFp32(f.d_h);
  for (int i = 0; i < n_sub; ++i)
    f.sc[i] = f.d > 0.0f ? (uint8_t)ClampedNearest(scale[i] / f.d, 0, smax) : 0;
  return f;
}

// Code of value v in sub-block i of an affine fit.
int AffineCode(const AffineFit& f, int i, float v, int nq) {
  const float dl = f.d * f.sc[i];
  const float ml = f.dmin * f.m[i];
  return dl > 0.0f ? ClampedNearest((v + ml) / dl, 0, nq) : 0;
}

// A symmetric super-block: y = (d*l_i)*q. Each sub-block's signed extreme maps to -qneg;
// the signed extreme sub-block scale maps to lmin (< 0), others are clamped to [lmin, lmax].
struct SymFit {
  uint16_t d_h;
  float d;
  int l[16];
};

SymFit FitSymmetric(const float* x, int n_sub, int len, float qneg, int lmin, int lmax) {
  SymFit f{};
  float s[16];
  for (int i = 0; i < n_sub; ++i) s[i] = SignedAbsMax(x + i * len, len) / -qneg;
  f.d_h = Fp32ToFp16(SignedAbsMax(s, n_sub) / (float)lmin);
  f.d = Fp16ToFp32(f.d_h);
  for (int i = 0; i < n_sub; ++i) f.l[i] = f.d != 0.0f ? ClampedNearest(s[i] / f.d, lmin, lmax) : 0;
  return f;
}

int SymCode(const SymFit& f, int i, float v, int qlo, int qhi) {
  const float dl = f.d * f.l[i];
  return dl != 0.0f ? ClampedNearest(v / dl, qlo, qhi) : 0;
}

}  // namespace

// Element k = 128h + 32p + 16t + l: 2-bit code in qs[32h + 16t + l] at bit 2p (spec §9.8).
void QuantizeQ2_K(const float* x, BlockQ2_K* y, int64_t nb) {
  for (int64_t b = 0; b < nb; ++b, x += kQKK) {
    const AffineFit f = FitAffine(x, 16, 16, 3, 15);
    std::memset(&y[b], 0, sizeof(BlockQ2_K));
    y[b].d = f.d_h;
    y[b].dmin = f.dmin_h;
    for (int s = 0; s < 16; ++s) y[b].scales[s] = (uint8_t)(f.sc[s] | (f.m[s] << 4));
    for (int k = 0; k < kQKK; ++k) {
      const int h = k / 128, p = (k / 32) % 4, tl = k % 32;
      y[b].qs[32 * h + tl] |= (uint8_t)(AffineCode(f, k / 16, x[k], 3) << (2 * p));
    }
  }
}

// Q3_K codes -4..3 stored as u = q + 4: u & 3 in qs (as Q2_K), u >> 2 in hmask[16t + l]
// at bit 4h + p (spec §9.9).
void QuantizeQ3_K(const float* x, BlockQ3_K* y, int64_t nb) {
  for (int64_t b = 0; b < nb; ++b, x += kQKK) {
    const SymFit f = FitSymmetric(x, 16, 16, 4.0f, -32, 31);
    std::memset(&y[b], 0, sizeof(BlockQ3_K));
    y[b].d = f.d_h;
    int8_t scales[16];
    for (int s = 0; s < 16; ++s) scales[s] = (int8_t)f.l[s];
    PackQ3KScales(scales, y[b].scales);
    for (int k = 0; k < kQKK; ++k) {
      const int h = k / 128, p = (k / 32) % 4, tl = k % 32;
      const int u = SymCode(f, k / 16, x[k], -4, 3) + 4;
      y[b].qs[32 * h + tl] |= (uint8_t)((u & 3) << (2 * p));
      y[b].hmask[tl] |= (uint8_t)((u >> 2) << (4 * h + p));
    }
  }
}

// Sub-block j (32 values) lives in qs[32*(j/2) ..], low nibble for even j (spec §9.10).
void QuantizeQ4_K(const float* x, BlockQ4_K* y, int64_t nb) {
  for (int64_t b = 0; b < nb; ++b, x += kQKK) {
    const AffineFit f = FitAffine(x, 8, 32, 15, 63);
    std::memset(&y[b], 0, sizeof(BlockQ4_K));
    y[b].d = f.d_h;
    y[b].dmin = f.dmin_h;
    PackScaleMinK4(f.sc, f.m, y[b].scales);
    for (int k = 0; k < kQKK; ++k) {
      const int j = k / 32, l = k % 32;
      y[b].qs[32 * (j / 2) + l] |= (uint8_t)(AffineCode(f, j, x[k], 15) << (4 * (j % 2)));
    }
  }
}

// As Q4_K plus the fifth bit of sub-block j's element l in qh[l] bit j (spec §9.11).
void QuantizeQ5_K(const float* x, BlockQ5_K* y, int64_t nb) {
  for (int64_t b = 0; b < nb; ++b, x += kQKK) {
    const AffineFit f = FitAffine(x, 8, 32, 31, 63);
    std::memset(&y[b], 0, sizeof(BlockQ5_K));
    y[b].d = f.d_h;
    y[b].dmin = f.dmin_h;
    PackScaleMinK4(f.sc, f.m, y[b].scales);
    for (int k = 0; k < kQKK; ++k) {
      const int j = k / 32, l = k % 32;
      const int q = AffineCode(f, j, x[k], 31);
      y[b].qs[32 * (j / 2) + l] |= (uint8_t)((q & 0xF) << (4 * (j % 2)));
      y[b].qh[l] |= (uint8_t)((q >> 4) << j);
    }
  }
}

// Element k = 128h + 32r + l: low nibble in ql[64h + l + 32*(r%2)] (high nibble if r >= 2),
// top two bits in qh[32h + l] at bit 2r; int8 scale per 16 values (spec §9.12).
void QuantizeQ6_K(const float* x, BlockQ6_K* y, int64_t nb) {
  for (int64_t b = 0; b < nb; ++b, x += kQKK) {
    const SymFit f = FitSymmetric(x, 16, 16, 32.0f, -128, 127);
    std::memset(&y[b], 0, sizeof(BlockQ6_K));
    y[b].d = f.d_h;
    for (int s = 0; s < 16; ++s) y[b].scales[s] = (int8_t)f.l[s];
    for (int k = 0; k < kQKK; ++k) {
      const int h = k / 128, r = (k / 32) % 4, l = k % 32;
      const int u = SymCode(f, k / 16, x[k], -32, 31) + 32;
      y[b].ql[64 * h + l + 32 * (r % 2)] |= (uint8_t)((u & 0xF) << (4 * (r / 2)));
      y[b].qh[32 * h + l] |= (uint8_t)((u >> 4) << (2 * r));
    }
  }
}

// Eight 32-value sub-blocks with 6-bit signed scales (ls - 32) and the IQ4_NL codebook.
void QuantizeIQ4_XS(const float* x, BlockIQ4_XS* y, int64_t nb) {
  for (int64_t b = 0; b < nb; ++b, x += kQKK) {
    const SymFit f = FitSymmetric(x, 8, 32, 127.0f, -32, 31);
    std::memset(&y[b], 0, sizeof(BlockIQ4_XS));
    y[b].d = f.d_h;
    for (int ib = 0; ib < 8; ++ib) {
      const int ls = f.l[ib] + 32;
      y[b].scales_l[ib / 2] |= (uint8_t)((ls & 0xF) << (4 * (ib % 2)));
      y[b].scales_h |= (uint16_t)(((ls >> 4) & 3) << (2 * ib));
      QuantizeIq4Codes(x + 32 * ib, 32, f.d * f.l[ib], y[b].qs + 16 * ib);
    }
  }
}

}  // namespace gemrun::quant_internal
