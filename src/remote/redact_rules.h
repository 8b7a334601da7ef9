// The built-in redaction rules (internal to redact.cc): one table of PCRE2 patterns, each with the
// placeholder kind, the capture group that is replaced, and an optional validator that rejects
// near misses a regular expression cannot (IPv4 octets, IPv6 syntax, the host-name TLD rule).
#pragma once

#include <string_view>
#include <vector>

#include "remote/redact.h"

namespace gemrun::remote::internal {

struct RuleSpec {
  const char* name;     // shown in stats, e.g. "ipv4"
  Kind kind;
  const char* pattern;  // PCRE2, byte mode
  // 0: the whole match; -1: the first capture group that participated (the value of key=value).
  int group;
  bool (*valid)(std::string_view value);  // nullptr: every match counts
};

// In the order they run: the most specific first, so a JWT or a key is not taken for a host name.
const std::vector<RuleSpec>& BuiltinRules();

// The host-name rule (exposed for tests): `name` is dotted and its last label a known TLD; a
// two-label name whose last label is a common file extension (main.cc, run.sh) or whose first
// label is a common code identifier (self.id, os.path) is not a host.
bool LooksLikeHostName(std::string_view name);

}  // namespace gemrun::remote::internal
