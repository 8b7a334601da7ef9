// Regular pieces of JSON generation: string formats as patterns, integer and decimal ranges as
// patterns, the free string body, and the generic JSON value rules (json_object mode, `{}`).
#include "constrain/json_terms.h"

#include <cmath>
#include <map>

namespace gemrun::constrain {
namespace {

// Formats as ECMA patterns over the string body. Each is a subset of what the checker (and the
// RFCs) accept, chosen so that every generated string is valid: February has 28 days, no leap
// second, bounded hostname labels.
const std::map<std::string, std::string>& FormatPatterns() {
  static const std::string kDate =
      "[0-9]{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)|02-(?:0[1-9]|1[0-9]|2[0-8]))";
  static const std::string kTime = "(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\\.[0-9]{1,6})?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])";
  static const std::string kLabel = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,20}[A-Za-z0-9])?";
  static const std::string kHost = kLabel + "(?:\\." + kLabel + "){0,3}";
  static const std::string kOctet = "(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])";
  static const std::string kIpv4 = kOctet + "(?:\\." + kOctet + "){3}";
  static const std::string h = "[0-9a-fA-F]{1,4}";
  static const std::string kIpv6 = "(?:(?:" + h + ":){7}" + h + "|(?:" + h + ":){1,6}:" + h + "|(?:" + h + ":){1,5}(?::" + h +
                                   "){1,2}|(?:" + h + ":){1,4}(?::" + h + "){1,3}|(?:" + h + ":){1,3}(?::" + h + "){1,4}|(?:" +
                                   h + ":){1,2}(?::" + h + "){1,5}|" + h + ":(?::" + h + "){1,6}|::(?:" + h + "(?::" + h +
                                   "){0,5})?|(?:" + h + ":){1,6}:)";
  static const std::string kAtext = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]";
  static const std::string kPchar = "[A-Za-z0-9._~!$&'()*+,;=:@-]";
  static const std::map<std::string, std::string> m = {
      {"date", kDate},
      {"time", kTime},
      {"date-time", kDate + "T" + kTime},
      {"uuid", "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"},
      {"ipv4", kIpv4},
      {"ipv6", kIpv6},
      {"hostname", kHost},
      {"email", kAtext + "{1,20}(?:\\." + kAtext + "{1,20}){0,2}@" + kHost},
      {"uri", "[a-z][a-z0-9+.-]{0,9}://[A-Za-z0-9](?:[A-Za-z0-9.-]{0,40}[A-Za-z0-9])?(?::[0-9]{1,5})?(?:/" + kPchar +
                  "{0,30}){0,6}(?:\\?(?:" + kPchar + "|/){0,40})?"},
  };
  return m;
}

// Decimal strings of equal length a <= b.
std::string SameLen(const std::string& a, const std::string& b) {
  if (a.empty()) return "";
  if (a[0] == b[0]) return std::string(1, a[0]) + SameLen(a.substr(1), b.substr(1));
  const size_t n = a.size() - 1;
  const std::string nines(n, '9'), zeros(n, '0');
  auto any = [&](char lo, char hi) {
    std::string s = lo == hi ? std::string(1, lo) : "[" + std::string(1, lo) + "-" + std::string(1, hi) + "]";
    if (n) s += "[0-9]{" + std::to_string(n) + "}";
    return s;
  };
  if (a.substr(1) == zeros && b.substr(1) == nines) return any(a[0], b[0]);
  std::string out = "(?:" + std::string(1, a[0]) + SameLen(a.substr(1), nines);
  if (a[0] + 1 <= b[0] - 1) out += "|" + any(static_cast<char>(a[0] + 1), static_cast<char>(b[0] - 1));
  out += "|" + std::string(1, b[0]) + SameLen(zeros, b.substr(1)) + ")";
  return out;
}

// Non-negative integers lo..hi without leading zeros.
std::string UnsignedRange(int64_t lo, int64_t hi) {
  std::string out;
  int64_t p = 1;  // 10^(len-1)
  for (int len = 1; len <= 18; ++len, p *= 10) {
    if (len > 1 && p > hi) break;
    const int64_t a = std::max(lo, len == 1 ? 0 : p), b = std::min(hi, p * 10 - 1);
    if (a > b) continue;
    out += (out.empty() ? "" : "|") + SameLen(std::to_string(a), std::to_string(b));
  }
  return "(?:" + out + ")";
}

}  // namespace

const std::string* FormatPattern(const std::string& name) {
  const auto& m = FormatPatterns();
  auto it = m.find(name);
  return it == m.end() ? nullptr : &it->second;
}

std::string IntegerRangePattern(int64_t lo, int64_t hi) {
  std::vector<std::string> parts;
  if (lo < 0) parts.push_back("-" + UnsignedRange(std::max<int64_t>(1, hi < 0 ? -hi : 1), -lo));
  if (hi >= 0) parts.push_back(UnsignedRange(std::max<int64_t>(0, lo), hi));
  std::string out;
  for (const std::string& p : parts) out += (out.empty() ? "" : "|") + p;
  return out;
}

std::string NumberRangePattern(const NumberBounds& nb, bool integer) {
  const double lo = nb.lo, hi = nb.hi;
  std::vector<std::string> parts;
  // Integral values.
  const double ilo = nb.lo_excl ? std::floor(lo) + 1 : std::ceil(lo);
  const double ihi = nb.hi_excl ? std::ceil(hi) - 1 : std::floor(hi);
  if (ilo <= ihi) parts.push_back(IntegerRangePattern(static_cast<int64_t>(ilo), static_cast<int64_t>(ihi)));
  if (!integer) {
    // n.f with f ending in a non-zero digit lies strictly inside (n, n+1).
    const std::string frac = "\\.[0-9]{0,5}[1-9]";
    const double plo = std::max(0.0, std::ceil(lo)), phi = std::floor(hi) - 1;
    if (plo <= phi) parts.push_back(UnsignedRange(static_cast<int64_t>(plo), static_cast<int64_t>(phi)) + frac);
    const double nlo = std::max(0.0, std::ceil(-hi)), nhi = std::floor(-lo) - 1;
    if (nlo <= nhi) parts.push_back("-" + UnsignedRange(static_cast<int64_t>(nlo), static_cast<int64_t>(nhi)) + frac);
  }
  std::string out;
  for (const std::string& p : parts) out += (out.empty() ? "" : "|") + p;
  return out;
}

int FreeStringBody(RegexAst* ast) {
  const int plain = ast->Set({{0x20, 0x21}, {0x23, 0x5B}, {0x5D, 0xD7FF}, {0xE000, kMaxCodePoint}});
  std::vector<int> alts = {plain};
  for (const char* esc : {"\\\"", "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t"}) alts.push_back(ast->Bytes(esc));
  return ast->Rep(ast->Alt(std::move(alts)), 0, -1);
}

}  // namespace gemrun::constrain
