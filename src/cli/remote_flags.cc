// RemoteFlags implementation.
#include "cli/remote_flags.h"

#include <cstdio>
#include <fstream>
#include <sstream>

namespace gemrun::cli {

void RemoteFlags::Register(CLI::App& app) {
  app.add_option("--remote", url, "OpenAI-compatible endpoint to escalate to (vLLM, llama-server, Ollama, gemrun serve), "
                                  "e.g. --remote https://llm.example.com/v1; redacted before sending (docs/remote.md)");
  app.add_option("--remote-key-file", key_file, "file holding the remote's API key (first line); default: "
                                                "$GEMRUN_REMOTE_KEY. Example: --remote-key-file ~/.config/gemrun/key");
  app.add_option("--remote-model", model, "model name sent to the remote, e.g. --remote-model llama-3.1-70b");
  app.add_option("--escalate", escalate, "when to use the remote: always, never, auto (default with --remote: auto = "
                                         "the prompt does not fit, the answer failed its schema, or its confidence is "
                                         "under --min-confidence). Example: --escalate auto")
      ->check(CLI::IsMember({"always", "never", "auto"}));
  app.add_option("--min-confidence", min_confidence, "auto: escalate when the local answer's mean token "
                                                     "log-probability is below this (default -1.0), e.g. --min-confidence -1.5");
  app.add_option("--redact-file", redact_file, "extra redaction rules, one per line: 'regex:PATTERN' or a literal "
                                               "word (customer names), e.g. --redact-file customers.txt");
  app.add_option("--audit", audit, "append one JSON line per remote call (body sent, sha256, rule, tokens, latency), "
                                   "e.g. --audit ~/gemrun-remote.jsonl");
  app.add_option("--max-remote-tokens", max_tokens, "cap per remote call (prompt + answer tokens); over it: no call, "
                                                    "the local answer. Example: --max-remote-tokens 8000");
  app.add_option("--max-remote-tokens-per-day", max_tokens_per_day,
                 "daily cap over all calls, kept in $XDG_STATE_HOME/gemrun/remote-budget.json, e.g. 200000");
  app.add_option("--remote-timeout", timeout_s, "seconds for a whole remote call (default 300), e.g. --remote-timeout 60");
  app.add_option("--remote-connect-timeout", connect_timeout_s, "seconds to connect (default 10)");
  app.add_option("--remote-retries", retries, "retries on 429/5xx/connection errors, with backoff (default 2)");
  app.add_flag("--remote-stream", stream, "ask the remote for a streamed (SSE) answer");
}

StatusOr<remote::RouterOptions> RemoteFlags::Finish() const {
  remote::RouterOptions o;
  if (url.empty()) {
    if (!escalate.empty() && escalate != "never")
      return InvalidArgumentError("--escalate " + escalate + " needs --remote URL");
    for (const auto& [flag, set] : {std::pair{"--remote-key-file", !key_file.empty()}, {"--audit", !audit.empty()},
                                    {"--redact-file", !redact_file.empty()}})
      if (set) return InvalidArgumentError(std::string(flag) + " needs --remote URL");
    return o;  // kNever: nothing leaves
  }
  if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0)
    return InvalidArgumentError("--remote " + url + ": expected an http:// or https:// URL");
  const size_t at = url.find('@'), scheme_end = url.find("://") + 3;
  if (at != std::string::npos && at < url.find('/', scheme_end))
    return InvalidArgumentError("--remote: credentials in the URL would show in the process list; put the key in "
                                "--remote-key-file or $GEMRUN_REMOTE_KEY");
  if (url.rfind("http://", 0) == 0) {  // TLS is the remote's to offer; say so when the body crosses a network in clear
    const std::string host = url.substr(7, url.find_first_of("/:", 7) == std::string::npos ? std::string::npos
                                                                                          : url.find_first_of("/:", 7) - 7);
    if (host != "127.0.0.1" && host != "localhost" && url.rfind("http://[::1]", 0) != 0)
      std::fprintf(stderr, "gemrun: warning: --remote %s is plain http: the redacted body and the key travel "
                           "unencrypted; use https\n", url.c_str());
  }
  auto mode = remote::ParseEscalate(escalate.empty() ? "auto" : escalate);
  if (!mode.ok()) return mode.status();
  o.mode = *mode;
  auto key = remote::LoadRemoteKey(key_file);
  if (!key.ok()) return key.status();
  if (timeout_s <= 0 || connect_timeout_s <= 0 || retries < 0 || retries > 10 || max_tokens < 0 || max_tokens_per_day < 0)
    return InvalidArgumentError("--remote-timeout/--remote-connect-timeout must be > 0, --remote-retries 0..10, "
                                "token caps >= 0");
  o.client = {.url = url, .key = *key, .connect_timeout_ms = static_cast<int64_t>(connect_timeout_s * 1000),
              .timeout_ms = static_cast<int64_t>(timeout_s * 1000), .retries = retries};
  o.min_confidence = min_confidence;
  o.model = model;
  o.stream = stream;
  o.audit_path = audit;
  o.max_tokens_per_call = max_tokens;
  o.max_tokens_per_day = max_tokens_per_day;
  if (!redact_file.empty()) RETURN_IF_ERROR(remote::LoadRedactFile(redact_file, &o.redact));
  auto check = remote::Redactor::Create(o.redact);  // a bad user regex is a usage error now, not at call time
  if (!check.ok()) return check.status();
  return o;
}

StatusOr<std::optional<nlohmann::json>> ResponseFormatFor(const ConstraintFlags& c) {
  if (c.json_object) return std::optional<nlohmann::json>(nlohmann::json{{"type", "json_object"}});
  if (c.schema_file.empty()) return std::optional<nlohmann::json>();
  std::ifstream in(c.schema_file, std::ios::binary);
  if (!in) return NotFoundError("cannot open --schema " + c.schema_file);
  std::ostringstream ss;
  ss << in.rdbuf();
  auto schema = nlohmann::json::parse(ss.str(), nullptr, false);
  if (schema.is_discarded()) return InvalidArgumentError("--schema " + c.schema_file + " is not JSON");
  return std::optional<nlohmann::json>(
      nlohmann::json{{"type", "json_schema"}, {"json_schema", {{"name", "answer"}, {"schema", schema}}}});
}

}  // namespace gemrun::cli
