// AVX-512 VNNI dot tiles for the 256-element super-block formats (activations in Q8_K):
// Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_XS.
//
// Per super-block and weight row the codes are decoded into four 64-byte vectors of unsigned
// bytes u (q = u - off), each reused across the tile's activation rows. For every
// (row, column) pair the integer sum  sum_g scale_g * sum_{i in g} u_i a_i  is accumulated in
// int32 lanes with vpmaddubsw (u8 x s8 -> s16 pairs; |u| <= 63 cannot saturate) and vpdpwssd
// against the group scales broadcast to int16 lanes; the offset term -off * scale_g * bsum_g
// is folded in with one more vpdpwssd on the activation's bsums. All integer sums are exact.
// At the end of the super-block the NR*NC int32 vectors are reduced together (a transposing
// add tree) into one vector with a lane per pair, converted once and scaled by d_w * d_a; the
// min term (Q4_K/Q5_K/Q2_K) is a small mins x bsums product computed the same way.
#include <immintrin.h>

#include "kernels/cpu/cpu_internal.h"
#include "kernels/cpu/x86_common.h"
#include "quant/blocks.h"

namespace gemrun::kernels {
namespace {

constexpr int kActQs = 4;                 // Q8_K: d (f32) then qs[256]
constexpr int kActBsums = 4 + kQKK;       // then bsums[16] (int16)

// Per weight row and super-block.
struct Meta {
  __m512i sc;    // group scales (int16 lanes; int32 for the vpmulld path)
  __m256i off;   // int16 multipliers of the activation bsums added to the main sum
  __m128i mn_lo, mn_hi;  // mins (int16) for the dmin term
  float d, dmin;
};

enum MinMode { kNoMin = 0, kMin8 = 1, kMin16 = 2 };  // 8 mins x pair-summed bsums, or 16 x 16

GEMRUN_INLINE __m512i Bcast256(const uint8_t* p) {
  return _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
// Lane j of int16 scales -> scale index base + j / group_lanes.
template <int kBase, int kShift>
GEMRUN_INLINE __m512i ExpandScales16(__m512i sc) {
  alignas(64) static constexpr struct Idx {
    int16_t v[32];
    constexpr Idx() : v() {
      for (int j = 0; j < 32; ++j) v[j] = static_cast<int16_t>(kBase + (j >> kShift));
    }
  } kIdx{};
  return _mm512_permutexvar_epi16(_mm512_load_si512(kIdx.v), sc);
}

// Q4_K (spec §9.10): chunk K = group K: low nibbles are sub-block 2K, high nibbles 2K+1.
struct WQ4_K {
  static constexpr int kBytes = 144;
  static constexpr int kMinMode = kMin8;
  static constexpr bool kOff = false, kMullo = false;
  static GEMRUN_INLINE void Prepare(const uint8_t* blk, Meta& m) {
    m.d = H2F(blk);
    m.dmin = H2F(blk + 2);
    uint32_t u[4];
    UnpackScalesK4(blk + 4, u);
    const __m256i s16 = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(u)));
    m.sc = _mm512_zextsi256_si512(s16);
    m.mn_lo = _mm256_extracti128_si256(s16, 1);
  }
  template <int K>
  static GEMRUN_INLINE __m512i U(const uint8_t* blk) {
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 16 + 32 * K));
    const __m512i z = _mm512_inserti64x4(_mm512_castsi256_si512(q), _mm256_srli_epi16(q, 4), 1);
    return _mm512_and_si512(z, _mm512_set1_epi8(0x0F));
  }
  template <int K>
  static GEMRUN_INLINE __m512i S(const Meta& m) { return ExpandScales16<2 * K, 4>(m.sc); }
};

// Q5_K (spec §9.11): Q4_K plus a fifth bit from qh[l] bit 2K (low) / 2K+1 (high).
struct WQ5_K {
  static constexpr int kBytes = 176;
  static constexpr int kMinMode = kMin8;
  static constexpr bool kOff = false, kMullo = false;
  static GEMRUN_INLINE void Prepare(const uint8_t* blk, Meta& m) { WQ4_K::Prepare(blk, m); }
  template <int K>
  static GEMRUN_INLINE __m512i U(const uint8_t* blk) {
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk + 48 + 32 * K));
    const __m512i z = _mm512_and_si512(
        _mm512_inserti64x4(_mm512_castsi256_si512(q), _mm256_srli_epi16(q, 4), 1), _mm512_set1_epi8(0x0F));
    const __m512i bits = _mm512_inserti64x4(_mm512_set1_epi8(static_cast<char>(1 << (2 * K))),
                                            _mm256_set1_epi8(static_cast<char>(1 << (2 * K + 1))), 1);
    const __mmask64 hb = _mm512_test_epi8_mask(Bcast256(blk + 16), bits);
    return _mm512_mask_add_epi8(z, hb, z, _mm512_set1_epi8(0x10));
  }
  template <int K>
  static GEMRUN_INLINE __m512i S(const Meta& m) { return ExpandScales16<2 * K, 4>(m.sc); }
};

// Q6_K (spec §9.12): chunk K covers half K/2; even K takes the low nibbles of ql and qh bits
// 0-1 / 2-3, odd K the high nibbles and qh bits 4-5 / 6-7. Scale index = element / 16.
struct WQ6_K {
  static constexpr int kBytes = 210;
  static constexpr int kMinMode = kNoMin;
  static constexpr bool kOff = true, kMullo = false;
  static GEMRUN_INLINE void Prepare(const uint8_t* blk, Meta& m) {
    m.d = H2F(blk + 208);
    const __m256i s16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 192)));
    m.sc = _mm512_zextsi256_si512(s16);
    m.off = _mm256_mullo_epi16(s16, _mm256_set1_epi16(-32));
  }
  template <int K>
  static GEMRUN_INLINE __m512i U(const uint8_t* blk) {
    constexpr int h = K / 2;
    const __m512i l = _mm512_loadu_si512(blk + 64 * h);
    const __m512i q = Bcast256(blk + 128 + 32 * h);
    __m512i lo, hi;
    if constexpr (K % 2 == 0) {
      lo = _mm512_and_si512(l, _mm512_set1_epi8(0x0F));
      hi = _mm512_sllv_epi64(q, _mm512_set_epi64(2, 2, 2, 2, 4, 4, 4, 4));
    } else {
      lo = _mm512_and_si512(_mm512_srli_epi16(l, 4), _mm512_set1_epi8(0x0F));
      hi = _mm512_srlv_epi64(q, _mm512_set_epi64(2, 2, 2, 2, 0, 0, 0, 0));
    }
    return _mm512_or_si512(lo, _mm512_and_si512(hi, _mm512_set1_epi8(0x30)));
  }
  template <int K>
  static GEMRUN_INLINE __m512i S(const Meta& m) { return ExpandScales16<4 * K, 3>(m.sc); }
};

// 2-bit codes of Q2_K/Q3_K: chunk K uses qs[32*(K/2) ..] shifted by 2p for p = 2*(K%2), +1.
template <int K>
GEMRUN_INLINE __m512i Crumbs(const uint8_t* qs) {
  constexpr int p0 = 2 * (K % 2);
  const __m512i q = Bcast256(qs + 32 * (K / 2));
  const __m512i sh = _mm512_set_epi64(2 * p0 + 2, 2 * p0 + 2, 2 * p0 + 2, 2 * p0 + 2, 2 * p0, 2 * p0, 2 * p0, 2 * p0);
  return _mm512_and_si512(_mm512_srlv_epi64(q, sh), _mm512_set1_epi8(3));
}

// Q3_K (spec §9.9): u = q2 + 4*hbit in 0..7 (q = u - 4), 16 signed 6-bit scales.
struct WQ3_K {
  static constexpr int kBytes = 110;
  static constexpr int kMinMode = kNoMin;
  static constexpr bool kOff = true, kMullo = false;
  static GEMRUN_INLINE void Prepare(const uint8_t* blk, Meta& m) {
    m.d = H2F(blk + 108);
    uint32_t u[4];
    UnpackScalesQ3K(blk + 96, u);
    const __m128i s8 = _mm_sub_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(u)), _mm_set1_epi8(32));
    const __m256i s16 = _mm256_cvtepi8_epi16(s8);
    m.sc = _mm512_zextsi256_si512(s16);
    m.off = _mm256_mullo_epi16(s16, _mm256_set1_epi16(-4));
  }
  template <int K>
  static GEMRUN_INLINE __m512i U(const uint8_t* blk) {
    constexpr int h = K / 2, p0 = 2 * (K % 2);
    const __m512i q2 = Crumbs<K>(blk + 32);
    const __m512i bits = _mm512_inserti64x4(_mm512_set1_epi8(static_cast<char>(1 << (4 * h + p0))),
                                            _mm256_set1_epi8(static_cast<char>(1 << (4 * h + p0 + 1))), 1);
    const __mmask64 hb = _mm512_test_epi8_mask(Bcast256(blk), bits);
    return _mm512_mask_add_epi8(q2, hb, q2, _mm512_set1_epi8(4));
  }
  template <int K>
  static GEMRUN_INLINE __m512i S(const Meta& m) { return ExpandScales16<4 * K, 3>(m.sc); }
};

// Q2_K (spec §9.8): u = q in 0..3, scale and min nibbles per 16 values.
struct WQ2_K {
  static constexpr int kBytes = 84;
  static constexpr int kMinMode = kMin16;
  static constexpr bool kOff = false, kMullo = false;
  static GEMRUN_INLINE void Prepare(const uint8_t* blk, Meta& m) {
    m.d = H2F(blk + 80);
    m.dmin = H2F(blk + 82);
    const __m128i s = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk));
    const __m128i lo = _mm_and_si128(s, _mm_set1_epi8(0x0F));
    const __m128i hi = _mm_and_si128(_mm_srli_epi16(s, 4), _mm_set1_epi8(0x0F));
    m.sc = _mm512_zextsi256_si512(_mm256_cvtepu8_epi16(lo));
    const __m256i mn = _mm256_cvtepu8_epi16(hi);
    m.mn_lo = _mm256_castsi256_si128(mn);
    m.mn_hi = _mm256_extracti128_si256(mn, 1);
  }
  template <int K>
  static GEMRUN_INLINE __m512i U(const uint8_t* blk) { return Crumbs<K>(blk + 16); }
  template <int K>
  static GEMRUN_INLINE __m512i S(const Meta& m) { return ExpandScales16<4 * K, 3>(m.sc); }
};

// IQ4_XS (spec §9.7): codebook + 128 as unsigned bytes; its products can saturate vpmaddubsw,
// so this format uses vpdpbusd and multiplies the int32 lanes by the sub-block scale.
struct WIQ4_XS {
  static constexpr int kBytes = 136;
  static constexpr int kMinMode = kNoMin;
  static constexpr bool kOff = true, kMullo = true;
  static GEMRUN_INLINE void Prepare(const uint8_t* blk, Meta& m) {
    m.d = H2F(blk);
    uint8_t ls[8];
    UnpackScalesIq4Xs(blk, ls);
    uint64_t packed;
    std::memcpy(&packed, ls, 8);
    const __m256i s32 = _mm256_sub_epi32(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128(static_cast<long long>(packed))),
                                         _mm256_set1_epi32(32));
    m.sc = _mm512_zextsi256_si512(s32);
    const __m128i s16 = _mm256_cvtepi32_epi16(s32);  // 8 x int16
    const __m256i dup = _mm256_set_m128i(_mm_unpackhi_epi16(s16, s16), _mm_unpacklo_epi16(s16, s16));
    m.off = _mm256_mullo_epi16(dup, _mm256_set1_epi16(-128));
  }
  template <int K>
  static GEMRUN_INLINE __m512i U(const uint8_t* blk) {
    const uint8_t* q = blk + 8 + 32 * K;
    const __m512i z = _mm512_inserti64x4(
        _mm512_castsi256_si512(_mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q)))),
        _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q + 16))), 1);
    const __m512i nib = _mm512_and_si512(_mm512_srlv_epi64(z, _mm512_set_epi64(4, 4, 0, 0, 4, 4, 0, 0)),
                                         _mm512_set1_epi8(0x0F));
    const __m512i table = _mm512_broadcast_i32x4(_mm_setr_epi8(
        1, 24, 45, 63, 79, 93, 106, 118, (char)129, (char)141, (char)153, (char)166, (char)181,
        (char)197, (char)217, (char)241));
    return _mm512_shuffle_epi8(table, nib);
  }
  template <int K>
  static GEMRUN_INLINE __m512i S(const Meta& m) {
    // int32 lane j -> sub-block 2K + j/8.
    const __m512i idx = _mm512_set_epi32(2 * K + 1, 2 * K + 1, 2 * K + 1, 2 * K + 1, 2 * K + 1, 2 * K + 1, 2 * K + 1,
                                         2 * K + 1, 2 * K, 2 * K, 2 * K, 2 * K, 2 * K, 2 * K, 2 * K, 2 * K);
    return _mm512_permutexvar_epi32(idx, m.sc);
  }
};

// ---- transposing reduction: PP int32 vectors -> one vector, lane i holding pair PairOfLane(i)

GEMRUN_INLINE __m512i Comb1(__m512i a, __m512i b) {
  return _mm512_add_epi32(_mm512_unpacklo_epi32(a, b), _mm512_unpackhi_epi32(a, b));
}
GEMRUN_INLINE __m512i Comb2(__m512i a, __m512i b) {
  return _mm512_add_epi32(_mm512_unpacklo_epi64(a, b), _mm512_unpackhi_epi64(a, b));
}
GEMRUN_INLINE __m512i Comb3(__m512i a, __m512i b) {
  return _mm512_add_epi32(_mm512_shuffle_i64x2(a, b, 0x44), _mm512_shuffle_i64x2(a, b, 0xEE));
}
GEMRUN_INLINE __m512i Comb4(__m512i a, __m512i b) {
  return _mm512_add_epi32(_mm512_shuffle_i64x2(a, b, 0x88), _mm512_shuffle_i64x2(a, b, 0xDD));
}

template <int PP>
GEMRUN_INLINE __m512i Tree(const __m512i* v) {
  if constexpr (PP == 1) return v[0];
  else if constexpr (PP == 2) return Comb1(v[0], v[1]);
  else if constexpr (PP == 4) return Comb2(Comb1(v[0], v[1]), Comb1(v[2], v[3]));
  else if constexpr (PP == 8)
    return Comb3(Comb2(Comb1(v[0], v[1]), Comb1(v[2], v[3])), Comb2(Comb1(v[4], v[5]), Comb1(v[6], v[7])));
  else
    return Comb4(Comb3(Comb2(Comb1(v[0], v[1]), Comb1(v[2], v[3])), Comb2(Comb1(v[4], v[5]), Comb1(v[6], v[7]))),
                 Comb3(Comb2(Comb1(v[8], v[9]), Comb1(v[10], v[11])),
                       Comb2(Comb1(v[12], v[13]), Comb1(v[14], v[15]))));
}

constexpr int PairOfLane(int i, int pp) {
  return pp == 1 ? 0 : pp == 2 ? i % 2 : pp == 4 ? i % 4 : pp == 8 ? 4 * (i / 8) + i % 4 : i;
}

template <int NR, int NC>
struct LaneMap {
  int32_t r[16], c[16], p[16];
  constexpr LaneMap() : r(), c(), p() {
    constexpr int kP = NR * NC, kPP = PadPow2(kP);
    GEMRUN_UNROLL
    for (int i = 0; i < 16; ++i) {
      const int q = PairOfLane(i, kPP);
      p[i] = q < kP ? q : -1;
      r[i] = q < kP ? q / NC : 0;
      c[i] = q < kP ? q % NC : 0;
    }
  }
};

template <class W>
struct DotQ8K {
  template <int NR, int NC>
  struct K {
    static constexpr int kP = NR * NC, kPP = PadPow2(kP);
    static constexpr LaneMap<NR, NC> kMap{};

    template <int Kc>
    static GEMRUN_INLINE void Chunk(const uint8_t* const* wb, const uint8_t* const* ab, const Meta* meta,
                                    __m512i* isum) {
      GEMRUN_UNROLL
      for (int r = 0; r < NR; ++r) {
        const __m512i u = W::template U<Kc>(wb[r]);
        const __m512i s = W::template S<Kc>(meta[r]);
        GEMRUN_UNROLL
        for (int c = 0; c < NC; ++c) {
          const __m512i av = _mm512_loadu_si512(ab[c] + kActQs + 64 * Kc);
          __m512i& acc = isum[r * NC + c];
          if constexpr (W::kMullo)
            acc = _mm512_add_epi32(acc, _mm512_mullo_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), u, av), s));
          else
            acc = _mm512_dpwssd_epi32(acc, _mm512_maddubs_epi16(u, av), s);
        }
      }
    }

    // sum_j mins[r][j] * bsums[c][j] for every pair, lane 4r + c.
    static GEMRUN_INLINE __m512i MinTerm(const uint8_t* const* ab, const Meta* meta) {
      __m512i mlo = _mm512_setzero_si512(), mhi = _mm512_setzero_si512();
      if constexpr (NR == 4) {
        mlo = _mm512_inserti32x4(_mm512_inserti32x4(_mm512_castsi128_si512(meta[0].mn_lo), meta[1].mn_lo, 1),
                                 meta[2].mn_lo, 2);
        mlo = _mm512_inserti32x4(mlo, meta[3].mn_lo, 3);
        if constexpr (W::kMinMode == kMin16) {
          mhi = _mm512_inserti32x4(_mm512_inserti32x4(_mm512_castsi128_si512(meta[0].mn_hi), meta[1].mn_hi, 1),
                                   meta[2].mn_hi, 2);
          mhi = _mm512_inserti32x4(mhi, meta[3].mn_hi, 3);
        }
      } else {
        mlo = _mm512_zextsi128_si512(meta[0].mn_lo);
        if constexpr (W::kMinMode == kMin16) mhi = _mm512_zextsi128_si512(meta[0].mn_hi);
      }
      __m512i m[4];
      GEMRUN_UNROLL
      for (int c = 0; c < 4; ++c) {
        if (c >= NC) {
          m[c] = _mm512_setzero_si512();
          continue;
        }
        const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ab[c] + kActBsums));
        if constexpr (W::kMinMode == kMin8) {
          const __m128i pairs = _mm256_cvtepi32_epi16(_mm256_madd_epi16(bs, _mm256_set1_epi16(1)));
          m[c] = _mm512_madd_epi16(mlo, _mm512_broadcast_i32x4(pairs));
        } else {
          m[c] = _mm512_add_epi32(_mm512_madd_epi16(mlo, _mm512_broadcast_i32x4(_mm256_castsi256_si128(bs))),
                                  _mm512_madd_epi16(mhi, _mm512_broadcast_i32x4(_mm256_extracti128_si256(bs, 1))));
        }
      }
      return Comb2(Comb1(m[0], m[1]), Comb1(m[2], m[3]));
    }

    static void Run(int64_t n, const uint8_t* w, int64_t ws, const uint8_t* a, int64_t as, float* out,
                    int64_t ldo) {
      const __m512i ridx = _mm512_loadu_si512(kMap.r), cidx = _mm512_loadu_si512(kMap.c);
      const __m512i row_of_lane = _mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0);
      const __m512i col_of_lane = _mm512_set_epi32(3, 2, 1, 0, 3, 2, 1, 0, 3, 2, 1, 0, 3, 2, 1, 0);
      __m512 acc = _mm512_setzero_ps(), macc = _mm512_setzero_ps();
      const int64_t nsb = n / kQKK;
      for (int64_t sb = 0; sb < nsb; ++sb) {
        const uint8_t* wb[NR];
        const uint8_t* ab[NC];
        Meta meta[NR];
        alignas(16) float dw[4] = {0, 0, 0, 0}, dm[4] = {0, 0, 0, 0}, da[4] = {0, 0, 0, 0};
        GEMRUN_UNROLL
        for (int r = 0; r < NR; ++r) {
          wb[r] = w + r * ws + sb * W::kBytes;
          if constexpr (NC == 1) PrefetchAhead<W::kBytes>(wb[r]);
          W::Prepare(wb[r], meta[r]);
          dw[r] = meta[r].d;
          if constexpr (W::kMinMode != kNoMin) dm[r] = meta[r].dmin;
        }
        GEMRUN_UNROLL
        for (int c = 0; c < NC; ++c) {
          ab[c] = a + c * as + sb * static_cast<int64_t>(sizeof(BlockQ8_K));
          da[c] = LoadF32(ab[c]);
        }
        __m512i isum[kPP];
        GEMRUN_UNROLL
        for (int p = 0; p < kPP; ++p) isum[p] = _mm512_setzero_si512();
        Chunk<0>(wb, ab, meta, isum);
        Chunk<1>(wb, ab, meta, isum);
        Chunk<2>(wb, ab, meta, isum);
        Chunk<3>(wb, ab, meta, isum);
        if constexpr (W::kOff) {
          GEMRUN_UNROLL
          for (int c = 0; c < NC; ++c) {
            const __m512i bs = _mm512_zextsi256_si512(
                _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ab[c] + kActBsums)));
            GEMRUN_UNROLL
            for (int r = 0; r < NR; ++r)
              isum[r * NC + c] = _mm512_dpwssd_epi32(isum[r * NC + c], _mm512_zextsi256_si512(meta[r].off), bs);
          }
        }
        const __m512 dwv = _mm512_castps128_ps512(_mm_load_ps(dw));
        const __m512 dav = _mm512_castps128_ps512(_mm_load_ps(da));
        const __m512 scale = _mm512_mul_ps(_mm512_permutexvar_ps(ridx, dwv), _mm512_permutexvar_ps(cidx, dav));
        acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(Tree<kPP>(isum)), scale, acc);
        if constexpr (W::kMinMode != kNoMin) {
          const __m512 dmv = _mm512_castps128_ps512(_mm_load_ps(dm));
          const __m512 mscale =
              _mm512_mul_ps(_mm512_permutexvar_ps(row_of_lane, dmv), _mm512_permutexvar_ps(col_of_lane, dav));
          macc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(MinTerm(ab, meta)), mscale, macc);
        }
      }
      alignas(64) float s[16], ms[16];
      _mm512_store_ps(s, acc);
      _mm512_store_ps(ms, macc);
      GEMRUN_UNROLL
      for (int r = 0; r < NR; ++r)
        GEMRUN_UNROLL
        for (int c = 0; c < NC; ++c) {
          float sum = 0.f;
          GEMRUN_UNROLL
          for (int i = 0; i < 16; ++i)
            if (kMap.p[i] == r * NC + c) sum += s[i];
          out[c * ldo + r] = sum - ms[4 * r + c];
        }
    }
  };
};

template <int NR, int NC> using KQ2_K = DotQ8K<WQ2_K>::K<NR, NC>;
template <int NR, int NC> using KQ3_K = DotQ8K<WQ3_K>::K<NR, NC>;
template <int NR, int NC> using KQ4_K = DotQ8K<WQ4_K>::K<NR, NC>;
template <int NR, int NC> using KQ5_K = DotQ8K<WQ5_K>::K<NR, NC>;
template <int NR, int NC> using KQ6_K = DotQ8K<WQ6_K>::K<NR, NC>;
template <int NR, int NC> using KIQ4_XS = DotQ8K<WIQ4_XS>::K<NR, NC>;

}  // namespace

void Avx512AddKQuantTiles(IsaKernels& k) {
  SetDot(k, DType::kQ2_K, DotTile<KQ2_K>);
  SetDot(k, DType::kQ3_K, DotTile<KQ3_K>);
  SetDot(k, DType::kQ4_K, DotTile<KQ4_K>);
  SetDot(k, DType::kQ5_K, DotTile<KQ5_K>);
  SetDot(k, DType::kQ6_K, DotTile<KQ6_K>);
  SetDot(k, DType::kIQ4_XS, DotTile<KIQ4_XS>);
}

}  // namespace gemrun::kernels
