// Generation implementation. Stop strings: output text is held back while its tail could
// still become a stop string, so a stop string never reaches the caller, even split over tokens.
#include "engine/generation.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/reasoning.h"

namespace gemrun {

const char* FinishReasonName(FinishReason r) {
  switch (r) {
    case FinishReason::kEog:
    case FinishReason::kStopString: return "stop";
    case FinishReason::kLength:
    case FinishReason::kContextFull: return "length";
    case FinishReason::kCancelled: return "cancelled";
    case FinishReason::kNone: break;
  }
  return "none";
}

const char* FinishReasonDetail(FinishReason r) {
  switch (r) {
    case FinishReason::kEog: return "eog";
    case FinishReason::kStopString: return "stop_string";
    case FinishReason::kLength: return "max_tokens";
    case FinishReason::kContextFull: return "context_full";
    case FinishReason::kCancelled: return "cancelled";
    case FinishReason::kNone: break;
  }
  return "none";
}

namespace {
// Suppressed ids (Tokenizer::suppressed) become -inf biases at the front of the bias list, as
// llama.cpp's common_sampler_init does, so no sampler stage (greedy included) can pick them.
GenerateParams WithSuppressed(const Tokenizer& tok, GenerateParams p, int64_t n_vocab) {
  std::vector<std::pair<int32_t, float>> bias;
  for (int32_t id : tok.suppressed())
    if (id < n_vocab) bias.emplace_back(id, -std::numeric_limits<float>::infinity());
  bias.insert(bias.end(), p.sampling.logit_bias.begin(), p.sampling.logit_bias.end());
  p.sampling.logit_bias = std::move(bias);
  return p;
}
}  // namespace

Generation::Generation(const Tokenizer& tok, const GenerateParams& p, int64_t n_vocab, TokenCallback cb)
    : tok_(tok), p_(WithSuppressed(tok, p, n_vocab)), n_vocab_(n_vocab), cb_(std::move(cb)), sampler_(p_.sampling, n_vocab),
      decoder_(tok, p.decode_special) {
  std::erase_if(p_.stop, [](const std::string& s) { return s.empty(); });
  if (p_.grammar) {
    if (!p_.grammar_vocab) p_.grammar_vocab = constrain::TokenTrie::FromTokenizer(tok_);
    matcher_ = std::make_unique<constrain::Matcher>(p_.grammar, p_.grammar_vocab);
  }
  if (p_.reasoning_budget >= 0) thought_ = std::make_unique<ChannelSplitter>();
}

Generation::~Generation() = default;

void Generation::TrackThought(size_t from) {
  if (!thought_ || from > text_.size()) return;
  const bool was_in = thought_->in_thought();
  thought_->Push(std::string_view(text_).substr(from));
  if (!was_in || !thought_->in_thought() || !forced_.empty()) return;
  if (++thought_tokens_ < p_.reasoning_budget) return;
  // Budget spent: close the thought (the close marker is allowed by any thought grammar).
  const std::vector<int32_t> ids =
      tok_.Encode(std::string(kThoughtClose), EncodeOptions{.add_special = false, .parse_special = true});
  forced_.assign(ids.begin(), ids.end());
}

bool Generation::IsEogToken(int32_t id) const {
  return tok_.vocab().IsEog(id) || std::find(p_.extra_eog.begin(), p_.extra_eog.end(), id) != p_.extra_eog.end();
}

void Generation::ApplyConstraint(float* logits) {
  matcher_->ComputeMask(&mask_);
  const bool can_end = matcher_->CanEnd();
  for (int64_t i = 0; i < n_vocab_; ++i) {
    const int32_t t = static_cast<int32_t>(i);
    const bool ok = t < p_.grammar_vocab->n_vocab ? constrain::MaskHas(mask_, t) : false;
    if (!ok && !(can_end && IsEogToken(t))) logits[i] = -INFINITY;
  }
}

void Generation::CheckConstraintAtEnd(FinishReason why) {
  if (!matcher_ || !constraint_error_.empty()) return;
  // Fail closed: whatever ended the output, the final text itself must be in the language. A
  // complete answer at the token limit is still a complete answer (e.g. free text under
  // tool_choice "auto"); only an answer cut inside the structure is an error.
  if (why != FinishReason::kCancelled && constrain::GrammarAccepts(p_.grammar, text_)) return;
  switch (why) {
    case FinishReason::kLength:
      constraint_error_ = "generation hit the token limit (max_tokens = " + std::to_string(p_.max_tokens) +
                          ") before the constrained output was complete; the answer is truncated";
      break;
    case FinishReason::kContextFull:
      constraint_error_ = "the context is full before the constrained output was complete; the answer is truncated";
      break;
    case FinishReason::kStopString:
      constraint_error_ = "a stop string ended the output inside the constrained structure; the answer is truncated";
      break;
    case FinishReason::kCancelled:
      constraint_error_ = "generation was cancelled before the constrained output was complete (truncated)";
      break;
    default:
      constraint_error_ = "the output does not satisfy the constraint (internal error)";
  }
}

void Generation::AcceptPrompt(std::span<const int32_t> ids) {
  for (int32_t id : ids) sampler_.Accept(id);
}

size_t Generation::HeldBackTail() const {
  size_t hold = 0;
  for (const std::string& s : p_.stop) {
    const size_t max_k = std::min(s.size() - 1, text_.size() - emitted_);
    for (size_t k = max_k; k > hold; --k)
      if (text_.compare(text_.size() - k, k, s, 0, k) == 0) {
        hold = k;
        break;
      }
  }
  return hold;
}

void Generation::EmitUpTo(size_t end, TokenEvent& ev) {
  ev.text = end > emitted_ ? std::string_view(text_).substr(emitted_, end - emitted_) : std::string_view();
  emitted_ = std::max(emitted_, end);
}

bool Generation::Step(float* logits, bool context_full) {
  if (done()) return false;
  const std::span<const float> row(logits, static_cast<size_t>(n_vocab_));
  TokenEvent ev;
  // Log-probabilities describe the model's distribution, before penalties and truncation.
  const bool want_logprobs = p_.logprobs || p_.top_logprobs > 0;
  if (p_.top_logprobs > 0) ev.top = TopLogProbs(row, p_.top_logprobs);
  if (want_logprobs) raw_.assign(row.begin(), row.end());
  if (matcher_) ApplyConstraint(logits);
  int32_t id = sampler_.Sample(logits);
  if (matcher_ && std::isinf(logits[id])) id = ArgMax(row);  // sampler fallback picked a masked token
  if (!forced_.empty()) {
    id = forced_.front();
    forced_.pop_front();
  }
  if (matcher_ && !IsEogToken(id)) {
    if (Status st = matcher_->Accept(id); !st.ok()) {
      constraint_error_ = "constrained decoding failed: " + st.message();
      Finish(FinishReason::kCancelled);
      return false;
    }
  }
  ev.id = id;
  if (want_logprobs) ev.logprob = TokenLogProb(raw_, id);
  sampler_.Accept(id);

  const bool eog = (!p_.ignore_eog || matcher_) && IsEogToken(id);
  if (!eog) {
    tokens_.push_back(id);
    const size_t before = text_.size();
    decoder_.Push(id, &text_);
    TrackThought(before);
  }
  // Stop strings: search the newly decoded region (plus overlap) for the earliest match.
  size_t stop_at = std::string::npos;
  if (!eog && !p_.stop.empty()) {
    for (const std::string& s : p_.stop) {
      const size_t from = emitted_ > s.size() ? emitted_ - s.size() : 0;
      const size_t at = text_.find(s, from);
      if (at != std::string::npos) stop_at = std::min(stop_at, at);
    }
  }
  FinishReason why = FinishReason::kNone;
  if (eog) why = FinishReason::kEog;
  else if (stop_at != std::string::npos) why = FinishReason::kStopString;
  else if (p_.max_tokens >= 0 && static_cast<int64_t>(tokens_.size()) >= p_.max_tokens) why = FinishReason::kLength;
  else if (context_full) why = FinishReason::kContextFull;

  if (why == FinishReason::kStopString) {
    text_.resize(stop_at);
    EmitUpTo(stop_at, ev);
  } else if (why != FinishReason::kNone) {
    text_ += decoder_.Flush();
    EmitUpTo(text_.size(), ev);
  } else {
    EmitUpTo(text_.size() - HeldBackTail(), ev);
  }
  next_ = id;
  const bool keep_going = cb_ ? cb_(ev) : true;
  if (why != FinishReason::kNone) Finish(why);
  else if (!keep_going) Finish(FinishReason::kCancelled);
  if (done()) CheckConstraintAtEnd(finish_);
  return !done();
}

void Generation::Cancel() {
  if (!done()) Finish(FinishReason::kCancelled);
}

void Generation::Finish(FinishReason r) { finish_ = r; }

}  // namespace gemrun
