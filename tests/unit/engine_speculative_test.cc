// Speculative decoding: with greedy sampling the output equals plain decoding on every tiny
// fixture (Gemma 3, Gemma 4 with shared-KV layers; F16 and Q8_0 caches; sliding-window rings
// that wrap many times), a rejected draft leaves the cache as plain decoding would, and a
// model drafting for itself has every proposal accepted (k + 1 ids per target pass).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "engine/engine.h"

namespace gemrun {
namespace {

const std::string kModels = std::string(GEMRUN_TEST_DATA) + "/testdata/models/";

// A small batch keeps the sliding-window rings short (window 16 + batch 16 = 32 slots), so
// ~100 generated ids wrap them several times, and a rollback crosses the wrap point often.
EngineOptions Opts(DType kv_type, const std::string& draft = "", int draft_max = 8) {
  EngineOptions o;
  o.threads = 1;
  o.n_ctx = 256;
  o.max_batch = 16;
  o.kv_type = kv_type;
  o.draft_model = draft.empty() ? "" : kModels + draft;
  o.draft_max = draft_max;
  return o;
}

GenerateParams Greedy(int64_t n) {
  GenerateParams p;
  p.sampling.temperature = 0;
  p.max_tokens = n;
  p.ignore_eog = true;
  return p;
}

std::unique_ptr<Engine> Load(const std::string& model, const EngineOptions& o) {
  auto e = Engine::Load(kModels + model, o);
  EXPECT_TRUE(e.ok()) << e.status().message();
  return e.ok() ? std::move(*e) : nullptr;
}

const std::vector<int32_t> kPrompt = {2, 1950, 1381, 1486, 1865, 1298, 1649, 1752, 670};

// The sliding-window rings hold only the last `window` positions that matter; global layers
// hold all. Compares the K rows and V columns of every position a later query can read.
void ExpectSameCache(const KvCache& a, const KvCache& b, int64_t window) {
  ASSERT_EQ(a.n_past, b.n_past);
  ASSERT_EQ(a.layout.size(), b.layout.size());
  for (size_t il = 0; il < a.layout.size(); ++il) {
    if (a.k[il].size() == 0) continue;  // reads another layer's cache
    const kernels::KvLayout& l = a.layout[il];
    const int64_t cap = l.capacity, w = int64_t{l.n_head_kv} * l.head_dim;
    const int64_t lo = cap < a.n_ctx ? std::max<int64_t>(0, a.n_past - window) : 0;
    for (int64_t p = lo; p < a.n_past; ++p) {
      const int64_t slot = p % cap;
      ASSERT_EQ(0, std::memcmp(a.k[il].data() + slot * l.KRowBytes(), b.k[il].data() + slot * l.KRowBytes(),
                               l.KRowBytes()))
          << "layer " << il << " K at position " << p;
      for (int64_t i = 0; i < w; ++i)
        ASSERT_EQ(0, std::memcmp(a.v[il].data() + (i * cap + slot) * l.VElemBytes(),
                                 b.v[il].data() + (i * cap + slot) * l.VElemBytes(), l.VElemBytes()))
            << "layer " << il << " V at position " << p;
    }
  }
}

struct Case {
  const char* target;
  const char* draft;
  DType kv;
};

class SpecGreedy : public ::testing::TestWithParam<Case> {};

TEST_P(SpecGreedy, SameTokensAndCacheAsPlain) {
  const Case& c = GetParam();
  auto plain_e = Load(c.target, Opts(c.kv));
  auto spec_e = Load(c.target, Opts(c.kv, c.draft));
  ASSERT_TRUE(plain_e && spec_e);
  auto plain = plain_e->NewSession();
  auto spec = spec_e->NewSession();
  ASSERT_TRUE(plain.ok() && spec.ok());
  auto a = (*plain)->Generate(kPrompt, Greedy(100), nullptr);
  auto b = (*spec)->Generate(kPrompt, Greedy(100), nullptr);
  ASSERT_TRUE(a.ok()) << a.status().message();
  ASSERT_TRUE(b.ok()) << b.status().message();
  EXPECT_EQ(a->tokens, b->tokens);
  EXPECT_EQ(a->text, b->text);
  const SpecStats& s = b->timings.spec;
  EXPECT_GT(s.target_passes, 0);
  EXPECT_LE(s.accepted, s.drafted);
  // Every pass yields its accepted ids plus one (the last pass one fewer when the generation
  // ended on an accepted id); the prompt's logits gave the first.
  const int64_t n = static_cast<int64_t>(b->tokens.size());
  EXPECT_TRUE(n == 1 + s.accepted + s.target_passes || n == s.accepted + s.target_passes)
      << n << " ids, " << s.accepted << " accepted, " << s.target_passes << " passes";
  EXPECT_LT(s.target_passes, 100);
  // A drafter other than the model itself is wrong now and then: the rollback path ran.
  if (std::string(c.target) != c.draft) EXPECT_LT(s.accepted, s.drafted);
  else EXPECT_EQ(s.accepted, s.drafted);
  // The sliding-window rings wrapped (n_past is past their size), so rollbacks crossed wraps.
  bool wrapped = false;
  for (const kernels::KvLayout& l : (*spec)->kv().layout) wrapped |= l.capacity < (*spec)->kv().n_past;
  EXPECT_TRUE(wrapped);
  ExpectSameCache((*plain)->kv(), (*spec)->kv(), spec_e->model().config().window);
  EXPECT_EQ((*plain)->history(), (*spec)->history());

  // The cache a speculative run leaves behind continues exactly like plain decoding's.
  std::vector<int32_t> next = (*plain)->history();
  next.insert(next.end(), {300, 301, 302});
  (*spec)->SetDrafter(nullptr, 0);
  auto a2 = (*plain)->Generate(next, Greedy(20), nullptr);
  auto b2 = (*spec)->Generate(next, Greedy(20), nullptr);
  ASSERT_TRUE(a2.ok() && b2.ok());
  EXPECT_GT(b2->timings.cached_tokens, 100);  // the prefix was reused, not recomputed
  EXPECT_EQ(a2->tokens, b2->tokens);
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, SpecGreedy,
    ::testing::Values(Case{"g3-tiny-q4_0.gguf", "g3-tiny-q8_0.gguf", DType::kF16},
                      Case{"g3-tiny-q4_0.gguf", "g3-tiny-q8_0.gguf", DType::kQ8_0},
                      Case{"g3-tiny-q8_0.gguf", "g3-tiny-q4_k_m.gguf", DType::kF16},
                      Case{"g4-tiny-q8_0.gguf", "g4-tiny-q4_k_m.gguf", DType::kF16},
                      Case{"g4-tiny-q8_0.gguf", "g4-tiny-q4_k_m.gguf", DType::kQ8_0},
                      Case{"g4-tiny-q4_k_m.gguf", "g4-moe-q4_k_m.gguf", DType::kF16},
                      Case{"g3-tiny-q4_0.gguf", "g3-tiny-q4_0.gguf", DType::kQ8_0},
                      Case{"g4-tiny-q8_0.gguf", "g4-tiny-q8_0.gguf", DType::kF16}));

// A model drafting for itself: every proposal is accepted, so each target pass yields
// exactly k + 1 ids (k = --draft-max, the adaptive length never drops at acceptance 1).
TEST(SpecSelf, EveryProposalAccepted) {
  for (const char* m : {"g3-tiny-q4_0.gguf", "g4-tiny-q8_0.gguf"}) {
    constexpr int k = 4, passes = 10;
    auto e = Load(m, Opts(DType::kF16, m, k));
    ASSERT_TRUE(e);
    auto s = e->NewSession();
    ASSERT_TRUE(s.ok());
    auto r = (*s)->Generate(kPrompt, Greedy(1 + passes * (k + 1)), nullptr);
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_EQ(r->timings.spec.target_passes, passes) << m;
    EXPECT_EQ(r->timings.spec.drafted, passes * k) << m;
    EXPECT_EQ(r->timings.spec.accepted, passes * k) << m;
  }
}

TEST(SpecVocab, DifferentTokenizerIsAClearError) {
  auto e = Engine::Load(kModels + "g3-tiny-q4_0.gguf", Opts(DType::kF16, "g4-tiny-q8_0.gguf"));
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(e.status().message().find("--draft-model"), std::string::npos) << e.status().message();
  EXPECT_NE(e.status().message().find("same tokenizer"), std::string::npos) << e.status().message();
}

TEST(SpecDraftLength, FollowsTheAcceptanceRate) {
  DraftLength d(8);
  EXPECT_EQ(d.Next(), 8);  // optimistic start
  for (int i = 0; i < 40; ++i) d.Update(8, 0);
  EXPECT_EQ(d.Next(), 1);  // nothing accepted: one proposal per pass
  for (int i = 0; i < 80; ++i) d.Update(10, 7);  // rate -> 0.7: mean run 2.33, draft 3
  EXPECT_EQ(d.Next(), 3);
  for (int i = 0; i < 60; ++i) d.Update(8, 8);
  EXPECT_EQ(d.Next(), 8);
}

TEST(SpecProjection, ExpectedIdsPerRoundOverCost) {
  // Free drafting and a pass costing one step: the speed-up is the ids per round.
  EXPECT_NEAR(ProjectedSpeedup(0.8, 4, 1.0, 0.0, 1.0), (1 - std::pow(0.8, 5)) / 0.2, 1e-12);
  EXPECT_DOUBLE_EQ(ProjectedSpeedup(1.0, 4, 1.0, 0.0, 1.0), 5.0);
  // Nothing accepted: one id per round that costs a pass plus a draft step (slower).
  EXPECT_DOUBLE_EQ(ProjectedSpeedup(0.0, 1, 10.0, 1.0, 12.0), 10.0 / 13.0);
}

}  // namespace
}  // namespace gemrun
