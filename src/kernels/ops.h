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

// GELU(tanh) through llama.cpp's F16 lookup table, times `up`: y = gelu(gate) * up.
// up == nullptr gives plain gelu(gate). n elements. y may alias gate.
void GeluMul(const float* gate, const float* up, float* y, int64_t n);

// x *= s for n elements.
void Scale(float* x, int64_t n, float s);
// y += x for n elements.
void Add(float* y, const float* x, int64_t n);
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

// Causal attention of T queries (positions pos0 + t) over a layer's cached keys/values.
// q: [T][n_head][D] (already scaled), k/v cache: [n_kv_pos][n_head_kv][D] f32, where cache row
// j holds position j. window > 0 masks keys with pos_q - pos_k >= window. Non-causal: keys
// up to pos0 + T - 1 are visible too (the window still masks earlier keys). For query head h
// the KV head is h / (n_head / n_head_kv). out: [T][n_head][D].
struct AttentionShape {
  int n_head = 0;
  int n_head_kv = 0;
  int head_dim = 0;
  int64_t window = 0;  // 0 = no sliding window
  bool causal = true;  // false: the batch's queries also see the batch's later keys
};
void Attention(const AttentionShape& s, const float* q, int64_t T, int64_t pos0,
               const float* k_cache, const float* v_cache, float* out, float* scratch,
               ThreadPool& pool);
// Scratch floats Attention needs for a batch of T with up to n_kv cached positions.
int64_t AttentionScratchFloats(const AttentionShape& s, int64_t T, int64_t n_kv, int n_threads);

}  // namespace gemrun::kernels
