// Image decoding: PNG and JPEG bytes to 8-bit RGB, with the structural checks and size
// limits that make untrusted files safe to hand to stb_image (the decoder llama.cpp uses).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"

namespace gemrun::vision {

// An 8-bit RGB image, row-major, 3 interleaved channels (R, G, B).
struct Image {
  int64_t width = 0;
  int64_t height = 0;
  std::vector<uint8_t> rgb;  // [height][width][3]

  const uint8_t* Pixel(int64_t x, int64_t y) const { return rgb.data() + 3 * (y * width + x); }
};

// Limits checked on the header, before any pixel buffer is allocated.
constexpr int64_t kMaxImageSide = 16384;              // pixels per side
constexpr int64_t kMaxImagePixels = 8192LL * 8192LL;   // width * height
constexpr uint64_t kMaxImageFileBytes = 256ULL << 20;  // encoded file size

enum class ImageFormat { kPng, kJpeg };

// Header facts read without decoding (after the structural walk of the whole file).
struct ImageInfo {
  ImageFormat format = ImageFormat::kPng;
  int64_t width = 0;
  int64_t height = 0;
};

// Checks magic, structure (PNG chunk walk with CRCs of critical chunks and IEND; JPEG marker
// walk to EOI) and the size limits. Errors: DataLoss (empty, truncated, corrupt),
// Unimplemented (another image format, JPEG arithmetic/lossless coding), InvalidArgument
// (dimensions over the limits). `name` is used in messages.
StatusOr<ImageInfo> ProbeImage(std::span<const uint8_t> bytes, const std::string& name);

// Decodes PNG (gray, gray+alpha, palette, RGB, RGBA; 1-16 bit: 16-bit samples become v >> 8)
// or baseline/progressive JPEG to 8-bit RGB exactly as stb_image does (alpha dropped without
// compositing, gray replicated, no EXIF orientation). Runs ProbeImage first.
StatusOr<Image> DecodeImage(std::span<const uint8_t> bytes, const std::string& name);

// Reads and decodes a file (NotFound when it does not exist; files over kMaxImageFileBytes
// are rejected before reading).
StatusOr<Image> LoadImageFile(const std::string& path);

}  // namespace gemrun::vision
