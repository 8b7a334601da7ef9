// Tests for the scalar quantization reference (src/quant): hand-built blocks decoded by an
// independent re-reading of spec/gguf.md §9, activation quantization per §10, dot products
// against the f64 dot of dequantized rows, weight quantizer round trips, FP16/BF16.
#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <cstdio>
#include <algorithm>
#include <iterator>
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
    for (uint32_t seed = 1; seed <= 40; ++seed) {
      // Odd seeds: random bytes (every code pattern); even: a quantized Gaussian row.
      Bytes w = RandomWeightRow(wt, n, seed);
      if (seed % 2 == 0) {
        const auto src = RandomFloats(n, 500 + seed, 0.05f);
        QuantizeWeightRowRef(wt, src.data(), w.data(), n);
      }
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


// ---------------------------------------------------------------------------------------
// Block layouts: field offsets in spec byte order (§9), independent of the struct order.

TEST(Blocks, FieldOffsetsFollowSpecByteOrder) {
  EXPECT_EQ(offsetof(BlockQ5_0, qh), 2u);
  EXPECT_EQ(offsetof(BlockQ5_1, qh), 4u);
  EXPECT_EQ(offsetof(BlockQ2_K, qs), 16u);
  EXPECT_EQ(offsetof(BlockQ2_K, d), 80u);
  EXPECT_EQ(offsetof(BlockQ2_K, dmin), 82u);
  EXPECT_EQ(offsetof(BlockQ3_K, qs), 32u);
  EXPECT_EQ(offsetof(BlockQ3_K, scales), 96u);
  EXPECT_EQ(offsetof(BlockQ3_K, d), 108u);
  EXPECT_EQ(offsetof(BlockQ4_K, scales), 4u);
  EXPECT_EQ(offsetof(BlockQ4_K, qs), 16u);
  EXPECT_EQ(offsetof(BlockQ5_K, qh), 16u);
  EXPECT_EQ(offsetof(BlockQ5_K, qs), 48u);
  EXPECT_EQ(offsetof(BlockQ6_K, qh), 128u);
  EXPECT_EQ(offsetof(BlockQ6_K, scales), 192u);
  EXPECT_EQ(offsetof(BlockQ6_K, d), 208u);
  EXPECT_EQ(offsetof(BlockQ8_K, qs), 4u);
  EXPECT_EQ(offsetof(BlockQ8_K, bsums), 260u);
  EXPECT_EQ(offsetof(BlockIQ4_XS, scales_l), 4u);
  EXPECT_EQ(offsetof(BlockIQ4_XS, qs), 8u);
}

// ---------------------------------------------------------------------------------------
// Spec decoders: element k of one block, read from raw bytes at the offsets of spec §9,
// written per element (not per loop as the implementation is) so both readings must agree.

float H(const uint8_t* b, int off) { return Fp16ToFp32((uint16_t)(b[off] | (b[off + 1] << 8))); }
uint32_t U32(const uint8_t* b, int off) {
  return (uint32_t)b[off] | (uint32_t)b[off + 1] << 8 | (uint32_t)b[off + 2] << 16 |
         (uint32_t)b[off + 3] << 24;
}
int Nib(uint8_t byte, bool high) { return high ? byte >> 4 : byte & 0xF; }
constexpr int kK[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

// Q4_K/Q5_K 6-bit scale and min of sub-block j (spec §9.10, in words form).
void SpecScaleMin(const uint8_t* c, int j, int* sc, int* m) {
  if (j < 4) {
    *sc = c[j] & 63;
    *m = c[j + 4] & 63;
  } else {
    *sc = (c[j + 4] & 0xF) | ((c[j - 4] >> 6) << 4);
    *m = (c[j + 4] >> 4) | ((c[j] >> 6) << 4);
  }
}

float SpecQ32(DType t, const uint8_t* b, int k) {
  const int j = k % 16;
  const bool hi = k >= 16;
  switch (t) {
    case DType::kQ4_0: return H(b, 0) * (float)(Nib(b[2 + j], hi) - 8);
    case DType::kQ4_1: return H(b, 0) * (float)Nib(b[4 + j], hi) + H(b, 2);
    case DType::kQ5_0: {
      const int q = Nib(b[6 + j], hi) | (int)((U32(b, 2) >> (hi ? j + 16 : j)) & 1) << 4;
      return H(b, 0) * (float)(q - 16);
    }
    case DType::kQ5_1: {
      const int q = Nib(b[8 + j], hi) | (int)((U32(b, 4) >> (hi ? j + 16 : j)) & 1) << 4;
      return H(b, 0) * (float)q + H(b, 2);
    }
    case DType::kQ8_0: return H(b, 0) * (float)(int8_t)b[2 + k];
    case DType::kIQ4_NL: return H(b, 0) * (float)kK[Nib(b[2 + j], hi)];
    default: return NAN;
  }
}

float SpecQ2_K(const uint8_t* b, int k) {
  const int h = k / 128, p = (k / 32) % 4, t = (k / 16) % 2, l = k % 16;
  const int q = (b[16 + 32 * h + 16 * t + l] >> (2 * p)) & 3;
  const uint8_t s = b[8 * h + 2 * p + t];
  return H(b, 80) * (float)(s & 0xF) * (float)q - H(b, 82) * (float)(s >> 4);
}

float SpecQ3_K(const uint8_t* b, int k) {
  const int h = k / 128, p = (k / 32) % 4, t = (k / 16) % 2, l = k % 16;
  const uint8_t* c = b + 96;
  const int s = 8 * h + 2 * p + t;
  const int low = s < 8 ? (c[s] & 0xF) : (c[s - 8] >> 4);
  const int high = (c[8 + s % 4] >> (2 * (s / 4))) & 3;
  const int S = (low | high << 4) - 32;
  const int q2 = (b[32 + 32 * h + 16 * t + l] >> (2 * p)) & 3;
  const int hb = (b[16 * t + l] >> (4 * h + p)) & 1;
  return H(b, 108) * (float)S * (float)(q2 - (hb ? 0 : 4));
}

float SpecQ45_K(bool five, const uint8_t* b, int k) {
  const int g = k / 64, l = k % 32;
  const bool upper = (k % 64) >= 32;
  int sc, m;
  SpecScaleMin(b + 4, 2 * g + (upper ? 1 : 0), &sc, &m);
  const uint8_t byte = b[(five ? 48 : 16) + 32 * g + l];
  int q = Nib(byte, upper);
  if (five) q += 16 * ((b[16 + l] >> (2 * g + (upper ? 1 : 0))) & 1);
  return H(b, 0) * (float)sc * (float)q - H(b, 2) * (float)m;
}

float SpecQ6_K(const uint8_t* b, int k) {
  const int h = k / 128, r = (k % 128) / 32, l = k % 32, is = l / 16;
  const uint8_t* L = b + 64 * h;
  const uint8_t* Q = b + 128 + 32 * h;
  const int8_t* Sc = reinterpret_cast<const int8_t*>(b + 192 + 8 * h);
  const int lo = r % 2 == 0 ? L[l] : L[l + 32];
  const int q = (Nib((uint8_t)lo, r >= 2) | ((Q[l] >> (2 * r)) & 3) << 4) - 32;
  return H(b, 208) * (float)Sc[is + 2 * r] * (float)q;
}

float SpecIQ4_XS(const uint8_t* b, int k) {
  const int ib = k / 32, j = k % 16;
  const bool hi = (k % 32) >= 16;
  const int sh = b[2] | b[3] << 8;
  const int ls = ((b[4 + ib / 2] >> (4 * (ib % 2))) & 0xF) | ((sh >> (2 * ib)) & 3) << 4;
  const float dl = H(b, 0) * (float)(ls - 32);
  return dl * (float)kK[Nib(b[8 + 16 * ib + j], hi)];
}

float SpecQ8_K(const uint8_t* b, int k) {
  float d;
  std::memcpy(&d, b, 4);
  return d * (float)(int8_t)b[4 + k];
}

float SpecValue(DType t, const uint8_t* b, int k) {
  switch (t) {
    case DType::kQ2_K: return SpecQ2_K(b, k);
    case DType::kQ3_K: return SpecQ3_K(b, k);
    case DType::kQ4_K: return SpecQ45_K(false, b, k);
    case DType::kQ5_K: return SpecQ45_K(true, b, k);
    case DType::kQ6_K: return SpecQ6_K(b, k);
    case DType::kQ8_K: return SpecQ8_K(b, k);
    case DType::kIQ4_XS: return SpecIQ4_XS(b, k);
    default: return SpecQ32(t, b, k);
  }
}

TEST(DequantizeRowRef, RandomBlocksMatchSpecFormulas) {
  const DType types[] = {DType::kQ4_0, DType::kQ4_1, DType::kQ5_0, DType::kQ5_1,
                         DType::kQ8_0, DType::kIQ4_NL, DType::kQ2_K, DType::kQ3_K,
                         DType::kQ4_K, DType::kQ5_K, DType::kQ6_K, DType::kIQ4_XS,
                         DType::kQ8_K};
  for (DType t : types) {
    const int bs = Traits(t).block_size, ts = Traits(t).type_size;
    const int64_t n = 4 * (int64_t)bs;
    for (uint32_t seed = 1; seed <= 50; ++seed) {
      Bytes row = RandomWeightRow(t, n, seed);
      if (t == DType::kQ8_K)
        for (int b = 0; b < 4; ++b) { const float d = 0.01f * seed - 0.2f; std::memcpy(&row[b * ts], &d, 4); }
      const auto y = Dequant(t, row, n);
      for (int64_t k = 0; k < n; ++k) {
        const float want = SpecValue(t, row.data() + (k / bs) * ts, (int)(k % bs));
        ASSERT_EQ(y[k], want) << DTypeName(t) << " seed " << seed << " element " << k;
      }
    }
  }
}

TEST(DequantizeRowRef, FloatFormats) {
  const float f[4] = {1.5f, -2.25f, 0.0f, 3e-7f};
  Bytes f32(16);
  std::memcpy(f32.data(), f, 16);
  EXPECT_EQ(Dequant(DType::kF32, f32, 4), std::vector<float>(f, f + 4));
  const uint16_t h[4] = {0x3C00, 0xC000, 0x0001, 0x7BFF};  // 1, -2, 2^-24, 65504
  Bytes f16(8);
  std::memcpy(f16.data(), h, 8);
  EXPECT_EQ(Dequant(DType::kF16, f16, 4), (std::vector<float>{1.0f, -2.0f, 0x1p-24f, 65504.0f}));
  const uint16_t bf[4] = {0x3F80, 0xC040, 0x0000, 0x4049};  // 1, -3, 0, 3.140625
  Bytes b16(8);
  std::memcpy(b16.data(), bf, 8);
  EXPECT_EQ(Dequant(DType::kBF16, b16, 4), (std::vector<float>{1.0f, -3.0f, 0.0f, 3.140625f}));
}

// ---------------------------------------------------------------------------------------
// Hand-computed blocks: specific bytes whose values are worked out by hand.

TEST(DequantizeRowRef, Q4_0NibbleOrder) {
  Bytes b(18, 0x88);  // every code 8 -> 0
  PutHalf(b.data(), 0, 0.5f);
  b[2] = 0x1F;  // element 0 = low nibble 15, element 16 = high nibble 1
  const auto y = Dequant(DType::kQ4_0, b, 32);
  EXPECT_EQ(y[0], 3.5f);
  EXPECT_EQ(y[16], -3.5f);
  EXPECT_EQ(y[1], 0.0f);
}

TEST(DequantizeRowRef, Q5_0HighBits) {
  Bytes b(22, 0);
  PutHalf(b.data(), 0, 2.0f);
  b[2] = 0x01;  // H bit 0 -> element 0 gets +16
  b[5] = 0x80;  // H bit 31 -> element 31 (high nibble of qs[15]) gets +16
  b[6 + 15] = 0x30;  // element 31 high nibble 3
  const auto y = Dequant(DType::kQ5_0, b, 32);
  EXPECT_EQ(y[0], 0.0f);             // (0|16) - 16
  EXPECT_EQ(y[1], -32.0f);           // (0) - 16, times 2
  EXPECT_EQ(y[31], 2.0f * (19 - 16));
  EXPECT_EQ(y[15], -32.0f);
}

TEST(DequantizeRowRef, Q4_KUpperScalePacking) {
  Bytes b(144, 0);
  PutHalf(b.data(), 0, 0.25f);  // d
  PutHalf(b.data(), 2, 0.5f);   // dmin
  uint8_t* c = b.data() + 4;
  c[0] = 0xC1;  // sc0 = 1, top bits of sc4 = 3
  c[4] = 0x87;  // m0 = 7, top bits of m4 = 2
  c[8] = 0x25;  // low nibble of sc4 = 5, of m4 = 2
  for (int l = 0; l < 32; ++l) b[16 + 64 + l] = 0x03;  // group 2 low nibbles = 3 (sub-block 4)
  b[16] = 0x0A;                                         // element 0: code 10 in sub-block 0
  const auto y = Dequant(DType::kQ4_K, b, 256);
  EXPECT_EQ(y[128], 0.25f * 53 * 3 - 0.5f * 34);  // sc4 = 5 | 3<<4, m4 = 2 | 2<<4
  EXPECT_EQ(y[128], 22.75f);
  EXPECT_EQ(y[0], 0.25f * 1 * 10 - 0.5f * 7);
  EXPECT_EQ(y[160], 0.0f);  // sub-block 5: sc and m both 0
}

TEST(DequantizeRowRef, Q6_KLayout) {
  Bytes b(210, 0);
  PutHalf(b.data(), 208, 0.125f);
  for (int s = 0; s < 16; ++s) b[192 + s] = (uint8_t)(int8_t)(s - 8);  // scales -8..7
  // Element 128 + 96 + 17 (h=1, r=3, l=17): high nibble of ql[64+17+32], qh[32+17] bits 6-7.
  b[64 + 17 + 32] = 0xB0;  // nibble 11
  b[128 + 32 + 17] = 0x80;  // top bits 2 -> q = 11 | 32 = 43 - 32 = 11
  const auto y = Dequant(DType::kQ6_K, b, 256);
  const int scale = 8 + 1 + 6 - 8;  // scales[8 + is(1) + 6] = 15 - 8
  EXPECT_EQ(y[128 + 96 + 17], 0.125f * scale * 11);
  EXPECT_EQ(y[0], 0.125f * -8 * -32);  // all-zero bits -> q = -32
}

TEST(DequantizeRowRef, Q3_KSignedScalesAndHmask) {
  Bytes b(110, 0);
  PutHalf(b.data(), 108, 0.5f);
  // Scale s = 13 (h=1, p=2, t=1): low nibble = c[5] >> 4, high = (c[9] >> 6) & 3.
  b[96 + 5] = 0x70;         // low 7
  b[96 + 9] = 0x40;         // high 1 -> 7 | 16 = 23 -> S = -9
  // Element k = 128 + 64 + 16 + 3: q2 in qs[32 + 16 + 3] bits 4-5; hmask[16+3] bit 6.
  b[32 + 32 + 16 + 3] = 0x30;  // q2 = 3
  b[16 + 3] = 0x40;            // high bit set -> q = 3
  const auto y = Dequant(DType::kQ3_K, b, 256);
  EXPECT_EQ(y[128 + 64 + 16 + 3], 0.5f * -9 * 3);
  EXPECT_EQ(y[128 + 64 + 16 + 4], 0.5f * -9 * -4);  // q2 = 0, no high bit -> -4
  EXPECT_EQ(y[0], 0.5f * -32 * -4);                 // all-zero scale byte -> S = -32
}

TEST(DequantizeRowRef, Q2_KScalesAndMins) {
  Bytes b(84, 0);
  PutHalf(b.data(), 80, 2.0f);
  PutHalf(b.data(), 82, 0.25f);
  b[8 + 2 * 3 + 1] = 0x5A;         // group s = 15 (h=1, p=3, t=1): scale 10, min 5
  b[16 + 32 + 16 + 15] = 0x80;     // element 255: q = (byte >> 6) & 3 = 2
  const auto y = Dequant(DType::kQ2_K, b, 256);
  EXPECT_EQ(y[255], 2.0f * 10 * 2 - 0.25f * 5);
  EXPECT_EQ(y[254], -0.25f * 5);
}

TEST(DequantizeRowRef, IQ4_XSScales) {
  Bytes b(136, 0);
  PutHalf(b.data(), 0, 0.5f);
  const uint16_t sh = 0x3 << 14;  // sub-block 7: high bits 3
  std::memcpy(b.data() + 2, &sh, 2);
  b[4 + 3] = 0x50;                // sub-block 7: low nibble 5 -> ls = 53 -> dl = 0.5 * 21
  b[8 + 16 * 7 + 2] = 0xF0;       // element 224 + 16 + 2: codebook[15] = 113; 224 + 2: K[0]
  const auto y = Dequant(DType::kIQ4_XS, b, 256);
  EXPECT_EQ(y[224 + 18], 0.5f * 21 * 113);
  EXPECT_EQ(y[224 + 2], 0.5f * 21 * -127);
  EXPECT_EQ(y[0], 0.5f * -32 * -127);  // ls = 0 -> -32
}


// ---------------------------------------------------------------------------------------
// Activation quantization (spec §10), hand-computed.

TEST(QuantizeActRowRef, Q8_0TiesRoundToEven) {
  // amax = 254 -> id = 127/254 = 0.5 exactly, d = 2. x*id hits exact .5 ties.
  std::vector<float> x(32, 0.0f);
  const float in[] = {254.0f, 3.0f, 5.0f, -5.0f, -3.0f, 1.0f, 7.0f, 2.0f, -254.0f, 100.0f};
  const int want[] = {127, 2, 2, -2, -2, 0, 4, 1, -127, 50};
  std::copy(std::begin(in), std::end(in), x.begin());
  BlockQ8_0 q;
  QuantizeActRowRef(DType::kQ8_0, x.data(), &q, 32);
  EXPECT_EQ(q.d, Fp32ToFp16(2.0f));
  for (int j = 0; j < 10; ++j) EXPECT_EQ(q.qs[j], want[j]) << "j=" << j;
  for (int j = 10; j < 32; ++j) EXPECT_EQ(q.qs[j], 0);
}

TEST(QuantizeActRowRef, Q8_0UsesIdFrom127OverAmax) {
  std::vector<float> x(32, 0.0f);
  x[0] = 1.0f;   // amax 1: id = 127, d = half(1/127)
  x[1] = 0.3f;   // 38.1 -> 38
  x[2] = -0.7f;  // -88.9 -> -89
  BlockQ8_0 q;
  QuantizeActRowRef(DType::kQ8_0, x.data(), &q, 32);
  EXPECT_EQ(q.d, Fp32ToFp16(1.0f / 127.0f));
  EXPECT_EQ(q.qs[0], 127);
  EXPECT_EQ(q.qs[1], 38);
  EXPECT_EQ(q.qs[2], -89);
  // A case where 127/amax and 1/(amax/127) round differently (found by search): AVX2 gives 63.
  x.assign(32, 0.0f);
  x[0] = 15 * 0.01f;
  x[1] = 750 * 0.0001f;
  ASSERT_NE(127.0f / x[0], 1.0f / (x[0] / 127.0f));
  QuantizeActRowRef(DType::kQ8_0, x.data(), &q, 32);
  EXPECT_EQ(q.qs[1], 63);
}

TEST(QuantizeActRowRef, Q8_0ZeroBlock) {
  std::vector<float> x(64, 0.0f);
  x[40] = -1.0f;  // second block non-zero
  BlockQ8_0 q[2];
  std::memset(q, 0x55, sizeof(q));
  QuantizeActRowRef(DType::kQ8_0, x.data(), q, 64);
  EXPECT_EQ(q[0].d, 0);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(q[0].qs[j], 0);
  EXPECT_EQ(q[1].qs[8], -127);
}

TEST(QuantizeActRowRef, Q8_1SumUsesF32D) {
  std::vector<float> x(32, 0.0f);
  x[0] = 1.0f;
  x[1] = 0.3f;
  x[2] = 0.5f;  // 63.5 -> 64 (tie to even)
  BlockQ8_1 q;
  QuantizeActRowRef(DType::kQ8_1, x.data(), &q, 32);
  EXPECT_EQ(q.qs[2], 64);
  const float d = 1.0f / 127.0f;
  EXPECT_EQ(q.d, Fp32ToFp16(d));
  EXPECT_EQ(q.s, Fp32ToFp16(d * (127 + 38 + 64)));
}

TEST(QuantizeActRowRef, Q8_KNegativeMaxAndTies) {
  std::vector<float> x(256, 0.0f);
  x[3] = -127.0f;  // signed max -> iscale = -127 / -127 = 1, d = 1
  x[4] = 127.0f;   // same magnitude later: first wins; maps to +127
  const float in[] = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 3.5f, 10.25f};
  const int want[] = {0, 2, 2, 0, -2, 4, 10};
  for (int j = 0; j < 7; ++j) x[16 + j] = in[j];
  BlockQ8_K q;
  QuantizeActRowRef(DType::kQ8_K, x.data(), &q, 256);
  EXPECT_EQ(q.d, 1.0f);
  EXPECT_EQ(q.qs[3], -127);
  EXPECT_EQ(q.qs[4], 127);
  for (int j = 0; j < 7; ++j) EXPECT_EQ(q.qs[16 + j], want[j]) << "j=" << j;
  EXPECT_EQ(q.bsums[0], 0);
  EXPECT_EQ(q.bsums[1], 0 + 2 + 2 + 0 - 2 + 4 + 10);
  for (int g = 2; g < 16; ++g) EXPECT_EQ(q.bsums[g], 0);
}

TEST(QuantizeActRowRef, Q8_KPositiveMaxFlipsSign) {
  std::vector<float> x(512, 0.0f);
  x[0] = 2.0f;    // iscale = -63.5, d = 1 / -63.5 (negative)
  x[1] = -2.0f;   // -> +127
  x[2] = 1.0f;    // -63.5 -> -64 (tie to even)
  x[256 + 9] = 0.0f;  // second block all zero
  BlockQ8_K q[2];
  std::memset(q, 0x55, sizeof(q));
  QuantizeActRowRef(DType::kQ8_K, x.data(), q, 512);
  EXPECT_EQ(q[0].d, 1.0f / -63.5f);
  EXPECT_LT(q[0].d, 0.0f);
  EXPECT_EQ(q[0].qs[0], -127);
  EXPECT_EQ(q[0].qs[1], 127);
  EXPECT_EQ(q[0].qs[2], -64);
  EXPECT_EQ(q[0].bsums[0], -64);
  EXPECT_EQ(q[1].d, 0.0f);
  for (int j = 0; j < 256; ++j) EXPECT_EQ(q[1].qs[j], 0);
  for (int g = 0; g < 16; ++g) EXPECT_EQ(q[1].bsums[g], 0);
}

TEST(QuantizeActRowRef, FloatFormats) {
  const float x[4] = {1.0f + 0x1p-11f, -65520.0f, 1.0f + 0x1p-8f, 3.0f};
  uint16_t h[4], b[4];
  float f[4];
  QuantizeActRowRef(DType::kF16, x, h, 4);
  QuantizeActRowRef(DType::kBF16, x, b, 4);
  QuantizeActRowRef(DType::kF32, x, f, 4);
  EXPECT_EQ(h[0], 0x3C00);  // tie -> even
  EXPECT_EQ(h[1], 0xFC00);  // overflow -> -inf
  EXPECT_EQ(b[2], 0x3F80);  // tie -> even
  EXPECT_EQ(b[3], 0x4040);
  EXPECT_EQ(std::memcmp(f, x, 16), 0);
}

// ---------------------------------------------------------------------------------------
// VecDotRef hand examples.

TEST(VecDotRef, Q4_1AddsMinTimesSum) {
  BlockQ4_1 w;
  w.d = Fp32ToFp16(0.5f);
  w.m = Fp32ToFp16(-1.0f);
  std::memset(w.qs, 0x21, 16);  // low nibble 1, high nibble 2
  BlockQ8_1 a;
  a.d = Fp32ToFp16(0.25f);
  std::memset(a.qs, 0, 32);
  a.qs[0] = 4;    // times code 1
  a.qs[16] = -8;  // times code 2
  a.s = Fp32ToFp16(0.25f * (4 - 8));
  // (0.5 * 0.25) * (1*4 + 2*(-8)) + (-1) * (-1) = -1.5 + 1
  EXPECT_EQ(VecDotRef(DType::kQ4_1, 32, &w, &a), -0.5f);
}

TEST(VecDotRef, Q4_KUsesBsumsForMins) {
  Bytes w(144, 0);
  PutHalf(w.data(), 0, 1.0f);
  PutHalf(w.data(), 2, 1.0f);
  w[4 + 4] = 2;  // m0 = 2, every scale 0: the dot is just -dmin * m0 * (bsums[0] + bsums[1])
  BlockQ8_K a{};
  a.d = 0.5f;
  a.bsums[0] = 10;
  a.bsums[1] = 3;
  a.bsums[2] = 100;  // belongs to sub-block 1 (m = 0)
  EXPECT_EQ(VecDotRef(DType::kQ4_K, 256, w.data(), &a), -0.5f * 2 * 13);
}

TEST(QuantRefDeathTest, UnsupportedTypeIsACheckFailure) {
  std::vector<uint8_t> buf(1024);
  float out[256];
  EXPECT_DEATH(DequantizeRowRef(DType::kIQ2_XXS, buf.data(), out, 256), "unsupported");
  EXPECT_DEATH(QuantizeActRowRef(DType::kQ4_0, out, buf.data(), 32), "unsupported");
  EXPECT_DEATH(VecDotRef(DType::kQ8_K, 256, buf.data(), buf.data()), "unsupported");
}

// ---------------------------------------------------------------------------------------
// FP16 / BF16 conversions (base/fp16.h).

// Independent decode of binary16 by the textbook formula.
double TextbookHalf(uint16_t h) {
  const int sign = h >> 15, e = (h >> 10) & 31, m = h & 1023;
  double v;
  if (e == 0) v = std::ldexp((double)m, -24);
  else if (e == 31) v = m ? NAN : INFINITY;
  else v = std::ldexp(1.0 + m / 1024.0, e - 15);
  return sign ? -v : v;
}

TEST(Fp16, ExhaustiveDecodeAndRoundTrip) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = Fp16ToFp32((uint16_t)h);
    const double want = TextbookHalf((uint16_t)h);
    if (std::isnan(want)) {
      ASSERT_TRUE(std::isnan(f)) << std::hex << h;
      const uint16_t back = Fp32ToFp16(f);
      ASSERT_EQ(back & 0x8000, h & 0x8000);
      ASSERT_TRUE((back & 0x7C00) == 0x7C00 && (back & 0x3FF) != 0) << std::hex << h;
      continue;
    }
    ASSERT_EQ((double)f, want) << std::hex << h;
    ASSERT_EQ(std::signbit(f), (h & 0x8000) != 0);
    ASSERT_EQ(Fp32ToFp16(f), h) << std::hex << h;
  }
}

TEST(Fp16, RoundToNearestEvenSpotChecks) {
  EXPECT_EQ(Fp32ToFp16(1.0f + 0x1p-11f), 0x3C00);          // tie, even below
  EXPECT_EQ(Fp32ToFp16(1.0f + 3 * 0x1p-11f), 0x3C02);      // tie, even above
  EXPECT_EQ(Fp32ToFp16(1.0f + 0x1p-11f + 0x1p-20f), 0x3C01);  // just above the tie
  EXPECT_EQ(Fp32ToFp16(65504.0f), 0x7BFF);
  EXPECT_EQ(Fp32ToFp16(65519.99f), 0x7BFF);
  EXPECT_EQ(Fp32ToFp16(65520.0f), 0x7C00);                  // tie to even -> overflow
  EXPECT_EQ(Fp32ToFp16(1e10f), 0x7C00);
  EXPECT_EQ(Fp32ToFp16(-INFINITY), 0xFC00);
  EXPECT_EQ(Fp32ToFp16(-0.0f), 0x8000);
  EXPECT_EQ(Fp32ToFp16(0x1p-24f), 0x0001);                  // smallest subnormal
  EXPECT_EQ(Fp32ToFp16(0x1p-25f), 0x0000);                  // tie -> 0 (even)
  EXPECT_EQ(Fp32ToFp16(3 * 0x1p-25f), 0x0002);              // tie -> 2 (even)
  EXPECT_EQ(Fp32ToFp16(0x1p-25f + 0x1p-40f), 0x0001);
  EXPECT_EQ(Fp32ToFp16(-5 * 0x1p-25f), 0x8002);             // 2.5 units -> 2
  EXPECT_EQ(Fp32ToFp16(0x1p-14f - 0x1p-26f), 0x0400);       // rounds up to min normal
  EXPECT_EQ(Fp32ToFp16(1e-30f), 0x0000);
  EXPECT_EQ(Fp32ToFp16(NAN) & 0x7E00, 0x7E00);
}

#if defined(__aarch64__) || defined(__FLT16_MAX__)
// The compiler's _Float16 conversion is IEEE round-to-nearest-even: an independent oracle.
// (GCC 12 has no _Float16 in C++ on AArch64; its __fp16 converts with the same fcvt.)
#if defined(__aarch64__)
using CompilerHalf = __fp16;
#else
using CompilerHalf = _Float16;
#endif
TEST(Fp16, MatchesCompilerFloat16OnRandomBits) {
  std::mt19937 rng(7);
  for (int i = 0; i < 2000000; ++i) {
    uint32_t u = rng();
    if (i % 2) u = (u & 0x80000000u) | (0x30000000u + (u % 0x18000000u));  // near half range
    const float f = BitsFloat(u);
    if (std::isnan(f)) continue;
    const CompilerHalf h = (CompilerHalf)f;
    uint16_t want;
    std::memcpy(&want, &h, 2);
    ASSERT_EQ(Fp32ToFp16(f), want) << std::hex << u;
  }
}
#endif

TEST(Bf16, ExhaustiveRoundTripAndRne) {
  for (uint32_t b = 0; b < 65536; ++b) {
    const float f = Bf16ToFp32((uint16_t)b);
    ASSERT_EQ(FloatBits(f), b << 16);
    if (std::isnan(f)) {
      ASSERT_EQ(Fp32ToBf16(f), (uint16_t)(b | 0x40));  // llama.cpp forces the quiet bit
    } else {
      ASSERT_EQ(Fp32ToBf16(f), b) << std::hex << b;
    }
  }
  EXPECT_EQ(Fp32ToBf16(1.0f + 0x1p-8f), 0x3F80);          // tie, even below
  EXPECT_EQ(Fp32ToBf16(1.0f + 3 * 0x1p-8f), 0x3F82);      // tie, even above
  EXPECT_EQ(Fp32ToBf16(1.0f + 0x1p-8f + 0x1p-20f), 0x3F81);
  EXPECT_EQ(Fp32ToBf16(BitsFloat(0x7F800001u)), 0x7FC0);  // signalling NaN -> quiet
  EXPECT_EQ(Fp32ToBf16(BitsFloat(0x7F7FFFFFu)), 0x7F80);  // max float rounds to inf
}

}  // namespace
}  // namespace gemrun
