// Row-interleaved (kRows16) weights: the layout round-trips, every compiled kRows16 tile
// matches the scalar dot on the original rows for any number of activation rows and several
// cache blocks, the activation block sums match their scalar twin exactly (and the codes),
// and MatMul / GetRow on a packed matrix give what they give on the original.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "base/fp16.h"
#include "kernels/isa.h"
#include "kernels/kernels.h"
#include "kernels/ref/ref_kernels.h"
#include "kernels/repack.h"
#include "quant/quant.h"
#include "threading/thread_pool.h"

namespace gemrun::kernels {
namespace {

using Bytes = std::vector<uint8_t>;

struct Aligned {
  std::unique_ptr<uint8_t, decltype(&std::free)> p{nullptr, &std::free};
  explicit Aligned(size_t n) : p(static_cast<uint8_t*>(std::aligned_alloc(64, (n + 63) / 64 * 64)), &std::free) {}
  uint8_t* get() const { return p.get(); }
};

const DType kPackable[] = {DType::kQ4_0, DType::kQ5_0, DType::kQ8_0, DType::kQ4_K, DType::kQ6_K};

bool IsSuper(DType t) { return t == DType::kQ4_K || t == DType::kQ6_K; }

// Row lengths that the type's layout holds: 32-value blocks need an even count; K-quants any
// number of 256-value super-blocks (1152 = 4.5 of them is replaced).
int64_t Fit(DType t, int64_t K) { return IsSuper(t) ? (K + 255) / 256 * 256 : K; }

// N rows of K values: random codes, high bits and scales (every byte value, -128 included for
// Q8_0 codes and Q6_K scales), small positive and negative f16 d (and dmin for Q4_K; Q6_K's d
// is the last 2 bytes of its block).
Bytes RandomWeight(DType t, int64_t K, int64_t N, uint32_t seed) {
  std::mt19937 rng(seed);
  const int64_t nb = K / Traits(t).block_size, bs = Traits(t).type_size;
  const int n_scales = t == DType::kQ4_K ? 2 : 1;
  const int64_t d_at = t == DType::kQ6_K ? bs - 2 : 0;
  Bytes w(static_cast<size_t>(N * nb * bs));
  for (int64_t b = 0; b < N * nb; ++b) {
    uint8_t* blk = w.data() + b * bs;
    for (int64_t i = 0; i < bs; ++i) blk[i] = static_cast<uint8_t>(rng());
    for (int i = 0; i < n_scales; ++i) {
      const uint16_t d = Fp32ToFp16((static_cast<float>(rng() % 2000) - 1000.0f) * 1e-5f);
      std::memcpy(blk + d_at + 2 * i, &d, 2);
    }
  }
  return w;
}

std::vector<float> RandomActs(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n));
  for (auto& v : x) v = dist(rng);
  for (int64_t i = 0; i < n; i += 97) x[static_cast<size_t>(i)] *= 30.0f;  // outliers
  return x;
}

std::vector<Isa> IsasWithRows16(DType t) {
  std::vector<Isa> v;
  for (Isa i : {Isa::kScalar, Isa::kAvx2, Isa::kAvx2Vnni, Isa::kAvx512})
    if (IsaAvailable(i) && KernelsFor(i).rows16_tile[static_cast<uint32_t>(t)]) v.push_back(i);
  return v;
}

TEST(RepackTest, LayoutsRoundTrip) {
  for (DType t : kPackable) {
    const int64_t K = Fit(t, 1152), N = 48, rb = RowBytes(t, K);
    const Bytes w = RandomWeight(t, K, N, 1);
    Aligned packed(w.size());
    PackRows16(t, w.data(), rb, 0, N, packed.get());
    EXPECT_NE(0, std::memcmp(packed.get(), w.data(), w.size()));
    Bytes row(static_cast<size_t>(rb));
    for (int64_t i = 0; i < N; ++i) {
      UnpackRow16(t, packed.get(), rb, i, row.data());
      ASSERT_EQ(0, std::memcmp(row.data(), w.data() + i * rb, static_cast<size_t>(rb))) << DTypeName(t) << " row " << i;
    }
  }
}

TEST(RepackTest, Q8_0SumsMatchScalar) {
  if (!IsaAvailable(Isa::kAvx2)) GTEST_SKIP() << "no AVX2/AVX-512 on this CPU: no SIMD block sums to compare";
  const int64_t K = 4096, nb = K / 32;
  const std::vector<float> x = RandomActs(K, 3);
  Bytes q(static_cast<size_t>(RowBytes(DType::kQ8_0, K)));
  QuantizeActRowRef(DType::kQ8_0, x.data(), q.data(), K);
  std::vector<float> d0(nb), d1(nb);
  std::vector<int32_t> s0(nb), s1(nb);
  const uint32_t q8 = static_cast<uint32_t>(DType::kQ8_0);
  RefKernels().block_sums[q8](q.data(), nb, d0.data(), s0.data());
  for (int64_t b = 0; b < nb; ++b) {
    int32_t s = 0;
    for (int i = 0; i < 32; ++i) s += static_cast<int8_t>(q[static_cast<size_t>(b * 34 + 2 + i)]);
    ASSERT_EQ(s0[b], s) << "block " << b;
  }
  for (Isa isa : {Isa::kAvx2, Isa::kAvx2Vnni, Isa::kAvx512}) {
    if (!IsaAvailable(isa)) continue;
    KernelsFor(isa).block_sums[q8](q.data(), nb, d1.data(), s1.data());
    EXPECT_EQ(d0, d1) << IsaName(isa);
    EXPECT_EQ(s0, s1) << IsaName(isa);
  }
}

// Q8_K: the scale, and per 32-code sub-block the sum of its codes, in int16 pairs.
TEST(RepackTest, Q8_KSumsAreTheSubBlockSums) {
  const int64_t K = 1024, nsb = K / 256, rb = RowBytes(DType::kQ8_K, K);
  const std::vector<float> x = RandomActs(K, 4);
  Bytes q(static_cast<size_t>(rb));
  QuantizeActRowRef(DType::kQ8_K, x.data(), q.data(), K);
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx2Vnni, Isa::kAvx512}) {
    if (!IsaAvailable(isa)) continue;
    std::vector<float> d(nsb);
    std::vector<int32_t> s(nsb * 4);
    KernelsFor(isa).block_sums[static_cast<uint32_t>(DType::kQ8_K)](q.data(), nsb, d.data(), s.data());
    for (int64_t b = 0; b < nsb; ++b) {
      const uint8_t* blk = q.data() + b * (rb / nsb);
      float want_d;
      std::memcpy(&want_d, blk, 4);
      EXPECT_EQ(d[b], want_d);
      for (int j = 0; j < 8; ++j) {
        int32_t sum = 0;
        for (int i = 0; i < 32; ++i) sum += static_cast<int8_t>(blk[4 + 32 * j + i]);
        const auto half = static_cast<int16_t>(static_cast<uint32_t>(s[b * 4 + j / 2]) >> (16 * (j % 2)));
        ASSERT_EQ(half, sum) << IsaName(isa) << " super-block " << b << " sub-block " << j;
      }
    }
  }
}

// Tile vs the scalar dot on the unpacked rows, including rows the tile must not touch.
void CheckTile(Isa isa, DType wt, int64_t K, int64_t N, int64_t T, uint32_t seed) {
  const DType vd = Traits(wt).vec_dot;
  const int64_t rb = RowBytes(wt, K), ldo = N + 5, nd = BlockSumsScales(vd, K), ns = BlockSumsInts(vd, K);
  const Bytes w = RandomWeight(wt, K, N, seed);
  Aligned packed(w.size());
  PackRows16(wt, w.data(), rb, 0, N, packed.get());
  const int64_t as = RowBytes(vd, K);
  Bytes a(static_cast<size_t>(as * T));
  std::vector<float> ad(nd * T);
  std::vector<int32_t> asum(ns * T);
  for (int64_t t = 0; t < T; ++t) {
    const std::vector<float> x = RandomActs(K, seed * 7 + static_cast<uint32_t>(t));
    QuantizeActRowRef(vd, x.data(), a.data() + t * as, K);
    RefKernels().block_sums[static_cast<uint32_t>(vd)](a.data() + t * as, nd, ad.data() + t * nd, asum.data() + t * ns);
  }
  std::vector<float> got(static_cast<size_t>(T * ldo), -7.0f);
  KernelsFor(isa).rows16_tile[static_cast<uint32_t>(wt)](K, packed.get(), N, a.data(), as, ad.data(),
                                                                   asum.data(), T, got.data(), ldo);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t r = 0; r < ldo; ++r) {
      const float g = got[static_cast<size_t>(t * ldo + r)];
      if (r >= N) {
        ASSERT_EQ(g, -7.0f) << "wrote past N";
        continue;
      }
      const float want = VecDotRef(wt, K, w.data() + r * rb, a.data() + t * as);
      ASSERT_NEAR(g, want, 1e-4f * (1.0f + std::fabs(want)))
          << IsaName(isa) << " " << DTypeName(wt) << " K=" << K << " N=" << N << " T=" << T << " t=" << t << " r=" << r;
    }
}

TEST(RepackTest, Rows16TilesMatchScalarDot) {
  bool any = false;
  for (DType wt : kPackable) any = any || !IsasWithRows16(wt).empty();
  if (!any) GTEST_SKIP() << "this CPU's kernel set has no row-interleaved tiles (needs AVX-512 VNNI)";
  for (DType wt : kPackable)
    for (Isa isa : IsasWithRows16(wt))
      for (int64_t K0 : {64, 128, 1152, 4096})
        for (int64_t T : {1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 33}) {
          const int64_t K = Fit(wt, K0);
          CheckTile(isa, wt, K, K == 4096 ? 160 : 48, T, static_cast<uint32_t>(K + T));
        }
}

// The YMM levels on their own (Rows16TilesMatchScalarDot covers them too when present), so a
// run on a CPU without them says so instead of passing silently.
void CheckYmmLevel(Isa isa, std::initializer_list<DType> types) {
  if (!IsaAvailable(isa)) GTEST_SKIP() << IsaName(isa) << " is not available on this CPU or in this binary";
  EXPECT_NE(KernelsFor(isa).rows16_desc, nullptr);
  for (DType wt : types) {
    ASSERT_NE(KernelsFor(isa).rows16_tile[static_cast<uint32_t>(wt)], nullptr) << DTypeName(wt);
    for (int64_t T : {1, 2, 4, 5, 6, 11})  // decode (both halves), one and several column passes
      CheckTile(isa, wt, Fit(wt, 1024), 64, T, static_cast<uint32_t>(T + 100));
  }
}

TEST(RepackTest, Avx2VnniTilesMatchScalarDot) {
  CheckYmmLevel(Isa::kAvx2Vnni, {DType::kQ4_0, DType::kQ5_0, DType::kQ8_0, DType::kQ4_K, DType::kQ6_K});
}

TEST(RepackTest, Avx2TilesMatchScalarDot) {
  CheckYmmLevel(Isa::kAvx2, {DType::kQ4_0, DType::kQ5_0, DType::kQ8_0, DType::kQ4_K, DType::kQ6_K});
}

void CheckPackedMatMul(DType t) {
  const int64_t K = Fit(t, 1152), N = 96;
  Bytes w = RandomWeight(t, K, N, 9);
  TensorView v;
  v.type = t;
  v.ne[0] = K;
  v.ne[1] = N;
  v.nb[0] = Traits(t).type_size;
  v.nb[1] = RowBytes(t, K);
  v.nb[2] = v.nb[3] = v.nb[1] * N;
  v.data = w.data();
  TensorView p = v;
  PackedWeights store;
  const bool packed = store.Pack(&p, 2, /*release_source=*/false);
  EXPECT_EQ(packed, CanPackRows16(v));
  if (!packed) return;  // no kRows16 kernel on this CPU
  EXPECT_EQ(p.layout, WeightLayout::kRows16);
  EXPECT_EQ(store.bytes(), w.size());

  std::vector<float> r0(K), r1(K);
  for (int64_t i : {0, 15, 16, 95}) {
    GetRow(v, i, r0.data());
    GetRow(p, i, r1.data());
    ASSERT_EQ(r0, r1) << DTypeName(t) << " row " << i;
  }
  const int64_t T = 21;
  std::vector<float> x(T * K);
  for (int64_t t = 0; t < T; ++t) {
    const std::vector<float> row = RandomActs(K, 50 + static_cast<uint32_t>(t));
    std::copy(row.begin(), row.end(), x.begin() + t * K);
  }
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    MatMulScratch s0, s1;
    std::vector<float> y0(T * N), y1(T * N), y2(T * N);
    MatMul(v, x.data(), T, K, y0.data(), N, pool, s0);
    MatMul(p, x.data(), T, K, y1.data(), N, pool, s1);
    MatMul(p, x.data(), T, K, y2.data(), N, pool, s1);
    for (int64_t i = 0; i < T * N; ++i) {
      ASSERT_NEAR(y0[i], y1[i], 1e-4f * (1.0f + std::fabs(y0[i]))) << DTypeName(t) << " i=" << i << " threads=" << threads;
      ASSERT_EQ(y1[i], y2[i]) << "not deterministic";
    }
  }
}

TEST(RepackTest, PackedMatMulAndGetRowMatchTheFileLayout) {
  for (DType t : kPackable) CheckPackedMatMul(t);
}

TEST(RepackTest, ShapesTheLayoutCannotHoldStayInFileLayout) {
  Bytes w = RandomWeight(DType::kQ4_0, 96, 32, 2);  // 3 blocks per row: odd
  TensorView v;
  v.type = DType::kQ4_0;
  v.ne[0] = 96;
  v.ne[1] = 32;
  v.nb[0] = 18;
  v.nb[1] = 3 * 18;
  v.data = w.data();
  EXPECT_FALSE(CanPackRows16(v));
  v.ne[0] = 128;
  v.nb[1] = 4 * 18;
  v.ne[1] = 24;  // not a multiple of 16 rows
  EXPECT_FALSE(CanPackRows16(v));
  v.type = DType::kQ5_K;  // no kRows16 layout
  EXPECT_FALSE(CanPackRows16(v));
}

}  // namespace
}  // namespace gemrun::kernels
