// Encoders and the text side against llama.cpp goldens: projector output (embeddings) of every
// golden image, and — where the text model is present — the logits of prompts with images in
// both attention modes (the checks of shared/tools/check_vision.py). Also the projector
// loader's errors.
#include <gtest/gtest.h>

#include <cstdio>

#include "model/model.h"
#include "vision/vision.h"
#include "vision_test_util.h"

namespace gemrun::vision {
namespace {

using namespace gemrun::vision::testing;

ThreadPool& Pool() {
  static ThreadPool pool(2);
  return pool;
}

struct Limits {
  double embd, post, kl, gap;
};

Limits ClassLimits(const json& man, const json& mmproj) {
  const json& c = man["recommended_checks"]["classes"][mmproj["check_class"].get<std::string>()];
  return {c["embd_max_norm"], c["post_max_norm"], c["kl_mean"], c["argmax_gap"]};
}

TEST(VisionEmbed, ProjectorOutputMatchesGoldens) {
  int checked = 0;
  for (const Root& root : VisionRoots()) {
    std::map<std::string, std::unique_ptr<VisionEncoder>> encs;
    for (const auto& g : root.manifest["goldens"]) {
      const std::string name = g["mmproj"];
      const json* mm = FindModel(root.manifest, name);
      ASSERT_NE(mm, nullptr);
      if (!encs.count(name)) {
        auto e = VisionEncoder::Load((root.dir / (*mm)["file"].get<std::string>()).string());
        ASSERT_TRUE(e.ok()) << e.status().message();
        encs[name] = std::move(*e);
      }
      const Limits lim = ClassLimits(root.manifest, *mm);
      for (const auto& im : ImagesOf(g)) {
        SCOPED_TRACE(root.label + " " + name + "/" + g["prompt"].get<std::string>() + " " + im["image"].get<std::string>());
        int64_t n = 0;
        auto rows = EmbedImageFile(*encs[name], (root.dir / im["image"].get<std::string>()).string(), {}, Pool(), &n);
        ASSERT_TRUE(rows.ok()) << rows.status().message();
        const auto gold = ReadBin<float>(root.dir / im["embd"]["file"].get<std::string>());
        const int64_t E = im["embd"]["shape"][1];
        ASSERT_EQ(n, im["n_tokens"].get<int64_t>());
        ASSERT_EQ(rows->size(), gold.size());
        const double mn = MaxNorm(rows->data(), gold.data(), n, E);
        EXPECT_LE(mn, lim.embd);
        ++checked;
      }
    }
  }
  EXPECT_GE(checked, 5);
}

// Runs a golden's prompt (+ its greedy ids, teacher forcing) through the text model; returns
// logits [n_positions][n_vocab].
std::vector<float> RunPrompt(const Root& root, const json& g, const Model& model, const VisionEncoder& enc,
                             bool bidirectional, int64_t* n_prompt, const json& greedy) {
  struct Seg {
    std::vector<int32_t> ids;
    std::vector<float> rows;
    int64_t n = 0;
  };
  std::vector<Seg> segs;
  for (const auto& s : g["segments"]) {
    Seg seg;
    if (s.contains("tokens")) {
      seg.ids = s["tokens"].get<std::vector<int32_t>>();
      seg.n = static_cast<int64_t>(seg.ids.size());
    } else {
      const json& im = g["images"][s["index"].get<int>()];
      auto r = EmbedImageFile(enc, (root.dir / im["image"].get<std::string>()).string(), {}, Pool(), &seg.n);
      EXPECT_TRUE(r.ok()) << r.status().message();
      seg.rows = std::move(*r);
    }
    segs.push_back(std::move(seg));
  }
  *n_prompt = 0;
  for (const Seg& s : segs) *n_prompt += s.n;
  segs.push_back({greedy.get<std::vector<int32_t>>(), {}, static_cast<int64_t>(greedy.size())});
  int64_t n = 0, mb = 1;
  for (const Seg& s : segs) n += s.n, mb = std::max(mb, s.n);
  const int64_t V = model.config().n_vocab;
  auto st = model.NewState(n, mb, DType::kF32);
  EXPECT_TRUE(st.ok()) << st.status().message();
  std::vector<float> logits(static_cast<size_t>(n * V));
  int64_t pos = 0;
  for (const Seg& s : segs) {
    Status status = s.rows.empty()
                        ? model.Forward(std::span<const int32_t>(s.ids), **st, LogitsMode::kAll, logits.data() + pos * V, Pool())
                        : model.Forward(Batch{.tokens = {}, .embd = s.rows.data(), .n_embd_rows = s.n, .non_causal = bidirectional},
                                        **st, LogitsMode::kAll, logits.data() + pos * V, Pool());
    EXPECT_TRUE(status.ok()) << status.message();
    pos += s.n;
  }
  return logits;
}

TEST(VisionEmbed, LogitsWithImagesMatchGoldens) {
  int checked = 0;
  for (const Root& root : VisionRoots()) {
    for (const auto& g : root.manifest["goldens"]) {
      if (!g.contains("modes") || g["modes"].empty() || HasAudio(g)) continue;
      const json* tm = FindModel(root.manifest, g["text_model"]);
      const json* mm = FindModel(root.manifest, g["mmproj"]);
      if (!tm || !fs::exists(root.dir / (*tm)["file"].get<std::string>())) continue;
      auto model = LoadModel((root.dir / (*tm)["file"].get<std::string>()).string());
      ASSERT_TRUE(model.ok()) << model.status().message();
      auto enc = VisionEncoder::Load((root.dir / (*mm)["file"].get<std::string>()).string());
      ASSERT_TRUE(enc.ok()) << enc.status().message();
      ASSERT_TRUE((*enc)->CheckTextModel((*model)->config()).ok());
      const Limits lim = ClassLimits(root.manifest, *mm);
      const int64_t V = (*model)->config().n_vocab;
      for (const auto& [mode, md] : g["modes"].items()) {
        SCOPED_TRACE(root.label + " " + g["mmproj"].get<std::string>() + "/" + g["prompt"].get<std::string>() + " " + mode);
        int64_t n = 0;
        const auto a = RunPrompt(root, g, **model, **enc, mode == "noncausal", &n, md["greedy"]);
        std::vector<double> kls;
        // Post-image text rows.
        const auto post = ReadBin<float>(root.dir / md["post"]["file"].get<std::string>());
        const auto& positions = md["post"]["positions"];
        ASSERT_EQ(post.size(), positions.size() * static_cast<size_t>(V));
        for (size_t r = 0; r < positions.size(); ++r) {
          const float* e = a.data() + positions[r].get<int64_t>() * V;
          EXPECT_LE(MaxNorm(e, post.data() + r * V, 1, V), lim.post) << "post row " << r;
          kls.push_back(KlRow(post.data() + r * V, e, V));
        }
        // Teacher-forced decode rows.
        const auto dec = ReadBin<float>(root.dir / md["decode"]["file"].get<std::string>());
        const int64_t n_dec = md["decode"]["shape"][0];
        ASSERT_EQ(static_cast<int64_t>(dec.size()), n_dec * V);
        EXPECT_EQ(md["decode"]["positions"][0].get<int64_t>(), n);
        for (int64_t r = 0; r < n_dec; ++r) {
          EXPECT_LE(MaxNorm(a.data() + (n + r) * V, dec.data() + r * V, 1, V), lim.post) << "decode row " << r;
          kls.push_back(KlRow(dec.data() + r * V, a.data() + (n + r) * V, V));
        }
        double kl = 0;
        for (double k : kls) kl += k;
        EXPECT_LE(kl / kls.size(), lim.kl);
        // Image positions: the golden's top-16 logits.
        for (const auto& t : md["image_top16"]) {
          const auto ids = ReadBin<int32_t>(root.dir / t["ids"].get<std::string>());
          const auto lg = ReadBin<float>(root.dir / t["logits"].get<std::string>());
          const int64_t p0 = t["positions"][0];
          ASSERT_EQ(ids.size(), lg.size());
          ASSERT_FALSE(ids.empty());
          for (size_t r = 0; r < ids.size() / 16; ++r) {
            double md2 = 0, mg = 0;
            for (int k = 0; k < 16; ++k) {
              md2 = std::max(md2, std::fabs(double(a[(p0 + r) * V + ids[r * 16 + k]]) - lg[r * 16 + k]));
              mg = std::max(mg, std::fabs(double(lg[r * 16 + k])));
            }
            EXPECT_LE(md2 / mg, lim.post) << "image row " << r;
          }
        }
        // Greedy: our argmax follows the golden until its first unconfident step.
        const auto& greedy = md["greedy"];
        for (size_t k = 0; k < greedy.size(); ++k) {
          if (md["greedy_top2_gap"][k].get<double>() <= lim.gap) break;
          const float* row = a.data() + (n - 1 + k) * V;
          EXPECT_EQ(std::max_element(row, row + V) - row, greedy[k].get<int64_t>()) << "greedy step " << k;
        }
        ++checked;
      }
    }
  }
  EXPECT_GE(checked, 2);
}

fs::path Bundled(const std::string& rel) { return fs::path(GEMRUN_TEST_DATA) / "vision" / rel; }

TEST(VisionProjector, ConfigOfFixtures) {
  auto g3 = VisionEncoder::Load(Bundled("models/g3v-mmproj-f16.gguf").string());
  ASSERT_TRUE(g3.ok()) << g3.status().message();
  const VisionConfig& c = (*g3)->config();
  EXPECT_EQ(c.type, ProjectorType::kGemma3);
  EXPECT_EQ(c.image_size, 224);
  EXPECT_EQ(c.patch_size, 14);
  EXPECT_EQ(c.n_embd, 144);
  EXPECT_EQ(c.head_dim, 72);
  EXPECT_EQ(c.pool, 4);
  EXPECT_EQ(c.proj_dim, 160);
  EXPECT_EQ(c.act, VisionActivation::kGeluTanh);
  auto g4 = VisionEncoder::Load(Bundled("models/g4v-mmproj-f16.gguf").string());
  ASSERT_TRUE(g4.ok()) << g4.status().message();
  EXPECT_EQ((*g4)->config().type, ProjectorType::kGemma4v);
  EXPECT_EQ((*g4)->config().pool, 3);
  EXPECT_EQ((*g4)->config().pos_size, 192);
  EXPECT_EQ((*g4)->config().proj_dim, 128);
}

TEST(VisionProjector, EmbeddingSizeMismatchNamesBothSizes) {
  auto g3 = VisionEncoder::Load(Bundled("models/g3v-mmproj-f16.gguf").string());
  ASSERT_TRUE(g3.ok());
  auto text = LoadModel(Bundled("models/g4v-f32.gguf").string());
  ASSERT_TRUE(text.ok()) << text.status().message();
  Status s = (*g3)->CheckTextModel((*text)->config());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kInvalidModel);
  EXPECT_NE(s.message().find("160"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("128"), std::string::npos) << s.message();
  auto g4 = VisionEncoder::Load(Bundled("models/g4v-mmproj-f16.gguf").string());
  ASSERT_TRUE(g4.ok());
  EXPECT_TRUE((*g4)->CheckTextModel((*text)->config()).ok());
  EXPECT_EQ(DefaultImageAttention((*text)->config()), ImageAttention::kCausal);  // E2B/E4B-like
}

TEST(VisionProjector, TextModelIsNotAProjector) {
  auto r = VisionEncoder::Load(Bundled("models/g4v-f32.gguf").string());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("not a vision projector"), std::string::npos) << r.status().message();
  auto missing = VisionEncoder::Load(Bundled("models/nope.gguf").string());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
}

// Same-length byte edits of a projector file: an unknown projector type, a missing tensor.
fs::path Edited(const std::string& from, const std::string& to, const char* out_name) {
  auto bytes = ReadBytes(Bundled("models/g3v-mmproj-f16.gguf"));
  std::string s(bytes.begin(), bytes.end());
  const size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos);
  s.replace(at, from.size(), to);
  const fs::path p = fs::temp_directory_path() / out_name;
  std::ofstream(p, std::ios::binary).write(s.data(), static_cast<std::streamsize>(s.size()));
  return p;
}

TEST(VisionProjector, UnsupportedTypeAndMissingTensor) {
  const fs::path t = Edited(std::string("\x06\0\0\0\0\0\0\0gemma3", 14), std::string("\x06\0\0\0\0\0\0\0gemmaX", 14),
                            "gemrun_vision_badtype.gguf");
  auto r = VisionEncoder::Load(t.string());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(r.status().message().find("gemmaX"), std::string::npos) << r.status().message();
  const fs::path m = Edited("v.post_ln.weight", "v.post_lX.weight", "gemrun_vision_missing.gguf");
  auto r2 = VisionEncoder::Load(m.string());
  ASSERT_FALSE(r2.ok());
  EXPECT_NE(r2.status().message().find("v.post_ln.weight"), std::string::npos) << r2.status().message();
  fs::remove(t);
  fs::remove(m);
}

TEST(VisionAttention, FamilyDefaultsAndParsing) {
  ModelConfig c;
  c.arch = Arch::kGemma3;
  EXPECT_EQ(DefaultImageAttention(c), ImageAttention::kBidirectional);
  c.arch = Arch::kGemma4;
  c.n_embd_per_layer = 256;  // E2B/E4B-like
  EXPECT_EQ(DefaultImageAttention(c), ImageAttention::kCausal);
  c.n_embd_per_layer = 0;    // 12B/26B/31B-like: bidirectional on sliding layers only
  EXPECT_EQ(DefaultImageAttention(c), ImageAttention::kSliding);
  EXPECT_EQ(*ParseImageAttention("", c), ImageAttention::kSliding);
  EXPECT_EQ(*ParseImageAttention("bidirectional", c), ImageAttention::kBidirectional);
  EXPECT_EQ(*ParseImageAttention("causal", c), ImageAttention::kCausal);
  EXPECT_FALSE(ParseImageAttention("both", c).ok());
  bool nc = false, gc = false;
  SetAttentionFlags(ImageAttention::kSliding, &nc, &gc);
  EXPECT_TRUE(nc && gc);
  SetAttentionFlags(ImageAttention::kBidirectional, &nc, &gc);
  EXPECT_TRUE(nc && !gc);
  SetAttentionFlags(ImageAttention::kCausal, &nc, &gc);
  EXPECT_TRUE(!nc && !gc);
}

// The sliding rule keeps full-attention layers causal: on the g4v model (layers S S F S) its
// logits differ from both other rules, at the image's positions and after it.
TEST(VisionAttention, SlidingRuleIsItsOwnMask) {
  auto model = LoadModel(Bundled("models/g4v-f32.gguf").string());
  ASSERT_TRUE(model.ok()) << model.status().message();
  auto enc = VisionEncoder::Load(Bundled("models/g4v-mmproj-f16.gguf").string());
  ASSERT_TRUE(enc.ok()) << enc.status().message();
  int64_t n_img = 0;
  auto rows = EmbedImageFile(**enc, Bundled("images/tiny-5x3.png").string(), {}, Pool(), &n_img);
  ASSERT_TRUE(rows.ok()) << rows.status().message();
  const std::vector<int32_t> pre = {2, 17, 1021}, post = {1023, 40, 41};
  const int64_t V = (*model)->config().n_vocab, n = 3 + n_img + 3;
  auto run = [&](ImageAttention a) {
    auto st = (*model)->NewState(n, n_img, DType::kF32);
    EXPECT_TRUE(st.ok());
    std::vector<float> logits(static_cast<size_t>(n * V));
    Batch img{.tokens = {}, .embd = rows->data(), .n_embd_rows = n_img};
    SetAttentionFlags(a, &img.non_causal, &img.global_causal);
    EXPECT_TRUE((*model)->Forward(std::span<const int32_t>(pre), **st, LogitsMode::kAll, logits.data(), Pool()).ok());
    EXPECT_TRUE((*model)->Forward(img, **st, LogitsMode::kAll, logits.data() + 3 * V, Pool()).ok());
    EXPECT_TRUE((*model)->Forward(std::span<const int32_t>(post), **st, LogitsMode::kAll,
                                  logits.data() + (3 + n_img) * V, Pool()).ok());
    return logits;
  };
  const auto causal = run(ImageAttention::kCausal), bidir = run(ImageAttention::kBidirectional),
             sliding = run(ImageAttention::kSliding);
  const int64_t last = n - 1;  // after the image
  EXPECT_GT(MaxNorm(sliding.data() + last * V, causal.data() + last * V, 1, V), 1e-3);
  // At the image's positions the full-attention layer is causal under the sliding rule only.
  // (After the image the two agree on this model: its last layer reuses layer 1's KV, so the
  // full layer's image rows reach later text only through their own residual stream.)
  EXPECT_GT(MaxNorm(sliding.data() + 3 * V, bidir.data() + 3 * V, n_img, V), 1e-3);
  // The first image position: causal sees only itself in the image; bidirectional and sliding
  // see the whole image on the sliding layers, so they differ from causal.
  EXPECT_GT(MaxNorm(sliding.data() + 3 * V, causal.data() + 3 * V, 1, V), 1e-3);
  // Text before the image is untouched by the rule.
  EXPECT_EQ(MaxNorm(sliding.data(), causal.data(), 3, V), 0.0);
}

}  // namespace
}  // namespace gemrun::vision
