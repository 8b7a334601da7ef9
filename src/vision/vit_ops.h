// Building blocks of the vision towers (internal to src/vision): linears with optional bias
// and clamps (every product goes through kernels::MatMul), LayerNorm, activations, the tiled
// full (bidirectional) attention, patch extraction and average pooling. All row-major,
// row-parallel over the thread pool, with ggml's arithmetic where it matters for parity.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "kernels/kernels.h"
#include "kernels/tensor_view.h"
#include "model/weights.h"
#include "threading/thread_pool.h"

namespace gemrun::vision::internal {

constexpr float kInf = std::numeric_limits<float>::infinity();

// y = clamp(W . clamp(x, in_min, in_max), out_min, out_max) + b. Gemma 4's "clippable
// linear" bounds default to +-inf (no clamp).
struct Linear {
  TensorView w;           // [K, N] GGUF order: N rows of K
  std::vector<float> b;   // [N] or empty
  float in_min = -kInf, in_max = kInf, out_min = -kInf, out_max = kInf;

  int64_t in() const { return w.ne[0]; }
  int64_t out() const { return w.ne[1]; }
  bool clamps_input() const { return in_min > -kInf || in_max < kInf; }
  bool clamps_output() const { return out_min > -kInf || out_max < kInf; }
};

// Binds `<base>.weight` [k, n] (+ `<base>.bias` [n] when with_bias) and, when `clamps`, the
// optional `<base>.{input,output}_{min,max}` scalars.
Status BindLinear(WeightBinder& b, const GgufFile& f, const std::string& base, int64_t k, int64_t n,
                  bool with_bias, bool clamps, Linear* out);

// One attention worker's buffers: its private single-thread pool (tasks run whole on one
// thread), MatMul scratch and one query block's scores.
struct AttentionWorker {
  ThreadPool serial{1};
  kernels::MatMulScratch mm;
  std::vector<float> scores;  // [block][n]
  std::vector<float> inv;     // [block] 1 / softmax denominators
};

// Scratch reused across a whole encode (grows once).
struct Scratch {
  kernels::MatMulScratch mm;
  std::vector<float> clamped;  // [T][K] clamped input copy
  std::vector<float> vt;       // [n_head][head_dim][n] V transposed per head
  std::vector<std::unique_ptr<AttentionWorker>> workers;  // one per pool thread
};

// y[T][out] = linear(x[T][in]) (rows contiguous).
void ApplyLinear(const Linear& l, const float* x, int64_t T, float* y, ThreadPool& pool, Scratch& s);

// y = (x - mean) / sqrt(var + eps) * w + b per row of n (biased variance); x may alias y.
void LayerNorm(const float* x, float* y, const float* w, const float* b, int64_t rows, int64_t n,
               float eps, ThreadPool& pool);
// y = x / sqrt(mean(x^2) + eps) * w per row of n (w may be nullptr); x may alias y.
void RmsNormRows(const float* x, float* y, const float* w, int64_t rows, int64_t n, float eps,
                 ThreadPool& pool);

// In place, through ggml's F16 tables: x = gelu_tanh(x) (exact outside +-10), or with `up`:
// x = act(x) * up. Quick-GELU: x * sigmoid(1.702 x).
void GeluRows(float* x, const float* up, int64_t n, ThreadPool& pool);
void QuickGeluRows(float* x, const float* up, int64_t n, ThreadPool& pool);

// Full attention of n positions with itself: q, k, v, out are [n][n_head * head_dim].
// softmax(scale * q.k) v per head (scale > 0), tiled into (head, query block) tasks handed out
// dynamically to the pool's threads; a task's scores [block][n] stay in cache between the
// two products, which go through kernels::MatMul (F32, as ggml's non-flash path). Each task
// runs entirely on one thread, so results do not depend on scheduling.
void FullAttention(const float* q, const float* k, const float* v, int64_t n, int n_head, int head_dim,
                   float scale, float* out, ThreadPool& pool, Scratch& s);

// Patch rows for a stride-P convolution: out[n][3*P*P] with n = py * nx + px and element
// (c, ky, kx) at c*P*P + ky*P + kx (ggml's im2col order), from planar [3][H][W].
void ExtractPatches(const float* planar, int64_t W, int64_t H, int64_t P, float* out);

// Average pooling with a k x k window, stride k, over a grid of nx x ny rows of C floats
// (row n = y * nx + x) -> [(ny/k) * (nx/k)][C], row-major over the pooled grid; ggml's order
// of summation, then one division by k*k.
void AvgPool(const float* x, int64_t nx, int64_t ny, int64_t C, int64_t k, float* out);

}  // namespace gemrun::vision::internal
