// The speculative-decoding cost bench (gemrun bench --verify-k), see cmd_bench_spec.cc.
#pragma once

#include <span>
#include <string>

#include "model/model.h"

namespace gemrun::cli {

struct VerifyBenchArgs {
  const Model& model;
  ForwardState& st;              // max_batch >= k_hi, context >= depth + k_hi
  ThreadPool& pool;
  std::span<const int32_t> ids;  // at least depth + k_hi (and depth + 16) ids
  int64_t depth = 0, k_lo = 1, k_hi = 8;
  int reps = 3;
  const Model* draft = nullptr;  // optional drafter for the per-id cost and the projection
  DType kv_type = DType::kF16;
  bool json = false;
};

// "K" or "A..B" -> A (returned) and B (*hi).
StatusOr<int64_t> ParseKRange(const std::string& s, int64_t* hi);
int BenchVerify(const VerifyBenchArgs& a);

}  // namespace gemrun::cli
