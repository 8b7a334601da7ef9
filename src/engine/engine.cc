// Engine and Session implementation.
#include "engine/engine.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "base/sys_info.h"

#include "model/describe.h"

namespace gemrun {
namespace {

using Clock = std::chrono::steady_clock;
double Ms(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double, std::milli>(b - a).count(); }

// GEMRUN_PREFAULT=1: sessions write their whole KV cache and the workspace's row buffers at
// creation, so the memory is committed up front (an out-of-memory shows at start, not when the
// context fills) and peak RSS is the full-context footprint `gemrun fit` plans (docs/fit.md).
bool PrefaultRequested() {
  const char* v = std::getenv("GEMRUN_PREFAULT");
  return v && *v && std::strcmp(v, "0") != 0;
}

void Prefault(KvCache& kv, Workspace& ws) {
  for (auto* layers : {&kv.k, &kv.v})
    for (auto& l : *layers)
      if (!l.empty()) std::memset(l.data(), 0, l.size());
  for (Buffer<float>* b : {&ws.x, &ws.xn, &ws.q, &ws.kx, &ws.vx, &ws.attn, &ws.proj, &ws.gate, &ws.up, &ws.out_rows})
    if (!b->empty()) std::memset(b->data(), 0, b->size() * sizeof(float));
}

}  // namespace

Status CheckMemory(const MemoryNeed& need, std::optional<uint64_t> available) {
  const double total = need.kv_bytes + need.activation_bytes;
  if (!available || total <= static_cast<double>(*available)) return OkStatus();
  auto bytes = [](double b) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "%.0f bytes (%s)", b, HumanBytes(static_cast<uint64_t>(std::min(b, 1.8e19))).c_str());
    return std::string(buf);
  };
  return ResourceExhaustedError(
      "not enough memory: a context of " + std::to_string(need.n_ctx) + " positions (-c)" +
      (need.n_seqs > 1 ? " for each of " + std::to_string(need.n_seqs) + " sequences (--parallel)" : std::string()) +
      " needs " + bytes(total) + " (KV cache " +
      bytes(need.kv_bytes) + ", activations about " + bytes(need.activation_bytes) + "), but only " +
      bytes(static_cast<double>(*available)) +
      " are available (MemAvailable / cgroup memory limit); lower -c or --parallel, or use --kv-type q8_0");
}

StatusOr<std::unique_ptr<Engine>> Engine::Load(const std::string& model_path, const EngineOptions& opts) {
  const auto t0 = Clock::now();
  auto e = std::make_unique<Engine>();
  e->opts_ = opts;
  ASSIGN_OR_RETURN(e->model_, LoadModel(model_path, LoadOptions{.repack_lm_head = opts.repack_lm_head}));
  ASSIGN_OR_RETURN(e->tokenizer_, Tokenizer::FromGguf(e->model_->file(), TokenizerOptions{.suppress = opts.suppress}));
  const ModelConfig& c = e->model_->config();
  if (e->tokenizer_->vocab().size() > c.n_vocab)
    return InvalidModelError(model_path + ": the tokenizer has " + std::to_string(e->tokenizer_->vocab().size()) +
                                " tokens but the embedding table only " + std::to_string(c.n_vocab) + " rows");
  if (opts.n_ctx < 0) return InvalidArgumentError("context size must be >= 0, got " + std::to_string(opts.n_ctx));
  if (e->opts_.n_ctx == 0) e->opts_.n_ctx = std::min(c.n_ctx_train > 0 ? c.n_ctx_train : EngineOptions::kDefaultMaxCtx,
                                                     EngineOptions::kDefaultMaxCtx);
  if (opts.max_batch <= 0) return InvalidArgumentError("batch size must be positive");
  e->opts_.max_batch = std::min(e->opts_.max_batch, e->opts_.n_ctx);
  if (opts.n_seqs <= 0) return InvalidArgumentError("number of sequences must be positive, got " + std::to_string(opts.n_seqs));
  if (!opts.draft_model.empty()) RETURN_IF_ERROR(e->LoadDrafter());
  // Up front, so that a huge -c or --parallel is a clear error instead of std::bad_alloc (or
  // the OOM killer once the lazily allocated cache fills).
  const MemoryNeed need{e->opts_.n_ctx, opts.n_seqs,
                        opts.n_seqs * (e->model_->KvCacheBytes(e->opts_.n_ctx, opts.kv_type, e->opts_.max_batch) +
                                       (e->draft_model_ ? e->draft_model_->KvCacheBytes(e->opts_.n_ctx, opts.kv_type,
                                                                                        e->opts_.max_batch)
                                                        : 0.0)),
                        e->model_->WorkspaceBytesEstimate(e->opts_.max_batch + opts.n_seqs, e->opts_.n_ctx)};
  RETURN_IF_ERROR(CheckMemory(need, AvailableMemoryBytes()));
  e->pool_ = std::make_unique<ThreadPool>(opts.threads);
  e->load_ms_ = Ms(t0, Clock::now());
  return e;
}

Status Engine::LoadDrafter() {
  const std::string& path = opts_.draft_model;
  if (opts_.draft_max < 1 || opts_.draft_max > 64)
    return InvalidArgumentError("--draft-max must be in [1, 64], got " + std::to_string(opts_.draft_max));
  ASSIGN_OR_RETURN(draft_model_, LoadModel(path));
  ASSIGN_OR_RETURN(auto draft_tok, Tokenizer::FromGguf(draft_model_->file(), TokenizerOptions{.suppress = opts_.suppress}));
  return CheckSameVocabulary(*tokenizer_, *draft_tok, path);
}

std::string Engine::Describe() const {
  std::string out = DescribeGguf(model_->file());
  if (draft_model_) out += "; drafter: " + DescribeGguf(draft_model_->file()) + ", up to " +
                           std::to_string(opts_.draft_max) + " ids per pass";
  const auto& sup = tokenizer_->suppressed();
  if (!sup.empty()) {
    out += "; never sampled:";
    for (size_t i = 0; i < sup.size(); ++i) {
      const std::string_view t = tokenizer_->vocab().text(sup[i]);
      out += (i ? ", " : " ") + std::string(t.size() <= 24 ? t : t.substr(0, 24)) + " (" + std::to_string(sup[i]) + ")";
    }
    out += tokenizer_->vocab().has_suppress_key() ? " [tokenizer.ggml.suppress_tokens]" : " [implicit Gemma 4 default]";
  }
  return out;
}

StatusOr<std::unique_ptr<Session>> Engine::NewSession() const {
  RETURN_IF_ERROR(model_->file().CheckFileSize());  // a truncated model would fault mid-decode
  ASSIGN_OR_RETURN(auto kv, model_->NewKvCache(opts_.n_ctx, opts_.kv_type, opts_.max_batch));
  auto ws = model_->NewWorkspace(opts_.max_batch);
  ws->flash_attn = opts_.flash_attn;
  if (PrefaultRequested()) Prefault(*kv, *ws);
  auto session = std::make_unique<Session>(*this, std::move(kv), std::move(ws));
  // A round verifies the pending id plus k proposals in one batch: k + 1 <= max_batch.
  const int draft_max = static_cast<int>(std::min<int64_t>(opts_.draft_max, opts_.max_batch - 1));
  if (draft_model_ && draft_max > 0) {
    RETURN_IF_ERROR(draft_model_->file().CheckFileSize());
    ASSIGN_OR_RETURN(auto drafter, Drafter::Create(*draft_model_, opts_.n_ctx, opts_.kv_type, opts_.max_batch,
                                                   tokenizer_->vocab().size()));
    session->SetDrafter(std::move(drafter), draft_max);
  }
  return session;
}

void Session::SetDrafter(std::unique_ptr<Drafter> drafter, int draft_max) {
  drafter_ = std::move(drafter);
  draft_max_ = drafter_ ? draft_max : 0;
  verify_logits_.resize(static_cast<size_t>(draft_max_ + 1) * e_.model().config().n_vocab);
}

Session::Session(const Engine& e, std::unique_ptr<KvCache> kv, std::unique_ptr<Workspace> ws)
    : e_(e), kv_(std::move(kv)), ws_(std::move(ws)), logits_(static_cast<size_t>(e.model().config().n_vocab)) {}

void Session::Reset() {
  kv_->n_past = 0;
  history_.clear();
  if (drafter_) drafter_->Reset();
}

int64_t Session::ReusePrefix(std::span<const int32_t> prompt) {
  size_t common = 0;
  while (common < history_.size() && common < prompt.size() && history_[common] == prompt[common] &&
         prompt[common] != kImageRow)
    ++common;
  if (common == prompt.size() && common > 0) --common;  // re-evaluate the last token for its logits
  if (!kv_->Rewind(static_cast<int64_t>(common))) common = 0;  // the window rings moved on
  history_.resize(common);
  return static_cast<int64_t>(common);
}

Status Session::Append(std::span<const int32_t> ids, Timings* t) {
  const auto t0 = Clock::now();
  const int64_t B = ws_->max_rows;
  for (size_t i = 0; i < ids.size(); i += static_cast<size_t>(B)) {
    const size_t n = std::min(ids.size() - i, static_cast<size_t>(B));
    const bool last = i + n == ids.size();
    RETURN_IF_ERROR(e_.model().Forward(Batch{.tokens = ids.subspan(i, n)}, *kv_, *ws_,
                                       last ? LogitsMode::kLast : LogitsMode::kNone, logits_.data(), e_.pool()));
    history_.insert(history_.end(), ids.begin() + i, ids.begin() + i + n);
  }
  if (t) {
    t->prompt_ms += Ms(t0, Clock::now());
    t->prompt_tokens += static_cast<int64_t>(ids.size());
  }
  return OkStatus();
}

Status Session::AppendImage(const PromptSegment& seg, Timings* t) {
  const auto t0 = Clock::now();
  if (seg.non_causal && seg.n_rows > ws_->max_rows)
    return InvalidArgumentError("an image of " + std::to_string(seg.n_rows) + " tokens does not fit one batch of " +
                                std::to_string(ws_->max_rows) + "; raise --batch-size");
  // Causal rows (audio clips) may be split across batches like text; bidirectional ones may not.
  const int64_t E = e_.model().config().n_embd;
  for (int64_t r = 0; r < seg.n_rows; r += ws_->max_rows) {
    const int64_t m = std::min(ws_->max_rows, seg.n_rows - r);
    const Batch b{.embd = seg.embd.data() + r * E, .n_embd_rows = m, .non_causal = seg.non_causal,
                  .global_causal = seg.global_causal};
    RETURN_IF_ERROR(e_.model().Forward(b, *kv_, *ws_, LogitsMode::kLast, logits_.data(), e_.pool()));
  }
  history_.insert(history_.end(), static_cast<size_t>(seg.n_rows), kImageRow);
  if (t) {
    t->prompt_ms += Ms(t0, Clock::now());
    t->prompt_tokens += seg.n_rows;
  }
  return OkStatus();
}

StatusOr<GenerateResult> Session::Generate(std::span<const int32_t> prompt, const GenerateParams& p,
                                           const TokenCallback& cb) {
  PromptSegment seg;
  seg.ids.assign(prompt.begin(), prompt.end());
  return Generate(std::span<const PromptSegment>(&seg, 1), p, cb);
}

StatusOr<GenerateResult> Session::Generate(std::span<const PromptSegment> prompt, const GenerateParams& p,
                                           const TokenCallback& cb) {
  const ModelConfig& c = e_.model().config();
  std::vector<int32_t> key;  // the prompt as the cache records it
  for (const PromptSegment& s : prompt) {
    if (s.is_image() && static_cast<int64_t>(s.embd.size()) != s.n_rows * c.n_embd)
      return InvalidArgumentError("image segment holds " + std::to_string(s.embd.size()) + " floats, expected " +
                                  std::to_string(s.n_rows) + " rows of " + std::to_string(c.n_embd));
    if (s.is_image()) key.insert(key.end(), static_cast<size_t>(s.n_rows), kImageRow);
    else key.insert(key.end(), s.ids.begin(), s.ids.end());
  }
  if (key.empty()) return InvalidArgumentError("empty prompt");
  if (static_cast<int64_t>(key.size()) >= kv_->n_ctx)
    return OutOfRangeError("prompt is " + std::to_string(key.size()) + " tokens but the context holds " +
                           std::to_string(kv_->n_ctx) + " (including at least one generated token); shorten the "
                           "input or raise --ctx-size");
  RETURN_IF_ERROR(p.sampling.Validate(c.n_vocab));
  GenerateResult res;
  res.timings.load_ms = e_.load_ms();
  int64_t skip = ReusePrefix(key);  // never reaches into an image
  res.timings.cached_tokens = skip;
  for (const PromptSegment& s : prompt) {
    if (s.is_image()) {
      RETURN_IF_ERROR(AppendImage(s, &res.timings));
      continue;
    }
    const int64_t n = static_cast<int64_t>(s.ids.size());
    const int64_t from = std::min(skip, n);
    skip -= from;
    RETURN_IF_ERROR(Append(std::span<const int32_t>(s.ids).subspan(static_cast<size_t>(from)), &res.timings));
  }

  Generation gen(e_.tokenizer(), p, c.n_vocab, cb);
  for (const PromptSegment& s : prompt) gen.AcceptPrompt(s.ids);
  const auto t0 = Clock::now();
  // The drafter reads ids only: prompts with image or audio rows decode plainly.
  const bool has_media = std::any_of(prompt.begin(), prompt.end(), [](const PromptSegment& s) { return s.is_image(); });
  RETURN_IF_ERROR(drafter_ && !has_media ? DecodeSpeculative(gen, &res.timings.spec) : DecodePlain(gen));
  res.timings.gen_ms = Ms(t0, Clock::now());
  res.timings.gen_tokens = static_cast<int64_t>(gen.tokens().size());
  res.tokens = gen.tokens();
  res.text = gen.text();
  res.finish = gen.finish();
  res.constraint_error = gen.constraint_error();
  return res;
}

Status Session::DecodePlain(Generation& gen) {
  while (gen.Step(logits_.data(), kv_->n_past >= kv_->n_ctx)) {
    const int32_t id = gen.next_token();
    RETURN_IF_ERROR(e_.model().Forward(Batch{.tokens = std::span<const int32_t>(&id, 1)}, *kv_, *ws_,
                                       LogitsMode::kLast, logits_.data(), e_.pool()));
    history_.push_back(id);
  }
  return OkStatus();
}

// Each round: the drafter proposes k ids after the pending (sampled, not yet evaluated) id;
// the target evaluates [pending, d1..dk] in one batch with logits for every row; Generation
// samples row by row exactly as plain decoding would from those logits, and stops at the
// first row whose choice differs from the proposal. That choice (or, with all k taken, the
// choice after dk) becomes the next pending id; the cache is rewound past the unused rows.
// For greedy sampling this is token-for-token plain decoding. For sampling it is the standard
// rejection scheme for a deterministic drafter (q one-hot on d): d is kept with probability
// p(d) = min(1, p/q), and a miss samples from p without d = norm(max(0, p - q)); the RNG is
// drawn once per output id, as in plain decoding, so a seed reproduces plain decoding too.
Status Session::DecodeSpeculative(Generation& gen, SpecStats* stats) {
  draft_len_ = DraftLength(draft_max_);
  if (!gen.Step(logits_.data(), kv_->n_past >= kv_->n_ctx)) return OkStatus();
  for (;;) {
    // Room: the pending id and k proposals must fit the context (and leave the plain rule
    // "context full after the last id" to the last row).
    const int64_t room = kv_->n_ctx - kv_->n_past - 1;
    const int k = static_cast<int>(std::min<int64_t>(draft_len_.Next(), room));
    if (k <= 0) {  // the context's last position: one plain step
      const int32_t id = gen.next_token();
      RETURN_IF_ERROR(e_.model().Forward(Batch{.tokens = std::span<const int32_t>(&id, 1)}, *kv_, *ws_,
                                         LogitsMode::kLast, logits_.data(), e_.pool()));
      history_.push_back(id);
      if (!gen.Step(logits_.data(), kv_->n_past >= kv_->n_ctx)) break;
      continue;
    }
    ASSIGN_OR_RETURN(bool more, SpeculativeRound(gen, k, stats));
    if (!more) break;
  }
  return OkStatus();
}

StatusOr<bool> Session::SpeculativeRound(Generation& gen, int k, SpecStats* stats) {
  const int64_t V = e_.model().config().n_vocab;
  const int32_t pending = gen.next_token();
  const auto t0 = Clock::now();
  RETURN_IF_ERROR(drafter_->Propose(history_, pending, k, e_.pool(), &draft_));
  stats->draft_ms += Ms(t0, Clock::now());
  verify_ids_.assign(1, pending);
  verify_ids_.insert(verify_ids_.end(), draft_.begin(), draft_.end());
  const int64_t base = kv_->n_past;
  RETURN_IF_ERROR(e_.model().Forward(Batch{.tokens = verify_ids_}, *kv_, *ws_, LogitsMode::kAll,
                                     verify_logits_.data(), e_.pool()));
  ++stats->target_passes;
  stats->drafted += k;
  int accepted = 0;
  bool more = true, hit = false;
  for (int i = 0; i <= k; ++i) {
    more = gen.Step(verify_logits_.data() + i * V, base + i + 1 >= kv_->n_ctx);
    hit = i < k && gen.next_token() == draft_[i];
    if (hit) ++accepted;
    if (!hit || !more) break;
  }
  stats->accepted += accepted;
  draft_len_.Update(k, accepted);
  // Keep pending and the accepted proposals; the rows after them are dropped. k < max_batch
  // <= max_rewind, so the sliding-window rings still hold every key the next rows need. When
  // the generation ended on an accepted proposal, that last id is dropped too: plain decoding
  // never evaluates the final id, and the cache should be the same either way.
  const int kept = accepted - (hit && !more ? 1 : 0);
  if (!kv_->Rewind(base + 1 + kept)) return InternalError("speculative decoding: the KV cache could not be rolled back");
  history_.push_back(pending);
  history_.insert(history_.end(), draft_.begin(), draft_.begin() + kept);
  return more;
}

}  // namespace gemrun
