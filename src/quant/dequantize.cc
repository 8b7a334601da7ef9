// DequantizeRowRef: one function per block type, each a transcription of llama.cpp's
// dequantize_row_* (f32 arithmetic, same association order) so embeddings and any
// dequantize-then-multiply path are bit-identical with the reference (spec/gguf.md §9).
#include <cstring>

#include "base/fp16.h"
#include "base/status.h"
#include "quant/blocks.h"
#include "quant/quant.h"
#include "quant/quant_internal.h"

namespace gemrun {
namespace {

using quant_internal::GetScaleMinK4;
using quant_internal::Half;

void DequantF16(const uint16_t* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = Fp16ToFp32(x[i]);
}

void DequantBF16(const uint16_t* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = Bf16ToFp32(x[i]);
}

void DequantQ4_0(const BlockQ4_0* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const float d = Half(x[i].d);
    for (int j = 0; j < kQK / 2; ++j) {
      const int x0 = (x[i].qs[j] & 0x0F) - 8;
      const int x1 = (x[i].qs[j] >> 4) - 8;
      y[j] = x0 * d;
      y[j + kQK / 2] = x1 * d;
    }
  }
}

void DequantQ4_1(const BlockQ4_1* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const float d = Half(x[i].d);
    const float m = Half(x[i].m);
    for (int j = 0; j < kQK / 2; ++j) {
      const int x0 = x[i].qs[j] & 0x0F;
      const int x1 = x[i].qs[j] >> 4;
      y[j] = x0 * d + m;
      y[j + kQK / 2] = x1 * d + m;
    }
  }
}

// Fifth bits of element j (low half) and j+16 (high half), as bit 4 of the code.
inline int Q5High(uint32_t qh, int j, bool high_half) {
  return high_half ? (int)((qh >> (j + 12)) & 0x10) : (int)(((qh >> j) << 4) & 0x10);
}

void DequantQ5_0(const BlockQ5_0* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const float d = Half(x[i].d);
    const uint32_t qh = quant_internal::LoadQh(x[i].qh);
    for (int j = 0; j < kQK / 2; ++j) {
      const int x0 = ((x[i].qs[j] & 0x0F) | Q5High(qh, j, false)) - 16;
      const int x1 = ((x[i].qs[j] >> 4) | Q5High(qh, j, true)) - 16;
      y[j] = x0 * d;
      y[j + kQK / 2] = x1 * d;
    }
  }
}

void DequantQ5_1(const BlockQ5_1* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const float d = Half(x[i].d);
    const float m = Half(x[i].m);
    const uint32_t qh = quant_internal::LoadQh(x[i].qh);
    for (int j = 0; j < kQK / 2; ++j) {
      const int x0 = (x[i].qs[j] & 0x0F) | Q5High(qh, j, false);
      const int x1 = (x[i].qs[j] >> 4) | Q5High(qh, j, true);
      y[j] = x0 * d + m;
      y[j + kQK / 2] = x1 * d + m;
    }
  }
}

void DequantQ8_0(const BlockQ8_0* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const float d = Half(x[i].d);
    for (int j = 0; j < kQK; ++j) y[j] = x[i].qs[j] * d;
  }
}

// llama.cpp has no dequantizer for Q8_1 (it is activation-only); this is the obvious d*q.
void DequantQ8_1(const BlockQ8_1* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const float d = Half(x[i].d);
    for (int j = 0; j < kQK; ++j) y[j] = x[i].qs[j] * d;
  }
}

void DequantIQ4_NL(const BlockIQ4_NL* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQK) {
    const float d = Half(x[i].d);
    for (int j = 0; j < kQK / 2; ++j) {
      y[j] = d * kIq4nlValues[x[i].qs[j] & 0xF];
      y[j + kQK / 2] = d * kIq4nlValues[x[i].qs[j] >> 4];
    }
  }
}

void DequantIQ4_XS(const BlockIQ4_XS* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = Half(x[i].d);
    const uint8_t* qs = x[i].qs;
    for (int ib = 0; ib < kQKK / 32; ++ib, y += 32, qs += 16) {
      const float dl = d * quant_internal::Iq4XsScale(x[i], ib);
      for (int j = 0; j < 16; ++j) {
        y[j] = dl * kIq4nlValues[qs[j] & 0xF];
        y[j + 16] = dl * kIq4nlValues[qs[j] >> 4];
      }
    }
  }
}

void DequantQ2_K(const BlockQ2_K* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = Half(x[i].d);
    const float min = Half(x[i].dmin);
    const uint8_t* q = x[i].qs;
    int is = 0;
    for (int n = 0; n < kQKK; n += 128, q += 32) {
      for (int shift = 0; shift < 8; shift += 2) {
        // Two 16-element groups share the same qs bytes' bit pair: q[0..15] then q[16..31].
        for (int half = 0; half < 2; ++half) {
          const uint8_t sc = x[i].scales[is++];
          const float dl = d * (sc & 0xF);
          const float ml = min * (sc >> 4);
          for (int l = 0; l < 16; ++l) *y++ = dl * ((q[l + 16 * half] >> shift) & 3) - ml;
        }
      }
    }
  }
}

void DequantQ3_K(const BlockQ3_K* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d_all = Half(x[i].d);
    int8_t scales[16];
    quant_internal::UnpackQ3KScales(x[i].scales, scales);
    const uint8_t* q = x[i].qs;
    const uint8_t* hm = x[i].hmask;
    uint8_t m = 1;  // hmask bit for the current (h, p): 1 << (4h + p)
    int is = 0;
    for (int n = 0; n < kQKK; n += 128, q += 32) {
      for (int shift = 0; shift < 8; shift += 2, m <<= 1) {
        for (int half = 0; half < 2; ++half) {
          const float dl = d_all * scales[is++];
          for (int l = 16 * half; l < 16 * half + 16; ++l) {
            *y++ = dl * (((q[l] >> shift) & 3) - ((hm[l] & m) ? 0 : 4));
          }
        }
      }
    }
  }
}

// Q4_K and Q5_K: d*sc and dmin*m once per sub-block, then d1*q - m1 (llama.cpp order).
void DequantQ4_K(const BlockQ4_K* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = Half(x[i].d);
    const float min = Half(x[i].dmin);
    const uint8_t* q = x[i].qs;
    for (int is = 0; is < 8; is += 2, q += 32) {
      uint8_t sc, m;
      GetScaleMinK4(is + 0, x[i].scales, &sc, &m);
      const float d1 = d * sc, m1 = min * m;
      GetScaleMinK4(is + 1, x[i].scales, &sc, &m);
      const float d2 = d * sc, m2 = min * m;
      for (int l = 0; l < 32; ++l) *y++ = d1 * (q[l] & 0xF) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * (q[l] >> 4) - m2;
    }
  }
}

void DequantQ5_K(const BlockQ5_K* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = Half(x[i].d);
    const float min = Half(x[i].dmin);
    const uint8_t* ql = x[i].qs;
    const uint8_t* qh = x[i].qh;
    uint8_t u1 = 1, u2 = 2;  // qh bit of the low / high nibble for this group
    for (int is = 0; is < 8; is += 2, ql += 32, u1 <<= 2, u2 <<= 2) {
      uint8_t sc, m;
      GetScaleMinK4(is + 0, x[i].scales, &sc, &m);
      const float d1 = d * sc, m1 = min * m;
      GetScaleMinK4(is + 1, x[i].scales, &sc, &m);
      const float d2 = d * sc, m2 = min * m;
      for (int l = 0; l < 32; ++l) *y++ = d1 * ((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * ((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
    }
  }
}

void DequantQ6_K(const BlockQ6_K* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = Half(x[i].d);
    const uint8_t* ql = x[i].ql;
    const uint8_t* qh = x[i].qh;
    const int8_t* sc = x[i].scales;
    for (int n = 0; n < kQKK; n += 128, y += 128, ql += 64, qh += 32, sc += 8) {
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = (int8_t)((ql[l + 0] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = (int8_t)((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = (int8_t)((ql[l + 0] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = (int8_t)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l + 0] = d * sc[is + 0] * q1;
        y[l + 32] = d * sc[is + 2] * q2;
        y[l + 64] = d * sc[is + 4] * q3;
        y[l + 96] = d * sc[is + 6] * q4;
      }
    }
  }
}

void DequantQ8_K(const BlockQ8_K* x, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += kQKK) {
    for (int j = 0; j < kQKK; ++j) y[j] = x[i].d * x[i].qs[j];
  }
}

template <typename Block>
const Block* As(const void* p) {
  return static_cast<const Block*>(p);
}

}  // namespace

void DequantizeRowRef(DType t, const void* src, float* dst, int64_t n) {
  const int64_t bs = Traits(t).block_size;
  GEMRUN_CHECK(bs > 0 && n % bs == 0);
  const int64_t nb = n / bs;
  switch (t) {
    case DType::kF32: std::memcpy(dst, src, n * sizeof(float)); return;
    case DType::kF16: DequantF16(As<uint16_t>(src), dst, n); return;
    case DType::kBF16: DequantBF16(As<uint16_t>(src), dst, n); return;
    case DType::kQ4_0: DequantQ4_0(As<BlockQ4_0>(src), dst, nb); return;
    case DType::kQ4_1: DequantQ4_1(As<BlockQ4_1>(src), dst, nb); return;
    case DType::kQ5_0: DequantQ5_0(As<BlockQ5_0>(src), dst, nb); return;
    case DType::kQ5_1: DequantQ5_1(As<BlockQ5_1>(src), dst, nb); return;
    case DType::kQ8_0: DequantQ8_0(As<BlockQ8_0>(src), dst, nb); return;
    case DType::kQ8_1: DequantQ8_1(As<BlockQ8_1>(src), dst, nb); return;
    case DType::kQ2_K: DequantQ2_K(As<BlockQ2_K>(src), dst, nb); return;
    case DType::kQ3_K: DequantQ3_K(As<BlockQ3_K>(src), dst, nb); return;
    case DType::kQ4_K: DequantQ4_K(As<BlockQ4_K>(src), dst, nb); return;
    case DType::kQ5_K: DequantQ5_K(As<BlockQ5_K>(src), dst, nb); return;
    case DType::kQ6_K: DequantQ6_K(As<BlockQ6_K>(src), dst, nb); return;
    case DType::kQ8_K: DequantQ8_K(As<BlockQ8_K>(src), dst, nb); return;
    case DType::kIQ4_NL: DequantIQ4_NL(As<BlockIQ4_NL>(src), dst, nb); return;
    case DType::kIQ4_XS: DequantIQ4_XS(As<BlockIQ4_XS>(src), dst, nb); return;
    default: break;
  }
  GEMRUN_CHECK(false && "DequantizeRowRef: unsupported type");
}

}  // namespace gemrun
