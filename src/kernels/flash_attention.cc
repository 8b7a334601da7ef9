// The fused (flash-style) AttentionKv: scores never leave a small per-thread tile.
//
// Work is split into tasks of (KV head, query block, key split). A task walks its keys in
// blocks of kKeyBlock: scores of the block (the ISA's dot tile on the cached K rows), an
// online-softmax update (running max m, running sum l, the output rescaled when m grows),
// then P·V for the block (the dot tile on the transposed V rows, copied together first)
// added to the output. The scores of a block are 64 x 256 floats at most, so they stay in L2
// however long the context is. Query blocks are the tokens of up to kQueryRows rows (token x
// head of the group); with fewer (head, block) tasks than threads (decoding) the keys are
// split too and the partial (m, l, O) of the splits are merged at the end. Tasks are taken from a shared
// counter, latest query block first, which balances causal prefill where later blocks see
// more keys; results do not depend on which thread runs a task.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>

#include "base/status.h"
#include "kernels/attention.h"
#include "kernels/isa.h"

namespace gemrun::kernels {
namespace {

constexpr int64_t kKeyBlock = 256;  // keys per online-softmax step
constexpr int64_t kQueryRows = 64;  // query rows (tokens x heads of a KV group) per task
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

struct Plan {
  int D, Hk, group;
  int64_t T, pos0, cap, last_key, tq, n_qb, n_split;
  int64_t krow, khead, ves;
  DType kt, vt;            // cache types of K and V (the dot tiles' weight types)
  DType kd, vd;            // activation formats of the K and V dot products
  int64_t qa_row, pa_row;  // bytes of one converted query row / probability row
};

// Offset in q / out ([T][n_head][D]) of row r (token r / group, head r % group of KV head g)
// of the query block starting at token t0.
int64_t RowOffset(const Plan& p, const AttentionArgs& a, int64_t t0, int g, int64_t r) {
  return ((t0 + r / p.group) * a.n_head + g * p.group + r % p.group) * p.D;
}

// Task i's query block and KV head: latest block first (most keys), then head, then split.
void TaskOf(const Plan& p, int64_t i, int64_t* qb, int* g) {
  *qb = p.n_qb - 1 - i / (int64_t{p.Hk} * p.n_split);
  *g = static_cast<int>(i / p.n_split % p.Hk);
}

// Keys of query block qb: [lo, hi].
void KeyRange(const Plan& p, const AttentionArgs& a, int64_t qb, int64_t* lo, int64_t* hi) {
  const int64_t t0 = qb * p.tq, tn = std::min(p.tq, p.T - t0);
  *hi = a.causal ? p.pos0 + t0 + tn - 1 : p.last_key;
  *lo = a.window > 0 ? std::max<int64_t>(0, p.pos0 + t0 - a.window + 1) : 0;
}

// One row's online-softmax step over a block of n scores starting at key position j0:
// masks, updates m and l, turns the scores into probabilities (0 where masked) and returns
// the factor the row's output so far must be multiplied by (1: unchanged).
float SoftmaxStep(float* s, int64_t n, int64_t j0, int64_t pq, int64_t last_visible, int64_t window, float* m,
                  float* l) {
  float mx = kNegInf;
  for (int64_t j = 0; j < n; ++j) {
    const int64_t pk = j0 + j;
    if (pk > last_visible || (window > 0 && pq - pk >= window)) s[j] = kNegInf;
    mx = std::max(mx, s[j]);
  }
  if (mx == kNegInf) {  // nothing visible to this row in this block
    std::fill(s, s + n, 0.0f);
    return 1.0f;
  }
  const float m_new = std::max(*m, mx);
  const float corr = *m == kNegInf ? 0.0f : std::exp(*m - m_new);
  float sum = 0.0f;
  for (int64_t j = 0; j < n; ++j) {
    const float e = s[j] == kNegInf ? 0.0f : std::exp(s[j] - m_new);
    s[j] = e;
    sum += e;
  }
  *l = *l * corr + sum;
  *m = m_new;
  return corr;
}

// Runs task (g, qb, split) into fs.o / fs.m / fs.l (unnormalized output, running max and sum).
void RunTask(const Plan& p, const AttentionArgs& a, const float* q, const uint8_t* k, const uint8_t* v, int g,
             int64_t qb, int64_t split, FlashScratch& fs) {
  const IsaKernels& ks = ActiveKernels();
  const int D = p.D, group = p.group;
  const int64_t t0 = qb * p.tq, tn = std::min(p.tq, p.T - t0), R = tn * group;
  int64_t lo, hi;
  KeyRange(p, a, qb, &lo, &hi);
  const int64_t per = ((hi - lo + 1 + p.n_split - 1) / p.n_split + kKeyBlock - 1) / kKeyBlock * kKeyBlock;
  const int64_t s_lo = lo + split * per, s_hi = std::min(hi, s_lo + per - 1);

  // Queries in the K dot's format, rows ordered (token, head within the group).
  const QuantizeActFn to_k = ks.quantize_act[static_cast<uint32_t>(p.kd)];
  for (int64_t r = 0; r < R; ++r)
    to_k(q + RowOffset(p, a, t0, g, r), fs.qa.data() + r * p.qa_row, D);
  std::fill(fs.m.data(), fs.m.data() + R, kNegInf);
  std::fill(fs.l.data(), fs.l.data() + R, 0.0f);
  std::fill(fs.o.data(), fs.o.data() + R * D, 0.0f);

  const DotTileFn k_dot = ks.dot_tile[static_cast<uint32_t>(p.kt)];
  const DotTileFn v_dot = ks.dot_tile[static_cast<uint32_t>(p.vt)];
  const QuantizeActFn to_v = ks.quantize_act[static_cast<uint32_t>(p.vd)];
  for (int64_t j0 = s_lo; j0 <= s_hi;) {
    const int64_t slot = j0 % p.cap, n = std::min({kKeyBlock, s_hi - j0 + 1, p.cap - slot});
    float* s = fs.s.data();
    k_dot(D, k + slot * p.krow + g * p.khead, p.krow, static_cast<int>(n), fs.qa.data(), p.qa_row,
          static_cast<int>(R), s, n);
    for (int64_t r = 0; r < R; ++r) {
      const int64_t pq = p.pos0 + t0 + r / group;
      const float corr = SoftmaxStep(s + r * n, n, j0, pq, a.causal ? pq : p.last_key, a.window, &fs.m[r], &fs.l[r]);
      if (corr != 1.0f)
        for (int i = 0; i < D; ++i) fs.o[r * D + i] *= corr;
      to_v(s + r * n, fs.pa.data() + r * p.pa_row, n);
    }
    // The block's V rows (one per dimension, cap apart in the cache: a page each) copied
    // together first, so the tile's passes over them stay in L1/L2.
    const uint8_t* vsrc = v + (int64_t{g} * D * p.cap + slot) * p.ves;
    const int64_t vrow = n * p.ves;
    for (int d = 0; d < D; ++d) std::memcpy(fs.vt.data() + d * vrow, vsrc + d * p.cap * p.ves, static_cast<size_t>(vrow));
    v_dot(n, fs.vt.data(), vrow, D, fs.pa.data(), p.pa_row, static_cast<int>(R), fs.tmp.data(), D);
    for (int64_t i = 0; i < R * D; ++i) fs.o[i] += fs.tmp[i];
    j0 += n;
  }
}

}  // namespace

void FlashAttentionKv(const KvLayout& l, const AttentionArgs& a, const float* q, int64_t T, int64_t pos0,
                      const uint8_t* k, const uint8_t* v, float* out, AttentionScratch& sc, ThreadPool& pool) {
  Plan p{};
  p.D = l.head_dim;
  p.Hk = l.n_head_kv;
  p.group = a.n_head / p.Hk;
  p.T = T;
  p.pos0 = pos0;
  p.cap = l.capacity;
  p.last_key = pos0 + T - 1;
  p.tq = std::max<int64_t>(1, kQueryRows / p.group);
  p.n_qb = (T + p.tq - 1) / p.tq;
  p.krow = l.KRowBytes();
  p.khead = RowBytes(l.KType(), p.D);
  p.ves = l.VElemBytes();
  p.kt = l.KType();
  p.vt = l.VType();
  p.kd = Traits(p.kt).vec_dot;
  p.vd = Traits(p.vt).vec_dot;
  p.qa_row = RowBytes(p.kd, p.D);
  p.pa_row = RowBytes(p.vd, kKeyBlock);
  const int64_t first = a.window > 0 ? std::max<int64_t>(0, pos0 - a.window + 1) : 0;
  GEMRUN_CHECK(p.last_key - first + 1 <= p.cap);

  // Split the keys when (head, block) tasks cannot keep the threads busy, a block each at least.
  const int threads = pool.size();
  const int64_t tasks0 = int64_t{p.Hk} * p.n_qb;
  p.n_split = 1;
  if (tasks0 < threads) {
    const int64_t keys = p.last_key - first + 1;
    p.n_split = std::clamp<int64_t>((keys + kKeyBlock - 1) / kKeyBlock, 1, (threads + tasks0 - 1) / tasks0);
  }
  const int64_t n_tasks = tasks0 * p.n_split;
  const int64_t R = std::min(p.tq, T) * p.group;

  // Scratch: sized once per shape, reused (decoding allocates nothing after its first step).
  if (sc.flash.size() < static_cast<size_t>(threads)) sc.flash.resize(static_cast<size_t>(threads));
  for (FlashScratch& fs : sc.flash) {
    if (fs.qa.size() < static_cast<size_t>(R * p.qa_row)) fs.qa.resize(static_cast<size_t>(R * p.qa_row));
    if (fs.pa.size() < static_cast<size_t>(R * p.pa_row)) fs.pa.resize(static_cast<size_t>(R * p.pa_row));
    if (fs.vt.size() < static_cast<size_t>(p.D * kKeyBlock * p.ves)) fs.vt.resize(static_cast<size_t>(p.D * kKeyBlock * p.ves));
    if (fs.s.size() < static_cast<size_t>(R * kKeyBlock)) fs.s.resize(static_cast<size_t>(R * kKeyBlock));
    if (fs.o.size() < static_cast<size_t>(R * p.D)) fs.o.resize(static_cast<size_t>(R * p.D));
    if (fs.tmp.size() < static_cast<size_t>(R * p.D)) fs.tmp.resize(static_cast<size_t>(R * p.D));
    if (fs.m.size() < static_cast<size_t>(R)) fs.m.resize(static_cast<size_t>(R));
    if (fs.l.size() < static_cast<size_t>(R)) fs.l.resize(static_cast<size_t>(R));
  }
  const size_t part = static_cast<size_t>(R * (p.D + 2));  // one split's o, m and l
  if (p.n_split > 1 && sc.partial.size() < part * n_tasks) sc.partial.resize(part * n_tasks);

  std::atomic<int64_t> next{0};
  pool.RunOnAll([&](int worker) {
    FlashScratch& fs = sc.flash[static_cast<size_t>(worker)];
    for (int64_t i = next.fetch_add(1, std::memory_order_relaxed); i < n_tasks;
         i = next.fetch_add(1, std::memory_order_relaxed)) {
      int64_t qb;
      int g;
      TaskOf(p, i, &qb, &g);
      RunTask(p, a, q, k, v, g, qb, i % p.n_split, fs);
      const int64_t t0 = qb * p.tq, rows = std::min(p.tq, T - t0) * p.group;
      if (p.n_split == 1) {
        for (int64_t r = 0; r < rows; ++r) {
          const float inv = fs.l[r] > 0.0f ? 1.0f / fs.l[r] : 0.0f;
          float* dst = out + RowOffset(p, a, t0, g, r);
          for (int d = 0; d < p.D; ++d) dst[d] = fs.o[r * p.D + d] * inv;
        }
      } else {
        float* dst = sc.partial.data() + part * i;
        std::memcpy(dst, fs.o.data(), sizeof(float) * rows * p.D);
        std::memcpy(dst + R * p.D, fs.m.data(), sizeof(float) * rows);
        std::memcpy(dst + R * (p.D + 1), fs.l.data(), sizeof(float) * rows);
      }
    }
  });
  if (p.n_split == 1) return;

  // Merge the splits of each (head, block): rescale every partial to the common max.
  for (int64_t i0 = 0; i0 < n_tasks; i0 += p.n_split) {
    int64_t qb;
    int g;
    TaskOf(p, i0, &qb, &g);
    const int64_t t0 = qb * p.tq, rows = std::min(p.tq, T - t0) * p.group;
    for (int64_t r = 0; r < rows; ++r) {
      float mx = kNegInf;
      for (int64_t s = 0; s < p.n_split; ++s) mx = std::max(mx, sc.partial[part * (i0 + s) + R * p.D + r]);
      float* dst = out + RowOffset(p, a, t0, g, r);
      std::fill(dst, dst + p.D, 0.0f);
      float sum = 0.0f;
      for (int64_t s = 0; s < p.n_split; ++s) {
        const float* ps = sc.partial.data() + part * (i0 + s);
        const float ms = ps[R * p.D + r];
        if (ms == kNegInf) continue;
        const float w = std::exp(ms - mx);
        sum += ps[R * (p.D + 1) + r] * w;
        for (int d = 0; d < p.D; ++d) dst[d] += ps[r * p.D + d] * w;
      }
      const float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
      for (int d = 0; d < p.D; ++d) dst[d] *= inv;
    }
  }
}

}  // namespace gemrun::kernels
