// Audio in OpenAI chat requests: {"type": "input_audio", "input_audio": {"data": BASE64,
// "format": "wav"}} parts of user messages (Gemma 4 12B's gemma4ua projector, with --mmproj).
// Parsing (400s naming the field), the encoder as a service shared by HTTP threads, and the
// slot text. A clip's rows are one causal batch, so a clip is at most kMaxServerAudioSeconds.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "audio/projector.h"
#include "engine/engine.h"
#include "server/api.h"

namespace gemrun::server {

constexpr double kMaxServerAudioSeconds = 30.0;  // 750 tokens per clip: the scheduler's batch

// Where a clip's rows go in ChatMessage::content after parsing (like kImageSlot for images);
// ExpandAudioSlots turns it into "<|audio>" kImageSlot "<audio|>". Request text holding it is
// refused.
constexpr std::string_view kAudioSlot = "\x1fgemrun-audio\x1f";

// Parses an input_audio part at `p` into an ImageInput with audio = true and the decoded bytes
// (format wav, mp3 or flac; standard base64). Counts against max_media with the images.
std::optional<ApiError> ParseAudioPart(const Json& part, const std::string& p, size_t max_media,
                                       std::vector<ImageInput>* media);

// 400 naming `param` when `text` contains kAudioSlot.
std::optional<ApiError> CheckNoAudioSlot(std::string_view text, const std::string& param);

// Replaces each kAudioSlot with AudioSlotText (after ExpandImageSlots: it holds kImageSlot).
std::string ExpandAudioSlots(const std::string& content);

class AudioService {
 public:
  // Loads the audio part of `mmproj`; NotFound/InvalidArgument/Unimplemented when the file has
  // none or it does not fit the text model.
  static StatusOr<std::unique_ptr<AudioService>> Create(const Engine& e, const std::string& mmproj, int threads);

  int64_t max_tokens() const;  // rows of the longest clip accepted
  const std::string& path() const { return path_; }

  // Decodes and encodes one clip into a causal segment. Thread-safe: one clip at a time.
  // The client's faults come back as 400s naming `param` (code invalid_audio): undecodable,
  // beyond the decoder's limits, or longer than kMaxServerAudioSeconds.
  std::optional<ApiError> Encode(std::span<const uint8_t> bytes, const std::string& param, PromptSegment* out,
                                 double* encode_ms) const;

 private:
  AudioService() = default;
  std::unique_ptr<audio::AudioEncoder> enc_;
  std::unique_ptr<ThreadPool> pool_;
  std::string path_;
  mutable std::mutex mu_;
};

}  // namespace gemrun::server
