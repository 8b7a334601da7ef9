// Image decoding: the fixture images decode to the pixels llama.cpp's stb_image produced
// (manifest sha256), PNG colour types and bit depths follow stb_image's rules, JPEG
// progressive/restart/grayscale variants decode, and corrupt or hostile files (truncated,
// wrong magic, absurd or zero dimensions, bad CRCs, random mutations) give clean errors.
#include <gtest/gtest.h>

#include <cstdlib>
#include <random>

#include "vision/image.h"
#include "vision_test_util.h"

namespace gemrun::vision {
namespace {

using namespace gemrun::vision::testing;

// ---- a minimal PNG writer (stored deflate blocks) for colour types stb must handle ----

uint32_t Crc(const uint8_t* p, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
  }
  return c ^ 0xFFFFFFFFu;
}

void Put32(std::vector<uint8_t>& v, uint32_t x) {
  for (int s = 24; s >= 0; s -= 8) v.push_back(static_cast<uint8_t>(x >> s));
}

void Chunk(std::vector<uint8_t>& png, const char* type, const std::vector<uint8_t>& data) {
  Put32(png, static_cast<uint32_t>(data.size()));
  const size_t start = png.size();
  png.insert(png.end(), type, type + 4);
  png.insert(png.end(), data.begin(), data.end());
  Put32(png, Crc(&png[start], data.size() + 4));
}

// rows: h rows of packed samples (no filter byte). Returns a complete PNG file.
std::vector<uint8_t> MakePng(uint32_t w, uint32_t h, uint8_t depth, uint8_t color,
                             const std::vector<std::vector<uint8_t>>& rows,
                             const std::vector<uint8_t>& plte = {}, const std::vector<uint8_t>& trns = {}) {
  std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  std::vector<uint8_t> ihdr;
  Put32(ihdr, w);
  Put32(ihdr, h);
  ihdr.insert(ihdr.end(), {depth, color, 0, 0, 0});
  Chunk(png, "IHDR", ihdr);
  if (!plte.empty()) Chunk(png, "PLTE", plte);
  if (!trns.empty()) Chunk(png, "tRNS", trns);
  std::vector<uint8_t> raw;
  for (const auto& r : rows) {
    raw.push_back(0);  // filter: none
    raw.insert(raw.end(), r.begin(), r.end());
  }
  std::vector<uint8_t> z = {0x78, 0x01};
  for (size_t off = 0; off < raw.size() || off == 0; off += 65535) {
    const size_t len = std::min<size_t>(65535, raw.size() - off);
    z.push_back(off + len >= raw.size() ? 1 : 0);
    z.insert(z.end(), {static_cast<uint8_t>(len), static_cast<uint8_t>(len >> 8),
                       static_cast<uint8_t>(~len), static_cast<uint8_t>(~len >> 8)});
    z.insert(z.end(), raw.begin() + off, raw.begin() + off + len);
    if (raw.empty()) break;
  }
  uint32_t a = 1, b = 0;
  for (uint8_t c : raw) {
    a = (a + c) % 65521;
    b = (b + a) % 65521;
  }
  Put32(z, (b << 16) | a);
  Chunk(png, "IDAT", z);
  Chunk(png, "IEND", {});
  return png;
}

StatusOr<Image> Decode(const std::vector<uint8_t>& b) { return DecodeImage(b, "test.img"); }

std::vector<uint8_t> Pix(const Image& img, int64_t x, int64_t y) {
  const uint8_t* p = img.Pixel(x, y);
  return {p[0], p[1], p[2]};
}

// ---- fixture images: decoded pixels equal llama.cpp's (stb_image) ----

TEST(VisionImage, FixtureImagesDecodeToReferencePixels) {
  int checked = 0;
  for (const Root& root : VisionRoots()) {
    for (const auto& im : root.manifest["images"]) {
      SCOPED_TRACE(root.label + " " + im["file"].get<std::string>());
      auto img = LoadImageFile((root.dir / im["file"].get<std::string>()).string());
      ASSERT_TRUE(img.ok()) << img.status().message();
      EXPECT_EQ(img->width, im["decoded"]["width"].get<int64_t>());
      EXPECT_EQ(img->height, im["decoded"]["height"].get<int64_t>());
      EXPECT_EQ(Sha256Hex(img->rgb.data(), img->rgb.size()), im["decoded"]["sha256"].get<std::string>());
      ++checked;
    }
  }
  EXPECT_GE(checked, 8);
}

// jpegtran transcodes of a fixture JPEG: progressive and restart-marker versions carry the same
// DCT coefficients, so stb_image must produce exactly the baseline's pixels.
TEST(VisionImage, ProgressiveAndRestartJpegMatchBaseline) {
  const fs::path dir = fs::path(GEMRUN_TEST_DATA) / "vision";
  std::ifstream f(dir / "manifest.json");
  const json man = json::parse(f);
  std::string want;
  for (const auto& im : man["images"])
    if (im["file"] == "images/scene-512x384-q75-444.jpg") want = im["decoded"]["sha256"];
  ASSERT_FALSE(want.empty());
  for (const char* name : {"scene-512x384-q75-444.progressive.jpg", "scene-512x384-q75-444.restart.jpg"}) {
    SCOPED_TRACE(name);
    auto img = LoadImageFile((dir / "images" / name).string());
    ASSERT_TRUE(img.ok()) << img.status().message();
    EXPECT_EQ(Sha256Hex(img->rgb.data(), img->rgb.size()), want);
  }
  auto gray = LoadImageFile((dir / "images/scene-300x800-q90.gray-progressive.jpg").string());
  ASSERT_TRUE(gray.ok()) << gray.status().message();
  EXPECT_EQ(gray->width, 300);
  EXPECT_EQ(gray->height, 800);
  for (size_t i = 0; i < gray->rgb.size(); i += 3) {
    ASSERT_EQ(gray->rgb[i], gray->rgb[i + 1]);
    ASSERT_EQ(gray->rgb[i], gray->rgb[i + 2]);
  }
}

// ---- PNG colour types and depths (stb_image's conversions) ----

TEST(VisionImage, PngGray8ReplicatesAndGray16Truncates) {
  auto g8 = Decode(MakePng(2, 1, 8, 0, {{7, 250}}));
  ASSERT_TRUE(g8.ok()) << g8.status().message();
  EXPECT_EQ(Pix(*g8, 0, 0), (std::vector<uint8_t>{7, 7, 7}));
  EXPECT_EQ(Pix(*g8, 1, 0), (std::vector<uint8_t>{250, 250, 250}));
  auto g16 = Decode(MakePng(2, 1, 16, 0, {{0x12, 0xFF, 0xAB, 0x01}}));  // 0x12FF, 0xAB01
  ASSERT_TRUE(g16.ok()) << g16.status().message();
  EXPECT_EQ(Pix(*g16, 0, 0), (std::vector<uint8_t>{0x12, 0x12, 0x12}));  // v >> 8, not rounded
  EXPECT_EQ(Pix(*g16, 1, 0), (std::vector<uint8_t>{0xAB, 0xAB, 0xAB}));
}

TEST(VisionImage, PngLowBitDepthGrayScalesTo8Bit) {
  auto g1 = Decode(MakePng(8, 1, 1, 0, {{0b10110000}}));
  ASSERT_TRUE(g1.ok()) << g1.status().message();
  EXPECT_EQ(Pix(*g1, 0, 0)[0], 255);
  EXPECT_EQ(Pix(*g1, 1, 0)[0], 0);
  EXPECT_EQ(Pix(*g1, 3, 0)[0], 255);
  auto g4 = Decode(MakePng(2, 1, 4, 0, {{0x3F}}));
  ASSERT_TRUE(g4.ok()) << g4.status().message();
  EXPECT_EQ(Pix(*g4, 0, 0)[0], 0x33);
  EXPECT_EQ(Pix(*g4, 1, 0)[0], 0xFF);
}

TEST(VisionImage, PngAlphaIsDroppedWithoutCompositing) {
  auto ga = Decode(MakePng(1, 1, 8, 4, {{90, 0}}));  // gray + alpha 0
  ASSERT_TRUE(ga.ok()) << ga.status().message();
  EXPECT_EQ(Pix(*ga, 0, 0), (std::vector<uint8_t>{90, 90, 90}));
  auto rgba = Decode(MakePng(2, 1, 8, 6, {{10, 20, 30, 0, 40, 50, 60, 128}}));
  ASSERT_TRUE(rgba.ok()) << rgba.status().message();
  EXPECT_EQ(Pix(*rgba, 0, 0), (std::vector<uint8_t>{10, 20, 30}));
  EXPECT_EQ(Pix(*rgba, 1, 0), (std::vector<uint8_t>{40, 50, 60}));
  auto rgba16 = Decode(MakePng(1, 1, 16, 6, {{0x80, 0xFF, 0x01, 0x02, 0xFF, 0xFF, 0x00, 0x00}}));
  ASSERT_TRUE(rgba16.ok()) << rgba16.status().message();
  EXPECT_EQ(Pix(*rgba16, 0, 0), (std::vector<uint8_t>{0x80, 0x01, 0xFF}));
}

TEST(VisionImage, PngPaletteExpands) {
  const std::vector<uint8_t> plte = {255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 8, 7};
  auto p8 = Decode(MakePng(4, 1, 8, 3, {{3, 2, 1, 0}}, plte, {0, 255}));  // tRNS alpha is dropped
  ASSERT_TRUE(p8.ok()) << p8.status().message();
  EXPECT_EQ(Pix(*p8, 0, 0), (std::vector<uint8_t>{9, 8, 7}));
  EXPECT_EQ(Pix(*p8, 1, 0), (std::vector<uint8_t>{0, 0, 255}));
  EXPECT_EQ(Pix(*p8, 3, 0), (std::vector<uint8_t>{255, 0, 0}));
  auto p2 = Decode(MakePng(4, 1, 2, 3, {{0b11100100}}, plte));  // indices 3, 2, 1, 0
  ASSERT_TRUE(p2.ok()) << p2.status().message();
  EXPECT_EQ(Pix(*p2, 0, 0), (std::vector<uint8_t>{9, 8, 7}));
  EXPECT_EQ(Pix(*p2, 2, 0), (std::vector<uint8_t>{0, 255, 0}));
}

// ---- corrupt and hostile files ----

std::vector<uint8_t> FixtureBytes(const char* name) {
  return ReadBytes(fs::path(GEMRUN_TEST_DATA) / "vision/images" / name);
}

void ExpectError(const std::vector<uint8_t>& b, StatusCode code, const std::string& needle) {
  auto r = Decode(b);
  ASSERT_FALSE(r.ok()) << "decoded a file that should be rejected (" << needle << ")";
  EXPECT_EQ(r.status().code(), code) << r.status().message();
  EXPECT_NE(r.status().message().find(needle), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("test.img"), std::string::npos) << r.status().message();
}

TEST(VisionImageCorrupt, EmptyFile) { ExpectError({}, StatusCode::kDataLoss, "empty"); }

TEST(VisionImageCorrupt, WrongMagic) {
  const std::string gif = "GIF89a\x01\x00\x01\x00";
  ExpectError(std::vector<uint8_t>(gif.begin(), gif.end()), StatusCode::kUnimplemented, "only PNG and JPEG");
  const std::string text = "hello, this is not an image";
  ExpectError(std::vector<uint8_t>(text.begin(), text.end()), StatusCode::kDataLoss, "not a PNG or JPEG");
  std::vector<uint8_t> png = FixtureBytes("tiny-5x3.png");
  png[1] = 'X';  // damaged signature
  ExpectError(png, StatusCode::kDataLoss, "not a PNG or JPEG");
}

TEST(VisionImageCorrupt, TruncatedPngAtEveryLength) {
  const std::vector<uint8_t> png = FixtureBytes("tiny-5x3.png");
  ASSERT_TRUE(Decode(png).ok());
  for (size_t n = 1; n < png.size(); ++n) {
    auto r = Decode(std::vector<uint8_t>(png.begin(), png.begin() + n));
    ASSERT_FALSE(r.ok()) << "accepted a PNG truncated to " << n << " bytes";
    EXPECT_EQ(r.status().code(), StatusCode::kDataLoss) << r.status().message();
  }
  auto r = Decode(std::vector<uint8_t>(png.begin(), png.begin() + png.size() / 2));
  EXPECT_NE(r.status().message().find("truncated PNG"), std::string::npos) << r.status().message();
}

TEST(VisionImageCorrupt, TruncatedJpeg) {
  const std::vector<uint8_t> jpg = FixtureBytes("scene-512x384-q75-444.progressive.jpg");
  ASSERT_TRUE(Decode(jpg).ok());
  for (size_t n = 1; n < jpg.size(); n += (n < 700 ? 1 : 211)) {
    auto r = Decode(std::vector<uint8_t>(jpg.begin(), jpg.begin() + n));
    ASSERT_FALSE(r.ok()) << "accepted a JPEG truncated to " << n << " bytes";
  }
  auto r = Decode(std::vector<uint8_t>(jpg.begin(), jpg.end() - 2));  // just the EOI missing
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(r.status().message().find("truncated JPEG"), std::string::npos) << r.status().message();
}

TEST(VisionImageCorrupt, AbsurdDimensionsRejectedBeforeDecoding) {
  // A valid-looking PNG header claiming 100000 x 100000 pixels (30 GB of RGB).
  auto huge = MakePng(1, 1, 8, 2, {{1, 2, 3}});
  auto set_dims = [&](uint32_t w, uint32_t h) {
    std::vector<uint8_t> b = huge;
    for (int i = 0; i < 4; ++i) {
      b[16 + i] = static_cast<uint8_t>(w >> (24 - 8 * i));
      b[20 + i] = static_cast<uint8_t>(h >> (24 - 8 * i));
    }
    const uint32_t crc = Crc(&b[12], 17);
    for (int i = 0; i < 4; ++i) b[29 + i] = static_cast<uint8_t>(crc >> (24 - 8 * i));
    return b;
  };
  ExpectError(set_dims(100000, 100000), StatusCode::kInvalidArgument, "100000 x 100000");
  ExpectError(set_dims(16385, 1), StatusCode::kInvalidArgument, "16385 x 1");
  ExpectError(set_dims(10000, 10000), StatusCode::kInvalidArgument, "pixels in all");
  // JPEG frame header claiming 65000 x 65000.
  std::vector<uint8_t> jpg = FixtureBytes("scene-512x384-q75-444.restart.jpg");
  bool patched = false;
  for (size_t i = 2; i + 9 < jpg.size(); ++i)
    if (jpg[i] == 0xFF && (jpg[i + 1] == 0xC0 || jpg[i + 1] == 0xC2)) {
      jpg[i + 5] = jpg[i + 7] = 0xFD;
      jpg[i + 6] = jpg[i + 8] = 0xE8;
      patched = true;
      break;
    }
  ASSERT_TRUE(patched);
  ExpectError(jpg, StatusCode::kInvalidArgument, "65000 x 65000");
}

TEST(VisionImageCorrupt, ZeroSizeHeaders) {
  auto png = MakePng(1, 1, 8, 2, {{1, 2, 3}});
  for (int i = 16; i < 20; ++i) png[i] = 0;  // width 0
  const uint32_t crc = Crc(&png[12], 17);
  for (int i = 0; i < 4; ++i) png[29 + i] = static_cast<uint8_t>(crc >> (24 - 8 * i));
  ExpectError(png, StatusCode::kDataLoss, "zero size");
  std::vector<uint8_t> jpg = FixtureBytes("scene-512x384-q75-444.restart.jpg");
  for (size_t i = 2; i + 9 < jpg.size(); ++i)
    if (jpg[i] == 0xFF && jpg[i + 1] == 0xC0) {
      jpg[i + 7] = jpg[i + 8] = 0;  // width 0
      break;
    }
  ExpectError(jpg, StatusCode::kDataLoss, "zero size");
}

TEST(VisionImageCorrupt, BadCrcAndMissingChunks) {
  auto png = MakePng(2, 2, 8, 2, {{1, 2, 3, 4, 5, 6}, {7, 8, 9, 10, 11, 12}});
  ASSERT_TRUE(Decode(png).ok());
  auto bad = png;
  bad[bad.size() - 12 - 5] ^= 0x40;  // a byte inside IDAT's data
  ExpectError(bad, StatusCode::kDataLoss, "CRC mismatch in chunk 'IDAT'");
  // IEND only, no IDAT.
  std::vector<uint8_t> no_idat(png.begin(), png.begin() + 33);
  Chunk(no_idat, "IEND", {});
  ExpectError(no_idat, StatusCode::kDataLoss, "no IDAT");
}

TEST(VisionImageCorrupt, MissingFileAndDirectory) {
  auto r = LoadImageFile("/nonexistent/dir/img.png");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  auto d = LoadImageFile(GEMRUN_TEST_DATA);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), StatusCode::kInvalidArgument);
}

// Random byte mutations of valid files: every outcome must be a clean Status or an image of
// the header's size; under AddressSanitizer this is the memory-safety smoke test.
TEST(VisionImageCorrupt, RandomMutationsNeverCrash) {
  const char* seed = std::getenv("GEMRUN_VISION_FUZZ_SEED");
  std::mt19937 rng(seed ? static_cast<uint32_t>(std::atoi(seed)) : 1234u);
  const char* env = std::getenv("GEMRUN_VISION_FUZZ_ITERS");  // deeper local runs
  const int iters = env ? std::atoi(env) : 150;
  int accepted = 0, rejected = 0;
  for (const char* name : {"tiny-5x3.png", "gray-97x61.png", "scene-512x384-q75-444.progressive.jpg",
                           "scene-512x384-q75-444.restart.jpg"}) {
    const std::vector<uint8_t> orig = FixtureBytes(name);
    for (int it = 0; it < iters; ++it) {
      std::vector<uint8_t> b = orig;
      const int n_mut = 1 + static_cast<int>(rng() % 8);
      for (int k = 0; k < n_mut; ++k) {
        // Bias towards headers, where the interesting fields are.
        const size_t pos = (rng() % 2 ? rng() % std::min<size_t>(b.size(), 700) : rng() % b.size());
        b[pos] = static_cast<uint8_t>(rng());
      }
      if (rng() % 4 == 0) b.resize(rng() % b.size());
      auto r = Decode(b);
      if (r.ok()) {
        ++accepted;
        EXPECT_EQ(r->rgb.size(), static_cast<size_t>(r->width * r->height * 3));
      } else {
        ++rejected;
        EXPECT_FALSE(r.status().message().empty());
      }
    }
  }
  EXPECT_GT(rejected, 0);
  std::printf("mutations: %d decoded, %d rejected\n", accepted, rejected);
}

}  // namespace
}  // namespace gemrun::vision
