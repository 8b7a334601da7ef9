// The continuous batcher on a fixture model: concurrent jobs all finish and match single-job
// output, prefix reuse, cancellation frees the slot, a full queue is kBusy, deadlines kTimeout,
// and image jobs (embedding rows) batch with text jobs and match the engine's Session.
#include <gtest/gtest.h>

#include <random>
#include <thread>

#include "engine/batcher.h"

namespace gemrun {
namespace {

const std::string kModel = std::string(GEMRUN_TEST_DATA) + "/testdata/models/g3-tiny-q4_0.gguf";

class BatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    EngineOptions eo;
    eo.threads = 2;
    eo.n_ctx = 128;
    auto e = Engine::Load(kModel, eo);
    ASSERT_TRUE(e.ok()) << e.status().message();
    engine_ = std::move(*e);
  }
  std::unique_ptr<Batcher> Make(int slots, int64_t queue, int64_t n_ctx = 128, int64_t max_image_rows = 0) {
    BatcherOptions o{.n_slots = slots, .n_ctx = n_ctx, .max_batch = 16, .max_queue = queue, .kv_type = DType::kF16,
                       .max_image_rows = max_image_rows};
    auto s = std::make_unique<Batcher>(*engine_, o, nullptr);
    EXPECT_TRUE(s->Init().ok());
    s->Start();
    return s;
  }
  std::shared_ptr<BatchJob> NewJob(std::vector<int32_t> prompt, int64_t max_tokens) {
    auto j = std::make_shared<BatchJob>();
    j->prompt = std::move(prompt);
    j->params.max_tokens = max_tokens;
    j->params.sampling.temperature = 0;
    j->params.ignore_eog = true;
    return j;
  }
  static std::string Drain(BatchJob& j) {
    std::vector<TokenOut> toks;
    while (!j.Wait(std::chrono::milliseconds(50), &toks)) {
    }
    std::string s;
    for (const TokenOut& t : toks) s += t.text;
    return s;
  }
  std::unique_ptr<Engine> engine_;
};

std::vector<int32_t> Prompt(int seed, int n) {
  std::vector<int32_t> p{2};
  for (int i = 1; i < n; ++i) p.push_back(300 + (seed * 37 + i * 11) % 1500);
  return p;
}

TEST_F(BatcherTest, BatchedJobsMatchSoloRuns) {
  std::vector<std::string> solo;
  {
    auto s = Make(1, 8);
    for (int i = 0; i < 4; ++i) {
      auto j = NewJob(Prompt(i, 20 + 7 * i), 12);
      ASSERT_FALSE(s->Submit(j));
      solo.push_back(Drain(*j));
      EXPECT_EQ(j->result().usage.completion_tokens, 12);
      EXPECT_EQ(j->result().text, solo.back());
    }
  }
  auto s = Make(4, 8);
  std::vector<std::shared_ptr<BatchJob>> jobs;
  for (int i = 0; i < 4; ++i) {
    jobs.push_back(NewJob(Prompt(i, 20 + 7 * i), 12));
    ASSERT_FALSE(s->Submit(jobs.back()));
  }
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(Drain(*jobs[i]), solo[i]) << i;
    EXPECT_FALSE(jobs[i]->error());
    EXPECT_EQ(jobs[i]->result().finish, FinishReason::kLength);
  }
}

// Rows standing in for a projector's output: deterministic, of the text model's width.
PromptSegment FakeImage(int64_t rows, int64_t n_embd, int seed) {
  PromptSegment seg;
  seg.n_rows = rows;
  seg.non_causal = true;
  std::mt19937 rng(static_cast<uint32_t>(seed));
  std::normal_distribution<float> d(0.0f, 1.0f);
  seg.embd.resize(static_cast<size_t>(rows * n_embd));
  for (float& v : seg.embd) v = d(rng);
  return seg;
}

// Text, an image, text: the layout of a chat turn with one image.
std::vector<PromptSegment> ImagePrompt(int seed, int64_t rows, int64_t n_embd) {
  std::vector<PromptSegment> segs(3);
  segs[0].ids = Prompt(seed, 6);
  segs[1] = FakeImage(rows, n_embd, seed);
  segs[2].ids = {400, 401, 402, 403};
  return segs;
}

TEST_F(BatcherTest, ImageJobsBatchWithTextJobsAndMatchTheSession) {
  const int64_t E = engine_->model().config().n_embd;
  GenerateParams p;
  p.max_tokens = 12;
  p.sampling.temperature = 0;
  p.ignore_eog = true;
  // The engine's single-sequence path is the reference for both kinds of prompt.
  auto reference = [&](std::vector<PromptSegment> segs) {
    auto session = engine_->NewSession();
    EXPECT_TRUE(session.ok());
    auto r = (*session)->Generate(std::span<const PromptSegment>(segs), p, [](const TokenEvent&) { return true; });
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? r->text : std::string();
  };
  const std::string want_image = reference(ImagePrompt(1, 24, E));
  std::vector<PromptSegment> text(1);
  text[0].ids = Prompt(2, 40);
  const std::string want_text = reference(text);

  // 24 image rows exceed the 16-row step budget: the image goes whole into a step it opens.
  auto s = Make(4, 8, 128, 24);
  auto a = NewJob(Prompt(2, 40), 12);
  auto img = NewJob({}, 12);
  img->SetPrompt(ImagePrompt(1, 24, E));
  ASSERT_EQ(img->prompt.size(), 34u);
  ASSERT_EQ(img->images.size(), 1u);
  EXPECT_EQ(img->images[0].pos, 6);
  auto b = NewJob(Prompt(2, 40), 12);
  ASSERT_FALSE(s->Submit(a));
  ASSERT_FALSE(s->Submit(img));
  ASSERT_FALSE(s->Submit(b));
  EXPECT_EQ(Drain(*img), want_image);
  EXPECT_EQ(Drain(*a), want_text);
  EXPECT_EQ(Drain(*b), want_text);
  EXPECT_FALSE(img->error());
  EXPECT_EQ(img->result().usage.prompt_tokens, 34);
  EXPECT_EQ(img->result().usage.completion_tokens, 12);
}

TEST_F(BatcherTest, PrefixReuseStopsAtTheFirstImage) {
  const int64_t E = engine_->model().config().n_embd;
  // Short enough that rewinding to the text prefix stays within the sliding-window rings.
  auto s = Make(1, 8, 128, 24);
  auto first = NewJob({}, 2);
  first->SetPrompt(ImagePrompt(3, 8, E));
  ASSERT_FALSE(s->Submit(first));
  const std::string out = Drain(*first);
  // The same prompt again: only the 6 text tokens before the image are reused, and the
  // answer is the same.
  auto again = NewJob({}, 2);
  again->SetPrompt(ImagePrompt(3, 8, E));
  ASSERT_FALSE(s->Submit(again));
  EXPECT_EQ(Drain(*again), out);
  EXPECT_EQ(again->result().usage.cached_tokens, 6);
  // A different image at the same place: nothing after the text prefix may be reused.
  auto other = NewJob({}, 2);
  other->SetPrompt(ImagePrompt(3, 8, E));
  other->images[0].rows = FakeImage(8, E, 99);
  ASSERT_FALSE(s->Submit(other));
  Drain(*other);
  EXPECT_EQ(other->result().usage.cached_tokens, 6);
}

TEST_F(BatcherTest, ImagesLargerThanABatchAreRefused) {
  const int64_t E = engine_->model().config().n_embd;
  auto s = Make(1, 8, 128, 24);
  auto j = NewJob({}, 4);
  j->SetPrompt(ImagePrompt(4, 40, E));
  auto e = s->Submit(j);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, BatchErrorKind::kTooLarge);
  EXPECT_NE(e->message.find("40 tokens"), std::string::npos);
  // Rows that do not match the model width are the caller's bug, not the request's.
  auto bad = NewJob({}, 4);
  bad->SetPrompt(ImagePrompt(4, 8, E));
  bad->images[0].rows.embd.pop_back();
  e = s->Submit(bad);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, BatchErrorKind::kInternal);
}

TEST_F(BatcherTest, ReusesTheLongestCachedPrefix) {
  auto s = Make(2, 8);
  auto a = NewJob(Prompt(1, 40), 4);
  ASSERT_FALSE(s->Submit(a));
  Drain(*a);
  std::vector<int32_t> longer = Prompt(1, 40);
  for (int i = 0; i < 10; ++i) longer.push_back(500 + i);
  auto b = NewJob(longer, 4);
  ASSERT_FALSE(s->Submit(b));
  Drain(*b);
  EXPECT_EQ(b->result().usage.cached_tokens, 40);
  EXPECT_EQ(b->result().usage.prompt_tokens, 50);
  // The identical prompt again: everything but the last token is reused.
  auto c = NewJob(longer, 4);
  ASSERT_FALSE(s->Submit(c));
  Drain(*c);
  EXPECT_EQ(c->result().usage.cached_tokens, 49);
}

TEST_F(BatcherTest, CancelFreesTheSlotAndFullQueueIsBusy) {
  auto s = Make(1, 1);
  auto running = NewJob(Prompt(2, 10), 100000);  // until the context is full
  auto queued = NewJob(Prompt(3, 10), 4);
  auto rejected = NewJob(Prompt(4, 10), 4);
  ASSERT_FALSE(s->Submit(running));
  ASSERT_FALSE(s->Submit(queued));
  auto e = s->Submit(rejected);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, BatchErrorKind::kBusy);
  std::vector<TokenOut> toks;
  while (toks.empty()) running->Wait(std::chrono::milliseconds(50), &toks);
  running->Cancel();
  Drain(*running);
  EXPECT_EQ(running->result().finish, FinishReason::kCancelled);
  Drain(*queued);  // got the slot
  EXPECT_EQ(queued->result().usage.completion_tokens, 4);
}

TEST_F(BatcherTest, DeadlineEndsWithTimeout) {
  // A context long enough that generation cannot finish before the deadline on a fast machine.
  auto s = Make(1, 4, 4096);
  auto j = NewJob(Prompt(5, 10), 100000);
  j->deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(50);
  ASSERT_FALSE(s->Submit(j));
  Drain(*j);
  ASSERT_TRUE(j->error());
  EXPECT_EQ(j->error()->kind, BatchErrorKind::kTimeout);
}

TEST_F(BatcherTest, StopEndsEverythingWithStopping) {
  auto s = Make(1, 4);
  auto a = NewJob(Prompt(6, 10), 100000), b = NewJob(Prompt(7, 10), 100000);
  ASSERT_FALSE(s->Submit(a));
  ASSERT_FALSE(s->Submit(b));
  s->Stop();
  Drain(*a);
  Drain(*b);
  ASSERT_TRUE(b->error());
  EXPECT_EQ(b->error()->kind, BatchErrorKind::kStopping);
  auto late = NewJob(Prompt(8, 10), 4);
  auto e = s->Submit(late);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, BatchErrorKind::kStopping);
}

}  // namespace
}  // namespace gemrun
