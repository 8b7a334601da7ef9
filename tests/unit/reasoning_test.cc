// Thinking: the channel splitter (markers split anywhere across pieces, never a thought byte in
// the answer), the thought-then-answer grammar, and the budget forcing the thought closed, on
// the Gemma 4 fixture vocabulary with the thought tokens forced (random weights never think).
#include <gtest/gtest.h>

#include <random>

#include "engine/reasoning.h"
#include "engine/tool_calls.h"
#include "gguf/gguf.h"

namespace gemrun {
namespace {

TEST(ChannelSplitter, WholeAndPieces) {
  const std::string text = "<|channel>thought\nLet me think <channel <|chan about it.<channel|>The answer is 42.";
  const auto whole = ChannelSplitter::Split(text);
  EXPECT_EQ(whole.thought, "Let me think <channel <|chan about it.");
  EXPECT_EQ(whole.answer, "The answer is 42.");
  // Every split of the text into pieces gives the same channels.
  std::mt19937 rng(3);
  for (int trial = 0; trial < 200; ++trial) {
    ChannelSplitter s;
    std::string thought, answer;
    for (size_t i = 0; i < text.size();) {
      const size_t n = 1 + rng() % 7;
      const auto o = s.Push(std::string_view(text).substr(i, n));
      thought += o.thought;
      answer += o.answer;
      i += n;
    }
    const auto o = s.Flush();
    thought += o.thought;
    answer += o.answer;
    EXPECT_EQ(thought, whole.thought);
    EXPECT_EQ(answer, whole.answer);
  }
  // No thought: the answer stream is the text itself (thinking on or off gives the same answer).
  EXPECT_EQ(ChannelSplitter::Split("plain <channel|> answer").answer, "plain <channel|> answer");
  EXPECT_EQ(ChannelSplitter::Split("a<|channel>thought x").thought, "x");
  EXPECT_EQ(ChannelSplitter::Split("a<|channel>thought x").answer, "a");
}

TEST(Reasoning, ThoughtGrammarConstrainsOnlyTheAnswer) {
  auto answer = constrain::CompileRegex("INC-[0-9]{3}");
  ASSERT_TRUE(answer.ok());
  auto g = WithOptionalThought(*answer);
  ASSERT_TRUE(g.ok()) << g.status().message();
  EXPECT_TRUE(constrain::GrammarAccepts(*g, "INC-123"));
  EXPECT_TRUE(constrain::GrammarAccepts(*g, "<|channel>thought\nanything { goes <|channel> here<channel|>INC-123"));
  EXPECT_FALSE(constrain::GrammarAccepts(*g, "<|channel>thought\nfine<channel|>INC-12"));
  EXPECT_FALSE(constrain::GrammarAccepts(*g, "<|channel>thought\nno <channel|> twice<channel|>INC-123"));
  EXPECT_FALSE(constrain::GrammarAccepts(*g, "<|channel>thought\nunclosed INC-123"));
}

const std::string kG4 = std::string(GEMRUN_TEST_DATA) + "/testdata/models/g4-tiny-q8_0.gguf";

// Feeds fixed logits that favour a thought that never ends: the budget closes it, then the
// constraint holds for the answer. The forced thought tokens come first (random weights would
// never open a thought).
TEST(Reasoning, BudgetClosesTheThought) {
  auto file = GgufFile::Open(kG4);
  if (!file.ok()) GTEST_SKIP() << "no Gemma 4 fixture: " << file.status().message();
  auto tok = Tokenizer::FromGguf(**file);
  ASSERT_TRUE(tok.ok()) << tok.status().message();
  const Tokenizer& t = **tok;
  const int64_t n_vocab = t.vocab().size();
  const std::vector<int32_t> open = t.Encode("<|channel>thought\nhmm", EncodeOptions{.add_special = false, .parse_special = true});
  const std::vector<int32_t> loop = t.Encode(" hmm", EncodeOptions{.add_special = false});
  ASSERT_FALSE(loop.empty());
  GenerateParams p;
  p.max_tokens = 64;
  p.sampling.temperature = 0;
  p.reasoning_budget = 5;
  p.decode_special = true;
  auto answer = constrain::CompileRegex("OK");
  ASSERT_TRUE(answer.ok());
  auto g = WithOptionalThought(*answer);
  ASSERT_TRUE(g.ok());
  p.grammar = *g;
  p.grammar_vocab = ToolCallVocab(t, constrain::ToolSyntax::kGemma4, /*thought=*/true);
  Generation gen(t, p, n_vocab, nullptr);
  std::vector<float> logits(static_cast<size_t>(n_vocab));
  for (int step = 0; step < 64; ++step) {
    std::fill(logits.begin(), logits.end(), 0.0f);
    const size_t i = static_cast<size_t>(step);
    // The "model" wants to open the thought, then keeps thinking " hmm" forever.
    logits[static_cast<size_t>(i < open.size() ? open[i] : loop[0])] = 50.0f;
    if (!gen.Step(logits.data(), false)) break;
  }
  ASSERT_TRUE(gen.done());
  EXPECT_TRUE(gen.constraint_error().empty()) << gen.constraint_error() << "\n" << gen.text();
  const auto ch = ChannelSplitter::Split(gen.text());
  EXPECT_EQ(ch.answer, "OK") << gen.text();
  EXPECT_NE(ch.thought.find("hmm"), std::string::npos);
  EXPECT_EQ(ch.thought.find("<channel|>"), std::string::npos);
}

}  // namespace
}  // namespace gemrun

namespace gemrun {
namespace {

// Scripted logits: the same answer tokens with and without a thought first give the same
// answer stream; the thought never reaches the answer (thinking on/off on a fixture model).
TEST(Reasoning, SameAnswerWithAndWithoutThought) {
  auto file = GgufFile::Open(kG4);
  if (!file.ok()) GTEST_SKIP() << "no Gemma 4 fixture: " << file.status().message();
  auto tok = Tokenizer::FromGguf(**file);
  ASSERT_TRUE(tok.ok());
  const Tokenizer& t = **tok;
  const int64_t n_vocab = t.vocab().size();
  const EncodeOptions plain{.add_special = false, .parse_special = true};
  const std::vector<int32_t> answer = t.Encode("The disk is full.", plain);
  const std::vector<int32_t> thought = t.Encode("<|channel>thought\nCheck df first.<channel|>", plain);
  auto run = [&](const std::vector<int32_t>& script, bool think) {
    GenerateParams p;
    p.max_tokens = static_cast<int64_t>(script.size());
    p.sampling.temperature = 0;
    p.decode_special = think;
    std::string streamed_answer, streamed_thought;
    ChannelSplitter split;
    Generation gen(t, p, n_vocab, [&](const TokenEvent& ev) {
      const auto o = think ? split.Push(ev.text) : ChannelSplitter::Out{"", std::string(ev.text)};
      streamed_answer += o.answer;
      streamed_thought += o.thought;
      return true;
    });
    std::vector<float> logits(static_cast<size_t>(n_vocab));
    for (size_t i = 0; i < script.size(); ++i) {
      std::fill(logits.begin(), logits.end(), 0.0f);
      logits[static_cast<size_t>(script[i])] = 50.0f;
      if (!gen.Step(logits.data(), false)) break;
    }
    const auto o = split.Flush();
    return std::make_pair(streamed_answer + o.answer, streamed_thought + o.thought);
  };
  std::vector<int32_t> with = thought;
  with.insert(with.end(), answer.begin(), answer.end());
  const auto off = run(answer, false);
  const auto on = run(with, true);
  EXPECT_EQ(off.first, "The disk is full.");
  EXPECT_EQ(on.first, off.first);
  EXPECT_EQ(on.second, "Check df first.");
  EXPECT_EQ(on.first.find("Check"), std::string::npos);
}

}  // namespace
}  // namespace gemrun
