// Thought channel splitter and the thought-then-answer grammar (see reasoning.h).
#include "engine/reasoning.h"

#include <cctype>

#include "constrain/tool_grammar.h"
#include "engine/tool_calls.h"

namespace gemrun {
namespace {

// Length of the longest suffix of `s` that is a proper prefix of `marker`.
size_t PartialTail(std::string_view s, std::string_view marker) {
  for (size_t k = std::min(s.size(), marker.size() - 1); k > 0; --k)
    if (s.substr(s.size() - k) == marker.substr(0, k)) return k;
  return 0;
}

// Bytes that contain no `marker`: a KMP automaton whose every state accepts; completing the
// marker leads nowhere.
constrain::Dfa NotContaining(std::string_view marker) {
  const int m = static_cast<int>(marker.size());
  std::vector<int> fail(static_cast<size_t>(m), 0);
  for (int i = 1, k = 0; i < m; ++i) {
    while (k > 0 && marker[static_cast<size_t>(i)] != marker[static_cast<size_t>(k)]) k = fail[static_cast<size_t>(k - 1)];
    if (marker[static_cast<size_t>(i)] == marker[static_cast<size_t>(k)]) ++k;
    fail[static_cast<size_t>(i)] = k;
  }
  constrain::Dfa d;
  d.n_states = m;
  d.start = 0;
  d.trans.assign(static_cast<size_t>(m) * 256, -1);
  d.counts.assign(static_cast<size_t>(m) * 256, 0);
  d.accept.assign(static_cast<size_t>(m), 1);
  for (int s = 0; s < m; ++s)
    for (int b = 0; b < 256; ++b) {
      int k = s;
      while (k > 0 && marker[static_cast<size_t>(k)] != static_cast<char>(b)) k = fail[static_cast<size_t>(k - 1)];
      if (marker[static_cast<size_t>(k)] == static_cast<char>(b)) ++k;
      const size_t at = static_cast<size_t>(s) * 256 + static_cast<size_t>(b);
      d.trans[at] = k == m ? -1 : k;
      d.counts[at] = (b & 0xC0) != 0x80;  // a code point starts here
    }
  return d;
}

}  // namespace

ChannelSplitter::Out ChannelSplitter::Push(std::string_view text) {
  Out out;
  pending_.append(text);
  for (;;) {
    if (skip_ws_) {
      size_t n = 0;
      while (n < pending_.size() && std::isspace(static_cast<unsigned char>(pending_[n]))) ++n;
      pending_.erase(0, n);
      if (pending_.empty()) break;
      skip_ws_ = false;
    }
    const std::string_view marker = in_thought_ ? kThoughtClose : kThoughtOpen;
    std::string& sink = in_thought_ ? out.thought : out.answer;
    const size_t at = pending_.find(marker);
    if (at == std::string::npos) {
      const size_t keep = PartialTail(pending_, marker);
      sink.append(pending_, 0, pending_.size() - keep);
      pending_.erase(0, pending_.size() - keep);
      break;
    }
    sink.append(pending_, 0, at);
    pending_.erase(0, at + marker.size());
    in_thought_ = !in_thought_;
    skip_ws_ = in_thought_;
  }
  return out;
}

ChannelSplitter::Out ChannelSplitter::Flush() {
  Out out;
  (in_thought_ ? out.thought : out.answer) = std::move(pending_);
  pending_.clear();
  return out;
}

ChannelSplitter::Out ChannelSplitter::Split(std::string_view text) {
  ChannelSplitter s;
  Out a = s.Push(text), b = s.Flush();
  a.thought += b.thought;
  a.answer += b.answer;
  return a;
}

StatusOr<constrain::GrammarPtr> WithOptionalThought(const constrain::GrammarPtr& answer) {
  constrain::GrammarBuilder b;
  auto ans = constrain::EmbedGrammar(*answer, &b, "answer_");
  if (!ans.ok()) return ans.status();
  auto text = b.Term(NotContaining(kThoughtClose));
  if (!text.ok()) return text.status();
  auto open = b.Literal(std::string(kThoughtOpen)), close = b.Literal(std::string(kThoughtClose));
  if (!open.ok()) return open.status();
  if (!close.ok()) return close.status();
  const int root = b.Rule("root");
  b.AddAlt(root, {b.Ref(*ans)});
  b.AddAlt(root, {*open, *text, *close, b.Ref(*ans)});
  auto g = b.Finish(root, "reasoning");
  if (!g.ok()) return g.status();
  return std::make_shared<const constrain::Grammar>(std::move(*g));
}

Status EnableReasoning(const Tokenizer& tok, ChatFormat format, int64_t budget, GenerateParams* gen,
                       ChatOptions* opts) {
  if (format != ChatFormat::kGemma4) return OkStatus();
  opts->enable_thinking = true;
  gen->decode_special = true;
  gen->reasoning_budget = budget;
  if (gen->grammar) {
    auto g = WithOptionalThought(gen->grammar);
    if (!g.ok()) return g.status();
    gen->grammar = *g;
    gen->grammar_vocab = ToolCallVocab(tok, constrain::ToolSyntax::kGemma4, /*thought=*/true);
  }
  return OkStatus();
}

}  // namespace gemrun
