// The op interface the model calls. Kernels never know the model; the model never sees SIMD.
// Every op has a scalar twin (kernels/ref) and takes the thread pool explicitly.
#pragma once

#include <cstdint>
#include <vector>

#include "base/buffer.h"
#include "kernels/tensor_view.h"
#include "threading/thread_pool.h"

namespace gemrun::kernels {

// Scratch bytes for activation conversion; grows on first use, then reused (no allocation
// in the steady-state decode loop).
struct MatMulScratch {
  Buffer<uint8_t> act;  // [T][RowBytes(vec_dot, K)], untouched until used
  Buffer<float> act_d;      // kRows16 weights: per-block activation scales (BlockSumsFn)
  Buffer<int32_t> act_sum;  // and code sums
};

// y[t][o] = sum_k W[o][k] * x[t][k] for t < T, o < N, where W is a 2-D weight view
// ([K, N] in GGUF order: N rows of K elements) and x is [T][ldx] floats (first K used).
// Activations are converted once per row to the weight's vec_dot format (Q8_0/Q8_1/Q8_K/
// F16/BF16/F32) exactly as llama.cpp does. y is [T][ldy]. Deterministic for a thread count.
void MatMul(const TensorView& w, const float* x, int64_t T, int64_t ldx, float* y, int64_t ldy,
            ThreadPool& pool, MatMulScratch& scratch);

// Either weight layout (kernels/repack.h) is accepted.
//
// Dequantizes row i of a 2-D tensor to f32 (embedding lookup: exact, no activation rounding).
void GetRow(const TensorView& w, int64_t i, float* dst);

}  // namespace gemrun::kernels
