// Regular expressions for constrained decoding: an ECMA-262 subset (JSON Schema `pattern`,
// the CLI's --regex, GBNF terminals) parsed into a small AST over Unicode code points, then
// compiled to a byte-level DFA whose transitions say which bytes start a counted code point
// (so `maxLength` counts code points, not bytes).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace gemrun::constrain {

inline constexpr uint32_t kMaxCodePoint = 0x10FFFF;
using CpRanges = std::vector<std::pair<uint32_t, uint32_t>>;  // sorted, disjoint, inclusive

// Regex AST. kSet matches one code point (one counted unit); kBytes matches a fixed byte string
// that counts as one unit (a JSON escape such as \n); kCat/kAlt/kRep combine kids.
struct RegexAst {
  enum Kind : uint8_t { kEmpty, kSet, kBytes, kCat, kAlt, kRep };
  struct Node {
    Kind kind = kEmpty;
    CpRanges set;
    std::string bytes;
    std::vector<int> kids;
    int min = 0, max = -1;  // kRep; max < 0: unbounded
  };
  std::vector<Node> nodes;
  int root = -1;

  int Add(Node n) {
    nodes.push_back(std::move(n));
    return static_cast<int>(nodes.size()) - 1;
  }
  int Set(CpRanges r) { return Make(kSet, {}, std::move(r), {}); }
  int Bytes(std::string b) { return Make(kBytes, {}, {}, std::move(b)); }
  int Cat(std::vector<int> k) { return Make(kCat, std::move(k), {}, {}); }
  int Alt(std::vector<int> k) { return Make(kAlt, std::move(k), {}, {}); }
  int Rep(int kid, int min, int max) {
    const int id = Make(kRep, {kid}, {}, {});
    nodes.back().min = min;
    nodes.back().max = max;
    return id;
  }
  int Make(Kind k, std::vector<int> kids, CpRanges set, std::string bytes) {
    Node n;
    n.kind = k;
    n.kids = std::move(kids);
    n.set = std::move(set);
    n.bytes = std::move(bytes);
    return Add(std::move(n));
  }
  int Literal(std::string_view utf8);  // a code point sequence
};

struct RegexOptions {
  // Code points the generated text may never contain literally (JSON string bodies: '"', '\\'
  // and controls); they are removed from every set. A pattern that then needs one fails closed.
  bool json_string_body = false;
  // Whole-answer match (--regex): ^ and $ are optional and implied. Otherwise (JSON Schema) an
  // unanchored side means "contains a match" and is padded with any text.
  bool full_match = false;
};

// Parses `pattern` into `ast` (appending nodes); returns the root node. Errors name the
// construct and its offset ("lookahead (?= at offset 4 is not supported").
StatusOr<int> ParseRegex(std::string_view pattern, const RegexOptions& opts, RegexAst* ast);

// Byte-level DFA. trans[s*256+b] is the next state or -1; counts[s*256+b] is 1 when that byte
// starts a new counted unit. Only states that can still reach an accepting state are kept.
struct Dfa {
  int n_states = 0;
  int start = 0;
  std::vector<int32_t> trans;
  std::vector<uint8_t> counts;
  std::vector<uint8_t> accept;
  int32_t Next(int s, uint8_t b) const { return trans[static_cast<size_t>(s) * 256 + b]; }
  bool Counts(int s, uint8_t b) const { return counts[static_cast<size_t>(s) * 256 + b] != 0; }
  std::string Key() const;  // identity for deduplication
};

// Compiles the sub-expression `root` of `ast`. Errors when the automaton would exceed
// `max_states` (pathological patterns) or accepts nothing.
StatusOr<Dfa> CompileDfa(const RegexAst& ast, int root, int max_states = 20000);

// Code point helpers shared with the GBNF parser.
CpRanges NormalizeRanges(CpRanges r);
CpRanges ComplementRanges(const CpRanges& r);
CpRanges IntersectRanges(const CpRanges& a, const CpRanges& b);
// Decodes one UTF-8 code point at s[*i] (advancing *i); invalid bytes decode as themselves.
uint32_t DecodeUtf8(std::string_view s, size_t* i);
void AppendUtf8(uint32_t cp, std::string* out);

}  // namespace gemrun::constrain
