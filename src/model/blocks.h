// Decoder building blocks shared by the Gemma 3 and Gemma 4 forward passes.
#pragma once

#include <vector>

#include "kernels/tensor_view.h"
#include "model/config.h"
#include "model/model.h"
#include "model/weights.h"

namespace gemrun {

struct AttentionWeights {
  std::vector<float> attn_norm, q_norm, k_norm, post_norm;  // [E], [D], [D], [E]
  TensorView wq, wk, wv, wo;  // wv.data == nullptr: V comes from the K projection (Gemma 4)
};

struct FfnWeights {
  std::vector<float> norm, post_norm;  // [E]
  TensorView gate, up, down;           // [E, F], [E, F], [F, E]
};

// Binds blk.{il}.attn_* for a layer with the given config (needs_kv: bind K/V too).
Status BindAttention(WeightBinder& b, const ModelConfig& c, int il, bool v_optional, AttentionWeights* w);
// Binds the GeGLU MLP with the given tensor names' prefix (e.g. "blk.3.ffn_") and width F.
Status BindFfn(WeightBinder& b, const ModelConfig& c, int il, int64_t n_ff, FfnWeights* w);

struct AttentionOptions {
  bool v_norm = false;  // Gemma 4: V RMS-normalised without weight
  const float* rope_freqs = nullptr;  // divisors for proportional RoPE, or nullptr
  bool non_causal = false;            // image block: positions of the batch see each other
};

// Attention sub-layer: x[T][E] (residual, read) -> st.proj[T][E] = post_norm(Wo · attn(...)).
// Appends this layer's K/V (if it owns a cache) at positions st.n_past...
void AttentionBlock(const ModelConfig& c, int il, const AttentionWeights& w,
                    const AttentionOptions& opt, const float* x, int64_t T, ForwardState& st,
                    ThreadPool& pool);

// GeGLU MLP: in[T][E] -> out[T][E] = Wdown · (gelu(Wgate · in) ⊙ (Wup · in)). No norms.
void GegluMlp(const ModelConfig& c, const TensorView& gate, const TensorView& up,
              const TensorView& down, int64_t n_ff, const float* in, float* out, int64_t T,
              ForwardState& st, ThreadPool& pool);

// Allocates the common parts of a state (activations, KV caches for owner layers).
StatusOr<std::unique_ptr<ForwardState>> NewCommonState(const ModelConfig& c, int64_t n_ctx, int64_t max_batch,
                                                       DType kv_type);

// Final norm + LM head (+ soft-cap) for the rows that need logits.
void OutputLogits(const ModelConfig& c, const std::vector<float>& output_norm,
                  const TensorView& lm_head, ForwardState& st, int64_t T, LogitsMode mode,
                  float* logits, ThreadPool& pool);

}  // namespace gemrun
