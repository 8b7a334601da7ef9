// Shared helpers for the audio tests: an in-memory WAV writer (PCM u8/s16/s24/s32, float32),
// and miniaudio's resampler written out plainly as the reference for audio/resample.cc.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <numbers>
#include <numeric>
#include <string>
#include <vector>

namespace gemrun::audio::testing {

// A RIFF/WAVE file: format tag 1 (PCM, bits 8/16/24/32) or 3 (float, bits 32); `samples` are
// the raw interleaved sample values (ints for PCM, floats for tag 3).
inline std::vector<uint8_t> MakeWav(int tag, int bits, int channels, int rate, const std::vector<double>& samples) {
  std::vector<uint8_t> data;
  for (double v : samples) {
    if (tag == 3) {
      const float f = static_cast<float>(v);
      uint8_t b[4];
      std::memcpy(b, &f, 4);
      data.insert(data.end(), b, b + 4);
    } else {
      const int64_t x = static_cast<int64_t>(v);
      for (int i = 0; i < bits / 8; ++i) data.push_back(static_cast<uint8_t>((x >> (8 * i)) & 0xff));
    }
  }
  std::vector<uint8_t> out;
  auto put = [&out](uint64_t v, int n) { for (int i = 0; i < n; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i))); };
  auto tag4 = [&out](const char* s) { out.insert(out.end(), s, s + 4); };
  tag4("RIFF");
  put(4 + 8 + 16 + 8 + data.size() + (data.size() & 1), 4);
  tag4("WAVE");
  tag4("fmt ");
  put(16, 4);
  put(tag, 2);
  put(channels, 2);
  put(rate, 4);
  put(static_cast<uint64_t>(rate) * channels * bits / 8, 4);
  put(channels * bits / 8, 2);
  put(bits, 2);
  tag4("data");
  put(data.size(), 4);
  out.insert(out.end(), data.begin(), data.end());
  if (data.size() & 1) out.push_back(0);
  return out;
}

// miniaudio 0.11's linear resampler with its order-4 low-pass (f32), as a plain loop.
inline std::vector<float> ReferenceResample(const std::vector<float>& x, int rate_in, int rate_out) {
  const int64_t g = std::gcd(rate_in, rate_out), fi = rate_in / g, fo = rate_out / g;
  struct Bq { float b0, b1, b2, a1, a2, r1 = 0, r2 = 0; };
  std::vector<Bq> secs;
  for (int k = 0; k < 2; ++k) {
    const double q = 1 / (2 * std::cos((1 + 2 * k) * std::numbers::pi / 8));
    const double w = 2 * std::numbers::pi * (std::min(fi, fo) * 0.5) / std::max(fi, fo);
    const double s = std::sin(w), c = std::cos(w), a = s / (2 * q), a0 = 1 + a;
    secs.push_back({float((1 - c) / 2 / a0), float((1 - c) / a0), float((1 - c) / 2 / a0), float(-2 * c / a0), float((1 - a) / a0)});
  }
  auto lpf = [&secs](float v) {
    for (Bq& b : secs) {
      const float y = b.b0 * v + b.r1;
      b.r1 = b.b1 * v - b.a1 * y + b.r2;
      b.r2 = b.b2 * v - b.a2 * y;
      v = y;
    }
    return v;
  };
  std::vector<float> out;
  float x0 = 0, x1 = 0;
  int64_t tint = 1, tfrac = 0;
  size_t p = 0;
  for (;;) {
    while (tint > 0 && p < x.size()) {
      x0 = x1;
      x1 = fi > fo ? lpf(x[p]) : x[p];
      ++p;
      --tint;
    }
    if (tint > 0) break;
    const float a = static_cast<float>(tfrac) / static_cast<float>(fo);
    float o = x0 + (x1 - x0) * a;
    if (fi < fo) o = lpf(o);
    out.push_back(o);
    tint += fi / fo;
    tfrac += fi % fo;
    if (tfrac >= fo) { tfrac -= fo; ++tint; }
  }
  return out;
}

}  // namespace gemrun::audio::testing
