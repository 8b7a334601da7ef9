// Binding GGUF tensors to model fields with shape and type checks. Matrices stay in the
// mmap as TensorViews, or, given a PackedWeights, move to a row-interleaved copy when the
// CPU has a kernel for that (kernels/repack.h); small 1-D tensors (norms, scales) are
// dequantized to f32 once.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "gguf/gguf.h"
#include "kernels/repack.h"
#include "kernels/tensor_view.h"

namespace gemrun {

class WeightBinder {
 public:
  explicit WeightBinder(const GgufFile& f, kernels::PackedWeights* packed = nullptr) : f_(f), packed_(packed) {}

  // Binds `name` expecting shape [ne0, ne1(, ne2)] (-1 = any). A missing required tensor,
  // a wrong shape or an unsupported type is an error naming the tensor.
  Status Matrix(const std::string& name, int64_t ne0, int64_t ne1, TensorView* out,
                bool required = true, int64_t ne2 = 1);
  // The same, always in the file layout: for tables read row by row (GetRow), and for
  // matrices whose repacking would cost more load time than it saves.
  Status LookupTable(const std::string& name, int64_t ne0, int64_t ne1, TensorView* out);
  // Binds a 1-D tensor of n elements (any supported type), dequantized to f32.
  Status Vector(const std::string& name, int64_t n, std::vector<float>* out, bool required = true);
  bool Has(const std::string& name) const { return f_.FindTensor(name) != nullptr; }

 private:
  Status Bind(const std::string& name, int64_t ne0, int64_t ne1, TensorView* out, bool required, int64_t ne2,
              bool pack);

  const GgufFile& f_;
  kernels::PackedWeights* packed_;  // nullptr: keep every matrix in the file layout
};

}  // namespace gemrun
