// QuantizeActRowRef: converts an f32 activation row into a weight's vec_dot format exactly as
// llama.cpp's CPU from_float does in the reference (x86 AVX2) build (spec/gguf.md §10).
#include <cmath>
#include <cstring>

#include "base/fp16.h"
#include "base/status.h"
#include "quant/blocks.h"
#include "quant/quant.h"
#include "quant/quant_internal.h"

namespace gemrun {
namespace {

float BlockAmax(const float* x, int n) {
  float amax = 0.0f;
  for (int j = 0; j < n; ++j) amax = std::fmax(amax, std::fabs(x[j]));
  return amax;
}

// The AVX2 kernel multiplies by id = 127/amax (not 1/d) and rounds half-to-even
// (_mm256_round_ps nearest); the scalar _ref path would use 1/d and roundf instead.
// Returns the f32 d; the caller stores it as half.
float QuantizeQ8Block(const float* x, int8_t* qs, int* sum) {
  const float amax = BlockAmax(x, kQK);
  const float d = amax / 127.0f;
  const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
  int s = 0;
  for (int j = 0; j < kQK; ++j) {
    const int q = (int)std::nearbyint(x[j] * id);
    qs[j] = (int8_t)q;
    s += q;
  }
  *sum = s;
  return d;
}

void QuantizeQ8_0(const float* x, BlockQ8_0* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK) {
    int sum;
    y[i].d = Fp32ToFp16(QuantizeQ8Block(x, y[i].qs, &sum));
  }
}

// s = half(d * sum(q)) with the f32 d (before its own rounding to half), as llama.cpp.
void QuantizeQ8_1(const float* x, BlockQ8_1* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQK) {
    int sum;
    const float d = QuantizeQ8Block(x, y[i].qs, &sum);
    y[i].d = Fp32ToFp16(d);
    y[i].s = Fp32ToFp16(d * (float)sum);
  }
}

// quantize_row_q8_K_ref: scale from the signed element of largest magnitude (first wins),
// iscale = -127/max so that element maps to -127; +127 clamp for its opposite.
void QuantizeQ8_K(const float* x, BlockQ8_K* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += kQKK) {
    float max = 0.0f, amax = 0.0f;
    for (int j = 0; j < kQKK; ++j) {
      const float ax = std::fabs(x[j]);
      if (ax > amax) {
        amax = ax;
        max = x[j];
      }
    }
    if (amax == 0.0f) {
      // llama.cpp leaves bsums untouched here; we zero them so the block is deterministic.
      std::memset(&y[i], 0, sizeof(BlockQ8_K));
      continue;
    }
    const float iscale = -127.0f / max;
    for (int j = 0; j < kQKK; ++j) {
      const int v = quant_internal::NearestInt(iscale * x[j]);
      y[i].qs[j] = (int8_t)(v < 127 ? v : 127);
    }
    for (int g = 0; g < kQKK / 16; ++g) {
      int sum = 0;
      for (int l = 0; l < 16; ++l) sum += y[i].qs[16 * g + l];
      y[i].bsums[g] = (int16_t)sum;
    }
    y[i].d = 1.0f / iscale;
  }
}

}  // namespace

void QuantizeActRowRef(DType fmt, const float* x, void* dst, int64_t n) {
  const int64_t bs = Traits(fmt).block_size;
  GEMRUN_CHECK(bs > 0 && n % bs == 0);
  const int64_t nb = n / bs;
  switch (fmt) {
    case DType::kF32: std::memcpy(dst, x, n * sizeof(float)); return;
    case DType::kF16: {
      auto* y = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) y[i] = Fp32ToFp16(x[i]);
      return;
    }
    case DType::kBF16: {
      auto* y = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) y[i] = Fp32ToBf16(x[i]);
      return;
    }
    case DType::kQ8_0: QuantizeQ8_0(x, static_cast<BlockQ8_0*>(dst), nb); return;
    case DType::kQ8_1: QuantizeQ8_1(x, static_cast<BlockQ8_1*>(dst), nb); return;
    case DType::kQ8_K: QuantizeQ8_K(x, static_cast<BlockQ8_K*>(dst), nb); return;
    default: break;
  }
  GEMRUN_CHECK(false && "QuantizeActRowRef: unsupported activation format");
}

}  // namespace gemrun
