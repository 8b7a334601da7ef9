// The server's protocol-neutral request and error types, and the strict JSON body reader that
// every endpoint shares. Everything here is pure (no sockets, no model) so the JSON <-> request
// mapping of both dialects (openai.h, ollama.h) is unit-testable.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "constrain/tool_grammar.h"
#include "engine/generation.h"
#include "engine/image_prompt.h"
#include "engine/tool_calls.h"
#include "tokenizer/chat_template.h"

namespace gemrun::server {

using Json = nlohmann::json;

enum class Endpoint {
  kChatCompletions,  // POST /v1/chat/completions
  kCompletions,      // POST /v1/completions
  kOllamaChat,       // POST /api/chat
  kOllamaGenerate,   // POST /api/generate
};

// A client-facing error: HTTP status plus OpenAI's error object fields. Ollama endpoints render
// the same error as {"error": message}.
struct ApiError {
  int status = 400;
  std::string type = "invalid_request_error";  // OpenAI "type"
  std::string message;
  std::string param;  // offending field path, e.g. "messages[2].content" ("" if none)
  std::string code;   // machine-readable reason, e.g. "unsupported_parameter" ("" if none)

  static ApiError Of(int status, std::string type, std::string message, std::string code = "");
  static ApiError BadRequest(std::string message, std::string param = "", std::string code = "");
  static ApiError Unsupported(const std::string& param, const std::string& why = "");
};

// {"error": {"message", "type", "param", "code"}} (param/code null when empty).
Json OpenAIErrorJson(const ApiError& e);
// {"error": message}
Json OllamaErrorJson(const ApiError& e);

// kImageSlot (engine/image_prompt.h) marks an image's place in ChatMessage::content after
// parsing; the handler swaps it for the family's image tokens. Request text that contains it
// is refused, so a client cannot forge one.

// One image of a request, in prompt order. Exactly one of `bytes` / `file` is set.
struct ImageInput {
  std::string param;  // field path for errors, e.g. "messages[0].content[1].image_url.url"
  std::string bytes;  // encoded image (PNG/JPEG) from a data: URL or base64 string
  std::string file;   // a local path, allowed by --allow-image-files, read by the handler
  std::string url;    // an http(s) URL, allowed by --allow-image-urls, fetched by the handler
  bool audio = false;  // an input_audio clip (bytes: WAV/MP3/FLAC; slot kAudioSlot), see audio_input.h
};

// Per-message tool data (parallel to ApiRequest::messages).
struct MessageTools {
  std::vector<ToolCall> calls;  // an assistant message's tool_calls
  std::string tool_name;        // a tool message: the function that produced it
};

struct ToolRequest {
  bool given = false;  // tools were declared and tool_choice is not "none"
  std::vector<constrain::ToolDecl> decls;
  constrain::ToolChoice choice;
  std::vector<MessageTools> messages;
  constrain::ToolSyntax syntax = constrain::ToolSyntax::kJson;  // the model's (set by PrepareTools)
};

// What a generation endpoint asks for, after validation.
struct ApiRequest {
  Endpoint endpoint = Endpoint::kChatCompletions;
  std::string model;                  // as the client named it (echoed back)
  std::vector<ChatMessage> messages;  // chat endpoints (and Ollama generate, templated)
  std::string prompt;                 // completion endpoints: raw text, no template
  bool use_template = true;           // false: `prompt` is tokenized as is (BOS added)
  GenerateParams gen;                 // max_tokens < 0: until the context is full
  bool seed_given = false;            // otherwise the server picks a random seed
  bool stream = false;
  bool include_usage = false;         // stream_options.include_usage
  std::vector<ImageInput> images;     // each has one kImageSlot in `messages`, same order
  ToolRequest tools;                  // tools / tool_choice / tool history (server/structured.h)
  bool reasoning = false;             // thinking on (OpenAI reasoning_effort, Ollama think; Gemma 4)
  int64_t reasoning_budget = -1;      // thought tokens before the close is forced; < 0: the server's default
};

// Largest nesting depth of a request body: deeper documents are refused before parsing.
constexpr int kMaxJsonDepth = 64;

// Parses a request body as one JSON object. Errors (400): not JSON (with the byte offset),
// nested deeper than kMaxJsonDepth, not an object.
std::optional<ApiError> ParseJsonBody(std::string_view body, Json* out);

// Typed field readers shared by both dialects: absent or null leaves *out unchanged; a value of
// the wrong type or out of range is a 400 naming `path`.
std::optional<ApiError> GetBool(const Json& obj, const char* key, const std::string& path, bool* out);
std::optional<ApiError> GetString(const Json& obj, const char* key, const std::string& path, std::string* out);
std::optional<ApiError> GetInt(const Json& obj, const char* key, const std::string& path, int64_t lo, int64_t hi,
                               int64_t* out);
std::optional<ApiError> GetFloat(const Json& obj, const char* key, const std::string& path, double lo, double hi,
                                 float* out);
// A string or an array of strings (at most max_n, each 1..256 bytes).
std::optional<ApiError> GetStop(const Json& obj, const char* key, const std::string& path, size_t max_n,
                                std::vector<std::string>* out);

// The first key of `obj` that is not in `known` (nullopt when all are known).
std::optional<std::string> FirstUnknownKey(const Json& obj, std::initializer_list<std::string_view> known);

// Compares secrets in time that depends only on their lengths, not on where they differ.
bool ConstantTimeEquals(std::string_view a, std::string_view b);
// True when `authorization` is "Bearer <key>" (scheme case-insensitive) with exactly `key`.
bool BearerMatches(std::string_view authorization, std::string_view key);

}  // namespace gemrun::server
