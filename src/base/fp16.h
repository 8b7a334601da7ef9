// IEEE half and bfloat16 conversions, bit-exact with llama.cpp's scalar paths (round-to-nearest-even).
#pragma once

#include <cstdint>
#include <cstring>

namespace gemrun {

inline uint32_t FloatBits(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }
inline float BitsFloat(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }

// Exact decode of binary16, subnormals included.
inline float Fp16ToFp32(uint16_t h) {
  const uint32_t sign = (uint32_t)(h & 0x8000) << 16;
  const uint32_t exp = (h >> 10) & 0x1F;
  const uint32_t man = h & 0x3FF;
  if (exp == 0) {
    if (man == 0) return BitsFloat(sign);
    // Subnormal: value = man * 2^-24.
    float v = (float)man * (1.0f / 16777216.0f);
    return sign ? -v : v;
  }
  if (exp == 31) return BitsFloat(sign | 0x7F800000u | (man << 13));
  return BitsFloat(sign | ((exp + 112) << 23) | (man << 13));
}

// Round-to-nearest-even encode; overflow to inf, NaN kept NaN.
inline uint16_t Fp32ToFp16(float f) {
  const uint32_t x = FloatBits(f);
  const uint32_t sign = (x >> 16) & 0x8000;
  uint32_t ax = x & 0x7FFFFFFF;
  if (ax > 0x7F800000u) return (uint16_t)(sign | 0x7E00);   // NaN
  if (ax >= 0x477FF000u) return (uint16_t)(sign | 0x7C00);  // rounds to >= 65520: inf
  if (ax < 0x38800000u) {                                    // below min normal: subnormal or zero
    // Scale into the subnormal grid and round-to-nearest-even via float addition.
    // Adding 0.5 (whose float ulp is 2^-24, the half subnormal step) rounds to nearest even.
    const float magic = 0.5f;
    float t = BitsFloat(ax) + magic;
    uint32_t bits = FloatBits(t) - FloatBits(magic);
    return (uint16_t)(sign | bits);
  }
  // Normal: rebias exponent and round mantissa (13 dropped bits) to nearest even.
  uint32_t mant_odd = (ax >> 13) & 1;
  ax += ((uint32_t)(15 - 127) << 23) + 0xFFF + mant_odd;
  return (uint16_t)(sign | (ax >> 13));
}

inline float Bf16ToFp32(uint16_t b) { return BitsFloat((uint32_t)b << 16); }

inline uint16_t Fp32ToBf16(float f) {
  uint32_t u = FloatBits(f);
  if ((u & 0x7FFFFFFF) > 0x7F800000u) return (uint16_t)((u >> 16) | 0x40);  // quiet NaN
  return (uint16_t)((u + 0x7FFF + ((u >> 16) & 1)) >> 16);
}

}  // namespace gemrun
