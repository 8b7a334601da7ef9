// Ask's planning and orchestration with a fake model (words as tokens, scripted replies):
// whole vs map-reduce vs retrieve, every chunk read once, notes carry their ranges, merge
// rounds until the notes fit, retrieval picks the relevant chunk, citations are validated.
#include <gtest/gtest.h>

#include "ops/ask.h"
#include "ops/check.h"

namespace gemrun::ops {
namespace {

int64_t WordCount(std::string_view s) {
  int64_t n = 0;
  bool in = false;
  for (char c : s) {
    const bool w = c != ' ' && c != '\n';
    if (w && !in) ++n;
    in = w;
  }
  return n;
}

class FakeLlm : public Llm {
 public:
  explicit FakeLlm(int64_t ctx) : ctx_(ctx) {}
  int64_t n_ctx() const override { return ctx_; }
  int64_t CountTokens(std::string_view t) const override { return WordCount(t); }
  StatusOr<int64_t> PromptTokens(const LlmRequest& r) const override {
    return WordCount(r.system) + WordCount(r.user) + 8;
  }
  StatusOr<LlmReply> Complete(const LlmRequest& r, const TokenTick& tick) override {
    auto n = PromptTokens(r);
    if (*n + r.max_tokens > ctx_) return OutOfRangeError("prompt over the context");
    requests.push_back(r.user);
    LlmReply rep;
    rep.text = reply ? reply(r) : "NONE";
    rep.gen_tokens = WordCount(rep.text);
    if (tick) tick(rep.gen_tokens);
    return rep;
  }
  std::function<std::string(const LlmRequest&)> reply;
  std::vector<std::string> requests;

 private:
  int64_t ctx_;
};

std::vector<ingest::Document> Log(int lines, const std::string& needle_at_line_text = "") {
  std::vector<ingest::Document> d(1);
  d[0].name = "sys.log";
  for (int i = 1; i <= lines; ++i)
    d[0].Add(i == lines / 2 && !needle_at_line_text.empty() ? needle_at_line_text : "ok routine message number x");
  return d;
}

TEST(AskTest, SmallInputGoesWhole) {
  FakeLlm llm(4096);
  auto docs = Log(20);
  llm.reply = [](const LlmRequest&) { return "All fine (sys.log:3-4), see also sys.log:99."; };
  Ask ask(llm, docs, AskOptions{.question = "anything wrong?", .answer_tokens = 64});
  auto plan = ask.MakePlan();
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_EQ(plan->strategy, "whole");
  EXPECT_NE(plan->Describe().find("20 lines"), std::string::npos) << plan->Describe();
  auto res = ask.Run(nullptr, nullptr);
  ASSERT_TRUE(res.ok()) << res.status().message();
  ASSERT_EQ(llm.requests.size(), 1u);
  EXPECT_NE(llm.requests[0].find("20| ok routine"), std::string::npos);  // numbered lines
  ASSERT_EQ(res->citations.size(), 2u);
  EXPECT_TRUE(res->citations[0].valid);
  EXPECT_FALSE(res->citations[1].valid);
  EXPECT_NE(res->answer.find("sys.log:99 [not in the input]"), std::string::npos);
}

TEST(AskTest, LargeInputMapReducesEveryChunkAndMerges) {
  FakeLlm llm(400);
  auto docs = Log(600);  // ~6 tokens a line incl. numbers: ~3600 tokens against a 400 context
  llm.reply = [](const LlmRequest& r) -> std::string {
    if (r.user.find("One part of the input") != std::string::npos) {
      const size_t at = r.user.find("=== sys.log lines ");
      const size_t end = r.user.find(" ===", at + 18);
      const std::string range = r.user.substr(at + 18, end - at - 18);
      std::string pad;
      for (int i = 0; i < 30; ++i) pad += " word";  // notes long enough to need merging
      return "routine messages (sys.log:" + range + ")" + pad;
    }
    if (r.user.find("Merge these notes") != std::string::npos) return "merged routine notes (sys.log:1-2)";
    return "Nothing failed (sys.log:1-600).";
  };
  AskOptions o{.question = "what failed?", .answer_tokens = 64, .note_tokens = 40};
  Ask ask(llm, docs, o);
  auto plan = ask.MakePlan();
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_EQ(plan->strategy, "map-reduce");
  EXPECT_GT(plan->chunks, 5u);
  EXPECT_GE(plan->rounds, 2);
  std::vector<AskProgress> seen;
  auto res = ask.Run([&](const AskProgress& p) { seen.push_back(p); }, nullptr);
  ASSERT_TRUE(res.ok()) << res.status().message();
  // Every line was in some map request (nothing dropped).
  std::vector<bool> covered(601, false);
  size_t maps = 0, merges = 0;
  for (const std::string& u : llm.requests) {
    if (u.find("One part of the input") != std::string::npos) {
      ++maps;
      for (int i = 1; i <= 600; ++i)
        if (u.find("\n" + std::to_string(i) + "| ") != std::string::npos) covered[i] = true;
    }
    if (u.find("Merge these notes") != std::string::npos) {
      ++merges;
      EXPECT_NE(u.find("[from sys.log:"), std::string::npos);  // notes carry their ranges
    }
  }
  EXPECT_EQ(maps, plan->chunks);
  EXPECT_GT(merges, 0u);
  for (int i = 1; i <= 600; ++i) EXPECT_TRUE(covered[i]) << "line " << i;
  EXPECT_GE(res->rounds, 2);
  EXPECT_EQ(res->answer, "Nothing failed (sys.log:1-600).");
  ASSERT_EQ(res->citations.size(), 1u);
  EXPECT_TRUE(res->citations[0].valid);
  ASSERT_FALSE(seen.empty());
  EXPECT_STREQ(seen.back().stage, "answer");
}

TEST(AskTest, RetrieveSendsTheRelevantChunk) {
  FakeLlm llm(300);
  auto docs = Log(400, "kernel oom killer killed process java");
  llm.reply = [](const LlmRequest&) { return "java was killed"; };
  AskOptions o{.question = "which process did the oom killer kill", .retrieve = true, .answer_tokens = 64,
               .top_k = 1};
  Ask ask(llm, docs, o);
  auto plan = ask.MakePlan();
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->strategy, "retrieve");
  auto res = ask.Run(nullptr, nullptr);
  ASSERT_TRUE(res.ok()) << res.status().message();
  ASSERT_EQ(llm.requests.size(), 1u);
  EXPECT_NE(llm.requests[0].find("200| kernel oom killer"), std::string::npos);
  EXPECT_EQ(res->plan.retrieved, 1u);
  EXPECT_NE(res->plan.Describe().find("not read"), std::string::npos);
}

TEST(AskTest, ContextTooSmallIsAClearError) {
  FakeLlm llm(120);
  auto docs = Log(200);
  Ask ask(llm, docs, AskOptions{.question = "q", .answer_tokens = 64, .note_tokens = 40});
  auto plan = ask.MakePlan();
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.status().message().find("too small"), std::string::npos);
}

TEST(CheckTest, VerdictAndGate) {
  FakeLlm llm(4096);
  auto docs = Log(10);
  llm.reply = [](const LlmRequest&) { return R"({"pass": false, "severity": "high", "reasons": ["x"]})"; };
  CheckOptions co;
  co.ask.question = "ok?";
  co.ask.answer_tokens = 64;
  co.schema_text = kDefaultVerdictSchema;
  auto r = RunCheck(llm, docs, co, nullptr, nullptr, nullptr);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(r->failed);  // default gate: pass == false
  co.fail_if = *FailIf::Parse("severity in [critical]");
  r = RunCheck(llm, docs, co, nullptr, nullptr, nullptr);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->failed);
  llm.reply = [](const LlmRequest&) { return "not json"; };
  EXPECT_FALSE(RunCheck(llm, docs, co, nullptr, nullptr, nullptr).ok());
}

}  // namespace
}  // namespace gemrun::ops
