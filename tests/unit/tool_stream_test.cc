// ToolCallStreamer: streamed content and calls equal ParseToolCalls on the whole text, however
// the text is cut (hand-written answers in both syntaxes, cut at every byte and at random),
// calls come out as soon as their block closes, and malformed calls end the stream with an error.
#include <gtest/gtest.h>

#include <random>

#include "engine/tool_stream.h"

namespace gemrun {
namespace {

using constrain::ToolSyntax;

struct Streamed {
  bool ok = true;
  std::string content;
  std::vector<ToolCall> calls;
};

// Feeds `text` in pieces ending at `cuts` (ascending offsets), then flushes.
Streamed Stream(std::string_view text, const std::vector<size_t>& cuts, ToolSyntax syntax) {
  ToolCallStreamer s(syntax);
  Streamed out;
  size_t at = 0;
  auto take = [&](const StatusOr<ToolCallStreamer::Out>& o) {
    if (!o.ok()) return out.ok = false;
    out.content += o->content;
    for (const ToolCall& c : o->calls) out.calls.push_back(c);
    return true;
  };
  for (size_t cut : cuts) {
    if (!take(s.Push(text.substr(at, cut - at)))) return out;
    at = cut;
  }
  if (!take(s.Push(text.substr(at)))) return out;
  take(s.Flush());
  return out;
}

void ExpectSameAsWhole(std::string_view text, ToolSyntax syntax) {
  auto whole = ParseToolCalls(text, syntax);
  std::mt19937 rng(11);
  std::vector<std::vector<size_t>> cut_sets = {{}};
  std::vector<size_t> every;
  for (size_t i = 1; i < text.size(); ++i) every.push_back(i);
  cut_sets.push_back(every);
  for (int r = 0; r < 20; ++r) {
    std::vector<size_t> c;
    for (size_t i = 1; i < text.size(); ++i)
      if (rng() % 5 == 0) c.push_back(i);
    cut_sets.push_back(c);
  }
  for (const auto& cuts : cut_sets) {
    const Streamed s = Stream(text, cuts, syntax);
    ASSERT_EQ(s.ok, whole.ok()) << text;
    if (!whole.ok()) continue;
    EXPECT_EQ(s.content, whole->content) << text;
    ASSERT_EQ(s.calls.size(), whole->calls.size()) << text;
    for (size_t i = 0; i < s.calls.size(); ++i) {
      EXPECT_EQ(s.calls[i].name, whole->calls[i].name);
      EXPECT_EQ(s.calls[i].arguments, whole->calls[i].arguments);
    }
  }
}

TEST(ToolStream, Gemma4MatchesWholeParse) {
  for (const char* t : {"Let me look.<|tool_call>call:f{a:<|\"|>x, y<|\"|>,b:[1,2.5]}<tool_call|>"
                        "<|tool_call>call:g{}<tool_call|><|tool_response>",
                        "  plain answer with <|tool but no call  ", "", "   ", "a <|tool_call",
                        "<|tool_call>call:f{a:1}<tool_call|> trailing", "<|tool_call>call:f{a:1",
                        "x<|tool_call>call:f{a:nope}<tool_call|>"})
    ExpectSameAsWhole(t, ToolSyntax::kGemma4);
}

TEST(ToolStream, JsonMatchesWholeParse) {
  for (const char* t : {"<tool_call>\n{\"name\":\"f\",\"arguments\":{\"a\":1}}\n</tool_call>\n<tool_call>\n"
                        "{\"name\":\"g\",\"arguments\":{}}\n</tool_call>",
                        "  plain answer  ", " <tool", "<tool_cal is not a call", "",
                        "<tool_call>\n{\"name\":\"f\"}\n</tool_call>", "<tool_call>\n{\"name\":\"f\",\"arguments\":{}}"})
    ExpectSameAsWhole(t, ToolSyntax::kJson);
}

TEST(ToolStream, CallsComeOutWhenTheirBlockCloses) {
  const std::string first = "Checking.<|tool_call>call:f{a:1}<tool_call|>";
  ToolCallStreamer s(ToolSyntax::kGemma4);
  auto o = s.Push(first.substr(0, first.size() - 1));
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->content, "Checking.");
  EXPECT_TRUE(o->calls.empty());
  o = s.Push(first.substr(first.size() - 1));
  ASSERT_TRUE(o.ok());
  ASSERT_EQ(o->calls.size(), 1u);
  EXPECT_EQ(o->calls[0].name, "f");
  o = s.Push("<|tool_call>call:g{b:<|\"|>x");
  ASSERT_TRUE(o.ok());
  EXPECT_TRUE(o->calls.empty());
  o = s.Push("<|\"|>}<tool_call|>");
  ASSERT_TRUE(o.ok());
  ASSERT_EQ(o->calls.size(), 1u);
  EXPECT_EQ(o->calls[0].name, "g");
  EXPECT_EQ(s.calls_emitted(), 2u);
  o = s.Flush();
  ASSERT_TRUE(o.ok());
  EXPECT_TRUE(o->calls.empty());
}

TEST(ToolStream, ContentIsNotHeldLongerThanNeeded) {
  ToolCallStreamer s(ToolSyntax::kJson);
  auto o = s.Push("  The di");
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->content, "The di");  // cannot become "<tool_call>" any more
  o = s.Push("sk is full.\n");
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->content, "sk is full.");  // the trailing newline waits
  o = s.Push("Free space.");
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->content, "\nFree space.");
}

}  // namespace
}  // namespace gemrun
