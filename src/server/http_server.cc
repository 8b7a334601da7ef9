// HttpServer: httplib setup (timeouts, limits, thread pool, backlog), middleware (request id,
// auth, CORS, readiness), the small endpoints, per-request logging and metrics.
#include "server/http_server.h"

#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <cstdio>
#include <thread>

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

void SendError(const httplib::Request& req, httplib::Response& res, const ApiError& e) {
  const bool ollama = req.path.rfind("/api/", 0) == 0;
  SendJson(res, ollama ? OllamaErrorJson(e) : OpenAIErrorJson(e), e.status);
  if (e.status == 429 || e.status == 503) res.set_header("Retry-After", "1");
  CurrentLog().error = e.message;
}

namespace {

// "a.b.c.d" / "::ffff:a.b.c.d" / IPv6 text and port of a socket's peer.
bool PeerOf(int fd, std::string* addr, int* port, bool local) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if ((local ? getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len)
             : getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len)) != 0)
    return false;
  char host[NI_MAXHOST];
  if (getnameinfo(reinterpret_cast<sockaddr*>(&ss), len, host, sizeof host, nullptr, 0, NI_NUMERICHOST) != 0) return false;
  *addr = host;
  *port = ss.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port)
                                   : ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  return true;
}

}  // namespace

int FindConnectionSocket(const httplib::Request& req) {
  DIR* d = opendir("/proc/self/fd");
  if (!d) return -1;
  int found = -1;
  while (dirent* e = readdir(d)) {
    char* end = nullptr;
    const long fd = std::strtol(e->d_name, &end, 10);
    if (*end != '\0' || fd < 3 || fd == dirfd(d)) continue;
    struct stat st{};
    if (fstat(static_cast<int>(fd), &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
    std::string peer, local;
    int peer_port = 0, local_port = 0;
    if (!PeerOf(static_cast<int>(fd), &peer, &peer_port, false) || peer_port != req.remote_port || peer != req.remote_addr)
      continue;
    if (!PeerOf(static_cast<int>(fd), &local, &local_port, true) || local_port != req.local_port) continue;
    found = static_cast<int>(fd);
    break;
  }
  closedir(d);
  return found;
}

bool PeerClosed(int fd) {
  if (fd < 0) return false;
  pollfd p{.fd = fd, .events = POLLIN | POLLRDHUP, .revents = 0};
  if (poll(&p, 1, 0) <= 0) return false;
  if (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) return true;
  char c;
  const ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

namespace {

// httplib's TaskQueue with a fixed set of workers where the most recently idle worker takes the
// next connection (LIFO): a burst reuses the same warm threads (stacks, malloc arenas) instead of
// touching every idle thread in turn, so memory stays flat across bursts of equal size.
class LifoPool : public httplib::TaskQueue {
 public:
  explicit LifoPool(size_t n) {
    workers_.reserve(n);
    for (size_t i = 0; i < n; ++i) workers_.push_back(std::make_unique<Worker>());
    for (auto& w : workers_) w->thread = std::thread([this, wp = w.get()] { Run(*wp); });
  }
  void enqueue(std::function<void()> fn) override {
    std::lock_guard<std::mutex> l(mu_);
    if (idle_.empty()) {
      backlog_.push_back(std::move(fn));
      return;
    }
    Worker* w = idle_.back();
    idle_.pop_back();
    w->job = std::move(fn);
    w->cv.notify_one();
  }
  void shutdown() override {
    {
      std::lock_guard<std::mutex> l(mu_);
      stop_ = true;
      for (auto& w : workers_) w->cv.notify_one();
    }
    for (auto& w : workers_) w->thread.join();
  }

 private:
  struct Worker {
    std::thread thread;
    std::condition_variable cv;
    std::function<void()> job;
  };
  void Run(Worker& w) {
    std::unique_lock<std::mutex> l(mu_);
    for (;;) {
      if (!w.job && !backlog_.empty()) {
        w.job = std::move(backlog_.front());
        backlog_.pop_front();
      }
      if (w.job) {
        auto fn = std::move(w.job);
        w.job = nullptr;
        l.unlock();
        fn();
        l.lock();
        continue;
      }
      if (stop_) return;
      idle_.push_back(&w);
      w.cv.wait(l, [&] { return w.job || stop_; });
      if (!w.job) std::erase(idle_, &w);
    }
  }
  std::mutex mu_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<Worker*> idle_;
  std::deque<std::function<void()>> backlog_;
  bool stop_ = false;
};

class Listener : public httplib::Server {
 public:
  // httplib listens with a backlog of 5; a burst of connects would then wait on SYN retries.
  void RaiseBacklog(int n) { ::listen(svr_sock_, n); }
};

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

struct HttpServer::Impl {
  ServerOptions opts;
  Metrics* metrics;
  Listener svr;
  std::thread thread;
  std::atomic<bool> ready{false};
  Backend backend;  // written before `ready` is set (release), read after it is seen (acquire)
  std::atomic<uint64_t> next_id{1};

  bool Ready() const { return ready.load(std::memory_order_acquire); }
  void Setup();
  httplib::Server::HandlerResponse PreRoute(const httplib::Request& req, httplib::Response& res);
  void Log(const httplib::Request& req, const httplib::Response& res);
  void Generate(Endpoint ep, const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& r) {
    const GenerateContext ctx{&opts, &backend, metrics};
    HandleGenerate(ctx, ep, req, res, r);
  }
};

httplib::Server::HandlerResponse HttpServer::Impl::PreRoute(const httplib::Request& req, httplib::Response& res) {
  using HR = httplib::Server::HandlerResponse;
  RequestLog& log = CurrentLog();
  log = RequestLog{};
  log.id = next_id.fetch_add(1);
  log.start = std::chrono::steady_clock::now();
  char id[32];
  std::snprintf(id, sizeof id, "req-%06llu", static_cast<unsigned long long>(log.id));
  res.set_header("X-Request-Id", id);
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
  if (req.path == "/health" || req.path == "/metrics") {  // probes: counted, not logged
    log = RequestLog{};
    return;
  }
  if (log.id == 0) log.id = next_id.fetch_add(1);  // answered before routing (e.g. 100-continue)
  const double total_ms = log.start.time_since_epoch().count() ? std::chrono::duration<double, std::milli>(
                                       std::chrono::steady_clock::now() - log.start).count() : 0;
  std::string line = "gemrun serve: req-" + std::to_string(log.id) + " " + req.method + " " + label + " " +
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
  if (!log.prompt.empty()) line += " prompt_text=" + DumpJson(Json(log.prompt));
  std::fprintf(stderr, "%s\n", line.c_str());
  log = RequestLog{};
}

void HttpServer::Impl::Setup() {
  const int threads = opts.http_threads;
  svr.new_task_queue = [threads] { return new LifoPool(static_cast<size_t>(threads)); };
  svr.set_read_timeout(opts.read_timeout_s, 0);
  svr.set_write_timeout(opts.write_timeout_s, 0);
  svr.set_keep_alive_timeout(5);
  svr.set_keep_alive_max_count(1000);
  svr.set_payload_max_length(opts.max_body_bytes);
  svr.set_tcp_nodelay(true);
  svr.set_pre_routing_handler([this](const httplib::Request& q, httplib::Response& r) { return PreRoute(q, r); });
  svr.set_logger([this](const httplib::Request& q, const httplib::Response& r) { Log(q, r); });
  svr.set_exception_handler([](const httplib::Request& q, httplib::Response& r, std::exception_ptr ep) {
    std::string what = "unknown";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    SendError(q, r, ApiError::Of(500, "server_error", "internal error: " + what));
  });
  svr.set_error_handler([](const httplib::Request& q, httplib::Response& r) {
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
    res.set_content(metrics->Render(), "text/plain; version=0.0.4; charset=utf-8");
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

HttpServer::HttpServer(const ServerOptions& opts, Metrics* metrics) : impl_(std::make_unique<Impl>()) {
  impl_->opts = opts;
  impl_->metrics = metrics;
  impl_->Setup();
}

HttpServer::~HttpServer() { Stop(); }

StatusOr<int> HttpServer::Bind() {
  const ServerOptions& o = impl_->opts;
  int port = o.port;
  if (port == 0) port = impl_->svr.bind_to_any_port(o.host);
  else if (!impl_->svr.bind_to_port(o.host, port)) port = -1;
  if (port <= 0)
    return InvalidArgumentError("cannot listen on " + o.host + ":" + std::to_string(o.port) +
                                " (address in use, or not an address of this machine)");
  impl_->svr.RaiseBacklog(1024);
  return port;
}

void HttpServer::Start() {
  impl_->thread = std::thread([this] { impl_->svr.listen_after_bind(); });
}

void HttpServer::SetBackend(Backend b) {
  impl_->backend = std::move(b);
  impl_->ready.store(true, std::memory_order_release);
  impl_->metrics->SetReady(true);
}

void HttpServer::Stop() {
  if (!impl_ || !impl_->thread.joinable()) return;
  impl_->svr.stop();
  impl_->thread.join();
}

}  // namespace gemrun::server
