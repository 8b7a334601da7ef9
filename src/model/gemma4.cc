// Gemma 4 (arch "gemma4"): E2B/E4B (per-layer embeddings, shared KV), 26B-A4B (MoE), 31B.
// Forward pass of spec/gemma4.md §5 on the shared decoder blocks.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "kernels/kernels.h"
#include "kernels/ops.h"
#include "model/blocks.h"
#include "model/memory_plan.h"
#include "model/model.h"

namespace gemrun {
namespace {

constexpr float kDefaultSoftcap = 30.0f;  // llama.cpp's default when the key is absent
constexpr float kMinRouterWeightSum = 6.103515625e-5f;
constexpr int32_t kPadToken = 0;  // per-layer embedding row used for image positions

// KV owner for a shared layer: the last layer before n_kv of the same attention type (HF).
// llama.cpp hard-codes n_kv-1 (global) / n_kv-2 (local); we warn when they differ.
int KvSource(const std::vector<LayerConfig>& ls, int il, int n_kv) {
  for (int j = n_kv - 1; j >= 0; --j)
    if (ls[j].sliding == ls[il].sliding) return j;
  return -1;
}

}  // namespace

// Also the header-only config reader of ReadModelConfig (registry.cc).
StatusOr<ModelConfig> LoadGemma4Config(const GgufFile& f) {
  ModelConfig c;
  c.arch = Arch::kGemma4;
  c.arch_name = "gemma4";
  const std::string p = "gemma4.";
  const std::string& path = f.path();
  ASSIGN_OR_RETURN(c.n_embd, f.GetInt(p + "embedding_length"));
  ASSIGN_OR_RETURN(c.n_layer, f.GetInt(p + "block_count"));
  ASSIGN_OR_RETURN(c.n_ctx_train, f.GetIntOr(p + "context_length", 8192));
  if (c.n_embd <= 0 || c.n_layer <= 0 || c.n_layer > 4096 || c.n_embd > (1 << 20))
    return InvalidModelError(path + ": implausible embedding_length " + std::to_string(c.n_embd) +
                                " / block_count " + std::to_string(c.n_layer));
  const int L = static_cast<int>(c.n_layer);
  ASSIGN_OR_RETURN(auto n_head, f.GetPerLayerInt(p + "attention.head_count", L));
  ASSIGN_OR_RETURN(auto n_head_kv, f.Has(p + "attention.head_count_kv")
                                       ? f.GetPerLayerInt(p + "attention.head_count_kv", L)
                                       : StatusOr<std::vector<int64_t>>(n_head));
  ASSIGN_OR_RETURN(auto n_ff, f.GetPerLayerInt(p + "feed_forward_length", L));
  c.n_head = static_cast<int>(n_head[0]);
  for (auto h : n_head)
    if (h != c.n_head) return UnimplementedError(path + ": per-layer head_count is not supported");
  ASSIGN_OR_RETURN(int64_t d_full, f.GetInt(p + "attention.key_length"));
  ASSIGN_OR_RETURN(int64_t d_swa, f.GetInt(p + "attention.key_length_swa"));
  ASSIGN_OR_RETURN(int64_t v_full, f.GetIntOr(p + "attention.value_length", d_full));
  ASSIGN_OR_RETURN(int64_t v_swa, f.GetIntOr(p + "attention.value_length_swa", d_swa));
  if (v_full != d_full || v_swa != d_swa)
    return UnimplementedError(path + ": key_length must equal value_length (and the _swa pair)");
  ASSIGN_OR_RETURN(double eps, f.GetFloat(p + "attention.layer_norm_rms_epsilon"));
  ASSIGN_OR_RETURN(c.window, f.GetInt(p + "attention.sliding_window"));
  ASSIGN_OR_RETURN(auto pattern, f.GetBoolArray(p + "attention.sliding_window_pattern"));
  if (static_cast<int>(pattern.size()) != L)
    return InvalidModelError(path + ": attention.sliding_window_pattern has " + std::to_string(pattern.size()) +
                                " entries, expected one per layer (" + std::to_string(L) + ")");
  ASSIGN_OR_RETURN(int64_t n_shared, f.GetIntOr(p + "attention.shared_kv_layers", 0));
  ASSIGN_OR_RETURN(c.n_embd_per_layer, f.GetIntOr(p + "embedding_length_per_layer_input", 0));
  ASSIGN_OR_RETURN(double base, f.GetFloatOr(p + "rope.freq_base", 10000.0));
  ASSIGN_OR_RETURN(double base_swa, f.GetFloatOr(p + "rope.freq_base_swa", 10000.0));
  ASSIGN_OR_RETURN(int64_t rot_full, f.GetIntOr(p + "rope.dimension_count", d_full));
  ASSIGN_OR_RETURN(int64_t rot_swa, f.GetIntOr(p + "rope.dimension_count_swa", rot_full));
  ASSIGN_OR_RETURN(double softcap, f.GetFloatOr(p + "final_logit_softcapping", kDefaultSoftcap));
  ASSIGN_OR_RETURN(c.n_expert, f.GetIntOr(p + "expert_count", 0));
  ASSIGN_OR_RETURN(c.n_expert_used, f.GetIntOr(p + "expert_used_count", 0));
  ASSIGN_OR_RETURN(c.n_ff_exp, f.GetIntOr(p + "expert_feed_forward_length", 0));

  auto bad_dims = [](int64_t d, int64_t rot) { return d <= 0 || d > 4096 || rot <= 0 || rot > d || rot % 2; };
  if (c.n_head <= 0 || bad_dims(d_full, rot_full) || bad_dims(d_swa, rot_swa))
    return InvalidModelError(path + ": implausible attention shape (head_count " + std::to_string(c.n_head) +
                                ", key_length " + std::to_string(d_full) + "/" + std::to_string(d_swa) +
                                ", rope dims " + std::to_string(rot_full) + "/" + std::to_string(rot_swa) + ")");
  if (n_shared < 0 || n_shared >= L)
    return InvalidModelError(path + ": attention.shared_kv_layers " + std::to_string(n_shared) + " out of range");
  if (c.n_expert < 0 || c.n_expert_used < 0 || c.n_expert_used > c.n_expert || c.n_embd_per_layer < 0)
    return InvalidModelError(path + ": implausible expert_count / expert_used_count / per-layer width");
  c.eps = static_cast<float>(eps);
  c.final_softcap = static_cast<float>(softcap);
  c.embd_scale = std::sqrt(static_cast<float>(c.n_embd));
  c.q_scale = 1.0f;
  c.layers.resize(L);
  const int n_kv = L - static_cast<int>(n_shared);
  for (int il = 0; il < L; ++il) {
    LayerConfig& l = c.layers[il];
    l.sliding = pattern[il];
    l.head_dim = static_cast<int>(l.sliding ? d_swa : d_full);
    l.n_rot = static_cast<int>(l.sliding ? rot_swa : rot_full);
    l.rope_base = static_cast<float>(l.sliding ? base_swa : base);
    l.proportional_rope = !l.sliding;
    l.n_head_kv = static_cast<int>(n_head_kv[il]);
    l.n_ff = n_ff[il];
    if (l.n_head_kv <= 0 || c.n_head % l.n_head_kv != 0 || l.n_ff <= 0)
      return InvalidModelError(path + ": layer " + std::to_string(il) + " has head_count_kv " +
                                  std::to_string(l.n_head_kv) + " / feed_forward_length " + std::to_string(l.n_ff));
    l.kv_source = il;
    if (il >= n_kv) {
      const int src = KvSource(c.layers, il, n_kv);
      if (src < 0)
        return InvalidModelError(path + ": shared-KV layer " + std::to_string(il) + " has no earlier layer of its type");
      const int llama_src = l.sliding ? n_kv - 2 : n_kv - 1;
      if (src != llama_src)
        std::fprintf(stderr, "gemrun: warning: layer %d reads the KV of layer %d (llama.cpp would use %d)\n", il, src, llama_src);
      if (c.layers[src].n_head_kv != l.n_head_kv)
        return InvalidModelError(path + ": shared-KV layer " + std::to_string(il) + " and its source " +
                                    std::to_string(src) + " differ in head_count_kv");
      l.kv_source = src;
    }
  }
  return c;
}

namespace {

struct Gemma4Workspace : Workspace {
  Buffer<float> per_layer;  // [B][L * P] per-layer inputs PL
  Buffer<float> ple_tmp;    // [B][L * P]
  Buffer<float> moe_out;    // [B][E] expert-branch accumulator
  Buffer<float> moe_in;     // [B][E] expert input rows gathered per expert
  Buffer<float> moe_y;      // [B][E] expert outputs per gathered row
  Buffer<float> gate_up;    // [B][2 * F_exp]
  Buffer<float> moe_h;      // [B][F_exp] gelu(gate) * up
  Buffer<float> router;     // [B][n_expert]
  std::vector<int32_t> sel;      // [B][k] chosen experts
  std::vector<float> sel_w;      // [B][k] their weights
  Buffer<float> contrib;    // [B][k][E] weighted expert outputs, summed in rank order
  std::vector<int32_t> order;    // [n_expert] router ranking of one token
  std::vector<int64_t> rows;     // [B * k] (token, rank) pairs routed to one expert
};

class Gemma4 final : public Model {
 public:
  static StatusOr<std::unique_ptr<Model>> Load(std::unique_ptr<GgufFile> f, const LoadOptions& opts);
  std::unique_ptr<Workspace> NewWorkspace(int64_t max_rows) const override;
  using Model::Forward;
  Status Forward(std::span<const SeqBatch> seqs, Workspace& ws, float* logits, ThreadPool& pool) const override;

 private:
  struct Moe {
    TensorView router, gate_up, down;  // [E, n_exp], [E, 2F, n_exp], [F, E, n_exp]
    std::vector<float> router_scale, down_scale, pre_norm_2, post_norm_1, post_norm_2;
  };
  struct Layer {
    AttentionWeights attn;
    FfnWeights ffn;
    Moe moe;
    TensorView inp_gate, proj;  // PLE: [E, P], [P, E]
    std::vector<float> post_norm, out_scale;
  };
  void PerLayerInputs(std::span<const SeqBatch> seqs, Gemma4Workspace& st, ThreadPool& pool) const;
  void MoeBranch(const Layer& L, const float* x_att, int64_t T, Gemma4Workspace& st, ThreadPool& pool) const;
  void PerLayerInjection(int il, const Layer& L, int64_t T, Gemma4Workspace& st, ThreadPool& pool) const;

  TensorView tok_embd_, ple_embd_, ple_proj_;
  std::vector<float> output_norm_, rope_freqs_, ple_norm_;
  std::vector<Layer> layers_;
};

StatusOr<std::unique_ptr<Model>> Gemma4::Load(std::unique_ptr<GgufFile> f, const LoadOptions& opts) {
  auto m = std::make_unique<Gemma4>();
  ASSIGN_OR_RETURN(m->config_, LoadGemma4Config(*f));
  ModelConfig& c = m->config_;
  WeightBinder b(*f, &m->packed_);
  const int64_t E = c.n_embd, P = c.n_embd_per_layer, L = c.n_layer;
  RETURN_IF_ERROR(BindTokenEmbedding(b, E, opts, &m->tok_embd_));
  c.n_vocab = m->tok_embd_.ne[1];
  RETURN_IF_ERROR(b.Vector("output_norm.weight", E, &m->output_norm_));
  int max_rot_full = 0;
  for (const auto& l : c.layers)
    if (l.proportional_rope) max_rot_full = std::max(max_rot_full, l.n_rot);
  if (max_rot_full > 0) RETURN_IF_ERROR(b.Vector("rope_freqs.weight", max_rot_full / 2, &m->rope_freqs_, false));
  if (P > 0) {
    RETURN_IF_ERROR(b.LookupTable("per_layer_token_embd.weight", P * L, c.n_vocab, &m->ple_embd_));
    RETURN_IF_ERROR(b.Matrix("per_layer_model_proj.weight", E, P * L, &m->ple_proj_));
    RETURN_IF_ERROR(b.Vector("per_layer_proj_norm.weight", P, &m->ple_norm_));
  }
  m->layers_.resize(L);
  for (int il = 0; il < L; ++il) {
    Layer& ly = m->layers_[il];
    const std::string p = "blk." + std::to_string(il) + ".";
    // Shared-KV layers keep attn_k/attn_v in the file but never use them.
    RETURN_IF_ERROR(BindAttention(b, c, il, /*v_optional=*/true, &ly.attn));
    RETURN_IF_ERROR(BindFfn(b, c, il, c.layers[il].n_ff, &ly.ffn));
    RETURN_IF_ERROR(b.Vector(p + "layer_output_scale.weight", 1, &ly.out_scale, false));
    if (P > 0) {
      RETURN_IF_ERROR(b.Matrix(p + "inp_gate.weight", E, P, &ly.inp_gate));
      RETURN_IF_ERROR(b.Matrix(p + "proj.weight", P, E, &ly.proj));
      RETURN_IF_ERROR(b.Vector(p + "post_norm.weight", E, &ly.post_norm));
    }
    if (b.Has(p + "ffn_gate_inp.weight")) {
      if (c.n_expert <= 0 || c.n_expert_used <= 0 || c.n_ff_exp <= 0)
        return InvalidModelError(f->path() + ": layer " + std::to_string(il) +
                                    " has a router but expert_count / expert_used_count / expert_feed_forward_length are missing");
      c.layers[il].moe = true;
      Moe& mo = ly.moe;
      const int64_t X = c.n_expert, F = c.n_ff_exp;
      RETURN_IF_ERROR(b.Matrix(p + "ffn_gate_inp.weight", E, X, &mo.router));
      RETURN_IF_ERROR(b.Vector(p + "ffn_gate_inp.scale", E, &mo.router_scale));
      RETURN_IF_ERROR(b.Matrix(p + "ffn_gate_up_exps.weight", E, 2 * F, &mo.gate_up, true, X));
      RETURN_IF_ERROR(b.Matrix(p + "ffn_down_exps.weight", F, E, &mo.down, true, X));
      RETURN_IF_ERROR(b.Vector(p + "ffn_down_exps.scale", X, &mo.down_scale, false));
      RETURN_IF_ERROR(b.Vector(p + "pre_ffw_norm_2.weight", E, &mo.pre_norm_2));
      RETURN_IF_ERROR(b.Vector(p + "post_ffw_norm_1.weight", E, &mo.post_norm_1));
      RETURN_IF_ERROR(b.Vector(p + "post_ffw_norm_2.weight", E, &mo.post_norm_2));
    }
  }
  m->file_ = std::move(f);
  return std::unique_ptr<Model>(std::move(m));
}

std::unique_ptr<Workspace> Gemma4::NewWorkspace(int64_t max_rows) const {
  const ModelConfig& c = config_;
  auto st = std::make_unique<Gemma4Workspace>();
  InitWorkspace(c, max_rows, *st);
  const WorkspaceSizes n = PlanWorkspace(c, max_rows);  // the sizes PlanMemory counts
  st->per_layer.resize(n.per_layer);
  st->ple_tmp.resize(n.ple_tmp);
  if (c.n_expert > 0) {
    st->moe_out.resize(n.moe_out);
    st->moe_in.resize(n.moe_in);
    st->moe_y.resize(n.moe_y);
    st->gate_up.resize(n.gate_up);
    st->moe_h.resize(n.moe_h);
    st->router.resize(n.router);
    st->sel.resize(n.sel);
    st->sel_w.resize(n.sel_w);
    st->contrib.resize(n.contrib);
    st->order.resize(n.order);
    st->rows.reserve(max_rows * c.n_expert_used);
  }
  return st;
}

// PL[t][l] = (RMSNorm(proj(x0)[l] / sqrt(E)) + ple_embd[t][l] * sqrt(P)) / sqrt(2).
// Embedding rows (image tokens) use the pad token's row, scaled like any other (spec §7).
void Gemma4::PerLayerInputs(std::span<const SeqBatch> seqs, Gemma4Workspace& st, ThreadPool& pool) const {
  const ModelConfig& c = config_;
  const int64_t T = TotalRows(seqs), E = c.n_embd, P = c.n_embd_per_layer, LP = c.n_layer * P;
  float* pl = st.per_layer.data();
  float* proj = st.ple_tmp.data();
  kernels::MatMul(ple_proj_, st.x.data(), T, E, proj, LP, pool, st.mm);
  kernels::Scale(proj, T * LP, 1.0f / std::sqrt(static_cast<float>(E)));
  kernels::RmsNorm(proj, proj, ple_norm_.data(), T * c.n_layer, P, c.eps, P, P, pool);
  const float ps = std::sqrt(static_cast<float>(P)), inv_sqrt2 = 1.0f / std::sqrt(2.0f);
  int64_t t = 0;
  for (const SeqBatch& s : seqs) {
    for (int64_t j = 0; j < s.batch.size(); ++j, ++t) {
      float* row = pl + t * LP;
      kernels::GetRow(ple_embd_, s.batch.embd ? kPadToken : s.batch.tokens[j], row);
      kernels::Scale(row, LP, ps);
      for (int64_t i = 0; i < LP; ++i) row[i] = (proj[t * LP + i] + row[i]) * inv_sqrt2;
    }
  }
}

// Router, top-k and the gathered expert MLPs; result (post_ffw_norm_2 applied) in st.moe_out.
void Gemma4::MoeBranch(const Layer& L, const float* x_att, int64_t T, Gemma4Workspace& st, ThreadPool& pool) const {
  const ModelConfig& c = config_;
  const Moe& mo = L.moe;
  const int64_t E = c.n_embd, X = c.n_expert, K = c.n_expert_used, F = c.n_ff_exp;
  // Router input: weightless RMSNorm(x_att) / sqrt(E) * scale.
  float* r = st.moe_in.data();
  kernels::RmsNorm(x_att, r, nullptr, T, E, c.eps, E, E, pool);
  kernels::Scale(r, T * E, 1.0f / std::sqrt(static_cast<float>(E)));
  for (int64_t t = 0; t < T; ++t)
    for (int64_t i = 0; i < E; ++i) r[t * E + i] *= mo.router_scale[i];
  kernels::MatMul(mo.router, r, T, E, st.router.data(), X, pool, st.mm);
  std::vector<int32_t>& order = st.order;
  for (int64_t t = 0; t < T; ++t) {
    float* lg = st.router.data() + t * X;
    const float mx = *std::max_element(lg, lg + X);
    double sum = 0;
    for (int64_t e = 0; e < X; ++e) sum += (lg[e] = std::exp(lg[e] - mx));
    for (int64_t e = 0; e < X; ++e) lg[e] = static_cast<float>(lg[e] / sum);
    // Top-k by repeated selection (k is small; ties go to the lower expert id, and nothing
    // is allocated, unlike std::stable_sort).
    for (int64_t k = 0; k < K; ++k) {
      int32_t best = -1;
      for (int32_t e = 0; e < X; ++e) {
        bool taken = false;
        for (int64_t j = 0; j < k; ++j) taken |= order[j] == e;
        if (!taken && (best < 0 || lg[e] > lg[best])) best = e;
      }
      order[k] = best;
    }
    float wsum = 0;
    for (int64_t k = 0; k < K; ++k) wsum += lg[order[k]];
    wsum = std::max(wsum, kMinRouterWeightSum);
    for (int64_t k = 0; k < K; ++k) {
      st.sel[t * K + k] = order[k];
      st.sel_w[t * K + k] = lg[order[k]] / wsum;
    }
  }
  // Expert input and per-expert batches of the tokens that chose it.
  float* z = st.xn.data();
  kernels::RmsNorm(x_att, z, mo.pre_norm_2.data(), T, E, c.eps, E, E, pool);
  auto& contrib = st.contrib;
  std::vector<int64_t>& rows = st.rows;
  for (int64_t e = 0; e < X; ++e) {
    rows.clear();
    for (int64_t i = 0; i < T * K; ++i)
      if (st.sel[i] == e) rows.push_back(i);
    if (rows.empty()) continue;  // only the selected experts' weights are touched
    const int64_t n = static_cast<int64_t>(rows.size());
    for (int64_t j = 0; j < n; ++j) std::memcpy(st.moe_in.data() + j * E, z + rows[j] / K * E, sizeof(float) * E);
    float* gu = st.gate_up.data();
    kernels::MatMul(mo.gate_up.Slice2(e), st.moe_in.data(), n, E, gu, 2 * F, pool, st.mm);
    float* h = st.moe_h.data();
    for (int64_t j = 0; j < n; ++j) kernels::GeluMul(gu + j * 2 * F, gu + j * 2 * F + F, h + j * F, F);
    kernels::MatMul(mo.down.Slice2(e), h, n, F, st.moe_y.data(), E, pool, st.mm);
    const float ds = mo.down_scale.empty() ? 1.0f : mo.down_scale[e];
    for (int64_t j = 0; j < n; ++j) {
      const float w = st.sel_w[rows[j]];
      float* dst = contrib.data() + rows[j] * E;
      const float* y = st.moe_y.data() + j * E;
      for (int64_t i = 0; i < E; ++i) dst[i] = (y[i] * ds) * w;
    }
  }
  float* out = st.moe_out.data();
  for (int64_t t = 0; t < T; ++t) {  // sum in top-k rank order, as llama.cpp does
    float* o = out + t * E;
    std::memcpy(o, contrib.data() + t * K * E, sizeof(float) * E);
    for (int64_t k = 1; k < K; ++k) kernels::Add(o, contrib.data() + (t * K + k) * E, E);
  }
  kernels::RmsNorm(out, out, mo.post_norm_2.data(), T, E, c.eps, E, E, pool);
}

// x += RMSNorm(W_proj · (gelu(W_inp_gate · x) ⊙ PL[il]), post_norm).
void Gemma4::PerLayerInjection(int il, const Layer& L, int64_t T, Gemma4Workspace& st, ThreadPool& pool) const {
  const ModelConfig& c = config_;
  const int64_t E = c.n_embd, P = c.n_embd_per_layer, LP = c.n_layer * P;
  float* g = st.gate.data();  // [T][P]
  kernels::MatMul(L.inp_gate, st.x.data(), T, E, g, P, pool, st.mm);
  kernels::GeluMul(g, nullptr, g, T * P, pool);
  for (int64_t t = 0; t < T; ++t) {
    const float* pl = st.per_layer.data() + t * LP + il * P;
    for (int64_t i = 0; i < P; ++i) g[t * P + i] *= pl[i];
  }
  kernels::MatMul(L.proj, g, T, P, st.proj.data(), E, pool, st.mm);
  kernels::RmsNorm(st.proj.data(), st.proj.data(), L.post_norm.data(), T, E, c.eps, E, E, pool);
  kernels::Add(st.x.data(), st.proj.data(), T * E, pool);
}

Status Gemma4::Forward(std::span<const SeqBatch> seqs, Workspace& base, float* logits, ThreadPool& pool) const {
  const ModelConfig& c = config_;
  RETURN_IF_ERROR(ValidateSeqs(c, seqs, base));
  auto& ws = static_cast<Gemma4Workspace&>(base);
  const int64_t T = TotalRows(seqs), E = c.n_embd;
  float* x = ws.x.data();
  EmbedInput(c, tok_embd_, seqs, ws);
  PrepareRope(c, rope_freqs_.empty() ? nullptr : rope_freqs_.data(), T, ws);
  if (c.n_embd_per_layer > 0) PerLayerInputs(seqs, ws, pool);
  AttentionOptions opt;
  opt.v_norm = true;
  for (int il = 0; il < c.n_layer; ++il) {
    const Layer& L = layers_[il];
    AttentionBlock(c, il, L.attn, opt, seqs, ws, pool);
    kernels::Add(x, ws.proj.data(), T * E, pool);  // x is now x_att
    kernels::RmsNorm(x, ws.xn.data(), L.ffn.norm.data(), T, E, c.eps, E, E, pool);
    GegluMlp(c, L.ffn.gate, L.ffn.up, L.ffn.down, c.layers[il].n_ff, ws.xn.data(), ws.proj.data(), T, ws, pool);
    if (c.layers[il].moe) {
      kernels::RmsNorm(ws.proj.data(), ws.proj.data(), L.moe.post_norm_1.data(), T, E, c.eps, E, E, pool);
      MoeBranch(L, x, T, ws, pool);
      kernels::Add(ws.proj.data(), ws.moe_out.data(), T * E, pool);
    }
    kernels::RmsNorm(ws.proj.data(), ws.proj.data(), L.ffn.post_norm.data(), T, E, c.eps, E, E, pool);
    kernels::Add(x, ws.proj.data(), T * E, pool);
    if (c.n_embd_per_layer > 0) PerLayerInjection(il, L, T, ws, pool);
    if (!L.out_scale.empty()) kernels::Scale(x, T * E, L.out_scale[0]);
  }
  OutputLogits(c, output_norm_, tok_embd_, seqs, ws, logits, pool);
  AdvanceCaches(seqs);
  return OkStatus();
}

}  // namespace

StatusOr<std::unique_ptr<Model>> LoadGemma4(std::unique_ptr<GgufFile> f, const LoadOptions& opts) {
  return Gemma4::Load(std::move(f), opts);
}

}  // namespace gemrun
