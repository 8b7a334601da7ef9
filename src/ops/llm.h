// The model as ops sees it: count tokens, complete one (system, user) request. LocalLlm runs
// the in-process engine; src/remote can add another implementation behind the same interface.
// Escalator is the seam for routing to a remote engine (filled by the CLI once src/remote exists;
// nullptr today: everything stays local).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "constrain/grammar.h"
#include "engine/engine.h"
#include "tokenizer/chat_template.h"

namespace gemrun::ops {

struct LlmRequest {
  std::string system;
  std::string user;
  int64_t max_tokens = 512;
  std::shared_ptr<const constrain::Grammar> grammar;  // constrained answer (check's verdict)
};

struct LlmReply {
  std::string text;
  FinishReason finish = FinishReason::kNone;
  std::string constraint_error;  // non-empty: a constrained answer ended incomplete
  int64_t prompt_tokens = 0, gen_tokens = 0;
  double ms = 0;
  double mean_logprob = 0;  // mean log-probability of the generated tokens (confidence)
  std::string route = "local";
};

// Called once per generated token with the count so far; return false to cancel.
using TokenTick = std::function<bool(int64_t)>;

class Llm {
 public:
  virtual ~Llm() = default;
  virtual int64_t n_ctx() const = 0;
  virtual int64_t CountTokens(std::string_view text) const = 0;
  // Prompt tokens of a request once the chat format is applied.
  virtual StatusOr<int64_t> PromptTokens(const LlmRequest& r) const = 0;
  virtual StatusOr<LlmReply> Complete(const LlmRequest& r, const TokenTick& tick) = 0;
};

// The engine in process: the model's chat template, one Session (its KV cache reused across
// calls that share a prefix), sampling from `base` (max_tokens and grammar per request).
class LocalLlm : public Llm {
 public:
  static StatusOr<std::unique_ptr<LocalLlm>> Create(const Engine& e, const GenerateParams& base,
                                                    bool parse_special_in_content);
  int64_t n_ctx() const override { return e_.n_ctx(); }
  int64_t CountTokens(std::string_view text) const override;
  StatusOr<int64_t> PromptTokens(const LlmRequest& r) const override;
  StatusOr<LlmReply> Complete(const LlmRequest& r, const TokenTick& tick) override;

 private:
  LocalLlm(const Engine& e, ChatTemplate t, std::unique_ptr<Session> s, const GenerateParams& base, bool ps)
      : e_(e), tmpl_(std::move(t)), session_(std::move(s)), base_(base), parse_special_(ps) {}
  StatusOr<std::vector<int32_t>> Encode(const LlmRequest& r) const;

  const Engine& e_;
  ChatTemplate tmpl_;
  std::unique_ptr<Session> session_;
  GenerateParams base_;
  bool parse_special_;
};

// Seam for escalation to a bigger (remote) model: local first; the escalator decides, prints its
// decision, and may answer instead. Ask/Check call it at the two points where a rule applies.
class Escalator {
 public:
  virtual ~Escalator() = default;
  // The whole input does not fit the local context (before map-reduce or retrieval). `whole`
  // carries every source. A reply answers instead of the local plan; nullopt stays local.
  virtual std::optional<LlmReply> OnTooLarge(const LlmRequest& whole) = 0;
  // After the local final answer; `schema_ok` is false when a constrained answer failed its
  // schema. A reply replaces the local answer; nullopt keeps it.
  virtual std::optional<LlmReply> OnLocalAnswer(const LlmRequest& req, const LlmReply& local, bool schema_ok) = 0;
};

}  // namespace gemrun::ops
