// Routing: the decision rule, then (for a remote decision) budget, redaction, call, audit and
// restoration, with the local answer as the fallback for every failure.
#include "remote/router.h"

#include <cstdio>

#include "remote/audit.h"

namespace gemrun::remote {
namespace {

std::string Fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

}  // namespace

StatusOr<Escalate> ParseEscalate(const std::string& s) {
  if (s == "never") return Escalate::kNever;
  if (s == "always") return Escalate::kAlways;
  if (s == "auto") return Escalate::kAuto;
  return InvalidArgumentError("--escalate " + s + ": expected always, never or auto");
}

const char* EscalateName(Escalate e) {
  return e == Escalate::kAlways ? "always" : e == Escalate::kAuto ? "auto" : "never";
}

Decision Decide(Escalate mode, double min_confidence, const LocalResult& local) {
  if (mode == Escalate::kNever) return {false, "never", "--escalate never"};
  if (mode == Escalate::kAlways) return {true, "always", "--escalate always"};
  if (!local.fits_context)
    return {true, "context", "prompt of " + std::to_string(local.prompt_tokens) + " tokens does not fit the local context of " +
                                 std::to_string(local.context)};
  if (!local.valid) return {true, "schema", "local answer failed its schema: " + local.invalid_reason};
  if (!local.mean_logprob) return {false, "confidence", "no log-probabilities for the local answer"};
  const double c = *local.mean_logprob;
  if (c < min_confidence) return {true, "confidence", "confidence " + Fmt(c) + " < " + Fmt(min_confidence)};
  return {false, "confidence", "confidence " + Fmt(c) + " >= " + Fmt(min_confidence)};
}

std::string RouteResult::Line() const {
  std::string s = std::string("route: ") + (decision.remote ? "remote" : "local") + " (" + decision.reason + ")";
  if (fell_back) s += has_answer ? "; remote not used, local answer instead: " + note : "; remote failed: " + note;
  return s;
}

nlohmann::json RouteResult::ToJson() const {
  nlohmann::json j = {{"decision", decision.remote ? "remote" : "local"},
                      {"rule", decision.rule},
                      {"reason", decision.reason},
                      {"answered_by", remote_used ? "remote" : has_answer ? "local" : "none"},
                      {"fallback", fell_back}};
  if (!note.empty()) j["note"] = note;
  if (!body_sha256.empty()) {
    j["body_sha256"] = body_sha256;
    j["redactions"] = redactions;
    j["latency_ms"] = latency_ms;
  }
  if (remote_used) j["remote_usage"] = {{"prompt_tokens", remote_prompt_tokens}, {"completion_tokens", remote_completion_tokens}};
  return j;
}

Router::Router(RouterOptions opts) : opts_(std::move(opts)) {
  if (opts_.budget_path.empty()) opts_.budget_path = DefaultBudgetPath();
}

RouteResult Router::Route(const ChatRequest& req, const LocalResult& local) const {
  RouteResult r;
  r.decision = Decide(opts_.mode, opts_.min_confidence, local);
  if (!r.decision.remote) {
    r.has_answer = local.available;
    r.text = local.text;
    return r;
  }
  Status st = CallRemote(req, local, &r);
  if (st.ok()) return r;
  r.fell_back = true;
  r.note = st.message();
  r.has_answer = local.available;
  r.text = local.text;
  return r;
}

Status Router::CallRemote(const ChatRequest& req_in, const LocalResult& local, RouteResult* out) const {
  ChatRequest req = req_in;
  req.model = opts_.model;
  req.stream = opts_.stream;
  auto redactor = Redactor::Create(opts_.redact);
  if (!redactor.ok()) return redactor.status();
  for (Message& m : req.messages) m.content = (*redactor)->Redact(m.content);
  out->redactions = (*redactor)->stats().total;

  // Budget: the prompt as the local tokenizer counts it, else about 3 bytes per token.
  int64_t prompt_est = local.prompt_tokens;
  if (prompt_est <= 0)
    for (const Message& m : req.messages) prompt_est += static_cast<int64_t>(m.content.size()) / 3 + 4;
  nlohmann::json audit = {{"time", UtcTimestamp()}, {"remote", ChatEndpoint(opts_.client.url)},
                          {"rule", out->decision.rule}, {"reason", out->decision.reason}};
  auto refuse = [&](const std::string& why) {
    audit["outcome"] = "over_budget";
    audit["error"] = why;
    Status a = AppendAudit(opts_.audit_path, audit);
    return ResourceExhaustedError(why + (a.ok() ? "" : " (" + a.message() + ")"));
  };
  if (opts_.max_tokens_per_call > 0) {
    const int64_t room = opts_.max_tokens_per_call - prompt_est;
    if (room <= 0)
      return refuse("over budget: the prompt is about " + std::to_string(prompt_est) + " tokens, --max-remote-tokens is " +
                    std::to_string(opts_.max_tokens_per_call));
    req.max_tokens = req.max_tokens > 0 ? std::min(req.max_tokens, room) : room;
  }
  DailyBudget day(opts_.budget_path, opts_.max_tokens_per_day);
  const int64_t want = prompt_est + (req.max_tokens > 0 ? req.max_tokens : 0);
  if (!day.Allows(want))
    return refuse("over budget: today's remote total is " + std::to_string(day.UsedToday()) + " tokens; " +
                  std::to_string(want) + " more would pass --max-remote-tokens-per-day " + std::to_string(day.limit()) +
                  " (" + day.path() + ")");

  const std::string body = BuildChatBody(req);
  out->body_sha256 = Sha256Hex(body);
  audit["body"] = body;
  audit["body_sha256"] = out->body_sha256;
  audit["redactions"] = out->redactions;
  int attempts = 0;
  Client client(opts_.client);
  auto resp = client.Chat(body, &attempts);
  audit["attempts"] = attempts;
  Status st = resp.status();
  if (st.ok() && req.response_format && nlohmann::json::parse(resp->text, nullptr, false).is_discarded())
    st = InternalError("remote answer is not the JSON its response_format asked for: " + resp->text.substr(0, 120));
  if (st.ok()) {
    out->remote_used = out->has_answer = true;
    out->text = (*redactor)->Restore(resp->text);
    out->remote_prompt_tokens = resp->prompt_tokens;
    out->remote_completion_tokens = resp->completion_tokens;
    out->latency_ms = resp->latency_ms;
    audit["prompt_tokens"] = resp->prompt_tokens;
    audit["completion_tokens"] = resp->completion_tokens;
    audit["latency_ms"] = resp->latency_ms;
    audit["outcome"] = "ok";
    const int64_t used = (resp->prompt_tokens >= 0 ? resp->prompt_tokens : prompt_est) +
                         (resp->completion_tokens >= 0 ? resp->completion_tokens
                                                       : static_cast<int64_t>(resp->text.size()) / 3);
    if (Status c = day.Charge(used); !c.ok()) std::fprintf(stderr, "gemrun: warning: %s\n", c.message().c_str());
  } else {
    audit["outcome"] = "error";
    audit["error"] = st.message();
    // A failed call may still have been processed remotely: charge the estimate.
    (void)day.Charge(prompt_est);
  }
  if (Status a = AppendAudit(opts_.audit_path, audit); !a.ok())
    std::fprintf(stderr, "gemrun: warning: %s\n", a.message().c_str());
  return st;
}

}  // namespace gemrun::remote
