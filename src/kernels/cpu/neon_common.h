// Helpers shared by the AArch64 kernel files (neon*.cc): tile dispatch, the integer dot
// policies, and the block decoders that turn one 32-value weight block (or sub-block) into two
// int8x16 vectors of signed codes. Internal linkage throughout (anonymous namespace): the
// files are compiled with different -march extensions, and an inline function with external
// linkage could be merged by the linker into a copy that uses sdot/smmla.
#pragma once

#include <arm_neon.h>

#include <cstdint>
#include <cstring>

#include "base/fp16.h"
#include "kernels/cpu/cpu_internal.h"
#include "kernels/isa.h"
#include "quant/blocks.h"
#include "quant/quant_internal.h"

namespace gemrun::kernels {

// What the code of each file needs (its -march flags in CMakeLists.txt; keep them in step).
constexpr FeatureSet kNeonCode = kFeatNeon;                                   // neon.cc
constexpr FeatureSet kNeonDotCode = kFeatNeon | kFeatDotProd;                 // neon_dot.cc
constexpr FeatureSet kNeonI8mmCode = kFeatNeon | kFeatDotProd | kFeatI8mm;    // neon_i8mm.cc

namespace {

#define GEMRUN_INLINE inline __attribute__((always_inline))
// Full unrolling keeps accumulator arrays in registers (see kernels/cpu/README.md).
#define GEMRUN_UNROLL _Pragma("GCC unroll 16")

GEMRUN_INLINE float H2F(const uint8_t* p) {
  __fp16 h;
  std::memcpy(&h, p, 2);
  return static_cast<float>(h);  // fcvt: exact
}
GEMRUN_INLINE float LoadF32(const uint8_t* p) {
  float v;
  std::memcpy(&v, p, 4);
  return v;
}

// ---- integer dot policies: int32x4 += 16 int8 x int8 products (exact) ---------------------

// ARMv8.0: smull + smull2 (int16 products, |q| <= 128 so each fits), then sadalp twice.
struct DotNeon {
  static GEMRUN_INLINE int32x4_t Dot(int32x4_t acc, int8x16_t a, int8x16_t b) {
    const int16x8_t lo = vmull_s8(vget_low_s8(a), vget_low_s8(b));
    const int16x8_t hi = vmull_high_s8(a, b);
    return vpadalq_s16(vpadalq_s16(acc, lo), hi);
  }
};

// ---- tile dispatch (the same contract as the x86 DotTile, kernels/isa.h DotTileFn) --------

// Builds a DotTileFn from a kernel template K<NR, NC> (NR in {1, 4}, NC in 1..4).
template <template <int, int> class K>
void DispatchTile(int64_t n, const uint8_t* w, int64_t ws, int nr, const uint8_t* a, int64_t as, int nc,
                  float* out, int64_t ldo) {
  if (nr == 4) {
    switch (nc) {
      case 1: K<4, 1>::Run(n, w, ws, a, as, out, ldo); return;
      case 2: K<4, 2>::Run(n, w, ws, a, as, out, ldo); return;
      case 3: K<4, 3>::Run(n, w, ws, a, as, out, ldo); return;
      default: K<4, 4>::Run(n, w, ws, a, as, out, ldo); return;
    }
  }
  for (int r = 0; r < nr; ++r) {
    const uint8_t* wr = w + r * ws;
    switch (nc) {
      case 1: K<1, 1>::Run(n, wr, ws, a, as, out + r, ldo); break;
      case 2: K<1, 2>::Run(n, wr, ws, a, as, out + r, ldo); break;
      case 3: K<1, 3>::Run(n, wr, ws, a, as, out + r, ldo); break;
      default: K<1, 4>::Run(n, wr, ws, a, as, out + r, ldo); break;
    }
  }
}

// Any nr x nc as tiles of at most 4 x 4.
template <template <int, int> class K>
void DotTile(int64_t n, const void* w, int64_t ws, int nr, const void* a, int64_t as, int nc, float* out,
             int64_t ldo) {
  for (int c0 = 0; c0 < nc; c0 += 4) {
    const int ncc = nc - c0 < 4 ? nc - c0 : 4;
    for (int r0 = 0; r0 < nr; r0 += 4) {
      const int nrr = nr - r0 < 4 ? nr - r0 : 4;
      DispatchTile<K>(n, static_cast<const uint8_t*>(w) + r0 * ws, ws, nrr,
                      static_cast<const uint8_t*>(a) + c0 * as, as, ncc, out + c0 * ldo + r0, ldo);
    }
  }
}

// A 4-row kernel as two passes of a 2-row one (the K-quant tiles keep an int32 and an f32
// accumulator per pair, so 4 x 4 pairs would not fit the 32 registers).
template <int NR, int NC, template <int, int> class K2>
struct RowPairs {
  static void Run(int64_t n, const uint8_t* w, int64_t ws, const uint8_t* a, int64_t as, float* out, int64_t ldo) {
    if constexpr (NR == 4) {
      K2<2, NC>::Run(n, w, ws, a, as, out, ldo);
      K2<2, NC>::Run(n, w + 2 * ws, ws, a, as, out + 2, ldo);
    } else {
      K2<NR, NC>::Run(n, w, ws, a, as, out, ldo);
    }
  }
};

inline void SetQuant(IsaKernels& k, DType t, QuantizeActFn f) { k.quantize_act[static_cast<uint32_t>(t)] = f; }
inline void SetDot(IsaKernels& k, DType t, DotTileFn f) { k.dot_tile[static_cast<uint32_t>(t)] = f; }

// ---- 32-value blocks with Q8_0 / Q8_1 activations ----------------------------------------
// Decode(blk, lo, hi): the signed codes of values 0..15 and 16..31; D: the f32 scale;
// kMin: the block has a min (Q4_1, Q5_1: result += m * s_a with the Q8_1 activation's s).

GEMRUN_INLINE int8x16_t Nib(uint8x16_t v, bool high) {
  return vreinterpretq_s8_u8(high ? vshrq_n_u8(v, 4) : vandq_u8(v, vdupq_n_u8(0x0F)));
}

// The fifth bits of a Q5 block (32 bits, little-endian) as 0x10 per byte, values 0..15 / 16..31.
GEMRUN_INLINE void Q5High(const uint8_t* qh, uint8x16_t& lo, uint8x16_t& hi) {
  uint32_t bits;
  std::memcpy(&bits, qh, 4);
  const uint8x16_t v = vreinterpretq_u8_u32(vdupq_n_u32(bits));
  static constexpr uint8_t kLo[16] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1};
  static constexpr uint8_t kHi[16] = {2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3};
  static constexpr uint8_t kBit[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
  const uint8x16_t bit = vld1q_u8(kBit), k10 = vdupq_n_u8(0x10);
  lo = vandq_u8(vtstq_u8(vqtbl1q_u8(v, vld1q_u8(kLo)), bit), k10);
  hi = vandq_u8(vtstq_u8(vqtbl1q_u8(v, vld1q_u8(kHi)), bit), k10);
}

struct WQ4_0 {
  static constexpr int kBytes = 18;
  static constexpr bool kMin = false;
  static GEMRUN_INLINE void Decode(const uint8_t* b, int8x16_t& lo, int8x16_t& hi) {
    const uint8x16_t v = vld1q_u8(b + 2);
    const int8x16_t k8 = vdupq_n_s8(8);
    lo = vsubq_s8(Nib(v, false), k8);
    hi = vsubq_s8(Nib(v, true), k8);
  }
  static GEMRUN_INLINE float D(const uint8_t* b) { return H2F(b); }
  static GEMRUN_INLINE float M(const uint8_t*) { return 0.f; }
};
struct WQ4_1 {
  static constexpr int kBytes = 20;
  static constexpr bool kMin = true;
  static GEMRUN_INLINE void Decode(const uint8_t* b, int8x16_t& lo, int8x16_t& hi) {
    const uint8x16_t v = vld1q_u8(b + 4);
    lo = Nib(v, false);
    hi = Nib(v, true);
  }
  static GEMRUN_INLINE float D(const uint8_t* b) { return H2F(b); }
  static GEMRUN_INLINE float M(const uint8_t* b) { return H2F(b + 2); }
};
template <int kQh, int kQs, int kOff>
struct WQ5 {
  static GEMRUN_INLINE void Decode(const uint8_t* b, int8x16_t& lo, int8x16_t& hi) {
    const uint8x16_t v = vld1q_u8(b + kQs);
    uint8x16_t hl, hh;
    Q5High(b + kQh, hl, hh);
    const uint8x16_t l = vorrq_u8(vandq_u8(v, vdupq_n_u8(0x0F)), hl), h = vorrq_u8(vshrq_n_u8(v, 4), hh);
    lo = vsubq_s8(vreinterpretq_s8_u8(l), vdupq_n_s8(kOff));
    hi = vsubq_s8(vreinterpretq_s8_u8(h), vdupq_n_s8(kOff));
  }
  static GEMRUN_INLINE float D(const uint8_t* b) { return H2F(b); }
};
struct WQ5_0 : WQ5<2, 6, 16> {
  static constexpr int kBytes = 22;
  static constexpr bool kMin = false;
  static GEMRUN_INLINE float M(const uint8_t*) { return 0.f; }
};
struct WQ5_1 : WQ5<4, 8, 0> {
  static constexpr int kBytes = 24;
  static constexpr bool kMin = true;
  static GEMRUN_INLINE float M(const uint8_t* b) { return H2F(b + 2); }
};
struct WQ8_0 {
  static constexpr int kBytes = 34;
  static constexpr bool kMin = false;
  static GEMRUN_INLINE void Decode(const uint8_t* b, int8x16_t& lo, int8x16_t& hi) {
    lo = vld1q_s8(reinterpret_cast<const int8_t*>(b + 2));
    hi = vld1q_s8(reinterpret_cast<const int8_t*>(b + 18));
  }
  static GEMRUN_INLINE float D(const uint8_t* b) { return H2F(b); }
  static GEMRUN_INLINE float M(const uint8_t*) { return 0.f; }
};
// The IQ4 codebook lookup (tbl) of 16 nibbles.
GEMRUN_INLINE void Iq4Codes(const uint8_t* qs, int8x16_t& lo, int8x16_t& hi) {
  const int8x16_t book = vld1q_s8(kIq4nlValues);
  const uint8x16_t v = vld1q_u8(qs);
  lo = vqtbl1q_s8(book, vandq_u8(v, vdupq_n_u8(0x0F)));
  hi = vqtbl1q_s8(book, vshrq_n_u8(v, 4));
}
struct WIQ4_NL {
  static constexpr int kBytes = 18;
  static constexpr bool kMin = false;
  static GEMRUN_INLINE void Decode(const uint8_t* b, int8x16_t& lo, int8x16_t& hi) { Iq4Codes(b + 2, lo, hi); }
  static GEMRUN_INLINE float D(const uint8_t* b) { return H2F(b); }
  static GEMRUN_INLINE float M(const uint8_t*) { return 0.f; }
};

// The activation block a weight type pairs with: Q8_0 (34 bytes, codes at 2) or Q8_1 (36
// bytes, s = half(d * sum) at 2, codes at 4).
template <class W>
struct ActOf {
  static constexpr int kBytes = W::kMin ? 36 : 34;
  static constexpr int kQs = W::kMin ? 4 : 2;
};

}  // namespace
}  // namespace gemrun::kernels
