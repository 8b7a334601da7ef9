// Rate conversion as llama.cpp's miniaudio decoder does it: Butterworth low-pass + linear
// interpolation (libsamplerate SRC_LINEAR), see resample.h for the model and why.
#include "audio/resample.h"

#include <samplerate.h>

#include <cmath>
#include <numbers>
#include <numeric>

namespace gemrun::audio {
namespace {

// One second-order low-pass section (RBJ cookbook form), coefficients normalised by a0 and
// rounded to float, state in float: the arithmetic of miniaudio's f32 biquad.
struct Biquad {
  float b0, b1, b2, a1, a2;
  float r1 = 0, r2 = 0;

  Biquad(double fs, double fc, double q) {
    const double w = 2 * std::numbers::pi * fc / fs, s = std::sin(w), c = std::cos(w), a = s / (2 * q);
    const double a0 = 1 + a;
    b0 = static_cast<float>((1 - c) / 2 / a0);
    b1 = static_cast<float>((1 - c) / a0);
    b2 = static_cast<float>((1 - c) / 2 / a0);
    a1 = static_cast<float>(-2 * c / a0);
    a2 = static_cast<float>((1 - a) / a0);
  }
  float Step(float x) {
    const float y = b0 * x + r1;
    r1 = b1 * x - a1 * y + r2;
    r2 = b2 * x - a2 * y;
    return y;
  }
};

// miniaudio's default order-4 low-pass: two sections with the Butterworth Q of each pole pair,
// at the reduced rates fs = max(in, out), fc = min(in, out) / 2 (only their ratio matters).
void LowPass(std::vector<float>& x, int64_t fi, int64_t fo) {
  const double fs = static_cast<double>(std::max(fi, fo)), fc = std::min(fi, fo) * 0.5;
  constexpr int kOrder = 4;
  for (int k = 0; k < kOrder / 2; ++k) {
    const double angle = (1 + 2 * k) * (std::numbers::pi / (kOrder * 2));
    Biquad bq(fs, fc, 1 / (2 * std::cos(angle)));
    for (float& v : x) v = bq.Step(v);
  }
}

}  // namespace

int64_t ResampledLength(int64_t n, int rate_in, int rate_out) {
  if (n <= 0 || rate_in <= 0 || rate_out <= 0) return 0;
  if (rate_in == rate_out) return n;
  // miniaudio's estimate, on the unreduced rates; it may promise one sample more than the
  // resampler produces (then that sample stays zero in llama.cpp's buffer).
  int64_t out = n * rate_out / rate_in;
  const int64_t from_frac = out * (rate_in / rate_out) / rate_out;
  const int64_t prelim = out * (rate_in % rate_out) + from_frac;
  if (prelim <= n) out += 1;
  return out;
}

StatusOr<std::vector<float>> Resample(std::vector<float> x, int rate_in, int rate_out) {
  if (rate_in == rate_out || x.empty()) return x;
  if (rate_in <= 0 || rate_out <= 0) return InvalidArgumentError("invalid sample rates " + std::to_string(rate_in) + " -> " + std::to_string(rate_out));
  const int64_t g = std::gcd(rate_in, rate_out), fi = rate_in / g, fo = rate_out / g;
  const int64_t n = static_cast<int64_t>(x.size());
  const bool down = fi > fo;
  if (down) LowPass(x, fi, fo);
  const double ratio = static_cast<double>(rate_out) / rate_in;
  // Samples the resampler produces: output k needs input floor(k*fi/fo), so k*fi < n*fo.
  const int64_t produced = (n * fo + fi - 1) / fi;
  std::vector<float> y(static_cast<size_t>(produced + 16), 0.0f);
  SRC_DATA d{};
  d.data_in = x.data();
  d.data_out = y.data();
  d.input_frames = static_cast<long>(n);
  d.output_frames = static_cast<long>(y.size());
  d.end_of_input = 1;
  d.src_ratio = ratio;
  if (int err = src_simple(&d, SRC_LINEAR, 1); err != 0)
    return InternalError(std::string("libsamplerate: ") + src_strerror(err) + " (" + std::to_string(rate_in) + " -> " +
                         std::to_string(rate_out) + " Hz)");
  y.resize(static_cast<size_t>(std::min<int64_t>(d.output_frames_gen, produced)));
  y.resize(static_cast<size_t>(produced), 0.0f);
  // Outputs before input sample 0 (k*fi < fo): miniaudio interpolates from silence, x[0]*frac;
  // libsamplerate holds x[0] there.
  for (int64_t k = 0; k < produced && k * fi < fo; ++k)
    y[static_cast<size_t>(k)] = x[0] * (static_cast<float>(k * fi) / static_cast<float>(fo));
  if (!down) LowPass(y, fi, fo);
  y.resize(static_cast<size_t>(ResampledLength(n, rate_in, rate_out)), 0.0f);
  return y;
}

}  // namespace gemrun::audio
