// Preprocessing: every fixture image's canvas equals llama.cpp's byte for byte (manifest
// sha256; gemma3 letterbox to image_size, gemma4v smart resize + letterbox), the size rules and
// token budgets give the documented sizes, and edge cases (1-pixel sources, elongated images,
// bad budgets) behave.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "vision/vision.h"
#include "vision_test_util.h"

namespace gemrun::vision {
namespace {

using namespace gemrun::vision::testing;

// One projector file per pair present in the root (the canvas does not depend on storage type).
std::map<std::string, std::unique_ptr<VisionEncoder>> LoadPairProjectors(const Root& root) {
  std::map<std::string, std::unique_ptr<VisionEncoder>> out;
  for (const auto& m : root.manifest["models"]) {
    if (m["role"] != "mmproj" || out.count(m["pair"])) continue;
    auto enc = VisionEncoder::Load((root.dir / m["file"].get<std::string>()).string());
    EXPECT_TRUE(enc.ok()) << enc.status().message();
    if (enc.ok()) out[m["pair"]] = std::move(*enc);
  }
  return out;
}

TEST(VisionPreprocess, CanvasesMatchLlamaCpp) {
  int checked = 0;
  bool shared = false;  // the full set beside the project (CI); a lone clone has the bundled 6
  for (const Root& root : VisionRoots()) {
    shared = shared || root.label == "shared";
    auto encs = LoadPairProjectors(root);
    std::set<std::string> seen;
    for (const auto& g : root.manifest["goldens"]) {
      const std::string pair = g["pair"];
      if (!encs.count(pair)) continue;
      for (const auto& im : ImagesOf(g)) {
        const std::string key = pair + "/" + im["image"].get<std::string>();
        if (!seen.insert(key).second) continue;
        SCOPED_TRACE(root.label + " " + key);
        auto img = LoadImageFile((root.dir / im["image"].get<std::string>()).string());
        ASSERT_TRUE(img.ok()) << img.status().message();
        auto p = encs[pair]->Preprocess(*img, {});
        ASSERT_TRUE(p.ok()) << p.status().message();
        const auto& pre = im["preprocessed"];
        EXPECT_EQ(p->canvas.width, pre["width"].get<int64_t>());
        EXPECT_EQ(p->canvas.height, pre["height"].get<int64_t>());
        EXPECT_EQ(Sha256Hex(p->canvas.rgb.data(), p->canvas.rgb.size()), pre["sha256"].get<std::string>());
        EXPECT_EQ(p->n_patches_x, pre["patch_grid"][0].get<int64_t>());
        EXPECT_EQ(p->n_patches_y, pre["patch_grid"][1].get<int64_t>());
        EXPECT_EQ(p->n_tokens, im["n_tokens"].get<int64_t>());
        // Planar floats are (u8 / 255 - mean) / std of the canvas, channel planes R, G, B.
        const int64_t plane = p->canvas.width * p->canvas.height;
        ASSERT_EQ(p->planar.size(), static_cast<size_t>(3 * plane));
        const VisionConfig& c = encs[pair]->config();
        for (int64_t i = 0; i < plane; i += 997)
          for (int ch = 0; ch < 3; ++ch)
            EXPECT_EQ(p->planar[ch * plane + i], (p->canvas.rgb[3 * i + ch] / 255.0f - c.mean[ch]) / c.std[ch]);
        ++checked;
      }
    }
  }
  EXPECT_GE(checked, shared ? 10 : 6);
}

TEST(VisionPreprocess, SmartResizeSizes) {
  // llama.cpp 3f545becc's Gemma 4 budget, 40..280 tokens of 48 x 48 pixels: the fixture images
  // (testdata/vision README) and the table of gemma4-12b.md §3.3.
  const int64_t a = 48, lo = 40 * a * a, hi = 280 * a * a;
  EXPECT_EQ(SmartResize(224, 224, a, lo, hi), (Size{336, 336}));
  EXPECT_EQ(SmartResize(640, 360, a, lo, hi), (Size{624, 384}));
  EXPECT_EQ(SmartResize(300, 800, a, lo, hi), (Size{288, 816}));
  EXPECT_EQ(SmartResize(128, 96, a, lo, hi), (Size{384, 288}));
  EXPECT_EQ(SmartResize(512, 384, a, lo, hi), (Size{528, 384}));
  EXPECT_EQ(SmartResize(97, 61, a, lo, hi), (Size{384, 288}));
  EXPECT_EQ(SmartResize(5, 3, a, lo, hi), (Size{432, 240}));
  EXPECT_EQ(SmartResize(1024, 768, a, lo, hi), (Size{912, 672}));
  EXPECT_EQ(SmartResize(1920, 1080, a, lo, hi), (Size{1056, 576}));
  EXPECT_EQ(SmartResize(512, 512, a, lo, hi), (Size{528, 528}));
  EXPECT_EQ(SmartResize(640, 480, a, lo, hi), (Size{624, 480}));
  EXPECT_EQ(SmartResize(200, 150, a, lo, hi), (Size{384, 288}));
  // Big images shrink into the budget; h * w is taken in float, so huge sides do not overflow.
  const Size big = SmartResize(4000, 3000, a, lo, hi);
  EXPECT_LE(big.width * big.height, hi);
  EXPECT_EQ(big.width % a, 0);
  EXPECT_EQ(big.height % a, 0);
  const Size huge = SmartResize(70000, 70000, a, lo, hi);
  EXPECT_EQ(huge, (Size{768, 768}));
}

TEST(VisionPreprocess, BilinearRuleAlignsCorners) {
  Image src{.width = 2, .height = 2, .rgb = {0, 0, 0, 100, 100, 100, 200, 200, 200, 255, 255, 255}};
  const Image out = ResizeBilinear(src, 4, 4);
  // Align corners: px = x * (1/3), so the corner pixels are the source corners exactly.
  EXPECT_EQ(out.Pixel(0, 0)[0], 0);
  EXPECT_EQ(out.Pixel(3, 0)[0], 100);
  EXPECT_EQ(out.Pixel(0, 3)[0], 200);
  EXPECT_EQ(out.Pixel(3, 3)[0], 255);
  EXPECT_EQ(out.Pixel(1, 0)[0], 33);   // 100 / 3, truncated (not rounded)
  EXPECT_EQ(out.Pixel(2, 0)[0], 66);   // f32(2 * f32(1/3)) * 100 = 66.67
  EXPECT_EQ(out.Pixel(0, 1)[0], 66);   // 200 / 3
  EXPECT_EQ(out.Pixel(1, 1)[0], 95);   // top 33.33, bottom 218.33: 33.33 + 185 / 3
  // Downscaling 5 -> 3 samples source columns 0, 2, 4 exactly (ratio 4/2 = 2).
  Image row{.width = 5, .height = 1, .rgb = {}};
  for (int i = 0; i < 5; ++i) row.rgb.insert(row.rgb.end(), {uint8_t(i * 10), uint8_t(i * 10), uint8_t(i * 10)});
  const Image d = ResizeBilinear(row, 3, 1);
  EXPECT_EQ(d.Pixel(0, 0)[0], 0);
  EXPECT_EQ(d.Pixel(1, 0)[0], 20);
  EXPECT_EQ(d.Pixel(2, 0)[0], 40);
  // A one-pixel output samples the first source pixel.
  EXPECT_EQ(ResizeBilinear(row, 1, 1).Pixel(0, 0)[0], 0);
  // A uniform image stays uniform at any size.
  Image flat{.width = 3, .height = 5, .rgb = std::vector<uint8_t>(45, 77)};
  const Image up = ResizeBilinear(flat, 31, 7);
  for (uint8_t v : up.rgb) ASSERT_EQ(v, 77);
}

TEST(VisionPreprocess, LetterboxCopiesAndPads) {
  Image sq{.width = 4, .height = 4, .rgb = std::vector<uint8_t>(48)};
  for (size_t i = 0; i < sq.rgb.size(); ++i) sq.rgb[i] = static_cast<uint8_t>(i * 5);
  EXPECT_EQ(Letterbox(sq, {4, 4}).rgb, sq.rgb);  // same size: exact copy
  Image wide{.width = 8, .height = 2, .rgb = std::vector<uint8_t>(48, 200)};
  const Image lb = Letterbox(wide, {8, 8});      // 8 x 2 centred at y = 3, black elsewhere
  for (int64_t y = 0; y < 8; ++y)
    for (int64_t x = 0; x < 8; ++x)
      ASSERT_EQ(lb.Pixel(x, y)[1], (y == 3 || y == 4) ? 200 : 0) << x << "," << y;
}

TEST(VisionPreprocess, OnePixelSourcesReplicate) {
  Image px{.width = 1, .height = 1, .rgb = {9, 99, 199}};
  const Image out = Letterbox(px, {16, 16});
  for (size_t i = 0; i < out.rgb.size(); i += 3) {
    ASSERT_EQ(out.rgb[i], 9);
    ASSERT_EQ(out.rgb[i + 2], 199);
  }
  Image col{.width = 1, .height = 3, .rgb = {0, 0, 0, 90, 90, 90, 180, 180, 180}};
  const Image c2 = ResizeBilinear(col, 2, 6);
  EXPECT_EQ(c2.Pixel(1, 2)[0], c2.Pixel(0, 2)[0]);
}

const VisionEncoder& G4v() {
  static std::unique_ptr<VisionEncoder> enc = [] {
    auto e = VisionEncoder::Load((fs::path(GEMRUN_TEST_DATA) / "vision/models/g4v-mmproj-f16.gguf").string());
    EXPECT_TRUE(e.ok()) << e.status().message();
    return std::move(*e);
  }();
  return *enc;
}

TEST(VisionPreprocess, Gemma4TokenBudget) {
  const VisionEncoder& enc = G4v();
  Image img{.width = 640, .height = 360, .rgb = std::vector<uint8_t>(640 * 360 * 3, 128)};
  auto def = enc.Preprocess(img, {});
  ASSERT_TRUE(def.ok());
  EXPECT_EQ(def->n_tokens, 104);  // 624 x 384: no upscaling to >= 252 tokens since 3f545becc
  auto small = enc.Preprocess(img, {.min_tokens = 40, .max_tokens = 70});
  ASSERT_TRUE(small.ok()) << small.status().message();
  EXPECT_LE(small->n_tokens, 70);
  EXPECT_GE(small->n_tokens, 40);
  auto only_max = enc.Preprocess(img, {.max_tokens = 30});  // below the default minimum of 40
  ASSERT_TRUE(only_max.ok()) << only_max.status().message();
  EXPECT_LE(only_max->n_tokens, 30);
  auto only_min = enc.Preprocess(img, {.min_tokens = 400});  // above the default maximum of 280
  ASSERT_TRUE(only_min.ok()) << only_min.status().message();
  EXPECT_GE(only_min->n_tokens, 400);
  auto bad = enc.Preprocess(img, {.min_tokens = 300, .max_tokens = 100});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(enc.Preprocess(img, {.max_tokens = 1000000}).ok());
  // An extremely elongated image needs more patch columns than the position table holds.
  Image strip{.width = 8000, .height = 2, .rgb = std::vector<uint8_t>(8000 * 2 * 3, 5)};
  auto s = enc.Preprocess(strip, {});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("position table"), std::string::npos) << s.status().message();
}

}  // namespace
}  // namespace gemrun::vision
