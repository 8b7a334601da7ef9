// LocalLlm: requests through the chat template and one engine Session.
#include "ops/llm.h"

#include <chrono>

namespace gemrun::ops {

StatusOr<std::unique_ptr<LocalLlm>> LocalLlm::Create(const Engine& e, const GenerateParams& base, bool ps) {
  ASSIGN_OR_RETURN(ChatTemplate t, ChatTemplate::ForGguf(e.model().file()));
  ASSIGN_OR_RETURN(std::unique_ptr<Session> s, e.NewSession());
  GenerateParams p = base;
  p.extra_eog = t.StopTokens(e.tokenizer().vocab());
  p.logprobs = true;  // the mean log-probability is the escalation rule's confidence
  return std::unique_ptr<LocalLlm>(new LocalLlm(e, std::move(t), std::move(s), p, ps));
}

int64_t LocalLlm::CountTokens(std::string_view text) const {
  return static_cast<int64_t>(e_.tokenizer().Encode(text, EncodeOptions{.add_special = false}).size());
}

StatusOr<std::vector<int32_t>> LocalLlm::Encode(const LlmRequest& r) const {
  std::vector<ChatMessage> msgs;
  if (!r.system.empty()) msgs.push_back({"system", r.system});
  msgs.push_back({"user", r.user});
  return tmpl_.Encode(e_.tokenizer(), msgs, ChatOptions{.parse_special_in_content = parse_special_});
}

StatusOr<int64_t> LocalLlm::PromptTokens(const LlmRequest& r) const {
  ASSIGN_OR_RETURN(std::vector<int32_t> ids, Encode(r));
  return static_cast<int64_t>(ids.size());
}

StatusOr<LlmReply> LocalLlm::Complete(const LlmRequest& r, const TokenTick& tick) {
  ASSIGN_OR_RETURN(std::vector<int32_t> ids, Encode(r));
  GenerateParams p = base_;
  p.max_tokens = r.max_tokens;
  p.grammar = r.grammar;
  int64_t n = 0;
  double sum_lp = 0;
  const auto t0 = std::chrono::steady_clock::now();
  auto cb = [&](const TokenEvent& ev) {
    ++n;
    sum_lp += ev.logprob;
    return !tick || tick(n);
  };
  ASSIGN_OR_RETURN(GenerateResult g, session_->Generate(ids, p, cb));
  LlmReply out;
  out.text = std::move(g.text);
  out.finish = g.finish;
  out.constraint_error = std::move(g.constraint_error);
  out.prompt_tokens = static_cast<int64_t>(ids.size());
  out.gen_tokens = static_cast<int64_t>(g.tokens.size());
  out.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  out.mean_logprob = n ? sum_lp / n : 0;
  return out;
}

}  // namespace gemrun::ops
