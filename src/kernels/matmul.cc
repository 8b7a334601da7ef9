// MatMul: converts activations once, then runs the ISA's dot tiles over a blocked
// (rows x tokens) iteration space split across threads by weight rows.
//
// Each thread owns a contiguous range of weight rows (ThreadPool chunking depends only on N
// and the thread count, so results are deterministic for a thread count). Tiles are called
// with many weight rows at once (the SIMD tiles re-lay out the activations once per call and
// then stream the rows): decode (T <= 4) makes one call per thread over its whole range;
// prefill walks row blocks sized to stay in L2 while the token columns stream by, 4 at a time.
#include <algorithm>

#include "base/status.h"
#include "kernels/isa.h"
#include "kernels/kernels.h"
#include "kernels/repack.h"
#include "quant/quant.h"

namespace gemrun::kernels {
namespace {

constexpr int kTileRows = 4;                // weight rows per register tile (row split grain)
constexpr int kTileCols = 4;                // activation rows per tile call
constexpr int64_t kRowBlockBytes = 384 << 10;  // weight bytes kept hot while tokens stream by
constexpr int64_t kMaxRowsPerCall = 1 << 20;   // DotTileFn takes nr as int

// Rows per block for prefill: as many as fit the L2 budget, a multiple of kTileRows.
int64_t RowBlock(int64_t row_bytes) {
  const int64_t rows = kRowBlockBytes / std::max<int64_t>(row_bytes, 1);
  return std::clamp<int64_t>(rows / kTileRows * kTileRows, 16, 1024);
}

// kRows16 weights: activations in the vec_dot format plus per-block scales and sums, then one
// tile call per thread over its row groups and all T columns (the tile does its own cache
// blocking).
void MatMulRows16(const TensorView& w, const float* x, int64_t T, int64_t ldx, float* y, int64_t ldy,
                  ThreadPool& pool, MatMulScratch& scratch) {
  const int64_t K = w.ne[0], N = w.ne[1];
  const IsaKernels& ks = ActiveKernels();
  const DType vd = Traits(w.type).vec_dot;
  const Rows16TileFn tile = ks.rows16_tile[static_cast<uint32_t>(w.type)];
  const BlockSumsFn sums = ks.block_sums[static_cast<uint32_t>(vd)];
  GEMRUN_CHECK(tile != nullptr && sums != nullptr);
  const int64_t a_stride = RowBytes(vd, K), n_d = BlockSumsScales(vd, K), n_s = BlockSumsInts(vd, K);
  const size_t need = static_cast<size_t>(a_stride * T);
  if (scratch.act.size() < need) scratch.act.resize(need);
  if (scratch.act_d.size() < static_cast<size_t>(n_d * T)) scratch.act_d.resize(static_cast<size_t>(n_d * T));
  if (scratch.act_sum.size() < static_cast<size_t>(n_s * T)) scratch.act_sum.resize(static_cast<size_t>(n_s * T));
  uint8_t* acts = scratch.act.data();
  float* ad = scratch.act_d.data();
  int32_t* asum = scratch.act_sum.data();
  const QuantizeActFn q = ks.quantize_act[static_cast<uint32_t>(vd)];
  pool.ParallelFor(T, [&](int64_t t0, int64_t t1, int) {
    for (int64_t t = t0; t < t1; ++t) {
      q(x + t * ldx, acts + t * a_stride, K);
      sums(acts + t * a_stride, n_d, ad + t * n_d, asum + t * n_s);
    }
  });
  const int64_t group_bytes = kRows16 * w.nb[1];
  pool.ParallelFor(
      N,
      [&](int64_t r0, int64_t r1, int) {
        tile(K, w.data + r0 / kRows16 * group_bytes, r1 - r0, acts, a_stride, ad, asum, T, y + r0, ldy);
      },
      kRows16);
}

}  // namespace

void MatMul(const TensorView& w, const float* x, int64_t T, int64_t ldx, float* y, int64_t ldy,
            ThreadPool& pool, MatMulScratch& scratch) {
  const int64_t K = w.ne[0], N = w.ne[1];
  GEMRUN_CHECK(w.ne[2] == 1 && w.ne[3] == 1);
  if (T <= 0 || N <= 0) return;
  if (w.layout == WeightLayout::kRows16) return MatMulRows16(w, x, T, ldx, y, ldy, pool, scratch);
  const IsaKernels& ks = ActiveKernels();
  const DType vd = Traits(w.type).vec_dot;
  const int64_t a_stride = RowBytes(vd, K);
  const void* acts;
  if (vd == DType::kF32 && ldx == K) {
    acts = x;
  } else {
    const size_t need = static_cast<size_t>(a_stride * T);
    if (scratch.act.size() < need) scratch.act.resize(need);
    QuantizeActFn q = ks.quantize_act[static_cast<uint32_t>(vd)];
    uint8_t* dst = scratch.act.data();
    pool.ParallelFor(T, [&](int64_t t0, int64_t t1, int) {
      for (int64_t t = t0; t < t1; ++t) q(x + t * ldx, dst + t * a_stride, K);
    });
    acts = dst;
  }
  DotTileFn tile = ks.dot_tile[static_cast<uint32_t>(w.type)];
  GEMRUN_CHECK(tile != nullptr);
  const uint8_t* a_bytes = static_cast<const uint8_t*>(acts);
  const int64_t w_stride = w.nb[1];
  const int64_t row_block = T <= kTileCols ? kMaxRowsPerCall : RowBlock(w_stride);
  pool.ParallelFor(
      N,
      [&](int64_t r0, int64_t r1, int) {
        for (int64_t rb = r0; rb < r1; rb += row_block) {
          const int nr = static_cast<int>(std::min(r1, rb + row_block) - rb);
          for (int64_t t = 0; t < T; t += kTileCols) {
            const int nc = static_cast<int>(std::min<int64_t>(kTileCols, T - t));
            tile(K, w.data + rb * w_stride, w_stride, nr, a_bytes + t * a_stride, a_stride, nc,
                 y + t * ldy + rb, ldy);
          }
        }
      },
      kTileRows);
}

void GetRow(const TensorView& w, int64_t i, float* dst) {
  if (w.layout == WeightLayout::kRows16) {
    thread_local Buffer<uint8_t> row;
    row.resize(static_cast<size_t>(w.nb[1]));
    UnpackRow16(w.type, w.data, w.nb[1], i, row.data());
    return DequantizeRowRef(w.type, row.data(), dst, w.ne[0]);
  }
  DequantizeRowRef(w.type, w.Row(i), dst, w.ne[0]);
}

}  // namespace gemrun::kernels
