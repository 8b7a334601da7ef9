// Drafter, DraftLength and the vocabulary check of speculative decoding.
#include "engine/speculative.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "sampling/sampler.h"

namespace gemrun {

Status CheckSameVocabulary(const Tokenizer& target, const Tokenizer& draft, const std::string& draft_path) {
  const Vocab& a = target.vocab();
  const Vocab& b = draft.vocab();
  const std::string hint = "; a drafter must use the same tokenizer as the model (e.g. a smaller model of the same family)";
  if (a.size() != b.size())
    return InvalidArgumentError("--draft-model " + draft_path + ": its vocabulary has " + std::to_string(b.size()) +
                                " tokens, the model's " + std::to_string(a.size()) + hint);
  for (int32_t id = 0; id < a.size(); ++id)
    if (a.text(id) != b.text(id))
      return InvalidArgumentError("--draft-model " + draft_path + ": token " + std::to_string(id) + " is '" +
                                  std::string(b.text(id).substr(0, 32)) + "' there but '" +
                                  std::string(a.text(id).substr(0, 32)) + "' in the model" + hint);
  return OkStatus();
}

int DraftLength::Next() const {
  if (rate_ >= 0.95) return max_;
  const double mean_run = rate_ / (1.0 - rate_);
  return std::clamp(static_cast<int>(std::floor(mean_run)) + 1, 1, max_);
}

void DraftLength::Update(int drafted, int accepted) {
  if (drafted <= 0) return;
  // Per-token rate of this pass, with a short memory (about 8 passes) so the length follows
  // the text: code and repeated spans are drafted far better than free prose.
  const double pass = static_cast<double>(accepted) / drafted;
  constexpr double kKeep = 0.875;
  rate_ = kKeep * rate_ + (1.0 - kKeep) * pass;
}

double ProjectedSpeedup(double alpha, int k, double step_ms, double draft_ms, double verify_ms) {
  const double ids = alpha >= 1.0 ? k + 1 : (1.0 - std::pow(alpha, k + 1)) / (1.0 - alpha);
  return ids * step_ms / (k * draft_ms + verify_ms);
}

StatusOr<std::unique_ptr<Drafter>> Drafter::Create(const Model& draft, int64_t n_ctx, DType kv_type,
                                                   int64_t max_batch, int64_t n_vocab_valid) {
  ASSIGN_OR_RETURN(auto kv, draft.NewKvCache(n_ctx, kv_type, max_batch));
  auto ws = draft.NewWorkspace(kv->max_batch);
  return std::unique_ptr<Drafter>(new Drafter(draft, std::move(kv), std::move(ws), n_vocab_valid));
}

Drafter::Drafter(const Model& m, std::unique_ptr<KvCache> kv, std::unique_ptr<Workspace> ws, int64_t n_vocab_valid)
    : m_(m), kv_(std::move(kv)), ws_(std::move(ws)), logits_(static_cast<size_t>(m.config().n_vocab)),
      n_vocab_valid_(std::min(n_vocab_valid, m.config().n_vocab)) {}

void Drafter::Reset() {
  kv_->n_past = 0;
  history_.clear();
}

Status Drafter::Feed(std::span<const int32_t> ids, ThreadPool& pool) {
  const size_t B = static_cast<size_t>(ws_->max_rows);
  for (size_t i = 0; i < ids.size(); i += B) {
    const size_t n = std::min(ids.size() - i, B);
    const bool last = i + n == ids.size();
    RETURN_IF_ERROR(m_.Forward(Batch{.tokens = ids.subspan(i, n)}, *kv_, *ws_,
                               last ? LogitsMode::kLast : LogitsMode::kNone, logits_.data(), pool));
    history_.insert(history_.end(), ids.begin() + i, ids.begin() + i + n);
  }
  return OkStatus();
}

int32_t Drafter::Best() const {
  return ArgMax(std::span<const float>(logits_.data(), static_cast<size_t>(n_vocab_valid_)));
}

Status Drafter::Propose(std::span<const int32_t> history, int32_t pending, int k, ThreadPool& pool,
                        std::vector<int32_t>* out) {
  out->clear();
  if (k <= 0) return OkStatus();
  // Keep the longest common prefix with the target's history, but always re-evaluate at
  // least one id so that logits_ belongs to the position after `pending`.
  std::vector<int32_t> want(history.begin(), history.end());
  want.push_back(pending);
  size_t common = 0;
  while (common < history_.size() && common < want.size() && history_[common] == want[common]) ++common;
  if (common == want.size()) --common;
  if (!kv_->Rewind(static_cast<int64_t>(common))) common = 0;  // the drafter's rings moved on
  history_.resize(common);
  RETURN_IF_ERROR(Feed(std::span<const int32_t>(want).subspan(common), pool));
  out->push_back(Best());
  for (int i = 1; i < k; ++i) {
    RETURN_IF_ERROR(Feed(std::span<const int32_t>(&out->back(), 1), pool));
    out->push_back(Best());
  }
  return OkStatus();
}

}  // namespace gemrun
