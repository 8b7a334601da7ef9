// The gemma4ua projector: embeddings against llama.cpp's goldens (the bundled F16 subset always,
// every audio golden of ../shared/testdata/vision when present), the forward pass against a
// double-precision loop (framing, zero padding, silent frames), and every load error.
#include <gtest/gtest.h>

#include <cstdio>

#include "audio/projector.h"
#include "audio/wav.h"
#include "gguf_test_util.h"
#include "tensor/dtype.h"
#include "vision_test_util.h"

namespace gemrun::audio {
namespace {

namespace fs = std::filesystem;
using vision::testing::ReadBin;
using vision::testing::json;

const fs::path kData = fs::path(GEMRUN_TEST_DATA) / "audio";

ThreadPool& Pool() {
  static ThreadPool pool(2);
  return pool;
}

// max over rows of max|a - g| / max|g|; an all-zero golden row (a silent frame) is measured
// against the largest |g| of the clip, as check_vision.py does.
double RowNorm(const std::vector<float>& a, const std::vector<float>& g, int64_t cols) {
  double all = 0, worst = 0;
  for (float v : g) all = std::max(all, double(std::fabs(v)));
  for (size_t r = 0; r * cols < g.size(); ++r) {
    double md = 0, mg = 0;
    for (int64_t i = 0; i < cols; ++i) {
      md = std::max(md, std::fabs(double(a[r * cols + i]) - g[r * cols + i]));
      mg = std::max(mg, std::fabs(double(g[r * cols + i])));
    }
    worst = std::max(worst, md / (mg > 0 ? mg : all));
  }
  return worst;
}

TEST(AudioProjector, BundledGoldenF16) {
  auto enc = AudioEncoder::Load((kData / "g4u-audio-f16.gguf").string());
  ASSERT_TRUE(enc.ok()) << enc.status().message();
  EXPECT_EQ((*enc)->config().proj_dim, 256);
  int64_t n = 0;
  auto rows = EmbedAudioFile(**enc, (kData / "tone-44k1-stereo-s16.wav").string(), Pool(), &n);
  ASSERT_TRUE(rows.ok()) << rows.status().message();
  const auto gold = ReadBin<float>(kData / "tone-44k1-stereo-s16.f16.embd.f32.bin");
  ASSERT_EQ(n, 38);
  ASSERT_EQ(rows->size(), gold.size());
  EXPECT_LE(RowNorm(*rows, gold, 256), 5e-3);  // F16 class; measured 9e-6
}

TEST(AudioProjector, SharedGoldens) {
  const fs::path dir = fs::path(GEMRUN_SHARED_TESTDATA) / "vision";
  if (!fs::exists(dir / "manifest.json")) GTEST_SKIP() << "no ../shared/testdata/vision";
  std::ifstream mf(dir / "manifest.json");
  const json man = json::parse(mf);
  std::map<std::string, std::unique_ptr<AudioEncoder>> encs;
  int checked = 0;
  for (const auto& g : man["goldens"]) {
    if (!g.contains("audio")) continue;
    const std::string name = g["mmproj"];
    const json* mm = vision::testing::FindModel(man, name);
    ASSERT_NE(mm, nullptr);
    if (!encs.count(name)) {
      auto e = AudioEncoder::Load((dir / (*mm)["file"].get<std::string>()).string());
      ASSERT_TRUE(e.ok()) << e.status().message();
      encs[name] = std::move(*e);
    }
    const double lim = man["recommended_checks"]["classes"][(*mm)["check_class"].get<std::string>()]["embd_max_norm"];
    for (const auto& au : g["audio"]) {
      SCOPED_TRACE(name + "/" + g["prompt"].get<std::string>());
      int64_t n = 0;
      auto rows = EmbedAudioFile(*encs[name], (dir / au["audio"].get<std::string>()).string(), Pool(), &n);
      ASSERT_TRUE(rows.ok()) << rows.status().message();
      const auto gold = ReadBin<float>(dir / au["embd"]["file"].get<std::string>());
      ASSERT_EQ(n, au["n_tokens"].get<int64_t>());
      ASSERT_EQ(rows->size(), gold.size());
      EXPECT_LE(RowNorm(*rows, gold, au["embd"]["shape"][1].get<int64_t>()), lim);
      ++checked;
    }
  }
  EXPECT_GE(checked, 8);
}

// An F32 projector [640, E] with weights w(o, k) = sin(o * 0.7 + k * 0.013), in memory.
std::vector<uint8_t> MakeProjector(int64_t E, gemrun::testing::GgufBuilder* b = nullptr) {
  gemrun::testing::GgufBuilder local;
  if (!b) b = &local;
  b->Str("general.architecture", "clip").Bool("clip.has_audio_encoder", true).Str("clip.audio.projector_type", "gemma4ua");
  b->U32("clip.audio.embedding_length", 640).U32("clip.audio.projection_dim", static_cast<uint32_t>(E));
  b->AddTensor("mm.a.input_projection.weight", {640, E}, DType::kF32);
  auto bytes = b->Build();
  float* w = reinterpret_cast<float*>(bytes.data() + b->data_start() + b->offsets()[0]);
  for (int64_t o = 0; o < E; ++o)
    for (int64_t k = 0; k < 640; ++k) w[o * 640 + k] = static_cast<float>(std::sin(o * 0.7 + k * 0.013));
  return bytes;
}

TEST(AudioProjector, ForwardMatchesDoubleLoop) {
  const int64_t E = 24;
  const auto bytes = MakeProjector(E);
  auto f = GgufFile::Parse(bytes.data(), bytes.size(), "mem.gguf");
  ASSERT_TRUE(f.ok()) << f.status().message();
  auto enc = AudioEncoder::FromFile(std::move(*f));
  ASSERT_TRUE(enc.ok()) << enc.status().message();
  // 3.25 frames: a loud frame, a silent one, a quiet one and a quarter frame (zero-padded).
  std::vector<float> x(640 * 3 + 160);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(std::cos(i * 0.05)) * (i < 640 ? 0.9f : i < 1280 ? 0.0f : 1e-5f);
  std::vector<float> out;
  ASSERT_TRUE((*enc)->Encode(x, &out, Pool()).ok());
  ASSERT_EQ((*enc)->TokensFor(static_cast<int64_t>(x.size())), 4);
  ASSERT_EQ(out.size(), static_cast<size_t>(4 * E));
  for (int64_t t = 0; t < 4; ++t) {
    double ss = 0;
    for (int64_t k = 0; k < 640; ++k) {
      const size_t i = static_cast<size_t>(t * 640 + k);
      ss += i < x.size() ? double(x[i]) * x[i] : 0;
    }
    const double scale = 1 / std::sqrt(ss / 640 + 1e-6);
    for (int64_t o = 0; o < E; ++o) {
      double y = 0;
      for (int64_t k = 0; k < 640; ++k) {
        const size_t i = static_cast<size_t>(t * 640 + k);
        y += (i < x.size() ? x[i] * scale : 0) * std::sin(o * 0.7 + k * 0.013);
      }
      EXPECT_NEAR(out[t * E + o], y, 1e-4 * (1 + std::fabs(y))) << t << " " << o;
      if (t == 1) EXPECT_EQ(out[t * E + o], 0.0f);  // silence stays exactly zero
    }
  }
  EXPECT_FALSE((*enc)->Encode({}, &out, Pool()).ok());
}

// Loads a projector built by `edit` and expects an error whose message holds `want`.
void ExpectLoadError(const std::function<void(gemrun::testing::GgufBuilder&)>& edit, const std::string& want) {
  gemrun::testing::GgufBuilder b;
  edit(b);
  const auto bytes = b.Build();
  auto f = GgufFile::Parse(bytes.data(), bytes.size(), "mm.gguf");
  ASSERT_TRUE(f.ok()) << f.status().message();
  auto enc = AudioEncoder::FromFile(std::move(*f));
  ASSERT_FALSE(enc.ok()) << want;
  EXPECT_NE(enc.status().message().find(want), std::string::npos) << enc.status().message();
  std::printf("  error: %s\n", enc.status().message().c_str());
}

TEST(AudioProjector, LoadErrors) {
  using B = gemrun::testing::GgufBuilder;
  ExpectLoadError([](B& b) { b.Str("general.architecture", "gemma4"); }, "not a projector file (general.architecture is 'gemma4'");
  ExpectLoadError([](B& b) { b.Str("general.architecture", "clip").Bool("clip.has_vision_encoder", true).Str("clip.vision.projector_type", "gemma4v"); },
                  "this projector has no audio encoder");
  ExpectLoadError([](B& b) { b.Str("general.architecture", "clip").Bool("clip.has_audio_encoder", true).Str("clip.audio.projector_type", "gemma4a"); },
                  "audio projector type 'gemma4a' is not supported (supported: gemma4ua)");
  ExpectLoadError([](B& b) {
    b.Str("general.architecture", "clip").Bool("clip.has_audio_encoder", true).Str("clip.audio.projector_type", "gemma4ua");
    b.U32("clip.audio.embedding_length", 128);
  }, "clip.audio.embedding_length = 128, expected 640");
  ExpectLoadError([](B& b) {
    b.Str("general.architecture", "clip").Bool("clip.has_audio_encoder", true).Str("clip.audio.projector_type", "gemma4ua");
  }, "required tensor 'mm.a.input_projection.weight' is missing");
  ExpectLoadError([](B& b) {
    b.Str("general.architecture", "clip").Bool("clip.has_audio_encoder", true).Str("clip.audio.projector_type", "gemma4ua");
    b.AddTensor("mm.a.input_projection.weight", {320, 16}, DType::kF32);
  }, "tensor 'mm.a.input_projection.weight' has shape [320, 16], expected [640, 16]");
  ExpectLoadError([](B& b) {
    b.Str("general.architecture", "clip").Bool("clip.has_audio_encoder", true).Str("clip.audio.projector_type", "gemma4ua");
    b.U32("clip.audio.projection_dim", 32);
    b.AddTensor("mm.a.input_projection.weight", {640, 16}, DType::kF16);
  }, "clip.audio.projection_dim = 32 but tensor 'mm.a.input_projection.weight' has 16 output rows");
  ExpectLoadError([](B& b) {
    b.Str("general.architecture", "clip").Bool("clip.has_audio_encoder", true).Str("clip.audio.projector_type", "gemma4ua");
    b.AddTensor("mm.a.input_projection.weight", {640, 16}, DType::kF32).n_dims = 3;
    b.tensors().back().ne.push_back(2);
  }, "mm.a.input_projection.weight");
}

TEST(AudioProjector, TextModelMismatch) {
  const auto bytes = MakeProjector(24);
  auto f = GgufFile::Parse(bytes.data(), bytes.size(), "mem.gguf");
  ASSERT_TRUE(f.ok());
  auto enc = AudioEncoder::FromFile(std::move(*f));
  ASSERT_TRUE(enc.ok());
  ModelConfig c;
  c.arch = Arch::kGemma4;
  c.arch_name = "gemma4";
  c.n_embd = 24;
  EXPECT_TRUE((*enc)->CheckTextModel(c).ok());
  c.n_embd = 32;
  Status s = (*enc)->CheckTextModel(c);
  EXPECT_NE(s.message().find("produces embeddings of size 24, but the text model's embedding size is 32"), std::string::npos) << s.message();
  std::printf("  error: %s\n", s.message().c_str());
  c.n_embd = 24;
  c.arch = Arch::kGemma3;
  c.arch_name = "gemma3";
  s = (*enc)->CheckTextModel(c);
  EXPECT_NE(s.message().find("the text model is gemma3"), std::string::npos) << s.message();
  std::printf("  error: %s\n", s.message().c_str());
}

}  // namespace
}  // namespace gemrun::audio
