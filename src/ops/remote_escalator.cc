// RemoteEscalator: maps the two escalation points of ask/check onto remote::Router.
#include "ops/remote_escalator.h"

#include <cstdio>

#include "constrain/matcher.h"

namespace gemrun::ops {

remote::ChatRequest RemoteEscalator::ToChat(const LlmRequest& r) const {
  remote::ChatRequest c;
  if (!r.system.empty()) c.messages.push_back({"system", r.system});
  c.messages.push_back({"user", r.user});
  c.max_tokens = r.max_tokens > 0 ? r.max_tokens : 0;
  if (r.grammar) c.response_format = format_ ? format_ : std::optional<nlohmann::json>(nlohmann::json{{"type", "json_object"}});
  return c;
}

std::optional<LlmReply> RemoteEscalator::Finish(const LlmRequest& req, const remote::RouteResult& r) {
  last_ = r.ToJson();
  std::fprintf(stderr, "gemrun %s: %s\n", command_.c_str(), r.Line().c_str());
  if (!r.remote_used) return std::nullopt;
  if (req.grammar && !constrain::GrammarAccepts(req.grammar, r.text)) {
    std::fprintf(stderr, "gemrun %s: the remote answer does not satisfy the schema; the local answer stands\n",
                 command_.c_str());
    last_["fell_back"] = true;
    last_["note"] = "remote answer failed the schema";
    return std::nullopt;
  }
  LlmReply reply;
  reply.text = r.text;
  reply.finish = FinishReason::kEog;
  reply.prompt_tokens = r.remote_prompt_tokens;
  reply.gen_tokens = r.remote_completion_tokens;
  reply.ms = r.latency_ms;
  reply.route = "remote";
  return reply;
}

std::optional<LlmReply> RemoteEscalator::OnTooLarge(const LlmRequest& whole) {
  remote::LocalResult local;  // no local answer yet: a failed remote call leaves the local plan to run
  local.available = false;
  local.fits_context = false;
  local.context = llm_.n_ctx();
  if (auto n = llm_.PromptTokens(whole); n.ok()) local.prompt_tokens = *n;
  return Finish(whole, router_.Route(ToChat(whole), local));
}

std::optional<LlmReply> RemoteEscalator::OnLocalAnswer(const LlmRequest& req, const LlmReply& local_reply, bool schema_ok) {
  remote::LocalResult local;
  local.available = true;
  local.text = local_reply.text;
  local.fits_context = true;
  local.prompt_tokens = local_reply.prompt_tokens;
  local.context = llm_.n_ctx();
  local.valid = schema_ok;
  if (!schema_ok) local.invalid_reason = local_reply.constraint_error;
  if (local_reply.gen_tokens > 0) local.mean_logprob = local_reply.mean_logprob;
  return Finish(req, router_.Route(ToChat(req), local));
}

}  // namespace gemrun::ops
