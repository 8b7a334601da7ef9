// Gemma 4 vision (projector type `gemma4v`, spec/vision.md §3): variable-resolution ViT with
// 2-D learned position tables, RMSNorm blocks, per-head q/k norms, 2-D NeoX RoPE, clippable
// linears, post-norms and a per-layer output scale; then k x k average pooling, sqrt(Ev),
// optional standardisation and the multimodal embedder (weightless RMSNorm, projection).
#include <cmath>

#include "kernels/ops.h"
#include "vision/encoders.h"
#include "vision/vit_ops.h"

namespace gemrun::vision::internal {
namespace {

struct G4Layer {
  std::vector<float> ln1, q_norm, k_norm, attn_post, ln2, ffn_post;
  float out_scale = 1.0f;
  Linear q, k, v, o, gate, up, down;
};

class Gemma4vEncoder final : public VisionEncoder {
 public:
  Gemma4vEncoder(std::unique_ptr<GgufFile> f, const VisionConfig& c) {
    file_ = std::move(f);
    config_ = c;
  }
  Status Bind();
  Status Encode(const Preprocessed& img, std::vector<float>* out, ThreadPool& pool) const override;

 private:
  // Per head of every row of x ([n][n_head * D]): RMSNorm over D (with weight w or none).
  void HeadNorm(float* x, int64_t n, const float* w, ThreadPool& pool) const;
  // 2-D RoPE in place on [n][n_head * D]: dims [0, D/2) by patch column, [D/2, D) by row.
  void Rope2D(float* x, int64_t nx, int64_t n, const std::vector<float>& cs_col,
              const std::vector<float>& cs_row, ThreadPool& pool) const;

  Linear patch_;                   // [3*P*P] -> Ev, no bias
  TensorView pos_;                 // [Ev, 2*S]: rows [0, S) by column, [S, 2S) by row
  std::vector<G4Layer> layers_;
  std::vector<float> std_bias_, std_scale_;  // [Ev] or empty
  Linear proj_;                    // Ev -> E
};

Status Gemma4vEncoder::Bind() {
  const GgufFile& f = *file_;
  VisionConfig& c = config_;
  const int64_t Ev = c.n_embd, Fv = c.n_ff, D = c.head_dim;
  if (D % 4 != 0) return InvalidModelError(f.path() + ": gemma4v head size " + std::to_string(D) + " is not a multiple of 4 (2-D RoPE)");
  WeightBinder b(f);
  RETURN_IF_ERROR(BindPatchEmbedding(f, c.patch_size, Ev, &patch_.w));
  RETURN_IF_ERROR(b.Matrix("v.position_embd.weight", Ev, -1, &pos_, true, 2));
  c.pos_size = pos_.ne[1];
  if (c.pos_size < 1) return InvalidModelError(f.path() + ": empty position table");
  pos_.ne[1] *= 2;  // view the two tables as one matrix of 2*S rows
  pos_.ne[2] = 1;
  layers_.resize(static_cast<size_t>(c.n_layer));
  for (int64_t il = 0; il < c.n_layer; ++il) {
    G4Layer& l = layers_[il];
    const std::string p = "v.blk." + std::to_string(il) + ".";
    RETURN_IF_ERROR(b.Vector(p + "ln1.weight", Ev, &l.ln1));
    RETURN_IF_ERROR(b.Vector(p + "attn_q_norm.weight", D, &l.q_norm));
    RETURN_IF_ERROR(b.Vector(p + "attn_k_norm.weight", D, &l.k_norm));
    RETURN_IF_ERROR(b.Vector(p + "attn_post_norm.weight", Ev, &l.attn_post));
    RETURN_IF_ERROR(b.Vector(p + "ln2.weight", Ev, &l.ln2));
    RETURN_IF_ERROR(b.Vector(p + "ffn_post_norm.weight", Ev, &l.ffn_post));
    std::vector<float> os;
    RETURN_IF_ERROR(b.Vector(p + "out_scale.weight", 1, &os, /*required=*/false));
    if (!os.empty()) l.out_scale = os[0];
    RETURN_IF_ERROR(BindLinear(b, f, p + "attn_q", Ev, Ev, false, true, &l.q));
    RETURN_IF_ERROR(BindLinear(b, f, p + "attn_k", Ev, Ev, false, true, &l.k));
    RETURN_IF_ERROR(BindLinear(b, f, p + "attn_v", Ev, Ev, false, true, &l.v));
    RETURN_IF_ERROR(BindLinear(b, f, p + "attn_out", Ev, Ev, false, true, &l.o));
    RETURN_IF_ERROR(BindLinear(b, f, p + "ffn_gate", Ev, Fv, false, true, &l.gate));
    RETURN_IF_ERROR(BindLinear(b, f, p + "ffn_up", Ev, Fv, false, true, &l.up));
    RETURN_IF_ERROR(BindLinear(b, f, p + "ffn_down", Fv, Ev, false, true, &l.down));
  }
  RETURN_IF_ERROR(b.Vector("v.std_bias", Ev, &std_bias_, /*required=*/false));
  RETURN_IF_ERROR(b.Vector("v.std_scale", Ev, &std_scale_, /*required=*/false));
  if (std_bias_.empty() != std_scale_.empty())
    return InvalidModelError(f.path() + ": v.std_bias and v.std_scale must be present together");
  RETURN_IF_ERROR(BindLinear(b, f, "mm.input_projection", Ev, -1, false, true, &proj_));
  const int64_t E = proj_.out();
  if (c.proj_dim != 0 && c.proj_dim != E)
    return InvalidModelError(f.path() + ": clip.vision.projection_dim = " + std::to_string(c.proj_dim) +
                                " but mm.input_projection.weight produces " + std::to_string(E) + " values");
  c.proj_dim = E;
  return OkStatus();
}

void Gemma4vEncoder::HeadNorm(float* x, int64_t n, const float* w, ThreadPool& pool) const {
  const int64_t D = config_.head_dim, rows = n * config_.n_head;
  RmsNormRows(x, x, w, rows, D, config_.eps, pool);
}

void Gemma4vEncoder::Rope2D(float* x, int64_t nx, int64_t n, const std::vector<float>& cs_col,
                            const std::vector<float>& cs_row, ThreadPool& pool) const {
  const int64_t D = config_.head_dim, half = D / 2, H = config_.n_head;
  pool.ParallelFor(n, [&](int64_t t0, int64_t t1, int) {
    for (int64_t t = t0; t < t1; ++t) {
      const float* cc = cs_col.data() + (t % nx) * half;
      const float* cr = cs_row.data() + (t / nx) * half;
      for (int64_t h = 0; h < H; ++h) {
        float* head = x + (t * H + h) * D;
        kernels::RopeApply(head, static_cast<int>(half), cc);
        kernels::RopeApply(head + half, static_cast<int>(half), cr);
      }
    }
  });
}

Status Gemma4vEncoder::Encode(const Preprocessed& img, std::vector<float>* out, ThreadPool& pool) const {
  const VisionConfig& c = config_;
  const int64_t P = c.patch_size, nx = img.n_patches_x, ny = img.n_patches_y, n = nx * ny;
  const int64_t Ev = c.n_embd, Fv = c.n_ff, E = c.proj_dim, D = c.head_dim, S = c.pos_size;
  if (nx < 1 || ny < 1 || nx > S || ny > S || img.canvas.width != nx * P || img.canvas.height != ny * P)
    return InvalidArgumentError("gemma4v encoder: canvas does not fit the projector's position table");
  Scratch s;
  std::vector<float> x(static_cast<size_t>(n * Ev));  // [n][Ev] residual stream
  {
    // Pixels to [-1, 1] (2v - 1, exact doubling then one rounding), then the patch conv.
    std::vector<float> px(img.planar.size());
    for (size_t i = 0; i < px.size(); ++i) px[i] = img.planar[i] * 2.0f - 1.0f;
    std::vector<float> patches(static_cast<size_t>(n * 3 * P * P));  // [n][3*P*P]
    ExtractPatches(px.data(), img.canvas.width, img.canvas.height, P, patches.data());
    ApplyLinear(patch_, patches.data(), n, x.data(), pool, s);
  }
  pool.ParallelFor(n, [&](int64_t t0, int64_t t1, int) {
    std::vector<float> row(static_cast<size_t>(Ev));
    for (int64_t t = t0; t < t1; ++t) {
      kernels::GetRow(pos_, t % nx, row.data());       // table 0: column
      kernels::Add(x.data() + t * Ev, row.data(), Ev);
      kernels::GetRow(pos_, S + t / nx, row.data());   // table 1: row
      kernels::Add(x.data() + t * Ev, row.data(), Ev);
    }
  });
  // RoPE tables: half = D/2 dims per axis, NeoX pairs (i, i + D/4), base rope_theta.
  const int64_t half = D / 2;
  kernels::RopeParams rp{.n_rot = static_cast<int>(half), .base = c.rope_theta};
  std::vector<float> cs_col(static_cast<size_t>(nx * half)), cs_row(static_cast<size_t>(ny * half));
  for (int64_t i = 0; i < nx; ++i) kernels::RopeCache(rp, i, cs_col.data() + i * half);
  for (int64_t i = 0; i < ny; ++i) kernels::RopeCache(rp, i, cs_row.data() + i * half);

  std::vector<float> a(x.size()), q(x.size()), k(x.size()), v(x.size()), o(x.size());  // each [n][Ev]
  std::vector<float> g(static_cast<size_t>(n * Fv)), u(g.size());                      // [n][Fv]
  for (const G4Layer& l : layers_) {
    RmsNormRows(x.data(), a.data(), l.ln1.data(), n, Ev, c.eps, pool);
    ApplyLinear(l.q, a.data(), n, q.data(), pool, s);
    ApplyLinear(l.k, a.data(), n, k.data(), pool, s);
    ApplyLinear(l.v, a.data(), n, v.data(), pool, s);
    HeadNorm(q.data(), n, l.q_norm.data(), pool);
    HeadNorm(k.data(), n, l.k_norm.data(), pool);
    HeadNorm(v.data(), n, nullptr, pool);
    Rope2D(q.data(), nx, n, cs_col, cs_row, pool);
    Rope2D(k.data(), nx, n, cs_col, cs_row, pool);
    FullAttention(q.data(), k.data(), v.data(), n, c.n_head, c.head_dim, 1.0f, o.data(), pool, s);
    ApplyLinear(l.o, o.data(), n, a.data(), pool, s);
    RmsNormRows(a.data(), a.data(), l.attn_post.data(), n, Ev, c.eps, pool);
    kernels::Add(x.data(), a.data(), n * Ev);
    RmsNormRows(x.data(), a.data(), l.ln2.data(), n, Ev, c.eps, pool);
    ApplyLinear(l.gate, a.data(), n, g.data(), pool, s);
    ApplyLinear(l.up, a.data(), n, u.data(), pool, s);
    if (c.act == VisionActivation::kGeluTanh) GeluRows(g.data(), u.data(), n * Fv, pool);
    else QuickGeluRows(g.data(), u.data(), n * Fv, pool);
    ApplyLinear(l.down, g.data(), n, a.data(), pool, s);
    RmsNormRows(a.data(), a.data(), l.ffn_post.data(), n, Ev, c.eps, pool);
    kernels::Add(x.data(), a.data(), n * Ev);
    kernels::Scale(x.data(), n * Ev, l.out_scale);
  }
  const int64_t n_out = (nx / c.pool) * (ny / c.pool);
  std::vector<float> pooled(static_cast<size_t>(n_out * Ev));  // [n_out][Ev]
  AvgPool(x.data(), nx, ny, Ev, c.pool, pooled.data());
  kernels::Scale(pooled.data(), n_out * Ev, std::sqrt(static_cast<float>(Ev)));
  if (!std_bias_.empty())
    for (int64_t t = 0; t < n_out; ++t)
      for (int64_t i = 0; i < Ev; ++i) {
        float& z = pooled[t * Ev + i];
        z = (z - std_bias_[i]) * std_scale_[i];
      }
  RmsNormRows(pooled.data(), pooled.data(), nullptr, n_out, Ev, c.eps, pool);
  out->assign(static_cast<size_t>(n_out * E), 0.0f);
  ApplyLinear(proj_, pooled.data(), n_out, out->data(), pool, s);
  return OkStatus();
}

}  // namespace

StatusOr<std::unique_ptr<VisionEncoder>> NewGemma4vEncoder(std::unique_ptr<GgufFile> f, const VisionConfig& c) {
  auto enc = std::make_unique<Gemma4vEncoder>(std::move(f), c);
  RETURN_IF_ERROR(enc->Bind());
  return std::unique_ptr<VisionEncoder>(std::move(enc));
}

}  // namespace gemrun::vision::internal
