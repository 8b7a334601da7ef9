// Scalar reference ("ground truth") for every tensor type: dequantize a row, quantize an
// activation row into a weight's vec_dot format, and the matching dot product. The SIMD
// kernels in kernels/cpu are tested against these.
#pragma once

#include <cstdint>

#include "tensor/dtype.h"

namespace gemrun {

// Dequantizes n elements (n a multiple of the block size) of type t to f32, exactly as
// llama.cpp's dequantize_row_* (f32 arithmetic, same expression order).
// Valid for every type with Traits(t).weight_ok, plus Q8_1 and Q8_K.
void DequantizeRowRef(DType t, const void* src, float* dst, int64_t n);

// Converts an activation row to format `fmt` (one of F32, F16, BF16, Q8_0, Q8_1, Q8_K),
// as llama.cpp's from_float for that type: Q8_0/Q8_1 round-to-nearest-even of x*127/amax
// with half d; Q8_K per spec (sign-flipped iscale, f32 d, bsums). n multiple of block size.
void QuantizeActRowRef(DType fmt, const float* x, void* dst, int64_t n);

// Dot product of n elements: weight row `w` of type `wt` with activation row `a` already in
// Traits(wt).vec_dot format. Integer block sums are exact; float accumulation in f32.
float VecDotRef(DType wt, int64_t n, const void* w, const void* a);

// Weight-side quantizer for tests and fixtures only (never on a serving path): a simple
// max-abs / min-max quantizer producing valid blocks whose dequantization is close to x.
// It does NOT reproduce llama.cpp's scale search, so its bytes differ from llama-quantize.
// Types: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K,
// IQ4_NL, IQ4_XS. n multiple of the block size; dst holds RowBytes(t, n) bytes.
void QuantizeWeightRowRef(DType t, const float* x, void* dst, int64_t n);

}  // namespace gemrun
