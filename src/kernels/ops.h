// Element-wise and attention ops with llama.cpp's CPU arithmetic (see spec/gemma3.md §9).
// Shapes are given per call; all buffers are row-major, last dimension contiguous.
#pragma once

#include <cstdint>

#include "threading/thread_pool.h"

namespace gemrun::kernels {

// y[r] = x[r] / sqrt(mean(x[r]^2) + eps) * w   for rows r < n_rows of length n
// (sum of squares in double as llama.cpp; w == nullptr means no weight). x may alias y.
void RmsNorm(const float* x, float* y, const float* w, int64_t n_rows, int64_t n, float eps,
             int64_t ldx, int64_t ldy);

// The same split over the pool's threads by rows (one thread for small inputs).
void RmsNorm(const float* x, float* y, const float* w, int64_t n_rows, int64_t n, float eps,
             int64_t ldx, int64_t ldy, ThreadPool& pool);

// GELU(tanh) through llama.cpp's F16 lookup table, times `up`: y = gelu(gate) * up.
// up == nullptr gives plain gelu(gate). n elements. y may alias gate.
void GeluMul(const float* gate, const float* up, float* y, int64_t n);
void GeluMul(const float* gate, const float* up, float* y, int64_t n, ThreadPool& pool);
// The table: f16(gelu(f32(h))) for every half bit pattern h (plus 2 padding entries).
const uint16_t* GeluF16Table();

// x *= s for n elements.
void Scale(float* x, int64_t n, float s);
// y += x for n elements.
void Add(float* y, const float* x, int64_t n);
void Add(float* y, const float* x, int64_t n, ThreadPool& pool);
// x = c * tanh(x / c) for n elements (final logit soft-capping).
void SoftCap(float* x, int64_t n, float c);

// NeoX ("split-half") RoPE in place on one head vector of length head_dim: pairs
// (i, i + n_rot/2) for i < n_rot/2; dims >= n_rot are untouched. theta_i = freq_scale * pos *
// base^(-2i/n_rot) / freq_factors[i] (freq_factors may be nullptr), computed as llama.cpp does.
struct RopeParams {
  int n_rot = 0;
  float base = 10000.0f;
  float freq_scale = 1.0f;
  const float* freq_factors = nullptr;  // [n_rot / 2] or nullptr
};
// Precomputes cos/sin for one position: cs is [n_rot] as (cos, sin) pairs.
void RopeCache(const RopeParams& p, int64_t pos, float* cs);
void RopeApply(float* x, int n_rot, const float* cs);

}  // namespace gemrun::kernels
