// AVX2 dot tiles for the 256-element super-block formats (activations in Q8_K):
// Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_XS. Same scheme as avx512_kquants.cc with 32-value chunks:
// per (row, column) pair  vpmaddubsw(u, a) -> vpmaddwd(., group scales) -> int32 lanes, the
// bsums offset term folded in, then one transposing add tree per super-block and one f32
// conversion for all pairs of the tile. Two weight rows per pass.
#include <immintrin.h>

#include "kernels/cpu/avx2_common.h"
#include "kernels/cpu/cpu_internal.h"
#include "quant/blocks.h"

namespace gemrun::kernels {
namespace {

constexpr int kActQs = 4;
constexpr int kActBsums = 4 + kQKK;

struct Meta {
  __m128i scb;           // int8 group scales
  __m256i off;           // int16 multipliers of the bsums added to the main sum
  __m128i mn_lo, mn_hi;  // int16 mins
  float d, dmin;
};

enum MinMode { kNoMin = 0, kMin8 = 1, kMin16 = 2 };

// Byte shift by a compile-time signed amount (left when positive).
template <int S>
GEMRUN_INLINE __m256i Shift(__m256i v) {
  if constexpr (S > 0) return _mm256_slli_epi16(v, S);
  else if constexpr (S < 0) return _mm256_srli_epi16(v, -S);
  else return v;
}

GEMRUN_INLINE __m256i Load256(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }

// Scales for chunk K as 16 int16 lanes: one scale per 32 values (kPer32) or two per 16.
template <int K, bool kPer32>
GEMRUN_INLINE __m256i ChunkScales(__m128i scb) {
  const __m128i idx = kPer32 ? _mm_set1_epi8(static_cast<char>(K))
                             : _mm_setr_epi8(2 * K, 2 * K, 2 * K, 2 * K, 2 * K, 2 * K, 2 * K, 2 * K, 2 * K + 1,
                                             2 * K + 1, 2 * K + 1, 2 * K + 1, 2 * K + 1, 2 * K + 1, 2 * K + 1, 2 * K + 1);
  return _mm256_cvtepi8_epi16(_mm_shuffle_epi8(scb, idx));
}

struct WQ4_K {
  static constexpr int kBytes = 144, kMinMode = kMin8;
  static constexpr bool kOff = false, kSigned = false, kPer32 = true;
  static GEMRUN_INLINE void Prepare(const uint8_t* blk, Meta& m) {
    m.d = H2F(blk);
    m.dmin = H2F(blk + 2);
    uint32_t u[4];
    UnpackScalesK4(blk + 4, u);
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(u));
    m.scb = x;  // bytes 0..7 scales (0..63), 8..15 mins
    m.mn_lo = _mm_cvtepu8_epi16(_mm_srli_si128(x, 8));
  }
  template <int K>
  static GEMRUN_INLINE __m256i V(const uint8_t* blk) {
    const __m256i q = Load256(blk + 16 + 32 * (K / 2));
    return _mm256_and_si256(Shift<-4 * (K % 2)>(q), _mm256_set1_epi8(0x0F));
  }
};

struct WQ5_K {
  static constexpr int kBytes = 176, kMinMode = kMin8;
  static constexpr bool kOff = false, kSigned = false, kPer32 = true;
  static GEMRUN_INLINE void Prepare(const uint8_t* blk, Meta& m) { WQ4_K::Prepare(blk, m); }
  template <int K>
  static GEMRUN_INLINE __m256i V(const uint8_t* blk) {
    const __m256i q = Load256(blk + 48 + 32 * (K / 2));
    const __m256i lo = _mm256_and_si256(Shift<-4 * (K % 2)>(q), _mm256_set1_epi8(0x0F));
    const __m256i hb = _mm256_and_si256(Shift<4 - K>(Load256(blk + 16)), _mm256_set1_epi8(0x10));
    return _mm256_or_si256(lo, hb);
  }
};

struct WQ6_K {
  static constexpr int kBytes = 210, kMinMode = kNoMin;
  static constexpr bool kOff = true, kSigned = false, kPer32 = false;
  static GEMRUN_INLINE void Prepare(const uint8_t* blk, Meta& m) {
    m.d = H2F(blk + 208);
    m.scb = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 192));
    m.off = _mm256_mullo_epi16(_mm256_cvtepi8_epi16(m.scb), _mm256_set1_epi16(-32));
  }
  template <int K>
  static GEMRUN_INLINE __m256i V(const uint8_t* blk) {
    constexpr int h = K / 4, j = K % 4;
    const __m256i l = Load256(blk + 64 * h + 32 * (j % 2));
    const __m256i lo = _mm256_and_si256(Shift<-4 * (j / 2)>(l), _mm256_set1_epi8(0x0F));
    const __m256i hi = _mm256_and_si256(Shift<4 - 2 * j>(Load256(blk + 128 + 32 * h)), _mm256_set1_epi8(0x30));
    return _mm256_or_si256(lo, hi);
  }
};

struct WQ3_K {
  static constexpr int kBytes = 110, kMinMode = kNoMin;
  static constexpr bool kOff = true, kSigned = false, kPer32 = false;
  static GEMRUN_INLINE void Prepare(const uint8_t* blk, Meta& m) {
    m.d = H2F(blk + 108);
    uint32_t u[4];
    UnpackScalesQ3K(blk + 96, u);
    m.scb = _mm_sub_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(u)), _mm_set1_epi8(32));
    m.off = _mm256_mullo_epi16(_mm256_cvtepi8_epi16(m.scb), _mm256_set1_epi16(-4));
  }
  template <int K>
  static GEMRUN_INLINE __m256i V(const uint8_t* blk) {
    constexpr int h = K / 4, p = K % 4;
    const __m256i q2 = _mm256_and_si256(Shift<-2 * p>(Load256(blk + 32 + 32 * h)), _mm256_set1_epi8(3));
    const __m256i hb = _mm256_and_si256(Shift<2 - (4 * h + p)>(Load256(blk)), _mm256_set1_epi8(4));
    return _mm256_or_si256(q2, hb);
  }
};

struct WQ2_K {
  static constexpr int kBytes = 84, kMinMode = kMin16;
  static constexpr bool kOff = false, kSigned = false, kPer32 = false;
  static GEMRUN_INLINE void Prepare(const uint8_t* blk, Meta& m) {
    m.d = H2F(blk + 80);
    m.dmin = H2F(blk + 82);
    const __m128i s = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk));
    m.scb = _mm_and_si128(s, _mm_set1_epi8(0x0F));
    const __m128i mn = _mm_and_si128(_mm_srli_epi16(s, 4), _mm_set1_epi8(0x0F));
    m.mn_lo = _mm_cvtepu8_epi16(mn);
    m.mn_hi = _mm_cvtepu8_epi16(_mm_srli_si128(mn, 8));
  }
  template <int K>
  static GEMRUN_INLINE __m256i V(const uint8_t* blk) {
    constexpr int h = K / 4, p = K % 4;
    return _mm256_and_si256(Shift<-2 * p>(Load256(blk + 16 + 32 * h)), _mm256_set1_epi8(3));
  }
};

struct WIQ4_XS {
  static constexpr int kBytes = 136, kMinMode = kNoMin;
  static constexpr bool kOff = false, kSigned = true, kPer32 = true;
  static GEMRUN_INLINE void Prepare(const uint8_t* blk, Meta& m) {
    m.d = H2F(blk);
    uint8_t ls[8];
    UnpackScalesIq4Xs(blk, ls);
    uint64_t packed;
    std::memcpy(&packed, ls, 8);
    m.scb = _mm_sub_epi8(_mm_cvtsi64_si128(static_cast<long long>(packed)), _mm_set1_epi8(32));
  }
  template <int K>
  static GEMRUN_INLINE __m256i V(const uint8_t* blk) {
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 8 + 16 * K));
    const __m256i nib = _mm256_and_si256(
        _mm256_inserti128_si256(_mm256_castsi128_si256(x), _mm_srli_epi16(x, 4), 1), _mm256_set1_epi8(0x0F));
    const __m256i table = _mm256_broadcastsi128_si256(
        _mm_setr_epi8(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113));
    return _mm256_shuffle_epi8(table, nib);
  }
};

GEMRUN_INLINE __m256i Comb1(__m256i a, __m256i b) {
  return _mm256_add_epi32(_mm256_unpacklo_epi32(a, b), _mm256_unpackhi_epi32(a, b));
}
GEMRUN_INLINE __m256i Comb2(__m256i a, __m256i b) {
  return _mm256_add_epi32(_mm256_unpacklo_epi64(a, b), _mm256_unpackhi_epi64(a, b));
}
GEMRUN_INLINE __m256i Comb3(__m256i a, __m256i b) {
  return _mm256_add_epi32(_mm256_permute2x128_si256(a, b, 0x20), _mm256_permute2x128_si256(a, b, 0x31));
}

template <int PP>
GEMRUN_INLINE __m256i Tree(const __m256i* v) {
  if constexpr (PP == 1) return v[0];
  else if constexpr (PP == 2) return Comb1(v[0], v[1]);
  else if constexpr (PP == 4) return Comb2(Comb1(v[0], v[1]), Comb1(v[2], v[3]));
  else return Comb3(Comb2(Comb1(v[0], v[1]), Comb1(v[2], v[3])), Comb2(Comb1(v[4], v[5]), Comb1(v[6], v[7])));
}

constexpr int PairOfLane8(int i, int pp) { return pp == 1 ? 0 : pp == 2 ? i % 2 : pp == 4 ? i % 4 : i; }

template <class W, int NR, int NC>
struct DotQ8KImpl {
  static constexpr int kP = NR * NC, kPP = PadPow2(kP);

  template <int K>
  static GEMRUN_INLINE void Chunk(const uint8_t* const* wb, const uint8_t* const* ab, const Meta* meta,
                                  __m256i* isum) {
    GEMRUN_UNROLL
    for (int r = 0; r < NR; ++r) {
      const __m256i v = W::template V<K>(wb[r]);
      const __m256i s = ChunkScales<K, W::kPer32>(meta[r].scb);
      __m256i absv;
      if constexpr (W::kSigned) absv = _mm256_sign_epi8(v, v);
      GEMRUN_UNROLL
      for (int c = 0; c < NC; ++c) {
        const __m256i av = Load256(ab[c] + kActQs + 32 * K);
        const __m256i p16 = W::kSigned ? _mm256_maddubs_epi16(absv, _mm256_sign_epi8(av, v))
                                       : _mm256_maddubs_epi16(v, av);
        isum[r * NC + c] = _mm256_add_epi32(isum[r * NC + c], _mm256_madd_epi16(p16, s));
      }
    }
  }

  // sum_j mins[r][j] * bsums[c][j], lane 4r + c.
  static GEMRUN_INLINE __m256i MinTerm(const uint8_t* const* ab, const Meta* meta) {
    const __m128i z = _mm_setzero_si128();
    const __m256i mlo = _mm256_set_m128i(NR == 2 ? meta[NR - 1].mn_lo : z, meta[0].mn_lo);
    __m256i mhi = _mm256_setzero_si256();
    if constexpr (W::kMinMode == kMin16) mhi = _mm256_set_m128i(NR == 2 ? meta[NR - 1].mn_hi : z, meta[0].mn_hi);
    __m256i m[4];
    GEMRUN_UNROLL
    for (int c = 0; c < 4; ++c) {
      if (c >= NC) {
        m[c] = _mm256_setzero_si256();
        continue;
      }
      const __m256i bs = Load256(ab[c] + kActBsums);
      if constexpr (W::kMinMode == kMin8) {
        const __m256i pairs32 = _mm256_madd_epi16(bs, _mm256_set1_epi16(1));
        const __m128i pairs = _mm_packs_epi32(_mm256_castsi256_si128(pairs32), _mm256_extracti128_si256(pairs32, 1));
        m[c] = _mm256_madd_epi16(mlo, _mm256_broadcastsi128_si256(pairs));
      } else {
        m[c] = _mm256_add_epi32(_mm256_madd_epi16(mlo, _mm256_broadcastsi128_si256(_mm256_castsi256_si128(bs))),
                                _mm256_madd_epi16(mhi, _mm256_broadcastsi128_si256(_mm256_extracti128_si256(bs, 1))));
      }
    }
    return Comb2(Comb1(m[0], m[1]), Comb1(m[2], m[3]));
  }

  static void Run(int64_t n, const uint8_t* w, int64_t ws, const uint8_t* a, int64_t as, float* out,
                  int64_t ldo) {
    __m256 acc = _mm256_setzero_ps(), macc = _mm256_setzero_ps();
    const int64_t nsb = n / kQKK;
    for (int64_t sb = 0; sb < nsb; ++sb) {
      const uint8_t* wb[NR];
      const uint8_t* ab[NC];
      Meta meta[NR];
      float da[4] = {0, 0, 0, 0};
      GEMRUN_UNROLL
      for (int r = 0; r < NR; ++r) {
        wb[r] = w + r * ws + sb * W::kBytes;
        if constexpr (NC == 1) PrefetchAhead<W::kBytes>(wb[r]);
        W::Prepare(wb[r], meta[r]);
      }
      GEMRUN_UNROLL
      for (int c = 0; c < NC; ++c) {
        ab[c] = a + c * as + sb * static_cast<int64_t>(sizeof(BlockQ8_K));
        da[c] = LoadF32(ab[c]);
      }
      __m256i isum[kPP];
      GEMRUN_UNROLL
      for (int p = 0; p < kPP; ++p) isum[p] = _mm256_setzero_si256();
      Chunk<0>(wb, ab, meta, isum);
      Chunk<1>(wb, ab, meta, isum);
      Chunk<2>(wb, ab, meta, isum);
      Chunk<3>(wb, ab, meta, isum);
      Chunk<4>(wb, ab, meta, isum);
      Chunk<5>(wb, ab, meta, isum);
      Chunk<6>(wb, ab, meta, isum);
      Chunk<7>(wb, ab, meta, isum);
      if constexpr (W::kOff) {
        GEMRUN_UNROLL
        for (int c = 0; c < NC; ++c) {
          const __m256i bs = Load256(ab[c] + kActBsums);
          GEMRUN_UNROLL
          for (int r = 0; r < NR; ++r)
            isum[r * NC + c] = _mm256_add_epi32(isum[r * NC + c], _mm256_madd_epi16(meta[r].off, bs));
        }
      }
      alignas(32) float scale[8];
      GEMRUN_UNROLL
      for (int i = 0; i < 8; ++i) {
        const int p = PairOfLane8(i, kPP);
        scale[i] = p < kP ? meta[p / NC].d * da[p % NC] : 0.f;
      }
      acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(Tree<kPP>(isum)), _mm256_load_ps(scale), acc);
      if constexpr (W::kMinMode != kNoMin) {
        alignas(32) float mscale[8];
        GEMRUN_UNROLL
        for (int i = 0; i < 8; ++i) mscale[i] = (i / 4 < NR) ? meta[i / 4 < NR ? i / 4 : 0].dmin * da[i % 4] : 0.f;
        macc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(MinTerm(ab, meta)), _mm256_load_ps(mscale), macc);
      }
    }
    alignas(32) float s[8], ms[8];
    _mm256_store_ps(s, acc);
    _mm256_store_ps(ms, macc);
    GEMRUN_UNROLL
    for (int r = 0; r < NR; ++r)
      GEMRUN_UNROLL
      for (int c = 0; c < NC; ++c) {
        float sum = 0.f;
        GEMRUN_UNROLL
        for (int i = 0; i < 8; ++i)
          if (PairOfLane8(i, kPP) == r * NC + c) sum += s[i];
        out[c * ldo + r] = sum - ms[4 * r + c];
      }
  }
};

template <class W>
struct DotQ8K {
  template <int NR, int NC>
  using K = TwoRowPasses<NR, NC, DotQ8KImpl<W, 2, NC>, DotQ8KImpl<W, 1, NC>>;
};

template <int NR, int NC> using KQ2_K = DotQ8K<WQ2_K>::K<NR, NC>;
template <int NR, int NC> using KQ3_K = DotQ8K<WQ3_K>::K<NR, NC>;
template <int NR, int NC> using KQ4_K = DotQ8K<WQ4_K>::K<NR, NC>;
template <int NR, int NC> using KQ5_K = DotQ8K<WQ5_K>::K<NR, NC>;
template <int NR, int NC> using KQ6_K = DotQ8K<WQ6_K>::K<NR, NC>;
template <int NR, int NC> using KIQ4_XS = DotQ8K<WIQ4_XS>::K<NR, NC>;

}  // namespace

void Avx2AddKQuantTiles(IsaKernels& k) {
  SetDot(k, DType::kQ2_K, DotTile<KQ2_K>);
  SetDot(k, DType::kQ3_K, DotTile<KQ3_K>);
  SetDot(k, DType::kQ4_K, DotTile<KQ4_K>);
  SetDot(k, DType::kQ5_K, DotTile<KQ5_K>);
  SetDot(k, DType::kQ6_K, DotTile<KQ6_K>);
  SetDot(k, DType::kIQ4_XS, DotTile<KIQ4_XS>);
}

}  // namespace gemrun::kernels
