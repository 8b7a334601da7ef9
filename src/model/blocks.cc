// Shared decoder blocks: attention with Q/K norms, NeoX RoPE, GQA and a sliding window;
// the GeGLU MLP; state allocation; the output head.
#include "model/blocks.h"

#include <algorithm>
#include <cstring>

#include "kernels/kernels.h"
#include "kernels/ops.h"
#include "model/memory_plan.h"

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

Status BindTokenEmbedding(WeightBinder& b, int64_t n_embd, const LoadOptions& opts, TensorView* out) {
  if (opts.repack_lm_head) return b.Matrix("token_embd.weight", n_embd, -1, out);
  return b.LookupTable("token_embd.weight", n_embd, -1, out);
}

void InitWorkspace(const ModelConfig& c, int64_t max_rows, Workspace& ws) {
  const WorkspaceSizes n = PlanWorkspace(c, max_rows);  // the sizes PlanMemory counts
  ws.max_rows = max_rows;
  ws.x.resize(n.x);
  ws.xn.resize(n.xn);
  ws.proj.resize(n.proj);
  ws.out_rows.resize(n.out_rows);
  ws.q.resize(n.q);
  ws.attn.resize(n.attn);
  ws.kx.resize(n.kx);
  ws.vx.resize(n.vx);
  ws.gate.resize(n.gate);
  ws.up.resize(n.up);
  ws.pos.resize(n.pos);
  for (auto& cs : ws.rope_cs) cs.resize(n.rope_cs);
}

namespace {

int RopeTable(const LayerConfig& l) { return l.sliding ? 0 : 1; }

// Per-head RMSNorm (optionally weighted) then RoPE with each row's precomputed cos/sin.
void NormRopeHeads(float* x, int64_t rows, int n_heads, int D, const float* norm_w, float eps,
                   int n_rot, const float* cs, int64_t cs_stride) {
  for (int64_t t = 0; t < rows; ++t) {
    for (int h = 0; h < n_heads; ++h) {
      float* v = x + (t * n_heads + h) * D;
      kernels::RmsNorm(v, v, norm_w, 1, D, eps, D, D);
      kernels::RopeApply(v, n_rot, cs + t * cs_stride);
    }
  }
}

}  // namespace

void PrepareRope(const ModelConfig& c, const float* rope_freqs, int64_t rows, Workspace& ws) {
  for (int table = 0; table < 2; ++table) {
    const LayerConfig* l = nullptr;
    for (const auto& lc : c.layers)
      if (RopeTable(lc) == table) { l = &lc; break; }
    if (!l) continue;
    const kernels::RopeParams rp{l->n_rot, l->rope_base, l->freq_scale, l->proportional_rope ? rope_freqs : nullptr};
    const int64_t stride = c.max_head_dim();
    for (int64_t r = 0; r < rows; ++r) kernels::RopeCache(rp, ws.pos[r], ws.rope_cs[table].data() + r * stride);
  }
}

void AttentionBlock(const ModelConfig& c, int il, const AttentionWeights& w,
                    const AttentionOptions& opt, std::span<const SeqBatch> seqs, Workspace& ws,
                    ThreadPool& pool) {
  const LayerConfig& l = c.layers[il];
  const int64_t E = c.n_embd, rows = TotalRows(seqs);
  const int D = l.head_dim, Hq = c.n_head, Hk = l.n_head_kv;
  const int64_t qw = int64_t{Hq} * D, kvw = int64_t{Hk} * D;
  const float* cs = ws.rope_cs[RopeTable(l)].data();
  const int64_t cs_stride = c.max_head_dim();
  float* xn = ws.xn.data();
  kernels::RmsNorm(ws.x.data(), xn, w.attn_norm.data(), rows, E, c.eps, E, E, pool);
  kernels::MatMul(w.wq, xn, rows, E, ws.q.data(), qw, pool, ws.mm);
  NormRopeHeads(ws.q.data(), rows, Hq, D, w.q_norm.data(), c.eps, l.n_rot, cs, cs_stride);
  if (c.q_scale != 1.0f) kernels::Scale(ws.q.data(), rows * qw, c.q_scale);

  const bool owns = c.owns_kv(il);
  if (owns) {
    float* kx = ws.kx.data();
    float* vx = ws.vx.data();
    kernels::MatMul(w.wk, xn, rows, E, kx, kvw, pool, ws.mm);
    if (w.wv.data) kernels::MatMul(w.wv, xn, rows, E, vx, kvw, pool, ws.mm);
    else std::memcpy(vx, kx, sizeof(float) * rows * kvw);  // V = raw K projection
    NormRopeHeads(kx, rows, Hk, D, w.k_norm.data(), c.eps, l.n_rot, cs, cs_stride);
    if (opt.v_norm) kernels::RmsNorm(vx, vx, nullptr, rows * Hk, D, c.eps, D, D);
  }
  const int src = l.kv_source;
  int64_t r = 0;
  for (const SeqBatch& s : seqs) {
    const int64_t T = s.batch.size(), pos0 = s.kv->n_past;
    KvCache& kv = *s.kv;
    if (owns) kernels::StoreKv(kv.layout[il], kv.k[il].data(), kv.v[il].data(), ws.kx.data() + r * kvw,
                               ws.vx.data() + r * kvw, pos0, T);
    const bool causal = !s.batch.non_causal || (s.batch.global_causal && !l.sliding);
    const kernels::AttentionArgs args{Hq, l.sliding ? c.window : 0, causal, ws.flash_attn};
    kernels::AttentionKv(kv.layout[src], args, ws.q.data() + r * qw, T, pos0, kv.k[src].data(), kv.v[src].data(),
                         ws.attn.data() + r * qw, ws.attn_scratch, pool);
    r += T;
  }
  kernels::MatMul(w.wo, ws.attn.data(), rows, qw, ws.proj.data(), E, pool, ws.mm);
  kernels::RmsNorm(ws.proj.data(), ws.proj.data(), w.post_norm.data(), rows, E, c.eps, E, E, pool);
}

void GegluMlp(const ModelConfig& c, const TensorView& gate, const TensorView& up,
              const TensorView& down, int64_t n_ff, const float* in, float* out, int64_t rows,
              Workspace& ws, ThreadPool& pool) {
  const int64_t E = c.n_embd;
  kernels::MatMul(gate, in, rows, E, ws.gate.data(), n_ff, pool, ws.mm);
  kernels::MatMul(up, in, rows, E, ws.up.data(), n_ff, pool, ws.mm);
  kernels::GeluMul(ws.gate.data(), ws.up.data(), ws.gate.data(), rows * n_ff, pool);
  kernels::MatMul(down, ws.gate.data(), rows, n_ff, out, E, pool, ws.mm);
}

void OutputLogits(const ModelConfig& c, const std::vector<float>& output_norm,
                  const TensorView& lm_head, std::span<const SeqBatch> seqs, Workspace& ws,
                  float* logits, ThreadPool& pool) {
  const int64_t E = c.n_embd;
  int64_t r = 0, n = 0;  // gather the rows that need logits
  for (const SeqBatch& s : seqs) {
    const int64_t T = s.batch.size();
    const int64_t first = s.mode == LogitsMode::kAll ? 0 : s.mode == LogitsMode::kLast ? T - 1 : T;
    for (int64_t t = first; t < T; ++t, ++n)
      kernels::RmsNorm(ws.x.data() + (r + t) * E, ws.out_rows.data() + n * E, output_norm.data(), 1, E, c.eps, E, E);
    r += T;
  }
  if (n == 0) return;
  kernels::MatMul(lm_head, ws.out_rows.data(), n, E, logits, c.n_vocab, pool, ws.mm);
  if (c.final_softcap > 0.0f) kernels::SoftCap(logits, n * c.n_vocab, c.final_softcap);
}

void AdvanceCaches(std::span<const SeqBatch> seqs) {
  for (const SeqBatch& s : seqs) s.kv->n_past += s.batch.size();
}

}  // namespace gemrun
