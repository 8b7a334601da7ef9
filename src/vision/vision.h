// Vision projectors ("mmproj" GGUF files): Gemma 3 SigLIP (`gemma3`), Gemma 4 variable
// resolution (`gemma4v`) and the encoder-free Gemma 4 12B projector (`gemma4uv`). Load validates the file once into an immutable config and binds the
// weights; Preprocess turns decoded pixels into the encoder's canvas; Encode runs the tower and
// projector and returns the rows that replace token embeddings at the image positions.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "gguf/gguf.h"
#include "model/config.h"
#include "threading/thread_pool.h"
#include "vision/image.h"
#include "vision/preprocess.h"

namespace gemrun::vision {

enum class ProjectorType { kGemma3, kGemma4v, kGemma4uv };
const char* ProjectorTypeName(ProjectorType t);

// MLP activation of the tower. llama.cpp picks it from `clip.use_gelu`: true -> tanh-GELU,
// absent/false -> quick-GELU x*sigmoid(1.702x) (what its converter's Gemma 4 files get).
enum class VisionActivation { kGeluTanh, kGeluQuick };

struct VisionConfig {
  ProjectorType type = ProjectorType::kGemma3;
  int64_t image_size = 0;  // gemma3: square input side; gemma4v/gemma4uv: unused
  int64_t patch_size = 0;  // pixels per patch side (gemma4uv: file value * scale_factor = 48)
  int64_t n_embd = 0;      // tower width Ev
  int64_t n_ff = 0;        // tower MLP width Fv (gemma4uv: 0)
  int64_t n_layer = 0;     // (gemma4uv: 0)
  int n_head = 0;
  int head_dim = 0;        // Ev / n_head
  int64_t proj_dim = 0;    // output width E (the text model's n_embd)
  float eps = 1e-6f;
  float mean[3] = {0, 0, 0};
  float std[3] = {1, 1, 1};
  VisionActivation act = VisionActivation::kGeluTanh;
  bool act_from_file = false;  // clip.use_gelu was present
  int64_t pool = 0;            // average-pooling kernel (n_merge): gemma3 4, gemma4v 3, gemma4uv 1
  float rope_theta = 100.0f;   // gemma4v 2-D RoPE base
  int64_t pos_size = 0;        // gemma3: position rows (= patches); gemma4v: table length S
  int64_t default_min_tokens = 0, default_max_tokens = 0;  // gemma4v/gemma4uv budget (40, 280)
};

// User overrides of the image-token budget (0 = the projector's default). gemma3 ignores them.
struct TokenBudget {
  int64_t min_tokens = 0;
  int64_t max_tokens = 0;
};

// A preprocessed image: the 8-bit canvas (what the golden PNGs show) and its planar floats.
struct Preprocessed {
  Image canvas;               // [height][width][3], the letterboxed/resized pixels
  std::vector<float> planar;  // [3][height][width] normalised
  int64_t n_patches_x = 0, n_patches_y = 0;
  int64_t n_tokens = 0;       // rows Encode produces
};

class VisionEncoder {
 public:
  virtual ~VisionEncoder() = default;

  // Opens and validates an mmproj file. Wrong architecture, unsupported projector type,
  // implausible hyper-parameters, missing or mis-shaped tensors are errors naming the culprit.
  // `act` overrides the file's MLP activation (nullptr: llama.cpp's rule from clip.use_gelu).
  static StatusOr<std::unique_ptr<VisionEncoder>> Load(const std::string& path,
                                                       const VisionActivation* act = nullptr);

  const VisionConfig& config() const { return config_; }
  const GgufFile& file() const { return *file_; }

  // Errors (InvalidArgument) when the projector's output width differs from the text model's.
  Status CheckTextModel(const ModelConfig& text) const;

  // Canvas size and token count for a decoded image of w x h pixels under `budget`.
  // InvalidArgument for a bad budget or a canvas the position table cannot index.
  StatusOr<Size> CanvasSize(int64_t w, int64_t h, const TokenBudget& budget) const;
  StatusOr<Preprocessed> Preprocess(const Image& img, const TokenBudget& budget) const;

  // Runs the tower and projector: out = [n_tokens][proj_dim] (row i = image token i, row-major
  // over the pooled grid). Deterministic for a given thread count; allocates its
  // activations per call, so concurrent calls with separate pools are safe.
  virtual Status Encode(const Preprocessed& img, std::vector<float>* out, ThreadPool& pool) const = 0;

 protected:
  std::unique_ptr<GgufFile> file_;
  VisionConfig config_;
};

// Decode + preprocess + encode in one call (what `gemrun embed-image` does).
StatusOr<std::vector<float>> EmbedImageFile(const VisionEncoder& enc, const std::string& image_path,
                                            const TokenBudget& budget, ThreadPool& pool,
                                            int64_t* n_tokens);

// Parses a user's activation choice: "auto" (nullopt: the file decides as in llama.cpp),
// "tanh" or "quick". InvalidArgument otherwise.
StatusOr<std::optional<VisionActivation>> ParseActivation(const std::string& s);

// How the positions of one image attend to each other (vision.md §3.6, gemma4-12b.md §2 item 6).
enum class ImageAttention {
  kCausal,         // plain causal
  kBidirectional,  // the whole image on every layer (llama.cpp for every Gemma; Gemma 3's reference)
  kSliding,        // the whole image on sliding-window layers, causal on full-attention layers
};

// The family's reference: Gemma 3 bidirectional; Gemma 4 with per-layer embeddings (E2B/E4B)
// causal; other Gemma 4 models (12B, 26B-A4B, 31B: use_bidirectional_attention = "vision",
// which the GGUF does not carry) sliding. llama.cpp 3f545becc uses bidirectional for all.
ImageAttention DefaultImageAttention(const ModelConfig& text);
// The --image-attention value: "" (the default above), "causal", "bidirectional", "sliding".
StatusOr<ImageAttention> ParseImageAttention(const std::string& s, const ModelConfig& text);
// The Batch / PromptSegment flags for a rule.
inline void SetAttentionFlags(ImageAttention a, bool* non_causal, bool* global_causal) {
  *non_causal = a != ImageAttention::kCausal;
  *global_causal = a == ImageAttention::kSliding;
}

}  // namespace gemrun::vision
