// Redaction before anything leaves the machine: addresses, host names, e-mails, keys, tokens and
// passwords in text become stable placeholders (<IP_1>, <HOST_3>, <SECRET_2>), and placeholders
// in a remote answer are mapped back locally. The rules and their limits are in docs/remote.md.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/status.h"

namespace gemrun::remote {

// What a placeholder stands for. Its name is the placeholder's prefix (<IP_1>, <HOST_1> ...).
enum class Kind { kIp, kHost, kEmail, kMac, kSecret, kTerm };
const char* KindName(Kind k);

// User rules (--redact-file): each line "regex:PATTERN" (PCRE2 syntax) or a literal word or
// phrase (matched case-insensitively, on word boundaries). Both become <TERM_n> placeholders.
struct UserRules {
  std::vector<std::string> regexes;
  std::vector<std::string> literals;
};
// Reads a --redact-file: one rule per line; blank lines and lines starting with '#' are skipped.
// NotFound for an unreadable file.
Status LoadRedactFile(const std::string& path, UserRules* out);

struct RedactStats {
  std::map<std::string, int64_t> by_rule;  // rule name -> replaced occurrences
  int64_t total = 0;
};

// One redaction session: the same value maps to the same placeholder across every Redact call
// (so a conversation's messages stay coherent). Not thread-safe; one per request.
class Redactor {
 public:
  // Compiles the built-in rules and `user`; InvalidArgument names a user regex that does not compile.
  static StatusOr<std::unique_ptr<Redactor>> Create(const UserRules& user = {});
  ~Redactor();
  Redactor(const Redactor&) = delete;
  Redactor& operator=(const Redactor&) = delete;

  // `text` with every match replaced by its placeholder.
  std::string Redact(std::string_view text);
  // `answer` with placeholders mapped back to their values, except <SECRET_n>, which stay
  // placeholders: a secret never needs to reappear in an answer, and an answer is often pasted
  // into tickets and chats (docs/remote.md). Unknown placeholders stay as they are.
  std::string Restore(std::string_view answer) const;

  // Placeholder -> original value, for every value seen so far.
  const std::map<std::string, std::string>& placeholders() const { return by_placeholder_; }
  const RedactStats& stats() const { return stats_; }

 private:
  struct Rule;
  Redactor();
  std::string PlaceholderFor(Kind kind, const std::string& value, bool sweep);
  std::string ApplyRule(const Rule& rule, std::string_view text);
  std::string ReplaceKnown(std::string_view text);

  std::vector<std::unique_ptr<Rule>> rules_;
  std::map<std::pair<Kind, std::string>, std::string> by_value_;
  // Values found by context (a syslog host field, the value of password=) are swept through the
  // rest of the text too; pattern-found values are caught by their pattern anywhere anyway.
  // Values made of [A-Za-z0-9._-] are looked up per word run (one pass, hash lookups); others by find.
  std::unordered_map<std::string, std::string> sweep_words_;
  std::vector<std::pair<std::string, std::string>> sweep_other_;
  std::map<std::string, std::string> by_placeholder_;
  std::map<Kind, int> next_;
  RedactStats stats_;
};

}  // namespace gemrun::remote
