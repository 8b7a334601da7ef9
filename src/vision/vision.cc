// Projector loading (clip.* metadata -> validated VisionConfig), preprocessing entry points
// and the image-attention default. The towers themselves live in siglip.cc and gemma4v.cc.
#include "vision/vision.h"

#include <cmath>

#include "vision/encoders.h"

namespace gemrun::vision {
namespace {

constexpr int64_t kMaxBudgetTokens = 4096;  // gemma4v: largest accepted --image-max-tokens

Status Implausible(const std::string& path, const std::string& key, int64_t v, const std::string& want) {
  return InvalidModelError(path + ": " + key + " = " + std::to_string(v) + " is implausible (" + want + ")");
}

StatusOr<VisionConfig> ParseConfig(const GgufFile& f) {
  const std::string& path = f.path();
  VisionConfig c;
  ASSIGN_OR_RETURN(std::string arch, f.GetStringOr("general.architecture", ""));
  if (arch != "clip")
    return InvalidModelError(path + ": not a vision projector (general.architecture is '" + arch +
                                "', expected 'clip'); pass the mmproj GGUF file with --mmproj");
  ASSIGN_OR_RETURN(bool has_vision, f.GetBoolOr("clip.has_vision_encoder", true));
  if (!has_vision) return InvalidModelError(path + ": this projector has no vision encoder (clip.has_vision_encoder = false)");
  ASSIGN_OR_RETURN(std::string type, f.GetStringOr("clip.vision.projector_type", ""));
  if (type.empty()) {
    ASSIGN_OR_RETURN(type, f.GetStringOr("clip.projector_type", ""));
  }
  if (type == "gemma3") {
    c.type = ProjectorType::kGemma3;
  } else if (type == "gemma4v") {
    c.type = ProjectorType::kGemma4v;
  } else if (type == "gemma4uv") {
    c.type = ProjectorType::kGemma4uv;
  } else {
    return UnimplementedError(path + ": projector type '" + (type.empty() ? std::string("(missing)") : type) +
                              "' is not supported (supported: gemma3, gemma4v, gemma4uv)");
  }
  const bool tower = c.type != ProjectorType::kGemma4uv;  // gemma4uv: encoder-free, zero layers
  const std::string v = "clip.vision.";
  ASSIGN_OR_RETURN(c.image_size, f.GetIntOr(v + "image_size", 0));
  ASSIGN_OR_RETURN(c.patch_size, f.GetInt(v + "patch_size"));
  ASSIGN_OR_RETURN(c.n_embd, f.GetInt(v + "embedding_length"));
  ASSIGN_OR_RETURN(c.n_ff, tower ? f.GetInt(v + "feed_forward_length") : f.GetIntOr(v + "feed_forward_length", 0));
  ASSIGN_OR_RETURN(c.n_layer, tower ? f.GetInt(v + "block_count") : f.GetIntOr(v + "block_count", 0));
  ASSIGN_OR_RETURN(int64_t n_head, tower ? f.GetInt(v + "attention.head_count") : f.GetIntOr(v + "attention.head_count", 0));
  ASSIGN_OR_RETURN(c.proj_dim, f.GetIntOr(v + "projection_dim", 0));
  ASSIGN_OR_RETURN(double eps, f.GetFloatOr(v + "attention.layer_norm_epsilon", 1e-6));
  c.eps = static_cast<float>(eps);
  if (c.patch_size < 1 || c.patch_size > 1024) return Implausible(path, v + "patch_size", c.patch_size, "1..1024");
  if (c.n_embd < 1 || c.n_embd > 65536) return Implausible(path, v + "embedding_length", c.n_embd, "1..65536");
  if (tower) {
    if (c.n_ff < 1 || c.n_ff > (1 << 20)) return Implausible(path, v + "feed_forward_length", c.n_ff, "1..2^20");
    if (c.n_layer < 1 || c.n_layer > 1024) return Implausible(path, v + "block_count", c.n_layer, "1..1024");
    if (n_head < 1 || n_head > 1024 || c.n_embd % n_head != 0)
      return Implausible(path, v + "attention.head_count", n_head, "must divide embedding_length " + std::to_string(c.n_embd));
    c.n_head = static_cast<int>(n_head);
    c.head_dim = static_cast<int>(c.n_embd / n_head);
  } else if (c.n_layer != 0 || n_head != 0) {
    return InvalidModelError(path + ": a gemma4uv projector has no encoder layers, but " + v + "block_count = " +
                                std::to_string(c.n_layer) + " and " + v + "attention.head_count = " +
                                std::to_string(n_head) + "; the file is not a llama.cpp gemma4uv mmproj");
  }
  if (!(c.eps > 0.0f && c.eps < 1.0f))
    return InvalidModelError(path + ": " + v + "attention.layer_norm_epsilon = " + std::to_string(eps) + " is implausible");
  for (const char* key : {"image_mean", "image_std"}) {
    if (!f.Has(v + key)) continue;
    ASSIGN_OR_RETURN(std::vector<float> a, f.GetFloatArray(v + key));
    if (a.size() != 3) return InvalidModelError(path + ": " + v + key + " has " + std::to_string(a.size()) + " values, expected 3");
    float* dst = std::string(key) == "image_mean" ? c.mean : c.std;
    for (int i = 0; i < 3; ++i) dst[i] = a[i];
  }
  for (int i = 0; i < 3; ++i)
    if (!std::isfinite(c.mean[i]) || !std::isfinite(c.std[i]) || c.std[i] == 0.0f)
      return InvalidModelError(path + ": " + v + "image_mean/image_std must be finite with std != 0");
  c.act_from_file = f.Has("clip.use_gelu");
  ASSIGN_OR_RETURN(bool use_gelu, f.GetBoolOr("clip.use_gelu", false));
  c.act = use_gelu ? VisionActivation::kGeluTanh : VisionActivation::kGeluQuick;
  c.pool = c.type == ProjectorType::kGemma3 ? 4 : 3;
  ASSIGN_OR_RETURN(c.pool, f.GetIntOr(v + "projector.scale_factor", c.pool));
  if (c.pool < 1 || c.pool > 64) return Implausible(path, v + "projector.scale_factor", c.pool, "1..64");
  if (c.type == ProjectorType::kGemma3) {
    if (c.image_size < c.patch_size || c.image_size > 8192 || c.image_size % c.patch_size != 0)
      return Implausible(path, v + "image_size", c.image_size, "a multiple of patch_size " + std::to_string(c.patch_size) + ", at most 8192");
    const int64_t np = c.image_size / c.patch_size;
    if (np < c.pool)
      return InvalidModelError(path + ": " + std::to_string(np) + " patches per side cannot be pooled " +
                                  std::to_string(c.pool) + " x " + std::to_string(c.pool));
    c.pos_size = np * np;
  } else {
    // llama.cpp 3f545becc's budget for gemma4v and gemma4uv (was 252..280 before).
    c.default_min_tokens = 40;
    c.default_max_tokens = 280;
  }
  if (c.type == ProjectorType::kGemma4uv) {
    // llama.cpp: patch = patch_size * n_merge (16 * 3 = 48-pixel patches), then n_merge = 1:
    // each patch is one token, no pooling.
    if (c.patch_size * c.pool > 1024)
      return Implausible(path, v + "patch_size", c.patch_size, "patch_size * scale_factor at most 1024");
    c.patch_size *= c.pool;
    c.pool = 1;
  }
  return c;
}

}  // namespace

const char* ProjectorTypeName(ProjectorType t) {
  switch (t) {
    case ProjectorType::kGemma3: return "gemma3";
    case ProjectorType::kGemma4v: return "gemma4v";
    case ProjectorType::kGemma4uv: return "gemma4uv";
  }
  return "?";
}

StatusOr<std::unique_ptr<VisionEncoder>> VisionEncoder::Load(const std::string& path, const VisionActivation* act) {
  ASSIGN_OR_RETURN(std::unique_ptr<GgufFile> f, GgufFile::Open(path));
  ASSIGN_OR_RETURN(VisionConfig c, ParseConfig(*f));
  if (act) c.act = *act;
  if (c.type == ProjectorType::kGemma3) return internal::NewGemma3Encoder(std::move(f), c);
  if (c.type == ProjectorType::kGemma4uv) return internal::NewGemma4uvEncoder(std::move(f), c);
  return internal::NewGemma4vEncoder(std::move(f), c);
}

Status VisionEncoder::CheckTextModel(const ModelConfig& text) const {
  if (config_.proj_dim != text.n_embd)
    return InvalidModelError("projector " + file_->path() + " produces embeddings of size " +
                                std::to_string(config_.proj_dim) + ", but the text model's embedding size is " +
                                std::to_string(text.n_embd) + "; use the mmproj file made for this model");
  if (config_.type == ProjectorType::kGemma3 && text.arch != Arch::kGemma3)
    return InvalidModelError("projector " + file_->path() + " is a Gemma 3 (gemma3) projector, the text model is " + text.arch_name);
  if (config_.type != ProjectorType::kGemma3 && text.arch != Arch::kGemma4)
    return InvalidModelError("projector " + file_->path() + " is a Gemma 4 (" + ProjectorTypeName(config_.type) +
                                ") projector, the text model is " + text.arch_name);
  return OkStatus();
}

StatusOr<Size> VisionEncoder::CanvasSize(int64_t w, int64_t h, const TokenBudget& budget) const {
  const VisionConfig& c = config_;
  if (c.type == ProjectorType::kGemma3) return Size{c.image_size, c.image_size};
  int64_t lo = budget.min_tokens > 0 ? budget.min_tokens : c.default_min_tokens;
  int64_t hi = budget.max_tokens > 0 ? budget.max_tokens : c.default_max_tokens;
  // One bound given alone moves the other default out of its way.
  if (budget.min_tokens <= 0 && lo > hi) lo = hi;
  if (budget.max_tokens <= 0 && hi < lo) hi = lo;
  if (budget.min_tokens < 0 || budget.max_tokens < 0 || hi > kMaxBudgetTokens || lo > hi)
    return InvalidArgumentError("image token budget [" + std::to_string(lo) + ", " + std::to_string(hi) +
                                "] is invalid (need 1 <= min <= max <= " + std::to_string(kMaxBudgetTokens) + ")");
  const int64_t align = c.patch_size * c.pool, area = align * align;
  const Size s = SmartResize(w, h, align, lo * area, hi * area);
  if (s.width / c.patch_size > c.pos_size || s.height / c.patch_size > c.pos_size)
    return InvalidArgumentError("an image of " + std::to_string(w) + " x " + std::to_string(h) + " pixels becomes a " +
                                std::to_string(s.width / c.patch_size) + " x " + std::to_string(s.height / c.patch_size) +
                                " patch grid, beyond the projector's position table of " + std::to_string(c.pos_size) +
                                " per side; crop it to a less elongated aspect ratio or lower --image-max-tokens");
  return s;
}

StatusOr<Preprocessed> VisionEncoder::Preprocess(const Image& img, const TokenBudget& budget) const {
  if (img.width <= 0 || img.height <= 0 || img.rgb.size() != static_cast<size_t>(img.width * img.height * 3))
    return InvalidArgumentError("empty or inconsistent image");
  ASSIGN_OR_RETURN(Size s, CanvasSize(img.width, img.height, budget));
  Preprocessed p;
  p.canvas = Letterbox(img, s);
  p.planar = NormalizePlanar(p.canvas, config_.mean, config_.std);
  p.n_patches_x = s.width / config_.patch_size;
  p.n_patches_y = s.height / config_.patch_size;
  p.n_tokens = (p.n_patches_x / config_.pool) * (p.n_patches_y / config_.pool);
  return p;
}

StatusOr<std::vector<float>> EmbedImageFile(const VisionEncoder& enc, const std::string& image_path,
                                            const TokenBudget& budget, ThreadPool& pool, int64_t* n_tokens) {
  ASSIGN_OR_RETURN(Image img, LoadImageFile(image_path));
  ASSIGN_OR_RETURN(Preprocessed p, enc.Preprocess(img, budget));
  std::vector<float> out;
  RETURN_IF_ERROR(enc.Encode(p, &out, pool));
  if (n_tokens) *n_tokens = p.n_tokens;
  return out;
}

StatusOr<std::optional<VisionActivation>> ParseActivation(const std::string& s) {
  if (s.empty() || s == "auto") return std::optional<VisionActivation>();
  if (s == "tanh") return std::optional<VisionActivation>(VisionActivation::kGeluTanh);
  if (s == "quick") return std::optional<VisionActivation>(VisionActivation::kGeluQuick);
  return InvalidArgumentError("vision activation '" + s + "' is not one of auto, tanh, quick");
}

ImageAttention DefaultImageAttention(const ModelConfig& text) {
  if (text.arch == Arch::kGemma3) return ImageAttention::kBidirectional;
  return text.n_embd_per_layer == 0 ? ImageAttention::kSliding : ImageAttention::kCausal;
}

StatusOr<ImageAttention> ParseImageAttention(const std::string& s, const ModelConfig& text) {
  if (s.empty()) return DefaultImageAttention(text);
  if (s == "causal") return ImageAttention::kCausal;
  if (s == "bidirectional") return ImageAttention::kBidirectional;
  if (s == "sliding") return ImageAttention::kSliding;
  return InvalidArgumentError("image attention '" + s + "' is not one of causal, bidirectional, sliding");
}

namespace internal {

Status BindPatchEmbedding(const GgufFile& f, int64_t P, int64_t Ev, TensorView* out) {
  const std::string name = "v.patch_embd.weight";
  const GgufTensorInfo* t = f.FindTensor(name);
  if (!t) return NotFoundError(f.path() + ": required tensor '" + name + "' is missing");
  if (t->ne[0] != P || t->ne[1] != P || t->ne[2] != 3 || t->ne[3] != Ev)
    return InvalidArgumentError(f.path() + ": tensor '" + name + "' has shape [" + std::to_string(t->ne[0]) + ", " +
                                std::to_string(t->ne[1]) + ", " + std::to_string(t->ne[2]) + ", " +
                                std::to_string(t->ne[3]) + "], expected [" + std::to_string(P) + ", " +
                                std::to_string(P) + ", 3, " + std::to_string(Ev) + "]");
  if (t->type != DType::kF32 && t->type != DType::kF16 && t->type != DType::kBF16)
    return UnimplementedError(f.path() + ": tensor '" + name + "' has type " + DTypeName(t->type) +
                              "; the patch embedding must be F32, F16 or BF16");
  TensorView v = f.View(*t);
  v.ne[0] = P * P * 3;
  v.ne[1] = Ev;
  v.ne[2] = v.ne[3] = 1;
  v.nb[1] = RowBytes(t->type, v.ne[0]);
  v.nb[2] = v.nb[3] = v.nb[1] * Ev;
  *out = v;
  return OkStatus();
}

}  // namespace internal
}  // namespace gemrun::vision
