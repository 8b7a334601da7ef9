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
  // A readable file whose content is not a usable model: a mis-shaped tensor, implausible
  // hyper-parameters, a metadata value of the wrong type, a tokenizer that does not fit the
  // embedding table. The model's fault, not the user's flags (exit code 2, like kDataLoss).
  kInvalidModel,
  kResourceExhausted,  // not enough memory (or threads) for what was asked: exit code 3
};

// The class of fault a code stands for; the CLI's exit code follows it (see cli/main.cc).
enum class FaultClass { kNone, kUsage, kModelFile, kRuntime };
constexpr FaultClass FaultClassOf(StatusCode c) {
  switch (c) {
    case StatusCode::kOk: return FaultClass::kNone;
    case StatusCode::kInvalidArgument:
    case StatusCode::kOutOfRange: return FaultClass::kUsage;
    case StatusCode::kNotFound:
    case StatusCode::kDataLoss:
    case StatusCode::kUnimplemented:
    case StatusCode::kInvalidModel: return FaultClass::kModelFile;
    case StatusCode::kInternal:
    case StatusCode::kResourceExhausted: return FaultClass::kRuntime;
  }
  return FaultClass::kRuntime;
}

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
inline Status InvalidModelError(std::string m) { return {StatusCode::kInvalidModel, std::move(m)}; }
inline Status ResourceExhaustedError(std::string m) { return {StatusCode::kResourceExhausted, std::move(m)}; }

[[noreturn]] inline void ValueOfError(const Status& s) {
  std::fprintf(stderr, "gemrun: internal check failed: the value of a StatusOr holding an error was read: %s\n",
               s.message().c_str());
  std::abort();
}

template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(Status s) : status_(std::move(s)) {  // NOLINT: implicit by design
    if (status_.ok()) status_ = InternalError("StatusOr constructed from OK status without value");
  }
  StatusOr(T v) : value_(std::move(v)) {}  // NOLINT: implicit by design

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  // Reading the value of an error is a bug in the caller (a test that forgot ASSERT ok):
  // it stops with the error's message instead of reading an empty optional.
  T& value() & { return Checked(); }
  const T& value() const& { return Checked(); }
  T&& value() && { return std::move(Checked()); }
  T& operator*() & { return Checked(); }
  const T& operator*() const& { return Checked(); }
  T* operator->() { return &Checked(); }
  const T* operator->() const { return &Checked(); }

 private:
  T& Checked() {
    if (!value_) [[unlikely]] ValueOfError(status_);
    return *value_;
  }
  const T& Checked() const {
    if (!value_) [[unlikely]] ValueOfError(status_);
    return *value_;
  }

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
