// Row-interleaved weight copies (WeightLayout::kRows16) for the prefill GEMM.
//
// In a file, each weight row is a run of blocks. The SIMD tiles want the opposite: one
// register holding the same block position of 16 rows (lanes = rows), so that one broadcast
// activation word feeds 16 rows in one instruction and the weights need no transposition per
// tile. At load time, matrices of a packable type are copied once into that layout; the file
// pages of the original are then released, so memory stays at one copy.
//
// kRows16 layout for Q4_0 (18-byte blocks: f16 scale + 16 bytes of nibbles):
//   rows 16g..16g+15 form row group g, 16 * row_bytes bytes at g * 16 * row_bytes;
//   within a group, blocks go in pairs (2p, 2p+1) of 576 bytes:
//     [64 B]  the 16 scales of block 2p, then the 16 scales of block 2p+1 (f16, row order)
//     [256 B] the nibbles of block 2p as 4 vectors of 64 B: vector i holds, at bytes 4r..4r+3,
//             bytes 4i..4i+3 of row r's nibbles
//     [256 B] the same for block 2p+1
// so every 64-byte vector is aligned when the copy is. Needs rows % 16 == 0 and an even
// number of blocks per row.
//
// Q8_0 (34-byte blocks: f16 scale + 32 signed codes) is the same with 8 code vectors of 64 B
// per block (pairs of 1088 bytes), the codes stored as q ^ 0x80 (= q + 128, unsigned).
//
// Q5_0 (22-byte blocks: f16 scale, 32 high bits, 16 bytes of nibbles) is Q4_0 with one 64-byte
// vector of high bits per block between the scales and the nibbles (pairs of 704 bytes:
// [64 B scales][64 B high bits of 2p][64 B of 2p+1][256 B nibbles of 2p][256 B of 2p+1]).
// Row r's 4 bytes at 4r are spread so that byte k, bit 2i + e is the high bit of value
// 16e + 4i + k: the one nibble e of code byte 4i + k that it belongs to.
//
// Q4_K (144-byte super-blocks of 256 values) packs super-block s of the 16 rows into the
// same 2304 bytes at s * 2304 within the group:
//   [32 B]  d of the 16 rows (f16), [32 B] dmin
//   [192 B] the 6-bit scales and mins, rearranged so a few byte ops give (lanes = rows)
//           the scales of sub-blocks 0-3 and 4-7 as bytes [j][r], and the mins as int16
//           pairs [i][r][min 2i, min 2i + 1] (low 4 bits in two 64-byte halves, the high
//           2 bits of all four values of a byte position in a third)
//   [2048 B] the nibbles: vector v (0..31) holds bytes 4v..4v+3 of row r's nibbles at 4r;
//           its low nibbles are values 64 (v / 8) + 4 (v % 8).., of sub-block 2 (v / 8), its
//           high nibbles the same positions of sub-block 2 (v / 8) + 1
//
// Q6_K (210-byte super-blocks: ql[128], qh[64], 16 int8 scales, f16 d) packs super-block s of
// the 16 rows into the same 3360 bytes at s * 3360 within the group:
//   [2048 B] ql as 32 vectors: vector v holds bytes 4v..4v+3 of row r's ql at 4r
//   [1024 B] qh as 16 vectors the same way
//   [256 B]  the scales as bytes [j][r], [32 B] d of the 16 rows (f16)
// Every vector position is 32-byte aligned (3360 = 105 * 32).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "kernels/tensor_view.h"

namespace gemrun::kernels {

constexpr int kRows16 = 16;

// Whether `w` can be repacked on this machine: a 2-D matrix of a type the active ISA has a
// kRows16 tile for, with a shape the layout supports.
bool CanPackRows16(const TensorView& w);

// Owns packed copies of weights; lives as long as the views into it (the model).
class PackedWeights {
 public:
  PackedWeights() = default;
  PackedWeights(const PackedWeights&) = delete;
  PackedWeights& operator=(const PackedWeights&) = delete;
  ~PackedWeights();

  // Rewrites *w to a kRows16 copy when CanPackRows16(*w) and returns whether it did. With
  // `release_source` (only for read-only file mappings: the pages are then merely dropped
  // from this process, never lost) the original's pages are released so memory stays at one
  // copy. Uses up to `threads` threads.
  bool Pack(TensorView* w, int threads, bool release_source);
  size_t bytes() const { return bytes_; }

 private:
  struct Region {
    void* p;
    size_t len;
  };
  std::vector<Region> regions_;
  size_t bytes_ = 0;
};

// Layout transforms of a packable type (scalar; exposed for tests): packs rows
// [row_begin, row_end) (multiples of 16) of `src`, rows of row_bytes, into `dst`.
void PackRows16(DType t, const uint8_t* src, int64_t row_bytes, int64_t row_begin, int64_t row_end, uint8_t* dst);
// Copies row i of a kRows16 matrix back into file layout (row_bytes bytes).
void UnpackRow16(DType t, const uint8_t* packed, int64_t row_bytes, int64_t i, uint8_t* dst);

// True unless GEMRUN_REPACK=0 (for A/B runs and debugging).
bool RepackEnabled();

}  // namespace gemrun::kernels
