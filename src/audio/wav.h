// Audio clips -> 16 kHz mono float32, the input of the Gemma 4 audio projectors. Decoding with
// libsndfile (WAV: PCM u8/s16/s24/s32, IEEE float; also the other containers libsndfile reads),
// channels averaged and the rate converted exactly as llama.cpp's miniaudio decoder does, so the
// samples (and embeddings) match llama.cpp's: s16 x/2^15, s24 x/2^23, s32 x/2^31,
// u8 x*(2/255)-1, float as is (resample.h for the rate conversion).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"

namespace gemrun::audio {

constexpr int kSampleRate = 16000;                     // what the projectors take
constexpr int kMaxChannels = 64;                       // more is not a sound file we know
constexpr int kMinSourceRate = 1000, kMaxSourceRate = 768000;
constexpr double kMaxSeconds = 600.0;                  // 15000 tokens: beyond any context we run
constexpr uint64_t kMaxFileBytes = uint64_t{256} << 20;

// What the decoder found (for messages and logs).
struct AudioInfo {
  std::string format;      // e.g. "WAV s16", "WAV float32"
  int sample_rate = 0;     // of the source
  int channels = 0;        // of the source
  int64_t frames = 0;      // source frames (per channel)
};

// Decodes an in-memory clip (`name` is used in messages) to 16 kHz mono float32. Errors:
// DataLoss for a truncated, corrupt or non-audio buffer or one without samples, Unimplemented
// for a sample format, channel count, rate or duration beyond the limits above.
StatusOr<std::vector<float>> DecodeAudio(std::span<const uint8_t> bytes, const std::string& name,
                                         AudioInfo* info = nullptr);

// Reads `path` (at most kMaxFileBytes; NotFound when it cannot be opened) and decodes it.
StatusOr<std::vector<float>> LoadAudioFile(const std::string& path, AudioInfo* info = nullptr);

}  // namespace gemrun::audio
