// AttentionKv implementation: gather one KV head's queries, two MatMuls around a masked
// softmax, scatter back.
#include "kernels/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "base/fp16.h"
#include "base/status.h"
#include "kernels/isa.h"

namespace gemrun::kernels {

void StoreKv(const KvLayout& l, uint8_t* k, uint8_t* v, const float* kx, const float* vx,
             int64_t pos0, int64_t T) {
  const int64_t w = int64_t{l.n_head_kv} * l.head_dim, cap = l.capacity, krow = l.KRowBytes();
  for (int64_t t = 0; t < T; ++t) {
    const int64_t slot = (pos0 + t) % cap;
    switch (l.KType()) {
      case DType::kF32: std::memcpy(k + slot * krow, kx + t * w, sizeof(float) * w); break;
      case DType::kQ8_0:
        ActiveKernels().quantize_act[static_cast<uint32_t>(DType::kQ8_0)](kx + t * w, k + slot * krow, w);
        break;
      default: {
        uint16_t* kh = reinterpret_cast<uint16_t*>(k + slot * krow);
        for (int64_t i = 0; i < w; ++i) kh[i] = Fp32ToFp16(kx[t * w + i]);
      }
    }
    if (l.VType() == DType::kF32) {
      float* vt = reinterpret_cast<float*>(v);
      for (int64_t i = 0; i < w; ++i) vt[i * cap + slot] = vx[t * w + i];
    } else {
      uint16_t* vt = reinterpret_cast<uint16_t*>(v);
      for (int64_t i = 0; i < w; ++i) vt[i * cap + slot] = Fp32ToFp16(vx[t * w + i]);
    }
  }
}

namespace {

constexpr int64_t kScoreBudget = int64_t{1} << 22;  // floats of scores per chunk (16 MiB)
// Causal prefill goes in query chunks of this many tokens, each against only the keys its
// last query can see: about half the products of one pass over every key.
constexpr int64_t kCausalChunk = 64;

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
  if (a.flash) return FlashAttentionKv(l, a, q, T, pos0, k, v, out, sc, pool);
  const int D = l.head_dim, Hk = l.n_head_kv, group = a.n_head / Hk;
  const int64_t ves = l.VElemBytes(), cap = l.capacity;
  const int64_t krow = l.KRowBytes(), khead = RowBytes(l.KType(), D);
  const int64_t last_key = pos0 + T - 1;
  // Keys any query of the batch can see: [first, last_key].
  const int64_t first = a.window > 0 ? std::max<int64_t>(0, pos0 - a.window + 1) : 0;
  const int64_t n_vis_all = last_key - first + 1;
  GEMRUN_CHECK(n_vis_all <= cap);
  // Queries go in chunks so the score matrix stays within a fixed budget (reserved once, so
  // decoding never reallocates); a chunk of one token is always allowed.
  int64_t t_chunk = std::max<int64_t>(1, kScoreBudget / (group * n_vis_all));
  if (a.causal) t_chunk = std::min(t_chunk, kCausalChunk);
  const int64_t max_rows = std::min(T, t_chunk) * group;
  sc.scores.resize(std::max(kScoreBudget, max_rows * n_vis_all));
  // Probabilities are converted for the V product (F16: 2 bytes each): reserve that too.
  if (sc.mm.act.capacity() < static_cast<size_t>(kScoreBudget) * 4) sc.mm.act.reserve(static_cast<size_t>(kScoreBudget) * 4);
  sc.q.resize(std::max<int64_t>(max_rows * D, sc.q.size()));
  sc.out.resize(std::max<int64_t>(max_rows * D, sc.out.size()));
  sc.out2.resize(std::max<int64_t>(max_rows * D, sc.out2.size()));  // for wrapped rings
  for (int64_t t0 = 0; t0 < T; t0 += t_chunk) {
    const int64_t tn = std::min(t_chunk, T - t0), rows = tn * group;
    // This chunk's keys, [c_first, c_last], in at most two runs of ring slots.
    const int64_t c_last = a.causal ? pos0 + t0 + tn - 1 : last_key;
    const int64_t c_first = a.window > 0 ? std::max<int64_t>(0, pos0 + t0 - a.window + 1) : 0;
    const int64_t n_vis = c_last - c_first + 1;
    struct Run { int64_t slot, len, off; };
    Run runs[2];
    int n_runs = 0;
    for (int64_t off = 0; off < n_vis;) {
      const int64_t slot = (c_first + off) % cap, len = std::min(n_vis - off, cap - slot);
      runs[n_runs++] = Run{slot, len, off};
      off += len;
    }
    for (int g = 0; g < Hk; ++g) {
      for (int64_t t = 0; t < tn; ++t)  // rows ordered (t, head within group)
        std::memcpy(sc.q.data() + t * group * D, q + ((t0 + t) * a.n_head + g * group) * D, sizeof(float) * group * D);
      for (int r = 0; r < n_runs; ++r) {
        TensorView kv{};
        kv.type = l.KType();
        kv.ne[0] = D;
        kv.ne[1] = runs[r].len;
        kv.nb[0] = Traits(l.KType()).type_size;
        kv.nb[1] = krow;
        kv.data = k + runs[r].slot * krow + g * khead;
        MatMul(kv, sc.q.data(), rows, D, sc.scores.data() + runs[r].off, n_vis, pool, sc.mm);
      }
      pool.ParallelFor(rows, [&](int64_t r0, int64_t r1, int) {
        for (int64_t r = r0; r < r1; ++r) {
          const int64_t pq = pos0 + t0 + r / group;
          SoftmaxRow(sc.scores.data() + r * n_vis, c_first, n_vis, pq, a.causal ? pq : last_key, a.window);
        }
      });
      for (int r = 0; r < n_runs; ++r) {
        TensorView vt{};
        vt.type = l.VType();
        vt.ne[0] = runs[r].len;
        vt.ne[1] = D;
        vt.nb[0] = ves;
        vt.nb[1] = cap * ves;
        vt.data = v + (int64_t{g} * D * cap + runs[r].slot) * ves;
        float* dst = r == 0 ? sc.out.data() : sc.out2.data();
        MatMul(vt, sc.scores.data() + runs[r].off, rows, n_vis, dst, D, pool, sc.mm);
      }
      if (n_runs > 1)
        for (int64_t i = 0; i < rows * D; ++i) sc.out[i] += sc.out2[i];
      for (int64_t t = 0; t < tn; ++t)
        std::memcpy(out + ((t0 + t) * a.n_head + g * group) * D, sc.out.data() + t * group * D,
                    sizeof(float) * group * D);
    }
  }
}

}  // namespace gemrun::kernels
