// OpenAI dialect implementation. Defaults follow OpenAI's API reference (temperature 1, top_p 1,
// no min-p) except top_k = 40 (llama.cpp's server default: sampling from the 40 most likely
// tokens, which keeps a 262k vocabulary cheap); top_k (0 = off), min_p and repeat_penalty are
// accepted as llama.cpp-style extensions.
#include "server/openai.h"

#include <cstdlib>

#include "server/audio_input.h"
#include "server/structured.h"
#include "tokenizer/utf8.h"

namespace gemrun::server {
namespace {

using Err = std::optional<ApiError>;

// Fields both OpenAI endpoints share: sampling, stop, seed, stream, n, user, logit_bias.
Err ParseCommon(const Json& b, const RequestLimits& lim, ApiRequest* out) {
  GenerateParams& g = out->gen;
  SamplingParams& s = g.sampling;
  s.temperature = 1.0f;
  s.top_p = 1.0f;
  s.top_k = 40;  // llama.cpp's server default; without it every token sorts the whole vocabulary
  s.min_p = 0.0f;
  if (!b.contains("model") || !b["model"].is_string())
    return b.contains("model") ? ApiError::BadRequest("'model' must be a string", "model", "invalid_type")
                               : ApiError::BadRequest("'model' is required", "model", "missing_required_parameter");
  out->model = b["model"].get<std::string>();
  if (auto e = GetFloat(b, "temperature", "temperature", 0, 2, &s.temperature)) return e;
  if (auto e = GetFloat(b, "top_p", "top_p", 0, 1, &s.top_p)) return e;
  if (auto e = GetFloat(b, "presence_penalty", "presence_penalty", -2, 2, &s.presence_penalty)) return e;
  if (auto e = GetFloat(b, "frequency_penalty", "frequency_penalty", -2, 2, &s.frequency_penalty)) return e;
  if (auto e = GetFloat(b, "min_p", "min_p", 0, 1, &s.min_p)) return e;
  if (auto e = GetFloat(b, "repeat_penalty", "repeat_penalty", 0, 10, &s.repeat_penalty)) return e;
  int64_t top_k = s.top_k, seed = 0, n = 1;
  if (auto e = GetInt(b, "top_k", "top_k", 0, 1 << 20, &top_k)) return e;
  s.top_k = static_cast<int>(top_k);
  if (b.contains("seed") && !b["seed"].is_null()) {
    if (auto e = GetInt(b, "seed", "seed", INT64_MIN, INT64_MAX, &seed)) return e;
    s.seed = static_cast<uint64_t>(seed);
    out->seed_given = true;
  }
  if (auto e = GetInt(b, "n", "n", 1, 1, &n))
    return ApiError::Unsupported("n", "only n = 1 is supported; send one request per choice");
  if (auto e = GetStop(b, "stop", "stop", 16, &g.stop)) return e;
  if (auto e = GetBool(b, "stream", "stream", &out->stream)) return e;
  if (b.contains("stream_options") && !b["stream_options"].is_null()) {
    const Json& so = b["stream_options"];
    if (!so.is_object()) return ApiError::BadRequest("'stream_options' must be an object", "stream_options", "invalid_type");
    if (auto k = FirstUnknownKey(so, {"include_usage"})) return ApiError::Unsupported("stream_options." + *k);
    if (!out->stream)
      return ApiError::BadRequest("'stream_options' is only allowed when 'stream' is true", "stream_options");
    if (auto e = GetBool(so, "include_usage", "stream_options.include_usage", &out->include_usage)) return e;
  }
  std::string user;
  if (auto e = GetString(b, "user", "user", &user)) return e;
  if (b.contains("logit_bias") && !b["logit_bias"].is_null()) {
    const Json& lb = b["logit_bias"];
    if (!lb.is_object()) return ApiError::BadRequest("'logit_bias' must be an object", "logit_bias", "invalid_type");
    if (lb.size() > 1024) return ApiError::BadRequest("'logit_bias' holds at most 1024 entries", "logit_bias");
    for (auto it = lb.begin(); it != lb.end(); ++it) {
      const std::string path = "logit_bias." + it.key();
      char* end = nullptr;
      const long long id = std::strtoll(it.key().c_str(), &end, 10);
      if (it.key().empty() || *end != '\0' || id < 0 || id >= lim.n_vocab)
        return ApiError::BadRequest("'logit_bias' keys must be token ids in [0, " + std::to_string(lim.n_vocab) + ")",
                                    path, "invalid_value");
      float bias = 0;
      if (auto e = GetFloat(lb, it.key().c_str(), path, -100, 100, &bias)) return e;
      s.logit_bias.emplace_back(static_cast<int32_t>(id), bias);
    }
  }
  return std::nullopt;
}

Err CheckSampling(const ApiRequest& r, const RequestLimits& lim) {
  const Status st = r.gen.sampling.Validate(lim.n_vocab);
  if (!st.ok()) return ApiError::BadRequest(st.message(), "", "invalid_value");
  return std::nullopt;
}

// An {"type": "image_url", "image_url": {"url": ..., "detail": ...}} part of a user message.
Err ParseImagePart(const Json& part, const std::string& p, const RequestLimits& lim, std::vector<ImageInput>* images) {
  if (auto e = CheckImageAllowed(lim.images, images->size(), p)) return e;
  if (auto k = FirstUnknownKey(part, {"type", "image_url"})) return ApiError::Unsupported(p + "." + *k);
  const std::string ip = p + ".image_url";
  if (!part.contains("image_url") || !part["image_url"].is_object())
    return ApiError::BadRequest("'" + ip + "' must be an object with a 'url'", ip,
                                part.contains("image_url") ? "invalid_type" : "missing_required_parameter");
  const Json& iu = part["image_url"];
  if (auto k = FirstUnknownKey(iu, {"url", "detail"})) return ApiError::Unsupported(ip + "." + *k);
  std::string detail = "auto", url;
  if (auto e = GetString(iu, "detail", ip + ".detail", &detail)) return e;
  if (detail != "auto" && detail != "low" && detail != "high")
    return ApiError::BadRequest("'" + ip + ".detail' must be auto, low or high", ip + ".detail", "invalid_value");
  if (!iu.contains("url") || iu["url"].is_null())
    return ApiError::BadRequest("'" + ip + ".url' is required", ip + ".url", "missing_required_parameter");
  if (auto e = GetString(iu, "url", ip + ".url", &url)) return e;
  ImageInput in;
  if (auto e = ParseImageUrl(url, ip + ".url", lim.images, &in)) return e;
  images->push_back(std::move(in));
  return std::nullopt;
}

// A message's content: a string, or an array of {"type": "text", "text": ...} parts and, in
// user messages, image_url parts (each leaves kImageSlot where it stood).
Err ParseContent(const Json& c, const std::string& path, const std::string& role, const RequestLimits& lim,
                 std::string* out, std::vector<ImageInput>* images) {
  if (c.is_string()) {
    *out = c.get<std::string>();
    if (auto e = CheckNoAudioSlot(*out, path)) return e;
    return CheckNoImageSlot(*out, path);
  }
  if (!c.is_array()) return ApiError::BadRequest("'" + path + "' must be a string or an array of content parts", path, "invalid_type");
  for (size_t i = 0; i < c.size(); ++i) {
    const std::string p = path + "[" + std::to_string(i) + "]";
    const Json& part = c[i];
    if (!part.is_object() || !part.contains("type") || !part["type"].is_string())
      return ApiError::BadRequest("'" + p + "' must be an object with a string 'type'", p, "invalid_type");
    if (part["type"] == "image_url" && role == "user") {
      if (auto e = ParseImagePart(part, p, lim, images)) return e;
      *out += kImageSlot;
      continue;
    }
    if (part["type"] == "input_audio" && role == "user") {
      if (auto e = ParseAudioPart(part, p, lim.images.max_images, images)) return e;
      *out += kAudioSlot;
      continue;
    }
    if (part["type"] != "text")
      return ApiError::Unsupported(p + ".type", part["type"] == "image_url"
                                                    ? "image parts are accepted in user messages only"
                                                    : "only \"text\", \"image_url\" and \"input_audio\" content parts are supported");
    if (auto k = FirstUnknownKey(part, {"type", "text"})) return ApiError::Unsupported(p + "." + *k);
    std::string text;
    if (auto e = GetString(part, "text", p + ".text", &text)) return e;
    if (auto e = CheckNoImageSlot(text, p + ".text")) return e;
    if (auto e = CheckNoAudioSlot(text, p + ".text")) return e;
    *out += text;
  }
  return std::nullopt;
}

Err ParseMessages(const Json& b, const RequestLimits& lim, std::vector<ChatMessage>* out,
                  std::vector<ImageInput>* images, std::vector<MessageTools>* tools) {
  if (!b.contains("messages")) return ApiError::BadRequest("'messages' is required", "messages", "missing_required_parameter");
  const Json& ms = b["messages"];
  if (!ms.is_array()) return ApiError::BadRequest("'messages' must be an array", "messages", "invalid_type");
  if (ms.empty()) return ApiError::BadRequest("'messages' must hold at least one message", "messages");
  if (ms.size() > lim.max_messages)
    return ApiError::BadRequest("'messages' holds at most " + std::to_string(lim.max_messages) + " messages", "messages");
  for (size_t i = 0; i < ms.size(); ++i) {
    const std::string p = "messages[" + std::to_string(i) + "]";
    const Json& m = ms[i];
    if (!m.is_object()) return ApiError::BadRequest("'" + p + "' must be an object", p, "invalid_type");
    if (auto k = FirstUnknownKey(m, {"role", "content", "tool_calls", "tool_call_id", "name"}))
      return ApiError::Unsupported(p + "." + *k);
    ChatMessage msg;
    if (!m.contains("role") || !m["role"].is_string())
      return ApiError::BadRequest("'" + p + ".role' must be a string", p + ".role", "invalid_type");
    msg.role = m["role"].get<std::string>();
    if (msg.role != "system" && msg.role != "developer" && msg.role != "user" && msg.role != "assistant" &&
        msg.role != "tool")
      return ApiError::BadRequest("'" + p + ".role' must be system, developer, user, assistant or tool, got '" +
                                  msg.role + "'", p + ".role", "invalid_value");
    if (m.contains("name") && msg.role != "tool") return ApiError::Unsupported(p + ".name");
    MessageTools mt;
    if (m.contains("tool_calls") && msg.role != "assistant")
      return ApiError::BadRequest("'" + p + ".tool_calls' is allowed in assistant messages only", p + ".tool_calls");
    if (auto e = ParseMessageToolCalls(m.value("tool_calls", Json()), p + ".tool_calls", &mt.calls)) return e;
    if (msg.role == "tool") {
      if (auto e = GetString(m, "tool_call_id", p + ".tool_call_id", &mt.tool_name)) return e;
      if (mt.tool_name.empty())
        return ApiError::BadRequest("'" + p + ".tool_call_id' is required in tool messages (the id of the call it "
                                    "answers)", p + ".tool_call_id", "missing_required_parameter");
    }
    const bool content_optional = !mt.calls.empty();
    if (!m.contains("content") || m["content"].is_null()) {
      if (!content_optional)
        return ApiError::BadRequest("'" + p + ".content' is required", p + ".content", "missing_required_parameter");
    } else if (auto e = ParseContent(m["content"], p + ".content", msg.role, lim, &msg.content, images)) {
      return e;
    }
    tools->push_back(std::move(mt));
    // OpenAI's newer name for the system role: the chat templates know only "system", and a
    // developer message must reach the model exactly as a system message would.
    if (msg.role == "developer") msg.role = "system";
    out->push_back(std::move(msg));
  }
  return std::nullopt;
}

// llama-server's per-request thought budget (either name). A budget without reasoning_effort turns
// thinking on (that is what a client sending one expects); 0 means no thought at all.
Err ParseReasoningBudget(const Json& b, const std::string& effort, ApiRequest* out) {
  const bool a = b.contains("reasoning_budget_tokens") && !b["reasoning_budget_tokens"].is_null();
  const bool t = b.contains("thinking_budget_tokens") && !b["thinking_budget_tokens"].is_null();
  if (a && t)
    return ApiError::BadRequest("give 'reasoning_budget_tokens' or 'thinking_budget_tokens', not both",
                                "thinking_budget_tokens", "invalid_value");
  if (!a && !t) return std::nullopt;
  const char* key = a ? "reasoning_budget_tokens" : "thinking_budget_tokens";
  int64_t budget = -1;
  if (auto e = GetInt(b, key, key, -1, INT64_MAX, &budget)) return e;
  if (budget < 0) return std::nullopt;  // -1: no cap, as in llama-server
  if (effort == "none" || effort == "minimal") {
    if (budget > 0)
      return ApiError::BadRequest("'" + std::string(key) + "' needs thinking, but 'reasoning_effort' is '" + effort + "'",
                                  key, "invalid_value");
    return std::nullopt;
  }
  out->reasoning = budget > 0;
  out->reasoning_budget = budget;
  return std::nullopt;
}

}  // namespace

Err ParseChatCompletionRequest(const Json& b, const RequestLimits& lim, ApiRequest* out) {
  *out = ApiRequest{};
  out->endpoint = Endpoint::kChatCompletions;
  if (auto k = FirstUnknownKey(b, {"model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p",
                                   "stop", "seed", "presence_penalty", "frequency_penalty", "logprobs", "top_logprobs",
                                   "stream", "stream_options", "n", "user", "logit_bias", "top_k", "min_p",
                                   "repeat_penalty", "response_format", "tools", "tool_choice",
                                   "parallel_tool_calls", "reasoning_effort", "reasoning_budget_tokens",
                                   "thinking_budget_tokens", "grammar"}))
    return ApiError::Unsupported(*k);
  if (auto e = ParseCommon(b, lim, out)) return e;
  if (auto e = ParseMessages(b, lim, &out->messages, &out->images, &out->tools.messages)) return e;
  if (b.contains("response_format"))
    if (auto e = ParseResponseFormat(b["response_format"], OrderedField(lim.ordered, "response_format"), &out->gen))
      return e;
  bool parallel = true;
  if (auto e = GetBool(b, "parallel_tool_calls", "parallel_tool_calls", &parallel)) return e;
  if (auto e = ParseTools(b, lim.ordered, /*openai=*/true, &out->tools)) return e;
  if (!parallel) out->tools.choice.max_calls = 1;
  std::string effort;
  if (auto e = GetString(b, "reasoning_effort", "reasoning_effort", &effort)) return e;
  if (!effort.empty() && effort != "none" && effort != "minimal" && effort != "low" && effort != "medium" &&
      effort != "high")
    return ApiError::BadRequest("'reasoning_effort' must be none, minimal, low, medium or high", "reasoning_effort",
                                "invalid_value");
  out->reasoning = effort == "low" || effort == "medium" || effort == "high";
  if (auto e = ParseReasoningBudget(b, effort, out)) return e;
  // llama.cpp's extension: a GBNF grammar for the answer.
  std::string grammar;
  if (auto e = GetString(b, "grammar", "grammar", &grammar)) return e;
  if (!grammar.empty()) {
    if (out->gen.grammar)
      return ApiError::BadRequest("'grammar' cannot be combined with 'response_format'", "grammar", "invalid_value");
    auto g = constrain::CompileGbnf(grammar);
    if (!g.ok()) return ApiError::BadRequest("'grammar' was refused: " + g.status().message(), "grammar", "invalid_grammar");
    out->gen.grammar = *g;
  }
  int64_t max_tokens = -1;
  if (auto e = GetInt(b, "max_tokens", "max_tokens", 1, INT64_MAX, &max_tokens)) return e;
  if (auto e = GetInt(b, "max_completion_tokens", "max_completion_tokens", 1, INT64_MAX, &max_tokens)) return e;
  out->gen.max_tokens = max_tokens;
  if (auto e = GetBool(b, "logprobs", "logprobs", &out->gen.logprobs)) return e;
  int64_t top = 0;
  if (auto e = GetInt(b, "top_logprobs", "top_logprobs", 0, 20, &top)) return e;
  if (top > 0 && !out->gen.logprobs)
    return ApiError::BadRequest("'top_logprobs' requires 'logprobs': true", "top_logprobs");
  out->gen.top_logprobs = static_cast<int>(top);
  return CheckSampling(*out, lim);
}

Err ParseCompletionRequest(const Json& b, const RequestLimits& lim, ApiRequest* out) {
  *out = ApiRequest{};
  out->endpoint = Endpoint::kCompletions;
  out->use_template = false;
  if (auto k = FirstUnknownKey(b, {"model", "prompt", "max_tokens", "temperature", "top_p", "stop", "seed",
                                   "presence_penalty", "frequency_penalty", "logprobs", "stream", "stream_options", "n",
                                   "user", "logit_bias", "top_k", "min_p", "repeat_penalty", "echo", "best_of",
                                   "suffix"}))
    return ApiError::Unsupported(*k);
  if (auto e = ParseCommon(b, lim, out)) return e;
  if (!b.contains("prompt")) return ApiError::BadRequest("'prompt' is required", "prompt", "missing_required_parameter");
  const Json& p = b["prompt"];
  if (p.is_string()) out->prompt = p.get<std::string>();
  else if (p.is_array() && p.size() == 1 && p[0].is_string()) out->prompt = p[0].get<std::string>();
  else if (p.is_array() && !p.empty() && !p[0].is_string())
    return ApiError::Unsupported("prompt", "token-id prompts are not supported; send text");
  else if (p.is_array()) return ApiError::Unsupported("prompt", "send exactly one prompt string per request");
  else return ApiError::BadRequest("'prompt' must be a string", "prompt", "invalid_type");
  bool echo = false;
  if (auto e = GetBool(b, "echo", "echo", &echo)) return e;
  if (echo) return ApiError::Unsupported("echo");
  int64_t best_of = 1;
  if (GetInt(b, "best_of", "best_of", 1, 1, &best_of)) return ApiError::Unsupported("best_of", "only best_of = 1");
  if (b.contains("suffix") && !b["suffix"].is_null()) return ApiError::Unsupported("suffix");
  int64_t max_tokens = 16;  // the legacy endpoint's documented default
  if (auto e = GetInt(b, "max_tokens", "max_tokens", 1, INT64_MAX, &max_tokens)) return e;
  out->gen.max_tokens = max_tokens;
  int64_t lp = -1;
  if (auto e = GetInt(b, "logprobs", "logprobs", 0, 5, &lp)) return e;
  if (lp >= 0) {
    out->gen.logprobs = true;
    out->gen.top_logprobs = static_cast<int>(lp);
  }
  return CheckSampling(*out, lim);
}

Json UsageJson(const Usage& u) {
  return Json{{"prompt_tokens", u.prompt_tokens},
              {"completion_tokens", u.completion_tokens},
              {"total_tokens", u.prompt_tokens + u.completion_tokens},
              {"prompt_tokens_details", {{"cached_tokens", u.cached_tokens}}}};
}

namespace {

Json Bytes(const std::string& s) {
  Json a = Json::array();
  for (unsigned char c : s) a.push_back(static_cast<int>(c));
  return a;
}

// Token text for logprobs: JSON strings must be valid UTF-8, and a lone byte piece is not.
std::string SafeText(const std::string& s) { return utf8::Sanitize(s); }

// {"content": [{"token", "logprob", "bytes", "top_logprobs": [...]}, ...]}
Json ChatLogprobs(const std::vector<TokenOut>& tokens) {
  Json content = Json::array();
  for (const TokenOut& t : tokens) {
    if (t.eog) continue;
    Json top = Json::array();
    for (const auto& [piece, lp] : t.top)
      top.push_back({{"token", SafeText(piece)}, {"logprob", lp}, {"bytes", Bytes(piece)}});
    content.push_back({{"token", SafeText(t.piece)}, {"logprob", t.logprob}, {"bytes", Bytes(t.piece)}, {"top_logprobs", top}});
  }
  return Json{{"content", content}, {"refusal", nullptr}};
}

// Legacy completions form; text_offset counts bytes from `offset0`.
Json CompletionLogprobs(const std::vector<TokenOut>& tokens, size_t offset0) {
  Json toks = Json::array(), lps = Json::array(), tops = Json::array(), offs = Json::array();
  size_t off = offset0;
  for (const TokenOut& t : tokens) {
    if (t.eog) continue;
    toks.push_back(SafeText(t.piece));
    lps.push_back(t.logprob);
    Json top = Json::object();
    for (const auto& [piece, lp] : t.top) top[SafeText(piece)] = lp;
    tops.push_back(top);
    offs.push_back(off);
    off += t.text.size();
  }
  return Json{{"tokens", toks}, {"token_logprobs", lps}, {"top_logprobs", tops}, {"text_offset", offs}};
}

std::string Concat(const std::vector<TokenOut>& tokens) {
  std::string s;
  for (const TokenOut& t : tokens) s += t.text;
  return s;
}

Json Chunk(const ResponseMeta& m, const char* object, Json choice) {
  return Json{{"id", m.id}, {"object", object}, {"created", m.created}, {"model", m.model},
              {"system_fingerprint", "gemrun"}, {"choices", Json::array({std::move(choice)})}};
}

}  // namespace

Json ChatCompletionJson(const ResponseMeta& m, const CompletionResult& r, const ApiRequest& req) {
  const StructuredAnswer a = FinishAnswer(r, req);
  Json msg = {{"role", "assistant"}, {"content", a.content}, {"refusal", nullptr}};
  if (req.reasoning) msg["reasoning_content"] = a.reasoning;
  std::string finish = OpenAIFinishReason(r.finish);
  if (!a.calls.empty()) {
    msg["tool_calls"] = OpenAIToolCallsJson(a.calls, /*stream=*/false);
    if (a.content.empty()) msg["content"] = nullptr;
    finish = "tool_calls";
  }
  Json choice = {{"index", 0},
                 {"message", msg},
                 {"logprobs", req.gen.logprobs ? ChatLogprobs(r.tokens) : Json()},
                 {"finish_reason", finish}};
  Json out = {{"id", m.id}, {"object", "chat.completion"}, {"created", m.created}, {"model", m.model},
              {"system_fingerprint", "gemrun"}, {"usage", UsageJson(r.usage)}};
  if (a.error) {
    // Fail closed: the answer is incomplete; say so next to it, never as a plain success.
    choice["finish_reason"] = "length";
    choice["error"] = StructuredErrorJson(*a.error);
    out["error"] = choice["error"];
  }
  out["choices"] = Json::array({choice});
  return out;
}

Json ChatChunk(const ResponseMeta& m, Json delta, Json finish_reason) {
  return Chunk(m, "chat.completion.chunk",
               {{"index", 0}, {"delta", std::move(delta)}, {"logprobs", nullptr}, {"finish_reason", std::move(finish_reason)}});
}

Json CompletionJson(const ResponseMeta& m, const CompletionResult& r, const ApiRequest& req) {
  Json choice = {{"index", 0},
                 {"text", r.text},
                 {"logprobs", req.gen.logprobs ? CompletionLogprobs(r.tokens, 0) : Json()},
                 {"finish_reason", OpenAIFinishReason(r.finish)}};
  return Json{{"id", m.id}, {"object", "text_completion"}, {"created", m.created}, {"model", m.model},
              {"system_fingerprint", "gemrun"}, {"choices", Json::array({choice})}, {"usage", UsageJson(r.usage)}};
}

Json ChatRoleChunk(const ResponseMeta& m) {
  return Chunk(m, "chat.completion.chunk",
               {{"index", 0}, {"delta", {{"role", "assistant"}, {"content", ""}}}, {"logprobs", nullptr},
                {"finish_reason", nullptr}});
}

Json ChatDeltaChunk(const ResponseMeta& m, const std::vector<TokenOut>& tokens, const ApiRequest& req) {
  return Chunk(m, "chat.completion.chunk",
               {{"index", 0}, {"delta", {{"content", Concat(tokens)}}},
                {"logprobs", req.gen.logprobs ? ChatLogprobs(tokens) : Json()}, {"finish_reason", nullptr}});
}

Json ChatFinishChunk(const ResponseMeta& m, FinishReason finish) {
  return Chunk(m, "chat.completion.chunk",
               {{"index", 0}, {"delta", Json::object()}, {"logprobs", nullptr}, {"finish_reason", OpenAIFinishReason(finish)}});
}

Json CompletionDeltaChunk(const ResponseMeta& m, const std::vector<TokenOut>& tokens, const ApiRequest& req) {
  return Chunk(m, "text_completion",
               {{"index", 0}, {"text", Concat(tokens)},
                {"logprobs", req.gen.logprobs ? CompletionLogprobs(tokens, 0) : Json()}, {"finish_reason", nullptr}});
}

Json CompletionFinishChunk(const ResponseMeta& m, FinishReason finish) {
  return Chunk(m, "text_completion",
               {{"index", 0}, {"text", ""}, {"logprobs", nullptr}, {"finish_reason", OpenAIFinishReason(finish)}});
}

Json UsageChunk(const ResponseMeta& m, const char* object, const Usage& u) {
  return Json{{"id", m.id}, {"object", object}, {"created", m.created}, {"model", m.model},
              {"system_fingerprint", "gemrun"}, {"choices", Json::array()}, {"usage", UsageJson(u)}};
}

Json ModelsJson(const std::string& model_id, int64_t created) {
  return Json{{"object", "list"},
              {"data", Json::array({{{"id", model_id}, {"object", "model"}, {"created", created}, {"owned_by", "gemrun"}}})}};
}

}  // namespace gemrun::server
