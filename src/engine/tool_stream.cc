// ToolCallStreamer: incremental reading of a tool-calling answer (see tool_stream.h).
#include "engine/tool_stream.h"

#include <cctype>

namespace gemrun {
namespace {

using constrain::ToolSyntax;

bool IsSpace(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

std::string_view LTrim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  return s;
}

// The length of the longest suffix of `s` that is a proper prefix of `marker`.
size_t PartialMarkerTail(std::string_view s, std::string_view marker) {
  for (size_t n = std::min(s.size(), marker.size() - 1); n > 0; --n)
    if (s.substr(s.size() - n) == marker.substr(0, n)) return n;
  return 0;
}

// Gemma 4: "<|tool_call>"; the JSON convention: "<tool_call>" (its newline is whitespace).
std::string_view OpenMarker(ToolSyntax s) {
  return s == ToolSyntax::kGemma4 ? constrain::kG4CallOpen.substr(0, 12) : std::string_view("<tool_call>");
}
std::string_view CloseMarker(ToolSyntax s) {
  return s == ToolSyntax::kGemma4 ? constrain::kG4CallClose : std::string_view("</tool_call>");
}

}  // namespace

size_t ToolCallStreamer::CallsEnd() const {
  const size_t at = text_.rfind(CloseMarker(syntax_));
  return at == std::string::npos ? 0 : at + CloseMarker(syntax_).size();
}

ToolCallStreamer::Out ToolCallStreamer::Take(std::string_view decided, std::vector<ToolCall> calls) {
  Out out;
  if (decided.size() > content_emitted_) {
    out.content = std::string(decided.substr(content_emitted_));
    content_emitted_ = decided.size();
  }
  for (size_t i = calls_emitted_; i < calls.size(); ++i) out.calls.push_back(std::move(calls[i]));
  calls_emitted_ = std::max(calls_emitted_, calls.size());
  return out;
}

StatusOr<ToolCallStreamer::Out> ToolCallStreamer::Push(std::string_view piece) {
  text_ += piece;
  const std::string_view open = OpenMarker(syntax_);
  const std::string_view body = LTrim(text_);
  size_t first = body.find(open);
  // The JSON convention is all content or all calls: content once the text cannot become "<tool_call>".
  if (syntax_ == ToolSyntax::kJson && first != 0) {
    if (body.size() < open.size() && open.substr(0, body.size()) == body) return Out{};  // undecided
    first = std::string_view::npos;
  }
  std::vector<ToolCall> calls;
  if (first != std::string_view::npos) {
    // Calls: those whose blocks are complete (the prefix of the text up to the last close).
    const size_t end = CallsEnd();
    if (end > text_.size() - body.size() + first) {
      auto parsed = ParseToolCalls(std::string_view(text_).substr(0, end), syntax_);
      if (!parsed.ok()) return parsed.status();
      calls = std::move(parsed->calls);
    }
  }
  // Content: before the first call, less a tail that may still turn into the marker and
  // trailing whitespace (both decided later).
  std::string_view content = body.substr(0, first);
  if (first == std::string_view::npos) content.remove_suffix(PartialMarkerTail(content, open));
  while (!content.empty() && IsSpace(content.back())) content.remove_suffix(1);
  return Take(content, std::move(calls));
}

StatusOr<ToolCallStreamer::Out> ToolCallStreamer::Flush() {
  auto parsed = ParseToolCalls(text_, syntax_);
  if (!parsed.ok()) return parsed.status();
  if (parsed->content.size() < content_emitted_ ||
      parsed->content.compare(0, content_emitted_, std::string_view(LTrim(text_)).substr(0, content_emitted_)) != 0)
    return InternalError("tool call stream: streamed content disagrees with the parsed answer");
  return Take(parsed->content, std::move(parsed->calls));
}

}  // namespace gemrun
