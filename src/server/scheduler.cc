// The batcher's errors as the server's API errors (see scheduler.h).
#include "server/scheduler.h"

namespace gemrun::server {

ApiError ToApiError(const BatchError& e) {
  switch (e.kind) {
    case BatchErrorKind::kTooLarge: return ApiError::BadRequest(e.message, "", e.code);
    case BatchErrorKind::kBusy: return ApiError::Of(429, "rate_limit_error", "the server is " + e.message, e.code);
    case BatchErrorKind::kCancelled: return ApiError::Of(499, "cancelled", e.message, e.code);
    case BatchErrorKind::kTimeout:
      return ApiError::Of(504, "timeout_error", "the request ran past the server's per-request timeout (--timeout)", e.code);
    case BatchErrorKind::kStopping: return ApiError::Of(503, "server_error", "the server is shutting down", e.code);
    case BatchErrorKind::kInternal: return ApiError::Of(500, "server_error", e.message, e.code);
  }
  return ApiError::Of(500, "server_error", e.message, e.code);
}

std::optional<ApiError> ToApiError(const std::optional<BatchError>& e) {
  if (!e) return std::nullopt;
  return ToApiError(*e);
}

}  // namespace gemrun::server
