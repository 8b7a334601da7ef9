// kRows16 packing: the layout transform, the owner of packed copies, and the release of the
// file pages they replace.
#include "kernels/repack.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "base/status.h"
#include "kernels/isa.h"
#include "quant/quant_internal.h"

namespace gemrun::kernels {
namespace {

uintptr_t PageSize() {
  static const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  return page;
}

// Drops the whole pages inside [p, p + len) from this process (file-backed and unmodified,
// so a later read would simply fault them in again).
void ReleasePages(const void* p, size_t len) {
  const uintptr_t page = PageSize(), a = reinterpret_cast<uintptr_t>(p);
  const uintptr_t begin = (a + page - 1) & ~(page - 1), end = (a + len) & ~(page - 1);
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

}  // namespace

bool RepackEnabled() {
  static const bool on = [] {
    const char* e = std::getenv("GEMRUN_REPACK");
    return !(e && std::strcmp(e, "0") == 0);
  }();
  return on;
}

bool CanPackRows16(const TensorView& w) {
  if (!RepackEnabled() || w.layout != WeightLayout::kRows || !w.data) return false;
  if (w.ne[2] != 1 || w.ne[3] != 1 || w.ne[1] % kRows16 != 0) return false;
  if (!ActiveKernels().rows16_tile[static_cast<uint32_t>(w.type)]) return false;
  if (!ActiveKernels().block_sums[static_cast<uint32_t>(Traits(w.type).vec_dot)]) return false;
  switch (w.type) {
    case DType::kQ4_0:
    case DType::kQ5_0:
    case DType::kQ8_0: return w.ne[0] % 64 == 0 && w.nb[1] == RowBytes(w.type, w.ne[0]);
    case DType::kQ4_K:
    case DType::kQ6_K: return w.nb[1] == RowBytes(w.type, w.ne[0]);
    default: return false;
  }
}

namespace {

// A 32-element block format with a leading f16 scale, `hi` bytes of high bits (Q5_0's qh)
// and `qs` bytes of codes; Q8_0's codes are stored with the sign bit flipped (unsigned, as
// vpdpbusd wants them).
struct Format {
  int64_t block, hi, qs;
  uint8_t flip;
};
constexpr Format kQ4_0{18, 0, 16, 0x00}, kQ5_0{22, 4, 16, 0x00}, kQ8_0{34, 0, 32, 0x80};

Format FormatOf(DType t) { return t == DType::kQ8_0 ? kQ8_0 : t == DType::kQ5_0 ? kQ5_0 : kQ4_0; }

// Q5_0 high bits, qh (bit v: value v) <-> the packed order: byte k, bit 2i + e holds the high
// bit of value 16e + 4i + k, i.e. of the low (e = 0) or high (e = 1) nibble of code byte 4i + k,
// so code vector i needs one shift and one AND to place them at bit 4.
uint32_t SpreadQh(uint32_t qh) {
  uint32_t out = 0;
  for (int k = 0; k < 4; ++k)
    for (int b = 0; b < 8; ++b) out |= (qh >> (16 * (b % 2) + 4 * (b / 2) + k) & 1u) << (8 * k + b);
  return out;
}
uint32_t GatherQh(uint32_t h) {
  uint32_t qh = 0;
  for (int k = 0; k < 4; ++k)
    for (int b = 0; b < 8; ++b) qh |= (h >> (8 * k + b) & 1u) << (16 * (b % 2) + 4 * (b / 2) + k);
  return qh;
}

// Byte offsets inside a packed pair of blocks: the 2 x 16 scales, block h's high bits, its codes.
constexpr int64_t PairHi(const Format& f, int h) { return 64 + kRows16 * f.hi * h; }
constexpr int64_t PairCodes(const Format& f, int h) { return 64 + 2 * kRows16 * f.hi + kRows16 * f.qs * h; }

void PackRows16(const Format& f, const uint8_t* src, int64_t row_bytes, int64_t row_begin, int64_t row_end,
                uint8_t* dst) {
  const int64_t nb = row_bytes / f.block, group_bytes = kRows16 * row_bytes, pair_bytes = 2 * kRows16 * f.block;
  // Row by row: each source row is read once, front to back, while the group's output
  // (16 rows' worth) stays in cache.
  for (int64_t g = row_begin / kRows16; g < row_end / kRows16; ++g) {
    uint8_t* out = dst + g * group_bytes;
    for (int r = 0; r < kRows16; ++r) {
      const uint8_t* blk = src + (g * kRows16 + r) * row_bytes;
      for (int64_t b = 0; b < nb; ++b, blk += f.block) {
        uint8_t* pair = out + (b / 2) * pair_bytes;
        const int h = static_cast<int>(b % 2);
        std::memcpy(pair + 32 * h + 2 * r, blk, 2);
        if (f.hi != 0) {
          const uint32_t spread = SpreadQh(quant_internal::LoadQh(blk + 2));
          std::memcpy(pair + PairHi(f, h) + 4 * r, &spread, 4);
        }
        uint8_t* codes = pair + PairCodes(f, h) + 4 * r;
        for (int64_t i = 0; i < f.qs / 4; ++i) {
          uint32_t w;
          std::memcpy(&w, blk + 2 + f.hi + 4 * i, 4);
          w ^= f.flip * 0x01010101u;
          std::memcpy(codes + 64 * i, &w, 4);
        }
      }
    }
  }
}

void UnpackRow(const Format& f, const uint8_t* packed, int64_t row_bytes, int64_t i, uint8_t* dst) {
  const int64_t nb = row_bytes / f.block, g = i / kRows16, r = i % kRows16;
  const int64_t pair_bytes = 2 * kRows16 * f.block;
  const uint8_t* group = packed + g * kRows16 * row_bytes;
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* pair = group + (b / 2) * pair_bytes;
    const int h = static_cast<int>(b % 2);
    uint8_t* blk = dst + b * f.block;
    std::memcpy(blk, pair + 32 * h + 2 * r, 2);
    if (f.hi != 0) {
      uint32_t spread;
      std::memcpy(&spread, pair + PairHi(f, h) + 4 * r, 4);
      const uint32_t qh = GatherQh(spread);
      for (int k = 0; k < 4; ++k) blk[2 + k] = static_cast<uint8_t>(qh >> (8 * k));
    }
    const uint8_t* codes = pair + PairCodes(f, h) + 4 * r;
    for (int64_t k = 0; k < f.qs / 4; ++k) {
      uint32_t w;
      std::memcpy(&w, codes + 64 * k, 4);
      w ^= f.flip * 0x01010101u;
      std::memcpy(blk + 2 + f.hi + 4 * k, &w, 4);
    }
  }
}

// Q4_K (144-byte super-blocks: d, dmin, 12 bytes of 6-bit scales and mins, 128 of nibbles);
// the packed super-block of 16 rows is laid out in repack.h.
constexpr int64_t kQ4KBlock = 144, kQ4KGroupBlock = kRows16 * kQ4KBlock;  // 2304

// Byte offsets of row r's 4-bit halves and 2-bit high parts inside the 192-byte scale area:
// scale j (and j + 4) at L0 byte 16 (j % 4) + r; min 2i + e (and 2i + 4 + e) at L1 byte
// 32 i + 2 r + e; H holds the high 2 bits of the four values of each byte position.
constexpr int64_t kL0 = 64, kL1 = 128, kH = 192, kCodes = 256;

void PackQ4KBlock(const uint8_t* blk, int r, uint8_t* out) {
  std::memcpy(out + 2 * r, blk, 2);
  std::memcpy(out + 32 + 2 * r, blk + 2, 2);
  uint8_t sc[8], m[8];
  for (int j = 0; j < 8; ++j) quant_internal::GetScaleMinK4(j, blk + 4, &sc[j], &m[j]);
  for (int j = 0; j < 4; ++j) {
    const int64_t x = 16 * j + r;
    out[kL0 + x] = static_cast<uint8_t>((sc[j] & 15) | (sc[j + 4] & 15) << 4);
    out[kH + x] = static_cast<uint8_t>(out[kH + x] | sc[j] >> 4 | (sc[j + 4] >> 4) << 2);
  }
  for (int i = 0; i < 2; ++i)
    for (int e = 0; e < 2; ++e) {
      const int64_t x = 32 * i + 2 * r + e;
      const uint8_t lo = m[2 * i + e], hi = m[2 * i + 4 + e];
      out[kL1 + x] = static_cast<uint8_t>((lo & 15) | (hi & 15) << 4);
      out[kH + x] = static_cast<uint8_t>(out[kH + x] | (lo >> 4) << 4 | (hi >> 4) << 6);
    }
  for (int v = 0; v < 32; ++v) std::memcpy(out + kCodes + 64 * v + 4 * r, blk + 16 + 4 * v, 4);
}

void UnpackQ4KBlock(const uint8_t* in, int r, uint8_t* blk) {
  std::memcpy(blk, in + 2 * r, 2);
  std::memcpy(blk + 2, in + 32 + 2 * r, 2);
  uint8_t sc[8], m[8];
  for (int j = 0; j < 4; ++j) {
    const int64_t x = 16 * j + r;
    sc[j] = static_cast<uint8_t>((in[kL0 + x] & 15) | (in[kH + x] & 3) << 4);
    sc[j + 4] = static_cast<uint8_t>(in[kL0 + x] >> 4 | (in[kH + x] >> 2 & 3) << 4);
  }
  for (int i = 0; i < 2; ++i)
    for (int e = 0; e < 2; ++e) {
      const int64_t x = 32 * i + 2 * r + e;
      m[2 * i + e] = static_cast<uint8_t>((in[kL1 + x] & 15) | (in[kH + x] >> 4 & 3) << 4);
      m[2 * i + 4 + e] = static_cast<uint8_t>(in[kL1 + x] >> 4 | (in[kH + x] >> 6) << 4);
    }
  quant_internal::PackScaleMinK4(sc, m, blk + 4);
  for (int v = 0; v < 32; ++v) std::memcpy(blk + 16 + 4 * v, in + kCodes + 64 * v + 4 * r, 4);
}

void PackQ4K(const uint8_t* src, int64_t row_bytes, int64_t row_begin, int64_t row_end, uint8_t* dst) {
  const int64_t nsb = row_bytes / kQ4KBlock;
  for (int64_t g = row_begin / kRows16; g < row_end / kRows16; ++g) {
    uint8_t* out = dst + g * kRows16 * row_bytes;
    std::memset(out, 0, static_cast<size_t>(kRows16 * row_bytes));  // H is assembled with |=
    for (int r = 0; r < kRows16; ++r) {
      const uint8_t* row = src + (g * kRows16 + r) * row_bytes;
      for (int64_t s = 0; s < nsb; ++s) PackQ4KBlock(row + s * kQ4KBlock, r, out + s * kQ4KGroupBlock);
    }
  }
}

void UnpackQ4K(const uint8_t* packed, int64_t row_bytes, int64_t i, uint8_t* dst) {
  const int64_t nsb = row_bytes / kQ4KBlock;
  const uint8_t* group = packed + i / kRows16 * kRows16 * row_bytes;
  for (int64_t s = 0; s < nsb; ++s)
    UnpackQ4KBlock(group + s * kQ4KGroupBlock, static_cast<int>(i % kRows16), dst + s * kQ4KBlock);
}

// Q6_K (210-byte super-blocks: ql[128], qh[64], 16 int8 scales, d) packs super-block s of the
// 16 rows into the same 3360 bytes at s * 3360 within the group: ql as 32 code vectors and qh
// as 16 (vector v holds bytes 4v..4v+3 of row r at 4r), the scales as bytes [j][r], the 16 d.
constexpr int64_t kQ6KBlock = 210, kQ6KGroupBlock = kRows16 * kQ6KBlock;  // 3360
constexpr int64_t kQ6KQh = 2048, kQ6KScales = 3072, kQ6KD = 3328;

// Moves row r's super-block between the file layout `blk` and the packed one `p`.
template <bool kPack>
void MoveQ6KBlock(uint8_t* blk, int r, uint8_t* p) {
  auto mv = [](uint8_t* file, uint8_t* packed, size_t n) {
    if constexpr (kPack) std::memcpy(packed, file, n);
    else std::memcpy(file, packed, n);
  };
  for (int v = 0; v < 32; ++v) mv(blk + 4 * v, p + 64 * v + 4 * r, 4);
  for (int v = 0; v < 16; ++v) mv(blk + 128 + 4 * v, p + kQ6KQh + 64 * v + 4 * r, 4);
  for (int j = 0; j < 16; ++j) mv(blk + 192 + j, p + kQ6KScales + 16 * j + r, 1);
  mv(blk + 208, p + kQ6KD + 2 * r, 2);
}

void PackQ6K(const uint8_t* src, int64_t row_bytes, int64_t row_begin, int64_t row_end, uint8_t* dst) {
  const int64_t nsb = row_bytes / kQ6KBlock;
  for (int64_t g = row_begin / kRows16; g < row_end / kRows16; ++g)
    for (int r = 0; r < kRows16; ++r) {
      const uint8_t* row = src + (g * kRows16 + r) * row_bytes;
      for (int64_t s = 0; s < nsb; ++s)
        MoveQ6KBlock<true>(const_cast<uint8_t*>(row + s * kQ6KBlock), r,
                           dst + g * kRows16 * row_bytes + s * kQ6KGroupBlock);
    }
}

void UnpackQ6K(const uint8_t* packed, int64_t row_bytes, int64_t i, uint8_t* dst) {
  const int64_t nsb = row_bytes / kQ6KBlock;
  const uint8_t* group = packed + i / kRows16 * kRows16 * row_bytes;
  for (int64_t s = 0; s < nsb; ++s)
    MoveQ6KBlock<false>(dst + s * kQ6KBlock, static_cast<int>(i % kRows16),
                        const_cast<uint8_t*>(group + s * kQ6KGroupBlock));
}

}  // namespace

void PackRows16(DType t, const uint8_t* src, int64_t row_bytes, int64_t row_begin, int64_t row_end, uint8_t* dst) {
  if (t == DType::kQ4_K) return PackQ4K(src, row_bytes, row_begin, row_end, dst);
  if (t == DType::kQ6_K) return PackQ6K(src, row_bytes, row_begin, row_end, dst);
  PackRows16(FormatOf(t), src, row_bytes, row_begin, row_end, dst);
}

void UnpackRow16(DType t, const uint8_t* packed, int64_t row_bytes, int64_t i, uint8_t* dst) {
  if (t == DType::kQ4_K) return UnpackQ4K(packed, row_bytes, i, dst);
  if (t == DType::kQ6_K) return UnpackQ6K(packed, row_bytes, i, dst);
  UnpackRow(FormatOf(t), packed, row_bytes, i, dst);
}

PackedWeights::~PackedWeights() {
  for (const Region& r : regions_) munmap(r.p, r.len);
}

bool PackedWeights::Pack(TensorView* w, int threads, bool release_source) {
  if (!CanPackRows16(*w)) return false;
  const int64_t rows = w->ne[1], row_bytes = w->nb[1];
  const size_t bytes = static_cast<size_t>(rows * row_bytes);
  const size_t len = (bytes + PageSize() - 1) & ~(PageSize() - 1);
  // Small pages: transparent huge pages fault faster on average, but a fault that has to
  // compact memory first can stall for most of a second, which a load cannot afford.
  void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return false;  // keep the file layout: slower, never wrong
  auto* dst = static_cast<uint8_t*>(p);
  const int64_t groups = rows / kRows16;
  const int n = static_cast<int>(std::clamp<int64_t>(groups / 8, 1, std::max(threads, 1)));
  auto part = [&](int k) {
    PackRows16(w->type, w->data, row_bytes, groups * k / n * kRows16, groups * (k + 1) / n * kRows16, dst);
  };
  std::vector<std::thread> pool;
  for (int k = 1; k < n; ++k) pool.emplace_back(part, k);
  part(0);
  for (auto& t : pool) t.join();
  if (release_source) ReleasePages(w->data, bytes);
  regions_.push_back({p, len});
  bytes_ += bytes;
  w->data = dst;
  w->layout = WeightLayout::kRows16;
  return true;
}

}  // namespace gemrun::kernels
