// YMM tiles for row-interleaved (kRows16) Q4_0, Q5_0, Q8_0, Q4_K and Q6_K weights, shared by the AVX2
// (vpmaddubsw + vpmaddwd) and AVX-VNNI (VEX vpdpbusd) levels through a `Dot` policy. Internal
// linkage: each including file instantiates them under its own target flags.
//
// The packed layout is the AVX-512 one (kernels/repack.h): every 64-byte vector holds the same
// 4 code bytes of 16 rows, so its first 32 bytes are rows 0-7 and its last 32 rows 8-15. A
// 16-row group is therefore two independent 8-row halves, lanes = rows, and every activation
// dword is broadcast (vpbroadcastd from memory, a pure load). The loops go over code-vector
// pairs outermost and activation rows innermost, so a decoded pair feeds NC columns while only
// NC int32 accumulators, NC f32 accumulators and 4 temporaries are live (16 ymm registers).
//
// Per 32-value block, 8 rows and activation row: 4 Dot2 (VNNI: 8 vpdpbusd; AVX2: 8 vpmaddubsw,
// 4 vpaddw, 4 vpmaddwd, 4 vpaddd) against 8 broadcast loads, then vcvtdq2ps + vmulps + vfmadd.
// The int32 accumulator starts at -off * sum(a) (one broadcast load of a value prepared per
// call), so it holds the exact sum((u - off) * a). Q4_K folds each exact sub-block sum into f32
// with one vfmadd by the rows' 6-bit scales (exact products below 2^22), scales by d once per
// super-block, and removes the mins with 4 DotW (vpdpwssd / vpmaddwd) against the Q8_K
// sub-block sums. Q5_0 and Q6_K add their high bits with a shift, an AND and an OR per code
// vector; Q6_K runs per 16-value sub-block (int8 scales) from a -32 * bsum start.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>
#include <vector>

#include "kernels/cpu/avx2_common.h"

namespace gemrun::kernels {
namespace {

namespace y16 {

constexpr int64_t kBlockBytes = 256 << 10;  // packed weight bytes kept hot in L2 per row block

GEMRUN_INLINE __m256i Bc(const uint8_t* p) { return _mm256_set1_epi32(static_cast<int>(LoadU32(p))); }
GEMRUN_INLINE __m256i Load(const uint8_t* p) { return _mm256_load_si256(reinterpret_cast<const __m256i*>(p)); }
GEMRUN_INLINE __m256 Half8(const uint8_t* p) {  // 8 f16 -> f32
  return _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(p)));
}

template <int S>
GEMRUN_INLINE __m256i ShiftBits(__m256i v) {  // S > 0: left, S < 0: right (16-bit lanes)
  if constexpr (S > 0) return _mm256_slli_epi16(v, S);
  else if constexpr (S < 0) return _mm256_srli_epi16(v, -S);
  else return v;
}

// Weight formats (32-value blocks): bytes per block and per pair of 16-row blocks, offset of
// the unsigned codes, and code-vector pair I (of 4) of block hb (0, 1) of a packed pair for
// rows 8h..8h+7 with the byte offsets of the activation dwords it multiplies.
struct YQ4_0 {
  static constexpr int kBlock = 18, kOff = 8;
  static constexpr int64_t kPair = 2 * 16 * kBlock;
  static constexpr int Off0(int i) { return 4 * i; }
  static constexpr int Off1(int i) { return 16 + 4 * i; }
  template <int I>
  static GEMRUN_INLINE void Pair(const uint8_t* pair, int hb, int h, __m256i& u0, __m256i& u1) {
    const __m256i lo4 = _mm256_set1_epi8(0x0F), q = Load(pair + 64 + 256 * hb + 64 * I + 32 * h);
    u0 = _mm256_and_si256(q, lo4);
    u1 = _mm256_and_si256(_mm256_srli_epi16(q, 4), lo4);
  }
};
// Q5_0: the Q4_0 nibbles plus, per block, one vector of high bits in which byte k, bit 2i + e
// is the high bit of nibble e of code byte 4i + k (kernels/repack.h), so each code vector
// takes one shift and one AND to bring its high bits to bit 4, and one OR.
struct YQ5_0 {
  static constexpr int kBlock = 22, kOff = 16;
  static constexpr int64_t kPair = 2 * 16 * kBlock;
  static constexpr int Off0(int i) { return 4 * i; }
  static constexpr int Off1(int i) { return 16 + 4 * i; }
  template <int I>
  static GEMRUN_INLINE void Pair(const uint8_t* pair, int hb, int h, __m256i& u0, __m256i& u1) {
    const __m256i lo4 = _mm256_set1_epi8(0x0F), b4 = _mm256_set1_epi8(0x10);
    const __m256i q = Load(pair + 192 + 256 * hb + 64 * I + 32 * h), hi = Load(pair + 64 + 64 * hb + 32 * h);
    u0 = _mm256_or_si256(_mm256_and_si256(q, lo4), _mm256_and_si256(ShiftBits<4 - 2 * I>(hi), b4));
    u1 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), lo4),
                         _mm256_and_si256(ShiftBits<3 - 2 * I>(hi), b4));
  }
};
struct YQ8_0 {  // codes stored as q + 128; only with a Dot that takes codes up to 255
  static constexpr int kBlock = 34, kOff = 128;
  static constexpr int64_t kPair = 2 * 16 * kBlock;
  static constexpr int Off0(int i) { return 8 * i; }
  static constexpr int Off1(int i) { return 8 * i + 4; }
  template <int I>
  static GEMRUN_INLINE void Pair(const uint8_t* pair, int hb, int h, __m256i& u0, __m256i& u1) {
    const uint8_t* qs = pair + 64 + 512 * hb;
    u0 = Load(qs + 128 * I + 32 * h);
    u1 = Load(qs + 128 * I + 64 + 32 * h);
  }
};

// Q8_0 for a Dot that takes signed codes (AVX2's sign trick): the stored q + 128 flipped back.
struct YQ8_0Signed : YQ8_0 {
  static constexpr int kOff = 0;
  template <int I>
  static GEMRUN_INLINE void Pair(const uint8_t* pair, int hb, int h, __m256i& s0, __m256i& s1) {
    const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
    YQ8_0::Pair<I>(pair, hb, h, s0, s1);
    s0 = _mm256_xor_si256(s0, flip);
    s1 = _mm256_xor_si256(s1, flip);
  }
};

// One pass over nb blocks of NH halves (from half h0) of a 16-row group against NC activation
// rows; init[c * nb + b] = -off * sum of block b of activation row c. Writes out[c * ldo + r].
template <class W, class D, int NC, int NH>
void Pass32(int64_t nb, const uint8_t* wg, int h0, const uint8_t* a, int64_t as, const float* ad,
            const int32_t* init, float* out, int64_t ldo) {
  __m256 acc[NH][NC];
  GEMRUN_UNROLL
  for (int h = 0; h < NH; ++h)
    GEMRUN_UNROLL
    for (int c = 0; c < NC; ++c) acc[h][c] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* pair = wg + (b / 2) * W::kPair;
    const int hb = static_cast<int>(b % 2);
    if constexpr (NC <= 2) {
      if (hb == 0) PrefetchAhead<W::kPair>(pair);  // decode: one weight stream
    }
    const uint8_t* q = a + b * 34 + 2;
    __m256i t[NH][NC];
    GEMRUN_UNROLL
    for (int c = 0; c < NC; ++c) {
      const __m256i s = _mm256_set1_epi32(init[c * nb + b]);
      GEMRUN_UNROLL
      for (int h = 0; h < NH; ++h) t[h][c] = s;
    }
    auto step = [&]<int I>() {
      GEMRUN_UNROLL
      for (int h = 0; h < NH; ++h) {
        __m256i u0, u1;
        W::template Pair<I>(pair, hb, h0 + h, u0, u1);
        GEMRUN_UNROLL
        for (int c = 0; c < NC; ++c)
          t[h][c] = D::Dot2(t[h][c], u0, Bc(q + c * as + W::Off0(I)), u1, Bc(q + c * as + W::Off1(I)));
      }
    };
    step.template operator()<0>();
    step.template operator()<1>();
    step.template operator()<2>();
    step.template operator()<3>();
    GEMRUN_UNROLL
    for (int h = 0; h < NH; ++h) {
      const __m256 dw = Half8(pair + 32 * hb + 16 * (h0 + h));
      GEMRUN_UNROLL
      for (int c = 0; c < NC; ++c)
        acc[h][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(t[h][c]), _mm256_mul_ps(dw, _mm256_set1_ps(ad[c * nb + b])),
                                    acc[h][c]);
    }
  }
  GEMRUN_UNROLL
  for (int h = 0; h < NH; ++h)
    GEMRUN_UNROLL
    for (int c = 0; c < NC; ++c) _mm256_storeu_ps(out + c * ldo + 8 * (h0 + h), acc[h][c]);
}

// Q4_K: the 6-bit scales (f32, exact), d, dmin and the mins (int16 pairs) of rows 8h..8h+7 of
// one packed super-block (layout in kernels/repack.h).
template <int NH>
GEMRUN_INLINE void Q4KScales(const uint8_t* blk, int h0, __m256 scf[NH][8], __m256i mins[NH][4], __m256 dw[NH],
                             __m256 dm[NH]) {
  const __m256i lo4 = _mm256_set1_epi8(0x0F), hi2 = _mm256_set1_epi8(0x30);
  alignas(32) uint8_t sc[128], mn[128];  // scales [j][r]; mins as pairs [i][r][2]
  auto join = [&](__m256i low, __m256i high) {
    return _mm256_or_si256(_mm256_and_si256(low, lo4), _mm256_and_si256(high, hi2));
  };
  auto st = [](uint8_t* p, __m256i v) { _mm256_store_si256(reinterpret_cast<__m256i*>(p), v); };
  GEMRUN_UNROLL
  for (int x = 0; x < 2; ++x) {
    const __m256i l0 = Load(blk + 64 + 32 * x), l1 = Load(blk + 128 + 32 * x), hh = Load(blk + 192 + 32 * x);
    st(sc + 32 * x, join(l0, _mm256_slli_epi16(hh, 4)));
    st(sc + 64 + 32 * x, join(_mm256_srli_epi16(l0, 4), _mm256_slli_epi16(hh, 2)));
    st(mn + 32 * x, join(l1, hh));
    st(mn + 64 + 32 * x, join(_mm256_srli_epi16(l1, 4), _mm256_srli_epi16(hh, 2)));
  }
  GEMRUN_UNROLL
  for (int h = 0; h < NH; ++h) {
    const int r0 = 8 * (h0 + h);
    dw[h] = Half8(blk + 2 * r0);
    dm[h] = Half8(blk + 32 + 2 * r0);
    GEMRUN_UNROLL
    for (int j = 0; j < 8; ++j) {
      const __m128i s8 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(sc + 16 * j + r0));
      scf[h][j] = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(s8));
    }
    GEMRUN_UNROLL
    for (int i = 0; i < 4; ++i)
      mins[h][i] = _mm256_cvtepu8_epi16(_mm_load_si128(reinterpret_cast<const __m128i*>(mn + 32 * i + 2 * r0)));
  }
}

// Q4_K: NH halves of a 16-row group (nsb super-blocks of 2304 bytes) against NC Q8_K rows;
// ad[c * nsb + s] is row c's scale, asum[(c * nsb + s) * 4 + i] its sub-block sums 2i, 2i + 1.
// The super-block sum sum_j scale_j * isum_j is formed in f32 from exact integer products
// (< 2^22 each; exact unless a partial sum passes 2^24), and the running result lives in `out`
// (touched once per super-block), which leaves the 16 registers to the sub-block loop.
template <class D, int NC, int NH>
void PassQ4K(int64_t nsb, const uint8_t* wg, int h0, const uint8_t* a, int64_t as, const float* ad,
             const int32_t* asum, float* out, int64_t ldo) {
  constexpr int64_t kSuper = 2304, kActBlock = 292;  // bytes of a packed super-block, of a Q8_K block
  const __m256i lo4 = _mm256_set1_epi8(0x0F);
  GEMRUN_UNROLL
  for (int h = 0; h < NH; ++h)
    GEMRUN_UNROLL
    for (int c = 0; c < NC; ++c) _mm256_storeu_ps(out + c * ldo + 8 * (h0 + h), _mm256_setzero_ps());
  for (int64_t s = 0; s < nsb; ++s) {
    const uint8_t* blk = wg + s * kSuper;
    if constexpr (NC <= 2) PrefetchAhead<kSuper>(blk);
    __m256 scf[NH][8], dw[NH], dm[NH];
    __m256i mins[NH][4];
    Q4KScales<NH>(blk, h0, scf, mins, dw, dm);
    const uint8_t* codes = blk + 256;
    const uint8_t* as0 = a + s * kActBlock + 4;
    __m256 fs[NH][NC];
    GEMRUN_UNROLL
    for (int h = 0; h < NH; ++h)
      GEMRUN_UNROLL
      for (int c = 0; c < NC; ++c) fs[h][c] = _mm256_setzero_ps();
    GEMRUN_UNROLL
    for (int j = 0; j < 8; ++j) {
      __m256i t[NH][NC];
      GEMRUN_UNROLL
      for (int h = 0; h < NH; ++h)
        GEMRUN_UNROLL
        for (int c = 0; c < NC; ++c) t[h][c] = _mm256_setzero_si256();
      const int shift = 4 * (j % 2);
      GEMRUN_UNROLL
      for (int kp = 0; kp < 4; ++kp)
        GEMRUN_UNROLL
        for (int h = 0; h < NH; ++h) {
          const uint8_t* v = codes + 64 * (8 * (j / 2) + 2 * kp) + 32 * (h0 + h);
          const __m256i u0 = _mm256_and_si256(_mm256_srli_epi16(Load(v), shift), lo4);
          const __m256i u1 = _mm256_and_si256(_mm256_srli_epi16(Load(v + 64), shift), lo4);
          GEMRUN_UNROLL
          for (int c = 0; c < NC; ++c) {
            const uint8_t* q8 = as0 + c * as + 32 * j + 8 * kp;
            t[h][c] = D::Dot2(t[h][c], u0, Bc(q8), u1, Bc(q8 + 4));
          }
        }
      GEMRUN_UNROLL
      for (int h = 0; h < NH; ++h)
        GEMRUN_UNROLL
        for (int c = 0; c < NC; ++c) fs[h][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(t[h][c]), scf[h][j], fs[h][c]);
    }
    GEMRUN_UNROLL
    for (int c = 0; c < NC; ++c) {
      const int32_t* ps = asum + (c * nsb + s) * 4;
      const __m256 da = _mm256_set1_ps(ad[c * nsb + s]);
      GEMRUN_UNROLL
      for (int h = 0; h < NH; ++h) {
        __m256i im = _mm256_setzero_si256();
        GEMRUN_UNROLL
        for (int i = 0; i < 4; ++i) im = D::DotW(im, mins[h][i], _mm256_set1_epi32(ps[i]));
        float* o = out + c * ldo + 8 * (h0 + h);
        __m256 acc = _mm256_fmadd_ps(fs[h][c], _mm256_mul_ps(dw[h], da), _mm256_loadu_ps(o));
        _mm256_storeu_ps(o, _mm256_fnmadd_ps(_mm256_cvtepi32_ps(im), _mm256_mul_ps(dm[h], da), acc));
      }
    }
  }
}

// Q6_K code vector K (0..3) of 16-value sub-block J for rows 8h..8h+7 of a packed super-block
// (kernels/repack.h) and the activation byte offset of its dword. Sub-block J = 8n + 2q + w/4
// holds values 128n + 32q + 4(w % 4).. of ql vector 16n + (w + 8(q % 2)) (nibble q / 2) and of
// qh vector 8n + w (bits 2q, 2q + 1), w = 4 (J % 2) + K; an epi16 shift brings those bits to
// 4-5 without carrying in bits from the neighbouring byte.
template <int J, int K>
struct Q6Vec {
  static constexpr int kN = J / 8, kQ = (J % 8) / 2, kW = 4 * (J % 2) + K, kV = kW + 8 * (kQ % 2);
  static constexpr int kQl = 64 * (16 * kN + kV), kQh = 2048 + 64 * (8 * kN + kW);
  static constexpr int kAct = 128 * kN + 64 * (kQ / 2) + 4 * kV;
  static GEMRUN_INLINE __m256i Codes(const uint8_t* blk, int h) {
    const __m256i ql = ShiftBits<-4 * (kQ / 2)>(Load(blk + kQl + 32 * h));
    const __m256i qh = ShiftBits<4 - 2 * kQ>(Load(blk + kQh + 32 * h));
    return _mm256_or_si256(_mm256_and_si256(ql, _mm256_set1_epi8(0x0F)),
                           _mm256_and_si256(qh, _mm256_set1_epi8(0x30)));
  }
};

// Q6_K sub-block J of one super-block against NC Q8_K rows (codes at q8 + c * as): the int32
// accumulators start at -32 * the activation's 16-value sums (init[c * is + J]), so they hold
// the exact sum((u - 32) * a) (|.| <= 16 * 32 * 127); one FMA by the int8 scale folds it into
// f32 exactly (< 2^23).
template <class D, int NC, int NH, int J>
GEMRUN_INLINE void SubQ6K(const uint8_t* blk, int h0, const uint8_t* q8, int64_t as, const int32_t* init, int64_t is,
                          const float* scf, __m256 fs[NH][NC]) {
  __m256i t[NH][NC];
  GEMRUN_UNROLL
  for (int c = 0; c < NC; ++c) {
    const __m256i s = _mm256_set1_epi32(init[c * is + J]);
    GEMRUN_UNROLL
    for (int h = 0; h < NH; ++h) t[h][c] = s;
  }
  auto step = [&]<int K>() {
    GEMRUN_UNROLL
    for (int h = 0; h < NH; ++h) {
      const __m256i u0 = Q6Vec<J, K>::Codes(blk, h0 + h), u1 = Q6Vec<J, K + 1>::Codes(blk, h0 + h);
      GEMRUN_UNROLL
      for (int c = 0; c < NC; ++c)
        t[h][c] = D::Dot2(t[h][c], u0, Bc(q8 + c * as + Q6Vec<J, K>::kAct), u1,
                          Bc(q8 + c * as + Q6Vec<J, K + 1>::kAct));
    }
  };
  step.template operator()<0>();
  step.template operator()<2>();
  GEMRUN_UNROLL
  for (int h = 0; h < NH; ++h) {
    const __m256 sc = _mm256_load_ps(scf + 8 * h);
    GEMRUN_UNROLL
    for (int c = 0; c < NC; ++c) fs[h][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(t[h][c]), sc, fs[h][c]);
  }
}

// Q6_K: NH halves of a 16-row group (nsb packed super-blocks of 3360 bytes) against NC Q8_K
// rows; ad[c * nsb + s] is row c's scale, init[(c * nsb + s) * 16 + j] = -32 * its 16-value
// sum j. The running result lives in `out`, as for Q4_K.
template <class D, int NC, int NH>
void PassQ6K(int64_t nsb, const uint8_t* wg, int h0, const uint8_t* a, int64_t as, const float* ad,
             const int32_t* init, float* out, int64_t ldo) {
  constexpr int64_t kSuper = 3360, kActBlock = 292, kScales = 3072, kD = 3328;
  GEMRUN_UNROLL
  for (int h = 0; h < NH; ++h)
    GEMRUN_UNROLL
    for (int c = 0; c < NC; ++c) _mm256_storeu_ps(out + c * ldo + 8 * (h0 + h), _mm256_setzero_ps());
  for (int64_t s = 0; s < nsb; ++s) {
    const uint8_t* blk = wg + s * kSuper;
    if constexpr (NC <= 2) PrefetchAhead<kSuper>(blk);
    alignas(32) float scf[16][NH][8];  // the int8 scales of the rows, as f32 (exact)
    GEMRUN_UNROLL
    for (int j = 0; j < 16; ++j)
      GEMRUN_UNROLL
      for (int h = 0; h < NH; ++h) {
        const __m128i s8 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(blk + kScales + 16 * j + 8 * (h0 + h)));
        _mm256_store_ps(scf[j][h], _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(s8)));
      }
    __m256 fs[NH][NC];
    GEMRUN_UNROLL
    for (int h = 0; h < NH; ++h)
      GEMRUN_UNROLL
      for (int c = 0; c < NC; ++c) fs[h][c] = _mm256_setzero_ps();
    const uint8_t* q8 = a + s * kActBlock + 4;
    const int32_t* in = init + s * 16;
    [&]<int... J>(std::integer_sequence<int, J...>) {
      (SubQ6K<D, NC, NH, J>(blk, h0, q8, as, in, nsb * 16, scf[J][0], fs), ...);
    }(std::make_integer_sequence<int, 16>{});
    GEMRUN_UNROLL
    for (int c = 0; c < NC; ++c) {
      const __m256 da = _mm256_set1_ps(ad[c * nsb + s]);
      GEMRUN_UNROLL
      for (int h = 0; h < NH; ++h) {
        float* o = out + c * ldo + 8 * (h0 + h);
        const __m256 dw = Half8(blk + kD + 16 * (h0 + h));
        _mm256_storeu_ps(o, _mm256_fmadd_ps(fs[h][c], _mm256_mul_ps(dw, da), _mm256_loadu_ps(o)));
      }
    }
  }
}

using PassFn = void (*)(int64_t, const uint8_t*, int, const uint8_t*, int64_t, const float*, const int32_t*, float*,
                        int64_t);

// Formats as the tile driver sees them: values and bytes per block, activation sums per block
// (BlockSumsFn), activation rows per pass, the passes for nc columns over one half (prefill)
// or both halves (decode), and kInit: entries per block of the `init` array the passes take
// instead of the sums (0: they take the sums), made by Init(sums, activation rows, ...).
template <class W, class D, int kNC>
struct Blocks32 {
  static constexpr int kElems = 32, kBlock = W::kBlock, kNc = kNC, kSumsPerBlock = 1, kInit = 1;
  template <int NC> static constexpr PassFn kOne = Pass32<W, D, NC, 1>;
  template <int NC> static constexpr PassFn kTwo = Pass32<W, D, NC <= 2 ? NC : 1, 2>;
  static void Init(const int32_t* sums, const uint8_t*, int64_t, int nc, int64_t nb, int32_t* init) {
    for (int64_t i = 0; i < nc * nb; ++i) init[i] = -W::kOff * sums[i];
  }
};
template <class D, int kNC>
struct SuperQ4K {
  static constexpr int kElems = 256, kBlock = 144, kNc = kNC, kSumsPerBlock = 4, kInit = 0;
  template <int NC> static constexpr PassFn kOne = PassQ4K<D, NC, 1>;
  template <int NC> static constexpr PassFn kTwo = PassQ4K<D, NC <= 2 ? NC : 1, 2>;
  static void Init(const int32_t*, const uint8_t*, int64_t, int, int64_t, int32_t*) {}
};
template <class D, int kNC>
struct SuperQ6K {
  static constexpr int kElems = 256, kBlock = 210, kNc = kNC, kSumsPerBlock = 4, kInit = 16;
  template <int NC> static constexpr PassFn kOne = PassQ6K<D, NC, 1>;
  template <int NC> static constexpr PassFn kTwo = PassQ6K<D, NC <= 2 ? NC : 1, 2>;
  // -32 * the Q8_K block's own 16-value sums (bsums, int16 at byte 260 of a 292-byte block).
  static void Init(const int32_t*, const uint8_t* a, int64_t as, int nc, int64_t nb, int32_t* init) {
    for (int c = 0; c < nc; ++c)
      for (int64_t s = 0; s < nb; ++s)
        for (int j = 0; j < 16; ++j) {
          int16_t bs;
          std::memcpy(&bs, a + c * as + s * 292 + 260 + 2 * j, 2);
          init[(c * nb + s) * 16 + j] = -32 * bs;
        }
  }
};

template <class F, bool kBoth, int... I>
constexpr auto MakePassTable(std::integer_sequence<int, I...>) {
  if constexpr (kBoth) return std::array<PassFn, sizeof...(I)>{F::template kTwo<I + 1>...};
  else return std::array<PassFn, sizeof...(I)>{F::template kOne<I + 1>...};
}

// Rows16TileFn. Decode (T <= 2) runs both halves of a group in one pass (one weight stream);
// prefill keeps row blocks in L2 while the activation rows pass in groups of kNc, one half at
// a time.
template <class F>
void Tile(int64_t K, const uint8_t* w, int64_t n_rows, const uint8_t* a, int64_t as, const float* ad,
          const int32_t* asum, int64_t T, float* out, int64_t ldo) {
  static constexpr auto kOne = MakePassTable<F, false>(std::make_integer_sequence<int, F::kNc>{});
  static constexpr auto kTwo = MakePassTable<F, true>(std::make_integer_sequence<int, 2>{});
  const int64_t nb = K / F::kElems, group_bytes = 16 * nb * F::kBlock, n_groups = n_rows / 16;
  const int64_t groups_per_block = T <= 2 ? n_groups : std::max<int64_t>(1, kBlockBytes / group_bytes);
  thread_local std::vector<int32_t> init;
  if constexpr (F::kInit != 0) init.resize(static_cast<size_t>(F::kNc * nb * F::kInit));
  for (int64_t g0 = 0; g0 < n_groups; g0 += groups_per_block) {
    const int64_t g1 = std::min(n_groups, g0 + groups_per_block);
    for (int64_t c0 = 0; c0 < T; c0 += F::kNc) {
      const int nc = static_cast<int>(std::min<int64_t>(F::kNc, T - c0));
      const uint8_t* ac = a + c0 * as;
      const int32_t* sums = asum + c0 * nb * F::kSumsPerBlock;
      if constexpr (F::kInit != 0) {
        F::Init(sums, ac, as, nc, nb, init.data());
        sums = init.data();
      }
      const float* adc = ad + c0 * nb;
      for (int64_t g = g0; g < g1; ++g) {
        const uint8_t* wg = w + g * group_bytes;
        float* o = out + c0 * ldo + g * 16;
        if (T <= 2) {
          kTwo[nc - 1](nb, wg, 0, ac, as, adc, sums, o, ldo);
        } else {
          kOne[nc - 1](nb, wg, 0, ac, as, adc, sums, o, ldo);
          kOne[nc - 1](nb, wg, 1, ac, as, adc, sums, o, ldo);
        }
      }
    }
  }
}

// Per Q8_0 block: the scale as f32 and the sum of the 32 codes (bias 128 removed after a
// sum of absolute differences against zero on the unsigned codes).
void Q8_0Sums(const uint8_t* row, int64_t nb, float* d, int32_t* sum) {
  const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
  for (int64_t b = 0; b < nb; ++b, row += 34) {
    d[b] = H2F(row);
    const __m256i q = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2)), flip);
    const __m256i s = _mm256_sad_epu8(q, _mm256_setzero_si256());
    const __m128i s2 = _mm_add_epi64(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    sum[b] = static_cast<int32_t>(_mm_cvtsi128_si64(s2) + _mm_extract_epi64(s2, 1)) - 128 * 32;
  }
}

}  // namespace y16
}  // namespace
}  // namespace gemrun::kernels
