// Sampler implementation. Order (as llama.cpp's default chain): bias, penalties, then greedy or
// top-k -> top-p -> min-p -> temperature -> draw.
#include "sampling/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_map>

namespace gemrun {

Status SamplingParams::Validate(int64_t n_vocab) const {
  if (!std::isfinite(temperature) || temperature < 0 || temperature > 100)
    return InvalidArgumentError("temperature must be in [0, 100], got " + std::to_string(temperature));
  if (!std::isfinite(top_p) || top_p <= 0 || top_p > 1)
    return InvalidArgumentError("top_p must be in (0, 1], got " + std::to_string(top_p));
  if (!std::isfinite(min_p) || min_p < 0 || min_p > 1)
    return InvalidArgumentError("min_p must be in [0, 1], got " + std::to_string(min_p));
  if (top_k < 0) return InvalidArgumentError("top_k must be >= 0, got " + std::to_string(top_k));
  if (!std::isfinite(repeat_penalty) || repeat_penalty <= 0)
    return InvalidArgumentError("repeat_penalty must be > 0, got " + std::to_string(repeat_penalty));
  if (repeat_last_n < 0) return InvalidArgumentError("repeat_last_n must be >= 0");
  if (!std::isfinite(presence_penalty) || std::fabs(presence_penalty) > 2)
    return InvalidArgumentError("presence_penalty must be in [-2, 2], got " + std::to_string(presence_penalty));
  if (!std::isfinite(frequency_penalty) || std::fabs(frequency_penalty) > 2)
    return InvalidArgumentError("frequency_penalty must be in [-2, 2], got " + std::to_string(frequency_penalty));
  for (const auto& [tok, bias] : logit_bias) {
    if (tok < 0 || tok >= n_vocab)
      return InvalidArgumentError("logit_bias token " + std::to_string(tok) + " is outside the vocabulary [0, " +
                                  std::to_string(n_vocab) + ")");
    if (std::isnan(bias)) return InvalidArgumentError("logit_bias for token " + std::to_string(tok) + " is NaN");
  }
  return OkStatus();
}

namespace {
uint64_t SplitMix(uint64_t& x) {
  uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
}  // namespace

Rng::Rng(uint64_t seed) {
  for (auto& s : s_) s = SplitMix(seed);
}

uint64_t Rng::Next() {
  const uint64_t r = Rotl(s_[1] * 5, 7) * 9, t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = Rotl(s_[3], 45);
  return r;
}

double Rng::Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

Sampler::Sampler(const SamplingParams& p, int64_t n_vocab) : p_(p), n_vocab_(n_vocab), rng_(p.seed) {
  cand_.reserve(static_cast<size_t>(n_vocab));
}

void Sampler::Reset() {
  recent_.clear();
  rng_ = Rng(p_.seed);
}

void Sampler::Accept(int32_t token) {
  if (p_.repeat_last_n <= 0) return;
  recent_.push_back(token);
  while (static_cast<int>(recent_.size()) > p_.repeat_last_n) recent_.pop_front();
}

void Sampler::ApplyBiasAndPenalties(float* logits) const {
  for (const auto& [tok, bias] : p_.logit_bias) logits[tok] += bias;
  const bool penalize = p_.repeat_penalty != 1.0f || p_.presence_penalty != 0.0f || p_.frequency_penalty != 0.0f;
  if (!penalize || recent_.empty()) return;
  std::unordered_map<int32_t, int> counts;
  for (int32_t t : recent_) ++counts[t];
  for (const auto& [tok, n] : counts) {
    float& l = logits[tok];
    if (p_.repeat_penalty != 1.0f) l = l <= 0 ? l * p_.repeat_penalty : l / p_.repeat_penalty;
    l -= static_cast<float>(n) * p_.frequency_penalty + (n > 0 ? p_.presence_penalty : 0.0f);
  }
}

int32_t Sampler::Sample(float* logits) {
  ApplyBiasAndPenalties(logits);
  if (p_.temperature <= 0.0f) return ArgMax({logits, static_cast<size_t>(n_vocab_)});
  cand_.clear();
  for (int64_t i = 0; i < n_vocab_; ++i) cand_.emplace_back(logits[i], static_cast<int32_t>(i));
  auto desc = [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); };
  size_t n = cand_.size();
  if (p_.top_k > 0 && static_cast<size_t>(p_.top_k) < n) {
    std::partial_sort(cand_.begin(), cand_.begin() + p_.top_k, cand_.end(), desc);
    n = static_cast<size_t>(p_.top_k);
  } else {
    std::sort(cand_.begin(), cand_.end(), desc);
  }
  // Candidates at -inf (suppressed tokens, -inf biases) can never be drawn: drop them, so the
  // rounding fallback at the end of the draw cannot return one.
  while (n > 1 && cand_[n - 1].first == -std::numeric_limits<float>::infinity()) --n;
  // Softmax at temperature 1 over the survivors (top-p and min-p see these probabilities).
  const float mx = cand_[0].first;
  prob_.resize(n);
  std::vector<double>& prob = prob_;
  double sum = 0;
  for (size_t i = 0; i < n; ++i) sum += prob[i] = std::exp(static_cast<double>(cand_[i].first - mx));
  if (p_.top_p < 1.0f) {
    double cum = 0;
    for (size_t i = 0; i < n; ++i) {
      cum += prob[i] / sum;
      if (cum >= p_.top_p) {
        n = i + 1;
        break;
      }
    }
  }
  if (p_.min_p > 0.0f) {
    const double floor = p_.min_p * prob[0];
    size_t keep = 1;
    while (keep < n && prob[keep] >= floor) ++keep;
    n = keep;
  }
  sum = 0;
  for (size_t i = 0; i < n; ++i) sum += prob[i] = std::exp(static_cast<double>(cand_[i].first - mx) / p_.temperature);
  double u = rng_.Uniform() * sum;
  for (size_t i = 0; i < n; ++i) {
    u -= prob[i];
    if (u < 0) return cand_[i].second;
  }
  return cand_[n - 1].second;
}

int32_t ArgMax(std::span<const float> logits) {
  return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

namespace {
double LogSumExp(std::span<const float> x) {
  const float mx = *std::max_element(x.begin(), x.end());
  double s = 0;
  for (float v : x) s += std::exp(static_cast<double>(v - mx));
  return mx + std::log(s);
}
}  // namespace

std::vector<std::pair<int32_t, float>> TopLogProbs(std::span<const float> logits, int n) {
  const double lse = LogSumExp(logits);
  std::vector<int32_t> idx(logits.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<int32_t>(i);
  n = std::min<int>(n, static_cast<int>(idx.size()));
  std::partial_sort(idx.begin(), idx.begin() + n, idx.end(),
                    [&](int32_t a, int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); });
  std::vector<std::pair<int32_t, float>> out;
  for (int i = 0; i < n; ++i) out.emplace_back(idx[i], static_cast<float>(logits[idx[i]] - lse));
  return out;
}

float TokenLogProb(std::span<const float> logits, int32_t token) {
  return static_cast<float>(logits[token] - LogSumExp(logits));
}

}  // namespace gemrun
