// VecDotRef: scalar dot product of one weight row with one activation row already in the
// weight's vec_dot format, transcribing llama.cpp's ggml_vec_dot_*_generic: integer sums per
// block are exact, block scales combine in f32, blocks accumulate into one f32 sum.
#include "base/fp16.h"
#include "base/status.h"
#include "quant/blocks.h"
#include "quant/quant.h"
#include "quant/quant_internal.h"

namespace gemrun {
namespace {

using quant_internal::GetScaleMinK4;
using quant_internal::Half;

// Float rows: the f32 product of two f16/bf16 values is exact, so a double sum is the
// closest stand-in for llama.cpp's SIMD accumulation (its scalar path also sums in double).
template <typename Conv>
float DotFloat(const uint16_t* w, const uint16_t* a, int64_t n, Conv conv) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += (double)(conv(w[i]) * conv(a[i]));
  return (float)sum;
}

float DotF32(const float* w, const float* a, int64_t n) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += (double)(w[i] * a[i]);
  return (float)sum;
}

float DotQ4_0(const BlockQ4_0* x, const BlockQ8_0* y, int64_t nb) {
  float sumf = 0.0f;
  for (int64_t ib = 0; ib < nb; ++ib) {
    int sumi = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      sumi += ((x[ib].qs[j] & 0x0F) - 8) * y[ib].qs[j];
      sumi += ((x[ib].qs[j] >> 4) - 8) * y[ib].qs[j + kQK / 2];
    }
    sumf += (Half(x[ib].d) * Half(y[ib].d)) * (float)sumi;
  }
  return sumf;
}

float DotQ4_1(const BlockQ4_1* x, const BlockQ8_1* y, int64_t nb) {
  float sumf = 0.0f;
  for (int64_t ib = 0; ib < nb; ++ib) {
    int sumi = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      sumi += (x[ib].qs[j] & 0x0F) * y[ib].qs[j];
      sumi += (x[ib].qs[j] >> 4) * y[ib].qs[j + kQK / 2];
    }
    sumf += (Half(x[ib].d) * Half(y[ib].d)) * (float)sumi + Half(x[ib].m) * Half(y[ib].s);
  }
  return sumf;
}

// Sum over one Q5 block of the 5-bit codes (minus `offset`) times the Q8 values.
int Q5BlockSum(const uint8_t* qs, const uint8_t* qh_bytes, const int8_t* q8, int offset) {
  const uint32_t qh = quant_internal::LoadQh(qh_bytes);
  int sumi = 0;
  for (int j = 0; j < kQK / 2; ++j) {
    const int x0 = ((qs[j] & 0x0F) | (((qh >> j) & 1) << 4)) - offset;
    const int x1 = ((qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4)) - offset;
    sumi += x0 * q8[j] + x1 * q8[j + kQK / 2];
  }
  return sumi;
}

float DotQ5_0(const BlockQ5_0* x, const BlockQ8_0* y, int64_t nb) {
  float sumf = 0.0f;
  for (int64_t ib = 0; ib < nb; ++ib) {
    const int sumi = Q5BlockSum(x[ib].qs, x[ib].qh, y[ib].qs, 16);
    sumf += (Half(x[ib].d) * Half(y[ib].d)) * (float)sumi;
  }
  return sumf;
}

float DotQ5_1(const BlockQ5_1* x, const BlockQ8_1* y, int64_t nb) {
  float sumf = 0.0f;
  for (int64_t ib = 0; ib < nb; ++ib) {
    const int sumi = Q5BlockSum(x[ib].qs, x[ib].qh, y[ib].qs, 0);
    sumf += (Half(x[ib].d) * Half(y[ib].d)) * (float)sumi + Half(x[ib].m) * Half(y[ib].s);
  }
  return sumf;
}

float DotQ8_0(const BlockQ8_0* x, const BlockQ8_0* y, int64_t nb) {
  float sumf = 0.0f;
  for (int64_t ib = 0; ib < nb; ++ib) {
    int sumi = 0;
    for (int j = 0; j < kQK; ++j) sumi += x[ib].qs[j] * y[ib].qs[j];
    sumf += (Half(x[ib].d) * Half(y[ib].d)) * (float)sumi;
  }
  return sumf;
}

float DotIQ4_NL(const BlockIQ4_NL* x, const BlockQ8_0* y, int64_t nb) {
  float sumf = 0.0f;
  for (int64_t ib = 0; ib < nb; ++ib) {
    const float d = Half(y[ib].d) * Half(x[ib].d);
    int sumi1 = 0, sumi2 = 0;
    for (int j = 0; j < kQK / 2; ++j) {
      sumi1 += y[ib].qs[j] * kIq4nlValues[x[ib].qs[j] & 0xF];
      sumi2 += y[ib].qs[j + kQK / 2] * kIq4nlValues[x[ib].qs[j] >> 4];
    }
    sumf += d * (float)(sumi1 + sumi2);
  }
  return sumf;
}

// Q2_K: the min term uses the activation's bsums (one per 16-element group).
float DotQ2_K(const BlockQ2_K* x, const BlockQ8_K* y, int64_t nb) {
  float sumf = 0.0f;
  for (int64_t i = 0; i < nb; ++i) {
    const uint8_t* sc = x[i].scales;
    int summs = 0;
    for (int j = 0; j < 16; ++j) summs += y[i].bsums[j] * (sc[j] >> 4);
    const float dall = y[i].d * Half(x[i].d);
    const float dmin = y[i].d * Half(x[i].dmin);
    const uint8_t* q2 = x[i].qs;
    const int8_t* q8 = y[i].qs;
    int isum = 0, is = 0;
    for (int k = 0; k < kQKK / 128; ++k, q2 += 32) {
      for (int shift = 0; shift < 8; shift += 2, q8 += 32) {
        for (int half = 0; half < 2; ++half) {
          int isuml = 0;
          for (int l = 16 * half; l < 16 * half + 16; ++l) isuml += q8[l] * ((q2[l] >> shift) & 3);
          isum += (sc[is++] & 0xF) * isuml;
        }
      }
    }
    sumf += dall * (float)isum - dmin * (float)summs;
  }
  return sumf;
}

float DotQ3_K(const BlockQ3_K* x, const BlockQ8_K* y, int64_t nb) {
  float sumf = 0.0f;
  for (int64_t i = 0; i < nb; ++i) {
    int8_t scales[16];
    quant_internal::UnpackQ3KScales(x[i].scales, scales);
    const uint8_t* q = x[i].qs;
    const uint8_t* hm = x[i].hmask;
    const int8_t* q8 = y[i].qs;
    uint8_t m = 1;
    int isum = 0, is = 0;
    for (int n = 0; n < kQKK; n += 128, q += 32) {
      for (int shift = 0; shift < 8; shift += 2, m <<= 1, q8 += 32) {
        for (int half = 0; half < 2; ++half) {
          int isuml = 0;
          for (int l = 16 * half; l < 16 * half + 16; ++l) {
            isuml += q8[l] * (((q[l] >> shift) & 3) - ((hm[l] & m) ? 0 : 4));
          }
          isum += scales[is++] * isuml;
        }
      }
    }
    sumf += (Half(x[i].d) * y[i].d) * (float)isum;
  }
  return sumf;
}

// Q4_K/Q5_K share the scale/min packing: sum of sc_j * (sub-block int dot) and the min term
// from the bsums pair covering sub-block j.
template <typename Block, typename CodeFn>
float DotQ45_K(const Block* x, const BlockQ8_K* y, int64_t nb, CodeFn code) {
  float sumf = 0.0f;
  for (int64_t i = 0; i < nb; ++i) {
    int isum = 0, summs = 0;
    for (int j = 0; j < 8; ++j) {
      uint8_t sc, m;
      GetScaleMinK4(j, x[i].scales, &sc, &m);
      int isub = 0;
      for (int l = 0; l < 32; ++l) isub += code(x[i], j, l) * y[i].qs[32 * j + l];
      isum += sc * isub;
      summs += m * (y[i].bsums[2 * j] + y[i].bsums[2 * j + 1]);
    }
    const float d = y[i].d * Half(x[i].d);
    const float dmin = Half(x[i].dmin) * y[i].d;
    sumf += d * (float)isum;
    sumf -= dmin * (float)summs;
  }
  return sumf;
}

// 4-bit code of element l of sub-block j: group j/2 uses qs[32*(j/2)..], low nibble if j even.
int Q4KCode(const BlockQ4_K& b, int j, int l) {
  const uint8_t byte = b.qs[32 * (j / 2) + l];
  return (j % 2 == 0) ? (byte & 0xF) : (byte >> 4);
}

// 5-bit code: the Q4_K nibble plus bit j of qh[l] as 16.
int Q5KCode(const BlockQ5_K& b, int j, int l) {
  const uint8_t byte = b.qs[32 * (j / 2) + l];
  const int lo = (j % 2 == 0) ? (byte & 0xF) : (byte >> 4);
  return lo + (((b.qh[l] >> j) & 1) << 4);
}

float DotQ6_K(const BlockQ6_K* x, const BlockQ8_K* y, int64_t nb) {
  float sumf = 0.0f;
  for (int64_t i = 0; i < nb; ++i) {
    int8_t q6[kQKK];  // signed codes in element order, -32..31
    for (int h = 0; h < 2; ++h) {
      const uint8_t* ql = x[i].ql + 64 * h;
      const uint8_t* qh = x[i].qh + 32 * h;
      int8_t* q = q6 + 128 * h;
      for (int l = 0; l < 32; ++l) {
        q[l + 0] = (int8_t)(((ql[l + 0] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32);
        q[l + 32] = (int8_t)(((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32);
        q[l + 64] = (int8_t)(((ql[l + 0] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
        q[l + 96] = (int8_t)(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
      }
    }
    int isum = 0;
    for (int g = 0; g < kQKK / 16; ++g) {
      int isub = 0;
      for (int l = 0; l < 16; ++l) isub += q6[16 * g + l] * y[i].qs[16 * g + l];
      isum += x[i].scales[g] * isub;
    }
    sumf += (Half(x[i].d) * y[i].d) * (float)isum;
  }
  return sumf;
}

float DotIQ4_XS(const BlockIQ4_XS* x, const BlockQ8_K* y, int64_t nb) {
  float sumf = 0.0f;
  for (int64_t i = 0; i < nb; ++i) {
    const float d4d8 = Half(x[i].d) * y[i].d;
    const uint8_t* qs = x[i].qs;
    const int8_t* q8 = y[i].qs;
    for (int ib = 0; ib < kQKK / 32; ++ib, qs += 16, q8 += 32) {
      const float dl = d4d8 * (float)quant_internal::Iq4XsScale(x[i], ib);
      int sumi1 = 0, sumi2 = 0;
      for (int j = 0; j < 16; ++j) {
        sumi1 += q8[j] * kIq4nlValues[qs[j] & 0xF];
        sumi2 += q8[j + 16] * kIq4nlValues[qs[j] >> 4];
      }
      sumf += dl * (float)(sumi1 + sumi2);
    }
  }
  return sumf;
}

template <typename Block>
const Block* As(const void* p) {
  return static_cast<const Block*>(p);
}

}  // namespace

float VecDotRef(DType wt, int64_t n, const void* w, const void* a) {
  const int64_t bs = Traits(wt).block_size;
  GEMRUN_CHECK(bs > 0 && n % bs == 0);
  const int64_t nb = n / bs;
  const auto* q8_0 = As<BlockQ8_0>(a);
  const auto* q8_1 = As<BlockQ8_1>(a);
  const auto* q8_k = As<BlockQ8_K>(a);
  switch (wt) {
    case DType::kF32: return DotF32(As<float>(w), As<float>(a), n);
    case DType::kF16: return DotFloat(As<uint16_t>(w), As<uint16_t>(a), n, Fp16ToFp32);
    case DType::kBF16: return DotFloat(As<uint16_t>(w), As<uint16_t>(a), n, Bf16ToFp32);
    case DType::kQ4_0: return DotQ4_0(As<BlockQ4_0>(w), q8_0, nb);
    case DType::kQ4_1: return DotQ4_1(As<BlockQ4_1>(w), q8_1, nb);
    case DType::kQ5_0: return DotQ5_0(As<BlockQ5_0>(w), q8_0, nb);
    case DType::kQ5_1: return DotQ5_1(As<BlockQ5_1>(w), q8_1, nb);
    case DType::kQ8_0: return DotQ8_0(As<BlockQ8_0>(w), q8_0, nb);
    case DType::kIQ4_NL: return DotIQ4_NL(As<BlockIQ4_NL>(w), q8_0, nb);
    case DType::kQ2_K: return DotQ2_K(As<BlockQ2_K>(w), q8_k, nb);
    case DType::kQ3_K: return DotQ3_K(As<BlockQ3_K>(w), q8_k, nb);
    case DType::kQ4_K: return DotQ45_K(As<BlockQ4_K>(w), q8_k, nb, Q4KCode);
    case DType::kQ5_K: return DotQ45_K(As<BlockQ5_K>(w), q8_k, nb, Q5KCode);
    case DType::kQ6_K: return DotQ6_K(As<BlockQ6_K>(w), q8_k, nb);
    case DType::kIQ4_XS: return DotIQ4_XS(As<BlockIQ4_XS>(w), q8_k, nb);
    default: break;
  }
  GEMRUN_CHECK(false && "VecDotRef: unsupported weight type");
  return 0.0f;
}

}  // namespace gemrun
