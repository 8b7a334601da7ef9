// TensorView: a non-owning, typed view of tensor bytes (usually inside the mmapped file).
#pragma once

#include <cstdint>
#include <string>

#include "tensor/dtype.h"

namespace gemrun {

// How a matrix's rows are stored: as in the file, or interleaved 16 rows per block for the
// SIMD tiles (kernels/repack.h). Only MatMul and GetRow read kRows16 views.
enum class WeightLayout : uint8_t { kRows, kRows16 };

struct TensorView {
  DType type = DType::kF32;
  WeightLayout layout = WeightLayout::kRows;
  int64_t ne[4] = {1, 1, 1, 1};  // ne[0] contiguous (elements per row)
  int64_t nb[4] = {0, 0, 0, 0};  // byte strides; nb[1] = bytes per row
  const uint8_t* data = nullptr;
  std::string name;

  int64_t rows() const { return ne[1] * ne[2] * ne[3]; }
  int64_t elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
  const uint8_t* Row(int64_t i1, int64_t i2 = 0) const { return data + i1 * nb[1] + i2 * nb[2]; }
  // The 2-D slice i2 of a 3-D tensor (an expert's matrix). Unnamed, so taking a slice in the
  // decode loop never allocates.
  TensorView Slice2(int64_t i2) const {
    TensorView v;
    v.type = type;
    v.layout = layout;
    for (int d = 0; d < 4; ++d) v.nb[d] = nb[d];
    v.ne[0] = ne[0];
    v.ne[1] = ne[1];
    v.data = data + i2 * nb[2];
    return v;
  }
};

}  // namespace gemrun
