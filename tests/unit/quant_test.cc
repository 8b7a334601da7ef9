// Tests for the scalar quantization reference (src/quant): hand-built blocks decoded by an
// independent re-reading of spec/gguf.md §9, activation quantization per §10, dot products
// against the f64 dot of dequantized rows, weight quantizer round trips, FP16/BF16.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "base/fp16.h"
#include "quant/blocks.h"
#include "quant/quant.h"
#include "tensor/dtype.h"

namespace gemrun {
namespace {

using Bytes = std::vector<uint8_t>;

// Writes a half at byte offset `off` of `b` (blocks are packed, so memcpy).
void PutHalf(uint8_t* b, int off, float v) {
  const uint16_t h = Fp32ToFp16(v);
  std::memcpy(b + off, &h, 2);
}

std::vector<float> Dequant(DType t, const Bytes& src, int64_t n) {
  std::vector<float> out(n);
  DequantizeRowRef(t, src.data(), out.data(), n);
  return out;
}

std::vector<float> RandomFloats(int64_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// Byte offsets of the half-precision scale fields in each block type (spec §9), so random
// blocks can get finite, moderate scales.
std::vector<int> HalfFieldOffsets(DType t) {
  switch (t) {
    case DType::kQ4_0: case DType::kQ5_0: case DType::kQ8_0: case DType::kIQ4_NL:
    case DType::kIQ4_XS: return {0};
    case DType::kQ4_1: case DType::kQ5_1: case DType::kQ4_K: case DType::kQ5_K: return {0, 2};
    case DType::kQ2_K: return {80, 82};
    case DType::kQ3_K: return {108};
    case DType::kQ6_K: return {208};
    default: return {};
  }
}

// A row of n elements of type t with random payload bytes and random finite scales.
Bytes RandomWeightRow(DType t, int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  Bytes row(RowBytes(t, n));
  for (auto& b : row) b = (uint8_t)rng();
  std::uniform_real_distribution<float> scale(-0.05f, 0.05f);
  if (t == DType::kF32) {
    auto v = RandomFloats(n, seed);
    std::memcpy(row.data(), v.data(), n * 4);
  } else if (t == DType::kF16 || t == DType::kBF16) {
    for (int64_t i = 0; i < n; ++i) {
      const float v = scale(rng) * 40.0f;
      const uint16_t h = t == DType::kF16 ? Fp32ToFp16(v) : Fp32ToBf16(v);
      std::memcpy(row.data() + 2 * i, &h, 2);
    }
  } else {
    const int bs = Traits(t).type_size;
    for (int64_t b = 0; b < n / Traits(t).block_size; ++b)
      for (int off : HalfFieldOffsets(t)) PutHalf(row.data() + b * bs, off, scale(rng));
  }
  return row;
}

const DType kWeightTypes[] = {DType::kF32,  DType::kF16,  DType::kBF16,  DType::kQ4_0,
                              DType::kQ4_1, DType::kQ5_0, DType::kQ5_1,  DType::kQ8_0,
                              DType::kQ2_K, DType::kQ3_K, DType::kQ4_K,  DType::kQ5_K,
                              DType::kQ6_K, DType::kIQ4_NL, DType::kIQ4_XS};

// ---------------------------------------------------------------------------------------
// VecDotRef == f64 dot of the dequantized rows.

// For Q8_1 activations the dot uses s = half(d * sum q) rather than sum(half(d) * q): the
// difference m_w * (s - d_half * sum q) is part of llama.cpp's arithmetic, so it is allowed.
double Q8_1SumSlack(DType wt, const Bytes& w, const Bytes& a, int64_t n) {
  if (Traits(wt).vec_dot != DType::kQ8_1) return 0.0;
  double slack = 0.0;
  const auto* y = reinterpret_cast<const BlockQ8_1*>(a.data());
  for (int64_t b = 0; b < n / kQK; ++b) {
    uint16_t m_h;  // Q4_1 and Q5_1 both keep m at byte 2
    std::memcpy(&m_h, w.data() + b * Traits(wt).type_size + 2, 2);
    int sum_q = 0;
    for (int j = 0; j < kQK; ++j) sum_q += y[b].qs[j];
    const double exact = (double)Fp16ToFp32(y[b].d) * sum_q;
    slack += std::fabs((double)Fp16ToFp32(m_h)) * std::fabs(Fp16ToFp32(y[b].s) - exact);
  }
  return slack;
}

TEST(VecDotRef, MatchesDequantizedDot) {
  const int64_t n = 1024;
  for (DType wt : kWeightTypes) {
    for (uint32_t seed = 1; seed <= 20; ++seed) {
      const Bytes w = RandomWeightRow(wt, n, seed);
      const auto x = RandomFloats(n, 1000 + seed);
      const DType at = Traits(wt).vec_dot;
      Bytes a(RowBytes(at, n));
      QuantizeActRowRef(at, x.data(), a.data(), n);
      const auto wf = Dequant(wt, w, n);
      const auto af = Dequant(at, a, n);
      double ref = 0.0, abs_sum = 0.0;
      for (int64_t i = 0; i < n; ++i) {
        ref += (double)wf[i] * af[i];
        abs_sum += std::fabs((double)wf[i] * af[i]);
      }
      const float got = VecDotRef(wt, n, w.data(), a.data());
      const double tol = 1e-5 * abs_sum + Q8_1SumSlack(wt, w, a, n) + 1e-30;
      EXPECT_NEAR(got, ref, tol) << DTypeName(wt) << " seed " << seed;
    }
  }
}


// ---------------------------------------------------------------------------------------
// Weight quantizer round trips: RMS error relative to the row's RMS, per format.

struct RoundTripCase {
  DType t;
  double max_rel_rms;  // generous bound for a simple max-abs quantizer on Gaussian data
};

TEST(QuantizeWeightRowRef, RoundTripError) {
  const RoundTripCase cases[] = {
      {DType::kF32, 0.0},     {DType::kF16, 5e-4},    {DType::kBF16, 3e-3},
      {DType::kQ8_0, 0.008},  {DType::kQ6_K, 0.03},   {DType::kQ5_0, 0.065},
      {DType::kQ5_1, 0.055},  {DType::kQ5_K, 0.055},  {DType::kQ4_0, 0.13},
      {DType::kQ4_1, 0.11},   {DType::kQ4_K, 0.11},   {DType::kIQ4_NL, 0.12},
      {DType::kIQ4_XS, 0.12}, {DType::kQ3_K, 0.23},   {DType::kQ2_K, 0.45},
  };
  const int64_t n = 4096;
  for (const auto& c : cases) {
    for (uint32_t seed = 1; seed <= 4; ++seed) {
      auto x = RandomFloats(n, seed, 0.02f * seed);
      for (int64_t i = 0; i < 256; ++i) x[i] = 0.0f;      // an all-zero block
      for (int64_t i = 256; i < 512; ++i) x[i] = std::fabs(x[i]);  // a one-sided block
      for (int64_t i = 512; i < 768; ++i) x[i] = -std::fabs(x[i]);
      Bytes q(RowBytes(c.t, n));
      QuantizeWeightRowRef(c.t, x.data(), q.data(), n);
      const auto y = Dequant(c.t, q, n);
      double err = 0.0, ref = 0.0;
      for (int64_t i = 0; i < n; ++i) {
        ASSERT_TRUE(std::isfinite(y[i])) << DTypeName(c.t) << " element " << i;
        err += (double)(y[i] - x[i]) * (y[i] - x[i]);
        ref += (double)x[i] * x[i];
      }
      for (int64_t i = 0; i < 256; ++i) EXPECT_EQ(y[i], 0.0f) << DTypeName(c.t);
      const double rel = std::sqrt(err / ref);
      EXPECT_LE(rel, c.max_rel_rms) << DTypeName(c.t) << " seed " << seed;
      if (seed == 1) printf("  %-7s rel rms error %.4f\n", DTypeName(c.t).c_str(), rel);
    }
  }
}

}  // namespace
}  // namespace gemrun
