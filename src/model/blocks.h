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
// Binds token_embd.weight ([n_embd, n_vocab]). It stays in file layout unless
// opts.repack_lm_head: even as the tied LM head, packing its 262k rows costs more load time
// than one LM head row per generated token gains.
Status BindTokenEmbedding(WeightBinder& b, int64_t n_embd, const LoadOptions& opts, TensorView* out);

struct AttentionOptions {
  bool v_norm = false;  // Gemma 4: V RMS-normalised without weight
};

// Sizes the common activation buffers of a workspace for max_rows rows.
void InitWorkspace(const ModelConfig& c, int64_t max_rows, Workspace& ws);

// Precomputes every row's RoPE cos/sin for the sliding and the global layer parameters
// (ws.pos must be set); rope_freqs are Gemma 4's proportional divisors or nullptr.
void PrepareRope(const ModelConfig& c, const float* rope_freqs, int64_t rows, Workspace& ws);

// Attention sub-layer: ws.x[rows][E] (residual, read) -> ws.proj[rows][E] =
// post_norm(Wo · attn(...)). Appends this layer's K/V (if it owns a cache) to each sequence's
// cache at its n_past; each sequence attends only to its own cache.
void AttentionBlock(const ModelConfig& c, int il, const AttentionWeights& w,
                    const AttentionOptions& opt, std::span<const SeqBatch> seqs, Workspace& ws,
                    ThreadPool& pool);

// GeGLU MLP: in[rows][E] -> out[rows][E] = Wdown · (gelu(Wgate · in) ⊙ (Wup · in)). No norms.
void GegluMlp(const ModelConfig& c, const TensorView& gate, const TensorView& up,
              const TensorView& down, int64_t n_ff, const float* in, float* out, int64_t rows,
              Workspace& ws, ThreadPool& pool);

// Final norm + LM head (+ soft-cap) for the rows that need logits, in sequence order.
void OutputLogits(const ModelConfig& c, const std::vector<float>& output_norm,
                  const TensorView& lm_head, std::span<const SeqBatch> seqs, Workspace& ws,
                  float* logits, ThreadPool& pool);

// Advances every sequence's n_past past its batch (after a successful call).
void AdvanceCaches(std::span<const SeqBatch> seqs);

}  // namespace gemrun
