// Engine: a loaded model + tokenizer + thread pool; Session: one conversation's KV cache with
// prefix reuse, chunked prefill and the decode loop, with timings.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "engine/generation.h"
#include "engine/speculative.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace gemrun {

struct EngineOptions {
  int threads = 0;           // 0: all cores
  int64_t n_ctx = 0;         // 0: the model's training context, capped at kDefaultMaxCtx
  int64_t max_batch = 512;   // prompt tokens per forward pass
  DType kv_type = DType::kF16;
  bool repack_lm_head = false;  // see LoadOptions (model/model.h)
  bool flash_attn = false;      // the fused attention kernel (Workspace::flash_attn)
  SuppressMode suppress = SuppressMode::kAuto;  // ids generation never samples (tokenizer.h)
  int n_seqs = 1;               // KV caches the caller will create (serve --parallel); Load checks
                                // that they and the activations fit in the available memory
  // Speculative decoding: a smaller model with the same tokenizer drafts up to draft_max ids
  // per target pass (engine/speculative.h). Empty: plain decoding.
  std::string draft_model;
  int draft_max = 8;
  static constexpr int64_t kDefaultMaxCtx = 8192;
};

// What a configuration needs beyond the mmapped weights, against what the machine offers.
struct MemoryNeed {
  int64_t n_ctx = 0;
  int n_seqs = 1;
  double kv_bytes = 0;          // all sequences
  double activation_bytes = 0;  // estimate
};
// ResourceExhausted naming -c / --parallel and the bytes when `need` exceeds `available`
// (nullopt: unknown, no check).
Status CheckMemory(const MemoryNeed& need, std::optional<uint64_t> available);

struct Timings {
  double load_ms = 0;
  double prompt_ms = 0;
  int64_t prompt_tokens = 0;  // tokens evaluated for the prompt (after prefix reuse)
  int64_t cached_tokens = 0;  // prompt tokens reused from the cache
  double gen_ms = 0;
  int64_t gen_tokens = 0;
  SpecStats spec;  // all zero without a drafter
  double PromptTokPerS() const { return prompt_ms > 0 ? prompt_tokens * 1000.0 / prompt_ms : 0; }
  double GenTokPerS() const { return gen_ms > 0 ? gen_tokens * 1000.0 / gen_ms : 0; }
};

struct GenerateResult {
  std::vector<int32_t> tokens;  // generated ids (EOG not included)
  std::string text;
  FinishReason finish = FinishReason::kNone;
  std::string constraint_error;  // non-empty: a constrained generation ended incomplete (why)
  Timings timings;
};

class Session;

// One piece of a prompt: text token ids, or an image's embedding rows ([n_rows][n_embd], fed
// as one batch at consecutive positions; `non_causal` lets the image's positions see each other,
// on sliding-window layers only when `global_causal`; see Batch).
struct PromptSegment {
  std::vector<int32_t> ids;
  std::vector<float> embd;
  int64_t n_rows = 0;
  bool non_causal = false;
  bool global_causal = false;

  bool is_image() const { return n_rows > 0; }
  int64_t size() const { return is_image() ? n_rows : static_cast<int64_t>(ids.size()); }
};

class Engine {
 public:
  static StatusOr<std::unique_ptr<Engine>> Load(const std::string& model_path, const EngineOptions& opts);

  const Model& model() const { return *model_; }
  // The drafter (--draft-model), or nullptr.
  const Model* draft_model() const { return draft_model_.get(); }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  ThreadPool& pool() const { return *pool_; }
  const EngineOptions& options() const { return opts_; }
  int64_t n_ctx() const { return opts_.n_ctx; }
  double load_ms() const { return load_ms_; }
  // Start-up banner: what the model is (DescribeGguf: "gemma4 12B (dense, 48 layers), Q4_0,
  // ...") and which tokens generation never samples.
  std::string Describe() const;

  StatusOr<std::unique_ptr<Session>> NewSession() const;

 private:
  // Loads opts_.draft_model and checks that it shares the tokenizer.
  Status LoadDrafter();
  std::unique_ptr<Model> model_;
  std::unique_ptr<Model> draft_model_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::unique_ptr<ThreadPool> pool_;
  EngineOptions opts_;
  double load_ms_ = 0;
};

class Session {
 public:
  Session(const Engine& e, std::unique_ptr<KvCache> kv, std::unique_ptr<Workspace> ws);

  // Brings the cache to exactly `prompt` (reusing the longest cached prefix), then samples
  // until a stop rule fires. A prompt that does not fit the context is an OutOfRange error
  // naming its length and the limit; nothing is truncated.
  StatusOr<GenerateResult> Generate(std::span<const int32_t> prompt, const GenerateParams& p,
                                    const TokenCallback& cb);
  // The same for a prompt with images. Prefix reuse stops at the first image.
  StatusOr<GenerateResult> Generate(std::span<const PromptSegment> prompt, const GenerateParams& p,
                                    const TokenCallback& cb);
  // Evaluates `ids` after what is cached (no sampling); leaves the last position's logits.
  Status Append(std::span<const int32_t> ids, Timings* t);
  void Reset();

  // Ids in the cache; image positions are recorded as kImageRow and never match a prompt.
  const std::vector<int32_t>& history() const { return history_; }
  static constexpr int32_t kImageRow = -1;
  int64_t n_ctx() const { return kv_->n_ctx; }
  int64_t n_past() const { return kv_->n_past; }
  const KvCache& kv() const { return *kv_; }
  // Speculative decoding for this session's next generations: `drafter` follows this
  // session's history (nullptr: plain decoding). draft_max ids at most per target pass.
  void SetDrafter(std::unique_ptr<Drafter> drafter, int draft_max);

 private:
  // Drops cached positions after the longest common prefix with `prompt` (keeping at least
  // one token to evaluate); returns how many were kept.
  int64_t ReusePrefix(std::span<const int32_t> prompt);
  // Evaluates an image's rows as one batch after what is cached.
  Status AppendImage(const PromptSegment& seg, Timings* t);
  // The decode loops, from the prompt's last logits until `gen` finishes.
  Status DecodePlain(Generation& gen);
  Status DecodeSpeculative(Generation& gen, SpecStats* stats);
  // One draft-and-verify round after `gen` sampled a token; false when gen finished.
  StatusOr<bool> SpeculativeRound(Generation& gen, int k, SpecStats* stats);

  const Engine& e_;
  std::unique_ptr<KvCache> kv_;
  std::unique_ptr<Workspace> ws_;
  std::vector<int32_t> history_;
  std::vector<float> logits_;  // [n_vocab] last position
  std::unique_ptr<Drafter> drafter_;
  DraftLength draft_len_{1};
  int draft_max_ = 0;
  std::vector<int32_t> draft_;         // [k] proposals of the current round
  std::vector<int32_t> verify_ids_;    // [k + 1] pending id + proposals
  std::vector<float> verify_logits_;   // [draft_max + 1][n_vocab] target logits of a round
};

}  // namespace gemrun
