// The start-up fit check of run / chat / ask / check / serve: the whole memory plan (weights,
// KV cache, activations, scratch, runtime; PlanMemory, model/memory_plan.h) of a model file
// under the engine options, against the available memory, before anything is loaded.
// Engine::Load itself still refuses a KV cache and activations that can never be allocated;
// this check adds the weights and is the one --no-fit-check skips.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/status.h"
#include "engine/engine.h"
#include "model/memory_plan.h"

namespace gemrun {

// The plan for `model_path` under `o` (n_ctx 0: the default Engine::Load picks; n_seqs KV
// caches). Errors: the file's (GgufFile::Open, ReadModelConfig) and PlanMemory's.
StatusOr<MemoryPlan> PlanForEngine(const std::string& model_path, const EngineOptions& o, int64_t* n_ctx = nullptr);

// OK when the plan fits in `available` (nullopt: unknown, OK). Otherwise ResourceExhausted
// naming the parts, -c / --parallel, the remedies, `gemrun fit` and --no-fit-check.
Status CheckPlanFits(const MemoryPlan& p, int64_t n_ctx, int n_seqs, std::optional<uint64_t> available);

// PlanForEngine + CheckPlanFits against AvailableMemoryBytes(). A file whose plan cannot be
// made (not a GGUF text model) passes: Engine::Load reports what is wrong with it.
Status CheckModelFits(const std::string& model_path, const EngineOptions& o);

}  // namespace gemrun
