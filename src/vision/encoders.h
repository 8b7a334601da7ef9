// Internal: the per-projector-type encoder constructors that VisionEncoder::Load dispatches to.
#pragma once

#include <memory>

#include "vision/vision.h"

namespace gemrun::vision::internal {

// Each binds its tensors from `f` (shape- and type-checked) for the validated config `c`.
StatusOr<std::unique_ptr<VisionEncoder>> NewGemma3Encoder(std::unique_ptr<GgufFile> f, const VisionConfig& c);
StatusOr<std::unique_ptr<VisionEncoder>> NewGemma4vEncoder(std::unique_ptr<GgufFile> f, const VisionConfig& c);
StatusOr<std::unique_ptr<VisionEncoder>> NewGemma4uvEncoder(std::unique_ptr<GgufFile> f, const VisionConfig& c);

// The conv patch embedding [P, P, 3, Ev] as a 2-D matrix view [3*P*P, Ev] (F32/F16/BF16).
Status BindPatchEmbedding(const GgufFile& f, int64_t P, int64_t Ev, TensorView* out);

}  // namespace gemrun::vision::internal
