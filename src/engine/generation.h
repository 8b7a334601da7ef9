// Generation: one request's decoding state — sampling, streaming detokenization, stop strings,
// end-of-generation tokens and limits — independent of how forward passes are batched, so the
// single-user Session and the server's continuous batcher share it.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "constrain/matcher.h"
#include "sampling/sampler.h"
#include "tokenizer/tokenizer.h"

namespace gemrun {

class ChannelSplitter;  // engine/reasoning.h

enum class FinishReason { kNone, kEog, kStopString, kLength, kContextFull, kCancelled };
// "stop", "length", "cancelled" (OpenAI's vocabulary; a stop string or EOG is "stop").
const char* FinishReasonName(FinishReason r);
// A more specific word for logs and --json: "eog", "stop_string", "max_tokens", "context_full".
const char* FinishReasonDetail(FinishReason r);

struct GenerateParams {
  int64_t max_tokens = -1;  // < 0: until the context is full
  SamplingParams sampling;
  std::vector<std::string> stop;  // stop strings (not included in the output)
  bool ignore_eog = false;
  std::vector<int32_t> extra_eog;  // more end-of-generation ids (e.g. the chat format's)
  int top_logprobs = 0;  // > 0: report the top-n log-probabilities per token
  bool logprobs = false;
  // Constrained decoding: the output must be in this grammar's language (fail closed: a
  // generation that ends inside the structure reports constraint_error()). The vocabulary
  // trie is built from the tokenizer when not given (share one across requests).
  std::shared_ptr<const constrain::Grammar> grammar;
  std::shared_ptr<const constrain::TokenTrie> grammar_vocab;
  // Decode special tokens as their text (Gemma 4 tool calls are spelled with special tokens;
  // the grammar vocabulary decides which may appear).
  bool decode_special = false;
  // Thinking: after `reasoning_budget` tokens inside the thought channel (engine/reasoning.h)
  // the close marker is forced, so the answer always gets its turn. < 0: no budget.
  int64_t reasoning_budget = -1;
};

// What one sampled token produced. `text` is the newly complete output text (may be empty
// while a UTF-8 sequence or a possible stop string is pending).
struct TokenEvent {
  int32_t id = 0;
  std::string_view text;
  float logprob = 0;
  std::vector<std::pair<int32_t, float>> top;  // when top_logprobs > 0
};
// Returns false to cancel the generation.
using TokenCallback = std::function<bool(const TokenEvent&)>;

class Generation {
 public:
  Generation(const Tokenizer& tok, const GenerateParams& p, int64_t n_vocab, TokenCallback cb);
  ~Generation();

  // Records prompt tokens for the penalty window.
  void AcceptPrompt(std::span<const int32_t> ids);
  // Samples from the logits of the last position, streams its text, checks every stop rule.
  // Returns true if generation continues (next_token() must then be fed to the model).
  bool Step(float* logits, bool context_full);
  // Ends the generation from outside (e.g. a client went away).
  void Cancel();

  int32_t next_token() const { return next_; }
  bool done() const { return finish_ != FinishReason::kNone; }
  FinishReason finish() const { return finish_; }
  const std::vector<int32_t>& tokens() const { return tokens_; }
  const std::string& text() const { return text_; }  // final output text (stops removed)
  // Non-empty when a constrained generation did not produce a complete answer (why, in words).
  const std::string& constraint_error() const { return constraint_error_; }

 private:
  void Finish(FinishReason r);
  void EmitUpTo(size_t end, TokenEvent& ev);
  // Length of the longest tail of text_ that is a prefix of some stop string.
  size_t HeldBackTail() const;
  // Masks logits to the tokens the constraint allows (EOG only when complete).
  void ApplyConstraint(float* logits);
  bool IsEogToken(int32_t id) const;
  void CheckConstraintAtEnd(FinishReason why);

  const Tokenizer& tok_;
  GenerateParams p_;
  int64_t n_vocab_;
  TokenCallback cb_;
  Sampler sampler_;
  StreamDecoder decoder_;
  std::vector<float> raw_;  // the model's logits before bias/penalties (for logprobs)
  std::vector<int32_t> tokens_;
  std::string text_;     // decoded output so far
  size_t emitted_ = 0;   // bytes of text_ handed to the callback
  int32_t next_ = -1;
  FinishReason finish_ = FinishReason::kNone;
  // Thought budget: the channel state of the text so far, thought tokens, forced close ids.
  void TrackThought(size_t from);
  std::unique_ptr<ChannelSplitter> thought_;
  int64_t thought_tokens_ = 0;
  std::deque<int32_t> forced_;
  std::unique_ptr<constrain::Matcher> matcher_;
  constrain::TokenMask mask_;
  std::string constraint_error_;
};

}  // namespace gemrun
