// Status and StatusOr: errors as values at every boundary that sees untrusted input.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>

namespace gemrun {

// Coarse error class; maps onto CLI exit codes (see cli/main.cc).
enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // bad user input (CLI flags, request fields, prompt too long)
  kNotFound,         // missing file, tensor or key
  kDataLoss,         // malformed or truncated file
  kUnimplemented,    // valid input we do not support (tensor type, architecture)
  kOutOfRange,       // context overflow etc.
  kInternal,
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string ToString() const { return ok() ? "OK" : message_; }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status OkStatus() { return Status(); }
inline Status InvalidArgumentError(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
inline Status NotFoundError(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status DataLossError(std::string m) { return {StatusCode::kDataLoss, std::move(m)}; }
inline Status UnimplementedError(std::string m) { return {StatusCode::kUnimplemented, std::move(m)}; }
inline Status OutOfRangeError(std::string m) { return {StatusCode::kOutOfRange, std::move(m)}; }
inline Status InternalError(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(Status s) : status_(std::move(s)) {  // NOLINT: implicit by design
    if (status_.ok()) status_ = InternalError("StatusOr constructed from OK status without value");
  }
  StatusOr(T v) : value_(std::move(v)) {}  // NOLINT: implicit by design

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }

 private:
  Status status_;
  std::optional<T> value_;
};

[[noreturn]] inline void CheckFailed(const char* file, int line, const char* expr) {
  std::fprintf(stderr, "gemrun: internal check failed at %s:%d: %s\n", file, line, expr);
  std::abort();
}

}  // namespace gemrun

#define GEMRUN_CONCAT_INNER(a, b) a##b
#define GEMRUN_CONCAT(a, b) GEMRUN_CONCAT_INNER(a, b)

// Propagates a non-OK Status from an expression.
#define RETURN_IF_ERROR(expr)                  \
  do {                                         \
    ::gemrun::Status _st = (expr);             \
    if (!_st.ok()) return _st;                 \
  } while (0)

// `ASSIGN_OR_RETURN(auto x, F())` binds the value or propagates the error.
#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL(GEMRUN_CONCAT(_sor_, __LINE__), lhs, expr)
#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                          \
  if (!tmp.ok()) return tmp.status();         \
  lhs = std::move(tmp).value()

// Invariant checks (never for untrusted input).
#define GEMRUN_CHECK(cond) \
  do {                     \
    if (!(cond)) ::gemrun::CheckFailed(__FILE__, __LINE__, #cond); \
  } while (0)
#ifdef NDEBUG
#define GEMRUN_DCHECK(cond) \
  do {                      \
  } while (0)
#else
#define GEMRUN_DCHECK(cond) GEMRUN_CHECK(cond)
#endif
