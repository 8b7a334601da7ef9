// gemrun logits: evaluate ids (or a JSON prompt of id, image and audio segments) from an empty cache
// in chunks and write every position's logits as float32 LE [n_positions x n_vocab]. Used by
// acceptance checks: keep the interface.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

#include "cli/commands.h"
#include "cli/gen_flags.h"
#include "audio/projector.h"
#include "model/model.h"
#include "vision/vision.h"

namespace gemrun::cli {
namespace {


// One segment of --prompt-json: token ids, or an image or audio clip (its rows filled in after
// encoding).
struct Segment {
  std::vector<int32_t> ids;
  std::string image, audio;
  std::vector<float> rows;  // [n_rows][n_embd] media embeddings
  int64_t n_rows = 0;
  bool is_media() const { return !image.empty() || !audio.empty(); }
  int64_t size() const { return is_media() ? n_rows : static_cast<int64_t>(ids.size()); }
};

Status ParsePromptJson(const std::string& path, std::vector<Segment>* segs) {
  std::ifstream f(path);
  if (!f) return NotFoundError(path + ": cannot open prompt JSON");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(f);
  } catch (const nlohmann::json::exception& e) {
    return InvalidArgumentError(path + ": invalid JSON: " + e.what());
  }
  if (!j.is_array() || j.empty())
    return InvalidArgumentError(path + ": expected a non-empty JSON array of {\"ids\": [...]} / {\"image\": \"PATH\"} / "
                                "{\"audio\": \"PATH\"} segments");
  for (size_t i = 0; i < j.size(); ++i) {
    const nlohmann::json& e = j[i];
    const std::string where = path + ": segment " + std::to_string(i);
    if (!e.is_object() || e.size() != 1 || !(e.contains("ids") || e.contains("image") || e.contains("audio")))
      return InvalidArgumentError(where + ": expected {\"ids\": [...]}, {\"image\": \"PATH\"} or {\"audio\": \"PATH\"}");
    Segment seg;
    if (e.contains("image") || e.contains("audio")) {
      const char* kind = e.contains("image") ? "image" : "audio";
      if (!e[kind].is_string() || e[kind].get<std::string>().empty())
        return InvalidArgumentError(where + ": \"" + kind + "\" must be a file path");
      (e.contains("image") ? seg.image : seg.audio) = e[kind].get<std::string>();
    } else {
      if (!e["ids"].is_array()) return InvalidArgumentError(where + ": \"ids\" must be an array of token ids");
      for (const auto& v : e["ids"]) {
        if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > INT32_MAX)
          return InvalidArgumentError(where + ": '" + v.dump() + "' is not a token id");
        seg.ids.push_back(static_cast<int32_t>(v.get<int64_t>()));
      }
      if (seg.ids.empty()) continue;
    }
    segs->push_back(std::move(seg));
  }
  if (segs->empty()) return InvalidArgumentError(path + ": the prompt has no positions");
  return OkStatus();
}

struct PromptOptions {
  std::string mmproj, attention, act = "auto";
  vision::TokenBudget budget;
  int64_t batch = 0;
  DType kv_type = DType::kF32;
  bool flash_attn = false;
};

// Evaluates --prompt-json: text segments in chunks of opt.batch (0 = whole segment), each image
// as one batch of embedding rows (bidirectional within the image unless --image-attention causal),
// each audio clip as one causal batch of embedding rows.
Status RunPrompt(const Model& model, const std::string& json_path, const PromptOptions& opt, ThreadPool& pool,
                 std::vector<float>* logits, int64_t* n_pos) {
  const ModelConfig& c = model.config();
  std::vector<Segment> segs;
  RETURN_IF_ERROR(ParsePromptJson(json_path, &segs));
  std::unique_ptr<vision::VisionEncoder> enc;
  std::unique_ptr<audio::AudioEncoder> aenc;
  for (Segment& seg : segs) {
    if (!seg.audio.empty()) {
      if (!aenc) {
        if (opt.mmproj.empty()) return InvalidArgumentError("the prompt has an audio segment: pass the audio projector with --mmproj");
        ASSIGN_OR_RETURN(aenc, audio::AudioEncoder::Load(opt.mmproj));
        RETURN_IF_ERROR(aenc->CheckTextModel(c));
      }
      ASSIGN_OR_RETURN(seg.rows, audio::EmbedAudioFile(*aenc, seg.audio, pool, &seg.n_rows));
      continue;
    }
    if (seg.image.empty()) continue;
    if (!enc) {
      if (opt.mmproj.empty()) return InvalidArgumentError("the prompt has an image segment: pass the vision projector with --mmproj");
      ASSIGN_OR_RETURN(const std::optional<vision::VisionActivation> act, vision::ParseActivation(opt.act));
      ASSIGN_OR_RETURN(enc, vision::VisionEncoder::Load(opt.mmproj, act ? &*act : nullptr));
      RETURN_IF_ERROR(enc->CheckTextModel(c));
    }
    ASSIGN_OR_RETURN(seg.rows, vision::EmbedImageFile(*enc, seg.image, opt.budget, pool, &seg.n_rows));
  }
  ASSIGN_OR_RETURN(const vision::ImageAttention attention, vision::ParseImageAttention(opt.attention, c));
  Batch image_batch;
  vision::SetAttentionFlags(attention, &image_batch.non_causal, &image_batch.global_causal);
  int64_t n = 0, max_batch = 1;
  for (const Segment& seg : segs) {
    n += seg.size();
    max_batch = std::max(max_batch, !seg.is_media() && opt.batch > 0 ? std::min(opt.batch, seg.size()) : seg.size());
  }
  ASSIGN_OR_RETURN(auto st, model.NewState(n, max_batch, opt.kv_type));
  st->ws->flash_attn = opt.flash_attn;
  logits->assign(static_cast<size_t>(n * c.n_vocab), 0.0f);
  int64_t pos = 0;
  for (const Segment& seg : segs) {
    if (seg.is_media()) {  // audio positions are always causal (as llama.cpp decodes gemma4ua)
      Batch b = seg.audio.empty() ? image_batch : Batch{};
      b.embd = seg.rows.data();
      b.n_embd_rows = seg.n_rows;
      RETURN_IF_ERROR(model.Forward(b, *st, LogitsMode::kAll, logits->data() + pos * c.n_vocab, pool));
      pos += seg.n_rows;
      continue;
    }
    const int64_t len = seg.size(), step = opt.batch > 0 ? opt.batch : len;
    for (int64_t i = 0; i < len; i += step) {
      const int64_t m = std::min(step, len - i);
      RETURN_IF_ERROR(model.Forward(std::span<const int32_t>(seg.ids.data() + i, m), *st, LogitsMode::kAll,
                                    logits->data() + pos * c.n_vocab, pool));
      pos += m;
    }
  }
  *n_pos = n;
  return OkStatus();
}

}  // namespace

int CmdLogits(int argc, char** argv) {
  CLI::App app{"Evaluate token ids from an empty cache and write the logits of every position\n"
               "as float32 little-endian [n_ids x n_vocab]; prints {\"n_tokens\":..,\"n_vocab\":..}.\n\n"
               "examples:\n  gemrun logits -m model.gguf --ids 2,17,33 -o out.bin\n"
               "  gemrun logits -m model.gguf --ids 2,17,33 -o out.bin --batch 1   # pure decode path\n"
               "  gemrun logits -m model.gguf --mmproj mmproj.gguf --prompt-json p.json -o out.bin\n"
               "      # p.json: [{\"ids\": [2, 255999]}, {\"image\": \"cat.png\"}, {\"ids\": [258882, 17]}]\n"
               "      # audio (Gemma 4 12B): [{\"ids\": [2, 256000]}, {\"audio\": \"a.wav\"}, {\"ids\": [258883]}]",
               "gemrun logits"};
  std::string model_path, ids_str, out_path;
  int64_t batch = 0;
  int threads = 0;
  app.add_option("-m,--model", model_path, "GGUF model")->required();
  std::string prompt_json;
  PromptOptions popt;
  auto* ids_opt = app.add_option("--ids", ids_str, "comma-separated token ids");
  auto* json_opt = app.add_option("--prompt-json", prompt_json,
                                  "JSON array of segments {\"ids\": [..]} (used as given), {\"image\": \"PATH\"} or "
                                  "{\"audio\": \"PATH\"} (one batch of embedding rows per image or clip, whatever --batch "
                                  "says; audio is always causal)")
                       ->excludes(ids_opt);
  app.add_option("--mmproj", popt.mmproj, "projector GGUF for the image and audio segments of --prompt-json")->needs(json_opt);
  app.add_option("--image-attention", popt.attention,
                 "attention among an image's positions: bidirectional (llama.cpp, every layer), causal, or sliding "
                 "(bidirectional on sliding-window layers only); default: the model family's reference (Gemma 3: "
                 "bidirectional; Gemma 4 E2B/E4B: causal; Gemma 4 12B/26B/31B: sliding)")
      ->check(CLI::IsMember({"causal", "bidirectional", "sliding"}));
  app.add_option("--image-min-tokens", popt.budget.min_tokens, "gemma4v/gemma4uv: fewest image tokens (default 40)");
  app.add_option("--image-max-tokens", popt.budget.max_tokens, "gemma4v/gemma4uv: most image tokens (default 280)");
  app.add_option("--vision-gelu", popt.act, "vision tower MLP activation: auto (llama.cpp's rule), tanh or quick")
      ->check(CLI::IsMember({"auto", "tanh", "quick"}));
  app.add_option("-o,--output", out_path, "output file")->required();
  app.add_option("--batch", batch, "tokens per forward call (default: all at once; 1 = one-token decode)");
  app.add_option("-t,--threads", threads, "threads (default: all cores)");
  std::string kv_type = "f32";
  app.add_option("--kv-type", kv_type, "KV cache type: f32 (default here, exact parity), f16 or q8_0")
      ->check(CLI::IsMember(kKvTypeNames));
  std::string flash_attn = "off";
  AddFlashAttnOption(app, &flash_attn, "attention kernel: off (default here: llama.cpp's reference arithmetic), "
                                        "on (fused, flash-style) or auto");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  if (batch < 0) return ReportError("logits", InvalidArgumentError("--batch must be >= 1"));
  if (!prompt_json.empty()) {
    if (popt.budget.min_tokens < 0 || popt.budget.max_tokens < 0)
      return ReportError("logits", InvalidArgumentError("--image-min-tokens/--image-max-tokens must be >= 1"));
    popt.batch = batch;
    popt.kv_type = KvTypeFromName(kv_type);
    popt.flash_attn = FlashAttnFromName(flash_attn);
    auto model = LoadModel(model_path);
    if (!model.ok()) return ReportError("logits", model.status());
    ThreadPool pool(threads);
    std::vector<float> logits;
    int64_t n = 0;
    if (Status s = RunPrompt(**model, prompt_json, popt, pool, &logits, &n); !s.ok()) return ReportError("logits", s);
    std::ofstream out(out_path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(logits.data()), static_cast<std::streamsize>(logits.size() * sizeof(float)));
    if (!out) return ReportError("logits", InternalError("cannot write " + out_path));
    std::printf("{\"n_tokens\":%lld,\"n_vocab\":%lld}\n", (long long)n, (long long)(*model)->config().n_vocab);
    return kExitOk;
  }
  if (ids_str.empty()) return ReportError("logits", InvalidArgumentError("give --ids or --prompt-json"));
  std::vector<int32_t> ids;
  if (Status s = ParseTokenIds("--ids", ids_str, &ids); !s.ok()) return ReportError("logits", s);
  const int64_t n = static_cast<int64_t>(ids.size());
  if (batch == 0 || batch > n) batch = n;

  auto model = LoadModel(model_path);
  if (!model.ok()) return ReportError("logits", model.status());
  const ModelConfig& c = (*model)->config();
  auto st = (*model)->NewState(n, batch, KvTypeFromName(kv_type));
  if (!st.ok()) return ReportError("logits", st.status());
  (*st)->ws->flash_attn = FlashAttnFromName(flash_attn);
  ThreadPool pool(threads);
  std::vector<float> logits(static_cast<size_t>(n * c.n_vocab));
  for (int64_t i = 0; i < n; i += batch) {
    const int64_t m = std::min(batch, n - i);
    Status s = (*model)->Forward(std::span<const int32_t>(ids.data() + i, m), **st, LogitsMode::kAll,
                                 logits.data() + i * c.n_vocab, pool);
    if (!s.ok()) return ReportError("logits", s);
  }
  std::ofstream out(out_path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(logits.data()), static_cast<std::streamsize>(logits.size() * sizeof(float)));
  if (!out) return ReportError("logits", InternalError("cannot write " + out_path));
  std::printf("{\"n_tokens\":%lld,\"n_vocab\":%lld}\n", (long long)n, (long long)c.n_vocab);
  return kExitOk;
}

}  // namespace gemrun::cli
