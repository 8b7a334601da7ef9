// Small bit-unpacking helpers shared by the scalar dequantizers, dot products and quantizers
// (spec/gguf.md §9). Internal to src/quant; the SIMD kernels may include it for unpacking
// scales, which is never on their hot path.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "base/fp16.h"
#include "quant/blocks.h"

namespace gemrun::quant_internal {

inline float Half(uint16_t h) { return Fp16ToFp32(h); }

// llama.cpp's nearest_int (the 1.5*2^23 magic-number add) rounds half to even for
// |f| <= 4194303; nearbyint under the default rounding mode gives the same integer. We use
// nearbyint because the magic add, once inlined after `iscale * x`, may be contracted into
// an FMA when built with -mfma, which rounds differently from llama.cpp's unfused product.
inline int NearestInt(float f) { return (int)std::nearbyint(f); }

// Q5_0/Q5_1 high bits: the 4 qh bytes read as one little-endian u32.
inline uint32_t LoadQh(const uint8_t qh[4]) {
  return (uint32_t)qh[0] | ((uint32_t)qh[1] << 8) | ((uint32_t)qh[2] << 16) |
         ((uint32_t)qh[3] << 24);
}

// The 6-bit scale and min of sub-block j (0..7) of Q4_K/Q5_K (llama.cpp get_scale_min_k4).
inline void GetScaleMinK4(int j, const uint8_t* q, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

// Inverse of GetScaleMinK4: packs eight 6-bit scales and mins into 12 bytes.
inline void PackScaleMinK4(const uint8_t sc[8], const uint8_t m[8], uint8_t q[12]) {
  for (int j = 0; j < 4; ++j) {
    q[j] = (uint8_t)((sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
    q[j + 4] = (uint8_t)((m[j] & 63) | ((m[j + 4] >> 4) << 6));
    q[j + 8] = (uint8_t)((sc[j + 4] & 0xF) | ((m[j + 4] & 0xF) << 4));
  }
}

// The 16 signed Q3_K scales (already minus 32), as llama.cpp's kmask shuffle produces them.
inline void UnpackQ3KScales(const uint8_t c[12], int8_t out[16]) {
  for (int s = 0; s < 16; ++s) {
    const int low = s < 8 ? (c[s] & 0xF) : (c[s - 8] >> 4);
    const int high = (c[8 + (s % 4)] >> (2 * (s / 4))) & 3;
    out[s] = (int8_t)((low | (high << 4)) - 32);
  }
}

// Inverse of UnpackQ3KScales: takes scales in -32..31.
inline void PackQ3KScales(const int8_t in[16], uint8_t c[12]) {
  std::memset(c, 0, 12);
  for (int s = 0; s < 16; ++s) {
    const int u = in[s] + 32;  // 0..63
    if (s < 8) c[s] |= (uint8_t)(u & 0xF);
    else c[s - 8] |= (uint8_t)((u & 0xF) << 4);
    c[8 + (s % 4)] |= (uint8_t)(((u >> 4) & 3) << (2 * (s / 4)));
  }
}

// IQ4_XS 6-bit scale of sub-block ib (0..7), unbiased (ls - 32).
inline int Iq4XsScale(const BlockIQ4_XS& b, int ib) {
  const int ls = ((b.scales_l[ib / 2] >> (4 * (ib % 2))) & 0xF) | (((b.scales_h >> (2 * ib)) & 3) << 4);
  return ls - 32;
}

}  // namespace gemrun::quant_internal
