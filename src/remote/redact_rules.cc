// The built-in redaction rules: PCRE2 patterns plus validators for what a pattern cannot decide.
// Rules err towards redacting: a false positive costs the remote model one word, a false
// negative leaks a secret. The near misses we keep (versions, times, file names, `localhost`)
// are pinned by tests/unit/remote_redact_test.cc.
#include "remote/redact_rules.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <set>
#include <string>

namespace gemrun::remote::internal {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool ValidIpv4(std::string_view v) {
  int parts = 0;
  size_t i = 0;
  while (i <= v.size()) {
    size_t j = v.find('.', i);
    if (j == std::string_view::npos) j = v.size();
    std::string_view part = v.substr(i, j - i);
    if (part.empty() || part.size() > 3 || std::stoi(std::string(part)) > 255) return false;
    ++parts;
    i = j + 1;
  }
  return parts == 4;
}

bool ValidIpv6(std::string_view v) {
  std::string s(v.substr(0, v.find('%')));  // fe80::1%eth0: the zone is not part of the address
  if (s.size() < 3 || s.find_first_of("0123456789") == std::string::npos) return false;  // a::b, ::
  in6_addr addr;
  return inet_pton(AF_INET6, s.c_str(), &addr) == 1;
}

// Common generic and internal-use TLDs; every two-letter alphabetic label counts as a ccTLD.
const std::set<std::string>& Tlds() {
  static const std::set<std::string> k = {
      "com", "net", "org", "edu", "gov", "mil", "int", "info", "biz", "name", "pro", "mobi", "asia", "aero",
      "app", "dev", "cloud", "tech", "online", "site", "xyz", "shop", "store", "blog", "page", "host",
      "email", "systems", "services", "network", "company", "global", "world", "agency", "digital",
      "local", "localdomain", "internal", "intranet", "lan", "corp", "home", "private", "test", "example",
      "invalid", "arpa", "svc", "cluster", "onion"};
  return k;
}

// Last labels that make a two-label name a file, not a host (several are also ccTLDs).
const std::set<std::string>& FileExtensions() {
  static const std::set<std::string> k = {
      "c", "h", "cc", "cpp", "cxx", "hh", "hpp", "py", "sh", "md", "rs", "so", "pl", "pm", "ps", "js", "ts",
      "go", "rb", "kt", "el", "mk", "am", "in", "ac", "gz", "xz", "bz", "db", "js", "txt", "log", "json",
      "yaml", "yml", "toml", "ini", "cfg", "conf", "xml", "html", "css", "zst", "tar", "zip", "pdf", "png",
      "jpg", "gguf", "bin", "sql", "csv", "pid", "lock", "tmp", "bak", "tf", "lua", "vim", "java", "swift",
      "id"};
  return k;
}

// First labels that make a two-label name a code expression (self.id, os.path).
const std::set<std::string>& CodeIdentifiers() {
  static const std::set<std::string> k = {"self", "this", "os", "sys", "np", "pd", "re", "ctx", "req", "res",
                                          "obj", "cfg", "std", "args", "opts", "math", "json", "torch", "e",
                                          "x", "y", "it", "item", "node", "config", "data", "value", "err"};
  return k;
}

bool ValidHost(std::string_view v) { return LooksLikeHostName(v); }

// A single-label host (syslog field, host=...) other than localhost and already placed values.
bool ValidBareHost(std::string_view v) {
  std::string l = Lower(v);
  if (l == "localhost" || l.rfind("localhost.", 0) == 0 || l == "-" || v.front() == '<') return false;
  return std::any_of(v.begin(), v.end(), [](char c) { return std::isalpha(static_cast<unsigned char>(c)); });
}

// key=value values: at least 3 bytes, not a placeholder, not an obvious non-secret.
bool ValidSecretValue(std::string_view v) {
  if (v.size() < 3 || v.front() == '<' || v.front() == '$' || v.front() == '%') return false;
  static const std::set<std::string> kWords = {"null", "none", "true", "false", "undefined", "yes", "no",
                                               "***", "****", "redacted", "required", "optional", "empty"};
  return kWords.count(Lower(v)) == 0;
}

bool HasDigit(std::string_view v) { return v.find_first_of("0123456789") != std::string_view::npos; }

}  // namespace

bool LooksLikeHostName(std::string_view name) {
  std::string l = Lower(name);
  if (!l.empty() && l.back() == '.') l.pop_back();
  if (l.rfind("localhost", 0) == 0) return false;
  size_t dot = l.rfind('.');
  if (dot == std::string::npos) return false;
  const std::string tld = l.substr(dot + 1);
  const std::string first = l.substr(0, l.find('.'));
  const bool two_labels = l.find('.') == dot;
  if (tld.empty() || !std::all_of(tld.begin(), tld.end(), [](char c) { return c >= 'a' && c <= 'z'; })) return false;
  if (two_labels && (FileExtensions().count(tld) || CodeIdentifiers().count(first))) return false;
  return Tlds().count(tld) > 0 || tld.size() == 2;
}

const std::vector<RuleSpec>& BuiltinRules() {
  static const std::vector<RuleSpec> k = {
      // PEM private keys (RSA, EC, OPENSSH, PGP, PKCS#8; also inside JSON with literal \n), up to
      // the END line or, for a cut block, up to the end of the base64 run.
      // The body may carry "N| " line labels (ask/check prompts): '|' is part of the block.
      {"pem_private_key", Kind::kSecret,
       R"(-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----(?:[A-Za-z0-9+/=\s,:.|]|\\[nr]|-(?!----END))*+)"
       R"((?:-----END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----)?)",
       0, nullptr},
      // scheme://user:PASSWORD@host: the password goes; the host is handled by the host rules.
      {"url_credentials", Kind::kSecret, R"(\b[A-Za-z][A-Za-z0-9+.-]{1,20}://[^\s:/@"'<>]{1,256}:([^\s@/"'<>]{1,256})@)",
       -1, ValidSecretValue},
      {"slack_webhook", Kind::kSecret, R"(https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_+-]+)",
       0, nullptr},
      {"jwt", Kind::kSecret, R"(\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*)", 0, nullptr},
      {"aws_access_key", Kind::kSecret,
       R"(\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)[A-Z0-9]{16}\b)", 0, nullptr},
      {"aws_secret_key", Kind::kSecret,
       R"((?i:aws)[A-Za-z0-9_.-]{0,30}(?i:secret|key)[A-Za-z0-9_.-]{0,20}["']?\s*[:=]\s*["']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=]))",
       -1, nullptr},
      {"gcp_api_key", Kind::kSecret, R"(\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-]))", 0, nullptr},
      {"github_token", Kind::kSecret, R"(\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b)", 0,
       nullptr},
      {"slack_token", Kind::kSecret, R"(\bxox[abposre]-[A-Za-z0-9-]{10,})", 0, nullptr},
      {"bearer", Kind::kSecret, R"((?i)\b(?:bearer|basic)\s+([A-Za-z0-9._~+/=-]{8,}))", -1, nullptr},
      {"cli_password", Kind::kSecret, R"((?i)--(?:password|passwd|token|secret|api-key)(?:=|\s+)("[^"\n]*"|[^\s"]+))",
       -1, ValidSecretValue},
      // key=value, key: value, "key": "value", Key=Value; in connection strings: the key ends in one of
      // the words below (db_password, AWS_SECRET_ACCESS_KEY, AccountKey, Pwd, csrf_token).
      {"key_value_secret", Kind::kSecret,
       R"((?i)(?<![A-Za-z0-9])(?:[A-Za-z0-9]+[_.-])*(?:password|passwd|passphrase|pwd|secret|token|api[_-]?key|)"
       R"(apikey|access[_-]?key|secret[_-]?key|account[_-]?key|shared[_-]?access[_-]?key|)"
       R"(shared[_-]?access[_-]?signature|private[_-]?key(?:[_-]?id)?|client[_-]?secret|credentials?|sig))"
       R"re(["']?\s*(?:[:=]|=>)\s*(?:"([^"\r\n]{1,512})"|'([^'\r\n]{1,512})'|([^\s"',;&<>(){}\[\]]{1,512})))re",
       -1, ValidSecretValue},
      {"email", Kind::kEmail,
       R"((?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,63}(?![A-Za-z0-9-]))", 0,
       nullptr},
      {"mac", Kind::kMac,
       R"((?<![0-9A-Fa-f:-])[0-9A-Fa-f]{2}([:-])[0-9A-Fa-f]{2}(?:\1[0-9A-Fa-f]{2}){4}(?![0-9A-Fa-f:-]))", 0, nullptr},
      {"mac_dotted", Kind::kMac, R"(\b[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}\b)", 0, HasDigit},
      {"ipv6", Kind::kIp,
       R"((?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|\d{1,3}(?:\.\d{1,3}){3})?(?:%[A-Za-z0-9]+)?(?![\w:]))",
       0, ValidIpv6},
      {"ipv4", Kind::kIp, R"((?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?!\w|\.\d))", 0, ValidIpv4},
      // The host field of a syslog line ("Dec  2 10:00:01 web-01 sshd[1]:") or an ISO-stamped one,
      // at a line start or after a label such as ask's "12| " line numbers (was line-start only:
      // single-label hosts in ask/check prompts reached the wire).
      {"syslog_host", Kind::kHost,
       R"((?m)(?:^|(?<=[\s|]))(?:[A-Z][a-z]{2} {1,2}\d{1,2} \d\d:\d\d:\d\d|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?) ([A-Za-z0-9][A-Za-z0-9._-]{0,253}) )",
       -1, ValidBareHost},
      {"key_value_host", Kind::kHost,
       R"((?i)(?<![A-Za-z0-9_])(?:host|hostname|host_name|fqdn|nodename|node_name)["']?\s*[:=]\s*["']?([A-Za-z][A-Za-z0-9._-]{1,253}))",
       -1, ValidBareHost},
      {"hostname", Kind::kHost,
       R"((?<![\w.@-])(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}(?![\w-]|\.[A-Za-z0-9]))", 0,
       ValidHost},
  };
  return k;
}

}  // namespace gemrun::remote::internal
