// Local first, remote by an explicit rule: decides whether a request escalates to the remote
// engine (--escalate always|never|auto), and when it does, redacts, checks the budget, calls,
// audits and maps placeholders back. Front ends (run, serve) and ops (ask, check, batch) call
// Router::Route with the local outcome and print the decision it returns.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "base/status.h"
#include "remote/client.h"
#include "remote/redact.h"

namespace gemrun::remote {

enum class Escalate { kNever, kAlways, kAuto };
// "never" | "always" | "auto"; InvalidArgument otherwise.
StatusOr<Escalate> ParseEscalate(const std::string& s);
const char* EscalateName(Escalate e);

// What the local engine produced (or could not).
struct LocalResult {
  bool available = false;     // a local answer exists (text below)
  std::string text;
  bool fits_context = true;   // false: the prompt does not fit the local context
  int64_t prompt_tokens = 0;  // as the local tokenizer counts them (0: unknown)
  int64_t context = 0;        // the local context size, for the message
  bool valid = true;          // false: the answer failed its schema / constraint
  std::string invalid_reason;
  std::optional<double> mean_logprob;  // mean token log-probability of the answer
};

struct Decision {
  bool remote = false;
  std::string rule;    // never | always | context | schema | confidence
  std::string reason;  // "confidence -0.41 >= -1.50"
};
// The routing rule alone (pure; no network).
Decision Decide(Escalate mode, double min_confidence, const LocalResult& local);

struct RouterOptions {
  Escalate mode = Escalate::kNever;
  double min_confidence = -1.0;  // auto: escalate when the mean token log-probability is below
  ClientOptions client;
  std::string model;             // the remote model name ("" -> "default")
  bool stream = false;
  UserRules redact;              // --redact-file
  std::string audit_path;        // --audit ("" -> none)
  int64_t max_tokens_per_call = 0;  // --max-remote-tokens: prompt + answer, 0 = no cap
  int64_t max_tokens_per_day = 0;   // --max-remote-tokens-per-day, 0 = no cap
  std::string budget_path;          // DefaultBudgetPath() unless set
};

struct RouteResult {
  Decision decision;
  bool has_answer = false;   // false: remote chosen, failed, and no local answer to fall back to
  std::string text;          // the answer to show: the remote one (placeholders restored) or the local one
  bool remote_used = false;  // `text` came from the remote
  bool fell_back = false;    // the remote was chosen but failed or was over budget
  std::string note;          // why it fell back (for stderr and the JSON record)
  int64_t remote_prompt_tokens = -1, remote_completion_tokens = -1;
  double latency_ms = 0;
  std::string body_sha256;   // of the body sent ("" when nothing was sent)
  int64_t redactions = 0;

  // "route: local (confidence -0.41 >= -1.50)", "route: remote (context: ...)", plus the fallback.
  std::string Line() const;
  nlohmann::json ToJson() const;
};

class Router {
 public:
  explicit Router(RouterOptions opts);
  // Routes one request. `req.messages` are unredacted: redaction happens here, on a fresh
  // session per call. Never contacts the network when the decision is local.
  RouteResult Route(const ChatRequest& req, const LocalResult& local) const;
  const RouterOptions& options() const { return opts_; }

 private:
  // The remote call proper; fills `out` (text, usage, sha) or returns why it failed.
  Status CallRemote(const ChatRequest& req, const LocalResult& local, RouteResult* out) const;
  RouterOptions opts_;
};

}  // namespace gemrun::remote
