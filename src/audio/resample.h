// Sample-rate conversion of mono float32 to 16 kHz, reproducing llama.cpp's decoder (miniaudio
// 0.11's linear resampler): a 4th-order Butterworth low-pass (two biquads, float32, direct form
// II transposed, cutoff at half the lower rate) on the input when downsampling, on the output
// when upsampling, and linear interpolation at input position k*in/out - 1 from a silent
// sample before the first one. libsamplerate's SRC_LINEAR does the interpolation; only the
// first outputs (positions before sample 0, where libsamplerate holds the first sample and
// miniaudio fades in from silence) are recomputed. The output has miniaudio's length, see
// ResampledLength.
#pragma once

#include <cstdint>
#include <vector>

#include "base/status.h"

namespace gemrun::audio {

// How many samples llama.cpp's decoder returns for `n` input samples (miniaudio's
// ma_calculate_frame_count_after_resampling; samples the resampler cannot produce are zero).
int64_t ResampledLength(int64_t n, int rate_in, int rate_out);

// x at rate_in -> rate_out (x itself when the rates are equal). Internal for a libsamplerate
// failure (none expected for valid rates).
StatusOr<std::vector<float>> Resample(std::vector<float> x, int rate_in, int rate_out);

}  // namespace gemrun::audio
