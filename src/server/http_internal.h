// Pieces shared by the HTTP server's files (not part of the server's interface): the per-request
// log record, the request id, error responses.
#pragma once

#include <httplib.h>

#include <chrono>
#include <cstdint>
#include <exception>
#include <string>

#include "server/api.h"
#include "server/byte_budget.h"
#include "server/connections.h"
#include "server/http_server.h"

namespace gemrun::server {

// Everything the one log line per request needs. Handler, stream provider and logger of one
// request all run on the connection's thread, so a thread_local record carries it between them.
struct RequestLog {
  uint64_t id = 0;
  std::chrono::steady_clock::time_point start;
  int64_t prompt_tokens = -1;
  int64_t cached_tokens = 0;
  int64_t gen_tokens = 0;
  double queue_ms = 0, ttft_ms = -1, gen_ms = 0;
  int64_t images = 0;     // images in the request
  double image_ms = 0;    // encoding them (waiting for the encoder included)
  std::string finish;
  std::string error;
  std::string detail;  // what the client is not told (e.g. why an image URL was refused)
  std::string prompt;  // only with --log-prompts
  bool client_gone = false;
};
RequestLog& CurrentLog();
// "req-000042": the one spelling of a request id (X-Request-Id, the log line, error messages).
std::string RequestIdText(uint64_t id);

// Writes an error body in the endpoint's dialect (Ollama paths get {"error": msg}).
void SendError(const httplib::Request& req, httplib::Response& res, const ApiError& e);
void SendJson(httplib::Response& res, const Json& j, int status = 200);
// A 500 for an exception escaping a handler: "internal server error (request req-…)" to the
// client, the exception's text to the log only.
void SendInternalError(const httplib::Request& req, httplib::Response& res, std::exception_ptr ep);

struct GenerateContext {
  const ServerOptions* opts;
  const Backend* backend;
  Metrics* metrics;
  ByteBudget* budget;  // server-wide: request bodies and image bytes held at once
};
// POST /v1/chat/completions, /v1/completions, /api/chat, /api/generate.
void HandleGenerate(const GenerateContext& ctx, Endpoint ep, const httplib::Request& req, httplib::Response& res,
                    const httplib::ContentReader& reader);

}  // namespace gemrun::server
