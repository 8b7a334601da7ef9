// Continuous-batching scheduler implementation (see batcher.h).
#include "engine/batcher.h"

#include <algorithm>

namespace gemrun {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }
double Ms(Clock::time_point a, Clock::time_point b) { return Seconds(a, b) * 1000.0; }

// Positions of `prompt` a slot holding `history` can keep: the common prefix, which ends at the
// first image position (image rows are never compared).
size_t CommonPrefix(const std::vector<int32_t>& history, const std::vector<int32_t>& prompt) {
  size_t c = 0;
  while (c < history.size() && c < prompt.size() && history[c] == prompt[c] && prompt[c] != Session::kImageRow) ++c;
  return c;
}

}  // namespace

void BatchJob::SetPrompt(std::vector<PromptSegment> segments) {
  prompt.clear();
  images.clear();
  for (PromptSegment& seg : segments) {
    if (seg.is_image()) {
      const int64_t pos = static_cast<int64_t>(prompt.size());
      prompt.insert(prompt.end(), static_cast<size_t>(seg.n_rows), Session::kImageRow);
      images.push_back(Image{.pos = pos, .rows = std::move(seg)});
    } else {
      prompt.insert(prompt.end(), seg.ids.begin(), seg.ids.end());
    }
  }
}

bool BatchJob::Wait(std::chrono::milliseconds timeout, std::vector<TokenOut>* out) {
  std::unique_lock<std::mutex> l(mu_);
  cv_.wait_for(l, timeout, [&] { return finished_ || !pending_.empty(); });
  while (!pending_.empty()) {
    out->push_back(std::move(pending_.front()));
    pending_.pop_front();
  }
  return finished_;
}

void BatchJob::Push(TokenOut t) {
  {
    std::lock_guard<std::mutex> l(mu_);
    pending_.push_back(std::move(t));
  }
  cv_.notify_all();
}

void BatchJob::Complete(CompletionResult r, std::optional<BatchError> err) {
  {
    std::lock_guard<std::mutex> l(mu_);
    result_ = std::move(r);
    error_ = std::move(err);
    finished_ = true;
  }
  cv_.notify_all();
}

const char* BatchErrorKindName(BatchErrorKind k) {
  switch (k) {
    case BatchErrorKind::kTooLarge: return "too_large";
    case BatchErrorKind::kBusy: return "busy";
    case BatchErrorKind::kCancelled: return "cancelled";
    case BatchErrorKind::kTimeout: return "timeout";
    case BatchErrorKind::kStopping: return "stopping";
    case BatchErrorKind::kInternal: return "internal";
  }
  return "internal";
}

namespace {
BatchObserver* NoObserver() {
  static BatchObserver none;  // every method is a no-op
  return &none;
}
}  // namespace

Batcher::Batcher(const Engine& engine, const BatcherOptions& opts, BatchObserver* observer)
    : engine_(engine), opts_(opts), metrics_(observer ? observer : NoObserver()) {}

Batcher::~Batcher() { Stop(); }

Status Batcher::Init() {
  const Model& m = engine_.model();
  const int64_t n_vocab = m.config().n_vocab;
  if (opts_.n_slots < 1) return InvalidArgumentError("--parallel must be at least 1");
  if (opts_.n_ctx < 8) return InvalidArgumentError("--ctx-size must be at least 8");
  opts_.max_batch = std::clamp<int64_t>(opts_.max_batch, 1, opts_.n_ctx);
  // An image is one batch: a sequence's batch (and the KV window rings) must hold the largest.
  max_rows_ = std::clamp<int64_t>(std::max(opts_.max_batch, opts_.max_image_rows), 1, opts_.n_ctx);
  slots_.resize(static_cast<size_t>(opts_.n_slots));
  for (Slot& s : slots_) {
    ASSIGN_OR_RETURN(s.kv, m.NewKvCache(opts_.n_ctx, opts_.kv_type, max_rows_));
    kv_bytes_ += s.kv->Bytes();
  }
  ws_ = m.NewWorkspace(max_rows_ + opts_.n_slots);
  ws_->flash_attn = opts_.flash_attn;
  logits_.assign(static_cast<size_t>(opts_.n_slots * n_vocab), 0.0f);
  // Warm-up: one token through every layer touches the weights and the workspace.
  const int32_t bos = engine_.tokenizer().vocab().bos() >= 0 ? engine_.tokenizer().vocab().bos() : 0;
  RETURN_IF_ERROR(m.Forward(Batch{.tokens = std::span<const int32_t>(&bos, 1)}, *slots_[0].kv, *ws_,
                            LogitsMode::kLast, logits_.data(), engine_.pool()));
  slots_[0].kv->n_past = 0;
  PublishGauges();
  return OkStatus();
}

void Batcher::Start() { thread_ = std::thread([this] { Loop(); }); }

void Batcher::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (stop_ && !thread_.joinable()) return;
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::optional<BatchError> Batcher::CheckImages(const BatchJob& job) const {
  const int64_t n_embd = engine_.model().config().n_embd, n_vocab = engine_.model().config().n_vocab;
  const int64_t n = static_cast<int64_t>(job.prompt.size());
  int64_t next = 0;  // first position not yet covered
  for (const BatchJob::Image& img : job.images) {
    const int64_t rows = img.rows.n_rows;
    if (rows > max_rows_)
      return BatchError{BatchErrorKind::kTooLarge, "an image of " + std::to_string(rows) +
                                                       " tokens does not fit the batch of " + std::to_string(max_rows_) +
                                                       " rows; use a smaller image or raise --batch",
                        "image_too_large"};
    if (!img.rows.is_image() || img.pos < next || img.pos + rows > n ||
        static_cast<int64_t>(img.rows.embd.size()) != rows * n_embd)
      return BatchError{BatchErrorKind::kInternal, "malformed image segment in the prompt", ""};
    for (int64_t i = next; i < img.pos + rows; ++i)
      if ((i < img.pos) == (job.prompt[static_cast<size_t>(i)] == Session::kImageRow))
        return BatchError{BatchErrorKind::kInternal, "malformed image segment in the prompt", ""};
    next = img.pos + rows;
  }
  for (int64_t i = next; i < n; ++i) {
    const int32_t id = job.prompt[static_cast<size_t>(i)];
    if (id < 0 || id >= n_vocab) return BatchError{BatchErrorKind::kInternal, "prompt token id outside the vocabulary", ""};
  }
  return std::nullopt;
}

std::optional<BatchError> Batcher::Submit(const std::shared_ptr<BatchJob>& job) {
  job->t_submit_ = Clock::now();
  if (auto e = CheckImages(*job)) return e;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (stop_) return BatchError{BatchErrorKind::kStopping, "shutting down", ""};
    if (in_flight_ >= opts_.n_slots + opts_.max_queue)
      return BatchError{BatchErrorKind::kBusy, "busy: " + std::to_string(opts_.n_slots) + " requests running and " +
                                                   std::to_string(queue_.size()) + " queued (--max-queue " +
                                                   std::to_string(opts_.max_queue) + "); retry later",
                        "server_busy"};
    ++in_flight_;
    queue_.push_back(job);
  }
  cv_.notify_all();
  return std::nullopt;
}

int Batcher::PickSlot(const std::vector<int32_t>& prompt) const {
  int best = -1;
  size_t best_common = 0;
  for (size_t i = 0; i < slots_.size(); ++i) {
    const Slot& s = slots_[i];
    if (s.job) continue;
    const size_t c = CommonPrefix(s.history, prompt);
    if (best < 0 || c > best_common || (c == best_common && s.last_used < slots_[best].last_used)) {
      best = static_cast<int>(i);
      best_common = c;
    }
  }
  return best;
}

void Batcher::Admit(std::shared_ptr<BatchJob> job, Slot& slot) {
  size_t common = CommonPrefix(slot.history, job->prompt);
  if (common == job->prompt.size() && common > 0) --common;  // re-evaluate the last prompt token for its logits
  if (!slot.kv->Rewind(static_cast<int64_t>(common))) common = 0;  // the window rings moved on
  slot.history.resize(common);
  slot.last_used = ++tick_;
  BatchJob* raw = job.get();
  job->gen_ = std::make_unique<Generation>(engine_.tokenizer(), job->params, engine_.model().config().n_vocab,
                                           [this, raw](const TokenEvent& ev) {
                                             OnToken(*raw, ev);
                                             return !raw->cancelled();
                                           });
  std::vector<int32_t> text_ids;  // the penalties see the prompt's tokens, not image rows
  text_ids.reserve(job->prompt.size());
  for (int32_t id : job->prompt)
    if (id != Session::kImageRow) text_ids.push_back(id);
  job->gen_->AcceptPrompt(text_ids);
  job->n_eval_ = job->cached_ = static_cast<int64_t>(common);
  job->next_image_ = 0;
  job->state_ = BatchJob::State::kPrefill;
  job->t_admit_ = Clock::now();
  slot.job = std::move(job);
  prefill_order_.push_back(&slot);
}

void Batcher::OnToken(BatchJob& job, const TokenEvent& ev) {
  const Tokenizer& tok = engine_.tokenizer();
  const bool eog = !job.params.ignore_eog && tok.vocab().IsEog(ev.id);
  if (eog && ev.text.empty()) return;
  TokenOut t;
  t.id = ev.id;
  t.text = std::string(ev.text);
  t.eog = eog;
  t.logprob = ev.logprob;  // 0 unless params.logprobs (the gateway's --min-confidence reads it without pieces)
  if (job.want_pieces && !eog) {
    t.piece = std::string(tok.Piece(ev.id));
    for (const auto& [id, lp] : ev.top) t.top.emplace_back(std::string(tok.Piece(id)), lp);
  }
  if (!eog) {
    const Clock::time_point now = Clock::now();
    if (job.n_tokens_++ == 0) {
      job.t_first_ = now;
      metrics_->ObserveTimeToFirstToken(Seconds(job.t_submit_, now));
    } else {
      metrics_->ObserveTokenLatency(Seconds(job.t_last_, now));
    }
    job.t_last_ = now;
  }
  job.Push(std::move(t));
}

void Batcher::Finish(Slot& slot, std::optional<BatchError> err) {
  std::shared_ptr<BatchJob> job = std::move(slot.job);
  slot.job.reset();
  std::erase(prefill_order_, &slot);
  const Clock::time_point now = Clock::now();
  CompletionResult r;
  if (job->gen_) {
    r.text = job->gen_->text();
    r.finish = job->gen_->finish();
    r.constraint_error = job->gen_->constraint_error();
    r.usage.completion_tokens = static_cast<int64_t>(job->gen_->tokens().size());
  }
  r.usage.prompt_tokens = static_cast<int64_t>(job->prompt.size());
  r.usage.cached_tokens = job->cached_;
  r.timings.queue_ms = Ms(job->t_submit_, job->t_admit_);
  const Clock::time_point first = job->n_tokens_ > 0 ? job->t_first_ : now;
  r.timings.prompt_ms = Ms(job->t_admit_, first);
  r.timings.gen_ms = job->n_tokens_ > 0 ? Ms(job->t_first_, job->t_last_) : 0;
  metrics_->AddTokens(r.usage.prompt_tokens, r.usage.cached_tokens, r.usage.completion_tokens);
  metrics_->ObserveRequestDuration(Seconds(job->t_submit_, now));
  job->gen_.reset();
  job->Complete(std::move(r), std::move(err));
  std::lock_guard<std::mutex> l(mu_);
  --in_flight_;
}

void Batcher::FinishQueued(const std::shared_ptr<BatchJob>& job, BatchError err) {
  CompletionResult r;
  r.finish = FinishReason::kCancelled;
  r.usage.prompt_tokens = static_cast<int64_t>(job->prompt.size());
  r.timings.queue_ms = Ms(job->t_submit_, Clock::now());
  job->Complete(std::move(r), std::move(err));
}

namespace {

BatchError Timeout() {
  return BatchError{BatchErrorKind::kTimeout, "the request ran past its deadline (--timeout)", "timeout"};
}

}  // namespace

void Batcher::Reap() {
  const Clock::time_point now = Clock::now();
  std::vector<std::pair<std::shared_ptr<BatchJob>, bool>> gone;  // (job, timed out)
  {
    std::lock_guard<std::mutex> l(mu_);
    for (auto it = queue_.begin(); it != queue_.end();) {
      if ((*it)->cancelled() || now >= (*it)->deadline) {
        gone.emplace_back(*it, !(*it)->cancelled());
        it = queue_.erase(it);
        --in_flight_;
      } else {
        ++it;
      }
    }
  }
  for (auto& [job, timed_out] : gone)
    FinishQueued(job, timed_out ? Timeout() : BatchError{BatchErrorKind::kCancelled, "client went away", ""});
  for (Slot& s : slots_) {
    if (!s.job) continue;
    if (s.job->cancelled()) {
      s.job->gen_->Cancel();
      Finish(s, std::nullopt);
    } else if (now >= s.job->deadline) {
      s.job->gen_->Cancel();
      Finish(s, Timeout());
    }
  }
}

void Batcher::Loop() {
  for (;;) {
    {
      std::unique_lock<std::mutex> l(mu_);
      const bool busy = std::any_of(slots_.begin(), slots_.end(), [](const Slot& s) { return s.job != nullptr; });
      if (!busy) cv_.wait_for(l, std::chrono::milliseconds(100), [&] { return stop_ || !queue_.empty(); });
      if (stop_) break;
    }
    Reap();
    for (;;) {
      std::shared_ptr<BatchJob> job;
      {
        std::lock_guard<std::mutex> l(mu_);
        if (queue_.empty()) break;
        job = queue_.front();
        const int i = PickSlot(job->prompt);
        if (i < 0) break;
        queue_.pop_front();
        Admit(std::move(job), slots_[static_cast<size_t>(i)]);
      }
    }
    if (std::any_of(slots_.begin(), slots_.end(), [](const Slot& s) { return s.job != nullptr; })) Step();
    PublishGauges();
  }
  // Shutting down: everything still queued or running ends with 503.
  const BatchError down{BatchErrorKind::kStopping, "shutting down", ""};
  for (Slot& s : slots_)
    if (s.job) Finish(s, down);
  std::deque<std::shared_ptr<BatchJob>> rest;
  {
    std::lock_guard<std::mutex> l(mu_);
    rest.swap(queue_);
    in_flight_ -= static_cast<int64_t>(rest.size());
  }
  for (auto& j : rest) FinishQueued(j, down);
}

void Batcher::Step() {
  struct Row {
    Slot* slot;
    int64_t n;     // rows this sequence adds
    bool prefill;  // prompt chunk (else one decode token)
    bool logits;
  };
  std::vector<SeqBatch> seqs;
  std::vector<Row> rows;
  seqs.reserve(slots_.size());
  for (Slot& s : slots_) {
    if (!s.job || s.job->state_ != BatchJob::State::kDecode) continue;
    seqs.push_back({Batch{.tokens = std::span<const int32_t>(&s.feed, 1)}, s.kv.get(), LogitsMode::kLast});
    rows.push_back({&s, 1, false, true});
  }
  int64_t budget = opts_.max_batch;
  for (Slot* s : prefill_order_) {
    if (budget <= 0) break;
    const int64_t n = AddPrefill(*s, budget, budget == opts_.max_batch, &seqs);
    if (n == 0) continue;
    rows.push_back({s, n, true, seqs.back().mode == LogitsMode::kLast});
    budget -= n;
  }
  if (seqs.empty()) return;
  const Status st = engine_.model().Forward(seqs, *ws_, logits_.data(), engine_.pool());
  if (!st.ok()) {
    const BatchError err{BatchErrorKind::kInternal, "model evaluation failed: " + st.message(), ""};
    for (const Row& r : rows) {
      r.slot->history.clear();
      r.slot->kv->n_past = 0;
      if (r.slot->job->gen_) r.slot->job->gen_->Cancel();
      Finish(*r.slot, err);
    }
    return;
  }
  const int64_t n_vocab = engine_.model().config().n_vocab;
  std::vector<Slot*> sample;  // sequences with a logits row, in row order
  for (const Row& r : rows) {
    Slot& s = *r.slot;
    BatchJob& j = *s.job;
    if (r.prefill) {
      // Image positions enter the history as kImageRow, as the prompt holds them.
      s.history.insert(s.history.end(), j.prompt.begin() + j.n_eval_, j.prompt.begin() + j.n_eval_ + r.n);
      if (j.next_image_ < j.images.size() && j.images[j.next_image_].pos == j.n_eval_)
        j.images[j.next_image_++].rows = PromptSegment{};  // evaluated: the rows are no longer needed
      j.n_eval_ += r.n;
      if (!r.logits) continue;
      j.state_ = BatchJob::State::kDecode;
      std::erase(prefill_order_, &s);
    } else {
      s.history.push_back(s.feed);
    }
    sample.push_back(&s);
  }
  // Sampling (a softmax over the vocabulary per sequence) runs on the pool: each Generation and
  // Job is touched by one worker only; BatchJob::Push and the observer lock internally.
  std::vector<char> more(sample.size());
  engine_.pool().ParallelFor(static_cast<int64_t>(sample.size()), [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) {
      Slot& s = *sample[static_cast<size_t>(i)];
      more[static_cast<size_t>(i)] = s.job->gen_->Step(logits_.data() + i * n_vocab, s.kv->n_past >= s.kv->n_ctx);
    }
  });
  for (size_t i = 0; i < sample.size(); ++i) {
    Slot& s = *sample[i];
    if (more[i]) s.feed = s.job->gen_->next_token();
    else Finish(s, std::nullopt);
  }
}

int64_t Batcher::AddPrefill(Slot& s, int64_t budget, bool first, std::vector<SeqBatch>* seqs) {
  BatchJob& j = *s.job;
  const int64_t total = static_cast<int64_t>(j.prompt.size());
  const BatchJob::Image* img = j.next_image_ < j.images.size() ? &j.images[j.next_image_] : nullptr;
  int64_t n = 0;
  Batch b;
  if (img && img->pos == j.n_eval_) {
    // A whole image per batch (its rows attend to each other); one larger than what is left of
    // the budget waits for a step it opens, which the admission order guarantees comes.
    n = img->rows.n_rows;
    if (n > budget && !first) return 0;
    b = Batch{.tokens = {}, .embd = img->rows.embd.data(), .n_embd_rows = n, .non_causal = img->rows.non_causal,
              .global_causal = img->rows.global_causal};
  } else {
    n = std::min((img ? img->pos : total) - j.n_eval_, budget);
    b = Batch{.tokens = std::span<const int32_t>(j.prompt.data() + j.n_eval_, static_cast<size_t>(n))};
  }
  const bool last = j.n_eval_ + n == total;
  seqs->push_back({b, s.kv.get(), last ? LogitsMode::kLast : LogitsMode::kNone});
  return n;
}

void Batcher::PublishGauges() {
  BatchGauges g;
  for (const Slot& s : slots_) {
    g.slots_busy += s.job ? 1 : 0;
    g.kv_used_tokens += s.kv->n_past;
    g.kv_total_tokens += s.kv->n_ctx;
  }
  g.slots_total = static_cast<int64_t>(slots_.size());
  g.kv_bytes = kv_bytes_;
  {
    std::lock_guard<std::mutex> l(mu_);
    g.queue_depth = static_cast<int64_t>(queue_.size());
  }
  metrics_->SetGauges(g);
}

}  // namespace gemrun
