// BM25 ranking, the --fail-if language, and citation validation.
#include <gtest/gtest.h>

#include "ops/bm25.h"
#include "ops/check.h"
#include "ops/citations.h"
#include "ops/fail_if.h"

namespace gemrun::ops {
namespace {

using nlohmann::json;

TEST(Bm25Test, RanksByTermRarityAndFrequency) {
  Bm25 b;
  b.Add("systemd started the nginx service");
  b.Add("kernel: Out of memory: Killed process 1234 (java) oom");
  b.Add("oom oom oom killer invoked; Out of memory again");
  b.Add("cron job finished");
  const auto s = b.Score("Which process did the OOM killer kill?");
  ASSERT_EQ(s.size(), 4u);
  EXPECT_GT(s[2], s[1]);  // more occurrences of the rare terms
  EXPECT_GT(s[1], s[0]);
  EXPECT_EQ(s[3], 0.0);
  EXPECT_EQ(Words("Foo-Bar_baz 42x"), (std::vector<std::string>{"foo", "bar_baz", "42x"}));
  EXPECT_EQ(Bm25().Score("anything").size(), 0u);
}

bool Fails(const std::string& expr, const json& v) {
  auto f = FailIf::Parse(expr);
  EXPECT_TRUE(f.ok()) << f.status().message();
  auto r = f->Eval(v);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() && *r;
}

TEST(FailIfTest, Evaluates) {
  const json v = {{"pass", false}, {"severity", "high"}, {"score", 0.7}, {"reasons", {"a", "b"}},
                  {"meta", {{"n", 3}}}};
  EXPECT_TRUE(Fails("severity in [high, critical]", v));
  EXPECT_FALSE(Fails("severity in [low, 'medium']", v));
  EXPECT_TRUE(Fails("severity not in [low]", v));
  EXPECT_TRUE(Fails("pass == false", v));
  EXPECT_TRUE(Fails("not pass", v));
  EXPECT_TRUE(Fails("score > 0.5 and score <= 0.7", v));
  EXPECT_FALSE(Fails("score < 0.5 or severity == \"low\"", v));
  EXPECT_TRUE(Fails("not (pass or score < 0)", v));
  EXPECT_TRUE(Fails("meta.n >= 3 and reasons[1] == 'b'", v));
  EXPECT_TRUE(Fails("severity > 'critical'", v));  // strings compare lexicographically
}

TEST(FailIfTest, BadExpressionsAreClearErrors) {
  for (const char* bad : {"", "severity in high", "pass ==", "(pass", "severity in [high", "pass = false",
                          "'open", "a.[0]", "1 +"}) {
    auto f = FailIf::Parse(bad);
    EXPECT_FALSE(f.ok()) << bad;
    if (!f.ok()) {
      EXPECT_EQ(f.status().code(), StatusCode::kInvalidArgument);
      EXPECT_NE(f.status().message().find("--fail-if"), std::string::npos);
    }
  }
  const json v = {{"pass", true}, {"severity", "low"}};
  auto f = FailIf::Parse("sevrity == 'high'");
  ASSERT_TRUE(f.ok());
  auto r = f->Eval(v);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("no field sevrity"), std::string::npos);
  EXPECT_FALSE(FailIf::Parse("severity < 3")->Eval(v).ok());  // string vs number
  EXPECT_FALSE(FailIf::Parse("severity")->Eval(v).ok());      // not a boolean
  // Fields checked against the schema before the model loads.
  EXPECT_FALSE(CheckFailIfFields(*FailIf::Parse("sevrity == 'x'"), kDefaultVerdictSchema).ok());
  EXPECT_TRUE(CheckFailIfFields(*FailIf::Parse("severity == 'x' or not pass"), kDefaultVerdictSchema).ok());
}

TEST(CitationTest, ValidatesAgainstTheInputs) {
  std::vector<ingest::Document> docs(2);
  docs[0].name = "logs/app.log";
  for (int i = 0; i < 10; ++i) docs[0].Add("line");
  docs[1].name = "m.pdf";
  docs[1].paged = true;
  docs[1].Add("p1");
  docs[1].Add("p2");
  const std::string a = "See logs/app.log:3-5 and app.log:10, m.pdf#2, app.log:11, m.pdf#3, other.log:1, "
                        "m.pdf:1, at 12:30:01 on host:8080 version 1.24.3.";
  const auto c = FindCitations(a, docs);
  ASSERT_EQ(c.size(), 7u);
  EXPECT_TRUE(c[0].valid);
  EXPECT_EQ(c[0].first, 3);
  EXPECT_EQ(c[0].last, 5);
  EXPECT_TRUE(c[1].valid);  // a unique path suffix resolves
  EXPECT_EQ(c[1].source, "logs/app.log");
  EXPECT_TRUE(c[2].valid);
  EXPECT_FALSE(c[3].valid);  // line 11 of 10
  EXPECT_FALSE(c[4].valid);  // page 3 of 2
  EXPECT_FALSE(c[5].valid);  // no such input
  EXPECT_FALSE(c[6].valid);  // pages cited as lines
  const std::string flagged = FlagInvalid(a, c);
  EXPECT_NE(flagged.find("app.log:11 [not in the input]"), std::string::npos);
  EXPECT_EQ(flagged.find("app.log:10 [not"), std::string::npos);
}

}  // namespace
}  // namespace gemrun::ops
