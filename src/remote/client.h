// An OpenAI-compatible chat client over libcurl (vLLM, llama-server, Ollama, another gemrun):
// TLS verification always on, no redirects, connect and total timeouts, retries with exponential
// backoff on 429 / 5xx / connection errors. It sends bodies it is given: redaction happens before
// (remote/router.h), so nothing here sees an unredacted prompt.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"

namespace gemrun::remote {

struct Message {
  std::string role;  // "system" | "user" | "assistant"
  std::string content;
};

struct ChatRequest {
  std::vector<Message> messages;
  int64_t max_tokens = 0;                       // 0: the remote's default
  std::optional<nlohmann::json> response_format;  // OpenAI response_format (json_object / json_schema)
  std::string model;                            // empty: "default" (servers that host one model ignore it)
  bool stream = false;                          // ask for SSE; the answer is still returned whole
};
// The JSON body for `req` (already redacted by the caller).
std::string BuildChatBody(const ChatRequest& req);

struct ClientOptions {
  std::string url;          // base ("https://host:8000", ".../v1") or the full ".../chat/completions"
  std::string key;          // bearer token; empty: no Authorization header
  int64_t connect_timeout_ms = 10'000;
  int64_t timeout_ms = 300'000;  // the whole request, per attempt
  int retries = 2;               // extra attempts after the first (429, 5xx, connection errors)
  int64_t backoff_ms = 500;      // first wait; doubles per retry, capped at 8 s
};

struct ChatResponse {
  std::string text;
  std::string finish_reason;
  int64_t prompt_tokens = -1, completion_tokens = -1;  // -1: the remote reported no usage
  long http_status = 0;
  int attempts = 0;
  double latency_ms = 0;  // all attempts, backoff included
};

// The endpoint `url` resolves to: ".../chat/completions" as is, otherwise "/v1/chat/completions"
// appended (or "/chat/completions" after a trailing "/v1").
std::string ChatEndpoint(const std::string& url);

// Parses a chat.completion JSON or an SSE stream of chat.completion.chunk events.
// Internal error (with the first bytes) for anything else.
StatusOr<ChatResponse> ParseChatResponse(const std::string& body);

// Reads the key: from `key_file` (first line, trimmed) when given, else $GEMRUN_REMOTE_KEY, else "".
StatusOr<std::string> LoadRemoteKey(const std::string& key_file);

class Client {
 public:
  explicit Client(ClientOptions opts) : opts_(std::move(opts)) {}
  // POSTs `body` to the chat endpoint. On failure the status says what happened on the last
  // attempt (HTTP status, curl error, invalid JSON); `attempts_out` counts the attempts made.
  StatusOr<ChatResponse> Chat(const std::string& body, int* attempts_out = nullptr) const;
  const ClientOptions& options() const { return opts_; }

 private:
  ClientOptions opts_;
};

}  // namespace gemrun::remote
