// Thinking (Gemma 4): the thought channel <|channel>thought ... <channel|> told apart from the
// answer, as a stream splitter for every front end, and the grammar that lets a constraint
// apply to the answer only (an optional free-text thought, then the answer's grammar).
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"
#include "constrain/constrain.h"
#include "engine/generation.h"
#include "tokenizer/chat_template.h"

namespace gemrun {

inline constexpr std::string_view kThoughtOpen = "<|channel>thought";
inline constexpr std::string_view kThoughtClose = "<channel|>";

// Splits generated text into thought and answer. Text may arrive in arbitrary pieces: a tail
// that could be the start of a marker is held back until it is decided. Whitespace right after
// the open marker is dropped; a thought opened again later goes to the thought channel too.
class ChannelSplitter {
 public:
  struct Out {
    std::string thought, answer;
  };
  Out Push(std::string_view text);
  Out Flush();  // the held-back tail goes to the channel it was in
  bool in_thought() const { return in_thought_; }

  static Out Split(std::string_view text);  // a whole text

 private:
  std::string pending_;
  bool in_thought_ = false;
  bool skip_ws_ = false;
};

// root := ( <|channel>thought TEXT <channel|> )? ANSWER, TEXT any bytes without "<channel|>".
StatusOr<constrain::GrammarPtr> WithOptionalThought(const constrain::GrammarPtr& answer);

// Thinking on for one request (Gemma 4; Gemma 3 has no thought channel and is left as is): the
// template's <|think|>, special tokens decoded as text (the markers must be visible), the
// budget, and a constraint moved behind an optional thought. Call after the constraint is set.
Status EnableReasoning(const Tokenizer& tok, ChatFormat format, int64_t budget, GenerateParams* gen,
                       ChatOptions* opts);

}  // namespace gemrun
