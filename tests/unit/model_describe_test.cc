// DescribeGguf: the one-line identity `gemrun inspect` and the run/chat/serve banner print,
// derived from metadata (sizes by configuration, kind, main type), never from the file name.
#include <gtest/gtest.h>

#include <string>

#include "gguf_test_util.h"
#include "model/describe.h"

namespace gemrun {
namespace {

using testing::GgufBuilder;
using testing::ParseCopy;

std::string Describe(GgufBuilder& b) {
  auto p = ParseCopy(b.Build());
  EXPECT_TRUE(p.file.ok()) << p.file.status().message();
  return p.file.ok() ? DescribeGguf(**p.file) : "";
}

GgufBuilder Gemma4(uint32_t n_layer, uint32_t n_embd) {
  GgufBuilder b;
  b.Str("general.architecture", "gemma4");
  b.U32("gemma4.block_count", n_layer);
  b.U32("gemma4.embedding_length", n_embd);
  b.U32("gemma4.context_length", 262144);
  b.AddTensor("blk.0.attn_q.weight", {256, 64}, DType::kQ4_0);
  b.AddTensor("blk.0.attn_norm.weight", {256}, DType::kF32);
  return b;
}

bool StartsWith(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }

TEST(DescribeGguf, TextModelsBySizeAndKind) {
  GgufBuilder b12 = Gemma4(48, 3840);
  b12.U32("gemma4.embedding_length_per_layer_input", 0);
  const std::string d12 = Describe(b12);
  EXPECT_TRUE(StartsWith(d12, "gemma4 12B (dense, 48 layers), Q4_0, ")) << d12;
  EXPECT_NE(d12.find("trained ctx 262144"), std::string::npos) << d12;

  GgufBuilder e4b = Gemma4(42, 2560);
  e4b.U32("gemma4.embedding_length_per_layer_input", 256);
  e4b.U32("gemma4.attention.shared_kv_layers", 18);
  EXPECT_TRUE(StartsWith(Describe(e4b), "gemma4 E4B (PLE, shared KV, 42 layers)")) << Describe(e4b);

  GgufBuilder moe = Gemma4(30, 2816);
  moe.U32("gemma4.expert_count", 128);
  moe.U32("gemma4.expert_used_count", 8);
  EXPECT_TRUE(StartsWith(Describe(moe), "gemma4 26B-A4B (MoE, 128 experts, 8 used, 30 layers)")) << Describe(moe);

  // The same shape under another architecture, or an unreleased shape, gets no size name.
  GgufBuilder odd = Gemma4(6, 256);
  EXPECT_TRUE(StartsWith(Describe(odd), "gemma4 (dense, 6 layers), Q4_0, ")) << Describe(odd);
  EXPECT_EQ(GemmaSizeName("gemma3", 48, 3840), "12B");
  EXPECT_EQ(GemmaSizeName("llama", 48, 3840), "");
}

TEST(DescribeGguf, Projectors) {
  GgufBuilder u;
  u.Str("general.architecture", "clip");
  u.Bool("clip.has_vision_encoder", true);
  u.Bool("clip.has_audio_encoder", true);
  u.Str("clip.vision.projector_type", "gemma4uv");
  u.Str("clip.audio.projector_type", "gemma4ua");
  u.U32("clip.vision.projection_dim", 3840);
  u.U32("clip.audio.projection_dim", 3840);
  u.AddTensor("mm.input_projection.weight", {3840, 16}, DType::kF16);
  EXPECT_TRUE(StartsWith(Describe(u), "gemma4 12B vision+audio projector (gemma4uv + gemma4ua), F16, ")) << Describe(u);

  GgufBuilder g3;
  g3.Str("general.architecture", "clip");
  g3.Bool("clip.has_vision_encoder", true);
  g3.Str("clip.projector_type", "gemma3");
  g3.U32("clip.vision.projection_dim", 2560);
  EXPECT_TRUE(StartsWith(Describe(g3), "gemma3 4B vision projector (gemma3)")) << Describe(g3);

  GgufBuilder v;  // unknown text width: named, not guessed
  v.Str("general.architecture", "clip");
  v.Bool("clip.has_vision_encoder", true);
  v.Str("clip.vision.projector_type", "gemma4v");
  v.U32("clip.vision.projection_dim", 128);
  EXPECT_TRUE(StartsWith(Describe(v), "gemma4 vision projector (gemma4v) for text width 128")) << Describe(v);
}

}  // namespace
}  // namespace gemrun
