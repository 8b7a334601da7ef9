// TensorView: a non-owning, typed view of tensor bytes (usually inside the mmapped file).
#pragma once

#include <cstdint>
#include <string>

#include "tensor/dtype.h"

namespace gemrun {

struct TensorView {
  DType type = DType::kF32;
  int64_t ne[4] = {1, 1, 1, 1};  // ne[0] contiguous (elements per row)
  int64_t nb[4] = {0, 0, 0, 0};  // byte strides; nb[1] = bytes per row
  const uint8_t* data = nullptr;
  std::string name;

  int64_t rows() const { return ne[1] * ne[2] * ne[3]; }
  int64_t elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
  const uint8_t* Row(int64_t i1, int64_t i2 = 0) const { return data + i1 * nb[1] + i2 * nb[2]; }
  // The 2-D slice i2 of a 3-D tensor (an expert's matrix).
  TensorView Slice2(int64_t i2) const {
    TensorView v = *this;
    v.data = data + i2 * nb[2];
    v.ne[2] = v.ne[3] = 1;
    return v;
  }
};

}  // namespace gemrun
