// AttentionKv, both the scores + softmax + PV path and the fused (flash) one, against a naive
// f64 softmax attention over the same keys: causal prefill long enough for several query
// chunks, sliding windows over a wrapped ring cache, a batch that sees itself (non-causal, as
// image tokens do), decode steps (the fused kernel splits their keys over the threads), GQA,
// F32, F16 and Q8_0-K caches, 1 to 3 threads.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "base/fp16.h"
#include "kernels/attention.h"
#include "quant/quant.h"
#include "threading/thread_pool.h"

namespace gemrun::kernels {
namespace {

struct Case {
  DType type;
  int n_head, n_head_kv, D;
  int64_t window, pos0, T;
  bool causal;
};

float Round(DType t, float v) { return t == DType::kF16 ? Fp16ToFp32(Fp32ToFp16(v)) : v; }

// Rows of n values as a cache of type t stores (and a query against it is converted) them.
std::vector<float> AsStored(DType t, const std::vector<float>& x, int64_t n) {
  std::vector<float> y(x.size());
  std::vector<uint8_t> q(static_cast<size_t>(RowBytes(DType::kQ8_0, n)));
  for (size_t r = 0; r < x.size() / n; ++r) {
    if (t == DType::kQ8_0) {
      QuantizeActRowRef(DType::kQ8_0, x.data() + r * n, q.data(), n);
      DequantizeRowRef(DType::kQ8_0, q.data(), y.data() + r * n, n);
    } else {
      for (int64_t i = 0; i < n; ++i) y[r * n + i] = Round(t, x[r * n + i]);
    }
  }
  return y;
}

void Check(const Case& c, bool flash, ThreadPool& pool) {
  const int64_t n_pos = c.pos0 + c.T, kvw = int64_t{c.n_head_kv} * c.D, qw = int64_t{c.n_head} * c.D;
  const int64_t cap = c.window > 0 ? c.window + c.T + 3 : n_pos;  // a ring that wraps for long runs
  std::mt19937 rng(static_cast<uint32_t>(c.pos0 * 31 + c.T));
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> kx(n_pos * kvw), vx(n_pos * kvw), q(c.T * qw);
  for (auto& v : kx) v = dist(rng);
  for (auto& v : vx) v = dist(rng);
  for (auto& v : q) v = 0.3f * dist(rng);

  KvLayout l{c.type, c.n_head_kv, c.D, cap};
  std::vector<uint8_t> k(static_cast<size_t>(l.KBytes())), v(static_cast<size_t>(l.VBytes()));
  for (int64_t p = 0; p < n_pos; p += 7)  // store in uneven batches, as decoding and prefill do
    StoreKv(l, k.data(), v.data(), kx.data() + p * kvw, vx.data() + p * kvw, p, std::min<int64_t>(7, n_pos - p));

  std::vector<float> out(c.T * qw, -1.0f);
  AttentionScratch sc;
  AttentionKv(l, AttentionArgs{c.n_head, c.window, c.causal, flash}, q.data(), c.T, c.pos0, k.data(), v.data(),
              out.data(), sc, pool);

  const int group = c.n_head / c.n_head_kv;
  const std::vector<float> ks = AsStored(l.KType(), kx, kvw), vs = AsStored(l.VType(), vx, kvw);
  const std::vector<float> qs = AsStored(l.KType(), q, c.D);
  for (int64_t t = 0; t < c.T; ++t) {
    const int64_t pq = c.pos0 + t, last = c.causal ? pq : n_pos - 1;
    for (int h = 0; h < c.n_head; ++h) {
      const int g = h / group;
      const float* qh = q.data() + t * qw + h * c.D;
      std::vector<double> s;
      std::vector<int64_t> keys;
      for (int64_t pk = 0; pk <= last; ++pk) {
        if (c.window > 0 && pq - pk >= c.window) continue;
        double d = 0;
        for (int i = 0; i < c.D; ++i)
          d += static_cast<double>(qs[qh - q.data() + i]) * ks[pk * kvw + g * c.D + i];
        s.push_back(d);
        keys.push_back(pk);
      }
      const double mx = *std::max_element(s.begin(), s.end());
      double sum = 0;
      for (double& e : s) sum += (e = std::exp(e - mx));
      for (int i = 0; i < c.D; ++i) {
        double o = 0;
        for (size_t j = 0; j < keys.size(); ++j) o += s[j] / sum * vs[keys[j] * kvw + g * c.D + i];
        const float got = out[t * qw + h * c.D + i];
        ASSERT_NEAR(got, o, c.type == DType::kF32 ? 1e-4 : 2e-2)
            << "t=" << t << " h=" << h << " i=" << i << " window=" << c.window << " pos0=" << c.pos0 << " T=" << c.T
            << " causal=" << c.causal << " type=" << static_cast<int>(c.type) << " flash=" << flash
            << " threads=" << pool.size();
      }
    }
  }
}

const Case kCases[] = {
  {DType::kF32, 4, 1, 32, 0, 0, 150, true},     // causal prefill over several query chunks
  {DType::kF32, 4, 2, 32, 0, 37, 100, true},    // after a cached prefix
  {DType::kF32, 4, 1, 32, 40, 0, 150, true},    // sliding window inside the batch
  {DType::kF32, 4, 1, 32, 40, 200, 90, true},   // window over a wrapped ring
  {DType::kF32, 4, 1, 32, 40, 200, 90, false},  // the batch sees itself (image tokens)
  {DType::kF32, 4, 1, 32, 0, 20, 70, false},
  {DType::kF32, 4, 4, 16, 40, 300, 1, true},    // decode steps
  {DType::kF32, 8, 2, 16, 0, 77, 1, true},
  {DType::kF16, 4, 1, 64, 0, 5, 130, true},
  {DType::kF16, 4, 1, 64, 48, 130, 70, true},
  {DType::kF16, 4, 1, 64, 48, 130, 70, false},
  {DType::kQ8_0, 4, 1, 64, 0, 5, 130, true},    // q8_0 K, f16 V
  {DType::kQ8_0, 4, 2, 64, 48, 130, 70, true},
  {DType::kQ8_0, 4, 1, 64, 48, 130, 70, false},
  {DType::kQ8_0, 8, 2, 32, 0, 77, 1, true},
  {DType::kF32, 4, 1, 32, 0, 700, 1, true},     // long decode: several key blocks per split
  {DType::kF16, 2, 1, 64, 300, 900, 2, true},   // a window whose key blocks cross the ring's wrap
  {DType::kF16, 8, 4, 32, 0, 0, 300, true},     // more query blocks than threads, 4 heads
};

TEST(AttentionTest, MatchesNaiveSoftmaxAttention) {
  ThreadPool pool(2);
  for (const Case& c : kCases) Check(c, /*flash=*/false, pool);
}

TEST(AttentionTest, FusedMatchesNaiveSoftmaxAttention) {
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    for (const Case& c : kCases) Check(c, /*flash=*/true, pool);
  }
}

}  // namespace
}  // namespace gemrun::kernels
