// Gemma 4 12B "unified" vision projector (projector type `gemma4uv`, spec/gemma4-12b.md §3):
// encoder-free. Each 48x48 pixel patch (a 6912-long CHW vector) goes through LayerNorm ->
// dense -> LayerNorm -> + x/y position tables -> LayerNorm -> weightless RMSNorm -> projection
// into the text width. No attention: patches are independent, so the work is two matmuls.
#include <algorithm>

#include "kernels/ops.h"
#include "vision/encoders.h"
#include "vision/vit_ops.h"

namespace gemrun::vision::internal {
namespace {

// The three LayerNorms are torch nn.LayerNorm defaults in HF; llama.cpp hard-codes the same
// eps (the file's eps is the RMSNorm's only).
constexpr float kLayerNormEps = 1e-5f;

struct Norm {
  std::vector<float> w, b;  // [n] each
};

class Gemma4uvEncoder final : public VisionEncoder {
 public:
  Gemma4uvEncoder(std::unique_ptr<GgufFile> f, const VisionConfig& c) {
    file_ = std::move(f);
    config_ = c;
  }
  Status Bind();
  Status Encode(const Preprocessed& img, std::vector<float>* out, ThreadPool& pool) const override;

 private:
  Status BindNorm(WeightBinder& b, int idx, int64_t n, Norm* out) const;
  Status CheckFloatType(const std::string& name) const;

  Norm ln1_;       // [3*P*P] patch_ln1, CHW order (the converter permuted it)
  Linear patch_;   // [3*P*P] -> Ev, with bias
  Norm ln2_, ln3_; // [Ev]
  TensorView pos_; // [Ev, 2*S]: rows [0, S) by patch column, [S, 2S) by patch row
  Linear proj_;    // Ev -> E (mm.input_projection, normal orientation)
};

// Norms, biases and the position table are read as floats; llama.cpp's converter writes them
// F32. A quantized one is a broken file rather than a format to support.
Status Gemma4uvEncoder::CheckFloatType(const std::string& name) const {
  const GgufTensorInfo* t = file_->FindTensor(name);
  if (!t || t->type == DType::kF32 || t->type == DType::kF16 || t->type == DType::kBF16) return OkStatus();
  return InvalidModelError(file_->path() + ": gemma4uv tensor '" + name + "' has type " + DTypeName(t->type) +
                              "; norms, biases and position tables must be F32 (or F16/BF16)");
}

Status Gemma4uvEncoder::BindNorm(WeightBinder& b, int idx, int64_t n, Norm* out) const {
  const std::string p = "v.patch_norm." + std::to_string(idx) + ".";
  RETURN_IF_ERROR(CheckFloatType(p + "weight"));
  RETURN_IF_ERROR(CheckFloatType(p + "bias"));
  RETURN_IF_ERROR(b.Vector(p + "weight", n, &out->w));
  return b.Vector(p + "bias", n, &out->b);
}

Status Gemma4uvEncoder::Bind() {
  const GgufFile& f = *file_;
  VisionConfig& c = config_;
  const int64_t P = c.patch_size, K = 3 * P * P, Ev = c.n_embd;
  // Ollama's own blobs number the three norms 0/1/2 (llama.cpp: 1/2/3); with .1/.2 present the
  // shapes would be off by one norm, so say what the file is instead of a shape error.
  if (f.FindTensor("v.patch_norm.0.weight"))
    return InvalidModelError(f.path() + ": tensor 'v.patch_norm.0.weight' is Ollama's gemma4uv naming "
                                "(v.patch_norm.0/1/2); gemrun reads llama.cpp's (v.patch_norm.1/2/3). Use an mmproj "
                                "converted by llama.cpp's convert_hf_to_gguf.py --mmproj");
  WeightBinder b(f);
  RETURN_IF_ERROR(BindNorm(b, 1, K, &ln1_));
  RETURN_IF_ERROR(BindLinear(b, f, "v.patch_embd", K, Ev, /*with_bias=*/true, /*clamps=*/false, &patch_));
  RETURN_IF_ERROR(CheckFloatType("v.patch_embd.bias"));
  RETURN_IF_ERROR(BindNorm(b, 2, Ev, &ln2_));
  RETURN_IF_ERROR(CheckFloatType("v.position_embd.weight"));
  RETURN_IF_ERROR(b.Matrix("v.position_embd.weight", Ev, -1, &pos_, true, 2));
  c.pos_size = pos_.ne[1];
  if (c.pos_size < 1) return InvalidModelError(f.path() + ": empty position table 'v.position_embd.weight'");
  pos_.ne[1] *= 2;  // view the two tables as one matrix of 2*S rows
  pos_.ne[2] = 1;
  RETURN_IF_ERROR(BindNorm(b, 3, Ev, &ln3_));
  RETURN_IF_ERROR(BindLinear(b, f, "mm.input_projection", Ev, -1, false, false, &proj_));
  const int64_t E = proj_.out();
  if (c.proj_dim != 0 && c.proj_dim != E)
    return InvalidModelError(f.path() + ": clip.vision.projection_dim = " + std::to_string(c.proj_dim) +
                                " but mm.input_projection.weight produces " + std::to_string(E) + " values");
  c.proj_dim = E;
  return OkStatus();
}

// Shapes: n = nx * ny patches (row-major over the patch grid), K = 3 * P * P, Ev, E.
Status Gemma4uvEncoder::Encode(const Preprocessed& img, std::vector<float>* out, ThreadPool& pool) const {
  const VisionConfig& c = config_;
  const int64_t P = c.patch_size, nx = img.n_patches_x, ny = img.n_patches_y, n = nx * ny;
  const int64_t K = 3 * P * P, Ev = c.n_embd, E = c.proj_dim, S = c.pos_size;
  if (nx < 1 || ny < 1 || nx > S || ny > S || img.canvas.width != nx * P || img.canvas.height != ny * P ||
      img.planar.size() != static_cast<size_t>(3 * nx * P * ny * P))
    return InvalidArgumentError("gemma4uv projector: canvas does not fit the projector's position table");
  Scratch s;
  std::vector<float> x(static_cast<size_t>(n * Ev));  // [n][Ev]
  {
    // Raw pixels in [0, 1] (no 2v - 1: the first LayerNorm makes the affine map moot).
    std::vector<float> patches(static_cast<size_t>(n * K));  // [n][K], CHW inside a patch
    const int64_t W = img.canvas.width, H = img.canvas.height;
    pool.ParallelFor(n, [&](int64_t t0, int64_t t1, int) {
      for (int64_t t = t0; t < t1; ++t) {
        float* row = patches.data() + t * K;
        const int64_t px = t % nx, py = t / nx;
        for (int64_t ch = 0; ch < 3; ++ch)
          for (int64_t ky = 0; ky < P; ++ky)
            std::copy_n(img.planar.data() + ch * W * H + (py * P + ky) * W + px * P, P, row + (ch * P + ky) * P);
      }
    });
    LayerNorm(patches.data(), patches.data(), ln1_.w.data(), ln1_.b.data(), n, K, kLayerNormEps, pool);
    ApplyLinear(patch_, patches.data(), n, x.data(), pool, s);
  }
  LayerNorm(x.data(), x.data(), ln2_.w.data(), ln2_.b.data(), n, Ev, kLayerNormEps, pool);
  pool.ParallelFor(n, [&](int64_t t0, int64_t t1, int) {
    std::vector<float> row(static_cast<size_t>(Ev));
    for (int64_t t = t0; t < t1; ++t) {
      kernels::GetRow(pos_, t % nx, row.data());      // table 0: patch column
      kernels::Add(x.data() + t * Ev, row.data(), Ev);
      kernels::GetRow(pos_, S + t / nx, row.data());  // table 1: patch row
      kernels::Add(x.data() + t * Ev, row.data(), Ev);
    }
  });
  LayerNorm(x.data(), x.data(), ln3_.w.data(), ln3_.b.data(), n, Ev, kLayerNormEps, pool);
  RmsNormRows(x.data(), x.data(), nullptr, n, Ev, c.eps, pool);  // weightless, the file's eps
  out->assign(static_cast<size_t>(n * E), 0.0f);
  ApplyLinear(proj_, x.data(), n, out->data(), pool, s);
  return OkStatus();
}

}  // namespace

StatusOr<std::unique_ptr<VisionEncoder>> NewGemma4uvEncoder(std::unique_ptr<GgufFile> f, const VisionConfig& c) {
  auto enc = std::make_unique<Gemma4uvEncoder>(std::move(f), c);
  RETURN_IF_ERROR(enc->Bind());
  return std::unique_ptr<VisionEncoder>(std::move(enc));
}

}  // namespace gemrun::vision::internal
