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

#include <cstdlib>

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
  static constexpr int kBytes = 18, kOff = 8, kQs = 2, kM = -1, kQh = -1;
  static constexpr bool kNibbles = true, kTable = false, kGroup8 = true;
  static constexpr bool kMin = false;
  static GEMRUN_INLINE __m512i U(const uint8_t* p0, const uint8_t* p1) { return Nibbles2(p0 + 2, p1 + 2); }
  static GEMRUN_INLINE uint16_t M(const uint8_t*) { return 0; }
};
struct WQ4_1 {
  static constexpr int kBytes = 20, kOff = 0, kQs = 4, kM = 2, kQh = -1;
  static constexpr bool kNibbles = true, kTable = false, kGroup8 = false;
  static constexpr bool kMin = true;
  static GEMRUN_INLINE __m512i U(const uint8_t* p0, const uint8_t* p1) { return Nibbles2(p0 + 4, p1 + 4); }
  static GEMRUN_INLINE uint16_t M(const uint8_t* p) { return LoadU16(p + 2); }
};
struct WQ5_0 {
  static constexpr int kBytes = 22, kOff = 16, kQs = 6, kM = -1, kQh = 2;
  static constexpr bool kNibbles = true, kTable = false, kGroup8 = false;
  static constexpr bool kMin = false;
  static GEMRUN_INLINE __m512i U(const uint8_t* p0, const uint8_t* p1) {
    const __m512i u = Nibbles2(p0 + 6, p1 + 6);
    return _mm512_mask_add_epi8(u, HighBits2(p0 + 2, p1 + 2), u, _mm512_set1_epi8(0x10));
  }
  static GEMRUN_INLINE uint16_t M(const uint8_t*) { return 0; }
};
struct WQ5_1 {
  static constexpr int kBytes = 24, kOff = 0, kQs = 8, kM = 2, kQh = 4;
  static constexpr bool kNibbles = true, kTable = false, kGroup8 = false;
  static constexpr bool kMin = true;
  static GEMRUN_INLINE __m512i U(const uint8_t* p0, const uint8_t* p1) {
    const __m512i u = Nibbles2(p0 + 8, p1 + 8);
    return _mm512_mask_add_epi8(u, HighBits2(p0 + 4, p1 + 4), u, _mm512_set1_epi8(0x10));
  }
  static GEMRUN_INLINE uint16_t M(const uint8_t* p) { return LoadU16(p + 2); }
};
struct WQ8_0 {
  static constexpr int kBytes = 34, kOff = 128, kQs = 2, kM = -1, kQh = -1;
  static constexpr bool kNibbles = false, kTable = false, kGroup8 = false;
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
  static constexpr int kBytes = 18, kOff = 128, kQs = 2, kM = -1, kQh = -1;
  static constexpr bool kNibbles = true, kTable = true, kGroup8 = true;
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
  GEMRUN_UNROLL
  for (int c = 0; c < NC; ++c) act[c] = LoadAct<W, kTwo>(a + c * as + b * kAB);
  GEMRUN_UNROLL
  for (int r = 0; r < NR; ++r) {
    const uint8_t* p0 = w + r * ws + b * W::kBytes;
    // With one block left, block "1" repeats block 0; its activations are zero.
    const uint8_t* p1 = kTwo ? p0 + W::kBytes : p0;
    const __m512i u = W::U(p0, p1);
    const __m512 dw = PairScale(LoadU16(p0), LoadU16(p1));
    __m512 mw;
    if constexpr (W::kMin) mw = PairScale(W::M(p0), W::M(p1));
    GEMRUN_UNROLL
    for (int c = 0; c < NC; ++c) {
      const __m512i dot = _mm512_dpbusd_epi32(act[c].init, u, act[c].q);
      __m512& s = acc[r * NC + c];
      s = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(dw, act[c].d), s);
      if constexpr (W::kMin) s = _mm512_fmadd_ps(mw, act[c].s, s);
    }
  }
}

// ---- 4-block groups ------------------------------------------------------------------------
//
// The main loop takes 4 blocks (128 values) per step. The weight bytes of the group are read
// as one 128-byte window and vpermt2w gathers the codes into U1 = the first 16 values of each
// block (lanes 4j..4j+3 <-> block j) and U2 = the last 16; a second vpermt2w gathers the block
// scales (and mins, and Q5 high bits). The activations are re-laid out the same way once per
// call into a per-thread buffer together with the expanded offset term and block scales, so a
// (row, column) pair costs two vpdpbusd, one conversion, one multiply and one FMA per group.

// A 64-byte aligned per-thread scratch buffer (grows, never shrinks: no allocation once warm).
struct Scratch {
  uint8_t* p = nullptr;
  size_t cap = 0;
  ~Scratch() { std::free(p); }
  uint8_t* Get(size_t bytes) {
    if (bytes > cap) {
      std::free(p);
      cap = (bytes + 4095) & ~size_t{4095};
      p = static_cast<uint8_t*>(std::aligned_alloc(64, cap));
    }
    return p;
  }
};
thread_local Scratch t_act;

// Word-index tables for vpermt2w over a 128-byte window.
struct GatherIdx {
  int16_t v[32];
};
// Output word 8j + w <- 16-byte run j starting at byte first + stride*j.
constexpr GatherIdx RunsIdx(int first, int stride) {
  GatherIdx g{};
  for (int k = 0; k < 32; ++k) g.v[k] = static_cast<int16_t>((first + stride * (k / 8)) / 2 + k % 8);
  return g;
}
// Words 0-3: d_j, 4-7: m_j, 8-11: qh low halves, 12-15: qh high halves (unused ones repeat d).
constexpr GatherIdx MetaIdx(int stride, int m, int qh) {
  GatherIdx g{};
  GEMRUN_UNROLL
  for (int j = 0; j < 4; ++j) {
    g.v[j] = static_cast<int16_t>(stride * j / 2);
    g.v[4 + j] = static_cast<int16_t>((m >= 0 ? stride * j + m : stride * j) / 2);
    g.v[8 + j] = static_cast<int16_t>((qh >= 0 ? stride * j + qh : stride * j) / 2);
    g.v[12 + j] = static_cast<int16_t>((qh >= 0 ? stride * j + qh + 2 : stride * j) / 2);
  }
  for (int k = 16; k < 32; ++k) g.v[k] = 0;
  return g;
}

GEMRUN_INLINE __m512i Gather(const GatherIdx& idx, __m512i lo, __m512i hi) {
  return _mm512_permutex2var_epi16(lo, _mm512_loadu_si512(idx.v), hi);
}
// Bytes [p, p + len) as a zero-padded window (len <= 64).
GEMRUN_INLINE __m512i LoadPart(const uint8_t* p, int len) {
  return _mm512_maskz_loadu_epi8(len >= 64 ? ~0ull : ((1ull << len) - 1), p);
}
GEMRUN_INLINE __m512i QuadIdx() { return _mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0); }

// Decodes the 4-block group at p into unsigned codes and f32 scales (and mins).
template <class W>
struct Group;

template <class W>
struct NibbleGroup {
  static GEMRUN_INLINE void Decode(const uint8_t* p, __m512i& u1, __m512i& u2, __m256& dm) {
    static constexpr GatherIdx kQ = RunsIdx(W::kQs, W::kBytes);
    static constexpr GatherIdx kMeta = MetaIdx(W::kBytes, W::kM, W::kQh);
    const __m512i z0 = _mm512_loadu_si512(p), z1 = LoadPart(p + 64, 4 * W::kBytes - 64);
    const __m512i q = Gather(kQ, z0, z1);
    const __m512i lo4 = _mm512_set1_epi8(0x0F);
    u1 = _mm512_and_si512(q, lo4);
    u2 = _mm512_and_si512(_mm512_srli_epi16(q, 4), lo4);
    const __m512i meta = Gather(kMeta, z0, z1);
    dm = _mm256_cvtph_ps(_mm512_castsi512_si128(meta));
    if constexpr (W::kQh >= 0) {
      const __m128i h = _mm512_extracti32x4_epi32(meta, 1);
      const __m512i b5 = _mm512_set1_epi8(0x10);
      u1 = _mm512_mask_add_epi8(u1, static_cast<__mmask64>(_mm_cvtsi128_si64(h)), u1, b5);
      u2 = _mm512_mask_add_epi8(u2, static_cast<__mmask64>(_mm_extract_epi64(h, 1)), u2, b5);
    }
    if constexpr (W::kTable) {
      const __m512i table = _mm512_broadcast_i32x4(_mm_setr_epi8(
          1, 24, 45, 63, 79, 93, 106, 118, (char)129, (char)141, (char)153, (char)166, (char)181,
          (char)197, (char)217, (char)241));
      u1 = _mm512_shuffle_epi8(table, u1);
      u2 = _mm512_shuffle_epi8(table, u2);
    }
  }
};

// Signed 32-byte blocks (Q8_0 weights and the Q8_0/Q8_1 activations): 4 blocks span up to
// 144 bytes, so the second halves come from a window starting 16 bytes later.
template <int kStride, int kQsOff>
GEMRUN_INLINE void GatherQ8(const uint8_t* p, __m512i& q1, __m512i& q2, __m512i& meta) {
  static constexpr GatherIdx kQ = RunsIdx(kQsOff, kStride);
  static constexpr GatherIdx kMeta = MetaIdx(kStride, 2, -1);
  const __m512i z0 = _mm512_loadu_si512(p), z1 = _mm512_loadu_si512(p + 64);
  q1 = Gather(kQ, z0, z1);
  q2 = Gather(kQ, _mm512_loadu_si512(p + 16), LoadPart(p + 80, 4 * kStride - 80));
  meta = Gather(kMeta, z0, z1);
}

template <class W>
struct Group {
  static GEMRUN_INLINE void Decode(const uint8_t* p, __m512i& u1, __m512i& u2, __m256& dm) {
    if constexpr (W::kNibbles) {
      NibbleGroup<W>::Decode(p, u1, u2, dm);
    } else {
      __m512i meta;
      GatherQ8<34, 2>(p, u1, u2, meta);
      const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
      u1 = _mm512_xor_si512(u1, flip);
      u2 = _mm512_xor_si512(u2, flip);
      dm = _mm256_cvtph_ps(_mm512_castsi512_si128(meta));
    }
  }
};

// Per column and group: qA, qB (64 B each), the expanded -off*sum(a) start (64 B), the
// expanded block scales (64 B) and, for Q8_1, the four s values.
template <class W>
struct ActLayout {
  static constexpr int kAB = W::kMin ? 36 : 34, kAQ = W::kMin ? 4 : 2;
  static constexpr int kRec = W::kMin ? 320 : 256;  // multiple of 64 (aligned loads)
  static void Build(const uint8_t* a, int64_t ng, uint8_t* buf) {
    const __m512i quad = QuadIdx();
    for (int64_t g = 0; g < ng; ++g, a += 4 * kAB, buf += kRec) {
      __m512i q1, q2, meta;
      GatherQ8<kAB, kAQ>(a, q1, q2, meta);
      _mm512_store_si512(buf, q1);
      _mm512_store_si512(buf + 64, q2);
      __m512i init = _mm512_setzero_si512();
      if constexpr (W::kOff != 0) {
        const __m512i off = _mm512_set1_epi8(static_cast<char>(W::kOff));
        const __m512i sum = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), off, q1), off, q2);
        init = _mm512_sub_epi32(_mm512_setzero_si512(), sum);
      }
      _mm512_store_si512(buf + 128, init);
      const __m256 ds = _mm256_cvtph_ps(_mm512_castsi512_si128(meta));
      _mm512_store_ps(buf + 192, _mm512_permutexvar_ps(quad, _mm512_castps256_ps512(ds)));
      if constexpr (W::kMin) {  // s_j at lane 4j, zero elsewhere: fma with the expanded mins adds m_j*s_j once
        const __m512 sx = _mm512_permutexvar_ps(quad, _mm512_castps128_ps512(_mm256_extractf128_ps(ds, 1)));
        _mm512_store_ps(buf + 256, _mm512_maskz_mov_ps(0x1111, sx));
      }
    }
  }
};

// ---- 8-block groups (Q4_0, IQ4_NL) ------------------------------------------------------------
//
// 256 values per step with two int32 lanes per block: the codes are gathered as four vectors
// holding 8 values of each of the 8 blocks (values 0-7, 16-23, 8-15, 24-31), so one pair costs
// 4 vpdpbusd but only one conversion, multiply and FMA per 256 values. The 8 blocks span 144
// bytes: lanes of block 7 come from the third 64-byte load through a masked vpermw.

constexpr int kRec8 = 384;  // A1..A4 (4 x 64 B), expanded -off*sum start, expanded scales

// Output word 4j + w (j < 8, w < 4) <- 8-byte run j at byte first + 18*j; block 7's words are
// taken from the window at byte 128 (second table).
constexpr GatherIdx Runs8Idx(int first, bool tail) {
  GatherIdx g{};
  for (int k = 0; k < 32; ++k) {
    const int j = k / 4, word = (first + 18 * j) / 2 + k % 4;
    g.v[k] = static_cast<int16_t>(tail ? (j == 7 ? word - 64 : 0) : (j == 7 ? 0 : word));
  }
  return g;
}
constexpr GatherIdx Meta8Idx() {
  GatherIdx g{};
  for (int k = 0; k < 32; ++k) g.v[k] = static_cast<int16_t>(k < 8 ? 9 * k : 0);
  return g;
}
GEMRUN_INLINE __m512i PairIdx() {
  return _mm512_set_epi32(7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0);
}

template <class W>
GEMRUN_INLINE void Decode8(const uint8_t* p, __m512i u[4], __m512& dwx) {
  static_assert(W::kBytes == 18 && W::kQs == 2);
  static constexpr GatherIdx kA = Runs8Idx(2, false), kAt = Runs8Idx(2, true);
  static constexpr GatherIdx kB = Runs8Idx(10, false), kBt = Runs8Idx(10, true);
  static constexpr GatherIdx kD = Meta8Idx();
  const __m512i z0 = _mm512_loadu_si512(p), z1 = _mm512_loadu_si512(p + 64), z2 = LoadPart(p + 128, 16);
  constexpr __mmask32 kBlock7 = 0xF0000000u;
  const __m512i qa = _mm512_mask_permutexvar_epi16(Gather(kA, z0, z1), kBlock7, _mm512_loadu_si512(kAt.v), z2);
  const __m512i qb = _mm512_mask_permutexvar_epi16(Gather(kB, z0, z1), kBlock7, _mm512_loadu_si512(kBt.v), z2);
  const __m512i lo4 = _mm512_set1_epi8(0x0F);
  u[0] = _mm512_and_si512(qa, lo4);                         // values 0-7
  u[1] = _mm512_and_si512(_mm512_srli_epi16(qa, 4), lo4);   // 16-23
  u[2] = _mm512_and_si512(qb, lo4);                         // 8-15
  u[3] = _mm512_and_si512(_mm512_srli_epi16(qb, 4), lo4);   // 24-31
  if constexpr (W::kTable) {
    const __m512i table = _mm512_broadcast_i32x4(_mm_setr_epi8(
        1, 24, 45, 63, 79, 93, 106, 118, (char)129, (char)141, (char)153, (char)166, (char)181,
        (char)197, (char)217, (char)241));
    for (int k = 0; k < 4; ++k) u[k] = _mm512_shuffle_epi8(table, u[k]);
  }
  const __m256 d = _mm256_cvtph_ps(_mm512_castsi512_si128(Gather(kD, z0, z1)));
  dwx = _mm512_permutexvar_ps(PairIdx(), _mm512_castps256_ps512(d));
}

// Q8_0 activation blocks (34 B) -> records of 8 blocks in the Decode8 order (once per call).
template <class W>
void BuildAct8(const uint8_t* a, int64_t ng8, uint8_t* buf) {
  static_assert(!W::kMin);
  constexpr int kRunOff[4] = {0, 16, 8, 24};  // A1..A4: values 0-7, 16-23, 8-15, 24-31
  for (int64_t g = 0; g < ng8; ++g, a += 8 * 34, buf += kRec8) {
    alignas(16) float d[8];
    for (int j = 0; j < 8; ++j) {
      const uint8_t* blk = a + 34 * j;
      for (int k = 0; k < 4; ++k) std::memcpy(buf + 64 * k + 8 * j, blk + 2 + kRunOff[k], 8);
      d[j] = H2F(blk);
    }
    __m512i sum = _mm512_setzero_si512();
    const __m512i off = _mm512_set1_epi8(static_cast<char>(W::kOff));
    for (int k = 0; k < 4; ++k) sum = _mm512_dpbusd_epi32(sum, off, _mm512_load_si512(buf + 64 * k));
    _mm512_store_si512(buf + 256, _mm512_sub_epi32(_mm512_setzero_si512(), sum));
    _mm512_store_ps(buf + 320, _mm512_permutexvar_ps(PairIdx(), _mm512_castps256_ps512(_mm256_load_ps(d))));
  }
}

template <class W, int NR, int NC>
GEMRUN_INLINE void GroupRows8(int64_t ng8, const uint8_t* buf, const uint8_t* w, int64_t ws, __m512* acc) {
  for (int64_t g = 0; g < ng8; ++g) {
    GEMRUN_UNROLL
    for (int r = 0; r < NR; ++r) {
      const uint8_t* p = w + r * ws + 8 * g * W::kBytes;
      if constexpr (NC == 1) PrefetchAhead<8 * W::kBytes>(p);
      __m512i u[4];
      __m512 dwx;
      Decode8<W>(p, u, dwx);
      GEMRUN_UNROLL
      for (int c = 0; c < NC; ++c) {
        const uint8_t* rec = buf + (c * ng8 + g) * kRec8;
        __m512i t = _mm512_load_si512(rec + 256);
        GEMRUN_UNROLL
        for (int k = 0; k < 4; ++k) t = _mm512_dpbusd_epi32(t, u[k], _mm512_load_si512(rec + 64 * k));
        acc[r * NC + c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(t), _mm512_mul_ps(dwx, _mm512_load_ps(rec + 320)),
                                          acc[r * NC + c]);
      }
    }
  }
}

template <class W, int NR, int NC>
GEMRUN_INLINE void GroupRows(int64_t b0, int64_t ng, const uint8_t* buf, const uint8_t* w, int64_t ws, __m512* acc) {
  constexpr int kRec = ActLayout<W>::kRec;
  const __m512i quad = QuadIdx();
  for (int64_t g = 0; g < ng; ++g) {
    GEMRUN_UNROLL
    for (int r = 0; r < NR; ++r) {
      __m512i u1, u2;
      __m256 dm;
      const uint8_t* p = w + r * ws + (b0 + 4 * g) * W::kBytes;
      if constexpr (NC == 1) PrefetchAhead<4 * W::kBytes>(p);
      Group<W>::Decode(p, u1, u2, dm);
      const __m512 dwx = _mm512_permutexvar_ps(quad, _mm512_castps256_ps512(dm));
      __m512 mwx;
      if constexpr (W::kMin) mwx = _mm512_permutexvar_ps(quad, _mm512_castps128_ps512(_mm256_extractf128_ps(dm, 1)));
      GEMRUN_UNROLL
      for (int c = 0; c < NC; ++c) {
        const uint8_t* rec = buf + (c * ng + g) * kRec;
        __m512i t = _mm512_load_si512(rec + 128);
        t = _mm512_dpbusd_epi32(t, u1, _mm512_load_si512(rec));
        t = _mm512_dpbusd_epi32(t, u2, _mm512_load_si512(rec + 64));
        acc[r * NC + c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(t), _mm512_mul_ps(dwx, _mm512_load_ps(rec + 192)),
                                          acc[r * NC + c]);
        if constexpr (W::kMin) acc[r * NC + c] = _mm512_fmadd_ps(mwx, _mm512_load_ps(rec + 256), acc[r * NC + c]);
      }
    }
  }
}

template <class W, int NR, int NC>
void Rows(int64_t n, int64_t ng8, const uint8_t* buf8, int64_t ng4, const uint8_t* buf4, const uint8_t* w, int64_t ws,
          const uint8_t* a, int64_t as, float* out, int64_t ldo) {
  const int64_t nb = n / kQK;
  __m512 acc[NR * NC];
  GEMRUN_UNROLL
  for (int p = 0; p < NR * NC; ++p) acc[p] = _mm512_setzero_ps();
  if constexpr (W::kGroup8) GroupRows8<W, NR, NC>(ng8, buf8, w, ws, acc);
  GroupRows<W, NR, NC>(8 * ng8, ng4, buf4, w, ws, acc);
  int64_t b = 8 * ng8 + 4 * ng4;
  for (; b + 2 <= nb; b += 2) Step<W, NR, NC, true>(w, ws, a, as, b, acc);
  if (b < nb) Step<W, NR, NC, false>(w, ws, a, as, b, acc);
  GEMRUN_UNROLL
  for (int r = 0; r < NR; ++r)
    GEMRUN_UNROLL
    for (int c = 0; c < NC; ++c) out[c * ldo + r] = _mm512_reduce_add_ps(acc[r * NC + c]);
}

// Any number of weight rows x NC <= 4 activation rows: the activations are re-laid out once,
// then every group of 4 weight rows streams its bytes exactly once.
template <class W, int NC>
void RunCols(int64_t n, const uint8_t* w, int64_t ws, int nr, const uint8_t* a, int64_t as, float* out,
             int64_t ldo) {
  using L = ActLayout<W>;
  constexpr int kAB = L::kAB;
  const int64_t nb = n / kQK;
  const int64_t ng8 = W::kGroup8 ? nb / 8 : 0;
  const int64_t ng4 = (nb - 8 * ng8) / 4;
  const size_t bytes8 = static_cast<size_t>(NC * ng8 * kRec8), bytes4 = static_cast<size_t>(NC * ng4 * L::kRec);
  uint8_t* buf8 = t_act.Get(bytes8 + bytes4 + 64);
  uint8_t* buf4 = buf8 + bytes8;
  GEMRUN_UNROLL
  for (int c = 0; c < NC; ++c) {
    if constexpr (W::kGroup8) BuildAct8<W>(a + c * as, ng8, buf8 + c * ng8 * kRec8);
    L::Build(a + c * as + 8 * ng8 * kAB, ng4, buf4 + c * ng4 * L::kRec);
  }
  int r = 0;
  for (; r + 4 <= nr; r += 4) Rows<W, 4, NC>(n, ng8, buf8, ng4, buf4, w + r * ws, ws, a, as, out + r, ldo);
  for (; r < nr; ++r) Rows<W, 1, NC>(n, ng8, buf8, ng4, buf4, w + r * ws, ws, a, as, out + r, ldo);
}

template <class W>
void TileQ8(int64_t n, const void* w, int64_t ws, int nr, const void* a, int64_t as, int nc, float* out,
            int64_t ldo) {
  const auto* wb = static_cast<const uint8_t*>(w);
  const auto* ab = static_cast<const uint8_t*>(a);
  for (int c0 = 0; c0 < nc; c0 += 4) {
    const uint8_t* ac = ab + c0 * as;
    float* oc = out + c0 * ldo;
    switch (nc - c0 < 4 ? nc - c0 : 4) {
      case 1: RunCols<W, 1>(n, wb, ws, nr, ac, as, oc, ldo); break;
      case 2: RunCols<W, 2>(n, wb, ws, nr, ac, as, oc, ldo); break;
      case 3: RunCols<W, 3>(n, wb, ws, nr, ac, as, oc, ldo); break;
      default: RunCols<W, 4>(n, wb, ws, nr, ac, as, oc, ldo); break;
    }
  }
}

}  // namespace

void Avx512AddQ8Tiles(IsaKernels& k) {
  SetDot(k, DType::kQ4_0, TileQ8<WQ4_0>);
  SetDot(k, DType::kQ4_1, TileQ8<WQ4_1>);
  SetDot(k, DType::kQ5_0, TileQ8<WQ5_0>);
  SetDot(k, DType::kQ5_1, TileQ8<WQ5_1>);
  SetDot(k, DType::kQ8_0, TileQ8<WQ8_0>);
  SetDot(k, DType::kIQ4_NL, TileQ8<WIQ4_NL>);
}

}  // namespace gemrun::kernels
