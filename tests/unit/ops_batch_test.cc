// `gemrun batch` bookkeeping without a model: request lines (blank lines skipped, numbers kept),
// the resume scan of OUT (torn last record dropped, foreign OUT refused) and the in-order writer.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "ops/batch.h"

namespace gemrun::ops {
namespace {

using nlohmann::json;

TEST(OpsBatch, SplitKeepsPhysicalLineNumbersAndSkipsBlankLines) {
  const std::string in = "{\"a\":1}\n\n  \t\n{\"b\":2}\r\nnot json\n{\"c\":3}";
  const auto lines = SplitBatchInput(in);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0].number, 1);
  EXPECT_EQ(lines[1].number, 4);
  EXPECT_EQ(lines[1].text, "{\"b\":2}");  // the '\r' of a CRLF file is not part of the request
  EXPECT_EQ(lines[2].number, 5);
  EXPECT_EQ(lines[3].number, 6);
  EXPECT_EQ(lines[3].text, "{\"c\":3}");  // no final newline
  EXPECT_TRUE(SplitBatchInput("").empty());
  EXPECT_TRUE(SplitBatchInput("\n\n").empty());
}

std::string Rec(int64_t line) { return BatchErrorRecord(line, {}, "t", "m") + "\n"; }

TEST(OpsBatch, ResumeCountsCompleteRecordsOfTheInputsLines) {
  const std::string in = "a\n\nb\nc\nd\n";  // request lines 1, 3, 4, 5
  const auto lines = SplitBatchInput(in);
  auto r = ScanBatchOutput("", lines);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->done, 0u);
  EXPECT_EQ(r->keep_bytes, 0u);
  const std::string two = Rec(1) + Rec(3);
  r = ScanBatchOutput(two, lines);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->done, 2u);
  EXPECT_EQ(r->keep_bytes, two.size());
  EXPECT_FALSE(r->torn);
  const std::string all = two + Rec(4) + Rec(5);
  r = ScanBatchOutput(all, lines);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->done, 4u);
  EXPECT_EQ(r->failed, 4u);  // Rec() writes error records
  r = ScanBatchOutput(BatchResultRecord(1, {}, {{"object", "chat.completion"}}) + "\n" + Rec(3), lines);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->done, 2u);
  EXPECT_EQ(r->failed, 1u);
}

TEST(OpsBatch, ResumeDropsATornLastRecord) {
  const auto lines = SplitBatchInput("a\nb\nc\n");
  const std::string good = Rec(1) + Rec(2);
  // Cut anywhere inside the third record (a kill -9 mid-write): the first two stand.
  const std::string third = Rec(3);
  for (size_t cut = 0; cut < third.size(); ++cut) {
    auto r = ScanBatchOutput(good + third.substr(0, cut), lines);
    ASSERT_TRUE(r.ok()) << cut << ": " << r.status().message();
    EXPECT_EQ(r->done, 2u) << cut;
    EXPECT_EQ(r->keep_bytes, good.size()) << cut;
    EXPECT_EQ(r->torn, cut > 0) << cut;
  }
  // A complete JSON object without its newline is still torn: the writer writes both at once.
  auto r = ScanBatchOutput(good + third.substr(0, third.size() - 1), lines);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->done, 2u);
  EXPECT_TRUE(r->torn);
  // Garbage with a newline as the last line: torn too.
  r = ScanBatchOutput(good + "{\"line\": 3, \"resp\n", lines);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->done, 2u);
}

TEST(OpsBatch, ResumeRefusesAnOutOfAnotherInput) {
  const auto lines = SplitBatchInput("a\nb\n");
  EXPECT_EQ(ScanBatchOutput(Rec(2), lines).status().code(), StatusCode::kDataLoss);           // wrong line
  EXPECT_EQ(ScanBatchOutput("garbage\n" + Rec(2), lines).status().code(), StatusCode::kDataLoss);  // bad middle
  EXPECT_EQ(ScanBatchOutput(Rec(1) + Rec(2) + Rec(3), lines).status().code(), StatusCode::kDataLoss);  // too many
  EXPECT_EQ(ScanBatchOutput("{\"x\":1}\n" + Rec(2), lines).status().code(), StatusCode::kDataLoss);  // no "line"
  const auto s = ScanBatchOutput(Rec(2), lines).status();
  EXPECT_NE(s.message().find("not for input line 1"), std::string::npos) << s.message();
}

TEST(OpsBatch, RecordsEchoTheIdUnderItsOwnName) {
  EXPECT_EQ(BatchIdOf(json::parse(R"({"custom_id":"r1","id":7})")).key, "custom_id");
  const BatchId id = BatchIdOf(json::parse(R"({"id":7,"messages":[]})"));
  EXPECT_EQ(id.key, "id");
  EXPECT_TRUE(BatchIdOf(json::parse("[1]")).key.empty());
  const json ok = json::parse(BatchResultRecord(3, id, {{"object", "chat.completion"}}));
  EXPECT_EQ(ok["line"], 3);
  EXPECT_EQ(ok["id"], 7);
  EXPECT_EQ(ok["response"]["object"], "chat.completion");
  EXPECT_TRUE(ok["error"].is_null());
  const json err = json::parse(BatchErrorRecord(4, {}, "invalid_request_error", "bad", "invalid_json"));
  EXPECT_EQ(err["line"], 4);
  EXPECT_FALSE(err.contains("id"));
  EXPECT_TRUE(err["response"].is_null());
  EXPECT_EQ(err["error"], json({{"type", "invalid_request_error"}, {"message", "bad"}, {"code", "invalid_json"}}));
  // Invalid UTF-8 from a model is replaced, not a throw.
  EXPECT_NO_THROW(BatchResultRecord(1, {}, {{"content", std::string("\xff\xfe")}}));
}

TEST(OpsBatch, WriterEmitsInIndexOrderWhateverTheCompletionOrder) {
  for (unsigned seed = 0; seed < 20; ++seed) {
    std::vector<size_t> order(50);
    for (size_t i = 0; i < order.size(); ++i) order[i] = i + 5;  // resumed: the first 5 are in OUT
    std::shuffle(order.begin(), order.end(), std::mt19937(seed));
    std::vector<std::string> out;
    OrderedWriter w(5, [&](const std::string& r) {
      out.push_back(r);
      return OkStatus();
    });
    size_t max_buffered = 0;
    for (size_t i : order) {
      ASSERT_TRUE(w.Put(i, std::to_string(i)).ok());
      max_buffered = std::max(max_buffered, w.buffered());
    }
    ASSERT_EQ(out.size(), 50u);
    for (size_t i = 0; i < out.size(); ++i) EXPECT_EQ(out[i], std::to_string(i + 5));
    EXPECT_EQ(w.next(), 55u);
    EXPECT_EQ(w.buffered(), 0u);
    if (order[0] != 5) {
      EXPECT_GT(max_buffered, 0u);
    }
  }
}

TEST(OpsBatch, WriterRefusesDuplicatesAndPassesSinkErrors) {
  int calls = 0;
  OrderedWriter w(0, [&](const std::string&) {
    return ++calls == 2 ? InternalError("disk full") : OkStatus();
  });
  ASSERT_TRUE(w.Put(0, "a").ok());
  EXPECT_EQ(w.Put(0, "a").code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(w.Put(2, "c").ok());
  EXPECT_EQ(w.Put(2, "c").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(w.Put(1, "b").message(), "disk full");
}

}  // namespace
}  // namespace gemrun::ops
