// Vision tower building blocks. Plain loops, parallel over rows; products via kernels::MatMul.
#include "vision/vit_ops.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>

#include "base/fp16.h"
#include "kernels/ops.h"

namespace gemrun::vision::internal {
namespace {

// table[h] = f16(x * sigmoid(1.702 x)) at x = f32(h), as ggml's CPU backend builds it.
const std::vector<uint16_t>& QuickGeluTable() {
  static const std::vector<uint16_t> table = [] {
    std::vector<uint16_t> t(65536);
    for (uint32_t i = 0; i < 65536; ++i) {
      const float x = Fp16ToFp32(static_cast<uint16_t>(i));
      t[i] = Fp32ToFp16(x * (1.0f / (1.0f + std::exp(-1.702f * x))));
    }
    return t;
  }();
  return table;
}

// Softmax arithmetic on 4-float vectors (GCC/Clang vector extensions: SSE2 / NEON width, no
// ISA-specific code); the plain-loop version does not vectorise under -O2.
typedef float F4 __attribute__((vector_size(16)));
typedef int32_t I4 __attribute__((vector_size(16)));

inline F4 Select(I4 mask, F4 a, F4 b) { return (F4)(((I4)a & mask) | ((I4)b & ~mask)); }
inline F4 Load4(const float* p) { F4 v; std::memcpy(&v, p, sizeof v); return v; }
inline void Store4(float* p, F4 v) { std::memcpy(p, &v, sizeof v); }

// exp(x) for x <= 0 (softmax after the max is subtracted): x = n ln2 + r by Cody-Waite
// reduction, a degree-6 polynomial on |r| <= ln2/2 (relative error < 3e-7); x < -87 gives 0.
inline F4 ExpNonPositive(F4 x) {
  const I4 keep = x >= -87.0f;
  const F4 xc = Select(keep, x, F4{} - 87.0f);
  const F4 t = xc * 1.44269504088896341f + 12582912.0f;  // round(x / ln2) + 1.5 * 2^23
  const F4 n = t - 12582912.0f;
  F4 r = xc - n * 0.693145751953125f;
  r = r - n * 1.428606765330187e-06f;
  F4 p = r * 1.3888889e-3f + 8.3333333e-3f;
  p = p * r + 4.1666667e-2f;
  p = p * r + 1.6666667e-1f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const I4 e = (((I4)t - (0x4B400000 - 127)) << 23) & keep;  // 2^n, or 0 when underflowing
  return p * (F4)e;
}

// One row of unnormalised softmax weights in place: s = exp(scale * s - max) (the max of the
// scaled row; scale > 0 so it is scale * max(s) exactly). Returns 1 / sum, the sum taken in
// lanes then in double; the caller applies it to the weighted sum of V (ggml normalises the
// weights first instead: the same up to rounding).
float SoftmaxRowUnnormalized(float* s, int64_t n, float scale) {
  const int64_t n4 = n / 4 * 4;
  F4 m = F4{} - kInf;
  for (int64_t j = 0; j < n4; j += 4) {
    const F4 v = Load4(s + j);
    m = Select(v > m, v, m);
  }
  float mx = std::max(std::max(m[0], m[1]), std::max(m[2], m[3]));
  for (int64_t j = n4; j < n; ++j) mx = std::max(mx, s[j]);
  mx *= scale;
  F4 acc{};
  for (int64_t j = 0; j < n4; j += 4) {
    const F4 e = ExpNonPositive(Load4(s + j) * scale - mx);
    Store4(s + j, e);
    acc += e;
  }
  double sum = static_cast<double>(acc[0]) + acc[1] + acc[2] + acc[3];
  for (int64_t j = n4; j < n; ++j) {
    F4 v{};
    v[0] = s[j] * scale - mx;
    s[j] = ExpNonPositive(v)[0];
    sum += s[j];
  }
  return static_cast<float>(1.0 / sum);
}

float ScalarOr(const GgufFile& f, const std::string& name, float def, Status* st) {
  const GgufTensorInfo* t = f.FindTensor(name);
  if (!t) return def;
  if (t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3] != 1 || t->type != DType::kF32) {
    *st = InvalidArgumentError(f.path() + ": clamp bound '" + name + "' must be one F32 value");
    return def;
  }
  float v;
  std::memcpy(&v, f.View(*t).data, 4);
  if (std::isnan(v)) *st = InvalidArgumentError(f.path() + ": clamp bound '" + name + "' is NaN");
  return v;
}

}  // namespace

Status BindLinear(WeightBinder& b, const GgufFile& f, const std::string& base, int64_t k, int64_t n,
                  bool with_bias, bool clamps, Linear* out) {
  RETURN_IF_ERROR(b.Matrix(base + ".weight", k, n, &out->w));
  if (with_bias) RETURN_IF_ERROR(b.Vector(base + ".bias", n, &out->b));
  if (clamps) {
    Status st;
    out->in_min = ScalarOr(f, base + ".input_min", -kInf, &st);
    out->in_max = ScalarOr(f, base + ".input_max", kInf, &st);
    out->out_min = ScalarOr(f, base + ".output_min", -kInf, &st);
    out->out_max = ScalarOr(f, base + ".output_max", kInf, &st);
    RETURN_IF_ERROR(st);
  }
  return OkStatus();
}

void ApplyLinear(const Linear& l, const float* x, int64_t T, float* y, ThreadPool& pool, Scratch& s) {
  const int64_t K = l.in(), N = l.out();
  if (l.clamps_input()) {
    s.clamped.resize(static_cast<size_t>(T * K));
    float* c = s.clamped.data();
    const float lo = l.in_min, hi = l.in_max;
    pool.ParallelFor(T, [&](int64_t t0, int64_t t1, int) {
      for (int64_t i = t0 * K; i < t1 * K; ++i) c[i] = std::max(std::min(x[i], hi), lo);
    });
    x = c;
  }
  kernels::MatMul(l.w, x, T, K, y, N, pool, s.mm);
  if (!l.clamps_output() && l.b.empty()) return;
  const float lo = l.out_min, hi = l.out_max;
  const float* bias = l.b.empty() ? nullptr : l.b.data();
  const bool clamp = l.clamps_output();
  pool.ParallelFor(T, [&](int64_t t0, int64_t t1, int) {
    for (int64_t t = t0; t < t1; ++t) {
      float* row = y + t * N;
      if (clamp)
        for (int64_t i = 0; i < N; ++i) row[i] = std::max(std::min(row[i], hi), lo);
      if (bias)
        for (int64_t i = 0; i < N; ++i) row[i] += bias[i];
    }
  });
}

void LayerNorm(const float* x, float* y, const float* w, const float* b, int64_t rows, int64_t n,
               float eps, ThreadPool& pool) {
  pool.ParallelFor(rows, [&](int64_t r0, int64_t r1, int) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * n;
      float* yr = y + r * n;
      double sum = 0.0;
      for (int64_t i = 0; i < n; ++i) sum += xr[i];
      const float mean = static_cast<float>(sum / static_cast<double>(n));
      double sum2 = 0.0;
      for (int64_t i = 0; i < n; ++i) {
        const float v = xr[i] - mean;
        yr[i] = v;
        sum2 += static_cast<double>(v * v);
      }
      const float var = static_cast<float>(sum2 / static_cast<double>(n));
      const float scale = 1.0f / std::sqrt(var + eps);
      for (int64_t i = 0; i < n; ++i) {
        float v = yr[i] * scale;
        if (w) v = v * w[i];
        if (b) v = v + b[i];
        yr[i] = v;
      }
    }
  });
}

void RmsNormRows(const float* x, float* y, const float* w, int64_t rows, int64_t n, float eps,
                 ThreadPool& pool) {
  pool.ParallelFor(rows, [&](int64_t r0, int64_t r1, int) {
    kernels::RmsNorm(x + r0 * n, y + r0 * n, w, r1 - r0, n, eps, n, n);
  });
}

void GeluRows(float* x, const float* up, int64_t n, ThreadPool& pool) {
  pool.ParallelFor(n, [&](int64_t i0, int64_t i1, int) {
    kernels::GeluMul(x + i0, up ? up + i0 : nullptr, x + i0, i1 - i0);
  }, 64);
}

void QuickGeluRows(float* x, const float* up, int64_t n, ThreadPool& pool) {
  const uint16_t* table = QuickGeluTable().data();
  pool.ParallelFor(n, [&](int64_t i0, int64_t i1, int) {
    for (int64_t i = i0; i < i1; ++i) {
      const float g = Fp16ToFp32(table[Fp32ToFp16(x[i])]);
      x[i] = up ? g * up[i] : g;
    }
  }, 64);
}

void FullAttention(const float* q, const float* k, const float* v, int64_t n, int n_head, int head_dim,
                   float scale, float* out, ThreadPool& pool, Scratch& s) {
  GEMRUN_CHECK(scale > 0.0f);
  const int64_t D = head_dim, ld = int64_t{n_head} * D;
  // Query block: its scores ([block][n] floats) stay within about 1 MiB (L2-resident).
  const int64_t block = std::clamp<int64_t>((int64_t{1} << 18) / std::max<int64_t>(n, 1), 8, 512);
  const int64_t n_blocks = (n + block - 1) / block, n_tasks = n_head * n_blocks;
  s.vt.resize(static_cast<size_t>(ld * n));
  float* vt = s.vt.data();
  pool.ParallelFor(ld, [&](int64_t c0, int64_t c1, int) {  // V -> [head][d][n]
    for (int64_t c = c0; c < c1; ++c)
      for (int64_t j = 0; j < n; ++j) vt[c * n + j] = v[j * ld + c];
  });
  while (s.workers.size() < static_cast<size_t>(pool.size())) s.workers.push_back(std::make_unique<AttentionWorker>());
  std::atomic<int64_t> next{0};
  pool.RunOnAll([&](int worker) {
    AttentionWorker& w = *s.workers[worker];
    w.scores.resize(static_cast<size_t>(std::min(block, n) * n));
    for (int64_t task = next.fetch_add(1); task < n_tasks; task = next.fetch_add(1)) {
      const int64_t h = task / n_blocks, q0 = (task % n_blocks) * block, qb = std::min(block, n - q0);
      // K of head h as an F32 "weight" of n rows (stride ld); V^T of head h as D rows of n.
      TensorView kw;
      kw.type = DType::kF32;
      kw.ne[0] = D;
      kw.ne[1] = n;
      kw.nb[0] = sizeof(float);
      kw.nb[1] = ld * static_cast<int64_t>(sizeof(float));
      kw.nb[2] = kw.nb[3] = kw.nb[1] * n;
      kw.data = reinterpret_cast<const uint8_t*>(k + h * D);
      TensorView vw = kw;
      vw.ne[0] = n;
      vw.ne[1] = D;
      vw.nb[1] = n * static_cast<int64_t>(sizeof(float));
      vw.nb[2] = vw.nb[3] = vw.nb[1] * D;
      vw.data = reinterpret_cast<const uint8_t*>(vt + h * D * n);
      float* sc = w.scores.data();
      kernels::MatMul(kw, q + q0 * ld + h * D, qb, ld, sc, n, w.serial, w.mm);  // [qb][n] = q . k
      w.inv.resize(static_cast<size_t>(qb));
      for (int64_t r = 0; r < qb; ++r) w.inv[r] = SoftmaxRowUnnormalized(sc + r * n, n, scale);
      float* o = out + q0 * ld + h * D;
      kernels::MatMul(vw, sc, qb, n, o, ld, w.serial, w.mm);  // [qb][D] = p . v
      for (int64_t r = 0; r < qb; ++r)
        for (int64_t d = 0; d < D; ++d) o[r * ld + d] *= w.inv[r];
    }
  });
}

void ExtractPatches(const float* planar, int64_t W, int64_t H, int64_t P, float* out) {
  const int64_t nx = W / P, ny = H / P, K = 3 * P * P;
  for (int64_t py = 0; py < ny; ++py)
    for (int64_t px = 0; px < nx; ++px) {
      float* row = out + (py * nx + px) * K;
      for (int64_t c = 0; c < 3; ++c)
        for (int64_t ky = 0; ky < P; ++ky) {
          const float* src = planar + c * W * H + (py * P + ky) * W + px * P;
          std::copy_n(src, P, row + c * P * P + ky * P);
        }
    }
}

void AvgPool(const float* x, int64_t nx, int64_t ny, int64_t C, int64_t k, float* out) {
  const int64_t ox_n = nx / k, oy_n = ny / k;
  const float ka = static_cast<float>(k * k);
  for (int64_t oy = 0; oy < oy_n; ++oy)
    for (int64_t ox = 0; ox < ox_n; ++ox) {
      float* o = out + (oy * ox_n + ox) * C;
      std::fill(o, o + C, 0.0f);
      for (int64_t ky = 0; ky < k; ++ky)
        for (int64_t kx = 0; kx < k; ++kx) {
          const float* r = x + ((oy * k + ky) * nx + ox * k + kx) * C;
          for (int64_t c = 0; c < C; ++c) o[c] += r[c];
        }
      for (int64_t c = 0; c < C; ++c) o[c] /= ka;
    }
}

}  // namespace gemrun::vision::internal
