// DescribeGguf: a file's identity from its metadata (sizes by configuration, kind, main type).
#include "model/describe.h"

#include <cstdio>
#include <map>

#include "gguf/gguf.h"

namespace gemrun {
namespace {

struct KnownSize {
  const char* arch;
  int64_t n_layer, n_embd;
  const char* name;
};
// Released Gemma configurations (HF config.json: num_hidden_layers, hidden_size).
constexpr KnownSize kKnown[] = {
    {"gemma3", 18, 640, "270M"},  {"gemma3", 26, 1152, "1B"},   {"gemma3", 34, 2560, "4B"},
    {"gemma3", 48, 3840, "12B"},  {"gemma3", 62, 5376, "27B"},  {"gemma4", 35, 1536, "E2B"},
    {"gemma4", 42, 2560, "E4B"},  {"gemma4", 48, 3840, "12B"},  {"gemma4", 30, 2816, "26B-A4B"},
    {"gemma4", 60, 5376, "31B"},
};

std::string Str(const GgufFile& f, const std::string& key) {
  auto v = f.GetStringOr(key, "");
  return v.ok() ? *v : "";
}
int64_t Int(const GgufFile& f, const std::string& key) {
  auto v = f.GetIntOr(key, 0);
  return v.ok() ? *v : 0;
}
bool Bool(const GgufFile& f, const std::string& key) {
  auto v = f.GetBoolOr(key, false);
  return v.ok() && *v;
}

// 11.8B, 640M, 14.2M, 3.1K.
std::string Count(double n) {
  char buf[32];
  if (n >= 1e9) std::snprintf(buf, sizeof buf, "%.1fB", n / 1e9);
  else if (n >= 1e6) std::snprintf(buf, sizeof buf, "%.1fM", n / 1e6);
  else std::snprintf(buf, sizeof buf, "%.1fK", n / 1e3);
  return buf;
}

std::string Bytes(uint64_t b) {
  char buf[32];
  if (b >= (1ull << 30)) std::snprintf(buf, sizeof buf, "%.1f GiB", b / 1073741824.0);
  else std::snprintf(buf, sizeof buf, "%.1f MiB", b / 1048576.0);
  return buf;
}

// The type holding most bytes of the matrices (the "quantization" of the file).
std::string MainType(const GgufFile& f) {
  std::map<std::string, uint64_t> bytes;
  for (const auto& t : f.tensors())
    if (t.n_dims >= 2) bytes[DTypeName(t.type)] += t.nbytes;
  std::string best = "?";
  uint64_t most = 0;
  for (const auto& [name, b] : bytes)
    if (b > most) most = b, best = name;
  return best;
}

std::string Family(const std::string& projector) {
  if (projector == "gemma3") return "gemma3";
  if (projector.rfind("gemma4", 0) == 0) return "gemma4";
  return projector.empty() ? "unknown" : projector;
}

std::string DescribeProjector(const GgufFile& f) {
  const std::string v = Bool(f, "clip.has_vision_encoder")
                            ? (f.Has("clip.vision.projector_type") ? Str(f, "clip.vision.projector_type")
                                                                   : Str(f, "clip.projector_type"))
                            : "";
  const std::string a = Bool(f, "clip.has_audio_encoder") ? Str(f, "clip.audio.projector_type") : "";
  const std::string family = Family(v.empty() ? a : v);
  const int64_t e = v.empty() ? Int(f, "clip.audio.projection_dim") : Int(f, "clip.vision.projection_dim");
  std::string size;
  for (const KnownSize& k : kKnown)
    if (family == k.arch && e == k.n_embd) size = k.name;
  const char* what = !v.empty() && !a.empty() ? "vision+audio" : !v.empty() ? "vision" : !a.empty() ? "audio" : "";
  std::string out = family + (size.empty() ? "" : " " + size) + " " + what + (*what ? " " : "") + "projector (" +
                    (v.empty() ? a : a.empty() ? v : v + " + " + a) + ")";
  if (size.empty() && e > 0) out += " for text width " + std::to_string(e);
  return out + ", " + MainType(f) + ", " + Bytes(f.file_size());
}

}  // namespace

std::string GemmaSizeName(const std::string& arch, int64_t n_layer, int64_t n_embd) {
  for (const KnownSize& k : kKnown)
    if (arch == k.arch && n_layer == k.n_layer && n_embd == k.n_embd) return k.name;
  return "";
}

std::string DescribeGguf(const GgufFile& f) {
  const std::string arch = Str(f, "general.architecture");
  if (arch == "clip" || f.Has("clip.has_vision_encoder") || f.Has("clip.has_audio_encoder"))
    return DescribeProjector(f);
  const std::string p = arch + ".";
  const int64_t n_layer = Int(f, p + "block_count"), n_embd = Int(f, p + "embedding_length");
  double params = 0;
  for (const auto& t : f.tensors()) {
    double n = 1;
    for (uint32_t d = 0; d < t.n_dims; ++d) n *= static_cast<double>(t.ne[d]);
    params += n;
  }
  const std::string size = GemmaSizeName(arch, n_layer, n_embd);  // "" for unreleased shapes
  std::string kind;
  const int64_t n_expert = Int(f, p + "expert_count");
  const int64_t ple = Int(f, p + "embedding_length_per_layer_input");
  const int64_t shared_kv = Int(f, p + "attention.shared_kv_layers");
  if (n_expert > 0) kind = "MoE, " + std::to_string(n_expert) + " experts, " +
                           std::to_string(Int(f, p + "expert_used_count")) + " used";
  else if (ple > 0) kind = "PLE";
  else kind = "dense";
  if (shared_kv > 0) kind += ", shared KV";
  std::string out = (arch.empty() ? "unknown" : arch) + (size.empty() ? "" : " " + size) + " (" + kind + ", " + std::to_string(n_layer) +
                    " layers), " + MainType(f) + ", " + Bytes(f.file_size()) + ", " + Count(params) + " params";
  if (const int64_t ctx = Int(f, p + "context_length"); ctx > 0) out += ", trained ctx " + std::to_string(ctx);  // the file's, not the run's -c
  return out;
}

}  // namespace gemrun
