// OpenAI dialect: /v1/chat/completions and /v1/completions request parsing (strict: every field
// we do not implement is a 400 naming it), and response / stream-chunk builders. Pure functions.
#pragma once

#include <optional>
#include <string>

#include "server/api.h"
#include "server/image_input.h"
#include "server/result.h"

namespace gemrun::server {

// Limits the parser enforces besides each field's own range.
struct RequestLimits {
  int64_t n_vocab = 0;        // logit_bias ids must be below it
  size_t max_messages = 1024;
  ImagePolicy images;         // image parts / Ollama images: allowed only when images.enabled
  // The body again with its key order kept (when it carries schemas): schemas compile in their
  // declared order (property order, and the first refused keyword is the one written first).
  const nlohmann::ordered_json* ordered = nullptr;
};

std::optional<ApiError> ParseChatCompletionRequest(const Json& body, const RequestLimits& lim, ApiRequest* out);
std::optional<ApiError> ParseCompletionRequest(const Json& body, const RequestLimits& lim, ApiRequest* out);

// Identity of one response: "chatcmpl-..." / "cmpl-..." id, model name, unix time.
struct ResponseMeta {
  std::string id;
  std::string model;
  int64_t created = 0;
};

Json UsageJson(const Usage& u);

// Non-streaming bodies.
Json ChatCompletionJson(const ResponseMeta& m, const CompletionResult& r, const ApiRequest& req);
Json CompletionJson(const ResponseMeta& m, const CompletionResult& r, const ApiRequest& req);

// Streaming chunks ("chat.completion.chunk" / "text_completion"). `tokens` are the ones this
// chunk covers (their text is concatenated; logprobs attached when asked for).
Json ChatRoleChunk(const ResponseMeta& m);  // first chunk: delta {"role": "assistant", "content": ""}
Json ChatDeltaChunk(const ResponseMeta& m, const std::vector<TokenOut>& tokens, const ApiRequest& req);
Json ChatFinishChunk(const ResponseMeta& m, FinishReason finish);
// A chunk with any delta and finish_reason (null or a word): held-back content and tool_calls
// deltas of a tools request, its "tool_calls" / "length" finish.
Json ChatChunk(const ResponseMeta& m, Json delta, Json finish_reason);
Json CompletionDeltaChunk(const ResponseMeta& m, const std::vector<TokenOut>& tokens, const ApiRequest& req);
Json CompletionFinishChunk(const ResponseMeta& m, FinishReason finish);
// The include_usage chunk: "choices": [] and "usage".
Json UsageChunk(const ResponseMeta& m, const char* object, const Usage& u);

// GET /v1/models.
Json ModelsJson(const std::string& model_id, int64_t created);

}  // namespace gemrun::server
