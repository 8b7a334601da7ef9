// Image decoding. Our own structural walk rejects truncated or corrupt files and oversized
// headers with a clear Status before stb_image (the only pixel decoder, as in llama.cpp's
// mtmd helper) allocates anything; stb_image then produces the pixels llama.cpp sees.
#include "vision/image.h"

#include <array>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>

// stb_image, restricted to the two formats we accept and without its stdio layer.
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_NO_STDIO
#define STBI_MAX_DIMENSIONS 16384  // == kMaxImageSide; defence in depth behind ProbeImage
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#include <stb/stb_image.h>
#pragma GCC diagnostic pop

namespace gemrun::vision {
namespace {

constexpr uint8_t kPngMagic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};

uint32_t Be32(const uint8_t* p) { return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3]; }
uint32_t Be16(const uint8_t* p) { return (uint32_t{p[0]} << 8) | p[1]; }

uint32_t Crc32(const uint8_t* p, size_t n) {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

std::string Hex(uint32_t v, int digits) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%0*X", digits, v);
  return buf;
}

Status CheckDims(const std::string& name, int64_t w, int64_t h) {
  if (w <= 0 || h <= 0)
    return DataLossError(name + ": image header gives a zero size (" + std::to_string(w) + " x " +
                         std::to_string(h) + " pixels)");
  if (w > kMaxImageSide || h > kMaxImageSide || w * h > kMaxImagePixels)
    return InvalidArgumentError(name + ": image is " + std::to_string(w) + " x " + std::to_string(h) +
                                " pixels; gemrun accepts at most " + std::to_string(kMaxImageSide) +
                                " pixels per side and " + std::to_string(kMaxImagePixels) +
                                " pixels in all (downscale it first)");
  return OkStatus();
}

// PNG: signature, IHDR first, every chunk inside the file, CRCs of critical chunks, IEND.
StatusOr<ImageInfo> ProbePng(std::span<const uint8_t> b, const std::string& name) {
  ImageInfo info{.format = ImageFormat::kPng};
  size_t pos = 8;
  bool seen_idat = false;
  for (int index = 0;; ++index) {
    if (b.size() - pos < 12)
      return DataLossError(name + ": truncated PNG: the file ends at byte " + std::to_string(b.size()) +
                           " inside a chunk header (no IEND chunk)");
    const uint32_t len = Be32(&b[pos]);
    std::string type(reinterpret_cast<const char*>(&b[pos + 4]), 4);
    for (char& c : type)
      if (c < 0x20 || c > 0x7E) c = '?';
    if (len > 0x7FFFFFFFu)
      return DataLossError(name + ": corrupt PNG: chunk '" + type + "' at byte " + std::to_string(pos) +
                           " has an invalid length " + std::to_string(len));
    if (b.size() - pos - 12 < len)
      return DataLossError(name + ": truncated PNG: chunk '" + type + "' at byte " + std::to_string(pos) + " needs " +
                           std::to_string(len + 12) + " bytes, the file ends after " +
                           std::to_string(b.size() - pos));
    const uint8_t* data = &b[pos + 8];
    if (index == 0) {
      if (type != "IHDR" || len != 13)
        return DataLossError(name + ": corrupt PNG: the first chunk is '" + type + "' (" + std::to_string(len) +
                             " bytes), expected a 13-byte IHDR");
      info.width = Be32(data);
      info.height = Be32(data + 4);
      RETURN_IF_ERROR(CheckDims(name, info.width, info.height));
    }
    const bool critical = type[0] >= 'A' && type[0] <= 'Z';
    if (critical && Crc32(&b[pos + 4], len + 4) != Be32(data + len))
      return DataLossError(name + ": corrupt PNG: CRC mismatch in chunk '" + type + "' at byte " + std::to_string(pos));
    if (type == "IDAT") seen_idat = true;
    if (type == "IEND") break;
    pos += 12 + static_cast<size_t>(len);
  }
  if (!seen_idat) return DataLossError(name + ": corrupt PNG: no IDAT chunk (no pixel data)");
  return info;
}

// DHT segment: every table's 16 code-length counts must total at most 256 symbols, all present
// (stb_image 2.27 writes past its tables otherwise).
Status CheckHuffmanTables(const uint8_t* p, size_t n, const std::string& name) {
  size_t i = 0;
  while (i < n) {
    if (n - i < 17) return DataLossError(name + ": corrupt JPEG: Huffman table header cut short");
    const uint8_t tc = p[i] >> 4, th = p[i] & 15;
    if (tc > 1 || th > 3) return DataLossError(name + ": corrupt JPEG: invalid Huffman table id " + Hex(p[i], 2));
    size_t total = 0;
    for (int k = 1; k <= 16; ++k) total += p[i + k];
    if (total > 256) return DataLossError(name + ": corrupt JPEG: Huffman table with " + std::to_string(total) + " codes (at most 256)");
    if (n - i - 17 < total) return DataLossError(name + ": corrupt JPEG: Huffman table values cut short");
    i += 17 + total;
  }
  return OkStatus();
}

// JPEG: marker walk from SOI through every segment and entropy-coded scan to EOI.
StatusOr<ImageInfo> ProbeJpeg(std::span<const uint8_t> b, const std::string& name) {
  ImageInfo info{.format = ImageFormat::kJpeg};
  const size_t n = b.size();
  size_t pos = 2;
  bool seen_sof = false, seen_sos = false;
  auto truncated = [&](const std::string& where) {
    return DataLossError(name + ": truncated JPEG: the file ends " + where + " at byte " + std::to_string(n) +
                         " (no end-of-image marker)");
  };
  while (true) {
    while (pos < n && b[pos] != 0xFF) ++pos;  // stb_image skips stray bytes between segments
    while (pos < n && b[pos] == 0xFF) ++pos;  // fill bytes
    if (pos >= n) return truncated("before the next marker");
    const uint8_t m = b[pos++];
    if (m == 0xD9) break;                                   // EOI
    if ((m >= 0xD0 && m <= 0xD7) || m == 0x01) continue;    // standalone RSTn / TEM
    if (m == 0xD8) return DataLossError(name + ": corrupt JPEG: a second start-of-image marker at byte " + std::to_string(pos - 2));
    if (n - pos < 2) return truncated("inside the length of marker FF" + Hex(m, 2));
    const size_t len = Be16(&b[pos]);
    if (len < 2)
      return DataLossError(name + ": corrupt JPEG: marker FF" + Hex(m, 2) + " at byte " + std::to_string(pos - 2) +
                           " has length " + std::to_string(len));
    if (n - pos < len) return truncated("inside segment FF" + Hex(m, 2));
    const uint8_t* seg = &b[pos + 2];
    if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) {  // SOFn
      if (m != 0xC0 && m != 0xC1 && m != 0xC2)
        return UnimplementedError(name + ": JPEG coding process SOF" + std::to_string(m - 0xC0) +
                                  " (lossless, hierarchical or arithmetic) is not supported; re-encode as "
                                  "baseline or progressive JPEG or PNG");
      if (len < 8) return DataLossError(name + ": corrupt JPEG: frame header too short");
      if (seg[0] != 8)
        return UnimplementedError(name + ": JPEG with " + std::to_string(seg[0]) + "-bit samples is not supported (8-bit only)");
      info.height = Be16(seg + 1);
      info.width = Be16(seg + 3);
      if (info.height == 0 && info.width > 0)
        return UnimplementedError(name + ": JPEG whose height is set later by a DNL marker is not supported");
      RETURN_IF_ERROR(CheckDims(name, info.width, info.height));
      seen_sof = true;
    }
    if (m == 0xC4) RETURN_IF_ERROR(CheckHuffmanTables(seg, len - 2, name));
    pos += len;
    if (m == 0xDA) {  // SOS: skip the entropy-coded data up to the next real marker
      if (!seen_sof) return DataLossError(name + ": corrupt JPEG: scan data before the frame header");
      seen_sos = true;
      while (true) {
        while (pos < n && b[pos] != 0xFF) ++pos;
        if (n - pos < 2) return truncated("inside the scan data");
        const uint8_t next = b[pos + 1];
        if (next == 0x00 || (next >= 0xD0 && next <= 0xD7) || next == 0xFF) {
          pos += next == 0xFF ? 1 : 2;
          continue;
        }
        break;  // pos is at the FF of the next marker
      }
    }
  }
  if (!seen_sof) return DataLossError(name + ": corrupt JPEG: no frame header (SOF marker)");
  if (!seen_sos) return DataLossError(name + ": corrupt JPEG: no scan (SOS marker), so no pixel data");
  return info;
}

}  // namespace

StatusOr<ImageInfo> ProbeImage(std::span<const uint8_t> b, const std::string& name) {
  if (b.empty()) return DataLossError(name + ": the image file is empty (0 bytes)");
  if (b.size() > kMaxImageFileBytes)
    return InvalidArgumentError(name + ": image file of " + std::to_string(b.size()) + " bytes exceeds the limit of " +
                                std::to_string(kMaxImageFileBytes) + " bytes");
  if (b.size() >= 8 && std::memcmp(b.data(), kPngMagic, 8) == 0) return ProbePng(b, name);
  if (b.size() >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) return ProbeJpeg(b, name);
  auto starts = [&](const char* s) { return b.size() >= std::strlen(s) && std::memcmp(b.data(), s, std::strlen(s)) == 0; };
  if (starts("GIF8") || starts("BM") || (starts("RIFF") && b.size() >= 12 && std::memcmp(&b[8], "WEBP", 4) == 0))
    return UnimplementedError(name + ": only PNG and JPEG images are supported (this looks like GIF, BMP or WebP); convert it to PNG");
  std::string head;
  for (size_t i = 0; i < std::min<size_t>(b.size(), 4); ++i) head += (i ? " " : "") + Hex(b[i], 2);
  if (b.size() < 8 && b[0] == 0x89) return DataLossError(name + ": truncated PNG: " + std::to_string(b.size()) + " bytes, shorter than the PNG signature");
  return DataLossError(name + ": not a PNG or JPEG file (it starts with bytes " + head + ")");
}

StatusOr<Image> DecodeImage(std::span<const uint8_t> bytes, const std::string& name) {
  ASSIGN_OR_RETURN(ImageInfo info, ProbeImage(bytes, name));
  int w = 0, h = 0, comp = 0;
  std::unique_ptr<stbi_uc, void (*)(void*)> px(
      stbi_load_from_memory(bytes.data(), static_cast<int>(bytes.size()), &w, &h, &comp, 3), stbi_image_free);
  if (!px) {
    const char* why = stbi_failure_reason();
    return DataLossError(name + ": cannot decode " + (info.format == ImageFormat::kPng ? "PNG" : "JPEG") + ": " +
                         (why ? why : "unknown error"));
  }
  if (w != info.width || h != info.height)
    return DataLossError(name + ": decoder reports " + std::to_string(w) + " x " + std::to_string(h) +
                         " pixels, the header says " + std::to_string(info.width) + " x " + std::to_string(info.height));
  Image img;
  img.width = w;
  img.height = h;
  img.rgb.assign(px.get(), px.get() + static_cast<size_t>(w) * h * 3);
  return img;
}

StatusOr<Image> LoadImageFile(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return NotFoundError(path + ": image file not found");
  if (std::filesystem::is_directory(path, ec)) return InvalidArgumentError(path + ": is a directory, not an image file");
  const uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec) return NotFoundError(path + ": cannot read image file: " + ec.message());
  if (size > kMaxImageFileBytes)
    return InvalidArgumentError(path + ": image file of " + std::to_string(size) + " bytes exceeds the limit of " +
                                std::to_string(kMaxImageFileBytes) + " bytes");
  std::ifstream f(path, std::ios::binary);
  if (!f) return NotFoundError(path + ": cannot open image file");
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  if (size && !f.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size)))
    return DataLossError(path + ": cannot read image file");
  return DecodeImage(bytes, path);
}

}  // namespace gemrun::vision
