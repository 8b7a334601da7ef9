// Ollama dialect implementation. Sampling defaults are Ollama's (temperature 0.8, top_k 40,
// top_p 0.9, repeat_penalty 1.1 over the last 64 tokens, num_predict -1 = until the context is
// full); `stream` defaults to true as in Ollama.
#include "server/ollama.h"

#include "server/structured.h"

#include <cstdio>
#include <ctime>

namespace gemrun::server {
namespace {

using Err = std::optional<ApiError>;

Err ParseOptions(const Json& b, int64_t n_ctx, ApiRequest* out) {
  GenerateParams& g = out->gen;
  SamplingParams& s = g.sampling;
  s.temperature = 0.8f;
  s.top_k = 40;
  s.top_p = 0.9f;
  s.min_p = 0.0f;
  s.repeat_penalty = 1.1f;
  s.repeat_last_n = 64;
  g.max_tokens = -1;
  if (!b.contains("options") || b["options"].is_null()) return std::nullopt;
  const Json& o = b["options"];
  if (!o.is_object()) return ApiError::BadRequest("'options' must be an object", "options", "invalid_type");
  if (auto k = FirstUnknownKey(o, {"temperature", "top_p", "top_k", "min_p", "seed", "num_predict", "stop",
                                   "repeat_penalty", "repeat_last_n", "presence_penalty", "frequency_penalty",
                                   "num_ctx"}))
    return ApiError::Unsupported("options." + *k);
  if (auto e = GetFloat(o, "temperature", "options.temperature", 0, 100, &s.temperature)) return e;
  if (auto e = GetFloat(o, "top_p", "options.top_p", 0, 1, &s.top_p)) return e;
  if (auto e = GetFloat(o, "min_p", "options.min_p", 0, 1, &s.min_p)) return e;
  if (auto e = GetFloat(o, "repeat_penalty", "options.repeat_penalty", 0, 10, &s.repeat_penalty)) return e;
  if (auto e = GetFloat(o, "presence_penalty", "options.presence_penalty", -2, 2, &s.presence_penalty)) return e;
  if (auto e = GetFloat(o, "frequency_penalty", "options.frequency_penalty", -2, 2, &s.frequency_penalty)) return e;
  int64_t top_k = s.top_k, last_n = s.repeat_last_n, seed = 0, num_predict = -1, num_ctx = 0;
  if (auto e = GetInt(o, "top_k", "options.top_k", 0, 1 << 20, &top_k)) return e;
  if (auto e = GetInt(o, "repeat_last_n", "options.repeat_last_n", -1, 1 << 20, &last_n)) return e;
  s.top_k = static_cast<int>(top_k);
  s.repeat_last_n = static_cast<int>(last_n < 0 ? n_ctx : last_n);
  if (o.contains("seed") && !o["seed"].is_null()) {
    if (auto e = GetInt(o, "seed", "options.seed", INT64_MIN, INT64_MAX, &seed)) return e;
    s.seed = static_cast<uint64_t>(seed);
    out->seed_given = true;
  }
  if (auto e = GetInt(o, "num_predict", "options.num_predict", -2, INT64_MAX, &num_predict)) return e;
  if (num_predict == 0) return ApiError::BadRequest("'options.num_predict' must be positive or -1", "options.num_predict");
  g.max_tokens = num_predict < 0 ? -1 : num_predict;
  if (auto e = GetInt(o, "num_ctx", "options.num_ctx", 1, INT64_MAX, &num_ctx)) return e;
  if (num_ctx > n_ctx)
    return ApiError::BadRequest("'options.num_ctx' " + std::to_string(num_ctx) + " exceeds the server's context of " +
                                std::to_string(n_ctx) + " tokens per request (set with --ctx-size)", "options.num_ctx");
  return GetStop(o, "stop", "options.stop", 16, &g.stop);
}

// Fields both endpoints share besides options.
Err ParseShared(const Json& b, const RequestLimits& lim, int64_t n_ctx, ApiRequest* out) {
  if (!b.contains("model") || !b["model"].is_string())
    return ApiError::BadRequest("'model' is required and must be a string", "model");
  out->model = b["model"].get<std::string>();
  out->stream = true;
  if (auto e = GetBool(b, "stream", "stream", &out->stream)) return e;
  if (b.contains("format"))
    if (auto e = ParseOllamaFormat(b["format"], OrderedField(lim.ordered, "format"), &out->gen)) return e;
  if (b.contains("keep_alive") && !b["keep_alive"].is_null() && !b["keep_alive"].is_string() &&
      !b["keep_alive"].is_number())
    return ApiError::BadRequest("'keep_alive' must be a duration string or a number", "keep_alive", "invalid_type");
  if (b.contains("think") && b["think"].is_string()) {  // Ollama's effort levels: any level is on
    const std::string level = b["think"];
    if (level != "low" && level != "medium" && level != "high")
      return ApiError::BadRequest("'think' must be a boolean or low, medium, high", "think", "invalid_value");
    out->reasoning = true;
  } else if (auto e = GetBool(b, "think", "think", &out->reasoning)) {
    return e;
  }
  if (auto e = ParseOptions(b, n_ctx, out)) return e;
  const Status st = out->gen.sampling.Validate(lim.n_vocab);
  if (!st.ok()) return ApiError::BadRequest(st.message(), "options", "invalid_value");
  return std::nullopt;
}

bool NonEmpty(const Json& b, const char* key) {
  return b.contains(key) && !b[key].is_null() && !(b[key].is_array() && b[key].empty()) && b[key] != "";
}

// "images": an array of base64 strings (no data: prefix). Each image becomes a kImageSlot, all
// of them before the text (where `gemrun run --image` puts images without "<image>" markers).
Err ParseImages(const Json& obj, const std::string& path, const RequestLimits& lim, std::vector<ImageInput>* images,
                std::string* slots) {
  if (!NonEmpty(obj, "images")) return std::nullopt;
  const Json& a = obj["images"];
  if (!a.is_array()) return ApiError::BadRequest("'" + path + "' must be an array of base64 strings", path, "invalid_type");
  for (size_t i = 0; i < a.size(); ++i) {
    const std::string p = path + "[" + std::to_string(i) + "]";
    if (auto e = CheckImageAllowed(lim.images, images->size(), p)) return e;
    if (!a[i].is_string()) return ApiError::BadRequest("'" + p + "' must be a base64 string", p, "invalid_type");
    ImageInput in;
    in.param = p;
    if (auto e = DecodeBase64(a[i].get_ref<const std::string&>(), p, &in.bytes)) return e;
    images->push_back(std::move(in));
    *slots += kImageSlot;
  }
  return std::nullopt;
}

}  // namespace

Err ParseOllamaChatRequest(const Json& b, const RequestLimits& lim, int64_t n_ctx, ApiRequest* out) {
  *out = ApiRequest{};
  out->endpoint = Endpoint::kOllamaChat;
  if (auto k = FirstUnknownKey(b, {"model", "messages", "stream", "format", "options", "keep_alive", "tools", "think"}))
    return ApiError::Unsupported(*k);
  if (auto e = ParseShared(b, lim, n_ctx, out)) return e;
  if (auto e = ParseTools(b, lim.ordered, /*openai=*/false, &out->tools)) return e;
  if (!b.contains("messages") || !b["messages"].is_array())
    return ApiError::BadRequest("'messages' is required and must be an array", "messages");
  const Json& ms = b["messages"];
  if (ms.empty()) return ApiError::BadRequest("'messages' must hold at least one message", "messages");
  if (ms.size() > lim.max_messages)
    return ApiError::BadRequest("'messages' holds at most " + std::to_string(lim.max_messages) + " messages", "messages");
  for (size_t i = 0; i < ms.size(); ++i) {
    const std::string p = "messages[" + std::to_string(i) + "]";
    const Json& m = ms[i];
    if (!m.is_object()) return ApiError::BadRequest("'" + p + "' must be an object", p, "invalid_type");
    if (auto k = FirstUnknownKey(m, {"role", "content", "images", "tool_calls", "tool_name"}))
      return ApiError::Unsupported(p + "." + *k);
    ChatMessage msg;
    if (auto e = GetString(m, "role", p + ".role", &msg.role)) return e;
    if (msg.role != "system" && msg.role != "user" && msg.role != "assistant" && msg.role != "tool")
      return ApiError::BadRequest("'" + p + ".role' must be system, user, assistant or tool", p + ".role",
                                  "invalid_value");
    MessageTools mt;
    if (m.contains("tool_calls") && msg.role != "assistant")
      return ApiError::BadRequest("'" + p + ".tool_calls' is allowed in assistant messages only", p + ".tool_calls");
    if (auto e = ParseMessageToolCalls(m.value("tool_calls", Json()), p + ".tool_calls", &mt.calls)) return e;
    if (auto e = GetString(m, "tool_name", p + ".tool_name", &mt.tool_name)) return e;
    out->tools.messages.push_back(std::move(mt));
    if (auto e = GetString(m, "content", p + ".content", &msg.content)) return e;
    if (auto e = CheckNoImageSlot(msg.content, p + ".content")) return e;
    if (NonEmpty(m, "images") && msg.role != "user")
      return ApiError::Unsupported(p + ".images", "images are accepted in user messages only");
    std::string slots;
    if (auto e = ParseImages(m, p + ".images", lim, &out->images, &slots)) return e;
    msg.content = slots + msg.content;
    out->messages.push_back(std::move(msg));
  }
  return std::nullopt;
}

Err ParseOllamaGenerateRequest(const Json& b, const RequestLimits& lim, int64_t n_ctx, ApiRequest* out) {
  *out = ApiRequest{};
  out->endpoint = Endpoint::kOllamaGenerate;
  if (auto k = FirstUnknownKey(b, {"model", "prompt", "system", "stream", "raw", "format", "options", "keep_alive",
                                   "images", "suffix", "template", "context", "think"}))
    return ApiError::Unsupported(*k);
  for (const char* k : {"suffix", "template", "context"})
    if (NonEmpty(b, k)) return ApiError::Unsupported(k);
  if (auto e = ParseShared(b, lim, n_ctx, out)) return e;
  if (auto e = GetString(b, "prompt", "prompt", &out->prompt)) return e;
  std::string system;
  if (auto e = GetString(b, "system", "system", &system)) return e;
  bool raw = false;
  if (auto e = GetBool(b, "raw", "raw", &raw)) return e;
  if (raw && !system.empty()) return ApiError::BadRequest("'system' cannot be combined with 'raw': true", "system");
  if (raw && NonEmpty(b, "images"))
    return ApiError::BadRequest("'images' need the chat template; they cannot be combined with 'raw': true", "images");
  if (auto e = CheckNoImageSlot(out->prompt, "prompt")) return e;
  if (auto e = CheckNoImageSlot(system, "system")) return e;
  std::string slots;
  if (auto e = ParseImages(b, "images", lim, &out->images, &slots)) return e;
  out->use_template = !raw;
  if (!raw) {
    if (!system.empty()) out->messages.push_back({"system", system});
    out->messages.push_back({"user", slots + out->prompt});
  }
  return std::nullopt;
}

std::string Rfc3339(std::chrono::system_clock::time_point t) {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(us / 1000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(us % 1000000));
  return buf;
}

namespace {

int64_t Ns(double ms) { return static_cast<int64_t>(ms * 1e6); }

Json TextField(const ApiRequest& req, const std::string& text, Json obj) {
  if (req.endpoint == Endpoint::kOllamaChat) obj["message"] = {{"role", "assistant"}, {"content", text}};
  else obj["response"] = text;
  return obj;
}

Json Details(const ModelInfo& m) {
  return Json{{"parent_model", ""}, {"format", "gguf"}, {"family", m.arch}, {"families", Json::array({m.arch})},
              {"parameter_size", ParameterSizeLabel(m.parameters)}, {"quantization_level", m.quantization}};
}

}  // namespace

Json OllamaDeltaJson(const ApiRequest& req, const std::string& model, const std::string& created_at,
                     const std::string& text) {
  return TextField(req, text, Json{{"model", model}, {"created_at", created_at}, {"done", false}});
}

Json OllamaFinalJson(const ApiRequest& req, const std::string& model, const std::string& created_at,
                     const std::string& text, const CompletionResult& r) {
  const ResultTimings& t = r.timings;
  Json j = TextField(req, text, Json{{"model", model}, {"created_at", created_at}});
  j["done"] = true;
  j["done_reason"] = OpenAIFinishReason(r.finish);
  j["total_duration"] = Ns(t.queue_ms + t.prompt_ms + t.gen_ms);
  j["load_duration"] = 0;
  j["prompt_eval_count"] = r.usage.prompt_tokens;
  j["prompt_eval_duration"] = Ns(t.prompt_ms);
  j["eval_count"] = r.usage.completion_tokens;
  j["eval_duration"] = Ns(t.gen_ms);
  return j;
}

std::string ParameterSizeLabel(int64_t n) {
  char buf[32];
  if (n >= 1000000000) std::snprintf(buf, sizeof buf, "%.1fB", n / 1e9);
  else std::snprintf(buf, sizeof buf, "%.0fM", n / 1e6);
  return buf;
}

Json OllamaTagsJson(const ModelInfo& m) {
  return Json{{"models", Json::array({{{"name", m.id}, {"model", m.id}, {"modified_at", Rfc3339(m.modified)},
                                        {"size", m.file_size}, {"digest", ""}, {"details", Details(m)}}})}};
}

Json OllamaShowJson(const ModelInfo& m) {
  Json info = {{"general.architecture", m.arch}, {"general.parameter_count", m.parameters},
               {m.arch + ".context_length", m.n_ctx_train}, {m.arch + ".embedding_length", m.n_embd},
               {m.arch + ".block_count", m.n_layer}};
  Json caps = Json::array({"completion"});
  if (m.vision) caps.push_back("vision");
  return Json{{"modelfile", ""}, {"parameters", "num_ctx " + std::to_string(m.n_ctx)}, {"template", ""},
              {"details", Details(m)}, {"model_info", info}, {"capabilities", caps},
              {"modified_at", Rfc3339(m.modified)}};
}

Json OllamaVersionJson() { return Json{{"version", "0.1.0"}}; }

}  // namespace gemrun::server
