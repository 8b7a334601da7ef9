// Regex parsing (ECMA-262 subset) into RegexAst. The compiler to a DFA is in regex_dfa.cc.
#include "constrain/regex.h"

#include <algorithm>
#include <cctype>
#include <cstring>

namespace gemrun::constrain {

uint32_t DecodeUtf8(std::string_view s, size_t* i) {
  const auto b = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  const uint8_t c = b(*i);
  int n = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : -1;
  if (n <= 0 || *i + n >= s.size()) {
    ++*i;
    return c;
  }
  uint32_t cp = c & (0x3F >> n);
  for (int k = 1; k <= n; ++k) {
    if ((b(*i + k) & 0xC0) != 0x80) {
      ++*i;
      return c;
    }
    cp = (cp << 6) | (b(*i + k) & 0x3F);
  }
  *i += n + 1;
  return cp;
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

CpRanges NormalizeRanges(CpRanges r) {
  std::sort(r.begin(), r.end());
  CpRanges out;
  for (auto [lo, hi] : r) {
    if (lo > hi) continue;
    if (!out.empty() && lo <= out.back().second + 1) out.back().second = std::max(out.back().second, hi);
    else out.push_back({lo, hi});
  }
  return out;
}

CpRanges ComplementRanges(const CpRanges& r) {
  CpRanges out;
  uint32_t next = 0;
  for (auto [lo, hi] : r) {
    if (lo > next) out.push_back({next, lo - 1});
    next = hi + 1;
  }
  if (next <= kMaxCodePoint) out.push_back({next, kMaxCodePoint});
  return out;
}

CpRanges IntersectRanges(const CpRanges& a, const CpRanges& b) {
  CpRanges out;
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    const uint32_t lo = std::max(a[i].first, b[j].first), hi = std::min(a[i].second, b[j].second);
    if (lo <= hi) out.push_back({lo, hi});
    (a[i].second < b[j].second) ? ++i : ++j;
  }
  return out;
}

int RegexAst::Literal(std::string_view utf8) {
  std::vector<int> kids;
  for (size_t i = 0; i < utf8.size();) {
    const uint32_t cp = DecodeUtf8(utf8, &i);
    kids.push_back(Set({{cp, cp}}));
  }
  return kids.size() == 1 ? kids[0] : Cat(std::move(kids));
}

namespace {

const CpRanges kDigit = {{'0', '9'}};
const CpRanges kWord = {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}};
const CpRanges kSpace = {{'\t', '\r'}, {' ', ' '}};
const CpRanges kAscii = {{0x20, 0x7E}};
// `.`: any code point but line terminators (ECMA-262 without the s flag).
const CpRanges kDot = {{0, 9}, {11, 12}, {14, 0x2027}, {0x202A, kMaxCodePoint}};
// What a JSON string body may hold literally; surrogates are not encodable in UTF-8.
const CpRanges kJsonBody = {{0x20, 0x21}, {0x23, 0x5B}, {0x5D, 0xD7FF}, {0xE000, kMaxCodePoint}};
const CpRanges kUtf8Ok = {{0, 0xD7FF}, {0xE000, kMaxCodePoint}};

class Parser {
 public:
  Parser(std::string_view p, const RegexOptions& o, RegexAst* ast) : p_(p), o_(o), ast_(ast) {}

  StatusOr<int> Run() {
    std::vector<int> alts;
    for (;;) {
      // Anchors are accepted only at the ends of a top-level alternative.
      bool start_anchor = Eat('^');
      auto cat = ParseCat(true);
      if (!cat.ok()) return cat.status();
      bool end_anchor = Eat('$');
      int node = *cat;
      if (!o_.full_match) {
        const int any = ast_->Rep(MakeSet(kDot), 0, -1);
        std::vector<int> parts;
        if (!start_anchor) parts.push_back(any);
        parts.push_back(node);
        if (!end_anchor) parts.push_back(any);
        node = parts.size() == 1 ? node : ast_->Cat(std::move(parts));
      }
      alts.push_back(node);
      if (!Eat('|')) break;
    }
    if (i_ < p_.size()) return Error(p_[i_] == ')' ? "unbalanced ')'" : "unexpected character");
    return alts.size() == 1 ? alts[0] : ast_->Alt(std::move(alts));
  }

 private:
  Status Error(const std::string& what) const {
    return InvalidArgumentError("invalid regex: " + what + " at offset " + std::to_string(i_) + " of \"" +
                                std::string(p_) + "\"");
  }
  bool Eat(char c) {
    if (i_ < p_.size() && p_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  bool AtEnd() const { return i_ >= p_.size(); }

  int MakeSet(CpRanges r) {
    r = IntersectRanges(NormalizeRanges(std::move(r)), o_.json_string_body ? kJsonBody : kUtf8Ok);
    return ast_->Set(std::move(r));
  }

  StatusOr<int> ParseAlt() {
    std::vector<int> alts;
    for (;;) {
      auto cat = ParseCat(false);
      if (!cat.ok()) return cat.status();
      alts.push_back(*cat);
      if (!Eat('|')) break;
    }
    return alts.size() == 1 ? alts[0] : ast_->Alt(std::move(alts));
  }

  StatusOr<int> ParseCat(bool top) {
    std::vector<int> items;
    while (!AtEnd() && p_[i_] != '|' && p_[i_] != ')') {
      if (top && p_[i_] == '$' && (i_ + 1 == p_.size() || p_[i_ + 1] == '|')) break;
      if (++depth_ > 200) return Error("nesting too deep");
      auto atom = ParseAtom();
      --depth_;
      if (!atom.ok()) return atom.status();
      auto rep = ParseQuantifier(*atom);
      if (!rep.ok()) return rep.status();
      items.push_back(*rep);
    }
    if (items.empty()) return ast_->Add(RegexAst::Node{});
    return items.size() == 1 ? items[0] : ast_->Cat(std::move(items));
  }

  StatusOr<int> ParseQuantifier(int atom) {
    for (;;) {
      int min = 0, max = -1;
      if (Eat('*')) {
      } else if (Eat('+')) {
        min = 1;
      } else if (Eat('?')) {
        max = 1;
      } else if (!AtEnd() && p_[i_] == '{' && IsBrace()) {
        ++i_;
        min = ReadInt();
        max = min;
        if (Eat(',')) max = (!AtEnd() && p_[i_] == '}') ? -1 : ReadInt();
        Eat('}');
        if (min > 1000 || max > 1000) return Error("repetition count above 1000");
        if (max >= 0 && min > max) return Error("repetition {min,max} with min > max");
      } else {
        return atom;
      }
      Eat('?');  // lazy quantifiers match the same set of strings
      atom = ast_->Rep(atom, min, max);
    }
  }
  bool IsBrace() const {  // "{3}", "{2,}", "{2,5}"; anything else is a literal '{'
    size_t j = i_ + 1, digits = 0;
    while (j < p_.size() && isdigit(static_cast<unsigned char>(p_[j]))) ++j, ++digits;
    if (!digits) return false;
    if (j < p_.size() && p_[j] == ',') {
      ++j;
      while (j < p_.size() && isdigit(static_cast<unsigned char>(p_[j]))) ++j;
    }
    return j < p_.size() && p_[j] == '}';
  }
  int ReadInt() {
    int v = 0;
    while (!AtEnd() && isdigit(static_cast<unsigned char>(p_[i_]))) v = std::min(v * 10 + (p_[i_++] - '0'), 100000);
    return v;
  }

  StatusOr<int> ParseAtom() {
    const char c = p_[i_];
    if (c == '(') {
      ++i_;
      if (Eat('?')) {
        if (Eat(':')) {
        } else if (!AtEnd() && p_[i_] == '<' && i_ + 1 < p_.size() && p_[i_ + 1] != '=' && p_[i_ + 1] != '!') {
          while (!AtEnd() && p_[i_] != '>') ++i_;
          if (!Eat('>')) return Error("unterminated group name");
        } else {
          return Error("lookaround or group flag (?" + std::string(1, AtEnd() ? ' ' : p_[i_]) + " is not supported");
        }
      }
      auto inner = ParseAlt();
      if (!inner.ok()) return inner.status();
      if (!Eat(')')) return Error("unbalanced '(' (missing ')')");
      return inner;
    }
    if (c == '[') return ParseClass();
    if (c == '.') {
      ++i_;
      return MakeSet(kDot);
    }
    if (c == '*' || c == '+' || c == '?') return Error("quantifier without an operand");
    if (c == '^' || c == '$') return Error("anchor inside the pattern is not supported");
    // Unicode-mode ECMA-262 (what JSON Schema asks for): a brace that is not a quantifier is an error.
    if (c == '{' || c == '}' || c == ']') return Error(std::string("lone '") + c + "' (not a valid quantifier or class)");
    if (c == '\\') {
      CpRanges set;
      auto st = ParseEscape(false, &set);
      if (!st.ok()) return st;
      return MakeSet(std::move(set));
    }
    size_t j = i_;
    const uint32_t cp = DecodeUtf8(p_, &j);
    i_ = j;
    return MakeSet({{cp, cp}});
  }

  // After '\': a shorthand class or one escaped code point, into *set.
  Status ParseEscape(bool in_class, CpRanges* set) {
    ++i_;
    if (AtEnd()) return Error("trailing backslash");
    const char c = p_[i_++];
    auto one = [&](uint32_t cp) { *set = {{cp, cp}}; return OkStatus(); };
    switch (c) {
      case 'd': *set = kDigit; return OkStatus();
      case 'w': *set = kWord; return OkStatus();
      case 's': *set = kSpace; return OkStatus();
      // Negated shorthands stay within printable ASCII: other engines' \d and \w are Unicode-aware.
      case 'D': *set = IntersectRanges(ComplementRanges(kDigit), kAscii); return OkStatus();
      case 'W': *set = IntersectRanges(ComplementRanges(kWord), kAscii); return OkStatus();
      case 'S': *set = IntersectRanges(ComplementRanges(kSpace), kAscii); return OkStatus();
      case 'n': return one('\n');
      case 'r': return one('\r');
      case 't': return one('\t');
      case 'f': return one('\f');
      case 'v': return one('\v');
      case '0': return one(0);
      case 'b':
        if (in_class) return one('\b');
        return Error("word boundary \\b is not supported");
      case 'B': return Error("\\B is not supported");
      case 'x':
      case 'u': {
        const bool brace = c == 'u' && Eat('{');
        const size_t n = c == 'x' ? 2 : brace ? 6 : 4;
        uint32_t v = 0;
        size_t k = 0;
        for (; k < n && !AtEnd() && isxdigit(static_cast<unsigned char>(p_[i_])); ++k, ++i_)
          v = v * 16 + static_cast<uint32_t>(isdigit(static_cast<unsigned char>(p_[i_])) ? p_[i_] - '0' : (tolower(p_[i_]) - 'a' + 10));
        if (k == 0 || (!brace && k != n) || (brace && !Eat('}')) || v > kMaxCodePoint)
          return Error(std::string("bad \\") + c + " escape");
        return one(v);
      }
      default:
        if (isdigit(static_cast<unsigned char>(c))) return Error("backreference is not supported");
        if (isalpha(static_cast<unsigned char>(c))) return Error(std::string("unknown escape \\") + c);
        --i_;
        {
          size_t j = i_;
          const uint32_t cp = DecodeUtf8(p_, &j);
          i_ = j;
          return one(cp);
        }
    }
  }

  StatusOr<int> ParseClass() {
    ++i_;
    const bool neg = Eat('^');
    bool shorthand = false;
    CpRanges set;
    bool first = true;
    while (!AtEnd() && (p_[i_] != ']' || (first && false))) {
      first = false;
      CpRanges lo_set;
      if (p_[i_] == '\\') {
        const char k = i_ + 1 < p_.size() ? p_[i_ + 1] : 0;
        shorthand |= strchr("dwsDWS", k) != nullptr && k != 0;
        RETURN_IF_ERROR(ParseEscape(true, &lo_set));
      } else {
        size_t j = i_;
        const uint32_t cp = DecodeUtf8(p_, &j);
        i_ = j;
        lo_set = {{cp, cp}};
      }
      if (lo_set.size() == 1 && lo_set[0].first == lo_set[0].second && i_ + 1 < p_.size() && p_[i_] == '-' &&
          p_[i_ + 1] != ']') {
        ++i_;
        CpRanges hi_set;
        if (p_[i_] == '\\') {
          RETURN_IF_ERROR(ParseEscape(true, &hi_set));
        } else {
          size_t j = i_;
          const uint32_t cp = DecodeUtf8(p_, &j);
          i_ = j;
          hi_set = {{cp, cp}};
        }
        if (hi_set.size() != 1 || hi_set[0].first != hi_set[0].second) return Error("bad class range");
        if (hi_set[0].first < lo_set[0].first) return Error("class range out of order");
        set.push_back({lo_set[0].first, hi_set[0].first});
      } else {
        set.insert(set.end(), lo_set.begin(), lo_set.end());
      }
    }
    if (!Eat(']')) return Error("unterminated character class '['");
    set = NormalizeRanges(std::move(set));
    if (neg) {
      set = ComplementRanges(set);
      // [^\d] etc.: other engines read the shorthand as Unicode-aware; stay in ASCII.
      if (shorthand) set = IntersectRanges(set, kAscii);
      set = IntersectRanges(set, kDot);  // ... and never a line break
    }
    return MakeSet(std::move(set));
  }

  std::string_view p_;
  RegexOptions o_;
  RegexAst* ast_;
  size_t i_ = 0;
  int depth_ = 0;
};

}  // namespace

StatusOr<int> ParseRegex(std::string_view pattern, const RegexOptions& opts, RegexAst* ast) {
  Parser p(pattern, opts, ast);
  return p.Run();
}

}  // namespace gemrun::constrain
