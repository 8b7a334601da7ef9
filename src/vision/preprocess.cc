// Preprocessing. The arithmetic is float32 with one rounding per operation, as in llama.cpp
// (the golden canvases are bit-exact with it): FMA contraction is switched off for this file.
#include "vision/preprocess.h"

#include <algorithm>
#include <cmath>

#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace gemrun::vision {
namespace {

// s + (e - s) * t with two roundings (llama.cpp's lerp).
inline float Lerp(float s, float e, float t) {
  const float d = (e - s) * t;
  return s + d;
}

}  // namespace

Image ResizeBilinear(const Image& src, int64_t out_w, int64_t out_h) {
  Image dst;
  dst.width = out_w;
  dst.height = out_h;
  dst.rgb.resize(static_cast<size_t>(out_w * out_h * 3));
  const int64_t w = src.width, h = src.height;
  // Align corners: the first and last output pixels sample the first and last source pixels.
  const float x_ratio = out_w > 1 ? static_cast<float>(w - 1) / static_cast<float>(out_w - 1) : 0.0f;
  const float y_ratio = out_h > 1 ? static_cast<float>(h - 1) / static_cast<float>(out_h - 1) : 0.0f;
  for (int64_t y = 0; y < out_h; ++y) {
    const float py = static_cast<float>(y) * y_ratio;
    const int64_t y0 = std::min<int64_t>(static_cast<int64_t>(py), h - 1);
    const int64_t y1 = std::min<int64_t>(y0 + 1, h - 1);
    const float fy = py - static_cast<float>(y0);
    for (int64_t x = 0; x < out_w; ++x) {
      const float px = static_cast<float>(x) * x_ratio;
      const int64_t x0 = std::min<int64_t>(static_cast<int64_t>(px), w - 1);
      const int64_t x1 = std::min<int64_t>(x0 + 1, w - 1);
      const float fx = px - static_cast<float>(x0);
      const uint8_t* a = src.Pixel(x0, y0);
      const uint8_t* b = src.Pixel(x1, y0);
      const uint8_t* c = src.Pixel(x0, y1);
      const uint8_t* d = src.Pixel(x1, y1);
      uint8_t* o = dst.rgb.data() + 3 * (y * out_w + x);
      for (int ch = 0; ch < 3; ++ch) {
        const float top = Lerp(a[ch], b[ch], fx);
        const float bottom = Lerp(c[ch], d[ch], fx);
        o[ch] = static_cast<uint8_t>(Lerp(top, bottom, fy));
      }
    }
  }
  return dst;
}

Image Letterbox(const Image& src, Size target) {
  if (src.width == target.width && src.height == target.height) return src;
  const float scale_w = static_cast<float>(target.width) / static_cast<float>(src.width);
  const float scale_h = static_cast<float>(target.height) / static_cast<float>(src.height);
  const float scale = std::min(scale_w, scale_h);
  const int64_t nw = std::min<int64_t>(static_cast<int64_t>(std::ceil(static_cast<float>(src.width) * scale)), target.width);
  const int64_t nh = std::min<int64_t>(static_cast<int64_t>(std::ceil(static_cast<float>(src.height) * scale)), target.height);
  const Image resized = ResizeBilinear(src, std::max<int64_t>(nw, 1), std::max<int64_t>(nh, 1));
  Image dst;
  dst.width = target.width;
  dst.height = target.height;
  dst.rgb.assign(static_cast<size_t>(target.width * target.height * 3), 0);
  const int64_t ox = (target.width - resized.width) / 2, oy = (target.height - resized.height) / 2;
  for (int64_t y = 0; y < resized.height; ++y)
    std::copy_n(resized.rgb.data() + 3 * y * resized.width, 3 * resized.width,
                dst.rgb.data() + 3 * ((y + oy) * target.width + ox));
  return dst;
}

Size SmartResize(int64_t w, int64_t h, int64_t align, int64_t min_pixels, int64_t max_pixels) {
  const float f = static_cast<float>(align);
  auto round_by = [&](float x) { return static_cast<int64_t>(std::round(x / f)) * align; };
  auto ceil_by = [&](float x) { return static_cast<int64_t>(std::ceil(x / f)) * align; };
  auto floor_by = [&](float x) { return static_cast<int64_t>(std::floor(x / f)) * align; };
  int64_t hb = std::max(align, round_by(static_cast<float>(h)));
  int64_t wb = std::max(align, round_by(static_cast<float>(w)));
  if (hb * wb > max_pixels) {
    // h * w multiplied in float, as llama.cpp does since 3f545becc (no int overflow).
    const float beta = std::sqrt(static_cast<float>(h) * static_cast<float>(w) / static_cast<float>(max_pixels));
    hb = std::max(align, floor_by(static_cast<float>(h) / beta));
    wb = std::max(align, floor_by(static_cast<float>(w) / beta));
  } else if (hb * wb < min_pixels) {
    const float beta = std::sqrt(static_cast<float>(min_pixels) / (static_cast<float>(h) * static_cast<float>(w)));
    hb = ceil_by(static_cast<float>(h) * beta);
    wb = ceil_by(static_cast<float>(w) * beta);
  }
  return {wb, hb};
}

std::vector<float> NormalizePlanar(const Image& img, const float mean[3], const float std[3]) {
  const int64_t plane = img.width * img.height;
  std::vector<float> out(static_cast<size_t>(3 * plane));
  for (int c = 0; c < 3; ++c) {
    float* dst = out.data() + c * plane;
    for (int64_t i = 0; i < plane; ++i) {
      const float v = static_cast<float>(img.rgb[3 * i + c]) / 255.0f;
      dst[i] = (v - mean[c]) / std[c];
    }
  }
  return out;
}

}  // namespace gemrun::vision
