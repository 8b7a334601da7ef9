// Audio projectors of "mmproj" GGUF files. Today `gemma4ua` (Gemma 4 12B, encoder-free): 16 kHz
// samples cut into frames of 640 (the last one zero-padded), a weightless RMSNorm per frame and
// one linear map `mm.a.input_projection` [640, E] into the text model's embedding space; one
// row (one prompt position) per 40 ms. Audio positions are decoded causally.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "gguf/gguf.h"
#include "kernels/tensor_view.h"
#include "model/config.h"
#include "threading/thread_pool.h"

namespace gemrun::audio {

struct AudioConfig {
  std::string type;        // clip.audio.projector_type ("gemma4ua")
  int64_t frame = 640;     // samples per token (clip.audio.embedding_length)
  int64_t proj_dim = 0;    // output width E (the text model's n_embd)
  float eps = 1e-6f;       // RMSNorm epsilon (llama.cpp forces 1e-6 whatever the file says)
};

class AudioEncoder {
 public:
  // Opens `path` and validates its audio part: general.architecture clip, an audio encoder
  // (clip.has_audio_encoder), projector type gemma4ua, frame length 640 and a projection
  // tensor of shape [640, E] in a supported type. Errors name the key or tensor and the value.
  static StatusOr<std::unique_ptr<AudioEncoder>> Load(const std::string& path);
  // The same on an already opened file (tests, fuzzing); takes ownership.
  static StatusOr<std::unique_ptr<AudioEncoder>> FromFile(std::unique_ptr<GgufFile> f);

  const AudioConfig& config() const { return config_; }
  const GgufFile& file() const { return *file_; }

  // Tokens (rows) for n samples: ceil(n / 640).
  int64_t TokensFor(int64_t n_samples) const { return (n_samples + config_.frame - 1) / config_.frame; }

  // InvalidArgument when the projector's output width differs from the text model's or the
  // text model is not Gemma 4.
  Status CheckTextModel(const ModelConfig& text) const;

  // 16 kHz mono samples -> out = [TokensFor(n)][proj_dim]. Deterministic for a thread count;
  // allocates its buffers per call (concurrent calls with separate pools are safe).
  Status Encode(std::span<const float> samples, std::vector<float>* out, ThreadPool& pool) const;

 private:
  AudioEncoder() = default;

  std::unique_ptr<GgufFile> file_;
  AudioConfig config_;
  TensorView proj_;  // [frame, proj_dim]: proj_dim rows of `frame`
};

// Decode + encode one clip file (what `gemrun embed-audio` does).
StatusOr<std::vector<float>> EmbedAudioFile(const AudioEncoder& enc, const std::string& path, ThreadPool& pool,
                                            int64_t* n_tokens);

}  // namespace gemrun::audio
