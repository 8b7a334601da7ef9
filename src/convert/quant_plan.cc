// Per-tensor type choice, tensor order and metadata of a quantized file, following
// llama.cpp's src/llama-quant.cpp (3f545becc) for the file types we write. Comments name the
// llama.cpp function each piece mirrors; the rules were read there, not copied.
#include "convert/quant_plan.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "quant/quantize_ggml.h"

namespace gemrun::convert {
namespace {

bool IsQuantized(DType t) { return Traits(t).block_size > 1; }  // ggml_is_quantized
int64_t BlockSize(DType t) { return Traits(t).block_size; }

std::string Upper(std::string_view s) {
  std::string u(s);
  for (char& c : u) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return u;
}

// tensor_category in llama-quant.cpp: broad roles by name substring, first match wins.
enum class Category { kTokenEmbd, kAttnQ, kAttnV, kAttnK, kAttnQkv, kAttnKvB, kAttnOut,
                      kFfnUp, kFfnGate, kFfnDown, kOutput, kOther };

bool Has(std::string_view s, std::string_view sub) { return s.find(sub) != std::string_view::npos; }

Category CategoryOf(std::string_view name) {
  if (name == "output.weight") return Category::kOutput;
  if (name == "token_embd.weight" || name == "per_layer_token_embd.weight") return Category::kTokenEmbd;
  if (Has(name, "attn_qkv.weight")) return Category::kAttnQkv;
  if (Has(name, "attn_kv_b.weight")) return Category::kAttnKvB;
  if (Has(name, "attn_v.weight")) return Category::kAttnV;
  if (Has(name, "attn_k.weight")) return Category::kAttnK;
  if (Has(name, "attn_q.weight")) return Category::kAttnQ;
  if (Has(name, "attn_output.weight")) return Category::kAttnOut;
  if (Has(name, "ffn_up")) return Category::kFfnUp;
  if (Has(name, "ffn_gate")) return Category::kFfnGate;
  if (Has(name, "ffn_down")) return Category::kFfnDown;
  return Category::kOther;
}

bool IsAttnVLike(Category c) {
  return c == Category::kAttnV || c == Category::kAttnQkv || c == Category::kAttnKvB;
}

// Substrings of tensors llama.cpp never quantizes (tensor_allows_quantization): small gates,
// Gemma 3n/4 altup/laurel/per-layer projections, positional tables, multimodal patches.
constexpr std::string_view kNeverQuantized[] = {
    "_norm.weight", "ffn_gate_inp.weight", "ffn_gate_tid2eid.weight", "altup", "laurel",
    "per_layer_model_proj", "ssm_conv1d", "shortconv.conv.weight", "indexer.k_proj.weight",
    "indexer.q_proj.weight", "time_mix_first.weight", "time_mix_w0.weight", "time_mix_w1.weight",
    "time_mix_w2.weight", "time_mix_v0.weight", "time_mix_v1.weight", "time_mix_v2.weight",
    "time_mix_a0.weight", "time_mix_a1.weight", "time_mix_a2.weight", "time_mix_g1.weight",
    "time_mix_g2.weight", "time_mix_decay_w1.weight", "time_mix_decay_w2.weight",
    "time_mix_lerp_fused.weight", "attn_rel_b.weight", ".position_embd", "sam.pos_embd",
    "sam.neck.", "sam.net_", ".rel_pos", ".patch_embd", ".patch_merger", "a.rvq.codebook",
    "mm.a.code_embd"};

bool AllowsQuantization(const QuantizeOptions& opt, std::string_view name, const int64_t ne[4]) {
  if (GgmlNDims(ne) < 2) return false;  // only matrices and expert stacks
  if (!name.ends_with("weight")) return false;
  if (opt.leave_output && name == "output.weight") return false;
  if (name == "position_embd.weight" || name == "token_types.weight") return false;
  for (std::string_view s : kNeverQuantized) {
    if (Has(name, s)) return false;
  }
  return true;
}

// sscanf(name, "blk.%d.", &layer): the block number, or -1 without one.
int BlockOf(std::string_view name) {
  if (!name.starts_with("blk.")) return -1;
  const std::string rest(name.substr(4));
  const char* p = rest.c_str();
  char* end = nullptr;
  const long v = std::strtol(p, &end, 10);
  return end == p ? -1 : static_cast<int>(v);
}

// Counters and model facts the mixes depend on (quantize_state_impl).
struct State {
  const QuantizeOptions* opt;
  int n_layer = 0;        // block_count (hparams.n_layer_all)
  int n_expert = 0;       // expert_count, 0 for dense models
  int n_attention_wv = 0, i_attention_wv = 0;
  int i_ffn_down = 0, i_ffn_gate = 0, i_ffn_up = 0;
  bool tied_embeddings = true;  // until output.weight is seen
  int n_fallback = 0;
};

bool UseMoreBits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

// layer_info: with experts the layer comes from the name (expert tensors are not in order).
StatusOr<int> LayerOf(const State& st, int counter, std::string_view name) {
  if (std::max(1, st.n_expert) <= 1) return counter;
  const int layer = BlockOf(name);
  if (layer < 0 || !name.starts_with("blk.")) {
    return InvalidModelError("cannot determine the layer of tensor " + std::string(name));
  }
  if (layer >= st.n_layer) {
    return InvalidModelError("bad layer " + std::to_string(layer) + " for tensor " +
                             std::string(name) + ": must be below block_count " +
                             std::to_string(st.n_layer));
  }
  return layer;
}

// llama_tensor_get_type_impl, restricted to the file types of FileTypes().
StatusOr<DType> MixType(State& st, DType t, std::string_view name, const int64_t ne[4], Category cat) {
  using F = FileType;
  const F ft = st.opt->ftype;
  if (cat == Category::kOutput || (st.tied_embeddings && cat == Category::kTokenEmbd)) {
    // The output projection (or the embedding table it shares) is the most sensitive tensor.
    if (st.opt->output_tensor_type) return *st.opt->output_tensor_type;
    if (ne[0] % BlockSize(t) != 0) return DType::kQ8_0;
    return t != DType::kQ8_0 ? DType::kQ6_K : t;
  }
  if (cat == Category::kTokenEmbd) {
    return st.opt->token_embedding_type ? *st.opt->token_embedding_type : t;
  }
  if (IsAttnVLike(cat)) {
    if ((ft == F::kQ4_K_M || ft == F::kQ5_K_M) && UseMoreBits(st.i_attention_wv, st.n_attention_wv)) {
      t = DType::kQ6_K;
    } else if (ft == F::kQ4_K_S && st.i_attention_wv < 4) {
      t = DType::kQ5_K;
    }
    if (st.n_expert == 8) t = DType::kQ8_0;
    ++st.i_attention_wv;
    return t;
  }
  if (cat == Category::kAttnK) return st.n_expert == 8 ? DType::kQ8_0 : t;
  if (cat == Category::kFfnDown) {
    ASSIGN_OR_RETURN(const int i_layer, LayerOf(st, st.i_ffn_down, name));
    const int n = st.n_layer;
    if (ft == F::kQ4_K_M) {
      if (UseMoreBits(i_layer, n)) t = DType::kQ6_K;
    } else if (ft == F::kQ5_K_M && UseMoreBits(i_layer, n)) {
      t = DType::kQ6_K;
    } else if (ft == F::kQ4_K_S && i_layer < n / 8) {
      t = DType::kQ5_K;
    }
    ++st.i_ffn_down;
    return t;
  }
  if (cat == Category::kAttnOut) {
    return st.n_expert == 8 && (ft == F::kQ4_K_S || ft == F::kQ4_K_M) ? DType::kQ5_K : t;
  }
  if (cat == Category::kFfnGate || cat == Category::kFfnUp) {
    int& counter = cat == Category::kFfnGate ? st.i_ffn_gate : st.i_ffn_up;
    RETURN_IF_ERROR(LayerOf(st, counter, name).status());  // validates, as llama.cpp does
    ++counter;
  }
  return t;
}

// tensor_type_fallback: a row length the block size does not divide takes a 32-wide type,
// or F16 when even that does not fit.
StatusOr<DType> Fallback(State& st, DType t, std::string_view name, int64_t ncols, std::string* note) {
  if (ncols % BlockSize(t) == 0) return t;
  DType r;
  switch (t) {
    case DType::kQ2_K: case DType::kQ3_K: r = DType::kQ4_0; break;
    case DType::kQ4_K: r = DType::kQ5_0; break;
    case DType::kQ5_K: r = DType::kQ5_1; break;
    case DType::kQ6_K: r = DType::kQ8_0; break;
    default:
      return UnimplementedError("tensor " + std::string(name) + ": row length " +
                                std::to_string(ncols) + " is not a multiple of " +
                                std::to_string(BlockSize(t)) + " (required for " + DTypeName(t) +
                                ") and llama.cpp defines no fallback for " + DTypeName(t));
  }
  ++st.n_fallback;
  if (ncols % BlockSize(r) != 0) r = DType::kF16;
  *note = "fallback: ncols " + std::to_string(ncols) + " not divisible by " +
          std::to_string(BlockSize(t)) + " (" + DTypeName(t) + ") -> " + DTypeName(r);
  return r;
}

// llama_tensor_get_type: the outer rules, then the mix, then the shape fallback.
StatusOr<DType> ChooseType(State& st, const GgufTensorInfo& ti, DType default_type, std::string* note) {
  const QuantizeOptions& opt = *st.opt;
  if (!AllowsQuantization(opt, ti.name, ti.ne)) return ti.type;
  const Category cat = CategoryOf(ti.name);
  if (opt.token_embedding_type && cat == Category::kTokenEmbd) return *opt.token_embedding_type;
  if (opt.output_tensor_type && cat == Category::kOutput) return *opt.output_tensor_type;
  DType t = default_type;
  if (!IsQuantized(default_type)) return t;
  if (!opt.pure) {
    ASSIGN_OR_RETURN(t, MixType(st, t, ti.name, ti.ne, cat));
  }
  return Fallback(st, t, ti.name, ti.ne[0], note);
}

// weight_name_comparer: tensors outside blocks first, then by block number, then by name.
std::vector<size_t> OutputOrder(const GgufFile& in) {
  std::vector<size_t> order(in.tensors().size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const std::string& na = in.tensors()[a].name;
    const std::string& nb = in.tensors()[b].name;
    const int la = BlockOf(na), lb = BlockOf(nb);
    return la != lb ? la < lb : na < nb;
  });
  return order;
}

std::vector<GgufOutKv> OutputMetadata(const GgufFile& in, FileType ftype) {
  std::vector<GgufOutKv> kv;
  for (const auto& [key, value] : in.metadata()) {
    if (key == "general.quantization_version" || key == "general.file_type" ||
        key == "split.no" || key == "split.count" || key == "split.tensors.count") {
      continue;  // re-set below (ggml's set_val appends) or dropped, as llama.cpp does
    }
    kv.push_back(GgufOutKv::Copy(key, value));
  }
  kv.push_back(GgufOutKv::U32("general.quantization_version", 2));  // GGML_QNT_VERSION
  kv.push_back(GgufOutKv::U32("general.file_type", static_cast<uint32_t>(ftype)));
  return kv;
}

}  // namespace

const std::vector<FileTypeInfo>& FileTypes() {
  using F = FileType;
  static const std::vector<FileTypeInfo> kTypes = {
      {"Q4_0", F::kQ4_0, DType::kQ4_0, "4.5 bpw, symmetric 32-blocks"},
      {"Q4_1", F::kQ4_1, DType::kQ4_1, "5.0 bpw, 32-blocks with min"},
      {"Q5_0", F::kQ5_0, DType::kQ5_0, "5.5 bpw, symmetric 32-blocks"},
      {"Q5_1", F::kQ5_1, DType::kQ5_1, "6.0 bpw, 32-blocks with min"},
      {"Q4_K_S", F::kQ4_K_S, DType::kQ4_K, "Q4_K, first attn_v / ffn_down layers Q5_K"},
      {"Q4_K_M", F::kQ4_K_M, DType::kQ4_K, "Q4_K, half of attn_v / ffn_down Q6_K (alias Q4_K)"},
      {"Q5_K_S", F::kQ5_K_S, DType::kQ5_K, "Q5_K"},
      {"Q5_K_M", F::kQ5_K_M, DType::kQ5_K, "Q5_K, half of attn_v / ffn_down Q6_K (alias Q5_K)"},
      {"Q6_K", F::kQ6_K, DType::kQ6_K, "6.6 bpw"},
      {"Q8_0", F::kQ8_0, DType::kQ8_0, "8.5 bpw, nearly lossless"},
      {"F16", F::kF16, DType::kF16, "half precision"},
      {"BF16", F::kBF16, DType::kBF16, "bfloat16"},
      {"F32", F::kF32, DType::kF32, "single precision"},
  };
  return kTypes;
}

StatusOr<FileTypeInfo> ParseFileType(std::string_view name) {
  std::string u = Upper(name);
  if (u == "Q4_K") u = "Q4_K_M";
  if (u == "Q5_K") u = "Q5_K_M";
  std::string names;
  for (const FileTypeInfo& t : FileTypes()) {
    if (u == t.name) return t;
    names += names.empty() ? "" : ", ";
    names += t.name;
  }
  return InvalidArgumentError("unknown quantization type '" + std::string(name) +
                              "'; supported: " + names);
}

StatusOr<DType> ParseTensorType(std::string_view name) {
  const std::string u = Upper(name);
  for (uint32_t id = 0; id < kDTypeCount; ++id) {
    if (!IsKnownDType(id)) continue;
    const DType t = static_cast<DType>(id);
    if (HasGgmlQuantizer(t) && u == Traits(t).name) return t;
  }
  return InvalidArgumentError("unknown tensor type '" + std::string(name) +
                              "'; supported: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K");
}

StatusOr<QuantPlan> PlanQuantization(const GgufFile& in, const QuantizeOptions& opt) {
  ASSIGN_OR_RETURN(const std::string arch, in.GetString("general.architecture"));
  if (arch == "falcon") {
    return UnimplementedError(in.path() + ": llama.cpp's falcon-specific quantization mixes are not reproduced");
  }
  const FileTypeInfo* found = nullptr;
  for (const FileTypeInfo& t : FileTypes()) {
    if (t.id == opt.ftype) found = &t;
  }
  if (found == nullptr) return InvalidArgumentError("unsupported file type id " + std::to_string((int)opt.ftype));
  const FileTypeInfo& ft = *found;
  State st{.opt = &opt};
  ASSIGN_OR_RETURN(const int64_t n_layer, in.GetInt(arch + ".block_count"));
  ASSIGN_OR_RETURN(const int64_t n_expert, in.GetIntOr(arch + ".expert_count", 0));
  st.n_layer = static_cast<int>(n_layer);
  st.n_expert = static_cast<int>(n_expert);
  for (const GgufTensorInfo& t : in.tensors()) {
    if (IsAttnVLike(CategoryOf(t.name))) ++st.n_attention_wv;
    if (CategoryOf(t.name) == Category::kOutput) st.tied_embeddings = false;
  }

  QuantPlan plan;
  plan.kv = OutputMetadata(in, opt.ftype);
  plan.alignment = static_cast<uint64_t>(in.alignment());
  std::vector<GgufOutTensor> outs;
  for (size_t idx : OutputOrder(in)) {
    const GgufTensorInfo& ti = in.tensors()[idx];
    TensorPlan tp;
    tp.src = idx;
    tp.src_type = ti.type;
    ASSIGN_OR_RETURN(const DType dst, ChooseType(st, ti, ft.default_type, &tp.note));
    if (ti.ne[0] % BlockSize(dst) != 0) {  // only a user-chosen type can get here
      return InvalidArgumentError("tensor " + ti.name + " cannot be " + DTypeName(dst) + ": its row length " +
                                  std::to_string(ti.ne[0]) + " is not a multiple of " +
                                  std::to_string(BlockSize(dst)) + "; choose a 32-wide type (Q8_0, Q5_0, ...) or F16");
    }
    if (dst != ti.type) {
      if (IsQuantized(ti.type) && !opt.allow_requantize) {
        return InvalidArgumentError(in.path() + ": tensor " + ti.name + " is already quantized (" +
                                    DTypeName(ti.type) + "); requantizing to " + DTypeName(dst) +
                                    " loses quality: start from an F32/F16/BF16 file, or pass --allow-requantize");
      }
      if (!Traits(ti.type).weight_ok) {
        return UnimplementedError(in.path() + ": tensor " + ti.name + " has type " +
                                  DTypeName(ti.type) + ", which cannot be converted");
      }
    }
    tp.out.name = ti.name;
    for (int d = 0; d < 4; ++d) tp.out.ne[d] = ti.ne[d];
    tp.out.type = dst;
    const int64_t nel = ti.ne[0] * ti.ne[1] * ti.ne[2] * ti.ne[3];
    tp.out.nbytes = ti.ne[0] == 0 ? 0 : static_cast<uint64_t>(RowBytes(dst, ti.ne[0]) * (nel / ti.ne[0]));
    plan.tensors.push_back(std::move(tp));
  }
  for (const TensorPlan& tp : plan.tensors) outs.push_back(tp.out);
  plan.data_bytes = LayoutTensors(&outs, plan.alignment);
  for (size_t i = 0; i < outs.size(); ++i) plan.tensors[i].out.offset = outs[i].offset;
  plan.n_fallback = st.n_fallback;
  return plan;
}

}  // namespace gemrun::convert
