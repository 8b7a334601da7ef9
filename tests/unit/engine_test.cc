// Engine tests: Generation's stop rules and streaming on forced logits; Session prefix reuse,
// context limits and greedy generation on a fixture model.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/engine.h"
#include "gguf/gguf.h"

namespace gemrun {
namespace {

const std::string kModel = std::string(GEMRUN_TEST_DATA) + "/testdata/models/g3-tiny-q4_0.gguf";

class GenerationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto f = GgufFile::Open(kModel);
    ASSERT_TRUE(f.ok()) << f.status().message();
    auto t = Tokenizer::FromGguf(**f);
    ASSERT_TRUE(t.ok()) << t.status().message();
    file_ = std::move(*f);
    tok_ = std::move(*t);
    n_vocab_ = tok_->vocab().size();
  }
  // Logits that force `id`.
  std::vector<float> Force(int32_t id) {
    std::vector<float> l(n_vocab_, 0.0f);
    l[id] = 100.0f;
    return l;
  }
  // Ids of ordinary pieces whose text is exactly `s` (for composing outputs).
  int32_t Id(const std::string& s) { return tok_->vocab().Find(s); }

  std::unique_ptr<GgufFile> file_;
  std::unique_ptr<Tokenizer> tok_;
  int64_t n_vocab_ = 0;
};

TEST_F(GenerationTest, MaxTokensAndText) {
  GenerateParams p;
  p.sampling.temperature = 0;
  p.max_tokens = 3;
  std::string streamed;
  Generation g(*tok_, p, n_vocab_, [&](const TokenEvent& e) { streamed += e.text; return true; });
  const int32_t a = 300;
  for (int i = 0; i < 3; ++i) {
    auto l = Force(a);
    g.Step(l.data(), false);
  }
  EXPECT_TRUE(g.done());
  EXPECT_EQ(g.finish(), FinishReason::kLength);
  EXPECT_EQ(g.tokens().size(), 3u);
  EXPECT_EQ(streamed, g.text());
  EXPECT_EQ(g.text(), tok_->Decode(g.tokens()));
}

TEST_F(GenerationTest, EogStopsWithoutEmittingIt) {
  GenerateParams p;
  p.sampling.temperature = 0;
  Generation g(*tok_, p, n_vocab_, nullptr);
  auto l = Force(300);
  EXPECT_TRUE(g.Step(l.data(), false));
  const int32_t eos = tok_->vocab().eos();
  ASSERT_GE(eos, 0);
  l = Force(eos);
  EXPECT_FALSE(g.Step(l.data(), false));
  EXPECT_EQ(g.finish(), FinishReason::kEog);
  EXPECT_EQ(g.tokens().size(), 1u);
}

TEST_F(GenerationTest, StopStringSplitAcrossTokensIsNeverEmitted) {
  // Find two ordinary tokens whose decoded texts are non-empty, and stop on a string that
  // spans the end of the first and the start of the second.
  const std::string t1(tok_->Piece(300)), t2(tok_->Piece(301));
  ASSERT_FALSE(t1.empty());
  ASSERT_FALSE(t2.empty());
  GenerateParams p;
  p.sampling.temperature = 0;
  p.stop = {t1.substr(t1.size() - 1) + t2};
  std::string streamed;
  Generation g(*tok_, p, n_vocab_, [&](const TokenEvent& e) { streamed += e.text; return true; });
  auto l = Force(300);
  EXPECT_TRUE(g.Step(l.data(), false));
  EXPECT_EQ(streamed, t1.substr(0, t1.size() - 1));  // last byte held back: could start the stop
  l = Force(301);
  EXPECT_FALSE(g.Step(l.data(), false));
  EXPECT_EQ(g.finish(), FinishReason::kStopString);
  EXPECT_EQ(g.text(), t1.substr(0, t1.size() - 1));
  EXPECT_EQ(streamed, g.text());
}

TEST_F(GenerationTest, CallbackCancels) {
  GenerateParams p;
  p.sampling.temperature = 0;
  Generation g(*tok_, p, n_vocab_, [](const TokenEvent&) { return false; });
  auto l = Force(300);
  EXPECT_FALSE(g.Step(l.data(), false));
  EXPECT_EQ(g.finish(), FinishReason::kCancelled);
}

TEST(Session, GreedyIsRepeatableAndReusesPrefix) {
  EngineOptions o;
  o.threads = 2;
  o.n_ctx = 64;
  auto e = Engine::Load(kModel, o);
  ASSERT_TRUE(e.ok()) << e.status().message();
  auto s = (*e)->NewSession();
  ASSERT_TRUE(s.ok());
  GenerateParams p;
  p.sampling.temperature = 0;
  p.max_tokens = 4;
  p.ignore_eog = true;
  const std::vector<int32_t> prompt = {2, 300, 301, 302, 303};
  auto r1 = (*s)->Generate(prompt, p, nullptr);
  ASSERT_TRUE(r1.ok()) << r1.status().message();
  EXPECT_EQ(r1->tokens.size(), 4u);
  EXPECT_EQ(r1->timings.cached_tokens, 0);
  // Same prompt again: everything but the last prompt token is reused, same greedy output.
  auto r2 = (*s)->Generate(prompt, p, nullptr);
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2->timings.cached_tokens, 4);
  EXPECT_EQ(r2->tokens, r1->tokens);
  // Prompt over the context: a clear error with both numbers.
  std::vector<int32_t> longp(64, 300);
  auto r3 = (*s)->Generate(longp, p, nullptr);
  ASSERT_FALSE(r3.ok());
  EXPECT_NE(r3.status().message().find("64 tokens"), std::string::npos) << r3.status().message();
  EXPECT_NE(r3.status().message().find("context holds 64"), std::string::npos);
}

TEST(Session, GenerationStopsAtContextEnd) {
  EngineOptions o;
  o.threads = 1;
  o.n_ctx = 8;
  auto e = Engine::Load(kModel, o);
  ASSERT_TRUE(e.ok());
  auto s = (*e)->NewSession();
  ASSERT_TRUE(s.ok());
  GenerateParams p;
  p.sampling.temperature = 0;
  p.ignore_eog = true;
  auto r = (*s)->Generate(std::vector<int32_t>{2, 300, 301}, p, nullptr);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->finish, FinishReason::kContextFull);
  EXPECT_EQ(r->tokens.size(), 6u);  // 3 prompt + 5 evaluated + the last sampled one
}

}  // namespace
}  // namespace gemrun

namespace gemrun {
namespace {

// With small batches the sliding-window layers use rings; reusing a prefix after the rings
// have moved on must fall back to re-evaluation and still give the fresh session's output.
TEST(Session, PrefixReuseWithSlidingWindowRings) {
  EngineOptions o;
  o.threads = 1;
  o.n_ctx = 96;
  o.max_batch = 4;  // window 16 + 4: rings of 20 slots, rewinds of up to 4 positions
  auto e = Engine::Load(kModel, o);
  ASSERT_TRUE(e.ok());
  GenerateParams p;
  p.sampling.temperature = 0;
  p.max_tokens = 6;
  p.ignore_eog = true;
  std::vector<int32_t> a = {2}, b = {2};
  for (int i = 0; i < 30; ++i) a.push_back(300 + i);
  for (int i = 0; i < 10; ++i) b.push_back(300 + i);
  for (int i = 0; i < 25; ++i) b.push_back(700 + i);
  auto s = (*e)->NewSession();
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE((*s)->Generate(a, p, nullptr).ok());
  auto reused = (*s)->Generate(b, p, nullptr);  // shares 11 tokens, but 25 positions back
  ASSERT_TRUE(reused.ok());
  EXPECT_EQ(reused->timings.cached_tokens, 0);
  auto fresh_s = (*e)->NewSession();
  ASSERT_TRUE(fresh_s.ok()) << fresh_s.status().message();
  auto fresh = (*fresh_s)->Generate(b, p, nullptr);
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(reused->tokens, fresh->tokens);
  // A short rewind (two positions, within the rings' slack) keeps the cache.
  GenerateParams p2 = p;
  p2.max_tokens = 2;
  ASSERT_TRUE((*fresh_s)->Generate(b, p2, nullptr).ok());
  auto again = (*fresh_s)->Generate(b, p2, nullptr);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->timings.cached_tokens, static_cast<int64_t>(b.size()) - 1);
  EXPECT_EQ(again->tokens, std::vector<int32_t>(fresh->tokens.begin(), fresh->tokens.begin() + 2));
}

}  // namespace
}  // namespace gemrun
