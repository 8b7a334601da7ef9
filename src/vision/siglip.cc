// Gemma 3 vision (projector type `gemma3`, spec/vision.md §2): SigLIP ViT with LayerNorm
// blocks, then 4x4 average pooling, soft-embedding RMSNorm and the input projection.
#include <cmath>
#include <cstring>

#include "base/fp16.h"
#include "kernels/ops.h"
#include "vision/encoders.h"
#include "vision/vit_ops.h"

namespace gemrun::vision::internal {
namespace {

struct SiglipLayer {
  std::vector<float> ln1_w, ln1_b, ln2_w, ln2_b;
  Linear q, k, v, o, up, down;
};

class Gemma3Encoder final : public VisionEncoder {
 public:
  Gemma3Encoder(std::unique_ptr<GgufFile> f, const VisionConfig& c) {
    file_ = std::move(f);
    config_ = c;
  }
  Status Bind();
  Status Encode(const Preprocessed& img, std::vector<float>* out, ThreadPool& pool) const override;

 private:
  Linear patch_;                   // [3*P*P] -> Ev, with bias
  TensorView pos_;                 // [Ev, n_patches]
  std::vector<SiglipLayer> layers_;
  std::vector<float> post_w_, post_b_, soft_norm_;
  Linear proj_;                    // Ev -> E (a transposed copy of mm.input_projection)
  std::vector<uint8_t> proj_data_;  // [E][Ev] in the file's type
};

// mm.input_projection is stored [E, Ev] (Ev rows of E); MatMul wants E rows of Ev, so keep a
// transposed copy in the same type (what llama.cpp's ggml_cont(ggml_transpose(...)) computes).
Status TransposeProjection(const GgufFile& f, int64_t Ev, int64_t* E, std::vector<uint8_t>* data, TensorView* out) {
  const std::string name = "mm.input_projection.weight";
  const GgufTensorInfo* t = f.FindTensor(name);
  if (!t) return NotFoundError(f.path() + ": required tensor '" + name + "' is missing");
  if (t->n_dims > 2 || t->ne[1] != Ev)
    return InvalidModelError(f.path() + ": tensor '" + name + "' has shape [" + std::to_string(t->ne[0]) + ", " +
                                std::to_string(t->ne[1]) + "], expected [E, " + std::to_string(Ev) + "]");
  if (t->type != DType::kF32 && t->type != DType::kF16 && t->type != DType::kBF16)
    return UnimplementedError(f.path() + ": tensor '" + name + "' has type " + DTypeName(t->type) +
                              "; gemma3's input projection must be F32, F16 or BF16");
  *E = t->ne[0];
  const TensorView src = f.View(*t);
  const size_t es = t->type == DType::kF32 ? 4 : 2;
  data->resize(static_cast<size_t>(*E * Ev) * es);
  for (int64_t i = 0; i < Ev; ++i)      // source row i (length E)
    for (int64_t j = 0; j < *E; ++j)    // -> destination row j, column i
      std::memcpy(data->data() + (j * Ev + i) * es, src.Row(i) + j * es, es);
  TensorView v;
  v.type = t->type;
  v.ne[0] = Ev;
  v.ne[1] = *E;
  v.nb[0] = static_cast<int64_t>(es);
  v.nb[1] = Ev * static_cast<int64_t>(es);
  v.nb[2] = v.nb[3] = v.nb[1] * *E;
  v.data = data->data();
  v.name = name + " (transposed)";
  *out = v;
  return OkStatus();
}

Status Gemma3Encoder::Bind() {
  const GgufFile& f = *file_;
  VisionConfig& c = config_;
  const int64_t Ev = c.n_embd, Fv = c.n_ff;
  WeightBinder b(f);
  RETURN_IF_ERROR(BindPatchEmbedding(f, c.patch_size, Ev, &patch_.w));
  RETURN_IF_ERROR(b.Vector("v.patch_embd.bias", Ev, &patch_.b));
  RETURN_IF_ERROR(b.Matrix("v.position_embd.weight", Ev, c.pos_size, &pos_));
  // Legacy files store ffn_up/ffn_down swapped; llama.cpp detects it by ffn_down's ne0 == Ev.
  const GgufTensorInfo* down0 = f.FindTensor("v.blk.0.ffn_down.weight");
  const bool swapped = down0 && down0->ne[0] == Ev && Ev != Fv;
  layers_.resize(static_cast<size_t>(c.n_layer));
  for (int64_t il = 0; il < c.n_layer; ++il) {
    SiglipLayer& l = layers_[il];
    const std::string p = "v.blk." + std::to_string(il) + ".";
    RETURN_IF_ERROR(b.Vector(p + "ln1.weight", Ev, &l.ln1_w));
    RETURN_IF_ERROR(b.Vector(p + "ln1.bias", Ev, &l.ln1_b));
    RETURN_IF_ERROR(b.Vector(p + "ln2.weight", Ev, &l.ln2_w));
    RETURN_IF_ERROR(b.Vector(p + "ln2.bias", Ev, &l.ln2_b));
    RETURN_IF_ERROR(BindLinear(b, f, p + "attn_q", Ev, Ev, true, false, &l.q));
    RETURN_IF_ERROR(BindLinear(b, f, p + "attn_k", Ev, Ev, true, false, &l.k));
    RETURN_IF_ERROR(BindLinear(b, f, p + "attn_v", Ev, Ev, true, false, &l.v));
    RETURN_IF_ERROR(BindLinear(b, f, p + "attn_out", Ev, Ev, true, false, &l.o));
    RETURN_IF_ERROR(BindLinear(b, f, p + (swapped ? "ffn_down" : "ffn_up"), Ev, Fv, true, false, &l.up));
    RETURN_IF_ERROR(BindLinear(b, f, p + (swapped ? "ffn_up" : "ffn_down"), Fv, Ev, true, false, &l.down));
  }
  RETURN_IF_ERROR(b.Vector("v.post_ln.weight", Ev, &post_w_));
  RETURN_IF_ERROR(b.Vector("v.post_ln.bias", Ev, &post_b_));
  RETURN_IF_ERROR(b.Vector("mm.soft_emb_norm.weight", Ev, &soft_norm_));
  int64_t E = 0;
  RETURN_IF_ERROR(TransposeProjection(f, Ev, &E, &proj_data_, &proj_.w));
  if (c.proj_dim != 0 && c.proj_dim != E)
    return InvalidModelError(f.path() + ": clip.vision.projection_dim = " + std::to_string(c.proj_dim) +
                                " but mm.input_projection.weight produces " + std::to_string(E) + " values");
  c.proj_dim = E;
  return OkStatus();
}

Status Gemma3Encoder::Encode(const Preprocessed& img, std::vector<float>* out, ThreadPool& pool) const {
  const VisionConfig& c = config_;
  const int64_t P = c.patch_size, nx = img.n_patches_x, ny = img.n_patches_y, n = nx * ny;
  const int64_t Ev = c.n_embd, Fv = c.n_ff, E = c.proj_dim;
  if (n != c.pos_size || img.canvas.width != nx * P || img.canvas.height != ny * P)
    return InvalidArgumentError("gemma3 encoder: canvas does not match the projector's image size");
  Scratch s;
  std::vector<float> x(static_cast<size_t>(n * Ev));  // [n][Ev] residual stream
  {
    std::vector<float> patches(static_cast<size_t>(n * 3 * P * P));  // [n][3*P*P]
    ExtractPatches(img.planar.data(), img.canvas.width, img.canvas.height, P, patches.data());
    ApplyLinear(patch_, patches.data(), n, x.data(), pool, s);
  }
  pool.ParallelFor(n, [&](int64_t t0, int64_t t1, int) {
    std::vector<float> row(static_cast<size_t>(Ev));
    for (int64_t t = t0; t < t1; ++t) {
      kernels::GetRow(pos_, t, row.data());
      kernels::Add(x.data() + t * Ev, row.data(), Ev);
    }
  });
  std::vector<float> a(x.size()), q(x.size()), k(x.size()), v(x.size()), o(x.size());  // each [n][Ev]
  std::vector<float> h(static_cast<size_t>(n * Fv));                                   // [n][Fv]
  const float scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  for (const SiglipLayer& l : layers_) {
    LayerNorm(x.data(), a.data(), l.ln1_w.data(), l.ln1_b.data(), n, Ev, c.eps, pool);
    ApplyLinear(l.q, a.data(), n, q.data(), pool, s);
    ApplyLinear(l.k, a.data(), n, k.data(), pool, s);
    ApplyLinear(l.v, a.data(), n, v.data(), pool, s);
    FullAttention(q.data(), k.data(), v.data(), n, c.n_head, c.head_dim, scale, o.data(), pool, s);
    ApplyLinear(l.o, o.data(), n, a.data(), pool, s);
    kernels::Add(x.data(), a.data(), n * Ev);
    LayerNorm(x.data(), a.data(), l.ln2_w.data(), l.ln2_b.data(), n, Ev, c.eps, pool);
    ApplyLinear(l.up, a.data(), n, h.data(), pool, s);
    if (c.act == VisionActivation::kGeluTanh) GeluRows(h.data(), nullptr, n * Fv, pool);
    else QuickGeluRows(h.data(), nullptr, n * Fv, pool);
    ApplyLinear(l.down, h.data(), n, a.data(), pool, s);
    kernels::Add(x.data(), a.data(), n * Ev);
  }
  LayerNorm(x.data(), x.data(), post_w_.data(), post_b_.data(), n, Ev, c.eps, pool);
  const int64_t n_out = (nx / c.pool) * (ny / c.pool);
  std::vector<float> pooled(static_cast<size_t>(n_out * Ev));  // [n_out][Ev]
  AvgPool(x.data(), nx, ny, Ev, c.pool, pooled.data());
  RmsNormRows(pooled.data(), pooled.data(), soft_norm_.data(), n_out, Ev, c.eps, pool);
  out->assign(static_cast<size_t>(n_out * E), 0.0f);
  ApplyLinear(proj_, pooled.data(), n_out, out->data(), pool, s);
  return OkStatus();
}

}  // namespace

StatusOr<std::unique_ptr<VisionEncoder>> NewGemma3Encoder(std::unique_ptr<GgufFile> f, const VisionConfig& c) {
  auto enc = std::make_unique<Gemma3Encoder>(std::move(f), c);
  RETURN_IF_ERROR(enc->Bind());
  return std::unique_ptr<VisionEncoder>(std::move(enc));
}

}  // namespace gemrun::vision::internal
