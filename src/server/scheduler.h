// Continuous batching. One scheduler thread owns the model: N slots, each with its own KV cache
// and token history. Every step puts each decoding slot's next token and chunks of prefilling
// slots' prompts (at most max_batch prompt tokens per step) into ONE Model::Forward call, then
// samples every sequence that produced logits with its own Generation. A new request takes the
// free slot whose cached history shares the longest prefix with its prompt, so multi-turn chats
// only evaluate the new turn. HTTP threads talk to it through Job (a small mailbox).
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

#include "engine/engine.h"
#include "server/api.h"
#include "server/metrics.h"
#include "server/result.h"

namespace gemrun::server {

struct SchedulerOptions {
  int n_slots = 4;           // sequences decoded together
  int64_t n_ctx = 4096;      // positions per slot (prompt + output)
  int64_t max_batch = 256;   // prompt tokens per step over all prefilling slots
  int64_t max_queue = 64;    // requests waiting for a slot before 429
  DType kv_type = DType::kF16;
  bool flash_attn = false;     // the fused attention kernel
  int64_t max_image_rows = 0;  // largest image a job may hold (rows in one batch); 0: no images
};

using Clock = std::chrono::steady_clock;

// One generation request. The HTTP thread fills the inputs, Submit()s it, then Wait()s for
// tokens; Cancel() (client gone) ends it at the next step. Thread-safe as documented per member.
class Job {
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
  Clock::time_point deadline = Clock::time_point::max();

  // Fills prompt and images from a segment list (text ids and image rows, in order).
  void SetPrompt(std::vector<PromptSegment> segments);

  // Any thread.
  void Cancel() { cancel_.store(true); }
  bool cancelled() const { return cancel_.load(); }
  // Waits up to `timeout` for tokens or the end; appends new tokens to *out. Returns true once
  // the job has finished and every token has been handed out (then result()/error() are final).
  bool Wait(std::chrono::milliseconds timeout, std::vector<TokenOut>* out);
  const CompletionResult& result() const { return result_; }
  const std::optional<ApiError>& error() const { return error_; }

 private:
  friend class Scheduler;
  void Push(TokenOut t);
  void Complete(CompletionResult r, std::optional<ApiError> err);

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<TokenOut> pending_;
  bool finished_ = false;
  CompletionResult result_;
  std::optional<ApiError> error_;
  std::atomic<bool> cancel_{false};

  // Scheduler-thread state.
  enum class State { kQueued, kPrefill, kDecode } state_ = State::kQueued;
  std::unique_ptr<Generation> gen_;
  int64_t n_eval_ = 0;   // prompt positions in the slot's cache
  size_t next_image_ = 0;  // first entry of `images` not yet evaluated
  int64_t cached_ = 0;   // of which reused from an earlier request
  int64_t n_tokens_ = 0;
  Clock::time_point t_submit_, t_admit_, t_first_, t_last_;
};

class Scheduler {
 public:
  Scheduler(const Engine& engine, const SchedulerOptions& opts, Metrics* metrics);
  ~Scheduler();

  // Allocates every slot's cache and the workspace, and runs one warm-up pass.
  Status Init();
  void Start();
  // Ends every queued and running job (503) and joins the thread.
  void Stop();

  // Queues a job: 429 when the queue is full, 503 when stopping, 400 for an image larger than
  // one batch, 500 for a malformed prompt (image rows of the wrong size, ids outside the
  // vocabulary). Any thread.
  std::optional<ApiError> Submit(const std::shared_ptr<Job>& job);

  const SchedulerOptions& options() const { return opts_; }
  uint64_t kv_bytes() const { return kv_bytes_; }

 private:
  struct Slot {
    std::unique_ptr<KvCache> kv;
    std::vector<int32_t> history;  // ids in kv, in order (history.size() == kv->n_past)
    std::shared_ptr<Job> job;
    int32_t feed = 0;              // decode: token to evaluate next
    uint64_t last_used = 0;
  };

  void Loop();
  void Admit(std::shared_ptr<Job> job, Slot& slot);
  int PickSlot(const std::vector<int32_t>& prompt) const;
  std::optional<ApiError> CheckImages(const Job& job) const;
  // Adds slot's next prompt chunk to the step (text up to the next image, or one whole image);
  // returns the rows it takes, 0 when it must wait.
  int64_t AddPrefill(Slot& s, int64_t budget, bool first, std::vector<SeqBatch>* seqs);
  void Reap();
  void Step();
  void OnToken(Job& job, const TokenEvent& ev);
  void Finish(Slot& slot, std::optional<ApiError> err);
  void FinishQueued(const std::shared_ptr<Job>& job, ApiError err);
  void PublishGauges();

  const Engine& engine_;
  SchedulerOptions opts_;
  Metrics* metrics_;
  std::vector<Slot> slots_;
  std::unique_ptr<Workspace> ws_;
  std::vector<float> logits_;  // [n_slots][n_vocab]
  int64_t max_rows_ = 0;       // rows of one sequence's batch: max(max_batch, max_image_rows)
  uint64_t kv_bytes_ = 0;
  uint64_t tick_ = 0;
  std::vector<Slot*> prefill_order_;  // admission order of prefilling slots

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> queue_;
  int64_t in_flight_ = 0;  // queued + running (guarded by mu_)
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace gemrun::server
