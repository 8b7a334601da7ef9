// Structured output and tool calling on the server, for both dialects: request fields
// (OpenAI response_format / tools / tool_choice / tool messages, Ollama format / tools) ->
// a compiled constraint on the request, and the answer -> content + tool_calls (or an explicit
// error when the constrained answer is incomplete: fail closed, never a 200 with broken JSON).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "constrain/tool_grammar.h"
#include "engine/tool_calls.h"
#include "server/api.h"
#include "server/result.h"

namespace gemrun::server {

// OpenAI "response_format": text | json_object | json_schema {name, strict, schema}. A schema
// that does not compile is a 400 naming the keyword; the grammar goes to gen->grammar.
// `ordered`: the same field with its key order (nullptr: use `rf`).
std::optional<ApiError> ParseResponseFormat(const Json& rf, const nlohmann::ordered_json* ordered, GenerateParams* gen);
// Ollama "format": "json" or a JSON Schema object.
std::optional<ApiError> ParseOllamaFormat(const Json& format, const nlohmann::ordered_json* ordered,
                                          GenerateParams* gen);
// "tools" and "tool_choice" (OpenAI: "auto" | "none" | "required" | {"type": "function",
// "function": {"name"}}; Ollama: tools only, choice auto). Every function's parameters are
// compiled here (400 naming the keyword and the function).
std::optional<ApiError> ParseTools(const Json& body, const nlohmann::ordered_json* ordered_body, bool openai,
                                   ToolRequest* out);
// The field `key` of the ordered body, if there is one.
const nlohmann::ordered_json* OrderedField(const nlohmann::ordered_json* body, const char* key);
// An assistant message's "tool_calls" (arguments as a JSON string (OpenAI) or object (Ollama)).
std::optional<ApiError> ParseMessageToolCalls(const Json& calls, const std::string& path, std::vector<ToolCall>* out);

// Before the prompt is built: the call grammar in the model's syntax, the declarations into
// `opts`, history calls/results into the messages (Gemma 3 folds tool messages into user turns),
// a shared vocabulary trie for any constraint.
std::optional<ApiError> PrepareTools(const Tokenizer& tok, ChatFormat format, ToolRequest* tools,
                                     std::vector<ChatMessage>* messages, GenerateParams* gen, ChatOptions* opts);

// The answer of a finished request: content and calls, or an error (incomplete constrained
// answer, or calls that do not parse). ids "call_<k>".
struct StructuredAnswer {
  std::string content;    // the answer (thought removed)
  std::string reasoning;  // the thought channel (ApiRequest::reasoning)
  std::vector<ToolCall> calls;
  std::optional<std::string> error;  // why the answer is not a valid result (finish_reason becomes "length")
};
StructuredAnswer FinishAnswer(const CompletionResult& r, const ApiRequest& req);

// {"message", "type": "invalid_response_error", "code": "constraint_incomplete"}
Json StructuredErrorJson(const std::string& message);
// OpenAI tool_calls array: [{"id", "type": "function", "function": {"name", "arguments": STRING}}]
// (with "index" when streamed).
Json OpenAIToolCallsJson(const std::vector<ToolCall>& calls, bool stream);
// Ollama tool_calls array: [{"function": {"name", "arguments": OBJECT}}]
Json OllamaToolCallsJson(const std::vector<ToolCall>& calls);

}  // namespace gemrun::server
