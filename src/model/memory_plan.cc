// PlanKvLayout / PlanWorkspace / PlanMemory: the sizes the allocating code uses, and the
// estimate of everything else a running model holds.
#include "model/memory_plan.h"

#include <algorithm>

#include "gguf/gguf.h"
#include "model/model.h"

namespace gemrun {
namespace {

// Estimates for what no plan allocates, calibrated against measured peak RSS (docs/fit.md):
// the binary, libraries, thread stacks and malloc arenas, and per vocabulary entry the
// tokenizer's tables (strings, scores, trie, merge tables).
constexpr double kRuntimeBaseBytes = 24.0 * (1 << 20);
constexpr double kRuntimeBytesPerToken = 160.0;
// Attention scores are computed in chunks of at most this many floats (kernels/attention.cc
// kScoreBudget), plus their F16 copy for the V product.
constexpr double kScoreBudgetFloats = double(int64_t{1} << 22);

int64_t MaxQueryWidth(const ModelConfig& c) { return int64_t{c.n_head} * c.max_head_dim(); }

}  // namespace

kernels::KvLayout PlanKvLayout(const ModelConfig& c, int il, int64_t n_ctx, DType kv_type, int64_t max_batch) {
  const LayerConfig& l = c.layers[il];
  const int64_t ring = c.window + max_batch;
  const bool use_ring = l.sliding && c.window > 0 && ring < n_ctx;
  return kernels::KvLayout{kv_type, l.n_head_kv, l.head_dim, use_ring ? ring : n_ctx};
}

std::vector<KvGroup> PlanKvGroups(const ModelConfig& c, int64_t n_ctx, DType kv_type, int64_t max_batch) {
  max_batch = std::max<int64_t>(1, std::min(max_batch, n_ctx));
  KvGroup groups[3] = {{"sliding-window", 0, 0, 0}, {"full-attention", 0, 0, 0},
                       {"shared (reads an earlier layer's cache)", 0, 0, 0}};
  for (int il = 0; il < c.n_layer; ++il) {
    KvGroup& g = !c.owns_kv(il) ? groups[2] : c.layers[il].sliding ? groups[0] : groups[1];
    ++g.n_layers;
    if (!c.owns_kv(il)) continue;
    kernels::KvLayout l = PlanKvLayout(c, il, n_ctx, kv_type, max_batch);
    g.slots = std::max(g.slots, l.capacity);
    const double cap = static_cast<double>(l.capacity);  // in double: a huge -c must not overflow
    l.capacity = 1;
    g.bytes += cap * static_cast<double>(l.KBytes() + l.VBytes());
  }
  std::vector<KvGroup> out;
  for (const KvGroup& g : groups)
    if (g.n_layers > 0) out.push_back(g);
  return out;
}

WorkspaceSizes PlanWorkspace(const ModelConfig& c, int64_t max_rows) {
  const int64_t B = max_rows, E = c.n_embd, qw = MaxQueryWidth(c), kvw = c.max_kv_width();
  WorkspaceSizes w;
  w.x = w.xn = w.proj = w.out_rows = B * E;
  w.q = w.attn = B * qw;
  w.kx = w.vx = B * kvw;
  w.gate = w.up = B * c.max_ff();
  w.pos = B;
  w.rope_cs = B * c.max_head_dim();
  if (c.arch == Arch::kGemma4) {
    w.per_layer = w.ple_tmp = B * c.n_layer * c.n_embd_per_layer;
    if (c.n_expert > 0) {
      w.moe_out = w.moe_in = w.moe_y = B * E;
      w.gate_up = B * 2 * c.n_ff_exp;
      w.moe_h = B * c.n_ff_exp;
      w.router = B * c.n_expert;
      w.sel = w.sel_w = B * c.n_expert_used;
      w.contrib = B * c.n_expert_used * E;
      w.order = c.n_expert;
    }
  }
  return w;
}

double WorkspaceSizes::Bytes() const {
  const double floats = static_cast<double>(x + xn + proj + out_rows + q + attn + kx + vx + gate + up + 2 * rope_cs +
                                            per_layer + ple_tmp + moe_out + moe_in + moe_y + gate_up + moe_h + router +
                                            sel_w + contrib);
  return 4.0 * floats + 8.0 * static_cast<double>(pos) + 4.0 * static_cast<double>(sel + order);
}

namespace {

// Tables read one row per token: never resident as a whole. The token embedding is one only
// when a separate output.weight exists (otherwise it is the LM head, read every step).
bool IsLookupTable(const GgufFile& f, const GgufTensorInfo& t) {
  if (t.name == "per_layer_token_embd.weight") return true;
  return t.name == "token_embd.weight" && f.FindTensor("output.weight") != nullptr;
}

// Bytes of weights one decode step reads: every matrix but the lookup tables, experts by the
// fraction the router picks.
double DecodeWeightBytes(const GgufFile& f, const ModelConfig& c) {
  double b = 0;
  for (const auto& t : f.tensors()) {
    if (IsLookupTable(f, t)) continue;
    const bool experts = t.name.find("_exps.") != std::string::npos;
    b += static_cast<double>(t.nbytes) *
         (experts && c.n_expert > 0 ? static_cast<double>(c.n_expert_used) / c.n_expert : 1.0);
  }
  return b;
}

// Kernel scratch that grows on first use: one batch of activations quantized for the matrix
// products (Q8 rows, 34 bytes per 32 values, of the widest input), and the attention score
// chunk with its F16 copy.
double ScratchBytes(const ModelConfig& c, int64_t max_batch, int64_t n_ctx) {
  const int64_t max_k = std::max({c.n_embd, MaxQueryWidth(c), c.max_ff(), c.n_ff_exp});
  int group = 1;
  for (const LayerConfig& l : c.layers) group = std::max(group, c.n_head / std::max(1, l.n_head_kv));
  const double act = static_cast<double>(max_batch) * static_cast<double>(max_k) * 34.0 / 32.0;
  const double scores = std::min(kScoreBudgetFloats, 64.0 * group * static_cast<double>(n_ctx));
  return act + scores * (4.0 + 2.0);
}

}  // namespace

StatusOr<MemoryPlan> PlanMemory(const GgufFile& f, const ModelConfig& c, const MemoryPlanOptions& o) {
  if (o.n_ctx <= 0) return InvalidArgumentError("context size must be positive, got " + std::to_string(o.n_ctx));
  if (o.max_batch <= 0) return InvalidArgumentError("batch size must be positive, got " + std::to_string(o.max_batch));
  if (o.n_seqs <= 0) return InvalidArgumentError("number of sequences must be positive, got " + std::to_string(o.n_seqs));
  if (o.kv_type != DType::kF16 && o.kv_type != DType::kF32 && o.kv_type != DType::kQ8_0)
    return InvalidArgumentError("KV cache type must be f16, f32 or q8_0, got " + DTypeName(o.kv_type));
  const int64_t max_batch = std::min(o.max_batch, o.n_ctx);  // as Engine::Load clamps it
  MemoryPlan p;
  p.file_bytes = static_cast<double>(f.file_size());
  for (const auto& t : f.tensors())
    if (IsLookupTable(f, t)) p.lookup_bytes += static_cast<double>(t.nbytes);
  p.weights_resident = p.file_bytes - p.lookup_bytes;
  p.kv_groups = PlanKvGroups(c, o.n_ctx, o.kv_type, max_batch);
  double kv_one = 0;
  for (const KvGroup& g : p.kv_groups) kv_one += g.bytes;
  p.kv_bytes = kv_one * o.n_seqs;
  // Engine::Load sizes the check for one workspace of max_batch + n_seqs rows (a batched
  // decode step plus a prompt chunk); each sequence also keeps a logits row.
  p.activation_bytes = PlanWorkspace(c, max_batch + (o.n_seqs > 1 ? o.n_seqs : 0)).Bytes() +
                       4.0 * static_cast<double>(c.n_vocab) * o.n_seqs;
  p.scratch_bytes = ScratchBytes(c, max_batch, o.n_ctx);
  p.runtime_bytes = kRuntimeBaseBytes + kRuntimeBytesPerToken * static_cast<double>(c.n_vocab);
  p.decode_stream_bytes = DecodeWeightBytes(f, c) + kv_one;
  return p;
}

}  // namespace gemrun
