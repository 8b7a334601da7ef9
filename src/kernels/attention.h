// Attention over a KV cache, built on the MatMul tiles: scores = K·q and out = Vᵀ·p per KV
// head, so every ISA's F32/F16 dot kernels serve attention too. With an F16 cache this is
// llama.cpp's non-flash CPU arithmetic (q and p rounded to F16, f32 accumulation).
#pragma once

#include <cstdint>
#include <vector>

#include "base/buffer.h"
#include "kernels/kernels.h"
#include "tensor/dtype.h"
#include "threading/thread_pool.h"

namespace gemrun::kernels {

// One layer's cache: K [capacity][n_head_kv * D] and V transposed [n_head_kv][D][capacity].
// `type` F32 or F16: both K and V; Q8_0: K in Q8_0 rows (blocks never straddle heads: D is a
// multiple of 32) and V in F16, as llama.cpp's q8_0 K cache without flash attention. Position
// p lives in slot p % capacity: global layers have capacity = n_ctx; sliding-window layers only
// need window + batch slots (a ring).
struct KvLayout {
  DType type = DType::kF32;
  int n_head_kv = 0;
  int head_dim = 0;
  int64_t capacity = 0;

  DType KType() const { return type; }
  DType VType() const { return type == DType::kQ8_0 ? DType::kF16 : type; }
  int64_t KRowBytes() const { return RowBytes(KType(), int64_t{n_head_kv} * head_dim); }
  int64_t VElemBytes() const { return VType() == DType::kF16 ? 2 : 4; }
  int64_t KBytes() const { return capacity * KRowBytes(); }
  int64_t VBytes() const { return capacity * n_head_kv * head_dim * VElemBytes(); }
};

// Writes T new rows kx/vx ([T][n_head_kv * D] f32) at positions pos0.. into the cache.
void StoreKv(const KvLayout& l, uint8_t* k, uint8_t* v, const float* kx, const float* vx,
             int64_t pos0, int64_t T);

struct AttentionArgs {
  int n_head = 0;
  int64_t window = 0;  // > 0: keys with pos_q - pos_k >= window are masked
  bool causal = true;  // false: the batch's queries also see the batch's later keys
  bool flash = false;  // the fused kernel (FlashAttentionKv) instead of scores + softmax + PV
};

// Per-thread tiles of the fused kernel.
struct FlashScratch {
  Buffer<uint8_t> qa, pa;       // queries / probabilities in the K / V dot formats
  Buffer<uint8_t> vt;           // one key block of V^T, contiguous
  Buffer<float> s, o, tmp, m, l;  // scores, output, P·V of a block, running max and sum
};

struct AttentionScratch {
  Buffer<float> q, scores, out, out2;  // gathered queries, scores, outputs of one KV head
  MatMulScratch mm;
  std::vector<FlashScratch> flash;  // one per pool worker
  Buffer<float> partial;            // the fused kernel's per-split results (decoding)
};

// q [T][n_head][D] (already scaled) at positions pos0.. -> out [T][n_head][D]. Query head h
// reads KV head h / (n_head / n_head_kv). Keys up to pos0 + T - 1 must be in the cache, and
// every key the batch can see must still be in its slot (window + T - 1 <= capacity).
// With a.flash, runs FlashAttentionKv.
void AttentionKv(const KvLayout& l, const AttentionArgs& a, const float* q, int64_t T,
                 int64_t pos0, const uint8_t* k, const uint8_t* v, float* out,
                 AttentionScratch& scratch, ThreadPool& pool);

// The same attention, fused (flash-style): per (KV head, query block, key split) task, key
// blocks of 256 go through scores, an online softmax and P·V without leaving a per-thread
// tile. Same inputs, outputs and numerics up to f32 rounding (probabilities rounded to F16
// for an F16 V). Measured on Zen 5 it is 0-15% slower than AttentionKv's default path at
// 8-16k contexts (V is cached transposed, as that path wants it), so it is opt-in.
void FlashAttentionKv(const KvLayout& l, const AttentionArgs& a, const float* q, int64_t T,
                      int64_t pos0, const uint8_t* k, const uint8_t* v, float* out,
                      AttentionScratch& scratch, ThreadPool& pool);

}  // namespace gemrun::kernels
