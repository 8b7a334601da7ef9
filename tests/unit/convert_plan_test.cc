// convert::PlanQuantization: llama-quantize's per-tensor type choices, tensor order and
// metadata on synthetic GGUF headers (the bytes themselves are checked end to end against
// llama-quantize's outputs in tests/e2e/quantize_test.sh).
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "convert/quant_plan.h"
#include "gguf/gguf.h"
#include "gguf_test_util.h"

namespace gemrun::convert {
namespace {

using gemrun::testing::GgufBuilder;

// A Gemma-3-like header: n_layer blocks of width `embd` (F32), tied embeddings.
std::vector<uint8_t> Model(int n_layer, int64_t embd, DType wt = DType::kF32, int n_expert = 0) {
  GgufBuilder b;
  b.Str("general.architecture", "gemma3").U32("general.file_type", 0).U32("general.quantization_version", 2);
  b.U32("gemma3.block_count", n_layer);
  if (n_expert) b.U32("gemma3.expert_count", n_expert);
  b.AddTensor("token_embd.weight", {embd, 64}, wt);
  b.AddTensor("output_norm.weight", {embd}, DType::kF32);
  // Deliberately out of order: blk.10 before blk.2, to check the numeric block sort.
  for (int l = n_layer - 1; l >= 0; --l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    b.AddTensor(p + "attn_norm.weight", {embd}, DType::kF32);
    b.AddTensor(p + "attn_q.weight", {embd, 64}, wt);
    b.AddTensor(p + "attn_k.weight", {embd, 32}, wt);
    b.AddTensor(p + "attn_v.weight", {embd, 32}, wt);
    b.AddTensor(p + "attn_output.weight", {64, embd}, wt);
    b.AddTensor(p + "ffn_down.weight", {512, embd}, wt);
    b.AddTensor(p + "ffn_gate_inp.weight", {embd, 4}, wt);
  }
  return b.Build();
}

struct Planned {
  std::vector<uint8_t> bytes;
  std::unique_ptr<GgufFile> file;
  StatusOr<QuantPlan> plan = InternalError("unset");
  std::map<std::string, DType> types;
};

Planned Plan(std::vector<uint8_t> bytes, QuantizeOptions opt) {
  Planned p;
  p.bytes = std::move(bytes);
  auto f = GgufFile::Parse(p.bytes.data(), p.bytes.size(), "model.gguf");
  EXPECT_TRUE(f.ok()) << f.status().message();
  p.file = std::move(*f);
  p.plan = PlanQuantization(*p.file, opt);
  if (p.plan.ok()) {
    for (const TensorPlan& t : p.plan->tensors) p.types[t.out.name] = t.out.type;
  }
  return p;
}

QuantizeOptions Opt(const char* type) {
  QuantizeOptions o;
  o.ftype = ParseFileType(type)->id;
  return o;
}

TEST(ConvertPlan, Q4_K_MUsesMoreBitsOnLlamaCppsLayers) {
  Planned p = Plan(Model(16, 256), Opt("Q4_K_M"));
  ASSERT_TRUE(p.plan.ok()) << p.plan.status().message();
  // use_more_bits(i, 16): i < 2, i >= 14, or (i - 2) % 3 == 2.
  const std::vector<int> more = {0, 1, 4, 7, 10, 13, 14, 15};
  for (int l = 0; l < 16; ++l) {
    const bool m = std::find(more.begin(), more.end(), l) != more.end();
    const std::string b = "blk." + std::to_string(l) + ".";
    EXPECT_EQ(p.types[b + "attn_v.weight"], m ? DType::kQ6_K : DType::kQ4_K) << l;
    EXPECT_EQ(p.types[b + "ffn_down.weight"], m ? DType::kQ6_K : DType::kQ4_K) << l;
    EXPECT_EQ(p.types[b + "attn_q.weight"], DType::kQ4_K);
    EXPECT_EQ(p.types[b + "attn_output.weight"], DType::kQ5_0) << "64 columns: Q4_K falls back";
    EXPECT_EQ(p.types[b + "attn_norm.weight"], DType::kF32);
    EXPECT_EQ(p.types[b + "ffn_gate_inp.weight"], DType::kF32) << "router stays";
  }
  EXPECT_EQ(p.types["token_embd.weight"], DType::kQ6_K) << "tied embeddings: output rule";
  EXPECT_EQ(p.plan->n_fallback, 16);
}

TEST(ConvertPlan, Q4_K_SAndQ5_K_M) {
  Planned s = Plan(Model(16, 256), Opt("Q4_K_S"));
  ASSERT_TRUE(s.plan.ok());
  for (int l = 0; l < 16; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    EXPECT_EQ(s.types[b + "attn_v.weight"], l < 4 ? DType::kQ5_K : DType::kQ4_K) << l;
    EXPECT_EQ(s.types[b + "ffn_down.weight"], l < 2 ? DType::kQ5_K : DType::kQ4_K) << l;
  }
  Planned m = Plan(Model(8, 256), Opt("Q5_K"));  // alias of Q5_K_M
  ASSERT_TRUE(m.plan.ok());
  EXPECT_EQ(m.types["blk.0.attn_v.weight"], DType::kQ6_K);
  EXPECT_EQ(m.types["blk.2.attn_v.weight"], DType::kQ5_K) << "use_more_bits(2, 8) is false";
  EXPECT_EQ(m.types["blk.3.attn_v.weight"], DType::kQ6_K) << "(3 - 8/8) % 3 == 2";
  EXPECT_EQ(m.types["blk.1.attn_output.weight"], DType::kQ5_1) << "Q5_K falls back to Q5_1";
}

TEST(ConvertPlan, FallbacksForOddWidths) {
  // 1152 (Gemma 3 1B) is a multiple of 32 but not 256; 48 is not a multiple of 32.
  Planned p = Plan(Model(2, 1152), Opt("Q6_K"));
  ASSERT_TRUE(p.plan.ok());
  EXPECT_EQ(p.types["blk.0.attn_q.weight"], DType::kQ8_0);
  EXPECT_EQ(p.types["token_embd.weight"], DType::kQ8_0);
  QuantizeOptions pure = Opt("Q4_K_M");
  pure.pure = true;
  Planned f = Plan(Model(2, 48), pure);
  ASSERT_TRUE(f.plan.ok()) << f.plan.status().message();
  EXPECT_EQ(f.types["blk.0.attn_q.weight"], DType::kF16) << "neither 256 nor 32 divides 48";
  // The tied embedding takes Q8_0, and llama.cpp defines no fallback for Q8_0 (nor Q4_0).
  Planned e = Plan(Model(2, 48), Opt("Q4_K_M"));
  EXPECT_EQ(e.plan.status().code(), StatusCode::kUnimplemented);
  EXPECT_EQ(Plan(Model(2, 48), Opt("Q4_0")).plan.status().code(), StatusCode::kUnimplemented);
}

TEST(ConvertPlan, ExpertCountEightRules) {
  Planned p = Plan(Model(8, 256, DType::kF32, 8), Opt("Q4_K_M"));
  ASSERT_TRUE(p.plan.ok()) << p.plan.status().message();
  EXPECT_EQ(p.types["blk.3.attn_v.weight"], DType::kQ8_0);
  EXPECT_EQ(p.types["blk.3.attn_k.weight"], DType::kQ8_0);
  EXPECT_EQ(p.types["blk.3.attn_output.weight"], DType::kQ5_1) << "Q5_K, then the 64-column fallback";
}

TEST(ConvertPlan, OptionsOverrideTheMix) {
  QuantizeOptions o = Opt("Q4_K_M");
  o.pure = true;
  Planned pure = Plan(Model(8, 256), o);
  ASSERT_TRUE(pure.plan.ok());
  EXPECT_EQ(pure.types["blk.0.attn_v.weight"], DType::kQ4_K);
  EXPECT_EQ(pure.types["token_embd.weight"], DType::kQ4_K);
  o = Opt("Q4_0");
  o.token_embedding_type = DType::kQ8_0;
  Planned te = Plan(Model(2, 256), o);
  ASSERT_TRUE(te.plan.ok());
  EXPECT_EQ(te.types["token_embd.weight"], DType::kQ8_0);
  EXPECT_EQ(te.types["blk.0.attn_q.weight"], DType::kQ4_0);
  o.token_embedding_type = DType::kQ4_K;  // llama-quantize aborts here (ggml assert)
  Planned bad = Plan(Model(2, 128), o);
  ASSERT_EQ(bad.plan.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.plan.status().message().find("row length 128"), std::string::npos);
}

TEST(ConvertPlan, OrderAndMetadata) {
  Planned p = Plan(Model(12, 256), Opt("Q8_0"));
  ASSERT_TRUE(p.plan.ok());
  std::vector<std::string> names;
  for (const TensorPlan& t : p.plan->tensors) names.push_back(t.out.name);
  EXPECT_EQ(names[0], "output_norm.weight");  // non-block tensors first, by name
  EXPECT_EQ(names[1], "token_embd.weight");
  EXPECT_EQ(names[2], "blk.0.attn_k.weight");  // then blocks numerically, by name inside
  EXPECT_EQ(names[2 + 7 * 2], "blk.2.attn_k.weight") << "blk.2 before blk.10";
  const auto& kv = p.plan->kv;
  ASSERT_GE(kv.size(), 3u);
  EXPECT_EQ(kv[0].key, "general.architecture");
  EXPECT_EQ(kv[kv.size() - 2].key, "general.quantization_version");
  EXPECT_EQ(kv.back().key, "general.file_type");
  EXPECT_EQ(kv.back().value, std::string("\x07\0\0\0", 4)) << "LLAMA_FTYPE_MOSTLY_Q8_0";
  uint64_t expect_off = 0;
  for (const TensorPlan& t : p.plan->tensors) {
    EXPECT_EQ(t.out.offset, expect_off) << t.out.name;
    expect_off += (t.out.nbytes + 31) / 32 * 32;
  }
  EXPECT_EQ(p.plan->data_bytes, expect_off);
}

TEST(ConvertPlan, RequantizeNeedsTheFlag) {
  Planned p = Plan(Model(2, 256, DType::kQ8_0), Opt("Q4_K_M"));
  ASSERT_EQ(p.plan.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(p.plan.status().message().find("--allow-requantize"), std::string::npos);
  QuantizeOptions o = Opt("Q4_K_M");
  o.allow_requantize = true;
  EXPECT_TRUE(Plan(Model(2, 256, DType::kQ8_0), o).plan.ok());
  // Same type in and out is a copy, not a requantization.
  EXPECT_TRUE(Plan(Model(2, 256, DType::kQ8_0), Opt("Q8_0")).plan.ok());
}

TEST(ConvertPlan, TypeNames) {
  EXPECT_EQ(ParseFileType("q4_k_m")->id, FileType::kQ4_K_M);
  EXPECT_EQ(ParseFileType("Q4_K")->id, FileType::kQ4_K_M);
  EXPECT_EQ(ParseFileType("bf16")->id, FileType::kBF16);
  auto bad = ParseFileType("Q3_K_M");
  ASSERT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("Q4_K_M"), std::string::npos) << "lists the supported names";
  EXPECT_EQ(*ParseTensorType("q6_k"), DType::kQ6_K);
  EXPECT_FALSE(ParseTensorType("IQ4_XS").ok());
}

}  // namespace
}  // namespace gemrun::convert
