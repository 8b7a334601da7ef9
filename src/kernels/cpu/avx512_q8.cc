// AVX-512 VNNI dot tiles for the 32-element block formats whose activations are Q8_0 / Q8_1:
// Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL.
//
// Two blocks (64 values) per step. Each weight pair is decoded once into 64 *unsigned* bytes
// u = q + off (off = 8, 16, 128 or 0 by format) and reused for every activation row; the
// product with the signed activation bytes is one vpdpbusd whose accumulator starts at
// -off * sum(a) (computed once per activation block), so the int32 lanes hold exact
// sum((u - off) * a). Lanes 0-7 belong to the first block, 8-15 to the second; each lane
// vector is converted to f32 and scaled by d_w * d_a of its block.
#include <immintrin.h>

#include "kernels/cpu/cpu_internal.h"
#include "kernels/cpu/x86_common.h"
#include "quant/blocks.h"

namespace gemrun::kernels {
namespace {

// Two halves -> [f(h0) x8, f(h1) x8].
GEMRUN_INLINE __m512 PairScale(uint16_t h0, uint16_t h1) {
  const __m128 f = _mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(h0 | (static_cast<uint32_t>(h1) << 16))));
  const __m512i idx = _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
  return _mm512_permutexvar_ps(idx, _mm512_castps128_ps512(f));
}

// 16 packed nibbles of two blocks -> [lo(b0), hi(b0), lo(b1), hi(b1)] as bytes 0..15.
GEMRUN_INLINE __m512i Nibbles2(const uint8_t* q0, const uint8_t* q1) {
  const __m512i z = _mm512_inserti64x4(
      _mm512_castsi256_si512(_mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q0)))),
      _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q1))), 1);
  const __m512i sh = _mm512_set_epi64(4, 4, 0, 0, 4, 4, 0, 0);
  return _mm512_and_si512(_mm512_srlv_epi64(z, sh), _mm512_set1_epi8(0x0F));
}

GEMRUN_INLINE __mmask64 HighBits2(const uint8_t* h0, const uint8_t* h1) {
  return static_cast<__mmask64>(LoadU32(h0)) | (static_cast<__mmask64>(LoadU32(h1)) << 32);
}

// Weight formats. U() decodes blocks p0, p1 to unsigned bytes; kOff is the offset in u.
struct WQ4_0 {
  static constexpr int kBytes = 18, kOff = 8;
  static constexpr bool kMin = false;
  static GEMRUN_INLINE __m512i U(const uint8_t* p0, const uint8_t* p1) { return Nibbles2(p0 + 2, p1 + 2); }
  static GEMRUN_INLINE uint16_t M(const uint8_t*) { return 0; }
};
struct WQ4_1 {
  static constexpr int kBytes = 20, kOff = 0;
  static constexpr bool kMin = true;
  static GEMRUN_INLINE __m512i U(const uint8_t* p0, const uint8_t* p1) { return Nibbles2(p0 + 4, p1 + 4); }
  static GEMRUN_INLINE uint16_t M(const uint8_t* p) { return LoadU16(p + 2); }
};
struct WQ5_0 {
  static constexpr int kBytes = 22, kOff = 16;
  static constexpr bool kMin = false;
  static GEMRUN_INLINE __m512i U(const uint8_t* p0, const uint8_t* p1) {
    const __m512i u = Nibbles2(p0 + 6, p1 + 6);
    return _mm512_mask_add_epi8(u, HighBits2(p0 + 2, p1 + 2), u, _mm512_set1_epi8(0x10));
  }
  static GEMRUN_INLINE uint16_t M(const uint8_t*) { return 0; }
};
struct WQ5_1 {
  static constexpr int kBytes = 24, kOff = 0;
  static constexpr bool kMin = true;
  static GEMRUN_INLINE __m512i U(const uint8_t* p0, const uint8_t* p1) {
    const __m512i u = Nibbles2(p0 + 8, p1 + 8);
    return _mm512_mask_add_epi8(u, HighBits2(p0 + 4, p1 + 4), u, _mm512_set1_epi8(0x10));
  }
  static GEMRUN_INLINE uint16_t M(const uint8_t* p) { return LoadU16(p + 2); }
};
struct WQ8_0 {
  static constexpr int kBytes = 34, kOff = 128;
  static constexpr bool kMin = false;
  static GEMRUN_INLINE __m512i U(const uint8_t* p0, const uint8_t* p1) {
    const __m512i z = _mm512_inserti64x4(
        _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p0 + 2))),
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p1 + 2)), 1);
    return _mm512_xor_si512(z, _mm512_set1_epi8(static_cast<char>(0x80)));
  }
  static GEMRUN_INLINE uint16_t M(const uint8_t*) { return 0; }
};
struct WIQ4_NL {
  static constexpr int kBytes = 18, kOff = 128;
  static constexpr bool kMin = false;
  static GEMRUN_INLINE __m512i U(const uint8_t* p0, const uint8_t* p1) {
    // Codebook + 128 (unsigned), the same 16-entry table in every 128-bit lane.
    const __m512i table = _mm512_broadcast_i32x4(_mm_setr_epi8(
        1, 24, 45, 63, 79, 93, 106, 118, (char)129, (char)141, (char)153, (char)166, (char)181,
        (char)197, (char)217, (char)241));
    return _mm512_shuffle_epi8(table, Nibbles2(p0 + 2, p1 + 2));
  }
  static GEMRUN_INLINE uint16_t M(const uint8_t*) { return 0; }
};

// Activation block pair: codes, per-lane scales, the -off*sum(a) accumulator start and (Q8_1)
// the s fields at lanes 0 and 8.
template <class W>
struct ActPair {
  __m512i q, init;
  __m512 d, s;
};

template <class W, bool kTwo>
GEMRUN_INLINE ActPair<W> LoadAct(const uint8_t* p) {
  constexpr int kAB = W::kMin ? 36 : 34, kAQ = W::kMin ? 4 : 2;
  ActPair<W> r;
  const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + kAQ));
  r.q = kTwo ? _mm512_inserti64x4(_mm512_castsi256_si512(lo),
                                  _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + kAB + kAQ)), 1)
             : _mm512_zextsi256_si512(lo);
  r.d = PairScale(LoadU16(p), kTwo ? LoadU16(p + kAB) : 0);
  if constexpr (W::kOff != 0) {
    const __m512i sum = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(static_cast<char>(W::kOff)), r.q);
    r.init = _mm512_sub_epi32(_mm512_setzero_si512(), sum);
  } else {
    r.init = _mm512_setzero_si512();
  }
  if constexpr (W::kMin)
    r.s = _mm512_maskz_mov_ps(0x0101, PairScale(LoadU16(p + 2), kTwo ? LoadU16(p + kAB + 2) : 0));
  return r;
}

template <class W, int NR, int NC, bool kTwo>
GEMRUN_INLINE void Step(const uint8_t* w, int64_t ws, const uint8_t* a, int64_t as, int64_t b,
                        __m512* acc) {
  constexpr int kAB = W::kMin ? 36 : 34;
  ActPair<W> act[NC];
#pragma GCC unroll 4
  for (int c = 0; c < NC; ++c) act[c] = LoadAct<W, kTwo>(a + c * as + b * kAB);
#pragma GCC unroll 4
  for (int r = 0; r < NR; ++r) {
    const uint8_t* p0 = w + r * ws + b * W::kBytes;
    // With one block left, block "1" repeats block 0; its activations are zero.
    const uint8_t* p1 = kTwo ? p0 + W::kBytes : p0;
    const __m512i u = W::U(p0, p1);
    const __m512 dw = PairScale(LoadU16(p0), LoadU16(p1));
    __m512 mw;
    if constexpr (W::kMin) mw = PairScale(W::M(p0), W::M(p1));
#pragma GCC unroll 4
    for (int c = 0; c < NC; ++c) {
      const __m512i dot = _mm512_dpbusd_epi32(act[c].init, u, act[c].q);
      __m512& s = acc[r * NC + c];
      s = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(dw, act[c].d), s);
      if constexpr (W::kMin) s = _mm512_fmadd_ps(mw, act[c].s, s);
    }
  }
}

template <class W>
struct DotQ8Act {
  template <int NR, int NC>
  struct K {
    static void Run(int64_t n, const uint8_t* w, int64_t ws, const uint8_t* a, int64_t as, float* out,
                    int64_t ldo) {
      const int64_t nb = n / kQK;
      __m512 acc[NR * NC];
      for (int p = 0; p < NR * NC; ++p) acc[p] = _mm512_setzero_ps();
      int64_t b = 0;
      for (; b + 2 <= nb; b += 2) Step<W, NR, NC, true>(w, ws, a, as, b, acc);
      if (b < nb) Step<W, NR, NC, false>(w, ws, a, as, b, acc);
      for (int r = 0; r < NR; ++r)
        for (int c = 0; c < NC; ++c) out[c * ldo + r] = _mm512_reduce_add_ps(acc[r * NC + c]);
    }
  };
};

template <int NR, int NC> using KQ4_0 = DotQ8Act<WQ4_0>::K<NR, NC>;
template <int NR, int NC> using KQ4_1 = DotQ8Act<WQ4_1>::K<NR, NC>;
template <int NR, int NC> using KQ5_0 = DotQ8Act<WQ5_0>::K<NR, NC>;
template <int NR, int NC> using KQ5_1 = DotQ8Act<WQ5_1>::K<NR, NC>;
template <int NR, int NC> using KQ8_0 = DotQ8Act<WQ8_0>::K<NR, NC>;
template <int NR, int NC> using KIQ4_NL = DotQ8Act<WIQ4_NL>::K<NR, NC>;

}  // namespace

void Avx512AddQ8Tiles(IsaKernels& k) {
  SetDot(k, DType::kQ4_0, DotTile<KQ4_0>);
  SetDot(k, DType::kQ4_1, DotTile<KQ4_1>);
  SetDot(k, DType::kQ5_0, DotTile<KQ5_0>);
  SetDot(k, DType::kQ5_1, DotTile<KQ5_1>);
  SetDot(k, DType::kQ8_0, DotTile<KQ8_0>);
  SetDot(k, DType::kIQ4_NL, DotTile<KIQ4_NL>);
}

}  // namespace gemrun::kernels
