// Pieces shared by the HTTP server's files (not part of the server's interface): the per-request
// log record, error responses, and socket-level client-disconnect detection.
#pragma once

#include <httplib.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "server/api.h"
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
  std::string prompt;  // only with --log-prompts
  bool client_gone = false;
};
RequestLog& CurrentLog();

// Writes an error body in the endpoint's dialect (Ollama paths get {"error": msg}).
void SendError(const httplib::Request& req, httplib::Response& res, const ApiError& e);
void SendJson(httplib::Response& res, const Json& j, int status = 200);

// The connected socket of this request, found by its address pair (httplib does not expose it
// to handlers); -1 if not found. Valid until the handler's connection closes.
int FindConnectionSocket(const httplib::Request& req);
// True once the peer has closed or reset the connection (checks without blocking or reading).
bool PeerClosed(int fd);

struct GenerateContext {
  const ServerOptions* opts;
  const Backend* backend;
  Metrics* metrics;
};
// POST /v1/chat/completions, /v1/completions, /api/chat, /api/generate.
void HandleGenerate(const GenerateContext& ctx, Endpoint ep, const httplib::Request& req, httplib::Response& res,
                    const httplib::ContentReader& reader);

}  // namespace gemrun::server
