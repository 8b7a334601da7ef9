// The gemma4ua audio projector (Gemma 4 12B): clip.audio.* validation, the projection binding
// and the forward pass (frames of 640 samples -> weightless RMSNorm -> mm.a.input_projection),
// with ggml's arithmetic (RMSNorm sum of squares in double; activations rounded to the weight's
// vec_dot format by kernels::MatMul, F16 for an F16 projection).
#include <algorithm>

#include "audio/projector.h"
#include "audio/wav.h"
#include "kernels/kernels.h"
#include "kernels/ops.h"
#include "model/weights.h"

namespace gemrun::audio {
namespace {

constexpr int64_t kFrame = 640;  // clip.cpp forces n_mel_bins = 640 samples per token
constexpr int64_t kMaxProjDim = 65536;

StatusOr<AudioConfig> ParseConfig(const GgufFile& f) {
  const std::string& path = f.path();
  ASSIGN_OR_RETURN(std::string arch, f.GetStringOr("general.architecture", ""));
  if (arch != "clip")
    return InvalidModelError(path + ": not a projector file (general.architecture is '" + arch +
                                "', expected 'clip'); pass the mmproj GGUF file with --mmproj");
  ASSIGN_OR_RETURN(bool has_audio, f.GetBoolOr("clip.has_audio_encoder", false));
  ASSIGN_OR_RETURN(std::string type, f.GetStringOr("clip.audio.projector_type", ""));
  if (!has_audio || type.empty())
    return InvalidModelError(path + ": this projector has no audio encoder (clip.has_audio_encoder is " +
                                (has_audio ? "true" : "false/absent") +
                                ", clip.audio.projector_type " + (type.empty() ? "absent" : "'" + type + "'") +
                                "); audio needs a model with an audio projector, e.g. Gemma 4 12B's mmproj");
  if (type != "gemma4ua")
    return UnimplementedError(path + ": audio projector type '" + type + "' is not supported (supported: gemma4ua)");
  AudioConfig c;
  c.type = type;
  ASSIGN_OR_RETURN(c.frame, f.GetIntOr("clip.audio.embedding_length", kFrame));
  if (c.frame != kFrame)
    return InvalidModelError(path + ": clip.audio.embedding_length = " + std::to_string(c.frame) +
                                ", expected 640 (samples per gemma4ua token)");
  ASSIGN_OR_RETURN(c.proj_dim, f.GetIntOr("clip.audio.projection_dim", 0));
  // eps: llama.cpp uses 1e-6 whatever clip.audio.attention.layer_norm_epsilon says (clip.cpp).
  c.eps = 1e-6f;
  return c;
}

}  // namespace

StatusOr<std::unique_ptr<AudioEncoder>> AudioEncoder::Load(const std::string& path) {
  ASSIGN_OR_RETURN(std::unique_ptr<GgufFile> f, GgufFile::Open(path));
  return FromFile(std::move(f));
}

StatusOr<std::unique_ptr<AudioEncoder>> AudioEncoder::FromFile(std::unique_ptr<GgufFile> f) {
  ASSIGN_OR_RETURN(AudioConfig c, ParseConfig(*f));
  const std::string name = "mm.a.input_projection.weight";
  const GgufTensorInfo* t = f->FindTensor(name);
  if (!t) return NotFoundError(f->path() + ": required tensor '" + name + "' is missing");
  const int64_t E = t->ne[1];
  if (E < 1 || E > kMaxProjDim)
    return InvalidModelError(f->path() + ": tensor '" + name + "' has " + std::to_string(E) + " output rows (want 1.." +
                                std::to_string(kMaxProjDim) + ")");
  if (c.proj_dim != 0 && c.proj_dim != E)
    return InvalidModelError(f->path() + ": clip.audio.projection_dim = " + std::to_string(c.proj_dim) + " but tensor '" +
                                name + "' has " + std::to_string(E) + " output rows");
  c.proj_dim = E;
  std::unique_ptr<AudioEncoder> enc(new AudioEncoder());
  WeightBinder b(*f);
  RETURN_IF_ERROR(b.Matrix(name, kFrame, E, &enc->proj_));  // checks [640, E] and the type
  enc->file_ = std::move(f);
  enc->config_ = c;
  return enc;
}

Status AudioEncoder::CheckTextModel(const ModelConfig& text) const {
  if (text.arch != Arch::kGemma4)
    return InvalidModelError("audio projector " + file_->path() + " is a Gemma 4 (gemma4ua) projector, the text model is " +
                                text.arch_name);
  if (config_.proj_dim != text.n_embd)
    return InvalidModelError("audio projector " + file_->path() + " produces embeddings of size " +
                                std::to_string(config_.proj_dim) + ", but the text model's embedding size is " +
                                std::to_string(text.n_embd) + "; use the mmproj file made for this model");
  return OkStatus();
}

Status AudioEncoder::Encode(std::span<const float> samples, std::vector<float>* out, ThreadPool& pool) const {
  const int64_t n = TokensFor(static_cast<int64_t>(samples.size())), E = config_.proj_dim;
  if (n == 0) return InvalidArgumentError("the audio clip has no samples");
  std::vector<float> x(static_cast<size_t>(n * kFrame), 0.0f);  // [n][640], the last frame zero-padded
  std::copy(samples.begin(), samples.end(), x.begin());
  kernels::RmsNorm(x.data(), x.data(), nullptr, n, kFrame, config_.eps, kFrame, kFrame, pool);
  out->assign(static_cast<size_t>(n * E), 0.0f);
  kernels::MatMulScratch scratch;
  kernels::MatMul(proj_, x.data(), n, kFrame, out->data(), E, pool, scratch);
  return OkStatus();
}

StatusOr<std::vector<float>> EmbedAudioFile(const AudioEncoder& enc, const std::string& path, ThreadPool& pool,
                                            int64_t* n_tokens) {
  ASSIGN_OR_RETURN(std::vector<float> samples, LoadAudioFile(path));
  std::vector<float> out;
  RETURN_IF_ERROR(enc.Encode(samples, &out, pool));
  if (n_tokens) *n_tokens = enc.TokensFor(static_cast<int64_t>(samples.size()));
  return out;
}

}  // namespace gemrun::audio
