// GBNF (llama.cpp's grammar format) -> grammar IR: rules `name ::= alternatives`, "literals",
// [classes], `.`, ( groups ), postfix * + ? {m} {m,} {m,n}, # comments. A repeated single
// character class becomes one terminal with code point bounds; other repetitions become
// right-recursive helper rules. Errors give the line and column.
#include <cctype>

#include "constrain/constrain.h"

namespace gemrun::constrain {
namespace {

class GbnfParser {
 public:
  explicit GbnfParser(std::string_view s) : s_(s) {}

  StatusOr<GrammarPtr> Run() {
    SkipSpace(true);
    while (!AtEnd()) {
      RETURN_IF_ERROR(ParseRule());
      SkipSpace(true);
    }
    if (!seen_root_) return InvalidArgumentError("grammar: no 'root' rule (the start symbol must be named root)");
    auto g = b_.Finish(b_.Rule("root"), "grammar");
    if (!g.ok()) return g.status();
    return std::make_shared<const Grammar>(std::move(*g));
  }

 private:
  bool AtEnd() const { return i_ >= s_.size(); }
  char Peek(size_t k = 0) const { return i_ + k < s_.size() ? s_[i_ + k] : '\0'; }
  Status Error(const std::string& what) const {
    size_t line = 1, col = 1;
    for (size_t k = 0; k < i_ && k < s_.size(); ++k) (s_[k] == '\n') ? (++line, col = 1) : ++col;
    return InvalidArgumentError("grammar: " + what + " at line " + std::to_string(line) + ", column " + std::to_string(col));
  }
  // Spaces and comments; newlines only when `newlines` (inside groups, between rules).
  void SkipSpace(bool newlines) {
    while (!AtEnd()) {
      const char c = Peek();
      if (c == '#') {
        while (!AtEnd() && Peek() != '\n') ++i_;
      } else if (c == ' ' || c == '\t' || c == '\r' || (newlines && c == '\n')) {
        ++i_;
      } else if (!newlines && c == '\n' && NextLineContinues()) {
        ++i_;
      } else {
        break;
      }
    }
  }
  // A line that starts with '|' continues the previous rule's alternatives.
  bool NextLineContinues() const {
    size_t k = i_ + 1;
    while (k < s_.size() && (s_[k] == ' ' || s_[k] == '\t' || s_[k] == '\r')) ++k;
    return k < s_.size() && s_[k] == '|';
  }
  // Whether a rule definition ("name ::=") starts here.
  bool StartsRule() const {
    size_t k = i_;
    while (k < s_.size() && IsWordChar(s_[k])) ++k;
    while (k < s_.size() && (s_[k] == ' ' || s_[k] == '\t')) ++k;
    return s_.substr(k, 3) == "::=";
  }
  static bool IsWordChar(char c) { return isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_'; }
  std::string ParseName() {
    const size_t start = i_;
    while (!AtEnd() && IsWordChar(Peek())) ++i_;
    return std::string(s_.substr(start, i_ - start));
  }

  Status ParseRule() {
    const std::string name = ParseName();
    if (name.empty()) return Error("expected a rule name, found '" + std::string(1, Peek()) + "'");
    SkipSpace(false);
    if (s_.substr(i_, 3) != "::=") return Error("expected '::=' after rule name '" + name + "'");
    i_ += 3;
    const int rule = b_.Rule(name);
    if (b_.Defined(rule)) return Error("rule '" + name + "' is defined twice");
    if (name == "root") seen_root_ = true;
    int unused = -1;
    RETURN_IF_ERROR(ParseAlternatives(rule, false, &unused));
    if (!AtEnd() && Peek() != '\n') {
      if (Peek() == ')') return Error("unbalanced ')' (no matching '(')");
      return Error("unexpected '" + std::string(1, Peek()) + "'");
    }
    return OkStatus();
  }

  // *ast: the alternatives as one regex when every element is a terminal, else -1.
  Status ParseAlternatives(int rule, bool nested, int* ast) {
    b_.MarkDefined(rule);
    std::vector<int> alts;
    bool regular = true;
    for (;;) {
      std::vector<Elem> seq;
      int seq_ast = -1;
      RETURN_IF_ERROR(ParseSequence(nested, &seq, &seq_ast));
      regular &= seq_ast >= 0;
      alts.push_back(seq_ast);
      // A sequence of terminals is one terminal (exact: repetition bounds stay in the regex), so a
      // token spanning several of them is matched by one cached DFA walk.
      if (seq_ast >= 0 && seq.size() > 1)
        if (auto t = b_.TermFromRegex(ast_, seq_ast); t.ok()) seq = {*t};
      b_.AddAlt(rule, std::move(seq));
      SkipSpace(nested);
      *ast = !regular ? -1 : alts.size() == 1 ? alts[0] : ast_.Alt(alts);
      if (Peek() != '|') return OkStatus();
      ++i_;
      SkipSpace(true);
    }
  }

  Status ParseSequence(bool nested, std::vector<Elem>* seq, int* ast) {
    std::vector<int> parts;
    bool regular = true;
    auto done = [&]() {
      *ast = !regular ? -1 : parts.empty() ? ast_.Make(RegexAst::kEmpty, {}, {}, {}) : parts.size() == 1 ? parts[0] : ast_.Cat(parts);
      return OkStatus();
    };
    for (;;) {
      SkipSpace(nested);
      const char c = Peek();
      if (AtEnd() || c == '|' || c == ')' || c == '\n') return done();
      if (nested && IsWordChar(c) && StartsRule()) return done();  // a group left open
      if (++depth_ > 100) return Error("nesting too deep");
      last_ast_ = -1;
      Status st = ParseTerm(nested, seq);
      --depth_;
      RETURN_IF_ERROR(st);
      regular &= last_ast_ >= 0;
      parts.push_back(last_ast_);
    }
  }

  bool Nullable(int n) const {
    const RegexAst::Node& x = ast_.nodes[static_cast<size_t>(n)];
    switch (x.kind) {
      case RegexAst::kEmpty: return true;
      case RegexAst::kSet: return false;
      case RegexAst::kBytes: return x.bytes.empty();
      case RegexAst::kCat:
        for (int k : x.kids) if (!Nullable(k)) return false;
        return true;
      case RegexAst::kAlt:
        for (int k : x.kids) if (Nullable(k)) return true;
        return false;
      case RegexAst::kRep: return x.min == 0 || Nullable(x.kids[0]);
    }
    return true;
  }

  // One term plus its postfix operator, appended to *seq.
  Status ParseTerm(bool nested, std::vector<Elem>* seq) {
    const char c = Peek();
    int set_node = -1;  // a single-character term (repeatable as one terminal)
    int lit_ast = -1;   // the term as a regex when it is regular
    RegexAst& ast = ast_;
    Elem e;
    if (c == '"') {
      ++i_;
      std::string bytes;
      while (!AtEnd() && Peek() != '"') {
        if (Peek() == '\n') return Error("unterminated string literal");
        uint32_t cp;
        RETURN_IF_ERROR(ParseChar(&cp));
        AppendUtf8(cp, &bytes);
      }
      if (AtEnd()) return Error("unterminated string literal (missing '\"')");
      ++i_;
      if (bytes.empty()) {  // "" matches the empty string: no element
        last_ast_ = ast_.Make(RegexAst::kEmpty, {}, {}, {});
        return OkStatus();
      }
      lit_ast = ast_.Literal(bytes);
      size_t k = 0;
      DecodeUtf8(bytes, &k);
      if (k == bytes.size()) {
        size_t j = 0;
        const uint32_t cp = DecodeUtf8(bytes, &j);
        set_node = ast.Set({{cp, cp}});
      }
      auto lit = b_.Literal(bytes);
      if (!lit.ok()) return Error(lit.status().message());
      e = *lit;
    } else if (c == '[') {
      ++i_;
      const bool neg = Peek() == '^';
      if (neg) ++i_;
      CpRanges set;
      while (!AtEnd() && Peek() != ']') {
        uint32_t lo, hi;
        RETURN_IF_ERROR(ParseChar(&lo));
        hi = lo;
        if (Peek() == '-' && Peek(1) != ']' && Peek(1) != '\0') {
          ++i_;
          RETURN_IF_ERROR(ParseChar(&hi));
          if (hi < lo) return Error("character range out of order");
        }
        set.push_back({lo, hi});
      }
      if (AtEnd()) return Error("unterminated character class (missing ']')");
      ++i_;
      set = NormalizeRanges(std::move(set));
      if (neg) set = ComplementRanges(set);
      set = IntersectRanges(set, {{0, 0xD7FF}, {0xE000, kMaxCodePoint}});
      if (set.empty()) return Error("empty character class");
      set_node = ast.Set(std::move(set));
      auto t = b_.TermFromRegex(ast, set_node);
      if (!t.ok()) return Error(t.status().message());
      e = *t;
    } else if (c == '.') {
      ++i_;
      set_node = ast.Set({{0, 0xD7FF}, {0xE000, kMaxCodePoint}});
      auto t = b_.TermFromRegex(ast, set_node);
      if (!t.ok()) return Error(t.status().message());
      e = *t;
    } else if (c == '(') {
      const size_t open = i_;
      ++i_;
      SkipSpace(true);
      const int group = b_.NewRule("group");
      RETURN_IF_ERROR(ParseAlternatives(group, true, &lit_ast));
      SkipSpace(true);
      if (Peek() != ')') {
        i_ = open;
        return Error("unbalanced parenthesis: this '(' is never closed (expected ')')");
      }
      ++i_;
      e = b_.Ref(group);
    } else if (IsWordChar(c)) {
      const std::string name = ParseName();
      e = b_.Ref(b_.Rule(name));
    } else if (c == ')') {
      return Error("unbalanced ')' (no matching '(')");
    } else {
      return Error("unexpected '" + std::string(1, c) + "'");
    }
    return ParsePostfix(e, set_node, set_node >= 0 ? set_node : lit_ast, seq);
  }

  // Sets last_ast_ to the repeated term as a regex (or -1).
  Status ParsePostfix(Elem e, int set_node, int term_ast, std::vector<Elem>* seq) {
    int min = 1, max = 1;
    const char c = Peek();
    if (c == '*') min = 0, max = -1, ++i_;
    else if (c == '+') min = 1, max = -1, ++i_;
    else if (c == '?') min = 0, max = 1, ++i_;
    else if (c == '{') {
      ++i_;
      auto num = [&](int* v) {
        if (!isdigit(static_cast<unsigned char>(Peek()))) return false;
        *v = 0;
        while (isdigit(static_cast<unsigned char>(Peek()))) *v = std::min(*v * 10 + (s_[i_++] - '0'), 100000);
        return true;
      };
      SkipSpace(false);
      if (!num(&min)) return Error("expected a number after '{'");
      max = min;
      SkipSpace(false);
      if (Peek() == ',') {
        ++i_;
        SkipSpace(false);
        if (!num(&max)) max = -1;
        SkipSpace(false);
      }
      if (Peek() != '}') return Error("expected '}' to close the repetition");
      ++i_;
      if (max >= 0 && min > max) return Error("repetition {" + std::to_string(min) + "," + std::to_string(max) + "} has min > max");
      if (min > 1000 || max > 1000) return Error("repetition count above 1000");
    }
    if (min == 1 && max == 1) {
      seq->push_back(e);
      last_ast_ = term_ast;
      return OkStatus();
    }
    last_ast_ = term_ast >= 0 ? ast_.Rep(term_ast, min, max) : -1;
    // One terminal spanning [min, max] code points: exact for a single character; for a group of
    // non-empty regular alternatives it is a subset when min <= 1 (each repetition spans >= 1
    // code point, so <= max code points means <= max repetitions).
    const bool as_term = set_node >= 0 || (term_ast >= 0 && min <= 1 && !Nullable(term_ast));
    if (as_term) {
      auto t = b_.TermFromRegex(ast_, ast_.Rep(set_node >= 0 ? set_node : term_ast, 0, -1), min, max);
      if (!t.ok()) return Error(t.status().message());
      seq->push_back(*t);
      return OkStatus();
    }
    for (int k = 0; k < min; ++k) seq->push_back(e);
    if (max < 0) {  // star ::= e star | ""
      const int star = b_.NewRule("repeat");
      b_.AddAlt(star, {e, b_.Ref(star)});
      b_.AddAlt(star, {});
      seq->push_back(b_.Ref(star));
    } else if (max > min) {  // opt_k ::= e opt_{k-1} | ""
      int inner = -1;
      for (int k = 0; k < max - min; ++k) {
        const int opt = b_.NewRule("optional");
        b_.AddAlt(opt, inner < 0 ? std::vector<Elem>{e} : std::vector<Elem>{e, b_.Ref(inner)});
        b_.AddAlt(opt, {});
        inner = opt;
      }
      seq->push_back(b_.Ref(inner));
    }
    return OkStatus();
  }

  // One (possibly escaped) character of a literal or class.
  Status ParseChar(uint32_t* cp) {
    if (Peek() != '\\') {
      size_t j = i_;
      *cp = DecodeUtf8(s_, &j);
      i_ = j;
      return OkStatus();
    }
    ++i_;
    const char c = Peek();
    ++i_;
    switch (c) {
      case 'n': *cp = '\n'; return OkStatus();
      case 'r': *cp = '\r'; return OkStatus();
      case 't': *cp = '\t'; return OkStatus();
      case '\\': case '"': case '[': case ']': case '-': case '^': *cp = static_cast<uint8_t>(c); return OkStatus();
      case 'x': case 'u': case 'U': {
        const int n = c == 'x' ? 2 : c == 'u' ? 4 : 8;
        uint32_t v = 0;
        for (int k = 0; k < n; ++k, ++i_) {
          const char h = Peek();
          if (!isxdigit(static_cast<unsigned char>(h))) return Error(std::string("bad \\") + c + " escape");
          v = v * 16 + static_cast<uint32_t>(isdigit(static_cast<unsigned char>(h)) ? h - '0' : tolower(h) - 'a' + 10);
        }
        if (v > kMaxCodePoint) return Error("code point out of range");
        *cp = v;
        return OkStatus();
      }
      default: return Error(std::string("unknown escape \\") + c);
    }
  }

  std::string_view s_;
  size_t i_ = 0;
  int depth_ = 0;
  bool seen_root_ = false;
  int last_ast_ = -1;
  GrammarBuilder b_;
  RegexAst ast_;
};

}  // namespace

StatusOr<GrammarPtr> CompileGbnf(std::string_view gbnf) {
  GbnfParser p(gbnf);
  return p.Run();
}

StatusOr<GrammarPtr> CompileRegex(std::string_view pattern) {
  RegexAst ast;
  auto root = ParseRegex(pattern, RegexOptions{.full_match = true}, &ast);
  if (!root.ok()) return root.status();
  GrammarBuilder b;
  auto t = b.TermFromRegex(ast, *root);
  if (!t.ok()) return InvalidArgumentError("regex: " + t.status().message());
  const int r = b.Rule("root");
  b.AddAlt(r, {*t});
  auto g = b.Finish(r, "regex");
  if (!g.ok()) return g.status();
  return std::make_shared<const Grammar>(std::move(*g));
}

}  // namespace gemrun::constrain
