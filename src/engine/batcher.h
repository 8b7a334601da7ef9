// Continuous batching, for every front end that runs many requests at once (serve --parallel,
// batch). One scheduler thread owns the model: N slots, each with its own KV cache
// and token history. Every step puts each decoding slot's next token and chunks of prefilling
// slots' prompts (at most max_batch prompt tokens per step) into ONE Model::Forward call, then
// samples every sequence that produced logits with its own Generation. A new request takes the
// free slot whose cached history shares the longest prefix with its prompt, so multi-turn chats
// only evaluate the new turn. Callers (HTTP threads, the batch driver) talk to it through
// BatchJob (a small mailbox).
// Images: a prompt may hold image segments (embedding rows encoded by the HTTP thread before
// Submit). An image's rows go into one Forward call as one batch, never split across steps, and
// prefix reuse stops at the first image position (an image never matches a cached one).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <string>
#include <utility>

#include "engine/engine.h"
#include "engine/generation.h"

namespace gemrun {

// One sampled token as the caller sees it.
struct TokenOut {
  int32_t id = 0;
  std::string text;   // newly complete output text (may be empty; stop strings never appear)
  std::string piece;  // the token's own bytes (for logprobs; filled only when they are asked for)
  float logprob = 0;
  std::vector<std::pair<std::string, float>> top;  // top alternatives: piece, log-probability
  bool eog = false;  // the end-of-generation token (carries only flushed text; no logprobs entry)
};

struct Usage {
  int64_t prompt_tokens = 0;      // whole prompt, cached part included
  int64_t cached_tokens = 0;      // prompt tokens reused from a slot's KV cache
  int64_t completion_tokens = 0;  // generated tokens (end-of-generation token not counted)
};

struct ResultTimings {
  double queue_ms = 0;   // submit -> slot assigned
  double prompt_ms = 0;  // slot assigned -> first token
  double gen_ms = 0;     // first token -> last token
  double load_ms = 0;    // model load (reported by Ollama endpoints)
};

// What a finished generation hands back: plain data, no model access, so the response builders
// of every front end are pure functions.
struct CompletionResult {
  std::string text;
  std::vector<TokenOut> tokens;  // one per generated token (for logprobs)
  FinishReason finish = FinishReason::kNone;
  Usage usage;
  ResultTimings timings;
  std::string constraint_error;  // non-empty: a constrained answer ended incomplete (why)
};

// Why a job did not run to its end. The kinds are the batcher's, not a protocol's: the server
// maps them to HTTP statuses (server/scheduler.h), `batch` to per-line error types.
enum class BatchErrorKind {
  kTooLarge,   // an image larger than one batch (the request's fault)
  kBusy,       // the queue is full
  kCancelled,  // the caller cancelled it while it was queued
  kTimeout,    // ran past its deadline
  kStopping,   // the batcher is shutting down
  kInternal,   // a malformed prompt or a failed model evaluation
};

struct BatchError {
  BatchErrorKind kind = BatchErrorKind::kInternal;
  std::string message;
  std::string code;  // machine-readable reason, e.g. "image_too_large" ("" if none)
};

// A stable name per kind ("too_large", "busy", ...), for logs and batch output.
const char* BatchErrorKindName(BatchErrorKind k);

// Counters and gauges as the batch runs, for whoever watches (the server's Prometheus metrics).
// Called from the scheduler thread and the thread pool's workers: implementations lock.
struct BatchGauges {
  int64_t queue_depth = 0;      // requests waiting for a slot
  int64_t slots_busy = 0;
  int64_t slots_total = 0;
  int64_t kv_used_tokens = 0;   // positions held in all slots' caches
  int64_t kv_total_tokens = 0;  // slots * ctx
  uint64_t kv_bytes = 0;        // memory of all KV caches
};
class BatchObserver {
 public:
  virtual ~BatchObserver() = default;
  virtual void AddTokens(int64_t /*prompt*/, int64_t /*cached*/, int64_t /*generated*/) {}
  virtual void ObserveTimeToFirstToken(double /*seconds*/) {}
  virtual void ObserveTokenLatency(double /*seconds*/) {}  // gap between consecutive tokens of one request
  virtual void ObserveRequestDuration(double /*seconds*/) {}
  virtual void SetGauges(const BatchGauges& /*g*/) {}
};

struct BatcherOptions {
  int n_slots = 4;           // sequences decoded together
  int64_t n_ctx = 4096;      // positions per slot (prompt + output)
  int64_t max_batch = 256;   // prompt tokens per step over all prefilling slots
  int64_t max_queue = 64;    // requests waiting for a slot before 429
  DType kv_type = DType::kF16;
  bool flash_attn = false;     // the fused attention kernel
  int64_t max_image_rows = 0;  // largest image a job may hold (rows in one batch); 0: no images
};

// One generation request. The caller fills the inputs, Submit()s it, then Wait()s for tokens;
// Cancel() (client gone) ends it at the next step. Thread-safe as documented per member.
class BatchJob {
 public:
  // An image in the prompt: its rows replace prompt[pos, pos + rows.n_rows).
  struct Image {
    int64_t pos = 0;
    PromptSegment rows;  // is_image(); the scheduler frees the rows once they are evaluated
  };

  // Inputs: set before Submit, then owned by the scheduler.
  std::vector<int32_t> prompt;  // token ids, BOS included; image positions hold Session::kImageRow
  std::vector<Image> images;    // ascending pos, not overlapping
  GenerateParams params;
  bool want_pieces = false;     // fill TokenOut::piece / top (for logprobs)
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();

  // Fills prompt and images from a segment list (text ids and image rows, in order).
  void SetPrompt(std::vector<PromptSegment> segments);

  // Any thread.
  void Cancel() { cancel_.store(true); }
  bool cancelled() const { return cancel_.load(); }
  // Waits up to `timeout` for tokens or the end; appends new tokens to *out. Returns true once
  // the job has finished and every token has been handed out (then result()/error() are final).
  bool Wait(std::chrono::milliseconds timeout, std::vector<TokenOut>* out);
  const CompletionResult& result() const { return result_; }
  const std::optional<BatchError>& error() const { return error_; }

 private:
  friend class Batcher;
  void Push(TokenOut t);
  void Complete(CompletionResult r, std::optional<BatchError> err);

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<TokenOut> pending_;
  bool finished_ = false;
  CompletionResult result_;
  std::optional<BatchError> error_;
  std::atomic<bool> cancel_{false};

  // Scheduler-thread state.
  enum class State { kQueued, kPrefill, kDecode } state_ = State::kQueued;
  std::unique_ptr<Generation> gen_;
  int64_t n_eval_ = 0;   // prompt positions in the slot's cache
  size_t next_image_ = 0;  // first entry of `images` not yet evaluated
  int64_t cached_ = 0;   // of which reused from an earlier request
  int64_t n_tokens_ = 0;
  std::chrono::steady_clock::time_point t_submit_, t_admit_, t_first_, t_last_;
};

class Batcher {
 public:
  // `observer` may be null (nothing watches); it must outlive the batcher.
  Batcher(const Engine& engine, const BatcherOptions& opts, BatchObserver* observer);
  ~Batcher();

  // Allocates every slot's cache and the workspace, and runs one warm-up pass.
  Status Init();
  void Start();
  // Ends every queued and running job (kStopping) and joins the thread.
  void Stop();

  // Queues a job: kBusy when the queue is full, kStopping when stopping, kTooLarge for an image
  // larger than one batch, kInternal for a malformed prompt (image rows of the wrong size, ids
  // outside the vocabulary). Any thread.
  std::optional<BatchError> Submit(const std::shared_ptr<BatchJob>& job);

  const BatcherOptions& options() const { return opts_; }
  uint64_t kv_bytes() const { return kv_bytes_; }

 private:
  struct Slot {
    std::unique_ptr<KvCache> kv;
    std::vector<int32_t> history;  // ids in kv, in order (history.size() == kv->n_past)
    std::shared_ptr<BatchJob> job;
    int32_t feed = 0;              // decode: token to evaluate next
    uint64_t last_used = 0;
  };

  void Loop();
  void Admit(std::shared_ptr<BatchJob> job, Slot& slot);
  int PickSlot(const std::vector<int32_t>& prompt) const;
  std::optional<BatchError> CheckImages(const BatchJob& job) const;
  // Adds slot's next prompt chunk to the step (text up to the next image, or one whole image);
  // returns the rows it takes, 0 when it must wait.
  int64_t AddPrefill(Slot& s, int64_t budget, bool first, std::vector<SeqBatch>* seqs);
  void Reap();
  void Step();
  void OnToken(BatchJob& job, const TokenEvent& ev);
  void Finish(Slot& slot, std::optional<BatchError> err);
  void FinishQueued(const std::shared_ptr<BatchJob>& job, BatchError err);
  void PublishGauges();

  const Engine& engine_;
  BatcherOptions opts_;
  BatchObserver* metrics_;  // never null (a no-op observer stands in)
  std::vector<Slot> slots_;
  std::unique_ptr<Workspace> ws_;
  std::vector<float> logits_;  // [n_slots][n_vocab]
  int64_t max_rows_ = 0;       // rows of one sequence's batch: max(max_batch, max_image_rows)
  uint64_t kv_bytes_ = 0;
  uint64_t tick_ = 0;
  std::vector<Slot*> prefill_order_;  // admission order of prefilling slots

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<BatchJob>> queue_;
  int64_t in_flight_ = 0;  // queued + running (guarded by mu_)
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace gemrun
