// AVX-512 VNNI tiles for row-interleaved (kRows16) Q4_0, Q8_0 and Q4_K weights (layouts in
// kernels/repack.h).
//
// Lanes are 16 weight rows. A block of 16 rows decodes into 8 vectors of unsigned codes u[k]
// (lane r = codes of values 4k..4k+3 of row r; for Q4_0 the high nibbles are values 16..31)
// with one AND or shift+AND each (Q8_0: stored unsigned, one load each), and every
// activation word is a broadcast memory operand of vpdpbusd. Per block and activation row:
// 8 vpdpbusd, one conversion, one multiply, one FMA, against 16 x 32 products. The int32
// accumulator starts at -off * sum(a) (off = 8 or 128), so it holds the exact
// sum((u - off) * a); it is then scaled by d_w * d_a as llama.cpp does per block.
//
// Q4_K runs the same 8 vpdpbusd per 32-value sub-block against Q8_K activations; the int32
// sub-block sums are multiplied by the rows' 6-bit scales and added up exactly over the
// super-block (|sum| < 2^25), and the min term is 4 vpdpwssd of the rows' min pairs against
// the activation's sub-block sums. Then, as llama.cpp: d_a * (d_w * isum - dmin_w * imin).
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <utility>

#include "kernels/cpu/cpu_internal.h"
#include "kernels/cpu/x86_common.h"

namespace gemrun::kernels {
namespace {

constexpr int kNC = 16;                      // activation rows per pass (accumulators)
constexpr int64_t kBlockBytes = 256 << 10;   // packed weight bytes kept hot in L2 per row block

struct Block16 {
  __m512i u[8];
  __m512 dw;
};

// Weight formats: bytes per block and per pair of 16-row blocks, the offset of the unsigned
// codes (u = q + kOff), and the decode of one block's codes.
struct RQ4_0 {
  static constexpr int kBlock = 18, kOff = 8;
  static constexpr int64_t kPair = 2 * 16 * kBlock;  // 576: 64 B of scales, 2 x 256 B of nibbles
  static constexpr int kQs = 256;
  static GEMRUN_INLINE void Codes(const uint8_t* qs, __m512i* u) {
    const __m512i lo4 = _mm512_set1_epi8(0x0F);
    GEMRUN_UNROLL
    for (int i = 0; i < 4; ++i) {
      const __m512i q = _mm512_load_si512(qs + 64 * i);
      u[i] = _mm512_and_si512(q, lo4);
      u[4 + i] = _mm512_and_si512(_mm512_srli_epi16(q, 4), lo4);
    }
  }
};
struct RQ8_0 {  // codes stored as q ^ 0x80 = q + 128 at packing
  static constexpr int kBlock = 34, kOff = 128;
  static constexpr int64_t kPair = 2 * 16 * kBlock;  // 1088: 64 B of scales, 2 x 512 B of codes
  static constexpr int kQs = 512;
  static GEMRUN_INLINE void Codes(const uint8_t* qs, __m512i* u) {
    GEMRUN_UNROLL
    for (int i = 0; i < 8; ++i) u[i] = _mm512_load_si512(qs + 64 * i);
  }
};

template <class W>
GEMRUN_INLINE void Decode(const uint8_t* scales, const uint8_t* qs, Block16& b) {
  W::Codes(qs, b.u);
  b.dw = _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(scales)));
}

GEMRUN_INLINE __m512i Bcast32(const uint8_t* p) { return _mm512_set1_epi32(static_cast<int>(LoadU32(p))); }

// One block of 16 rows against NC activation rows.
template <class W, int NC>
GEMRUN_INLINE void BlockCols(const Block16& w, const uint8_t* a, int64_t as, const float* ad,
                             const int32_t* asum, int64_t nb, int64_t b, __m512* acc) {
  GEMRUN_UNROLL
  for (int c = 0; c < NC; ++c) {
    const uint8_t* q = a + c * as + b * 34 + 2;
    __m512i t = _mm512_set1_epi32(-W::kOff * asum[c * nb + b]);
    GEMRUN_UNROLL
    for (int k = 0; k < 8; ++k) t = _mm512_dpbusd_epi32(t, w.u[k], Bcast32(q + 4 * k));
    acc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(t), _mm512_mul_ps(w.dw, _mm512_set1_ps(ad[c * nb + b])), acc[c]);
  }
}

// One row group (16 rows, nb blocks) against NC activation rows; writes out[c * ldo + r].
template <class W, int NC>
void GroupPass(int64_t nb, const uint8_t* wg, const uint8_t* a, int64_t as, const float* ad,
               const int32_t* asum, float* out, int64_t ldo) {
  __m512 acc[NC];
  GEMRUN_UNROLL
  for (int c = 0; c < NC; ++c) acc[c] = _mm512_setzero_ps();
  for (int64_t p = 0; p < nb / 2; ++p) {
    const uint8_t* pair = wg + p * W::kPair;
    if constexpr (NC <= 2) PrefetchAhead<W::kPair>(pair);  // decode: one weight stream
    Block16 w;
    Decode<W>(pair, pair + 64, w);
    BlockCols<W, NC>(w, a, as, ad, asum, nb, 2 * p, acc);
    Decode<W>(pair + 32, pair + 64 + W::kQs, w);
    BlockCols<W, NC>(w, a, as, ad, asum, nb, 2 * p + 1, acc);
  }
  GEMRUN_UNROLL
  for (int c = 0; c < NC; ++c) _mm512_storeu_ps(out + c * ldo, acc[c]);
}

// Q4_K: one row group (16 rows, nsb super-blocks of 2304 bytes) against NC Q8_K activation
// rows. ad[c * nsb + s] is row c's scale, asum[(c * nsb + s) * 4 + i] its sub-block sums
// 2i, 2i + 1 as int16 pairs.
template <int NC>
void GroupPassQ4K(int64_t nsb, const uint8_t* wg, const uint8_t* a, int64_t as, const float* ad,
                  const int32_t* asum, float* out, int64_t ldo) {
  constexpr int64_t kSuper = 2304, kActBlock = 292;  // bytes of a packed super-block, of a Q8_K block
  const __m512i lo4 = _mm512_set1_epi8(0x0F), hi2 = _mm512_set1_epi8(0x30);
  __m512 acc[NC];
  GEMRUN_UNROLL
  for (int c = 0; c < NC; ++c) acc[c] = _mm512_setzero_ps();
  alignas(64) uint8_t sc[128], mn[128];  // scales [j][r]; mins as pairs [i][r][2]
  for (int64_t s = 0; s < nsb; ++s) {
    const uint8_t* blk = wg + s * kSuper;
    if constexpr (NC <= 2) PrefetchAhead<kSuper>(blk);
    const __m512i l0 = _mm512_load_si512(blk + 64), l1 = _mm512_load_si512(blk + 128);
    const __m512i h = _mm512_load_si512(blk + 192);
    auto join = [&](__m512i low, __m512i high) { return _mm512_or_si512(_mm512_and_si512(low, lo4), _mm512_and_si512(high, hi2)); };
    _mm512_store_si512(sc, join(l0, _mm512_slli_epi16(h, 4)));
    _mm512_store_si512(sc + 64, join(_mm512_srli_epi16(l0, 4), _mm512_slli_epi16(h, 2)));
    _mm512_store_si512(mn, join(l1, h));
    _mm512_store_si512(mn + 64, join(_mm512_srli_epi16(l1, 4), _mm512_srli_epi16(h, 2)));
    const uint8_t* codes = blk + 256;
    const uint8_t* as0 = a + s * kActBlock + 4;
    __m512i isum[NC];
    GEMRUN_UNROLL
    for (int c = 0; c < NC; ++c) isum[c] = _mm512_setzero_si512();
    GEMRUN_UNROLL
    for (int j = 0; j < 8; ++j) {
      __m512i u[8];
      GEMRUN_UNROLL
      for (int k = 0; k < 8; ++k) {
        const __m512i q = _mm512_load_si512(codes + 64 * (8 * (j / 2) + k));
        u[k] = _mm512_and_si512(j % 2 == 0 ? q : _mm512_srli_epi16(q, 4), lo4);
      }
      const __m512i scj = _mm512_cvtepu8_epi32(_mm_load_si128(reinterpret_cast<const __m128i*>(sc + 16 * j)));
      GEMRUN_UNROLL
      for (int c = 0; c < NC; ++c) {
        const uint8_t* q8 = as0 + c * as + 32 * j;
        __m512i t = _mm512_setzero_si512();
        GEMRUN_UNROLL
        for (int k = 0; k < 8; ++k) t = _mm512_dpbusd_epi32(t, u[k], Bcast32(q8 + 4 * k));
        isum[c] = _mm512_add_epi32(isum[c], _mm512_mullo_epi32(t, scj));
      }
    }
    __m512i m[4];
    GEMRUN_UNROLL
    for (int i = 0; i < 4; ++i) m[i] = _mm512_cvtepu8_epi16(_mm256_load_si256(reinterpret_cast<const __m256i*>(mn + 32 * i)));
    const __m512 dw = _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(blk)));
    const __m512 dm = _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(blk + 32)));
    GEMRUN_UNROLL
    for (int c = 0; c < NC; ++c) {
      const int32_t* ps = asum + (c * nsb + s) * 4;
      __m512i im = _mm512_setzero_si512();
      GEMRUN_UNROLL
      for (int i = 0; i < 4; ++i) im = _mm512_dpwssd_epi32(im, m[i], _mm512_set1_epi32(ps[i]));
      const __m512 da = _mm512_set1_ps(ad[c * nsb + s]);
      acc[c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[c]), _mm512_mul_ps(dw, da), acc[c]);
      acc[c] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(im), _mm512_mul_ps(dm, da), acc[c]);
    }
  }
  GEMRUN_UNROLL
  for (int c = 0; c < NC; ++c) _mm512_storeu_ps(out + c * ldo, acc[c]);
}

using GroupFn = void (*)(int64_t, const uint8_t*, const uint8_t*, int64_t, const float*, const int32_t*, float*,
                         int64_t);

// Formats as the tile driver sees them: values and row bytes per block, activation rows per
// pass, per-row strides of ad / asum in blocks' units, and the pass for nc columns.
template <class W>
struct Blocks32 {
  static constexpr int kElems = 32, kBlock = W::kBlock, kNc = kNC, kSumsPerBlock = 1;
  template <int NC> static constexpr GroupFn kPass = GroupPass<W, NC>;
};
struct SuperQ4K {
  static constexpr int kElems = 256, kBlock = 144, kNc = 8, kSumsPerBlock = 4;
  template <int NC> static constexpr GroupFn kPass = GroupPassQ4K<NC>;
};

template <class F, int... I>
constexpr auto MakeGroupTable(std::integer_sequence<int, I...>) {
  return std::array<GroupFn, sizeof...(I)>{F::template kPass<I + 1>...};
}

template <class F>
void TileRows16(int64_t K, const uint8_t* w, int64_t n_rows, const uint8_t* a, int64_t as, const float* ad,
                const int32_t* asum, int64_t T, float* out, int64_t ldo) {
  static constexpr auto kGroupFns = MakeGroupTable<F>(std::make_integer_sequence<int, F::kNc>{});
  const int64_t nb = K / F::kElems, group_bytes = 16 * nb * F::kBlock, n_groups = n_rows / 16;
  // Rows in blocks that stay in L2 while every activation row passes over them.
  const int64_t groups_per_block = T <= 2 ? n_groups : std::max<int64_t>(1, kBlockBytes / group_bytes);
  for (int64_t g0 = 0; g0 < n_groups; g0 += groups_per_block) {
    const int64_t g1 = std::min(n_groups, g0 + groups_per_block);
    for (int64_t c0 = 0; c0 < T; c0 += F::kNc) {
      const int nc = static_cast<int>(std::min<int64_t>(F::kNc, T - c0));
      const GroupFn fn = kGroupFns[nc - 1];
      for (int64_t g = g0; g < g1; ++g)
        fn(nb, w + g * group_bytes, a + c0 * as, as, ad + c0 * nb, asum + c0 * nb * F::kSumsPerBlock,
           out + c0 * ldo + g * 16, ldo);
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

}  // namespace

void Avx512AddRows16Tiles(IsaKernels& k) {
  k.rows16_tile[static_cast<uint32_t>(DType::kQ4_0)] = TileRows16<Blocks32<RQ4_0>>;
  k.rows16_tile[static_cast<uint32_t>(DType::kQ8_0)] = TileRows16<Blocks32<RQ8_0>>;
  k.rows16_tile[static_cast<uint32_t>(DType::kQ4_K)] = TileRows16<SuperQ4K>;
  k.block_sums[static_cast<uint32_t>(DType::kQ8_0)] = Q8_0Sums;
}

}  // namespace gemrun::kernels
