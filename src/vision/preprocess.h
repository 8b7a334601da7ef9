// Image preprocessing as llama.cpp's mtmd does it (spec/vision.md §2.3, §3.3): bilinear
// resampling, letterboxing onto a black canvas, Gemma 4's "smart resize" size selection,
// and per-channel normalisation into the encoder's planar float layout. For non-square images
// this is not Hugging Face's preprocessing (Gemma 3: stretch to the square; Gemma 4: another
// size rule and antialiased bicubic): we follow llama.cpp, whose goldens we match bit for bit.
#pragma once

#include <cstdint>
#include <vector>

#include "vision/image.h"

namespace gemrun::vision {

struct Size {
  int64_t width = 0;
  int64_t height = 0;
  bool operator==(const Size&) const = default;
};

// llama.cpp's bilinear rule (3f545becc, align corners; gemma4-12b.md §3.3 step 4) in float32
// without FMA contraction: output pixel (x, y) samples px = x * ((w-1)/(w_out-1)) (0 when
// w_out == 1), py alike, x0 = min(floor(px), w-1), x1 = min(x0+1, w-1); top/bottom lerps, then
// a vertical lerp truncated to uint8. 1-pixel sources replicate. out_w, out_h >= 1.
Image ResizeBilinear(const Image& src, int64_t out_w, int64_t out_h);

// Letterbox into a `target` canvas: scale s = min(W/w, H/h) (float), new size
// min(ceil(w*s), W) x min(ceil(h*s), H), bilinear resize, paste centred at integer offsets
// ((W-w')/2, (H-h')/2) on black. An input already of the target size is copied.
Image Letterbox(const Image& src, Size target);

// llama.cpp's dynamic-resolution size ("smart resize", spec §3.3) for an image of w x h:
// sides multiples of `align`, area within [min_pixels, max_pixels] where possible.
Size SmartResize(int64_t w, int64_t h, int64_t align, int64_t min_pixels, int64_t max_pixels);

// Planar float image [3][h][w]: v = (u8 / 255 - mean[c]) / std[c] in float32.
std::vector<float> NormalizePlanar(const Image& img, const float mean[3], const float std[3]);

}  // namespace gemrun::vision
