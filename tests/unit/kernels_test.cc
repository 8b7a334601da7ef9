// Every compiled SIMD kernel set against the scalar twin (kernels/ref, built on quant/quant.h):
// activation quantizers bit for bit (Q8 codes may differ by one at exact ties), dot tiles for
// every weight type and tile shape within a tolerance derived from sum |w_i a_i|, and MatMul
// against an f64 reference with determinism across runs, for several thread counts.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "base/fp16.h"
#include "kernels/isa.h"
#include "kernels/kernels.h"
#include "kernels/ops.h"
#include "kernels/ref/ref_kernels.h"
#include "quant/blocks.h"
#include "quant/quant.h"
#include "tensor/dtype.h"
#include "threading/thread_pool.h"

namespace gemrun::kernels {
namespace {

using Bytes = std::vector<uint8_t>;

const DType kWeightTypes[] = {DType::kF32,  DType::kF16,  DType::kBF16, DType::kQ4_0,  DType::kQ4_1,
                              DType::kQ5_0, DType::kQ5_1, DType::kQ8_0, DType::kQ2_K,  DType::kQ3_K,
                              DType::kQ4_K, DType::kQ5_K, DType::kQ6_K, DType::kIQ4_NL, DType::kIQ4_XS};
const DType kActFormats[] = {DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0, DType::kQ8_1, DType::kQ8_K};

// Every SIMD level of this binary the CPU runs (x86: avx2, avx2vnni, avx512; AArch64: neon,
// neondot, neoni8mm).
std::vector<Isa> SimdIsas() {
  std::vector<Isa> v;
  for (Isa i : kIsasByRank)
    if (i != Isa::kScalar && IsaAvailable(i)) v.push_back(i);
  return v;
}

// The parity tests compare SIMD sets with the scalar twins; on a CPU without any they would
// loop over nothing and pass, so they say that they did not run.
#define SKIP_WITHOUT_SIMD()                                                              \
  if (SimdIsas().empty())                                                                \
  GTEST_SKIP() << "this CPU has no AVX2/AVX-512/NEON (or the OS does not enable it): no SIMD " \
                  "kernels to compare with the scalar twins"

#if defined(__aarch64__)
// The parity tests here cover the NEON levels the CPU has; one it lacks is reported as a skip
// with the reason (CI requires all three: GEMRUN_REQUIRE_ISA in kernels_isa_test).
TEST(KernelsTest, EveryNeonLevelIsCompared) {
  std::string missing;
  for (Isa isa : {Isa::kNeon, Isa::kNeonDot, Isa::kNeonI8mm})
    if (!IsaAvailable(isa)) missing += std::string(missing.empty() ? "" : ", ") + IsaName(isa);
  if (!missing.empty())
    GTEST_SKIP() << "this CPU lacks the features of " << missing << " (dotprod: sdot, i8mm: smmla): "
                 << "those tiles were not compared with the scalar twins";
}
#endif

// Activations shaped like a model's: mostly N(0, 1) with a few outliers, an all-zero block and
// some exact zeros.
std::vector<float> RandomActs(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  std::vector<float> x(n);
  for (auto& v : x) {
    v = dist(rng);
    const float r = u(rng);
    if (r < 0.01f) v *= 40.0f;
    else if (r < 0.02f) v = 0.0f;
  }
  if (n >= 512) {
    for (int i = 256; i < 288; ++i) x[i] = 0.0f;
  }
  return x;
}

void PutHalf(uint8_t* p, float v) {
  const uint16_t h = Fp32ToFp16(v);
  std::memcpy(p, &h, 2);
}

std::vector<int> HalfFieldOffsets(DType t) {
  switch (t) {
    case DType::kQ4_0: case DType::kQ5_0: case DType::kQ8_0: case DType::kIQ4_NL: case DType::kIQ4_XS:
      return {0};
    case DType::kQ4_1: case DType::kQ5_1: case DType::kQ4_K: case DType::kQ5_K: return {0, 2};
    case DType::kQ2_K: return {80, 82};
    case DType::kQ3_K: return {108};
    case DType::kQ6_K: return {208};
    default: return {};
  }
}

// A weight row: random payload bytes (every code value, extreme scales included) with finite
// block scales, or (odd seeds) the test weight quantizer applied to random floats.
Bytes RandomWeightRow(DType t, int64_t n, uint32_t seed) {
  const int64_t bytes = RowBytes(t, n);
  Bytes row(bytes);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  if (seed % 2 == 1) {
    std::vector<float> x(n);
    for (auto& v : x) v = u(rng) * 0.1f;
    QuantizeWeightRowRef(t, x.data(), row.data(), n);
    return row;
  }
  if (t == DType::kF32) {
    for (int64_t i = 0; i < n; ++i) {
      const float v = u(rng);
      std::memcpy(row.data() + 4 * i, &v, 4);
    }
    return row;
  }
  if (t == DType::kF16 || t == DType::kBF16) {
    for (int64_t i = 0; i < n; ++i) {
      const uint16_t h = t == DType::kF16 ? Fp32ToFp16(u(rng)) : Fp32ToBf16(u(rng));
      std::memcpy(row.data() + 2 * i, &h, 2);
    }
    return row;
  }
  for (auto& b : row) b = static_cast<uint8_t>(rng());
  const int64_t bs = Traits(t).type_size;
  for (int64_t b = 0; b < bytes / bs; ++b)
    for (int off : HalfFieldOffsets(t)) PutHalf(row.data() + b * bs + off, u(rng) * 0.01f);
  return row;
}

double SumAbsProducts(DType wt, const uint8_t* w, DType at, const uint8_t* a, int64_t n) {
  std::vector<float> wf(n), af(n);
  DequantizeRowRef(wt, w, wf.data(), n);
  DequantizeRowRef(at, a, af.data(), n);
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += std::fabs(static_cast<double>(wf[i]) * af[i]);
  return s;
}

// ---- activation quantizers --------------------------------------------------------------

bool IsQ8(DType f) { return f == DType::kQ8_0 || f == DType::kQ8_1 || f == DType::kQ8_K; }

// Compares one converted row; Q8 codes may differ by one (rounding at an exact tie).
void ExpectSameActs(DType fmt, const Bytes& want, const Bytes& got, int64_t n, const std::string& ctx) {
  if (!IsQ8(fmt)) {
    for (size_t i = 0; i < want.size(); ++i)
      {
      if (want[i] != got[i]) {
        ADD_FAILURE() << ctx << ": byte " << i << " differs (" << int(want[i]) << " vs " << int(got[i]) << ")";
        return;
      }
    }
    return;
  }
  const int bs = Traits(fmt).type_size, be = Traits(fmt).block_size;
  const int hdr = fmt == DType::kQ8_K ? 4 : fmt == DType::kQ8_1 ? 4 : 2;
  int ties = 0;
  for (int64_t b = 0; b < n / be; ++b) {
    const uint8_t* x = want.data() + b * bs;
    const uint8_t* y = got.data() + b * bs;
    ASSERT_EQ(0, std::memcmp(x, y, 2)) << ctx << ": block " << b << " scale differs";
    if (fmt == DType::kQ8_K) {
      ASSERT_EQ(0, std::memcmp(x, y, 4)) << ctx << ": block " << b << " d differs";
    }
    for (int j = 0; j < be; ++j) {
      const int qa = static_cast<int8_t>(x[hdr + j]), qb = static_cast<int8_t>(y[hdr + j]);
      ASSERT_LE(std::abs(qa - qb), 1) << ctx << ": block " << b << " code " << j;
      ties += qa != qb;
    }
  }
  EXPECT_LE(ties, 1) << ctx << ": too many codes off by one";
  if (ties == 0) {
    EXPECT_EQ(want, got) << ctx;
  }
}

TEST(KernelsTest, QuantizeActMatchesScalar) {
  SKIP_WITHOUT_SIMD();
  const IsaKernels& ref = RefKernels();
  for (Isa isa : SimdIsas()) {
    const IsaKernels& k = KernelsFor(isa);
    for (DType fmt : kActFormats)
      for (int64_t n : {256, 512, 2560, 3840}) {
        const std::vector<float> x = RandomActs(n, static_cast<uint32_t>(n) * 7 + static_cast<uint32_t>(fmt));
        const int64_t bytes = RowBytes(fmt, n);
        Bytes want(bytes), got(bytes, 0xAB);
        ref.quantize_act[static_cast<uint32_t>(fmt)](x.data(), want.data(), n);
        k.quantize_act[static_cast<uint32_t>(fmt)](x.data(), got.data(), n);
        ExpectSameActs(fmt, want, got, n, std::string(IsaName(isa)) + " " + DTypeName(fmt) + " n=" + std::to_string(n));
      }
  }
}

TEST(KernelsTest, QuantizeActOddLengthsAndSpecialValues) {
  SKIP_WITHOUT_SIMD();
  const IsaKernels& ref = RefKernels();
  for (Isa isa : SimdIsas()) {
    const IsaKernels& k = KernelsFor(isa);
    for (DType fmt : {DType::kF16, DType::kBF16, DType::kF32})
      for (int64_t n : {1, 7, 17, 100}) {
        std::vector<float> x = RandomActs(n, 99);
        // Subnormal, overflowing and tie values for the half/bf16 encoders.
        if (n >= 7) {
          x[0] = 1e-41f;
          x[1] = 70000.0f;
          x[2] = -65520.0f;
          x[3] = 1.0f + 1.0f / 2048.0f;
          x[4] = 3e-6f;
          x[5] = -0.0f;
        }
        Bytes want(RowBytes(fmt, n)), got(RowBytes(fmt, n));
        ref.quantize_act[static_cast<uint32_t>(fmt)](x.data(), want.data(), n);
        k.quantize_act[static_cast<uint32_t>(fmt)](x.data(), got.data(), n);
        EXPECT_EQ(want, got) << IsaName(isa) << " " << DTypeName(fmt) << " n=" << n;
      }
    // Q8_K: the scale comes from the first element of largest magnitude, sign included.
    std::vector<float> x(256, 0.5f);
    x[10] = -3.0f;
    x[200] = 3.0f;
    Bytes want(RowBytes(DType::kQ8_K, 256)), got(want.size());
    ref.quantize_act[static_cast<uint32_t>(DType::kQ8_K)](x.data(), want.data(), 256);
    k.quantize_act[static_cast<uint32_t>(DType::kQ8_K)](x.data(), got.data(), 256);
    EXPECT_EQ(want, got) << IsaName(isa) << " Q8_K sign of max";
    // All-zero blocks.
    std::vector<float> z(256, 0.0f);
    for (DType fmt : {DType::kQ8_0, DType::kQ8_1, DType::kQ8_K}) {
      Bytes w(RowBytes(fmt, 256)), g(w.size(), 0xCD);
      ref.quantize_act[static_cast<uint32_t>(fmt)](z.data(), w.data(), 256);
      k.quantize_act[static_cast<uint32_t>(fmt)](z.data(), g.data(), 256);
      EXPECT_EQ(w, g) << IsaName(isa) << " " << DTypeName(fmt) << " zeros";
    }
  }
}

// ---- dot tiles --------------------------------------------------------------------------

struct TileCase {
  DType wt;
  int64_t n;
};

// Tiles of every shape up to 4x4, plus larger ones: the SIMD tiles take any number of weight
// rows (MatMul passes whole row blocks) and activation rows.
void CheckTiles(Isa isa, DType wt, int64_t n, uint32_t seed) {
  constexpr int kR = 11, kC = 6;
  const DType at = Traits(wt).vec_dot;
  const int64_t wbytes = RowBytes(wt, n), abytes = RowBytes(at, n);
  // Strides larger than a row, as in a real tensor with padding or a sliced view.
  const int64_t ws = wbytes + 64, as = abytes + 32;
  // Exactly sized: a kernel reading past the last row's end trips AddressSanitizer.
  Bytes w((kR - 1) * ws + wbytes), a((kC - 1) * as + abytes);
  for (int r = 0; r < kR; ++r) {
    const Bytes row = RandomWeightRow(wt, n, seed + r);
    std::memcpy(w.data() + r * ws, row.data(), row.size());
  }
  for (int c = 0; c < kC; ++c) {
    const std::vector<float> x = RandomActs(n, seed * 31 + c);
    QuantizeActRowRef(at, x.data(), a.data() + c * as, n);
  }
  const DotTileFn ref = RefKernels().dot_tile[static_cast<uint32_t>(wt)];
  const DotTileFn simd = KernelsFor(isa).dot_tile[static_cast<uint32_t>(wt)];
  ASSERT_NE(simd, nullptr);
  double bound[kR][kC];
  for (int r = 0; r < kR; ++r)
    for (int c = 0; c < kC; ++c) bound[r][c] = SumAbsProducts(wt, w.data() + r * ws, at, a.data() + c * as, n);
  std::vector<std::pair<int, int>> shapes;
  for (int nr = 1; nr <= 4; ++nr)
    for (int nc = 1; nc <= 4; ++nc) shapes.push_back({nr, nc});
  shapes.insert(shapes.end(), {{11, 6}, {8, 5}, {5, 1}, {9, 4}});
  for (auto [nr, nc] : shapes) {
    constexpr int64_t ldo = kR + 1;
    std::vector<float> want(kC * ldo), got(kC * ldo, -12345.0f);
    ref(n, w.data(), ws, nr, a.data(), as, nc, want.data(), ldo);
    simd(n, w.data(), ws, nr, a.data(), as, nc, got.data(), ldo);
    for (int c = 0; c < kC; ++c)
      for (int r = 0; r < static_cast<int>(ldo); ++r) {
        if (c >= nc || r >= nr) {
          ASSERT_EQ(got[c * ldo + r], -12345.0f) << "wrote outside the tile";
          continue;
        }
        const double tol = 1e-5 * bound[r][c] + 1e-30;
        ASSERT_NEAR(want[c * ldo + r], got[c * ldo + r], tol)
            << IsaName(isa) << " " << DTypeName(wt) << " n=" << n << " tile " << nr << "x" << nc << " r=" << r
            << " c=" << c << " seed=" << seed;
      }
  }
}

TEST(KernelsTest, DotTilesMatchScalar) {
  SKIP_WITHOUT_SIMD();
  for (Isa isa : SimdIsas())
    for (DType wt : kWeightTypes) {
      const int64_t bs = Traits(wt).block_size;
      std::vector<int64_t> lens = {256, 512, 2560, 3840};
      if (bs == 32) lens.insert(lens.end(), {32, 96, 160, 352, 416, 1152});  // 8- and 4-block groups + tails
      if (bs == 1) lens.push_back(100);     // masked tail
      for (int64_t n : lens)
        for (uint32_t seed : {1u, 2u}) CheckTiles(isa, wt, n, seed * 1000 + static_cast<uint32_t>(n));
    }
}

TEST(KernelsTest, EveryWeightTypeHasAFastTile) {
  SKIP_WITHOUT_SIMD();
  for (Isa isa : SimdIsas()) {
    for (DType wt : kWeightTypes)
      EXPECT_NE(KernelsFor(isa).dot_tile[static_cast<uint32_t>(wt)], RefKernels().dot_tile[static_cast<uint32_t>(wt)])
          << IsaName(isa) << " " << DTypeName(wt) << " falls back to the scalar tile";
  }
}

// ---- MatMul -----------------------------------------------------------------------------

TensorView MakeWeight(DType t, int64_t K, int64_t N, Bytes& storage, uint32_t seed) {
  const int64_t rb = RowBytes(t, K);
  storage.assign(rb * N, 0);
  for (int64_t o = 0; o < N; ++o) {
    const Bytes row = RandomWeightRow(t, K, seed + static_cast<uint32_t>(o));
    std::memcpy(storage.data() + o * rb, row.data(), rb);
  }
  TensorView v;
  v.type = t;
  v.ne[0] = K;
  v.ne[1] = N;
  v.nb[0] = Traits(t).type_size;
  v.nb[1] = rb;
  v.nb[2] = v.nb[3] = rb * N;
  v.data = storage.data();
  return v;
}

TEST(KernelsTest, MatMulMatchesF64ReferenceAndIsDeterministic) {
  const struct {
    DType t;
    int64_t K, N;
  } cases[] = {{DType::kQ4_0, 256, 70},  {DType::kQ8_0, 512, 33},  {DType::kQ4_K, 512, 64},
               {DType::kQ6_K, 256, 130}, {DType::kF16, 200, 41},   {DType::kF32, 64, 19},
               {DType::kBF16, 256, 9},   {DType::kQ5_0, 256, 12},  {DType::kQ4_1, 256, 6},
               // Several prefill row blocks per thread.
               {DType::kF16, 2048, 300}, {DType::kQ4_0, 4096, 402}};
  for (const auto& cs : cases)
    for (int64_t T : {1, 3, 4, 9, 70}) {
      Bytes storage;
      const TensorView w = MakeWeight(cs.t, cs.K, cs.N, storage, 7);
      const int64_t ldx = cs.K + 3, ldy = cs.N + 2;
      std::vector<float> x(T * ldx);
      for (int64_t t = 0; t < T; ++t) {
        const std::vector<float> row = RandomActs(cs.K, 100 + static_cast<uint32_t>(t));
        std::memcpy(x.data() + t * ldx, row.data(), cs.K * sizeof(float));
      }
      // f64 reference on the dequantized weight and the (scalar-)converted activations.
      const DType at = Traits(cs.t).vec_dot;
      std::vector<float> wf(cs.K * cs.N), af(cs.K * T);
      for (int64_t o = 0; o < cs.N; ++o) DequantizeRowRef(cs.t, w.Row(o), wf.data() + o * cs.K, cs.K);
      Bytes ab(RowBytes(at, cs.K));
      for (int64_t t = 0; t < T; ++t) {
        QuantizeActRowRef(at, x.data() + t * ldx, ab.data(), cs.K);
        DequantizeRowRef(at, ab.data(), af.data() + t * cs.K, cs.K);
      }
      for (int threads : {1, 2, 3}) {
        ThreadPool pool(threads);
        MatMulScratch scratch;
        std::vector<float> y(T * ldy, -1.0f), y2(T * ldy, -2.0f);
        MatMul(w, x.data(), T, ldx, y.data(), ldy, pool, scratch);
        MatMul(w, x.data(), T, ldx, y2.data(), ldy, pool, scratch);
        for (int64_t t = 0; t < T; ++t)
          for (int64_t o = 0; o < cs.N; ++o) {
            double s = 0, sa = 0;
            for (int64_t k = 0; k < cs.K; ++k) {
              const double p = static_cast<double>(wf[o * cs.K + k]) * af[t * cs.K + k];
              s += p;
              sa += std::fabs(p);
            }
            // Q4_1's min term uses the half-rounded activation sum s (spec §10).
            const double tol = (cs.t == DType::kQ4_1 ? 2e-3 : 1e-5) * sa + 1e-30;
            ASSERT_NEAR(y[t * ldy + o], s, tol) << DTypeName(cs.t) << " T=" << T << " t=" << t << " o=" << o
                                                 << " threads=" << threads;
            ASSERT_EQ(y[t * ldy + o], y2[t * ldy + o]) << "not deterministic";
          }
        for (int64_t t = 0; t < T; ++t)
          for (int64_t o = cs.N; o < ldy; ++o) ASSERT_EQ(y[t * ldy + o], -1.0f) << "wrote past N";
      }
    }
}

}  // namespace
}  // namespace gemrun::kernels

namespace gemrun::kernels {
namespace {

// GELU through the F16 table: every compiled ISA is bit-identical to the scalar twin, over every
// half value, the +-10 cut-offs, odd lengths and the plain (no up) form.
TEST(KernelsTest, GeluMulMatchesScalarBitwise) {
  SKIP_WITHOUT_SIMD();
  std::vector<float> x, up;
  for (uint32_t h = 0; h < 65536; ++h) x.push_back(Fp16ToFp32(static_cast<uint16_t>(h)));
  for (float v : {-10.0f, -9.999f, 10.0f, 9.999f, -1e30f, 1e30f, 0.0f, -0.0f}) x.push_back(v);
  std::mt19937 rng(5);
  std::normal_distribution<float> nd(0.0f, 3.0f);
  for (int i = 0; i < 1003; ++i) x.push_back(nd(rng));
  for (size_t i = 0; i < x.size(); ++i) up.push_back(nd(rng));
  const IsaKernels& ref = KernelsFor(Isa::kScalar);
  for (Isa isa : SimdIsas()) {
    for (const float* u : {static_cast<const float*>(nullptr), static_cast<const float*>(up.data())}) {
      const int64_t n = static_cast<int64_t>(x.size()) - 3;  // odd tail
      std::vector<float> a(n), b(n);
      ref.gelu_mul(x.data(), u, a.data(), n, GeluF16Table());
      KernelsFor(isa).gelu_mul(x.data(), u, b.data(), n, GeluF16Table());
      for (int64_t i = 0; i < n; ++i) {
        // NaN inputs (from half NaN patterns) may differ only in NaN payload.
        if (std::isnan(a[i])) { EXPECT_TRUE(std::isnan(b[i])); continue; }
        ASSERT_EQ(FloatBits(a[i]), FloatBits(b[i])) << IsaName(isa) << " x=" << x[i];
      }
    }
  }
}

}  // namespace
}  // namespace gemrun::kernels
