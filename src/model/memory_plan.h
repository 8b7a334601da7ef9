// Memory planning: what running a model costs in RAM for a context, from its config and
// tensor table alone (no weight read, so it works on a header fetched over HTTP). The
// allocating code takes its sizes from here (NewKvCache: PlanKvLayout; NewWorkspace:
// PlanWorkspace), so `gemrun fit`, the start-up check of run / serve and the real allocation
// cannot drift apart; model_memory_plan_test checks that they agree byte for byte.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "kernels/attention.h"
#include "model/config.h"
#include "tensor/dtype.h"

namespace gemrun {

class GgufFile;

// Layer il's KV cache shape. A sliding layer's batch sees window - 1 older keys plus its own
// max_batch, so it keeps a ring of window + max_batch slots when that is smaller than n_ctx;
// full-attention layers keep n_ctx slots. (Layers that read another layer's cache own none:
// ModelConfig::owns_kv.)
kernels::KvLayout PlanKvLayout(const ModelConfig& c, int il, int64_t n_ctx, DType kv_type, int64_t max_batch);

// Elements of each activation buffer of a workspace for max_rows rows (all float unless noted).
struct WorkspaceSizes {
  int64_t x = 0, xn = 0, proj = 0, out_rows = 0;  // [B][E]
  int64_t q = 0, attn = 0;                         // [B][n_head * max D]
  int64_t kx = 0, vx = 0;                          // [B][max n_head_kv * D]
  int64_t gate = 0, up = 0;                        // [B][max F]
  int64_t pos = 0;                                 // [B] int64
  int64_t rope_cs = 0;                             // [B][max D], one per table (2)
  // Gemma 4 extras.
  int64_t per_layer = 0, ple_tmp = 0;              // [B][L * P]
  int64_t moe_out = 0, moe_in = 0, moe_y = 0;      // [B][E]
  int64_t gate_up = 0, moe_h = 0, router = 0;      // [B][2 F_exp], [B][F_exp], [B][n_expert]
  int64_t sel = 0, sel_w = 0;                      // [B][k] int32, float
  int64_t contrib = 0;                             // [B][k][E]
  int64_t order = 0;                               // [n_expert] int32
  double Bytes() const;
};
WorkspaceSizes PlanWorkspace(const ModelConfig& c, int64_t max_rows);

struct MemoryPlanOptions {
  int64_t n_ctx = 4096;
  int n_seqs = 1;             // sequences with their own KV cache (serve --parallel)
  DType kv_type = DType::kF16;
  int64_t max_batch = 512;    // prompt tokens per forward pass
};

// The KV cache of one kind of layer, per sequence.
struct KvGroup {
  std::string kind;   // "sliding-window", "full-attention", "shared (reads an earlier layer)"
  int n_layers = 0;
  int64_t slots = 0;  // positions each layer keeps (0: owns no cache)
  double bytes = 0;   // all n_layers together, one sequence
};

// The KV cache of one sequence by kind of layer (the order: sliding, full, shared), sized as
// NewKvCache sizes it (max_batch is clamped to [1, n_ctx] the same way).
std::vector<KvGroup> PlanKvGroups(const ModelConfig& c, int64_t n_ctx, DType kv_type, int64_t max_batch);

struct MemoryPlan {
  double file_bytes = 0;          // the GGUF file, mmapped
  double lookup_bytes = 0;        // of which tables read one row per token (per-layer embeddings,
                                  // an untied token embedding): mapped, mostly never resident
  double weights_resident = 0;    // file_bytes - lookup_bytes
  std::vector<KvGroup> kv_groups; // per sequence
  double kv_bytes = 0;            // all sequences
  double activation_bytes = 0;    // workspaces (PlanWorkspace) and logits rows
  double scratch_bytes = 0;       // kernel scratch sized on first use (activation quantization,
                                  // attention scores): an estimate
  double runtime_bytes = 0;       // tokenizer tables, code, thread stacks: an estimate
  double projector_bytes = 0;     // --mmproj file, when given
  double decode_stream_bytes = 0; // bytes one decode step reads at a full context (weights used
                                  // per token + the KV cache): what bounds tokens/s
  double Total() const {
    return weights_resident + kv_bytes + activation_bytes + scratch_bytes + runtime_bytes + projector_bytes;
  }
  // Beyond the weights: what run / serve allocate (the part a smaller -c or --parallel changes).
  double Allocated() const { return kv_bytes + activation_bytes + scratch_bytes; }
};

// Reads the config of a GGUF text model from its metadata and tensor table (no tensor data).
// Same errors as LoadModel for unknown architectures and bad metadata.
StatusOr<ModelConfig> ReadModelConfig(const GgufFile& f);

// The plan for `f` (its config `c` from ReadModelConfig) under `o`. InvalidArgument for a
// context, batch or KV type the engine would refuse.
StatusOr<MemoryPlan> PlanMemory(const GgufFile& f, const ModelConfig& c, const MemoryPlanOptions& o);

}  // namespace gemrun
