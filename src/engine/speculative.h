// Speculative decoding with a draft model of the same vocabulary: the drafter proposes k
// tokens greedily, the target checks them all in one batched forward pass, and the caches
// are rolled back past the first token the target did not choose. The output is exactly
// what plain decoding gives (see Session::DecodeSpeculative in engine.cc for the loop).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "base/status.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace gemrun {

// Ok when the drafter's tokenizer is the target's (same size, same piece at every id);
// otherwise InvalidArgument naming the first difference and `draft_path`.
Status CheckSameVocabulary(const Tokenizer& target, const Tokenizer& draft, const std::string& draft_path);

// Adaptive draft length from the running per-token acceptance rate a (an exponential
// average over verification passes). With independent acceptances the accepted run before
// the first miss is geometric with mean a / (1 - a); drafting one past that mean wastes
// little when a is low and keeps the pass full when it is high. Starts optimistic (k = max).
class DraftLength {
 public:
  explicit DraftLength(int max) : max_(max < 1 ? 1 : max) {}
  int Next() const;
  // One verification pass: `drafted` proposals, of which the first `accepted` were taken.
  void Update(int drafted, int accepted);
  double rate() const { return rate_; }

 private:
  int max_;
  double rate_ = 1.0;
};

// Expected decode speed-up of drafting k ids per round at per-id acceptance rate alpha
// (independent acceptances): ids per round (1 - alpha^(k+1)) / (1 - alpha) (the accepted run
// plus the target's own id) times one target step, over k drafter steps plus one target pass
// over k + 1 rows. For projections from measured costs (gemrun bench --verify-k).
double ProjectedSpeedup(double alpha, int k, double step_ms, double draft_ms, double verify_ms);

// A draft model's own KV cache and the ids it holds. Its cache follows the target's history
// lazily: before each proposal it rewinds to the common prefix and evaluates what it lacks.
class Drafter {
 public:
  // `max_batch` bounds its prefill batches and must exceed the longest draft (so a rollback
  // by a whole draft stays inside its sliding-window rings; see KvCache::max_rewind).
  static StatusOr<std::unique_ptr<Drafter>> Create(const Model& draft, int64_t n_ctx, DType kv_type,
                                                   int64_t max_batch, int64_t n_vocab_valid);

  // Greedy proposals: the k ids the drafter expects after `history` + `pending`.
  // history + pending + k must fit its context. Writes k ids into `out`.
  Status Propose(std::span<const int32_t> history, int32_t pending, int k, ThreadPool& pool,
                 std::vector<int32_t>* out);
  void Reset();
  const KvCache& kv() const { return *kv_; }

 private:
  Drafter(const Model& m, std::unique_ptr<KvCache> kv, std::unique_ptr<Workspace> ws, int64_t n_vocab_valid);
  // Evaluates ids after what is cached, leaving the last position's logits in logits_.
  Status Feed(std::span<const int32_t> ids, ThreadPool& pool);
  int32_t Best() const;

  const Model& m_;
  std::unique_ptr<KvCache> kv_;
  std::unique_ptr<Workspace> ws_;
  std::vector<int32_t> history_;  // ids in kv_
  std::vector<float> logits_;     // [n_vocab] of the drafter
  int64_t n_vocab_valid_;         // proposals stay below the shared tokenizer's size
};

// Counters of one generation (also summed over a session by callers that want totals).
struct SpecStats {
  int64_t drafted = 0;        // ids the drafter proposed
  int64_t accepted = 0;       // proposals the target confirmed
  int64_t target_passes = 0;  // batched verification passes of the target
  double draft_ms = 0;        // time in the drafter
  double AcceptanceRate() const { return drafted > 0 ? static_cast<double>(accepted) / drafted : 0; }
};

}  // namespace gemrun
