// Helpers shared by the x86 SIMD kernel files. Everything here has internal linkage (anonymous
// namespace): each file is compiled with different target flags, and an inline function with
// external linkage could be merged by the linker into a copy built for a wider ISA.
#pragma once

// GCC 12 reports its own _mm512_undefined_* helpers (used by the cast intrinsics) as
// maybe-uninitialized; the values are always fully overwritten.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/isa.h"

namespace gemrun::kernels {
namespace {

#define GEMRUN_INLINE inline __attribute__((always_inline))
// Full unrolling of the small loops over a tile's accumulators keeps them in registers
// (an array indexed in a rolled loop would live on the stack).
#define GEMRUN_UNROLL _Pragma("GCC unroll 16")

GEMRUN_INLINE uint16_t LoadU16(const void* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
GEMRUN_INLINE uint32_t LoadU32(const void* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
GEMRUN_INLINE float LoadF32(const void* p) {
  float v;
  std::memcpy(&v, p, 4);
  return v;
}

// F16C scalar conversions (exact decode; round-to-nearest-even encode).
GEMRUN_INLINE float H2F(uint16_t h) { return _cvtsh_ss(h); }
GEMRUN_INLINE float H2F(const void* p) { return _cvtsh_ss(LoadU16(p)); }
GEMRUN_INLINE uint16_t F2H(float f) {
  return static_cast<uint16_t>(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

// Round-to-nearest-even f32 -> bf16, NaN made quiet (llama.cpp's GGML_FP32_TO_BF16).
GEMRUN_INLINE uint16_t F2Bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((u >> 16) | 0x40);
  return static_cast<uint16_t>((u + 0x7FFF + ((u >> 16) & 1)) >> 16);
}
GEMRUN_INLINE float Bf162F(uint16_t b) {
  const uint32_t u = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Q4_K / Q5_K scale+min unpacking ("k4" packing, spec §9.10) into 8 scale bytes followed by
// 8 min bytes, as 4 little-endian words (llama.cpp's utmp trick).
GEMRUN_INLINE void UnpackScalesK4(const uint8_t* c, uint32_t out[4]) {
  constexpr uint32_t kMask1 = 0x3f3f3f3f, kMask2 = 0x0f0f0f0f, kMask3 = 0x03030303;
  uint32_t u[3];
  std::memcpy(u, c, 12);
  out[3] = ((u[2] >> 4) & kMask2) | (((u[1] >> 6) & kMask3) << 4);
  out[2] = u[1] & kMask1;
  out[1] = (u[2] & kMask2) | (((u[0] >> 6) & kMask3) << 4);
  out[0] = u[0] & kMask1;
}

// Q3_K scales (spec §9.9): 16 6-bit values, returned biased (0..63; subtract 32).
GEMRUN_INLINE void UnpackScalesQ3K(const uint8_t* c, uint32_t out[4]) {
  constexpr uint32_t kMask1 = 0x03030303, kMask2 = 0x0f0f0f0f;
  uint32_t u[3];
  std::memcpy(u, c, 12);
  const uint32_t t = u[2];
  out[2] = ((u[0] >> 4) & kMask2) | (((t >> 4) & kMask1) << 4);
  out[3] = ((u[1] >> 4) & kMask2) | (((t >> 6) & kMask1) << 4);
  out[0] = (u[0] & kMask2) | (((t >> 0) & kMask1) << 4);
  out[1] = (u[1] & kMask2) | (((t >> 2) & kMask1) << 4);
}

// IQ4_XS 6-bit sub-block scales (spec §9.7), biased by 32.
GEMRUN_INLINE void UnpackScalesIq4Xs(const uint8_t* blk, uint8_t ls[8]) {
  const uint16_t h = LoadU16(blk + 2);
  const uint8_t* l = blk + 4;
  for (int ib = 0; ib < 8; ++ib)
    ls[ib] = static_cast<uint8_t>(((l[ib / 2] >> (4 * (ib % 2))) & 0xF) | (((h >> (2 * ib)) & 3) << 4));
}

// Decode (one activation row) streams every weight byte once from DRAM. Measured on Zen 5:
// with 4 weight rows read side by side the hardware prefetchers alone reach 12-25 GB/s; a
// software prefetch ~8 KB ahead in each row stream brings it to 30-40 GB/s per core.
constexpr int kPrefetchAhead = 8192;

// Prefetches the bytes [p + kPrefetchAhead, p + kPrefetchAhead + kLen) into L1.
template <int kLen>
GEMRUN_INLINE void PrefetchAhead(const uint8_t* p) {
  GEMRUN_UNROLL
  for (int l = 0; l < kLen; l += 64)
    _mm_prefetch(reinterpret_cast<const char*>(p + kPrefetchAhead + l), _MM_HINT_T0);
}

// One prefetch per cache line for streams that advance by less than a line per step: for a
// step consuming [base + off, base + off + kLen) prefetches the lines starting in that range.
template <int kLen>
GEMRUN_INLINE void PrefetchLines(const uint8_t* base, int64_t off) {
  for (int64_t l = (off + 63) & ~int64_t{63}; l < off + kLen; l += 64)
    _mm_prefetch(reinterpret_cast<const char*>(base + l + kPrefetchAhead), _MM_HINT_T0);
}

constexpr int PadPow2(int p) { return p <= 1 ? 1 : p <= 2 ? 2 : p <= 4 ? 4 : p <= 8 ? 8 : 16; }

// Kernels may declare kRowAtATimeDecode: for one activation row they stream one weight row at
// a time (a single sequential stream), which is what the float formats prefer.
template <class T>
constexpr bool RowAtATimeDecode() {
  if constexpr (requires { T::kRowAtATimeDecode; }) return T::kRowAtATimeDecode;
  else return false;
}

// Builds a DotTileFn from a kernel template K<NR, NC> (NR in {1, 4}, NC in 1..4). Tiles with
// 2 or 3 weight rows run the one-row kernel per row.
template <template <int, int> class K>
void DispatchTile(int64_t n, const void* w, int64_t ws, int nr, const void* a, int64_t as, int nc,
                  float* out, int64_t ldo) {
  const auto* wb = static_cast<const uint8_t*>(w);
  const auto* ab = static_cast<const uint8_t*>(a);
  if (nr == 4 && !(nc == 1 && RowAtATimeDecode<K<1, 1>>())) {
    switch (nc) {
      case 1: K<4, 1>::Run(n, wb, ws, ab, as, out, ldo); return;
      case 2: K<4, 2>::Run(n, wb, ws, ab, as, out, ldo); return;
      case 3: K<4, 3>::Run(n, wb, ws, ab, as, out, ldo); return;
      default: K<4, 4>::Run(n, wb, ws, ab, as, out, ldo); return;
    }
  }
  for (int r = 0; r < nr; ++r) {
    const uint8_t* wr = wb + r * ws;
    switch (nc) {
      case 1: K<1, 1>::Run(n, wr, ws, ab, as, out + r, ldo); break;
      case 2: K<1, 2>::Run(n, wr, ws, ab, as, out + r, ldo); break;
      case 3: K<1, 3>::Run(n, wr, ws, ab, as, out + r, ldo); break;
      default: K<1, 4>::Run(n, wr, ws, ab, as, out + r, ldo); break;
    }
  }
}

// Handles nc > 4 by splitting into column groups of at most 4 (callers normally pass <= 4).
template <template <int, int> class K>
void DotTile(int64_t n, const void* w, int64_t ws, int nr, const void* a, int64_t as, int nc,
             float* out, int64_t ldo) {
  for (int c0 = 0; c0 < nc; c0 += 4) {
    const int ncc = nc - c0 < 4 ? nc - c0 : 4;
    for (int r0 = 0; r0 < nr; r0 += 4) {
      const int nrr = nr - r0 < 4 ? nr - r0 : 4;
      DispatchTile<K>(n, static_cast<const uint8_t*>(w) + r0 * ws, ws, nrr,
                      static_cast<const uint8_t*>(a) + c0 * as, as, ncc, out + c0 * ldo + r0, ldo);
    }
  }
}

inline void SetQuant(IsaKernels& k, DType t, QuantizeActFn f) { k.quantize_act[static_cast<uint32_t>(t)] = f; }
inline void SetDot(IsaKernels& k, DType t, DotTileFn f) { k.dot_tile[static_cast<uint32_t>(t)] = f; }

}  // namespace
}  // namespace gemrun::kernels
