// Element-wise ops and attention. Plain loops (the compiler vectorises them); arithmetic
// follows llama.cpp's CPU backend so logits match its goldens.
#include "kernels/ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "base/fp16.h"

namespace gemrun::kernels {
namespace {

constexpr float kSqrt2OverPi = 0.79788456080286535587989211986876f;
constexpr float kGeluCoefA = 0.044715f;

float GeluTanh(float x) { return 0.5f * x * (1.0f + std::tanh(kSqrt2OverPi * x * (1.0f + kGeluCoefA * x * x))); }

// table[h] = f16(gelu(f32(h))) for every half bit pattern, as ggml's CPU init does.
const std::vector<uint16_t>& GeluTable() {
  static const std::vector<uint16_t> table = [] {
    std::vector<uint16_t> t(65536);
    for (uint32_t i = 0; i < 65536; ++i) t[i] = Fp32ToFp16(GeluTanh(Fp16ToFp32(static_cast<uint16_t>(i))));
    return t;
  }();
  return table;
}

}  // namespace

void RmsNorm(const float* x, float* y, const float* w, int64_t n_rows, int64_t n, float eps,
             int64_t ldx, int64_t ldy) {
  for (int64_t r = 0; r < n_rows; ++r) {
    const float* xr = x + r * ldx;
    float* yr = y + r * ldy;
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(xr[i] * xr[i]);
    const float mean = static_cast<float>(sum / static_cast<double>(n));
    const float scale = 1.0f / std::sqrt(mean + eps);
    if (w) {
      for (int64_t i = 0; i < n; ++i) yr[i] = (xr[i] * scale) * w[i];
    } else {
      for (int64_t i = 0; i < n; ++i) yr[i] = xr[i] * scale;
    }
  }
}

void GeluMul(const float* gate, const float* up, float* y, int64_t n) {
  const uint16_t* table = GeluTable().data();
  for (int64_t i = 0; i < n; ++i) {
    const float x = gate[i];
    float g;
    if (x <= -10.0f) g = 0.0f;
    else if (x >= 10.0f) g = x;
    else g = Fp16ToFp32(table[Fp32ToFp16(x)]);
    y[i] = up ? g * up[i] : g;
  }
}

void Scale(float* x, int64_t n, float s) {
  for (int64_t i = 0; i < n; ++i) x[i] *= s;
}

void Add(float* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

void SoftCap(float* x, int64_t n, float c) {
  const float inv = 1.0f / c;
  for (int64_t i = 0; i < n; ++i) x[i] = std::tanh(x[i] * inv) * c;
}

void RopeCache(const RopeParams& p, int64_t pos, float* cs) {
  const float theta_scale = std::pow(p.base, -2.0f / static_cast<float>(p.n_rot));
  float theta = static_cast<float>(pos);
  for (int i0 = 0; i0 < p.n_rot; i0 += 2) {
    const float ff = p.freq_factors ? p.freq_factors[i0 / 2] : 1.0f;
    const float t = p.freq_scale * (theta / ff);
    cs[i0] = std::cos(t);
    cs[i0 + 1] = std::sin(t);
    theta *= theta_scale;
  }
}

void RopeApply(float* x, int n_rot, const float* cs) {
  const int half = n_rot / 2;
  for (int i = 0; i < half; ++i) {
    const float c = cs[2 * i], s = cs[2 * i + 1];
    const float x0 = x[i], x1 = x[i + half];
    x[i] = x0 * c - x1 * s;
    x[i + half] = x0 * s + x1 * c;
  }
}

int64_t AttentionScratchFloats(const AttentionShape& s, int64_t T, int64_t n_kv, int n_threads) {
  return static_cast<int64_t>(n_threads) * n_kv;
}

void Attention(const AttentionShape& s, const float* q, int64_t T, int64_t pos0,
               const float* k_cache, const float* v_cache, float* out, float* scratch,
               ThreadPool& pool) {
  const int D = s.head_dim;
  const int64_t kv_stride = static_cast<int64_t>(s.n_head_kv) * D;
  const int group = s.n_head / s.n_head_kv;
  const int64_t n_kv = pos0 + T;
  pool.ParallelFor(T * s.n_head, [&](int64_t b, int64_t e, int worker) {
    float* scores = scratch + static_cast<int64_t>(worker) * n_kv;
    for (int64_t th = b; th < e; ++th) {
      const int64_t t = th / s.n_head;
      const int h = static_cast<int>(th % s.n_head);
      const int g = h / group;
      const int64_t pq = pos0 + t;
      const int64_t first = s.window > 0 ? std::max<int64_t>(0, pq - s.window + 1) : 0;
      const int64_t last = s.causal ? pq : n_kv - 1;
      const float* qh = q + (t * s.n_head + h) * D;
      float mx = -std::numeric_limits<float>::infinity();
      for (int64_t j = first; j <= last; ++j) {
        const float* kj = k_cache + j * kv_stride + g * D;
        float d = 0.0f;
        for (int i = 0; i < D; ++i) d += qh[i] * kj[i];
        scores[j] = d;
        mx = std::max(mx, d);
      }
      double sum = 0.0;
      for (int64_t j = first; j <= last; ++j) {
        const float p = std::exp(scores[j] - mx);
        scores[j] = p;
        sum += p;
      }
      const float inv = static_cast<float>(1.0 / sum);
      float* o = out + (t * s.n_head + h) * D;
      std::fill(o, o + D, 0.0f);
      for (int64_t j = first; j <= last; ++j) {
        const float p = scores[j] * inv;
        const float* vj = v_cache + j * kv_stride + g * D;
        for (int i = 0; i < D; ++i) o[i] += p * vj[i];
      }
    }
  });
}

}  // namespace gemrun::kernels
