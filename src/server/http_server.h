// The HTTP front end of `gemrun serve` (cpp-httplib's parser and routes on our connection layer,
// connections.h): routes, Bearer auth, CORS, body limits, one log line per request, and the
// bridge from HTTP threads to the Scheduler (streaming as SSE or NDJSON, client-disconnect
// detection, timeouts). The server listens before the model is loaded so /health can answer 503
// while loading; SetBackend() makes it ready.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "engine/engine.h"
#include "remote/router.h"
#include "server/audio_input.h"
#include "server/image_prompt.h"
#include "server/metrics.h"
#include "server/ollama.h"
#include "server/scheduler.h"
#include "tokenizer/chat_template.h"

namespace gemrun::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                   // 0: any free port (Bind() returns it)
  std::string api_key;               // empty: no auth
  std::string cors_origin;           // empty: no CORS headers
  size_t max_body_bytes = 8u << 20;  // larger bodies get 413
  size_t max_buffered_bytes = 512u << 20;  // bodies + image bytes held at once, server-wide; beyond: 503
  int read_timeout_s = 30;           // total for a request's headers, and again for its body
  int write_timeout_s = 30;          // per socket write: stalled readers are cut off
  size_t max_connections = 512;      // open connections in total; beyond: 503 and close
  size_t max_connections_per_client = 64;  // per peer address (0: no cap; behind a proxy); at most http_threads / 2
  double request_timeout_s = 600;    // whole generation, queue wait included
  double sse_ping_s = 10;            // SSE streams: a ": ping" comment after this long without output
  int http_threads = 64;             // general worker threads (cmd_serve: parallel + max_queue + 32)
  bool log_prompts = false;
  int64_t reasoning_budget = -1;     // thought tokens per request unless it gives its own; < 0: no cap
  size_t max_images = 8;             // per request
  std::string image_files_dir;       // realpath of --allow-image-files ("": no local files)
  bool allow_image_urls = false;     // --allow-image-urls: fetch http(s) image URLs
  bool allow_private_urls = false;   // --allow-private-urls: also from loopback/private/link-local addresses
  std::vector<std::string> test_resolve;  // tests only: CURLOPT_RESOLVE entries for image URLs
  std::vector<std::string> test_public;   // tests only: addresses the image-URL check treats as public
};

// What the routes need once the model is up.
struct Backend {
  const Engine* engine = nullptr;
  Scheduler* scheduler = nullptr;
  std::optional<ChatTemplate> chat_template;
  ChatOptions chat_options;  // --parse-special-in-content
  ModelInfo info;
  const ImageEncoder* images = nullptr;  // set with --mmproj; null: requests with images get 400
  const AudioService* audio = nullptr;   // --mmproj with an audio part; null: input_audio gets 400
  const remote::Router* router = nullptr;  // serve --remote: the gateway mode (docs/remote.md); null: local only
};

class HttpServer {
 public:
  HttpServer(const ServerOptions& opts, Metrics* metrics);
  ~HttpServer();

  // Binds the listening socket; returns the port (useful with port 0).
  StatusOr<int> Bind();
  // Serves on a background thread until Stop().
  void Start();
  // Installs the model and marks the server ready (/health 200).
  void SetBackend(Backend b);
  // Stops accepting, ends open streams, joins the thread.
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gemrun::server
