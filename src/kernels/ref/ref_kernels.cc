// Scalar reference kernel table: the twin every SIMD kernel is tested against.
#include "kernels/ref/ref_kernels.h"

#include <cstring>

#include "base/fp16.h"
#include "quant/blocks.h"
#include "quant/quant.h"

namespace gemrun::kernels {
namespace {

template <DType kFmt>
void QuantizeActRef(const float* x, void* dst, int64_t n) {
  QuantizeActRowRef(kFmt, x, dst, n);
}

template <DType kW>
void DotTileRef(int64_t n, const void* w, int64_t w_stride, int nr, const void* a,
                int64_t a_stride, int nc, float* out, int64_t ldo) {
  const auto* wb = static_cast<const uint8_t*>(w);
  const auto* ab = static_cast<const uint8_t*>(a);
  for (int c = 0; c < nc; ++c)
    for (int r = 0; r < nr; ++r)
      out[c * ldo + r] = VecDotRef(kW, n, wb + r * w_stride, ab + c * a_stride);
}

void GeluMulRef(const float* gate, const float* up, float* y, int64_t n, const uint16_t* table) {
  for (int64_t i = 0; i < n; ++i) {
    const float x = gate[i];
    float g;
    if (x <= -10.0f) g = 0.0f;
    else if (x >= 10.0f) g = x;
    else g = Fp16ToFp32(table[Fp32ToFp16(x)]);
    y[i] = up ? g * up[i] : g;
  }
}

void Q8_0SumsRef(const uint8_t* row, int64_t nb, float* d, int32_t* sum) {
  for (int64_t b = 0; b < nb; ++b, row += 34) {
    d[b] = Fp16ToFp32(static_cast<uint16_t>(row[0] | (row[1] << 8)));
    int32_t s = 0;
    for (int i = 0; i < 32; ++i) s += static_cast<int8_t>(row[2 + i]);
    sum[b] = s;
  }
}

void Q8_KSumsRef(const uint8_t* row, int64_t nb, float* d, int32_t* sum) {
  for (int64_t b = 0; b < nb; ++b, row += sizeof(BlockQ8_K)) {
    BlockQ8_K blk;
    std::memcpy(&blk, row, sizeof(blk));
    d[b] = blk.d;
    for (int i = 0; i < 4; ++i) {
      const int lo = blk.bsums[4 * i] + blk.bsums[4 * i + 1], hi = blk.bsums[4 * i + 2] + blk.bsums[4 * i + 3];
      sum[4 * b + i] = static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint16_t>(lo)) |
                                            (static_cast<uint32_t>(static_cast<uint16_t>(hi)) << 16));
    }
  }
}

IsaKernels MakeRef() {
  IsaKernels k{Isa::kScalar, "scalar", {}, {}, nullptr, {}, {}, {}};
  auto q = [&k](DType f, QuantizeActFn fn) { k.quantize_act[static_cast<uint32_t>(f)] = fn; };
  q(DType::kF32, QuantizeActRef<DType::kF32>);
  q(DType::kF16, QuantizeActRef<DType::kF16>);
  q(DType::kBF16, QuantizeActRef<DType::kBF16>);
  q(DType::kQ8_0, QuantizeActRef<DType::kQ8_0>);
  q(DType::kQ8_1, QuantizeActRef<DType::kQ8_1>);
  q(DType::kQ8_K, QuantizeActRef<DType::kQ8_K>);
  auto d = [&k](DType t, DotTileFn fn) { k.dot_tile[static_cast<uint32_t>(t)] = fn; };
  d(DType::kF32, DotTileRef<DType::kF32>);
  d(DType::kF16, DotTileRef<DType::kF16>);
  d(DType::kBF16, DotTileRef<DType::kBF16>);
  d(DType::kQ4_0, DotTileRef<DType::kQ4_0>);
  d(DType::kQ4_1, DotTileRef<DType::kQ4_1>);
  d(DType::kQ5_0, DotTileRef<DType::kQ5_0>);
  d(DType::kQ5_1, DotTileRef<DType::kQ5_1>);
  d(DType::kQ8_0, DotTileRef<DType::kQ8_0>);
  d(DType::kQ2_K, DotTileRef<DType::kQ2_K>);
  d(DType::kQ3_K, DotTileRef<DType::kQ3_K>);
  d(DType::kQ4_K, DotTileRef<DType::kQ4_K>);
  d(DType::kQ5_K, DotTileRef<DType::kQ5_K>);
  d(DType::kQ6_K, DotTileRef<DType::kQ6_K>);
  d(DType::kIQ4_NL, DotTileRef<DType::kIQ4_NL>);
  d(DType::kIQ4_XS, DotTileRef<DType::kIQ4_XS>);
  k.gelu_mul = GeluMulRef;
  k.block_sums[static_cast<uint32_t>(DType::kQ8_0)] = Q8_0SumsRef;
  k.block_sums[static_cast<uint32_t>(DType::kQ8_K)] = Q8_KSumsRef;
  return k;
}

}  // namespace

const IsaKernels& RefKernels() {
  static const IsaKernels k = MakeRef();
  return k;
}

}  // namespace gemrun::kernels
