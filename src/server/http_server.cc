// HttpServer: httplib setup (limits, handlers) on top of the connection layer, middleware (request
// id, auth, CORS, readiness), the small endpoints, per-request logging and metrics.
#include "server/http_server.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>

#include "server/framing.h"
#include "server/http_internal.h"
#include "server/openai.h"

namespace gemrun::server {

RequestLog& CurrentLog() {
  thread_local RequestLog log;
  return log;
}

void SendJson(httplib::Response& res, const Json& j, int status) {
  res.status = status;
  res.set_content(DumpJson(j), "application/json");
}

std::string RequestIdText(uint64_t id) {
  char b[32];
  std::snprintf(b, sizeof b, "req-%06llu", static_cast<unsigned long long>(id));
  return b;
}

// The exception's text may name internals (paths, sizes, library state): it goes to the log
// with the request id; the client gets the id to quote.
void SendInternalError(const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
  std::string what = "unknown exception";
  try {
    std::rethrow_exception(ep);
  } catch (const std::exception& e) {
    what = e.what();
  } catch (...) {
  }
  const std::string id = RequestIdText(CurrentLog().id);
  std::fprintf(stderr, "gemrun serve: %s internal error: %s\n", id.c_str(), what.c_str());
  SendError(req, res, ApiError::Of(500, "server_error", "internal server error (request " + id + "); the details are "
                                                        "in the server log"));
  CurrentLog().error = "internal error: " + what;
}

void SendError(const httplib::Request& req, httplib::Response& res, const ApiError& e) {
  const bool ollama = req.path.rfind("/api/", 0) == 0;
  SendJson(res, ollama ? OllamaErrorJson(e) : OpenAIErrorJson(e), e.status);
  if (e.status == 429 || e.status == 503) res.set_header("Retry-After", "1");
  CurrentLog().error = e.message;
}

namespace {

// Bounded label set for metrics: known routes, else "other".
std::string EndpointLabel(const std::string& path) {
  for (const char* p : {"/v1/chat/completions", "/v1/completions", "/v1/models", "/api/chat", "/api/generate",
                        "/api/tags", "/api/show", "/api/version", "/health", "/metrics", "/"})
    if (path == p) return p;
  return "other";
}

std::string Fmt(double ms) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f", ms);
  return b;
}

}  // namespace

ConnectionOptions ConnectionsOf(const ServerOptions& o) {
  return ConnectionOptions{.read_timeout_s = static_cast<double>(o.read_timeout_s),
                           .write_timeout_s = o.write_timeout_s,
                           .max_connections = o.max_connections,
                           // One address may hold at most half of the workers.
                           .max_per_client = std::min(o.max_connections_per_client,
                                                      static_cast<size_t>(std::max(o.http_threads / 2, 1))),
                           .workers = static_cast<size_t>(std::max(o.http_threads, 1))};
}

struct HttpServer::Impl {
  Impl(const ServerOptions& o, Metrics* m) : opts(o), metrics(m), budget(o.max_buffered_bytes), svr(ConnectionsOf(o)) {}
  ServerOptions opts;
  Metrics* metrics;
  ByteBudget budget;
  ConnectionServer svr;
  int listen_fd = -1;
  bool started = false;
  std::atomic<bool> ready{false};
  Backend backend;  // written before `ready` is set (release), read after it is seen (acquire)
  std::atomic<uint64_t> next_id{1};

  bool Ready() const { return ready.load(std::memory_order_acquire); }
  void Setup();
  httplib::Server::HandlerResponse PreRoute(const httplib::Request& req, httplib::Response& res);
  void Log(const httplib::Request& req, const httplib::Response& res);
  void Generate(Endpoint ep, const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& r) {
    const GenerateContext ctx{&opts, &backend, metrics, &budget};
    HandleGenerate(ctx, ep, req, res, r);
  }
};

httplib::Server::HandlerResponse HttpServer::Impl::PreRoute(const httplib::Request& req, httplib::Response& res) {
  using HR = httplib::Server::HandlerResponse;
  RequestLog& log = CurrentLog();
  log = RequestLog{};
  log.id = next_id.fetch_add(1);
  log.start = std::chrono::steady_clock::now();
  res.set_header("X-Request-Id", RequestIdText(log.id));
  if (!opts.cors_origin.empty()) {
    res.set_header("Access-Control-Allow-Origin", opts.cors_origin);
    res.set_header("Vary", "Origin");
    if (req.method == "OPTIONS") {
      res.set_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
      res.set_header("Access-Control-Allow-Headers", "Authorization, Content-Type");
      res.set_header("Access-Control-Max-Age", "600");
      res.status = 204;
      return HR::Handled;
    }
  }
  if (req.path == "/health") return HR::Unhandled;
  if (!opts.api_key.empty() && !BearerMatches(req.get_header_value("Authorization"), opts.api_key)) {
    res.set_header("WWW-Authenticate", "Bearer");
    SendError(req, res, ApiError::Of(401, "authentication_error", "missing or invalid API key: send 'Authorization: Bearer <key>'", "invalid_api_key"));
    return HR::Handled;
  }
  const bool needs_model = req.path != "/metrics" && req.path != "/api/version" && req.path != "/";
  if (needs_model && !Ready()) {
    SendError(req, res, ApiError::Of(503, "server_error", "the model is still loading", "model_loading"));
    return HR::Handled;
  }
  return HR::Unhandled;
}

void HttpServer::Impl::Log(const httplib::Request& req, const httplib::Response& res) {
  RequestLog& log = CurrentLog();
  const std::string label = EndpointLabel(req.path);
  metrics->CountRequest(label, res.status);
  // After an error the request body may be unread (a 401 before reading it, a 413): its bytes
  // must not be parsed as the next request, so the connection ends here.
  if (res.status >= 400 || res.get_header_value("Connection") == "close") CurrentConnection().close_after = true;
  if (req.path == "/health" || req.path == "/metrics") {  // probes: counted, not logged
    log = RequestLog{};
    return;
  }
  if (log.id == 0) log.id = next_id.fetch_add(1);  // answered before routing (e.g. 100-continue)
  const double total_ms = log.start.time_since_epoch().count() ? std::chrono::duration<double, std::milli>(
                                       std::chrono::steady_clock::now() - log.start).count() : 0;
  std::string line = "gemrun serve: " + RequestIdText(log.id) + " " + req.method + " " + label + " " +
                     std::to_string(res.status);
  if (log.images > 0) line += " images=" + std::to_string(log.images) + " image_ms=" + Fmt(log.image_ms);
  if (log.prompt_tokens >= 0) {
    line += " prompt=" + std::to_string(log.prompt_tokens) + " cached=" + std::to_string(log.cached_tokens) +
            " gen=" + std::to_string(log.gen_tokens);
    if (!log.finish.empty()) line += " finish=" + log.finish;
    line += " queue_ms=" + Fmt(log.queue_ms);
    if (log.ttft_ms >= 0) line += " ttft_ms=" + Fmt(log.ttft_ms);
    if (log.gen_ms > 0 && log.gen_tokens > 1) line += " tok_s=" + Fmt((log.gen_tokens - 1) * 1000.0 / log.gen_ms);
  }
  line += " total_ms=" + Fmt(total_ms);
  if (log.client_gone) line += " client_gone";
  if (!log.error.empty()) line += " error=" + DumpJson(Json(log.error));
  if (!log.detail.empty()) line += " detail=" + DumpJson(Json(log.detail));
  if (!log.prompt.empty()) line += " prompt_text=" + DumpJson(Json(log.prompt));
  std::fprintf(stderr, "%s\n", line.c_str());
  log = RequestLog{};
}

void HttpServer::Impl::Setup() {
  svr.set_payload_max_length(opts.max_body_bytes);
  svr.set_pre_routing_handler([this](const httplib::Request& q, httplib::Response& r) { return PreRoute(q, r); });
  svr.set_logger([this](const httplib::Request& q, const httplib::Response& r) { Log(q, r); });
  svr.set_exception_handler(SendInternalError);
  svr.set_error_handler([](const httplib::Request& q, httplib::Response& r) {
    r.set_header("Connection", "close");  // the connection layer closes after an error (see Log)
    if (!r.body.empty() || r.content_provider_) return;
    std::string msg = "no route for " + q.method + " " + q.path;
    if (r.status == 400) msg = "malformed HTTP request";
    else if (r.status == 413) msg = "request body is larger than the server's limit (--max-body-bytes)";
    else if (r.status == 414) msg = "request URI too long";
    SendError(q, r, ApiError::Of(r.status, r.status == 404 ? "not_found_error" : "invalid_request_error", msg));
  });

  // "Expect: 100-continue" (curl sends it for bodies over 1 KiB): refuse an oversized body before
  // the client sends it.
  const size_t max_body = opts.max_body_bytes;
  svr.set_expect_100_continue_handler([max_body](const httplib::Request& q, httplib::Response& r) {
    const std::string len = q.get_header_value("Content-Length");
    if (!len.empty() && std::strtoull(len.c_str(), nullptr, 10) > max_body) {
      SendError(q, r, ApiError::Of(413, "invalid_request_error", "request body is larger than the server's limit of " +
                                       std::to_string(max_body) + " bytes (--max-body-bytes)", "body_too_large"));
      r.set_header("Connection", "close");
      return 413;
    }
    return 100;
  });
  svr.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    if (Ready()) return SendJson(res, Json{{"status", "ok"}});
    res.set_header("Retry-After", "1");
    SendJson(res, Json{{"status", "loading"}}, 503);
  });
  svr.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics->Render() + svr.RenderStats(), "text/plain; version=0.0.4; charset=utf-8");
  });
  svr.Get("/", [](const httplib::Request&, httplib::Response& res) { res.set_content("gemrun is running", "text/plain"); });
  svr.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
    const auto t = std::chrono::duration_cast<std::chrono::seconds>(backend.info.modified.time_since_epoch()).count();
    SendJson(res, ModelsJson(backend.info.id, t));
  });
  svr.Get("/api/tags", [this](const httplib::Request&, httplib::Response& res) { SendJson(res, OllamaTagsJson(backend.info)); });
  svr.Get("/api/version", [](const httplib::Request&, httplib::Response& res) { SendJson(res, OllamaVersionJson()); });
  svr.Post("/api/show", [this](const httplib::Request& req, httplib::Response& res) {
    Json j;
    if (auto e = ParseJsonBody(req.body, &j)) return SendError(req, res, *e);
    std::string name;
    if (auto e = GetString(j, "model", "model", &name)) return SendError(req, res, *e);
    if (name.empty())
      if (auto e = GetString(j, "name", "name", &name)) return SendError(req, res, *e);
    if (name.empty()) return SendError(req, res, ApiError::BadRequest("'model' is required", "model"));
    SendJson(res, OllamaShowJson(backend.info));
  });
  const std::pair<const char*, Endpoint> gen_routes[] = {{"/v1/chat/completions", Endpoint::kChatCompletions},
                                                         {"/v1/completions", Endpoint::kCompletions},
                                                         {"/api/chat", Endpoint::kOllamaChat},
                                                         {"/api/generate", Endpoint::kOllamaGenerate}};
  for (const auto& [path, ep] : gen_routes) {
    const Endpoint e = ep;
    svr.Post(path, [this, e](const httplib::Request& q, httplib::Response& r, const httplib::ContentReader& rd) {
      Generate(e, q, r, rd);
    });
  }
  if (!opts.cors_origin.empty())
    svr.Options(".*", [](const httplib::Request&, httplib::Response& res) { res.status = 204; });
}

HttpServer::HttpServer(const ServerOptions& opts, Metrics* metrics) : impl_(std::make_unique<Impl>(opts, metrics)) {
  impl_->Setup();
}

HttpServer::~HttpServer() {
  Stop();
  if (impl_->listen_fd >= 0 && !impl_->started) close(impl_->listen_fd);
}

StatusOr<int> HttpServer::Bind() {
  int port = 0;
  ASSIGN_OR_RETURN(impl_->listen_fd, ListenOn(impl_->opts.host, impl_->opts.port, &port));
  return port;
}

void HttpServer::Start() {
  impl_->started = true;
  impl_->svr.Start(impl_->listen_fd);
}

void HttpServer::SetBackend(Backend b) {
  impl_->backend = std::move(b);
  impl_->ready.store(true, std::memory_order_release);
  impl_->metrics->SetReady(true);
}

void HttpServer::Stop() {
  if (impl_ && impl_->started) impl_->svr.Shutdown();
}

}  // namespace gemrun::server
