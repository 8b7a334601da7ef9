// AttentionKv implementation: gather one KV head's queries, two MatMuls around a masked
// softmax, scatter back.
#include "kernels/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "base/fp16.h"

namespace gemrun::kernels {

void StoreKv(const KvLayout& l, uint8_t* k, uint8_t* v, const float* kx, const float* vx,
             int64_t pos0, int64_t T) {
  const int64_t w = int64_t{l.n_head_kv} * l.head_dim;
  if (l.type == DType::kF32) {
    std::memcpy(k + pos0 * w * 4, kx, sizeof(float) * T * w);
    float* vt = reinterpret_cast<float*>(v);
    for (int64_t t = 0; t < T; ++t)
      for (int64_t i = 0; i < w; ++i) vt[i * l.n_ctx + pos0 + t] = vx[t * w + i];
    return;
  }
  uint16_t* kh = reinterpret_cast<uint16_t*>(k) + pos0 * w;
  for (int64_t i = 0; i < T * w; ++i) kh[i] = Fp32ToFp16(kx[i]);
  uint16_t* vt = reinterpret_cast<uint16_t*>(v);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t i = 0; i < w; ++i) vt[i * l.n_ctx + pos0 + t] = Fp32ToFp16(vx[t * w + i]);
}

namespace {

// Masked softmax of one score row over keys [first, first + n) for a query at position pq.
void SoftmaxRow(float* s, int64_t first, int64_t n, int64_t pq, int64_t last_visible, int64_t window) {
  float mx = -std::numeric_limits<float>::infinity();
  for (int64_t j = 0; j < n; ++j) {
    const int64_t pk = first + j;
    const bool visible = pk <= last_visible && (window <= 0 || pq - pk < window);
    if (!visible) s[j] = -std::numeric_limits<float>::infinity();
    mx = std::max(mx, s[j]);
  }
  double sum = 0;
  for (int64_t j = 0; j < n; ++j) {
    const float e = s[j] == -std::numeric_limits<float>::infinity() ? 0.0f : std::exp(s[j] - mx);
    s[j] = e;
    sum += e;
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t j = 0; j < n; ++j) s[j] *= inv;
}

}  // namespace

void AttentionKv(const KvLayout& l, const AttentionArgs& a, const float* q, int64_t T,
                 int64_t pos0, const uint8_t* k, const uint8_t* v, float* out,
                 AttentionScratch& sc, ThreadPool& pool) {
  const int D = l.head_dim, Hk = l.n_head_kv, group = a.n_head / Hk;
  const int64_t kvw = int64_t{Hk} * D, es = l.ElemBytes();
  const int64_t last_key = pos0 + T - 1;
  // Keys any query of the batch can see: [first, last_key].
  const int64_t first = a.window > 0 ? std::max<int64_t>(0, pos0 - a.window + 1) : 0;
  const int64_t n_vis = last_key - first + 1;
  const int64_t rows = T * group;
  sc.q.resize(rows * D);
  sc.out.resize(rows * D);
  sc.scores.resize(rows * n_vis);
  for (int g = 0; g < Hk; ++g) {
    for (int64_t t = 0; t < T; ++t)  // rows ordered (t, head within group)
      std::memcpy(sc.q.data() + t * group * D, q + (t * a.n_head + g * group) * D, sizeof(float) * group * D);
    TensorView kv{};
    kv.type = l.type;
    kv.ne[0] = D;
    kv.ne[1] = n_vis;
    kv.nb[0] = es;
    kv.nb[1] = kvw * es;
    kv.data = k + (first * kvw + int64_t{g} * D) * es;
    MatMul(kv, sc.q.data(), rows, D, sc.scores.data(), n_vis, pool, sc.mm);
    pool.ParallelFor(rows, [&](int64_t r0, int64_t r1, int) {
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t pq = pos0 + r / group;
        SoftmaxRow(sc.scores.data() + r * n_vis, first, n_vis, pq, a.causal ? pq : last_key, a.window);
      }
    });
    TensorView vt{};
    vt.type = l.type;
    vt.ne[0] = n_vis;
    vt.ne[1] = D;
    vt.nb[0] = es;
    vt.nb[1] = l.n_ctx * es;
    vt.data = v + (int64_t{g} * D * l.n_ctx + first) * es;
    MatMul(vt, sc.scores.data(), rows, n_vis, sc.out.data(), D, pool, sc.mm);
    for (int64_t t = 0; t < T; ++t)
      std::memcpy(out + (t * a.n_head + g * group) * D, sc.out.data() + t * group * D, sizeof(float) * group * D);
  }
}

}  // namespace gemrun::kernels
