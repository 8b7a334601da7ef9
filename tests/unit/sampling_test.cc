// Sampler tests: greedy, seeds, truncation rules, penalties, bias, validation.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <vector>

#include "sampling/sampler.h"

namespace gemrun {
namespace {

std::vector<float> Logits() { return {1.0f, 3.0f, 2.0f, 0.5f, 2.9f, -1.0f}; }

TEST(Sampler, GreedyPicksArgmax) {
  SamplingParams p;
  p.temperature = 0;
  Sampler s(p, 6);
  auto l = Logits();
  EXPECT_EQ(s.Sample(l.data()), 1);
}

TEST(Sampler, SameSeedSameSequenceDifferentSeedDiffers) {
  SamplingParams p;
  p.temperature = 1.5f;
  p.top_k = 0;
  p.top_p = 1;
  p.min_p = 0;
  auto run = [&](uint64_t seed) {
    p.seed = seed;
    Sampler s(p, 6);
    std::vector<int32_t> out;
    for (int i = 0; i < 64; ++i) {
      auto l = Logits();
      out.push_back(s.Sample(l.data()));
    }
    return out;
  };
  EXPECT_EQ(run(42), run(42));
  EXPECT_NE(run(42), run(43));
}

TEST(Sampler, TopKOneIsGreedy) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_k = 1;
  Sampler s(p, 6);
  for (int i = 0; i < 20; ++i) {
    auto l = Logits();
    EXPECT_EQ(s.Sample(l.data()), 1);
  }
}

TEST(Sampler, TopPKeepsOnlyNucleus) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.min_p = 0;
  p.top_p = 0.5f;  // token 1 has ~0.37, token 4 ~0.33: the nucleus is {1, 4}
  Sampler s(p, 6);
  std::map<int32_t, int> seen;
  for (int i = 0; i < 400; ++i) {
    auto l = Logits();
    ++seen[s.Sample(l.data())];
  }
  EXPECT_EQ(seen.size(), 2u);
  EXPECT_TRUE(seen.count(1) && seen.count(4));
}

TEST(Sampler, MinPDropsUnlikelyTokens) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 1;
  p.min_p = 0.5f;  // keeps tokens with p >= 0.5 * p_max: logits >= 3 - ln 2 = 2.31
  Sampler s(p, 6);
  for (int i = 0; i < 300; ++i) {
    auto l = Logits();
    const int32_t t = s.Sample(l.data());
    EXPECT_TRUE(t == 1 || t == 4) << t;
  }
}

TEST(Sampler, RepeatPenaltyAndBias) {
  SamplingParams p;
  p.temperature = 0;
  p.repeat_penalty = 2.0f;
  Sampler s(p, 6);
  s.Accept(1);  // 3.0 -> 1.5, so token 4 (2.9) wins
  auto l = Logits();
  EXPECT_EQ(s.Sample(l.data()), 4);
  SamplingParams q;
  q.temperature = 0;
  q.logit_bias = {{5, 100.0f}};
  Sampler b(q, 6);
  auto l2 = Logits();
  EXPECT_EQ(b.Sample(l2.data()), 5);
}

TEST(Sampler, PresenceAndFrequency) {
  SamplingParams p;
  p.temperature = 0;
  p.frequency_penalty = 0.1f;
  p.presence_penalty = 0.0f;
  Sampler s(p, 6);
  s.Accept(1);
  s.Accept(1);  // 3.0 - 0.2 = 2.8 < 2.9
  auto l = Logits();
  EXPECT_EQ(s.Sample(l.data()), 4);
}

TEST(Sampler, ValidateRejectsBadValues) {
  SamplingParams p;
  p.temperature = -1;
  EXPECT_FALSE(p.Validate(6).ok());
  p = {};
  p.top_p = 0;
  EXPECT_FALSE(p.Validate(6).ok());
  p = {};
  p.logit_bias = {{6, 1.0f}};
  EXPECT_FALSE(p.Validate(6).ok());
  EXPECT_TRUE(SamplingParams{}.Validate(6).ok());
}

TEST(Sampler, MinusInfinityBiasIsNeverSampled) {
  // Suppressed tokens arrive as -inf biases (engine/generation.cc). A positive user bias on the
  // same token cannot bring it back, and no draw at any temperature returns it.
  const float inf = std::numeric_limits<float>::infinity();
  SamplingParams p;
  p.temperature = 0;
  p.logit_bias = {{1, -inf}, {4, -inf}, {1, 50.0f}};
  Sampler g(p, 6);
  auto l = Logits();
  EXPECT_EQ(g.Sample(l.data()), 2);
  p.temperature = 100;  // nearly uniform over the survivors
  p.top_k = 0, p.top_p = 1, p.min_p = 0;
  p.logit_bias = {{0, -inf}, {1, -inf}, {2, -inf}, {3, -inf}, {4, -inf}};
  Sampler t(p, 6);
  for (int i = 0; i < 2000; ++i) {
    auto row = Logits();
    ASSERT_EQ(t.Sample(row.data()), 5);
  }
}

TEST(Sampler, LogProbs) {
  auto l = Logits();
  auto top = TopLogProbs(l, 2);
  ASSERT_EQ(top.size(), 2u);
  EXPECT_EQ(top[0].first, 1);
  EXPECT_EQ(top[1].first, 4);
  double s = 0;
  for (int i = 0; i < 6; ++i) s += std::exp(TokenLogProb(l, i));
  EXPECT_NEAR(s, 1.0, 1e-6);
}

}  // namespace
}  // namespace gemrun
