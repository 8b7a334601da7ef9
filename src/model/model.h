// Model: the architecture-neutral interface the engine drives, and the registry that picks
// an implementation from `general.architecture`.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "gguf/gguf.h"
#include "kernels/attention.h"
#include "kernels/kernels.h"
#include "model/config.h"
#include "threading/thread_pool.h"

namespace gemrun {

// Per-sequence state: KV cache, preallocated activations and the number of cached positions.
// Allocated once from the config, the context size and the maximum batch.
struct ForwardState {
  int64_t n_ctx = 0;      // positions the KV cache can hold
  int64_t max_batch = 0;  // tokens per Forward call
  int64_t n_past = 0;     // positions already in the cache
  // KV cache per layer (empty for layers that read another layer's cache): K
  // [n_ctx][n_head_kv * head_dim] and V transposed [n_head_kv][head_dim][n_ctx], F16 or F32.
  std::vector<kernels::KvLayout> kv_layout;
  std::vector<std::vector<uint8_t>> k, v;
  // Activations, each [max_batch][width].
  std::vector<float> x, xn, q, kx, vx, attn, proj, gate, up;
  std::vector<float> extra;        // architecture-specific scratch
  kernels::AttentionScratch attn_scratch;
  std::vector<float> out_rows;     // [max_batch][n_embd] rows that need logits
  kernels::MatMulScratch mm;

  uint64_t KvBytes() const;
};

enum class LogitsMode { kAll, kLast, kNone };

// One forward call's input: token ids, or precomputed embedding rows (image soft tokens,
// [n][n_embd], not scaled by sqrt(n_embd)); `non_causal` lets the batch's positions see each
// other (image blocks), while the sliding-window rule still applies to earlier keys.
struct Batch {
  std::span<const int32_t> tokens;
  const float* embd = nullptr;
  int64_t n_embd_rows = 0;
  bool non_causal = false;

  int64_t size() const { return embd ? n_embd_rows : static_cast<int64_t>(tokens.size()); }
};

class Model {
 public:
  virtual ~Model() = default;
  const ModelConfig& config() const { return config_; }
  const GgufFile& file() const { return *file_; }

  // Allocates a state for n_ctx positions and batches of up to max_batch tokens, with the KV
  // cache in `kv_type` (F16: half the memory, llama.cpp's default; F32: golden parity).
  virtual StatusOr<std::unique_ptr<ForwardState>> NewState(int64_t n_ctx, int64_t max_batch,
                                                           DType kv_type = DType::kF16) const = 0;

  // Evaluates `tokens` (at most max_batch) at positions st.n_past.., appending to the KV
  // cache. Writes logits [n_out][n_vocab] to `logits` (n_out = T for kAll, 1 for kLast).
  // Ids out of range or a full context are errors, reported before any state changes.
  virtual Status Forward(const Batch& batch, ForwardState& st, LogitsMode mode, float* logits,
                         ThreadPool& pool) const = 0;
  Status Forward(std::span<const int32_t> tokens, ForwardState& st, LogitsMode mode, float* logits,
                 ThreadPool& pool) const {
    return Forward(Batch{.tokens = tokens}, st, mode, logits, pool);
  }

 protected:
  std::unique_ptr<GgufFile> file_;
  ModelConfig config_;
};

// Opens a GGUF file and builds the model for its architecture. Unknown architectures,
// missing or mis-shaped tensors and unsupported types are errors naming the culprit.
StatusOr<std::unique_ptr<Model>> LoadModel(const std::string& path);

// Checks a batch before it touches the state: ids in range, room in the context.
Status ValidateBatch(const ModelConfig& c, const Batch& b, const ForwardState& st);

// Fills st.x[T][E] with the batch's input rows: scaled token embeddings or the given rows.
void EmbedInput(const ModelConfig& c, const TensorView& tok_embd, const Batch& b, ForwardState& st);

}  // namespace gemrun
