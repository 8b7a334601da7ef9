// MatMul: converts activations once, then runs the ISA's dot tiles over a blocked
// (rows x tokens) iteration space split across threads by weight rows.
#include <algorithm>

#include "base/status.h"
#include "kernels/isa.h"
#include "kernels/kernels.h"
#include "quant/quant.h"

namespace gemrun::kernels {
namespace {

constexpr int kTileRows = 4;     // weight rows per dot tile
constexpr int kTileCols = 4;     // activation rows per dot tile
constexpr int64_t kRowBlock = 64;  // weight rows kept hot in cache while tokens stream by

}  // namespace

void MatMul(const TensorView& w, const float* x, int64_t T, int64_t ldx, float* y, int64_t ldy,
            ThreadPool& pool, MatMulScratch& scratch) {
  const int64_t K = w.ne[0], N = w.ne[1];
  GEMRUN_CHECK(w.ne[2] == 1 && w.ne[3] == 1);
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
  pool.ParallelFor(
      N,
      [&](int64_t r0, int64_t r1, int) {
        for (int64_t rb = r0; rb < r1; rb += kRowBlock) {
          const int64_t rb_end = std::min(r1, rb + kRowBlock);
          for (int64_t t = 0; t < T; t += kTileCols) {
            const int nc = static_cast<int>(std::min<int64_t>(kTileCols, T - t));
            for (int64_t r = rb; r < rb_end; r += kTileRows) {
              const int nr = static_cast<int>(std::min<int64_t>(kTileRows, rb_end - r));
              tile(K, w.data + r * w_stride, w_stride, nr, a_bytes + t * a_stride, a_stride, nc,
                   y + t * ldy + r, ldy);
            }
          }
        }
      },
      kTileRows);
}

void GetRow(const TensorView& w, int64_t i, float* dst) {
  DequantizeRowRef(w.type, w.Row(i), dst, w.ne[0]);
}

}  // namespace gemrun::kernels
