// The server's view of the engine's continuous batcher (engine/batcher.h): its names for the
// batcher's types, and the batcher's errors as HTTP API errors.
#pragma once

#include <chrono>
#include <optional>

#include "engine/batcher.h"
#include "server/api.h"

namespace gemrun::server {

using Clock = std::chrono::steady_clock;
using Scheduler = Batcher;
using SchedulerOptions = BatcherOptions;
using Job = BatchJob;

// kTooLarge 400, kBusy 429, kCancelled 499, kTimeout 504, kStopping 503, kInternal 500.
ApiError ToApiError(const BatchError& e);
std::optional<ApiError> ToApiError(const std::optional<BatchError>& e);

}  // namespace gemrun::server
