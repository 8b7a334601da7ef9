// Weight quantizers bit-exact with ggml's reference quantizers (quantize_row_*_ref in
// ggml-quants.c, llama.cpp 3f545becc), which is what llama-quantize runs when no importance
// matrix is given: the K-quant scale searches (Q4_K, Q5_K: weighted min/scale search; Q6_K:
// signed max-abs with 18 trial scales) and, through QuantizeWeightRowRef, the 32-wide formats.
//
// Bit-exactness rests on doing the same float operations in the same order with no fused
// multiply-add: ggml-base is compiled for baseline x86-64 (no FMA), so this file is compiled
// with -ffp-contract=off (CMakeLists.txt), and every expression below keeps ggml's
// association ((w*l)*x, not w*(l*x)).
#include <cmath>
#include <cstring>

#include "base/fp16.h"
#include "base/status.h"
#include "quant/blocks.h"
#include "quant/quant.h"
#include "quant/quantize_ggml.h"

namespace gemrun {
namespace {

constexpr float kGroupMaxEps = 1e-15f;  // ggml's GROUP_MAX_EPS: "all zero" below this

// ggml's nearest_int: adding 1.5*2^23 leaves round-half-even(f) in the low mantissa bits.
// Kept as the bit trick (not nearbyint) so out-of-range inputs give ggml's exact garbage.
inline int NearestIntGgml(float f) {
  const float v = f + 12582912.f;
  int32_t i;
  std::memcpy(&i, &v, sizeof i);
  return (i & 0x007fffff) - 0x00400000;
}

inline int Clamp(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }

// make_qkx2_quants: affine fit y = scale*L - the_min of n values, L in 0..nmax, searching
// nstep+1 trial inverse scales (rmin + rdelta*is + nmax)/(max - min) and keeping the one with
// the least weighted squared error (each trial refits scale and min by least squares).
float FitAffineSearch(int n, int nmax, const float* x, const float* weights, uint8_t* L,
                      float* the_min, uint8_t* Laux, float rmin, float rdelta, int nstep) {
  float min = x[0], max = x[0];
  float sum_w = weights[0];
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    const float w = weights[i];
    sum_w += w;
    sum_x += w * x[i];
  }
  if (min > 0) min = 0;
  if (max == min) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    *the_min = -min;
    return 0.f;
  }
  float iscale = (float)nmax / (max - min);
  float scale = 1 / iscale;
  float best_error = 0;
  for (int i = 0; i < n; ++i) {
    const int l = NearestIntGgml(iscale * (x[i] - min));
    L[i] = (uint8_t)Clamp(l, 0, nmax);
    float diff = scale * (float)L[i] + min - x[i];
    diff = diff * diff;
    best_error += weights[i] * diff;
  }
  for (int is = 0; is <= nstep; ++is) {
    iscale = (rmin + rdelta * (float)is + (float)nmax) / (max - min);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      const int l = Clamp(NearestIntGgml(iscale * (x[i] - min)), 0, nmax);
      Laux[i] = (uint8_t)l;
      const float w = weights[i];
      const float fl = (float)l;
      sum_l += w * fl;
      sum_l2 += w * fl * fl;
      sum_xl += w * fl * x[i];
    }
    const float D = sum_w * sum_l2 - sum_l * sum_l;
    if (D > 0) {
      float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
      float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
      if (this_min > 0) {
        this_min = 0;
        this_scale = sum_xl / sum_l2;
      }
      float cur_error = 0;
      for (int i = 0; i < n; ++i) {
        float diff = this_scale * (float)Laux[i] + this_min - x[i];
        diff = diff * diff;
        cur_error += weights[i] * diff;
      }
      if (cur_error < best_error) {
        for (int i = 0; i < n; ++i) L[i] = Laux[i];
        best_error = cur_error;
        scale = this_scale;
        min = this_min;
      }
    }
  }
  *the_min = -min;
  return scale;
}

// make_qx_quants with rmse_type 1 (weights x^2) and no importance: symmetric fit of n values
// to L - nmax, L in 0..2*nmax-1, trying 19 inverse scales -(nmax + 0.1*is)/max.
float FitSymmetricSearch(int n, int nmax, const float* x, int8_t* L) {
  float max = 0, amax = 0;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  if (amax < kGroupMaxEps) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.f;
  }
  float iscale = (float)(-nmax) / max;
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = Clamp(NearestIntGgml(iscale * x[i]), -nmax, nmax - 1);
    L[i] = (int8_t)(l + nmax);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * (float)l;
    suml2 += w * (float)l * (float)l;
  }
  float scale = suml2 ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    iscale = -((float)nmax + 0.1f * (float)is) / max;
    sumlx = suml2 = 0;
    for (int i = 0; i < n; ++i) {
      const int l = Clamp(NearestIntGgml(iscale * x[i]), -nmax, nmax - 1);
      const float w = x[i] * x[i];
      sumlx += w * x[i] * (float)l;
      suml2 += w * (float)l * (float)l;
    }
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      for (int i = 0; i < n; ++i) {
        L[i] = (int8_t)(nmax + Clamp(NearestIntGgml(iscale * x[i]), -nmax, nmax - 1));
      }
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

// Shared first half of Q4_K / Q5_K: per 32-sub-block affine fits, their 6-bit scales and mins
// packed into `scales` against the half-precision d / dmin, then every value requantized with
// the packed scales. L: [256] codes in 0..nmax.
void FitKAffineSuperBlock(const float* x, int nmax, float rmin, int nstep, uint16_t* d_out,
                          uint16_t* dmin_out, uint8_t scales_out[kKScaleBytes], uint8_t* L) {
  float mins[kQKK / 32], scales[kQKK / 32], weights[32];
  uint8_t Laux[32];
  float max_scale = 0, max_min = 0;
  for (int j = 0; j < kQKK / 32; ++j) {
    const float* xs = x + 32 * j;
    float sum_x2 = 0;
    for (int l = 0; l < 32; ++l) sum_x2 += xs[l] * xs[l];
    const float av_x = std::sqrt(sum_x2 / 32);
    for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(xs[l]);
    scales[j] = FitAffineSearch(32, nmax, xs, weights, L + 32 * j, &mins[j], Laux, rmin, 0.1f, nstep);
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }
  const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
  const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  std::memset(scales_out, 0, kKScaleBytes);
  for (int j = 0; j < kQKK / 32; ++j) {
    uint8_t ls = (uint8_t)NearestIntGgml(inv_scale * scales[j]);
    uint8_t lm = (uint8_t)NearestIntGgml(inv_min * mins[j]);
    ls = ls < 63 ? ls : 63;
    lm = lm < 63 ? lm : 63;
    if (j < 4) {
      scales_out[j] = ls;
      scales_out[j + 4] = lm;
    } else {
      scales_out[j + 4] = (uint8_t)((ls & 0xF) | ((lm & 0xF) << 4));
      scales_out[j - 4] |= (uint8_t)((ls >> 4) << 6);
      scales_out[j] |= (uint8_t)((lm >> 4) << 6);
    }
  }
  *d_out = Fp32ToFp16(max_scale / 63.f);
  *dmin_out = Fp32ToFp16(max_min / 63.f);
  for (int j = 0; j < kQKK / 32; ++j) {
    uint8_t sc, m;
    if (j < 4) {
      sc = scales_out[j] & 63;
      m = scales_out[j + 4] & 63;
    } else {
      sc = (uint8_t)((scales_out[j + 4] & 0xF) | ((scales_out[j - 4] >> 6) << 4));
      m = (uint8_t)((scales_out[j + 4] >> 4) | ((scales_out[j] >> 6) << 4));
    }
    const float d = Fp16ToFp32(*d_out) * (float)sc;
    if (!d) continue;  // keeps the codes of the search, as ggml does
    const float dm = Fp16ToFp32(*dmin_out) * (float)m;
    for (int ii = 0; ii < 32; ++ii) {
      L[32 * j + ii] = (uint8_t)Clamp(NearestIntGgml((x[32 * j + ii] + dm) / d), 0, nmax);
    }
  }
}

void QuantizeQ4_KGgml(const float* x, BlockQ4_K* y, int64_t nb) {
  uint8_t L[kQKK];
  for (int64_t i = 0; i < nb; ++i, x += kQKK) {
    FitKAffineSuperBlock(x, 15, -1.f, 20, &y[i].d, &y[i].dmin, y[i].scales, L);
    uint8_t* q = y[i].qs;
    for (int j = 0; j < kQKK; j += 64, q += 32) {
      for (int l = 0; l < 32; ++l) q[l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 4));
    }
  }
}

void QuantizeQ5_KGgml(const float* x, BlockQ5_K* y, int64_t nb) {
  uint8_t L[kQKK];
  for (int64_t i = 0; i < nb; ++i, x += kQKK) {
    FitKAffineSuperBlock(x, 31, -0.5f, 15, &y[i].d, &y[i].dmin, y[i].scales, L);
    uint8_t* qh = y[i].qh;
    uint8_t* ql = y[i].qs;
    std::memset(qh, 0, kQKK / 8);
    uint8_t m1 = 1, m2 = 2;
    for (int n = 0; n < kQKK; n += 64, ql += 32) {
      for (int j = 0; j < 32; ++j) {
        int l1 = L[n + j], l2 = L[n + j + 32];
        if (l1 > 15) { l1 -= 16; qh[j] |= m1; }
        if (l2 > 15) { l2 -= 16; qh[j] |= m2; }
        ql[j] = (uint8_t)(l1 | (l2 << 4));
      }
      m1 = (uint8_t)(m1 << 2);
      m2 = (uint8_t)(m2 << 2);
    }
  }
}

void QuantizeQ6_KGgml(const float* x, BlockQ6_K* y, int64_t nb) {
  int8_t L[kQKK];
  float scales[kQKK / 16];
  for (int64_t i = 0; i < nb; ++i, x += kQKK) {
    float max_scale = 0, max_abs_scale = 0;
    for (int ib = 0; ib < kQKK / 16; ++ib) {
      const float scale = FitSymmetricSearch(16, 32, x + 16 * ib, L + 16 * ib);
      scales[ib] = scale;
      const float abs_scale = std::fabs(scale);
      if (abs_scale > max_abs_scale) {
        max_abs_scale = abs_scale;
        max_scale = scale;
      }
    }
    if (max_abs_scale < kGroupMaxEps) {
      std::memset(&y[i], 0, sizeof(BlockQ6_K));
      continue;
    }
    const float iscale = -128.f / max_scale;
    y[i].d = Fp32ToFp16(1 / iscale);
    for (int ib = 0; ib < kQKK / 16; ++ib) {
      const int s = NearestIntGgml(iscale * scales[ib]);
      y[i].scales[ib] = (int8_t)(s < 127 ? s : 127);
    }
    for (int j = 0; j < kQKK / 16; ++j) {
      const float d = Fp16ToFp32(y[i].d) * (float)y[i].scales[j];
      if (!d) continue;
      for (int ii = 0; ii < 16; ++ii) {
        L[16 * j + ii] = (int8_t)(Clamp(NearestIntGgml(x[16 * j + ii] / d), -32, 31) + 32);
      }
    }
    uint8_t* ql = y[i].ql;
    uint8_t* qh = y[i].qh;
    for (int j = 0; j < kQKK; j += 128, ql += 64, qh += 32) {
      for (int l = 0; l < 32; ++l) {
        const uint8_t q1 = L[j + l] & 0xF, q2 = L[j + l + 32] & 0xF;
        const uint8_t q3 = L[j + l + 64] & 0xF, q4 = L[j + l + 96] & 0xF;
        ql[l] = (uint8_t)(q1 | (q3 << 4));
        ql[l + 32] = (uint8_t)(q2 | (q4 << 4));
        qh[l] = (uint8_t)((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) |
                          ((L[j + l + 64] >> 4) << 4) | ((L[j + l + 96] >> 4) << 6));
      }
    }
  }
}

}  // namespace

bool HasGgmlQuantizer(DType t) {
  switch (t) {
    case DType::kF32: case DType::kF16: case DType::kBF16:
    case DType::kQ4_0: case DType::kQ4_1: case DType::kQ5_0: case DType::kQ5_1: case DType::kQ8_0:
    case DType::kQ4_K: case DType::kQ5_K: case DType::kQ6_K:
      return true;
    default:
      return false;
  }
}

void QuantizeRowsGgml(DType t, const float* x, void* dst, int64_t n) {
  const int64_t bs = Traits(t).block_size;
  GEMRUN_CHECK(HasGgmlQuantizer(t) && n % bs == 0);
  switch (t) {
    case DType::kQ4_K: QuantizeQ4_KGgml(x, static_cast<BlockQ4_K*>(dst), n / bs); return;
    case DType::kQ5_K: QuantizeQ5_KGgml(x, static_cast<BlockQ5_K*>(dst), n / bs); return;
    case DType::kQ6_K: QuantizeQ6_KGgml(x, static_cast<BlockQ6_K*>(dst), n / bs); return;
    case DType::kF32: std::memcpy(dst, x, (size_t)n * sizeof(float)); return;
    default:
      // F16, BF16 (round-to-nearest-even, ggml_fp32_to_{fp16_row,bf16_row_ref}) and the
      // 32-wide formats, whose fixture quantizer already is ggml's *_ref arithmetic.
      QuantizeWeightRowRef(t, x, dst, n);
      return;
  }
}

}  // namespace gemrun
