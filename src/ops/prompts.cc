// The prompts of `ask`: sources rendered with their citation labels (a header naming the file
// and how to cite it, each line prefixed with its number, each page with its label), and the
// texts of the map, merge and final requests. Kept apart from the planning logic in ask.cc.
#include <algorithm>
#include <map>

#include "ops/ask.h"

namespace gemrun::ops {

const char* const kAnswerInstructions =
    "Answer the question from the sources above. Support each claim with a citation copied from the "
    "labels shown: file:LINE or file:FIRST-LAST for lines, file#PAGE for pages.";

namespace {

constexpr const char* kSystem =
    "You read text sources and answer questions about them. Lines of a source start with their line "
    "number (\"12| text\"); pages start with their label (\"[report.pdf#3]\"). Cite evidence as file:LINE, "
    "file:FIRST-LAST or file#PAGE, using only labels and numbers you were shown.";

}  // namespace

std::string Ask::Render(const ingest::Chunk& c) const {
  const ingest::Document& d = docs_[c.doc];
  std::string out = "=== " + d.name + (d.paged ? " pages " : " lines ") + std::to_string(c.first) +
                    (c.last != c.first ? "-" + std::to_string(c.last) : "") + " ===\n";
  if (d.paged) {
    const bool piece = c.first == c.last && c.text != d.unit(c.first - 1);
    for (int64_t p = c.first; p <= c.last; ++p) {
      out += "[" + d.Label(p, p) + "]\n";
      out += piece ? std::string_view(c.text) : d.unit(p - 1);
      if (out.back() != '\n') out += '\n';
    }
    return out;
  }
  int64_t n = c.first;
  size_t pos = 0;
  while (pos < c.text.size()) {
    size_t nl = c.text.find('\n', pos);
    if (nl == std::string::npos) nl = c.text.size() - 1;
    out += std::to_string(n++) + "| ";
    out.append(c.text, pos, nl - pos + 1);
    pos = nl + 1;
  }
  if (out.back() != '\n') out += '\n';
  return out;
}

std::string Ask::RangesLabel(const Note& n) const {
  std::map<size_t, std::pair<int64_t, int64_t>> span;  // per document: min first, max last
  for (const auto& [doc, r] : n.ranges) {
    auto [it, fresh] = span.emplace(doc, r);
    if (!fresh) it->second = {std::min(it->second.first, r.first), std::max(it->second.second, r.second)};
  }
  std::string s;
  for (const auto& [doc, r] : span) s += (s.empty() ? "" : ", ") + docs_[doc].Label(r.first, r.second);
  return s;
}

std::string Ask::WholeUser(const std::string& sources) const {
  return "Question: " + o_.question + "\n\nSources:\n" + sources + "\n" +
         (o_.answer_instructions.empty() ? kAnswerInstructions : o_.answer_instructions);
}

std::string Ask::MapUser(const std::string& source) const {
  return "Question: " + o_.question + "\n\nOne part of the input:\n" + source +
         "\nWrite short notes: the facts in this part that help answer the question, each with its citation "
         "(file:LINE, file:FIRST-LAST or file#PAGE). If nothing here is relevant, reply NONE.";
}

std::string Ask::MergeUser(const std::vector<Note>& notes) const {
  std::string s = "Question: " + o_.question + "\n\nNotes taken from several parts of the input:\n";
  for (const Note& n : notes) s += "[from " + RangesLabel(n) + "]\n" + n.text + "\n";
  return s + "\nMerge these notes into one shorter list of notes. Keep every citation exactly as written; "
             "drop facts that do not help answer the question.";
}

std::string Ask::FinalUser(const std::vector<Note>& notes) const {
  std::string s = "Question: " + o_.question +
                  "\n\nThe input was too large to read at once; these notes cover all of it:\n";
  for (const Note& n : notes) s += "[from " + RangesLabel(n) + "]\n" + n.text + "\n";
  return s + "\n" +
         (o_.answer_instructions.empty()
              ? std::string("Answer the question from these notes. Cite sources as the notes do (file:LINE, "
                            "file:FIRST-LAST or file#PAGE).")
              : o_.answer_instructions);
}

LlmRequest Ask::Request(std::string user, int64_t max_tokens, bool final) const {
  LlmRequest r;
  r.system = kSystem;
  r.user = std::move(user);
  r.max_tokens = max_tokens;
  if (final) r.grammar = o_.answer_grammar;
  return r;
}

}  // namespace gemrun::ops
