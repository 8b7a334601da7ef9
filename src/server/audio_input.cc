// input_audio parts, the audio encoding service and audio slots (see audio_input.h).
#include "server/audio_input.h"

#include <chrono>

#include "audio/wav.h"
#include "engine/image_prompt.h"
#include "server/image_input.h"

namespace gemrun::server {

std::optional<ApiError> ParseAudioPart(const Json& part, const std::string& p, size_t max_media,
                                       std::vector<ImageInput>* media) {
  if (media->size() >= max_media)
    return ApiError::BadRequest("at most " + std::to_string(max_media) + " images and audio clips per request ('" + p +
                                "' is one too many)", p, "invalid_value");
  if (auto k = FirstUnknownKey(part, {"type", "input_audio"})) return ApiError::Unsupported(p + "." + *k);
  const std::string ap = p + ".input_audio";
  if (!part.contains("input_audio") || !part["input_audio"].is_object())
    return ApiError::BadRequest("'" + ap + "' must be an object with 'data' (base64) and 'format'", ap,
                                part.contains("input_audio") ? "invalid_type" : "missing_required_parameter");
  const Json& ia = part["input_audio"];
  if (auto k = FirstUnknownKey(ia, {"data", "format"})) return ApiError::Unsupported(ap + "." + *k);
  std::string data, format;
  for (const char* key : {"data", "format"})
    if (!ia.contains(key) || ia[key].is_null())
      return ApiError::BadRequest("'" + ap + "." + key + "' is required", ap + "." + key, "missing_required_parameter");
  if (auto e = GetString(ia, "format", ap + ".format", &format)) return e;
  if (format != "wav" && format != "mp3" && format != "flac")
    return ApiError::BadRequest("'" + ap + ".format' is '" + format + "'; supported: wav, mp3, flac", ap + ".format",
                                "invalid_value");
  if (auto e = GetString(ia, "data", ap + ".data", &data)) return e;
  ImageInput in;
  in.param = ap + ".data";
  in.audio = true;
  if (auto e = DecodeBase64(data, in.param, &in.bytes)) return e;
  if (in.bytes.size() > audio::kMaxFileBytes)
    return ApiError::BadRequest("'" + in.param + "' holds " + std::to_string(in.bytes.size() >> 20) + " MiB; the limit is " +
                                std::to_string(audio::kMaxFileBytes >> 20) + " MiB", in.param, "invalid_audio");
  media->push_back(std::move(in));
  return std::nullopt;
}

std::optional<ApiError> CheckNoAudioSlot(std::string_view text, const std::string& param) {
  if (text.find(kAudioSlot) == std::string_view::npos) return std::nullopt;
  return ApiError::BadRequest("'" + param + "' contains a reserved control sequence", param, "invalid_value");
}

std::string ExpandAudioSlots(const std::string& content) {
  const std::string slot = AudioSlotText(ChatFormat::kGemma4);
  std::string out;
  size_t pos = 0;
  for (size_t at; (at = content.find(kAudioSlot, pos)) != std::string::npos; pos = at + kAudioSlot.size())
    out += content.substr(pos, at - pos) + slot;
  return out + content.substr(pos);
}

StatusOr<std::unique_ptr<AudioService>> AudioService::Create(const Engine& e, const std::string& mmproj, int threads) {
  ASSIGN_OR_RETURN(auto enc, audio::AudioEncoder::Load(mmproj));
  RETURN_IF_ERROR(enc->CheckTextModel(e.model().config()));
  std::unique_ptr<AudioService> s(new AudioService());
  s->enc_ = std::move(enc);
  s->pool_ = std::make_unique<ThreadPool>(threads);
  s->path_ = mmproj;
  return s;
}

int64_t AudioService::max_tokens() const {
  return enc_->TokensFor(static_cast<int64_t>(kMaxServerAudioSeconds * audio::kSampleRate));
}

std::optional<ApiError> AudioService::Encode(std::span<const uint8_t> bytes, const std::string& param, PromptSegment* out,
                                             double* encode_ms) const {
  const auto t0 = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> l(mu_);  // also bounds decoded-sample memory to one clip
  auto samples = audio::DecodeAudio(bytes, param);
  if (!samples.ok()) {
    if (samples.status().code() == StatusCode::kInternal)
      return ApiError::Of(500, "server_error", "decoding '" + param + "' failed: " + samples.status().message());
    return ApiError::BadRequest(samples.status().message(), param, "invalid_audio");
  }
  const double secs = static_cast<double>(samples->size()) / audio::kSampleRate;
  if (secs > kMaxServerAudioSeconds)
    return ApiError::BadRequest("'" + param + "' is " + std::to_string(static_cast<int>(secs)) + " s of audio; this server takes " +
                                std::to_string(static_cast<int>(kMaxServerAudioSeconds)) + " s per clip (split it into several parts)",
                                param, "invalid_audio");
  PromptSegment seg;
  if (Status st = enc_->Encode(*samples, &seg.embd, *pool_); !st.ok())
    return ApiError::Of(500, "server_error", "encoding '" + param + "' failed: " + st.message());
  seg.n_rows = enc_->TokensFor(static_cast<int64_t>(samples->size()));
  seg.non_causal = false;  // audio is decoded causally
  *out = std::move(seg);
  if (encode_ms) *encode_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return std::nullopt;
}

}  // namespace gemrun::server
