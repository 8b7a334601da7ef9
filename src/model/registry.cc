// Architecture registry: general.architecture -> loader.
#include <cstring>
#include <string>

#include "kernels/ops.h"

#include "model/memory_plan.h"
#include "model/model.h"

namespace gemrun {

StatusOr<std::unique_ptr<Model>> LoadGemma3(std::unique_ptr<GgufFile> f, const LoadOptions& opts);
StatusOr<std::unique_ptr<Model>> LoadGemma4(std::unique_ptr<GgufFile> f, const LoadOptions& opts);
StatusOr<ModelConfig> LoadGemma3Config(const GgufFile& f);
StatusOr<ModelConfig> LoadGemma4Config(const GgufFile& f);

namespace {
struct ArchEntry {
  const char* name;
  StatusOr<std::unique_ptr<Model>> (*load)(std::unique_ptr<GgufFile>, const LoadOptions&);
  StatusOr<ModelConfig> (*config)(const GgufFile&);  // header only (memory planning)
};
constexpr ArchEntry kArchs[] = {{"gemma3", LoadGemma3, LoadGemma3Config}, {"gemma4", LoadGemma4, LoadGemma4Config}};

Status UnsupportedArch(const GgufFile& f, const std::string& arch) {
  std::string supported;
  for (const auto& a : kArchs) supported += std::string(supported.empty() ? "" : ", ") + a.name;
  if (arch == "clip")
    return InvalidArgumentError(f.path() + ": this is a vision projector (mmproj) file; pass it with --mmproj and give a text model with -m");
  return UnimplementedError(f.path() + ": architecture '" + arch + "' is not supported (supported: " + supported + ")");
}
}  // namespace

StatusOr<ModelConfig> ReadModelConfig(const GgufFile& f) {
  ASSIGN_OR_RETURN(std::string arch, f.GetString("general.architecture"));
  for (const auto& a : kArchs) {
    if (arch != a.name) continue;
    ASSIGN_OR_RETURN(ModelConfig c, a.config(f));
    // The loaders take n_vocab from the bound embedding table; the same tensor here.
    const GgufTensorInfo* t = f.FindTensor("token_embd.weight");
    if (!t || t->n_dims != 2 || t->ne[0] != c.n_embd)
      return InvalidModelError(f.path() + ": token_embd.weight is missing or not [" + std::to_string(c.n_embd) + ", n_vocab]");
    c.n_vocab = t->ne[1];
    return c;
  }
  return UnsupportedArch(f, arch);
}

StatusOr<std::unique_ptr<Model>> LoadModel(const std::string& path, const LoadOptions& opts) {
  ASSIGN_OR_RETURN(auto f, GgufFile::Open(path));
  auto arch = f->GetString("general.architecture");
  if (!arch.ok()) return arch.status();
  for (const auto& a : kArchs) {
    if (*arch == a.name) {
      ASSIGN_OR_RETURN(auto model, a.load(std::move(f), opts));
      // Loading read the tensors it packs; the rest is read later through the mapping.
      RETURN_IF_ERROR(model->file().CheckFileSize());
      return model;
    }
  }
  return UnsupportedArch(*f, *arch);
}

namespace {
Status ValidateBatch(const ModelConfig& c, const Batch& b, const KvCache& kv) {
  const int64_t n = b.size();
  if (n <= 0) return InvalidArgumentError("empty batch");
  if (b.embd && !b.tokens.empty()) return InvalidArgumentError("a batch holds either token ids or embeddings, not both");
  if (kv.n_past + n > kv.n_ctx)
    return OutOfRangeError("context full: " + std::to_string(kv.n_past) + " + " + std::to_string(n) +
                           " tokens exceed the context size " + std::to_string(kv.n_ctx));
  if (n > kv.max_batch)
    return InvalidArgumentError("batch of " + std::to_string(n) + " tokens exceeds the KV cache's maximum batch " +
                                std::to_string(kv.max_batch));
  const auto& tokens = b.tokens;
  for (size_t i = 0; i < tokens.size(); ++i)
    if (tokens[i] < 0 || tokens[i] >= c.n_vocab)
      return InvalidArgumentError("token id " + std::to_string(tokens[i]) + " at index " + std::to_string(i) +
                                  " is outside the vocabulary [0, " + std::to_string(c.n_vocab) + ")");
  return OkStatus();
}
}  // namespace

int64_t TotalRows(std::span<const SeqBatch> seqs) {
  int64_t n = 0;
  for (const auto& s : seqs) n += s.batch.size();
  return n;
}

Status ValidateSeqs(const ModelConfig& c, std::span<const SeqBatch> seqs, const Workspace& ws) {
  if (seqs.empty()) return InvalidArgumentError("no sequences in the call");
  for (size_t i = 0; i < seqs.size(); ++i) {
    if (!seqs[i].kv) return InvalidArgumentError("sequence without a KV cache");
    for (size_t j = 0; j < i; ++j)
      if (seqs[j].kv == seqs[i].kv) return InvalidArgumentError("a KV cache appears twice in one call");
    RETURN_IF_ERROR(ValidateBatch(c, seqs[i].batch, *seqs[i].kv));
  }
  const int64_t n = TotalRows(seqs);
  if (n > ws.max_rows)
    return InvalidArgumentError("batch of " + std::to_string(n) + " tokens exceeds the maximum batch " +
                                std::to_string(ws.max_rows));
  return OkStatus();
}

void EmbedInput(const ModelConfig& c, const TensorView& tok_embd, std::span<const SeqBatch> seqs, Workspace& ws) {
  const int64_t E = c.n_embd;
  int64_t r = 0;
  for (const SeqBatch& s : seqs) {
    const Batch& b = s.batch;
    const int64_t n = b.size();
    for (int64_t t = 0; t < n; ++t) ws.pos[r + t] = s.kv->n_past + t;
    if (b.embd) {  // precomputed rows are used as given (no sqrt(E) scale)
      std::memcpy(ws.x.data() + r * E, b.embd, sizeof(float) * n * E);
    } else {
      for (int64_t t = 0; t < n; ++t) {
        float* row = ws.x.data() + (r + t) * E;
        kernels::GetRow(tok_embd, b.tokens[t], row);
        kernels::Scale(row, E, c.embd_scale);
      }
    }
    r += n;
  }
}

uint64_t KvCache::Bytes() const {
  uint64_t b = 0;
  for (const auto& l : k) b += l.size();
  for (const auto& l : v) b += l.size();
  return b;
}

bool KvCache::Rewind(int64_t n) {
  if (n >= n_past) return true;
  if (n_past - n > max_rewind) {
    n_past = 0;
    return false;
  }
  n_past = n;
  return true;
}

double Model::KvCacheBytes(int64_t n_ctx, DType kv_type, int64_t max_batch) const {
  double b = 0;
  for (const KvGroup& g : PlanKvGroups(config_, n_ctx, kv_type, max_batch)) b += g.bytes;
  return b;
}

double Model::WorkspaceBytesEstimate(int64_t max_rows, int64_t n_ctx) const {
  // The workspace exactly (PlanWorkspace) and a logits row; PlanMemory adds the kernels' scratch.
  return PlanWorkspace(config_, max_rows).Bytes() + 4.0 * static_cast<double>(config_.n_vocab);
}

StatusOr<std::unique_ptr<KvCache>> Model::NewKvCache(int64_t n_ctx, DType kv_type, int64_t max_batch) const {
  const ModelConfig& c = config_;
  if (kv_type != DType::kF16 && kv_type != DType::kF32 && kv_type != DType::kQ8_0)
    return InvalidArgumentError("KV cache type must be f16, f32 or q8_0, got " + DTypeName(kv_type));
  if (kv_type == DType::kQ8_0)
    for (const LayerConfig& l : c.layers)
      if (l.head_dim % 32 != 0)
        return InvalidArgumentError("a q8_0 KV cache needs head sizes that are multiples of 32, this model has " +
                                    std::to_string(l.head_dim));
  if (n_ctx <= 0) return InvalidArgumentError("context size must be positive, got " + std::to_string(n_ctx));
  if (max_batch <= 0) return InvalidArgumentError("batch size must be positive, got " + std::to_string(max_batch));
  auto kv = std::make_unique<KvCache>();
  kv->n_ctx = n_ctx;
  kv->max_batch = std::min(max_batch, n_ctx);
  kv->max_rewind = n_ctx;
  kv->k.resize(c.n_layer);
  kv->v.resize(c.n_layer);
  kv->layout.resize(c.n_layer);
  for (int il = 0; il < c.n_layer; ++il) {
    kv->layout[il] = PlanKvLayout(c, il, n_ctx, kv_type, kv->max_batch);
    const int64_t ring = c.window + kv->max_batch;
    if (kv->layout[il].capacity == ring && ring < n_ctx) kv->max_rewind = std::min(kv->max_rewind, ring - c.window);
    if (!c.owns_kv(il)) continue;
    kv->k[il].resize(kv->layout[il].KBytes());
    kv->v[il].resize(kv->layout[il].VBytes());
  }
  return kv;
}

StatusOr<std::unique_ptr<ForwardState>> Model::NewState(int64_t n_ctx, int64_t max_batch, DType kv_type) const {
  if (max_batch <= 0) return InvalidArgumentError("batch size must be positive");
  auto st = std::make_unique<ForwardState>();
  ASSIGN_OR_RETURN(st->kv, NewKvCache(n_ctx, kv_type, max_batch));
  st->ws = NewWorkspace(max_batch);
  return st;
}

}  // namespace gemrun
