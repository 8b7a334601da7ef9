// CheckModelFits: the memory plan against the available memory at start-up (see fit.h).
#include "engine/fit.h"

#include <algorithm>
#include <cstdio>

#include "base/sys_info.h"
#include "gguf/gguf.h"

namespace gemrun {
namespace {

std::string Bytes(double b) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "%.0f bytes (%s)", b, HumanBytes(static_cast<uint64_t>(std::min(b, 1.8e19))).c_str());
  return buf;
}

}  // namespace

StatusOr<MemoryPlan> PlanForEngine(const std::string& model_path, const EngineOptions& o, int64_t* n_ctx_out) {
  ASSIGN_OR_RETURN(auto file, GgufFile::Open(model_path));
  ASSIGN_OR_RETURN(ModelConfig c, ReadModelConfig(*file));
  // The context Engine::Load picks when none is given.
  const int64_t n_ctx = o.n_ctx > 0 ? o.n_ctx
                                    : std::min(c.n_ctx_train > 0 ? c.n_ctx_train : EngineOptions::kDefaultMaxCtx,
                                               EngineOptions::kDefaultMaxCtx);
  if (n_ctx_out) *n_ctx_out = n_ctx;
  return PlanMemory(*file, c, MemoryPlanOptions{.n_ctx = n_ctx, .n_seqs = std::max(1, o.n_seqs), .kv_type = o.kv_type,
                                                .max_batch = std::max<int64_t>(1, o.max_batch)});
}

Status CheckPlanFits(const MemoryPlan& p, int64_t n_ctx, int n_seqs, std::optional<uint64_t> available) {
  const double total = p.Total();
  if (!available || total <= static_cast<double>(*available)) return OkStatus();
  return ResourceExhaustedError(
      "not enough memory: the model with a context of " + std::to_string(n_ctx) + " positions (-c)" +
      (n_seqs > 1 ? " for each of " + std::to_string(n_seqs) + " sequences (--parallel)" : std::string()) + " needs " +
      Bytes(total) + " (weights " + Bytes(p.weights_resident) + ", KV cache " + Bytes(p.kv_bytes) +
      ", activations and scratch about " + Bytes(p.activation_bytes + p.scratch_bytes) +
      ", tokenizer and runtime about " + Bytes(p.runtime_bytes) + "), but only " +
      Bytes(static_cast<double>(*available)) + " are available (MemAvailable / cgroup memory limit); lower -c or "
      "--parallel, use --kv-type q8_0 or a smaller quantization (`gemrun fit` shows the breakdown), or start anyway "
      "with --no-fit-check (the weights then page from disk)");
}

Status CheckModelFits(const std::string& model_path, const EngineOptions& o) {
  int64_t n_ctx = 0;
  auto p = PlanForEngine(model_path, o, &n_ctx);
  if (!p.ok()) return OkStatus();
  return CheckPlanFits(*p, n_ctx, std::max(1, o.n_seqs), AvailableMemoryBytes());
}

}  // namespace gemrun
