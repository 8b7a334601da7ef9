// Ollama dialect: /api/chat and /api/generate request parsing (strict like the OpenAI side:
// unsupported fields and options are a 400 naming them), NDJSON line builders, and the
// /api/tags, /api/show and /api/version bodies. Pure functions.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "server/api.h"
#include "server/openai.h"
#include "server/result.h"

namespace gemrun::server {

// What the model-listing endpoints tell about the served model.
struct ModelInfo {
  std::string id;            // name clients use ("gemma-3-1b-it-Q4_0")
  std::string arch;          // general.architecture
  std::string quantization;  // dominant weight type ("Q4_0")
  uint64_t file_size = 0;
  int64_t parameters = 0;
  int64_t n_ctx_train = 0;
  int64_t n_embd = 0;
  int64_t n_layer = 0;
  int64_t n_ctx = 0;  // per-slot context the server runs with
  bool vision = false;  // a projector is loaded (images accepted)
  std::chrono::system_clock::time_point modified;
};

// n_ctx: options.num_ctx above it is refused (the server's per-slot context is fixed).
std::optional<ApiError> ParseOllamaChatRequest(const Json& body, const RequestLimits& lim, int64_t n_ctx,
                                               ApiRequest* out);
std::optional<ApiError> ParseOllamaGenerateRequest(const Json& body, const RequestLimits& lim, int64_t n_ctx,
                                                   ApiRequest* out);

// "2024-05-01T12:00:00.123456Z"
std::string Rfc3339(std::chrono::system_clock::time_point t);

// One streamed line's object (without the newline): message / response text, done: false.
Json OllamaDeltaJson(const ApiRequest& req, const std::string& model, const std::string& created_at,
                     const std::string& text);
// The final object (done: true, done_reason, counts and durations in ns). For non-streaming
// responses `text` is the whole output; for streams it is "".
Json OllamaFinalJson(const ApiRequest& req, const std::string& model, const std::string& created_at,
                     const std::string& text, const CompletionResult& r);

Json OllamaTagsJson(const ModelInfo& m);
Json OllamaShowJson(const ModelInfo& m);
Json OllamaVersionJson();

// "1.0B", "270M"
std::string ParameterSizeLabel(int64_t n);

}  // namespace gemrun::server
