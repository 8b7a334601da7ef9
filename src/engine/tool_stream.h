// Streaming a tool-calling answer: content as soon as it is decided, each call as soon as its
// block closes, so a client sees calls while later ones are still being generated (OpenAI's
// streamed tool_calls deltas, Ollama's tool_calls chunks).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "engine/tool_calls.h"

namespace gemrun {

// Invariant: the content pieces concatenated, and the calls in order, equal what
// ParseToolCalls gives for the whole text — however the text was cut into pieces. Content is
// held back while it could still be the start of a call marker or is trailing whitespace (the
// parsed content is trimmed).
class ToolCallStreamer {
 public:
  explicit ToolCallStreamer(constrain::ToolSyntax syntax) : syntax_(syntax) {}

  struct Out {
    std::string content;          // new content text
    std::vector<ToolCall> calls;  // calls completed since the last Push
  };
  // The answer text so far is extended by `text`. An error: the calls cannot be read back
  // (the stream must end with an error; nothing more is produced).
  StatusOr<Out> Push(std::string_view text);
  // End of the answer: whatever was held back, and the final check of the whole text.
  StatusOr<Out> Flush();

  size_t calls_emitted() const { return calls_emitted_; }

 private:
  Out Take(std::string_view content_decided, std::vector<ToolCall> calls);
  size_t CallsEnd() const;  // end of the last complete call block in text_, 0 if none

  constrain::ToolSyntax syntax_;
  std::string text_;              // the whole answer so far
  size_t content_emitted_ = 0;    // bytes of the (left-trimmed) content already given out
  size_t calls_emitted_ = 0;
};

}  // namespace gemrun
