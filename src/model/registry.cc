// Architecture registry: general.architecture -> loader.
#include <cstring>
#include <string>

#include "kernels/ops.h"

#include "model/model.h"

namespace gemrun {

StatusOr<std::unique_ptr<Model>> LoadGemma3(std::unique_ptr<GgufFile> f);
StatusOr<std::unique_ptr<Model>> LoadGemma4(std::unique_ptr<GgufFile> f);

namespace {
struct ArchEntry {
  const char* name;
  StatusOr<std::unique_ptr<Model>> (*load)(std::unique_ptr<GgufFile>);
};
constexpr ArchEntry kArchs[] = {{"gemma3", LoadGemma3}, {"gemma4", LoadGemma4}};
}  // namespace

StatusOr<std::unique_ptr<Model>> LoadModel(const std::string& path) {
  ASSIGN_OR_RETURN(auto f, GgufFile::Open(path));
  auto arch = f->GetString("general.architecture");
  if (!arch.ok()) return arch.status();
  std::string supported;
  for (const auto& a : kArchs) {
    if (*arch == a.name) return a.load(std::move(f));
    supported += std::string(supported.empty() ? "" : ", ") + a.name;
  }
  if (*arch == "clip")
    return InvalidArgumentError(path + ": this is a vision projector (mmproj) file; pass it with --mmproj and give a text model with -m");
  return UnimplementedError(path + ": architecture '" + *arch + "' is not supported (supported: " + supported + ")");
}

Status ValidateBatch(const ModelConfig& c, const Batch& b, const ForwardState& st) {
  const int64_t n = b.size();
  if (n <= 0) return InvalidArgumentError("empty batch");
  if (b.embd && !b.tokens.empty()) return InvalidArgumentError("a batch holds either token ids or embeddings, not both");
  if (n > st.max_batch)
    return InvalidArgumentError("batch of " + std::to_string(n) + " tokens exceeds the maximum batch " +
                                std::to_string(st.max_batch));
  if (st.n_past + n > st.n_ctx)
    return OutOfRangeError("context full: " + std::to_string(st.n_past) + " + " + std::to_string(n) +
                           " tokens exceed the context size " + std::to_string(st.n_ctx));
  const auto& tokens = b.tokens;
  for (size_t i = 0; i < tokens.size(); ++i)
    if (tokens[i] < 0 || tokens[i] >= c.n_vocab)
      return InvalidArgumentError("token id " + std::to_string(tokens[i]) + " at index " + std::to_string(i) +
                                  " is outside the vocabulary [0, " + std::to_string(c.n_vocab) + ")");
  return OkStatus();
}

void EmbedInput(const ModelConfig& c, const TensorView& tok_embd, const Batch& b, ForwardState& st) {
  const int64_t E = c.n_embd;
  if (b.embd) {  // precomputed rows are used as given (no sqrt(E) scale)
    std::memcpy(st.x.data(), b.embd, sizeof(float) * b.n_embd_rows * E);
    return;
  }
  for (size_t t = 0; t < b.tokens.size(); ++t) {
    float* row = st.x.data() + t * E;
    kernels::GetRow(tok_embd, b.tokens[t], row);
    kernels::Scale(row, E, c.embd_scale);
  }
}

uint64_t ForwardState::KvBytes() const {
  uint64_t b = 0;
  for (const auto& l : k) b += l.size();
  for (const auto& l : v) b += l.size();
  return b;
}

}  // namespace gemrun
