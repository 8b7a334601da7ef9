// The encoder-free Gemma 4 12B projector (gemma4uv): configuration of the fixture, the canvas
// sizes of llama.cpp's rule (gemma4-12b.md §3.3 table), embeddings against the bundled
// llama.cpp goldens, and the loader's errors on broken files (byte-patched fixtures).
#include <gtest/gtest.h>

#include "model/model.h"
#include "vision/vision.h"
#include "vision_test_util.h"

namespace gemrun::vision {
namespace {

using namespace gemrun::vision::testing;

fs::path Bundled(const std::string& rel) { return fs::path(GEMRUN_TEST_DATA) / "vision" / rel; }
const std::string kFixture = "models/g4u-mmproj-f16.gguf";

const VisionEncoder& G4u() {
  static std::unique_ptr<VisionEncoder> enc = [] {
    auto e = VisionEncoder::Load(Bundled(kFixture).string());
    EXPECT_TRUE(e.ok()) << e.status().message();
    return e.ok() ? std::move(*e) : nullptr;
  }();
  return *enc;
}

TEST(VisionGemma4uv, ConfigOfFixture) {
  // The file also carries the gemma4ua audio projector (clip.has_audio_encoder): accepted.
  const VisionConfig& c = G4u().config();
  EXPECT_EQ(c.type, ProjectorType::kGemma4uv);
  EXPECT_STREQ(ProjectorTypeName(c.type), "gemma4uv");
  EXPECT_EQ(c.patch_size, 48);  // 16 * n_merge 3
  EXPECT_EQ(c.pool, 1);
  EXPECT_EQ(c.n_embd, 96);
  EXPECT_EQ(c.n_layer, 0);
  EXPECT_EQ(c.pos_size, 64);
  EXPECT_EQ(c.proj_dim, 256);
  EXPECT_FLOAT_EQ(c.eps, 1e-6f);
  EXPECT_EQ(c.default_min_tokens, 40);
  EXPECT_EQ(c.default_max_tokens, 280);
}

TEST(VisionGemma4uv, CanvasSizesFollowLlamaCpp) {
  struct Case {
    int64_t w, h, cw, ch;
  };
  // gemma4-12b.md §3.3: llama.cpp 3f545becc column.
  const Case cases[] = {{1024, 768, 912, 672}, {1920, 1080, 1056, 576}, {512, 512, 528, 528},
                        {640, 480, 624, 480},  {200, 150, 384, 288}};
  for (const Case& k : cases) {
    SCOPED_TRACE(std::to_string(k.w) + "x" + std::to_string(k.h));
    Image img{.width = k.w, .height = k.h, .rgb = std::vector<uint8_t>(static_cast<size_t>(k.w * k.h * 3), 200)};
    auto p = G4u().Preprocess(img, {});
    ASSERT_TRUE(p.ok()) << p.status().message();
    EXPECT_EQ(p->canvas.width, k.cw);
    EXPECT_EQ(p->canvas.height, k.ch);
    EXPECT_EQ(p->n_patches_x, k.cw / 48);
    EXPECT_EQ(p->n_patches_y, k.ch / 48);
    EXPECT_EQ(p->n_tokens, (k.cw / 48) * (k.ch / 48));  // one token per 48-pixel patch
    // Mean 0 / std 1: the planar input is u8 / 255, no 2v - 1 (the centre pixel, red plane).
    EXPECT_EQ(p->planar[(k.ch / 2) * k.cw + k.cw / 2], 200.0f / 255.0f);
  }
  // 1024 x 768 letterboxes to 896 x 672 inside 912 x 672: black bars of 8 pixels left and right.
  Image img{.width = 1024, .height = 768, .rgb = std::vector<uint8_t>(1024 * 768 * 3, 200)};
  auto p = G4u().Preprocess(img, {});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->canvas.Pixel(7, 300)[0], 0);
  EXPECT_EQ(p->canvas.Pixel(8, 300)[0], 200);
  EXPECT_EQ(p->canvas.Pixel(903, 300)[0], 200);
  EXPECT_EQ(p->canvas.Pixel(904, 300)[0], 0);
  // The budget flags apply as for gemma4v.
  auto small = G4u().Preprocess(img, {.max_tokens = 70});
  ASSERT_TRUE(small.ok());
  EXPECT_LE(small->n_tokens, 70);
}

TEST(VisionGemma4uv, EmbeddingsMatchBundledGoldens) {
  ThreadPool pool(2);
  int checked = 0;
  const std::vector<Root> roots = VisionRoots();  // roots[0]: the bundled subset
  ASSERT_FALSE(roots.empty());
  for (const auto& g : roots[0].manifest["goldens"]) {
    if (g["mmproj"] != "g4u-mmproj-f16") continue;
    for (const auto& im : g["images"]) {
      SCOPED_TRACE(im["image"].get<std::string>());
      int64_t n = 0;
      auto rows = EmbedImageFile(G4u(), Bundled(im["image"].get<std::string>()).string(), {}, pool, &n);
      ASSERT_TRUE(rows.ok()) << rows.status().message();
      const auto gold = ReadBin<float>(Bundled(im["embd"]["file"].get<std::string>()));
      ASSERT_EQ(n, im["n_tokens"].get<int64_t>());
      ASSERT_EQ(rows->size(), gold.size());
      EXPECT_LE(MaxNorm(rows->data(), gold.data(), n, 256), 5e-3);  // the F16 class
      ++checked;
    }
  }
  EXPECT_GE(checked, 2);  // tiny-5x3 (45 tokens), checker-640x360 (104)
}

TEST(VisionGemma4uv, ChecksTheTextModel) {
  auto text = LoadModel(Bundled("models/g4v-f32.gguf").string());
  ASSERT_TRUE(text.ok()) << text.status().message();
  Status s = G4u().CheckTextModel((*text)->config());  // 256 vs 128
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("256"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("128"), std::string::npos) << s.message();
}

// A copy of the fixture with one edit at the tensor info of `name`: rename it, or patch its
// first dimension or its type. Returns the file's path.
struct Patch {
  std::string rename;            // same length as the name
  int64_t ne0 = -1;              // new first dimension
  int type = -1;                 // new ggml type id
};

fs::path Patched(const std::string& name, const Patch& p, const char* out_name) {
  auto bytes = ReadBytes(Bundled(kFixture));
  std::string key(8, '\0');
  const uint64_t len = name.size();
  std::memcpy(key.data(), &len, 8);
  key += name;
  std::string s(bytes.begin(), bytes.end());
  const size_t at = s.find(key);
  EXPECT_NE(at, std::string::npos) << name;
  const size_t dims_at = at + key.size();
  uint32_t n_dims = 0;
  std::memcpy(&n_dims, s.data() + dims_at, 4);
  if (!p.rename.empty()) s.replace(at + 8, name.size(), p.rename);
  if (p.ne0 >= 0) std::memcpy(s.data() + dims_at + 4, &p.ne0, 8);
  if (p.type >= 0) {
    const uint32_t t = static_cast<uint32_t>(p.type);
    std::memcpy(s.data() + dims_at + 4 + 8 * n_dims, &t, 4);
  }
  const fs::path out = fs::temp_directory_path() / out_name;
  std::ofstream(out, std::ios::binary).write(s.data(), static_cast<std::streamsize>(s.size()));
  return out;
}

std::string LoadError(const fs::path& p) {
  auto r = VisionEncoder::Load(p.string());
  fs::remove(p);
  EXPECT_FALSE(r.ok());
  return r.ok() ? std::string() : r.status().message();
}

TEST(VisionGemma4uv, OllamaNamingIsNamed) {
  const std::string m = LoadError(Patched("v.patch_norm.1.weight", {.rename = "v.patch_norm.0.weight"}, "g4u_ollama.gguf"));
  EXPECT_NE(m.find("Ollama"), std::string::npos) << m;
  EXPECT_NE(m.find("v.patch_norm.1/2/3"), std::string::npos) << m;
}

TEST(VisionGemma4uv, MissingTensorIsNamed) {
  const std::string m = LoadError(Patched("v.patch_norm.3.bias", {.rename = "v.patch_norm.3.biaz"}, "g4u_missing.gguf"));
  EXPECT_NE(m.find("'v.patch_norm.3.bias' is missing"), std::string::npos) << m;
}

TEST(VisionGemma4uv, WrongShapeIsNamed) {
  const std::string m = LoadError(Patched("v.patch_embd.bias", {.ne0 = 48}, "g4u_shape.gguf"));
  EXPECT_NE(m.find("v.patch_embd.bias"), std::string::npos) << m;
  EXPECT_NE(m.find("[48]"), std::string::npos) << m;
  EXPECT_NE(m.find("[96]"), std::string::npos) << m;
  // A patch dense layer for another patch size (6912 = 3 * 48 * 48 expected).
  const std::string m2 = LoadError(Patched("v.patch_embd.weight", {.ne0 = 768}, "g4u_shape2.gguf"));
  EXPECT_NE(m2.find("v.patch_embd.weight"), std::string::npos) << m2;
  EXPECT_NE(m2.find("6912"), std::string::npos) << m2;
}

TEST(VisionGemma4uv, QuantizedNormIsRefused) {
  const std::string m = LoadError(Patched("v.patch_norm.1.weight", {.type = 8}, "g4u_type.gguf"));  // Q8_0
  EXPECT_NE(m.find("v.patch_norm.1.weight"), std::string::npos) << m;
  EXPECT_NE(m.find("Q8_0"), std::string::npos) << m;
  EXPECT_NE(m.find("must be F32"), std::string::npos) << m;
}

}  // namespace
}  // namespace gemrun::vision
