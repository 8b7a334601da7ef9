// Model: the architecture-neutral interface the engine drives, and the registry that picks
// an implementation from `general.architecture`.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/buffer.h"
#include "base/status.h"
#include "gguf/gguf.h"
#include "kernels/attention.h"
#include "kernels/kernels.h"
#include "kernels/repack.h"
#include "model/config.h"
#include "threading/thread_pool.h"

namespace gemrun {

// One sequence's KV cache: per layer (empty for layers that read another layer's cache) K
// and V transposed, F16 or F32, in `layout[il].capacity` slots (position p in slot p % capacity:
// n_ctx for global layers, a ring of window + max_batch for sliding-window layers).
struct KvCache {
  int64_t n_ctx = 0;
  int64_t n_past = 0;
  int64_t max_batch = 0;   // tokens one call may append (the rings are sized for it)
  int64_t max_rewind = 0;  // how far n_past may be moved back with the window still intact
  std::vector<kernels::KvLayout> layout;
  std::vector<Buffer<uint8_t>> k, v;  // untouched until written (RSS grows with use)

  uint64_t Bytes() const;
  // Moves n_past back to `n` (prefix reuse). Returns false, and empties the cache, when the
  // sliding-window rings no longer hold the keys position n would need.
  bool Rewind(int64_t n);
};

// Activations for up to max_rows rows of one Forward call (all sequences together),
// allocated once; architectures extend it with their own buffers.
struct Workspace {
  virtual ~Workspace() = default;
  int64_t max_rows = 0;
  Buffer<float> x, xn, q, kx, vx, attn, proj, gate, up;  // [max_rows][width]
  Buffer<float> out_rows;     // [max_rows][n_embd] rows that need logits
  Buffer<int64_t> pos;        // [max_rows] position of each row
  Buffer<float> rope_cs[2];   // [max_rows][n_rot] cos/sin per row: sliding, global
  kernels::AttentionScratch attn_scratch;
  kernels::MatMulScratch mm;
  bool flash_attn = false;  // the fused attention kernel (kernels::FlashAttentionKv)
};

// Single-sequence convenience: a cache plus a workspace for batches of up to max_batch.
struct ForwardState {
  std::unique_ptr<KvCache> kv;
  std::unique_ptr<Workspace> ws;
};

enum class LogitsMode { kAll, kLast, kNone };

// One forward call's input: token ids, or precomputed embedding rows (image soft tokens,
// [n][n_embd], not scaled by sqrt(n_embd)); `non_causal` lets the batch's positions see each
// other (image blocks), while the sliding-window rule still applies to earlier keys;
// `global_causal` keeps that to the sliding-window layers (full-attention layers stay causal:
// the Gemma 4 reference for models with use_bidirectional_attention = "vision").
struct Batch {
  std::span<const int32_t> tokens;
  const float* embd = nullptr;
  int64_t n_embd_rows = 0;
  bool non_causal = false;
  bool global_causal = false;

  int64_t size() const { return embd ? n_embd_rows : static_cast<int64_t>(tokens.size()); }
};

// One sequence's share of a Forward call.
struct SeqBatch {
  Batch batch;
  KvCache* kv = nullptr;
  LogitsMode mode = LogitsMode::kLast;
};

class Model {
 public:
  virtual ~Model() = default;
  const ModelConfig& config() const { return config_; }
  const GgufFile& file() const { return *file_; }
  // Bytes of weights copied into the kRows16 layout at load (0: all in the file layout).
  size_t packed_bytes() const { return packed_.bytes(); }

  // A KV cache for n_ctx positions in `kv_type` (F16: half the memory, llama.cpp's default;
  // Q8_0: K in Q8_0 and V in F16, about a quarter less again;
  // F32: golden parity), taking batches of up to max_batch tokens.
  StatusOr<std::unique_ptr<KvCache>> NewKvCache(int64_t n_ctx, DType kv_type = DType::kF16,
                                                int64_t max_batch = 512) const;
  // Bytes NewKvCache would allocate (a double: a huge n_ctx must not overflow), and a rough
  // upper estimate of one workspace's activations; for up-front memory checks.
  double KvCacheBytes(int64_t n_ctx, DType kv_type, int64_t max_batch) const;
  double WorkspaceBytesEstimate(int64_t max_rows, int64_t n_ctx) const;
  // Activation buffers for Forward calls of up to max_rows rows in total.
  virtual std::unique_ptr<Workspace> NewWorkspace(int64_t max_rows) const = 0;

  // Evaluates every sequence's batch in one pass (matrix products shared, attention per
  // sequence), appending to each KV cache at its n_past. Writes logits [n_out][n_vocab] in
  // sequence order (n_out per sequence: its batch size for kAll, 1 for kLast, 0 for kNone).
  // Bad ids, full contexts or too many rows are reported before any state changes.
  virtual Status Forward(std::span<const SeqBatch> seqs, Workspace& ws, float* logits,
                         ThreadPool& pool) const = 0;

  // Single-sequence conveniences.
  StatusOr<std::unique_ptr<ForwardState>> NewState(int64_t n_ctx, int64_t max_batch,
                                                   DType kv_type = DType::kF16) const;
  Status Forward(const Batch& batch, KvCache& kv, Workspace& ws, LogitsMode mode, float* logits,
                 ThreadPool& pool) const {
    const SeqBatch one{batch, &kv, mode};
    return Forward(std::span<const SeqBatch>(&one, 1), ws, logits, pool);
  }
  Status Forward(const Batch& batch, ForwardState& st, LogitsMode mode, float* logits,
                 ThreadPool& pool) const {
    return Forward(batch, *st.kv, *st.ws, mode, logits, pool);
  }
  Status Forward(std::span<const int32_t> tokens, ForwardState& st, LogitsMode mode, float* logits,
                 ThreadPool& pool) const {
    return Forward(Batch{.tokens = tokens}, st, mode, logits, pool);
  }

 protected:
  std::unique_ptr<GgufFile> file_;
  kernels::PackedWeights packed_;  // row-interleaved copies of packable matrices
  ModelConfig config_;
};

struct LoadOptions {
  // Also repack the token embedding table when it doubles as the LM head. Off by default:
  // it costs load time (time to first token); worth it when many sequences decode together
  // (the server), where the LM head dominates a step.
  bool repack_lm_head = false;
};

// Opens a GGUF file and builds the model for its architecture. Unknown architectures,
// missing or mis-shaped tensors and unsupported types are errors naming the culprit.
StatusOr<std::unique_ptr<Model>> LoadModel(const std::string& path, const LoadOptions& opts = {});

// Checks a call before it touches any state: ids in range, room in each context, rows
// within the workspace, no cache used twice.
Status ValidateSeqs(const ModelConfig& c, std::span<const SeqBatch> seqs, const Workspace& ws);

// Total rows of a call, and logits rows it produces.
int64_t TotalRows(std::span<const SeqBatch> seqs);

// Fills ws.x[rows][E] with every sequence's input rows (scaled token embeddings or the given
// embedding rows) and ws.pos with their positions.
void EmbedInput(const ModelConfig& c, const TensorView& tok_embd, std::span<const SeqBatch> seqs, Workspace& ws);

}  // namespace gemrun
