// The ops Escalator over the remote layer: `ask` and `check` go to the remote engine only by the
// router's rule (--escalate always|never|auto), with the router's redaction, budget and audit.
// Every decision is printed on stderr. A remote answer to a constrained request (check's
// verdict) is kept only when it satisfies the same grammar the local answer was decoded under;
// otherwise the local answer stands (fail closed: no unchecked verdict gates a pipeline).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "ops/llm.h"
#include "remote/router.h"

namespace gemrun::ops {

class RemoteEscalator : public Escalator {
 public:
  // `command` prefixes the stderr lines ("ask", "check"); `response_format` is sent with
  // constrained requests (check: the verdict's json_schema).
  // `local` counts the prompt tokens of a request that does not fit (for the decision line).
  RemoteEscalator(remote::RouterOptions opts, std::string command, const Llm& local,
                  std::optional<nlohmann::json> response_format = std::nullopt)
      : router_(std::move(opts)), command_(std::move(command)), llm_(local), format_(std::move(response_format)) {}

  std::optional<LlmReply> OnTooLarge(const LlmRequest& whole) override;
  std::optional<LlmReply> OnLocalAnswer(const LlmRequest& req, const LlmReply& local, bool schema_ok) override;

  // The last decision, for --json records (null before any).
  const nlohmann::json& last_route() const { return last_; }

 private:
  remote::ChatRequest ToChat(const LlmRequest& r) const;
  std::optional<LlmReply> Finish(const LlmRequest& req, const remote::RouteResult& r);

  remote::Router router_;
  std::string command_;
  const Llm& llm_;
  std::optional<nlohmann::json> format_;
  nlohmann::json last_;
};

}  // namespace gemrun::ops
