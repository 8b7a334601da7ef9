// Gemma 4 (arch "gemma4") — being written.
#include "model/model.h"
namespace gemrun {
StatusOr<std::unique_ptr<Model>> LoadGemma4(std::unique_ptr<GgufFile> f) {
  return UnimplementedError(f->path() + ": architecture 'gemma4' is not supported yet");
}
}  // namespace gemrun
