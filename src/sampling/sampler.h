// Token sampling: logit bias, repetition/presence/frequency penalties, greedy, top-k, top-p,
// min-p and temperature, with a seeded RNG so a seed reproduces a generation exactly.
#pragma once

#include <cstdint>
#include <deque>
#include <span>
#include <utility>
#include <vector>

#include "base/status.h"

namespace gemrun {

struct SamplingParams {
  float temperature = 0.8f;     // <= 0: greedy
  int top_k = 40;               // <= 0: off
  float top_p = 0.95f;          // >= 1: off
  float min_p = 0.05f;          // <= 0: off
  float repeat_penalty = 1.0f;  // 1: off (llama.cpp rule: divide positive, multiply negative)
  int repeat_last_n = 64;       // window of recent tokens the penalties look at
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  uint64_t seed = 0;
  std::vector<std::pair<int32_t, float>> logit_bias;  // added to the raw logits

  // Range checks for user input (CLI flags, request fields).
  Status Validate(int64_t n_vocab) const;
};

// Small, fast, portable PRNG (xoshiro256**), seeded with splitmix64.
class Rng {
 public:
  explicit Rng(uint64_t seed);
  uint64_t Next();
  double Uniform();  // [0, 1)

 private:
  uint64_t s_[4];
};

class Sampler {
 public:
  Sampler(const SamplingParams& p, int64_t n_vocab);

  // Picks the next token from raw logits [n_vocab] (modified in place by bias/penalties).
  int32_t Sample(float* logits);
  // Records a token (prompt or generated) for the penalty window.
  void Accept(int32_t token);
  void Reset();

 private:
  void ApplyBiasAndPenalties(float* logits) const;

  SamplingParams p_;
  int64_t n_vocab_;
  Rng rng_;
  std::deque<int32_t> recent_;
  std::vector<std::pair<float, int32_t>> cand_;  // reused candidate buffer
  std::vector<double> prob_;                      // reused probabilities of the candidates
};

// Index of the largest value (first on ties).
int32_t ArgMax(std::span<const float> logits);

// Log-probabilities of the top n tokens of raw logits, descending.
std::vector<std::pair<int32_t, float>> TopLogProbs(std::span<const float> logits, int n);
// Log-probability of one token under raw logits.
float TokenLogProb(std::span<const float> logits, int32_t token);

}  // namespace gemrun
