// Weight quantizers byte-identical to ggml's reference quantizers (what llama-quantize runs
// without an importance matrix); used by convert/ to write GGUF files.
#pragma once

#include <cstdint>

#include "tensor/dtype.h"

namespace gemrun {

// True for the types QuantizeRowsGgml writes: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0,
// Q4_K, Q5_K, Q6_K.
bool HasGgmlQuantizer(DType t);

// Quantizes n contiguous elements (whole rows; n a multiple of the block size) to type t,
// byte-identical to ggml's reference quantizer (quantize_row_*_ref, which llama-quantize uses
// without an importance matrix). Blocks are independent, so any split of the rows gives the
// same bytes. dst holds RowBytes(t, n) bytes. Thread-safe (no shared state).
void QuantizeRowsGgml(DType t, const float* x, void* dst, int64_t n);

}  // namespace gemrun
