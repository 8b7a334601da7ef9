// Gemma 3 (arch "gemma3"): config from metadata with llama.cpp's defaults, weight binding,
// and the forward pass of spec/gemma3.md §5.
#include <cmath>
#include <cstring>

#include "kernels/kernels.h"
#include "kernels/ops.h"
#include "model/blocks.h"
#include "model/model.h"

namespace gemrun {
namespace {

constexpr int kDefaultSwaPeriod = 6;

}  // namespace

// Also the header-only config reader of ReadModelConfig (registry.cc).
StatusOr<ModelConfig> LoadGemma3Config(const GgufFile& f) {
  ModelConfig c;
  c.arch = Arch::kGemma3;
  c.arch_name = "gemma3";
  const std::string p = "gemma3.";
  ASSIGN_OR_RETURN(c.n_embd, f.GetInt(p + "embedding_length"));
  ASSIGN_OR_RETURN(c.n_layer, f.GetInt(p + "block_count"));
  ASSIGN_OR_RETURN(c.n_ctx_train, f.GetIntOr(p + "context_length", 8192));
  if (c.n_embd <= 0 || c.n_layer <= 0 || c.n_layer > 4096 || c.n_embd > (1 << 20))
    return InvalidModelError(f.path() + ": implausible embedding_length " + std::to_string(c.n_embd) +
                                " / block_count " + std::to_string(c.n_layer));
  ASSIGN_OR_RETURN(auto n_head, f.GetPerLayerInt(p + "attention.head_count", c.n_layer));
  ASSIGN_OR_RETURN(auto n_head_kv, f.Has(p + "attention.head_count_kv")
                                       ? f.GetPerLayerInt(p + "attention.head_count_kv", c.n_layer)
                                       : StatusOr<std::vector<int64_t>>(n_head));
  ASSIGN_OR_RETURN(auto n_ff, f.GetPerLayerInt(p + "feed_forward_length", c.n_layer));
  c.n_head = static_cast<int>(n_head[0]);
  for (auto h : n_head)
    if (h != c.n_head) return UnimplementedError(f.path() + ": per-layer head_count is not supported for gemma3");
  ASSIGN_OR_RETURN(int64_t head_dim, f.GetIntOr(p + "attention.key_length", c.n_head > 0 ? c.n_embd / c.n_head : 0));
  ASSIGN_OR_RETURN(int64_t v_dim, f.GetIntOr(p + "attention.value_length", head_dim));
  if (v_dim != head_dim)
    return UnimplementedError(f.path() + ": key_length " + std::to_string(head_dim) + " != value_length " + std::to_string(v_dim));
  ASSIGN_OR_RETURN(double eps, f.GetFloat(p + "attention.layer_norm_rms_epsilon"));
  ASSIGN_OR_RETURN(c.window, f.GetIntOr(p + "attention.sliding_window", 0));
  int64_t period = kDefaultSwaPeriod;
  if (const GgufValue* v = f.Find(p + "attention.sliding_window_pattern"); v && v->type != GgufType::kArray) {
    ASSIGN_OR_RETURN(period, f.GetInt(p + "attention.sliding_window_pattern"));  // arrays: llama.cpp ignores
  }
  ASSIGN_OR_RETURN(double base, f.GetFloatOr(p + "rope.freq_base", 10000.0));
  ASSIGN_OR_RETURN(double base_swa, f.GetFloatOr(p + "rope.freq_base_swa", 10000.0));
  ASSIGN_OR_RETURN(double factor, f.GetFloatOr(p + "rope.scaling.factor", 0.0));
  if (factor == 0.0) {
    ASSIGN_OR_RETURN(factor, f.GetFloatOr(p + "rope.scale_linear", 0.0));
  }
  ASSIGN_OR_RETURN(std::string scaling, f.GetStringOr(p + "rope.scaling.type", "linear"));
  if (scaling != "linear" && scaling != "none")
    return UnimplementedError(f.path() + ": rope.scaling.type '" + scaling + "' is not supported for gemma3 (linear only)");
  ASSIGN_OR_RETURN(int64_t n_rot, f.GetIntOr(p + "rope.dimension_count", head_dim));
  ASSIGN_OR_RETURN(double softcap, f.GetFloatOr(p + "final_logit_softcapping", 0.0));

  if (c.n_head <= 0 || head_dim <= 0 || head_dim > 4096 || n_rot <= 0 || n_rot > head_dim || n_rot % 2 || period <= 0)
    return InvalidModelError(f.path() + ": implausible attention shape (head_count " + std::to_string(c.n_head) +
                                ", key_length " + std::to_string(head_dim) + ", rope dims " + std::to_string(n_rot) + ")");
  c.eps = static_cast<float>(eps);
  c.final_softcap = static_cast<float>(softcap);
  c.embd_scale = std::sqrt(static_cast<float>(c.n_embd));
  // HF's query_pre_attn_scalar is not in the file: llama.cpp uses n_embd/n_head for 27B.
  c.q_scale = c.n_layer == 62 ? 1.0f / std::sqrt(static_cast<float>(c.n_embd / c.n_head))
                              : 1.0f / std::sqrt(static_cast<float>(head_dim));
  const float freq_scale_global = factor > 0.0 ? static_cast<float>(1.0 / factor) : 1.0f;
  c.layers.resize(c.n_layer);
  for (int il = 0; il < c.n_layer; ++il) {
    LayerConfig& l = c.layers[il];
    l.sliding = c.window > 0 && (il % period) < period - 1;
    l.head_dim = static_cast<int>(head_dim);
    l.n_head_kv = static_cast<int>(n_head_kv[il]);
    if (l.n_head_kv <= 0 || c.n_head % l.n_head_kv != 0)
      return InvalidModelError(f.path() + ": head_count " + std::to_string(c.n_head) +
                                  " is not a multiple of head_count_kv " + std::to_string(l.n_head_kv));
    l.n_ff = n_ff[il];
    if (l.n_ff <= 0) return InvalidModelError(f.path() + ": feed_forward_length must be positive");
    l.n_rot = static_cast<int>(n_rot);
    l.rope_base = static_cast<float>(l.sliding ? base_swa : base);
    l.freq_scale = l.sliding ? 1.0f : freq_scale_global;
    l.kv_source = il;
  }
  return c;
}

namespace {

class Gemma3 final : public Model {
 public:
  static StatusOr<std::unique_ptr<Model>> Load(std::unique_ptr<GgufFile> f, const LoadOptions& opts);

  std::unique_ptr<Workspace> NewWorkspace(int64_t max_rows) const override {
    auto ws = std::make_unique<Workspace>();
    InitWorkspace(config_, max_rows, *ws);
    return ws;
  }
  using Model::Forward;
  Status Forward(std::span<const SeqBatch> seqs, Workspace& ws, float* logits, ThreadPool& pool) const override;

 private:
  struct Layer {
    AttentionWeights attn;
    FfnWeights ffn;
  };
  TensorView tok_embd_, output_;
  std::vector<float> output_norm_;
  std::vector<Layer> layers_;
};

StatusOr<std::unique_ptr<Model>> Gemma3::Load(std::unique_ptr<GgufFile> f, const LoadOptions& opts) {
  auto m = std::make_unique<Gemma3>();
  ASSIGN_OR_RETURN(m->config_, LoadGemma3Config(*f));
  ModelConfig& c = m->config_;
  WeightBinder b(*f, &m->packed_);
  RETURN_IF_ERROR(BindTokenEmbedding(b, c.n_embd, opts, &m->tok_embd_));
  c.n_vocab = m->tok_embd_.ne[1];
  RETURN_IF_ERROR(b.Matrix("output.weight", c.n_embd, c.n_vocab, &m->output_, /*required=*/false));
  if (!m->output_.data) m->output_ = m->tok_embd_;  // tied LM head
  RETURN_IF_ERROR(b.Vector("output_norm.weight", c.n_embd, &m->output_norm_));
  m->layers_.resize(c.n_layer);
  for (int il = 0; il < c.n_layer; ++il) {
    RETURN_IF_ERROR(BindAttention(b, c, il, /*v_optional=*/false, &m->layers_[il].attn));
    RETURN_IF_ERROR(BindFfn(b, c, il, c.layers[il].n_ff, &m->layers_[il].ffn));
  }
  m->file_ = std::move(f);
  return std::unique_ptr<Model>(std::move(m));
}

Status Gemma3::Forward(std::span<const SeqBatch> seqs, Workspace& ws, float* logits, ThreadPool& pool) const {
  const ModelConfig& c = config_;
  RETURN_IF_ERROR(ValidateSeqs(c, seqs, ws));
  const int64_t T = TotalRows(seqs), E = c.n_embd;
  float* x = ws.x.data();
  EmbedInput(c, tok_embd_, seqs, ws);
  PrepareRope(c, nullptr, T, ws);
  const AttentionOptions opt;
  for (int il = 0; il < c.n_layer; ++il) {
    const Layer& L = layers_[il];
    AttentionBlock(c, il, L.attn, opt, seqs, ws, pool);
    kernels::Add(x, ws.proj.data(), T * E, pool);
    kernels::RmsNorm(x, ws.xn.data(), L.ffn.norm.data(), T, E, c.eps, E, E, pool);
    GegluMlp(c, L.ffn.gate, L.ffn.up, L.ffn.down, c.layers[il].n_ff, ws.xn.data(), ws.proj.data(), T, ws, pool);
    kernels::RmsNorm(ws.proj.data(), ws.proj.data(), L.ffn.post_norm.data(), T, E, c.eps, E, E, pool);
    kernels::Add(x, ws.proj.data(), T * E, pool);
  }
  OutputLogits(c, output_norm_, output_, seqs, ws, logits, pool);
  AdvanceCaches(seqs);
  return OkStatus();
}

}  // namespace

StatusOr<std::unique_ptr<Model>> LoadGemma3(std::unique_ptr<GgufFile> f, const LoadOptions& opts) {
  return Gemma3::Load(std::move(f), opts);
}

}  // namespace gemrun
