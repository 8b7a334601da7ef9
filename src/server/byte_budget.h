// A server-wide budget of bytes held for requests (bodies being read, downloaded or read image
// files), so that memory in flight is bounded by one number instead of (threads x body limit x
// images): a request that would exceed it gets a 503 instead of the server growing. Thread-safe.
#pragma once

#include <cstddef>
#include <mutex>
#include <utility>

namespace gemrun::server {

class ByteBudget {
 public:
  explicit ByteBudget(size_t limit) : limit_(limit) {}
  // Takes n bytes; false (nothing taken) when that would pass the limit.
  bool TryTake(size_t n) {
    std::lock_guard<std::mutex> l(mu_);
    if (n > limit_ - used_) return false;
    used_ += n;
    return true;
  }
  void Give(size_t n) {
    std::lock_guard<std::mutex> l(mu_);
    used_ -= n;
  }
  size_t used() const {
    std::lock_guard<std::mutex> l(mu_);
    return used_;
  }
  size_t limit() const { return limit_; }

 private:
  const size_t limit_;
  mutable std::mutex mu_;
  size_t used_ = 0;
};

// Bytes one request holds from a ByteBudget (none without a budget); given back on destruction.
class BudgetLease {
 public:
  explicit BudgetLease(ByteBudget* b = nullptr) : b_(b) {}
  ~BudgetLease() { Reset(); }
  BudgetLease(BudgetLease&& o) noexcept : b_(std::exchange(o.b_, nullptr)), n_(std::exchange(o.n_, 0)) {}
  BudgetLease& operator=(BudgetLease&&) = delete;
  // Takes n more bytes; false when the budget is exhausted (the lease keeps what it had).
  bool Grow(size_t n) {
    if (!b_) return true;
    if (!b_->TryTake(n)) return false;
    n_ += n;
    return true;
  }
  void Reset() {
    if (b_ && n_) b_->Give(n_);
    n_ = 0;
  }
  size_t held() const { return n_; }

 private:
  ByteBudget* b_;
  size_t n_ = 0;
};

}  // namespace gemrun::server
