// What a finished (or streaming) generation hands back to the endpoint code: tokens with their
// text pieces and log-probabilities, usage counts and timings. Plain data, no model access, so
// the response builders are pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "engine/batcher.h"
#include "engine/generation.h"

namespace gemrun::server {

// The result types live with the batcher (engine/batcher.h); the endpoint code names them here.
using gemrun::CompletionResult;
using gemrun::ResultTimings;
using gemrun::TokenOut;
using gemrun::Usage;

// OpenAI's finish_reason word ("stop" / "length").
inline const char* OpenAIFinishReason(FinishReason r) {
  return r == FinishReason::kLength || r == FinishReason::kContextFull ? "length" : "stop";
}

}  // namespace gemrun::server
