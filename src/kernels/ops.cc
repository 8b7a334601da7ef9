// Element-wise ops and attention. Plain loops (the compiler vectorises them); arithmetic
// follows llama.cpp's CPU backend so logits match its goldens.
#include "kernels/ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "base/fp16.h"
#include "kernels/isa.h"

namespace gemrun::kernels {
namespace {

constexpr float kSqrt2OverPi = 0.79788456080286535587989211986876f;
constexpr float kGeluCoefA = 0.044715f;

float GeluTanh(float x) { return 0.5f * x * (1.0f + std::tanh(kSqrt2OverPi * x * (1.0f + kGeluCoefA * x * x))); }

// table[h] = f16(gelu(f32(h))) for every half bit pattern, as ggml's CPU init does.
const std::vector<uint16_t>& GeluTable() {
  static const std::vector<uint16_t> table = [] {
    std::vector<uint16_t> t(65536 + 2);  // padding: SIMD gathers read 4 bytes
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
    // Float squares summed in double (as llama.cpp), in 4 chains: double keeps the order's
    // effect far below the float result's rounding.
    double s4[4] = {0.0, 0.0, 0.0, 0.0};
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
      for (int k = 0; k < 4; ++k) s4[k] += static_cast<double>(xr[i + k] * xr[i + k]);
    for (; i < n; ++i) s4[0] += static_cast<double>(xr[i] * xr[i]);
    const double sum = (s4[0] + s4[1]) + (s4[2] + s4[3]);
    const float mean = static_cast<float>(sum / static_cast<double>(n));
    const float scale = 1.0f / std::sqrt(mean + eps);
    if (w) {
      for (int64_t i = 0; i < n; ++i) yr[i] = (xr[i] * scale) * w[i];
    } else {
      for (int64_t i = 0; i < n; ++i) yr[i] = xr[i] * scale;
    }
  }
}

const uint16_t* GeluF16Table() { return GeluTable().data(); }

void GeluMul(const float* gate, const float* up, float* y, int64_t n) {
  ActiveKernels().gelu_mul(gate, up, y, n, GeluTable().data());
}

namespace {
constexpr int64_t kParallelMin = int64_t{1} << 15;  // elements below which one thread is faster
}  // namespace

void RmsNorm(const float* x, float* y, const float* w, int64_t n_rows, int64_t n, float eps,
             int64_t ldx, int64_t ldy, ThreadPool& pool) {
  if (n_rows < 2 || n_rows * n < kParallelMin) return RmsNorm(x, y, w, n_rows, n, eps, ldx, ldy);
  pool.ParallelFor(n_rows, [&](int64_t r0, int64_t r1, int) {
    RmsNorm(x + r0 * ldx, y + r0 * ldy, w, r1 - r0, n, eps, ldx, ldy);
  });
}

void GeluMul(const float* gate, const float* up, float* y, int64_t n, ThreadPool& pool) {
  if (n < kParallelMin) return GeluMul(gate, up, y, n);
  pool.ParallelFor(
      n, [&](int64_t i0, int64_t i1, int) { GeluMul(gate + i0, up ? up + i0 : nullptr, y + i0, i1 - i0); }, 64);
}

void Add(float* y, const float* x, int64_t n, ThreadPool& pool) {
  if (n < kParallelMin) return Add(y, x, n);
  pool.ParallelFor(n, [&](int64_t i0, int64_t i1, int) { Add(y + i0, x + i0, i1 - i0); }, 64);
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

}  // namespace gemrun::kernels
