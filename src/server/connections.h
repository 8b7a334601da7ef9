// The connection layer under the HTTP routes: the listening socket, admission, header collection
// and keep-alive around httplib's request parser. httplib 0.11.4 hands every accepted connection
// to a worker thread at once and queues the rest without bound, so ~100 clients trickling their
// headers took every worker and /health hung. Here one epoll thread accepts (a cap in total and
// per client address; beyond it a 503 and close), collects each request's header block within a
// total deadline and a size cap, and only then gives the connection to a worker in one of two
// lanes: GET /health and /metrics have their own threads, so probes answer while every general
// worker is busy. The body is read on the worker, again within one total deadline.
#pragma once

#include <httplib.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "base/status.h"

namespace gemrun::server {

struct ConnectionOptions {
  double read_timeout_s = 30;        // total time for a request's headers, and again for its body
  int write_timeout_s = 30;          // one socket write (a client that stops reading is cut off)
  double idle_timeout_s = 5;         // keep-alive: wait this long for the next request's first byte
  size_t max_connections = 512;      // open connections in total
  size_t max_per_client = 64;        // open connections per peer address (0: no per-client cap)
  size_t workers = 64;               // general lane threads (generation, uploads)
  size_t probe_workers = 2;          // GET /health and GET /metrics lane
  size_t max_header_bytes = 64 << 10;  // request line + headers; larger gets 431
};

// Listens on host:port (port 0: any free port) with SO_REUSEADDR and a 1024 backlog. Returns the
// socket and sets *bound_port; an error names the address and the system's reason.
StatusOr<int> ListenOn(const std::string& host, int port, int* bound_port);

// The connection being served on this thread (set by the connection layer for the length of one
// request; routes read fd and may ask for the connection to be closed after the response).
struct ConnectionContext {
  int fd = -1;
  bool close_after = false;
};
ConnectionContext& CurrentConnection();

// True once the peer has closed or reset the connection (checks without blocking or reading).
bool PeerClosed(int fd);

// An httplib::Server whose routes and handlers are used as usual, but whose connections come from
// Start(listen_fd) instead of httplib's listen().
class ConnectionServer : public httplib::Server {
 public:
  explicit ConnectionServer(const ConnectionOptions& opts);
  ~ConnectionServer() override;
  ConnectionServer(const ConnectionServer&) = delete;
  ConnectionServer& operator=(const ConnectionServer&) = delete;

  // Serves connections accepted on listen_fd (owned from here on) on background threads.
  void Start(int listen_fd);
  // Stops accepting, closes connections waiting for headers, lets running requests finish and
  // joins every thread. Idempotent.
  void Shutdown();

  // What the connection layer did, for /metrics (thread-safe snapshot).
  struct Stats {
    uint64_t open = 0;              // open connections now
    uint64_t client_cap = 0;        // refused or replaced at --max-connections-per-client
    uint64_t server_cap = 0;        // refused or replaced at --max-connections
    uint64_t busy = 0;              // complete requests refused: every worker busy and as many queued
    uint64_t header_timeout = 0;    // headers not complete within --read-timeout
    uint64_t header_too_large = 0;  // headers over the size cap
  };
  Stats stats() const;
  // Prometheus text of stats().
  std::string RenderStats() const;

 private:
  struct Impl;
  friend struct Impl;
  bool RunRequest(httplib::Stream& s, bool close, bool& closed) { return process_request(s, close, closed, nullptr); }
  // httplib's streamed responses stop once svr_sock_ is invalid (its sign of shutting down).
  void MarkListening(int fd) { svr_sock_ = fd; }
  std::unique_ptr<Impl> impl_;
};

}  // namespace gemrun::server
