// What a finished (or streaming) generation hands back to the endpoint code: tokens with their
// text pieces and log-probabilities, usage counts and timings. Plain data, no model access, so
// the response builders are pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "engine/generation.h"

namespace gemrun::server {

// One sampled token as the client sees it.
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

struct CompletionResult {
  std::string text;
  std::vector<TokenOut> tokens;  // one per generated token (for logprobs)
  FinishReason finish = FinishReason::kNone;
  Usage usage;
  ResultTimings timings;
  std::string constraint_error;  // non-empty: a constrained answer ended incomplete (why)
};

// OpenAI's finish_reason word ("stop" / "length").
inline const char* OpenAIFinishReason(FinishReason r) {
  return r == FinishReason::kLength || r == FinishReason::kContextFull ? "length" : "stop";
}

}  // namespace gemrun::server
