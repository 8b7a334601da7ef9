// Shared decoder blocks: attention with Q/K norms, NeoX RoPE, GQA and a sliding window;
// the GeGLU MLP; state allocation; the output head.
#include "model/blocks.h"

#include <algorithm>
#include <cstring>

#include "kernels/kernels.h"
#include "kernels/ops.h"

namespace gemrun {

Status BindAttention(WeightBinder& b, const ModelConfig& c, int il, bool v_optional, AttentionWeights* w) {
  const LayerConfig& l = c.layers[il];
  const std::string p = "blk." + std::to_string(il) + ".";
  const int64_t E = c.n_embd, D = l.head_dim, qw = int64_t{c.n_head} * D, kvw = int64_t{l.n_head_kv} * D;
  RETURN_IF_ERROR(b.Vector(p + "attn_norm.weight", E, &w->attn_norm));
  RETURN_IF_ERROR(b.Matrix(p + "attn_q.weight", E, qw, &w->wq));
  RETURN_IF_ERROR(b.Matrix(p + "attn_k.weight", E, kvw, &w->wk));
  RETURN_IF_ERROR(b.Matrix(p + "attn_v.weight", E, kvw, &w->wv, !v_optional));
  RETURN_IF_ERROR(b.Vector(p + "attn_q_norm.weight", D, &w->q_norm));
  RETURN_IF_ERROR(b.Vector(p + "attn_k_norm.weight", D, &w->k_norm));
  RETURN_IF_ERROR(b.Matrix(p + "attn_output.weight", qw, E, &w->wo));
  RETURN_IF_ERROR(b.Vector(p + "post_attention_norm.weight", E, &w->post_norm));
  return OkStatus();
}

Status BindFfn(WeightBinder& b, const ModelConfig& c, int il, int64_t n_ff, FfnWeights* w) {
  const std::string p = "blk." + std::to_string(il) + ".";
  const int64_t E = c.n_embd;
  RETURN_IF_ERROR(b.Vector(p + "ffn_norm.weight", E, &w->norm));
  RETURN_IF_ERROR(b.Matrix(p + "ffn_gate.weight", E, n_ff, &w->gate));
  RETURN_IF_ERROR(b.Matrix(p + "ffn_up.weight", E, n_ff, &w->up));
  RETURN_IF_ERROR(b.Matrix(p + "ffn_down.weight", n_ff, E, &w->down));
  RETURN_IF_ERROR(b.Vector(p + "post_ffw_norm.weight", E, &w->post_norm));
  return OkStatus();
}

StatusOr<std::unique_ptr<ForwardState>> NewCommonState(const ModelConfig& c, int64_t n_ctx, int64_t max_batch,
                                                       DType kv_type) {
  if (kv_type != DType::kF16 && kv_type != DType::kF32)
    return InvalidArgumentError("KV cache type must be f16 or f32, got " + DTypeName(kv_type));
  if (n_ctx <= 0 || max_batch <= 0 || max_batch > n_ctx)
    return InvalidArgumentError("context " + std::to_string(n_ctx) + " / batch " + std::to_string(max_batch) +
                                " must be positive with batch <= context");
  auto st = std::make_unique<ForwardState>();
  st->n_ctx = n_ctx;
  st->max_batch = max_batch;
  const int64_t B = max_batch, E = c.n_embd;
  const int64_t qw = int64_t{c.n_head} * c.max_head_dim(), kvw = c.max_kv_width();
  st->x.resize(B * E);
  st->xn.resize(B * E);
  st->proj.resize(B * E);
  st->out_rows.resize(B * E);
  st->q.resize(B * qw);
  st->attn.resize(B * qw);
  st->kx.resize(B * kvw);
  st->vx.resize(B * kvw);
  st->gate.resize(B * c.max_ff());
  st->up.resize(B * c.max_ff());
  st->k.resize(c.n_layer);
  st->v.resize(c.n_layer);
  st->kv_layout.resize(c.n_layer);
  for (int il = 0; il < c.n_layer; ++il) {
    const LayerConfig& l = c.layers[il];
    st->kv_layout[il] = kernels::KvLayout{kv_type, l.n_head_kv, l.head_dim, n_ctx};
    if (!c.owns_kv(il)) continue;
    const int64_t bytes = st->kv_layout[il].Bytes() / 2;
    st->k[il].resize(bytes);
    st->v[il].resize(bytes);
  }
  return st;
}

namespace {

// Per-head RMSNorm (optionally weighted) then RoPE at each row's position.
void NormRopeHeads(float* x, int64_t T, int n_heads, int D, const float* norm_w, float eps,
                   const kernels::RopeParams& rp, int64_t pos0, bool rope, float* cs) {
  for (int64_t t = 0; t < T; ++t) {
    if (rope) kernels::RopeCache(rp, pos0 + t, cs);
    for (int h = 0; h < n_heads; ++h) {
      float* v = x + (t * n_heads + h) * D;
      kernels::RmsNorm(v, v, norm_w, 1, D, eps, D, D);
      if (rope) kernels::RopeApply(v, rp.n_rot, cs);
    }
  }
}

}  // namespace

void AttentionBlock(const ModelConfig& c, int il, const AttentionWeights& w,
                    const AttentionOptions& opt, const float* x, int64_t T, ForwardState& st,
                    ThreadPool& pool) {
  const LayerConfig& l = c.layers[il];
  const int64_t E = c.n_embd;
  const int D = l.head_dim, Hq = c.n_head, Hk = l.n_head_kv;
  const int64_t qw = int64_t{Hq} * D, kvw = int64_t{Hk} * D;
  const int64_t pos0 = st.n_past;
  float* xn = st.xn.data();
  kernels::RmsNorm(x, xn, w.attn_norm.data(), T, E, c.eps, E, E);

  kernels::RopeParams rp{l.n_rot, l.rope_base, l.freq_scale, l.proportional_rope ? opt.rope_freqs : nullptr};
  std::vector<float> cs(static_cast<size_t>(l.n_rot));  // small; TODO(perf): preallocate
  kernels::MatMul(w.wq, xn, T, E, st.q.data(), qw, pool, st.mm);
  NormRopeHeads(st.q.data(), T, Hq, D, w.q_norm.data(), c.eps, rp, pos0, true, cs.data());
  if (c.q_scale != 1.0f) kernels::Scale(st.q.data(), T * qw, c.q_scale);

  if (c.owns_kv(il)) {
    float* kx = st.kx.data();
    float* vx = st.vx.data();
    kernels::MatMul(w.wk, xn, T, E, kx, kvw, pool, st.mm);
    if (w.wv.data) kernels::MatMul(w.wv, xn, T, E, vx, kvw, pool, st.mm);
    else std::memcpy(vx, kx, sizeof(float) * T * kvw);  // V = raw K projection
    NormRopeHeads(kx, T, Hk, D, w.k_norm.data(), c.eps, rp, pos0, true, cs.data());
    if (opt.v_norm) kernels::RmsNorm(vx, vx, nullptr, T * Hk, D, c.eps, D, D);
    kernels::StoreKv(st.kv_layout[il], st.k[il].data(), st.v[il].data(), kx, vx, pos0, T);
  }
  const int src = l.kv_source;
  const kernels::AttentionArgs args{Hq, l.sliding ? c.window : 0, !opt.non_causal};
  kernels::AttentionKv(st.kv_layout[src], args, st.q.data(), T, pos0, st.k[src].data(), st.v[src].data(),
                       st.attn.data(), st.attn_scratch, pool);
  kernels::MatMul(w.wo, st.attn.data(), T, qw, st.proj.data(), E, pool, st.mm);
  kernels::RmsNorm(st.proj.data(), st.proj.data(), w.post_norm.data(), T, E, c.eps, E, E);
}

void GegluMlp(const ModelConfig& c, const TensorView& gate, const TensorView& up,
              const TensorView& down, int64_t n_ff, const float* in, float* out, int64_t T,
              ForwardState& st, ThreadPool& pool) {
  const int64_t E = c.n_embd;
  kernels::MatMul(gate, in, T, E, st.gate.data(), n_ff, pool, st.mm);
  kernels::MatMul(up, in, T, E, st.up.data(), n_ff, pool, st.mm);
  kernels::GeluMul(st.gate.data(), st.up.data(), st.gate.data(), T * n_ff);
  kernels::MatMul(down, st.gate.data(), T, n_ff, out, E, pool, st.mm);
}

void OutputLogits(const ModelConfig& c, const std::vector<float>& output_norm,
                  const TensorView& lm_head, ForwardState& st, int64_t T, LogitsMode mode,
                  float* logits, ThreadPool& pool) {
  if (mode == LogitsMode::kNone) return;
  const int64_t E = c.n_embd;
  const int64_t first = mode == LogitsMode::kAll ? 0 : T - 1;
  const int64_t n = T - first;
  kernels::RmsNorm(st.x.data() + first * E, st.out_rows.data(), output_norm.data(), n, E, c.eps, E, E);
  kernels::MatMul(lm_head, st.out_rows.data(), n, E, logits, c.n_vocab, pool, st.mm);
  if (c.final_softcap > 0.0f) kernels::SoftCap(logits, n * c.n_vocab, c.final_softcap);
}

}  // namespace gemrun
