// QuantizeWeightRowRef for the 32-element formats and the dispatch: simple quantizers that
// build test fixtures (llama.cpp's *_ref rounding for Q4_0..Q8_0; nearest codebook entry for
// IQ4_NL). Not used when serving; the K-quants live in quantize_weight_k.cc.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>

#include "base/fp16.h"
#include "base/status.h"
#include "quant/blocks.h"
#include "quant/quant.h"
#include "quant/quant_internal.h"
#include "quant/quantize_weight_internal.h"

namespace gemrun {
namespace quant_internal {

float SignedAbsMax(const float* x, int n) {
  float amax = 0.0f, max = 0.0f;
  for (int j = 0; j < n; ++j) {
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

int NearestIq4Index(float v) {
  int best = 0;
  for (int k = 1; k < 16; ++k) {
    if (std::fabs(v - kIq4nlValues[k]) < std::fabs(v - kIq4nlValues[best])) best = k;
  }
  return best;
}

void QuantizeIq4Codes(const float* x, int n, float dl, uint8_t* qs) {
  const float id = dl != 0.0f ? 1.0f / dl : 0.0f;
  for (int j = 0; j < n / 2; ++j) {
    const int lo = NearestIq4Index(x[j] * id);
    const int hi = NearestIq4Index(x[j + n / 2] * id);
    qs[j] = (uint8_t)(lo | (hi << 4));
  }
}

}  // namespace quant_internal

namespace {

using quant_internal::SignedAbsMax;

// Symmetric 4-bit: the signed extreme maps to code 0 (-8), as quantize_row_q4_0_ref.
void QuantizeQ4_0(const float* x, BlockQ4_0* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK) {
    const float d = SignedAbsMax(x, kQK) / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = Fp32ToFp16(d);
    for (int j = 0; j < kQK / 2; ++j) {
      const int xi0 = std::min(15, (int)(int8_t)(x[j] * id + 8.5f));
      const int xi1 = std::min(15, (int)(int8_t)(x[j + kQK / 2] * id + 8.5f));
      y[i].qs[j] = (uint8_t)(xi0 | (xi1 << 4));
    }
  }
}

void MinMax(const float* x, int n, float* lo, float* hi) {
  *lo = FLT_MAX;
  *hi = -FLT_MAX;
  for (int j = 0; j < n; ++j) {
    *lo = std::min(*lo, x[j]);
    *hi = std::max(*hi, x[j]);
  }
}

void QuantizeQ4_1(const float* x, BlockQ4_1* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK) {
    float lo, hi;
    MinMax(x, kQK, &lo, &hi);
    const float d = (hi - lo) / 15.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = Fp32ToFp16(d);
    y[i].m = Fp32ToFp16(lo);
    for (int j = 0; j < kQK / 2; ++j) {
      const int xi0 = std::min(15, (int)(int8_t)((x[j] - lo) * id + 0.5f));
      const int xi1 = std::min(15, (int)(int8_t)((x[j + kQK / 2] - lo) * id + 0.5f));
      y[i].qs[j] = (uint8_t)(xi0 | (xi1 << 4));
    }
  }
}

// Stores 5-bit codes: low nibbles into qs, fifth bits into qh (bit j / j+16).
void PackQ5(const int* codes, uint8_t* qs, uint8_t qh_bytes[4]) {
  uint32_t qh = 0;
  for (int j = 0; j < kQK / 2; ++j) {
    const int c0 = codes[j], c1 = codes[j + kQK / 2];
    qs[j] = (uint8_t)((c0 & 0xF) | ((c1 & 0xF) << 4));
    qh |= (uint32_t)((c0 >> 4) & 1) << j;
    qh |= (uint32_t)((c1 >> 4) & 1) << (j + kQK / 2);
  }
  for (int k = 0; k < 4; ++k) qh_bytes[k] = (uint8_t)(qh >> (8 * k));
}

void QuantizeQ5_0(const float* x, BlockQ5_0* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK) {
    const float d = SignedAbsMax(x, kQK) / -16.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = Fp32ToFp16(d);
    int codes[kQK];
    for (int j = 0; j < kQK; ++j) codes[j] = std::min(31, (int)(int8_t)(x[j] * id + 16.5f));
    PackQ5(codes, y[i].qs, y[i].qh);
  }
}

void QuantizeQ5_1(const float* x, BlockQ5_1* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK) {
    float lo, hi;
    MinMax(x, kQK, &lo, &hi);
    const float d = (hi - lo) / 31.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = Fp32ToFp16(d);
    y[i].m = Fp32ToFp16(lo);
    int codes[kQK];
    for (int j = 0; j < kQK; ++j) codes[j] = std::min(31, (int)(uint8_t)((x[j] - lo) * id + 0.5f));
    PackQ5(codes, y[i].qs, y[i].qh);
  }
}

// quantize_row_q8_0_ref: id = 1/d and roundf (unlike the AVX2 activation path).
void QuantizeQ8_0W(const float* x, BlockQ8_0* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK) {
    float amax = 0.0f;
    for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = Fp32ToFp16(d);
    for (int j = 0; j < kQK; ++j) y[i].qs[j] = (int8_t)std::roundf(x[j] * id);
  }
}

// The signed extreme maps to the codebook's -127; every value takes its nearest entry.
void QuantizeIQ4_NL(const float* x, BlockIQ4_NL* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK) {
    const float d = SignedAbsMax(x, kQK) / -127.0f;
    y[i].d = Fp32ToFp16(d);
    quant_internal::QuantizeIq4Codes(x, kQK, Fp16ToFp32(y[i].d), y[i].qs);
  }
}

template <typename Block>
Block* As(void* p) {
  return static_cast<Block*>(p);
}

}  // namespace

void QuantizeWeightRowRef(DType t, const float* x, void* dst, int64_t n) {
  const int64_t bs = Traits(t).block_size;
  GEMRUN_CHECK(bs > 0 && n % bs == 0);
  const int64_t nb = n / bs;
  switch (t) {
    case DType::kF32: case DType::kF16: case DType::kBF16:
      QuantizeActRowRef(t, x, dst, n);  // plain conversions; same rounding as activations
      return;
    case DType::kQ4_0: QuantizeQ4_0(x, As<BlockQ4_0>(dst), nb); return;
    case DType::kQ4_1: QuantizeQ4_1(x, As<BlockQ4_1>(dst), nb); return;
    case DType::kQ5_0: QuantizeQ5_0(x, As<BlockQ5_0>(dst), nb); return;
    case DType::kQ5_1: QuantizeQ5_1(x, As<BlockQ5_1>(dst), nb); return;
    case DType::kQ8_0: QuantizeQ8_0W(x, As<BlockQ8_0>(dst), nb); return;
    case DType::kIQ4_NL: QuantizeIQ4_NL(x, As<BlockIQ4_NL>(dst), nb); return;
    case DType::kQ2_K: quant_internal::QuantizeQ2_K(x, As<BlockQ2_K>(dst), nb); return;
    case DType::kQ3_K: quant_internal::QuantizeQ3_K(x, As<BlockQ3_K>(dst), nb); return;
    case DType::kQ4_K: quant_internal::QuantizeQ4_K(x, As<BlockQ4_K>(dst), nb); return;
    case DType::kQ5_K: quant_internal::QuantizeQ5_K(x, As<BlockQ5_K>(dst), nb); return;
    case DType::kQ6_K: quant_internal::QuantizeQ6_K(x, As<BlockQ6_K>(dst), nb); return;
    case DType::kIQ4_XS: quant_internal::QuantizeIQ4_XS(x, As<BlockIQ4_XS>(dst), nb); return;
    default: break;
  }
  GEMRUN_CHECK(false && "QuantizeWeightRowRef: unsupported type");
}

}  // namespace gemrun
