// libFuzzer target for image decoding (PNG/JPEG structural checks, then stb_image) and the
// preprocessing every projector runs on a decoded image: any byte string must decode to an RGB
// image consistent with its probed header, or to a Status with a message; never crash, hang or
// read out of bounds. Built by tests/fuzz/CMakeLists.txt with -fsanitize=fuzzer,address,undefined.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "vision/image.h"
#include "vision/preprocess.h"

namespace {
using namespace gemrun::vision;

volatile float g_sink = 0;

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "image_fuzz: %s\n", what);
  std::abort();
}

// The resize the Gemma 4 projector does (48-pixel cells, 40..280 tokens), on a capped size so
// one input stays fast, then the float conversion.
void Preprocess(const Image& img) {
  const Size s = SmartResize(img.width, img.height, 48, 40 * 48 * 48, 280 * 48 * 48);
  if (s.width <= 0 || s.height <= 0 || s.width % 48 || s.height % 48) Fail("smart resize gave an unusable size");
  const Image r = ResizeBilinear(img, std::min<int64_t>(s.width, 96), std::min<int64_t>(s.height, 96));
  const float mean[3] = {0.5f, 0.5f, 0.5f}, sd[3] = {0.5f, 0.5f, 0.5f};
  const std::vector<float> planar = NormalizePlanar(r, mean, sd);
  if (planar.size() != static_cast<size_t>(3 * r.width * r.height)) Fail("planar size mismatch");
  const Image lb = Letterbox(img, Size{32, 24});
  if (lb.width != 32 || lb.height != 24 || lb.rgb.size() != 32u * 24u * 3u) Fail("letterbox size mismatch");
  float acc = 0;
  for (float v : planar) acc += v;
  g_sink = acc;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> bytes(data, size);
  auto probe = ProbeImage(bytes, "fuzz");
  auto img = DecodeImage(bytes, "fuzz");
  if (!img.ok()) {
    if (img.status().message().empty()) Fail("error without a message");
    return 0;
  }
  if (!probe.ok()) Fail("decoded an image its probe refused");
  if (img->width != probe->width || img->height != probe->height) Fail("decoded size differs from the header");
  if (img->width <= 0 || img->height <= 0 || img->rgb.size() != static_cast<size_t>(img->width * img->height * 3))
    Fail("pixel buffer does not match the size");
  Preprocess(*img);
  return 0;
}
