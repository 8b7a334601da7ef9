// Redactor: runs the user rules, then the built-in table (redact_rules.cc), then replaces any
// other occurrence of a value already seen (a host first met in a syslog field, later in prose).
#define PCRE2_CODE_UNIT_WIDTH 8
#include "remote/redact.h"

#include <pcre2.h>

#include <algorithm>
#include <cctype>
#include <fstream>

#include "remote/redact_rules.h"

namespace gemrun::remote {

const char* KindName(Kind k) {
  switch (k) {
    case Kind::kIp: return "IP";
    case Kind::kHost: return "HOST";
    case Kind::kEmail: return "EMAIL";
    case Kind::kMac: return "MAC";
    case Kind::kSecret: return "SECRET";
    case Kind::kTerm: return "TERM";
  }
  return "X";
}

struct Redactor::Rule {
  std::string name;
  Kind kind;
  int group;
  bool (*valid)(std::string_view);
  pcre2_code* code = nullptr;
  pcre2_match_data* md = nullptr;
  ~Rule() {
    if (md) pcre2_match_data_free(md);
    if (code) pcre2_code_free(code);
  }
};

Status LoadRedactFile(const std::string& path, UserRules* out) {
  std::ifstream in(path);
  if (!in) return NotFoundError("cannot open --redact-file " + path);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    if (line.rfind("regex:", 0) == 0) {
      out->regexes.push_back(line.substr(6));
    } else {
      out->literals.push_back(line);
    }
  }
  return OkStatus();
}

namespace {

bool IsWordByte(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// A literal as a case-insensitive pattern, on word boundaries where its ends are word bytes.
std::string LiteralPattern(const std::string& lit) {
  std::string p = "(?i)";
  if (IsWordByte(lit.front())) p += "(?<![A-Za-z0-9_])";
  for (char c : lit) {
    if (!IsWordByte(c) && !(static_cast<unsigned char>(c) & 0x80)) p += '\\';
    p += c;
  }
  if (IsWordByte(lit.back())) p += "(?![A-Za-z0-9_])";
  return p;
}

}  // namespace

Redactor::Redactor() = default;
Redactor::~Redactor() = default;

StatusOr<std::unique_ptr<Redactor>> Redactor::Create(const UserRules& user) {
  std::unique_ptr<Redactor> r(new Redactor());
  auto add = [&r](const std::string& name, Kind kind, const std::string& pattern, int group,
                  bool (*valid)(std::string_view)) -> Status {
    auto rule = std::make_unique<Rule>(Rule{name, kind, group, valid});
    int err = 0;
    PCRE2_SIZE off = 0;
    rule->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), 0, &err, &off, nullptr);
    if (!rule->code) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(err, msg, sizeof msg);
      return InvalidArgumentError("redaction rule " + name + " (" + pattern + ") does not compile at offset " +
                                  std::to_string(off) + ": " + reinterpret_cast<char*>(msg));
    }
    pcre2_jit_compile(rule->code, PCRE2_JIT_COMPLETE);  // falls back to the interpreter if JIT is unavailable
    rule->md = pcre2_match_data_create_from_pattern(rule->code, nullptr);
    r->rules_.push_back(std::move(rule));
    return OkStatus();
  };
  for (const std::string& re : user.regexes) {
    if (re.empty()) return InvalidArgumentError("--redact-file: empty regex: line");
    RETURN_IF_ERROR(add("user_regex", Kind::kTerm, re, 0, nullptr));
  }
  for (const std::string& lit : user.literals) RETURN_IF_ERROR(add("user_word", Kind::kTerm, LiteralPattern(lit), 0, nullptr));
  for (const internal::RuleSpec& s : internal::BuiltinRules())
    RETURN_IF_ERROR(add(s.name, s.kind, s.pattern, s.group, s.valid));
  return r;
}

namespace {
bool IsRunByte(char c) { return IsWordByte(c) || c == '.' || c == '-'; }
}  // namespace

std::string Redactor::PlaceholderFor(Kind kind, const std::string& value, bool sweep) {
  auto key = std::make_pair(kind, value);
  auto it = by_value_.find(key);
  if (it != by_value_.end()) return it->second;
  std::string ph = std::string("<") + KindName(kind) + "_" + std::to_string(++next_[kind]) + ">";
  by_value_.emplace(key, ph);
  by_placeholder_.emplace(ph, value);
  // Short values would hit ordinary words.
  if (sweep && value.size() >= 4) {
    if (std::all_of(value.begin(), value.end(), IsRunByte)) sweep_words_.emplace(value, ph);
    else sweep_other_.emplace_back(value, ph);
  }
  return ph;
}

std::string Redactor::ApplyRule(const Rule& rule, std::string_view text) {
  std::string out;
  out.reserve(text.size());
  PCRE2_SIZE pos = 0, copied = 0;
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  while (pos <= text.size()) {
    int rc = pcre2_match(rule.code, subject, text.size(), pos, 0, rule.md, nullptr);
    if (rc < 0) break;  // no match (or a match-limit error: the text stays as the other rules left it)
    PCRE2_SIZE* ov = pcre2_get_ovector_pointer(rule.md);
    int g = rule.group;
    if (g < 0) {  // the first capture group that took part
      g = 0;
      for (int i = 1; i < rc; ++i)
        if (ov[2 * i] != PCRE2_UNSET) { g = i; break; }
    }
    const PCRE2_SIZE b = ov[2 * g], e = ov[2 * g + 1];
    const PCRE2_SIZE match_end = ov[1];
    const bool set = b != PCRE2_UNSET && e > b;
    std::string_view value = set ? text.substr(b, e - b) : std::string_view();
    if (set && (!rule.valid || rule.valid(value))) {
      out.append(text.substr(copied, b - copied));
      out += PlaceholderFor(rule.kind, std::string(value), /*sweep=*/rule.group < 0);
      copied = e;
      ++stats_.by_rule[rule.name];
      ++stats_.total;
    }
    pos = match_end > ov[0] ? match_end : ov[0] + 1;  // an empty match moves on by one byte
  }
  out.append(text.substr(std::min<size_t>(copied, text.size())));
  return out;
}

// Every other whole-word occurrence of a context-found value: one pass over word runs
// ([A-Za-z0-9_.-]+, trailing dots ignored: "web-01." ends a sentence), then find() for the few
// values with other bytes.
std::string Redactor::ReplaceKnown(std::string_view text) {
  if (sweep_words_.empty() && sweep_other_.empty()) return std::string(text);
  std::string cur;
  cur.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    if (!IsRunByte(text[i])) {
      cur += text[i++];
      continue;
    }
    size_t j = i;
    while (j < text.size() && IsRunByte(text[j])) ++j;
    size_t end = j;
    while (end > i && text[end - 1] == '.') --end;
    auto it = sweep_words_.find(std::string(text.substr(i, end - i)));
    if (it != sweep_words_.end()) {
      cur += it->second;
      cur.append(text.substr(end, j - end));
      ++stats_.by_rule["known_value"];
      ++stats_.total;
    } else {
      cur.append(text.substr(i, j - i));
    }
    i = j;
  }
  for (const auto& [v, ph] : sweep_other_) {
    std::string next;
    size_t copied = 0, pos = 0;
    while ((pos = cur.find(v, pos)) != std::string::npos) {
      const size_t end = pos + v.size();
      const bool left_ok = pos == 0 || !IsRunByte(cur[pos - 1]);
      const bool right_ok = end == cur.size() || !(IsWordByte(cur[end]) || cur[end] == '-');
      if (left_ok && right_ok) {
        next.append(cur, copied, pos - copied);
        next += ph;
        copied = end;
        ++stats_.by_rule["known_value"];
        ++stats_.total;
      }
      pos = end;
    }
    if (copied == 0) continue;
    next.append(cur, copied, std::string::npos);
    cur = std::move(next);
  }
  return cur;
}

std::string Redactor::Redact(std::string_view text) {
  std::string cur(text);
  for (const auto& rule : rules_) cur = ApplyRule(*rule, cur);
  return ReplaceKnown(cur);
}

std::string Redactor::Restore(std::string_view answer) const {
  std::string out;
  size_t i = 0;
  while (i < answer.size()) {
    size_t lt = answer.find('<', i);
    if (lt == std::string_view::npos) break;
    size_t gt = answer.find('>', lt);
    if (gt == std::string_view::npos || gt - lt > 24) {
      out.append(answer.substr(i, lt + 1 - i));
      i = lt + 1;
      continue;
    }
    std::string ph(answer.substr(lt, gt + 1 - lt));
    auto it = by_placeholder_.find(ph);
    out.append(answer.substr(i, lt - i));
    if (it != by_placeholder_.end() && ph.rfind("<SECRET_", 0) != 0) {
      out += it->second;
    } else {
      out += ph;
    }
    i = gt + 1;
  }
  out.append(answer.substr(std::min(i, answer.size())));
  return out;
}

}  // namespace gemrun::remote
