// libFuzzer target for the HTTP front end: each input is sent as raw bytes over a loopback
// connection to an in-process `serve` (our connection layer, httplib's parser, auth, CORS, routes,
// body reading, the request parsers and a generation on a tiny fixture model), then the write side
// is shut and the whole response read. The server must answer with a well-formed HTTP status line
// or close, never crash, hang or stop answering /health. The first byte picks the server: with or
// without an API key. Built by tests/fuzz/CMakeLists.txt with -fsanitize=fuzzer,address,undefined.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "engine/engine.h"
#include "server/http_server.h"
#include "server/metrics.h"
#include "server/scheduler.h"
#include "tokenizer/chat_template.h"

namespace {
using namespace gemrun;
using namespace gemrun::server;

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "http_fuzz: %s\n", what.c_str());
  std::abort();
}

// One server with the tiny model; kept for the whole run (threads, model and scheduler are reused).
struct Served {
  HttpServer* http = nullptr;  // never freed: the server runs until the process exits
  int port = 0;
};

Served Start(const Engine& engine, Scheduler* sched, Metrics* metrics, const char* api_key) {
  ServerOptions so;
  so.port = 0;
  so.api_key = api_key;
  so.cors_origin = "https://example.test";
  so.max_body_bytes = 1 << 20;
  so.read_timeout_s = 2;
  so.request_timeout_s = 10;
  so.http_threads = 8;
  auto* http = new HttpServer(so, metrics);  // lives until exit
  auto port = http->Bind();
  if (!port.ok()) Fail("bind: " + port.status().message());
  http->Start();
  Backend b;
  b.engine = &engine;
  b.scheduler = sched;
  if (auto t = ChatTemplate::ForGguf(engine.model().file()); t.ok()) b.chat_template = *t;
  b.info.id = "tiny";
  b.info.arch = engine.model().config().arch_name;
  b.info.n_ctx = 64;
  http->SetBackend(std::move(b));
  return Served{http, *port};
}

std::pair<Served, Served> Servers() {
  EngineOptions eo;
  eo.threads = 1;
  eo.n_ctx = 64;
  eo.n_seqs = 2;
  auto engine = Engine::Load(GEMRUN_FUZZ_MODEL, eo);
  if (!engine.ok()) Fail("load " GEMRUN_FUZZ_MODEL ": " + engine.status().message());
  auto* metrics = new Metrics();
  SchedulerOptions sopt;
  sopt.n_slots = 2;
  sopt.n_ctx = 64;
  auto* sched = new Scheduler(**engine, sopt, metrics);
  if (Status s = sched->Init(); !s.ok()) Fail("scheduler: " + s.message());
  sched->Start();
  const Engine& e = *engine->release();
  return {Start(e, sched, metrics, ""), Start(e, sched, metrics, "fuzz-key")};
}

// Each connection comes from its own loopback address (127.1.0.1 up): a connection per input
// at ~1000 inputs/s would otherwise spend every ephemeral port of one address in TIME-WAIT within
// half a minute, and connects then stall. It also spreads the per-client caps.
int Connect(int port) {
  static uint32_t next = 0;
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in src{};
  src.sin_family = AF_INET;
  src.sin_addr.s_addr = htonl((127u << 24) | (1u << 16) | (1 + next++ % 65534));
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0) Fail("bind a loopback source address");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) Fail("connect to the server failed");
  return fd;
}

// The connection counters from /metrics (probe lane), to tell a stuck worker pool from a lost
// connection when an exchange stalls.
std::string Diagnose(int port) {
  const int fd = Connect(port);
  static const char kReq[] = "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  (void)!send(fd, kReq, sizeof kReq - 1, MSG_NOSIGNAL);
  std::string out;
  char buf[4096];
  for (pollfd p{fd, POLLIN, 0}; poll(&p, 1, 3000) > 0;) {
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  std::string lines;
  for (size_t at = 0; (at = out.find("\ngemrun_connections", at)) != std::string::npos; ++at)
    lines += out.substr(at + 1, out.find('\n', at + 1) - at - 1) + "\n";
  return out.empty() ? "(no answer from /metrics either)" : lines;
}

// Sends `req`, shuts the write side and reads until the server closes (10 s at most: a hang).
std::string Exchange(int port, const char* data, size_t size) {
  const int fd = Connect(port);
  for (size_t off = 0; off < size;) {
    const ssize_t n = send(fd, data + off, size - off, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may close early (e.g. 431), which is fine
    off += static_cast<size_t>(n);
  }
  shutdown(fd, SHUT_WR);
  std::string resp;
  char buf[4096];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    int ready;
    while ((ready = poll(&p, 1, 10000)) < 0 && errno == EINTR) {  // libFuzzer's SIGALRM (-timeout) interrupts
    }
    if (ready <= 0) {
      std::fprintf(stderr, "http_fuzz: stalled; server state:\n%s\n", Diagnose(port).c_str());
      tcp_info ti{};
      socklen_t tl = sizeof ti;
      getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tl);
      sockaddr_in me{}, peer{};
      socklen_t ml = sizeof me, pl = sizeof peer;
      getsockname(fd, reinterpret_cast<sockaddr*>(&me), &ml);
      getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &pl);
      char mes[32], peers[32];
      inet_ntop(AF_INET, &me.sin_addr, mes, sizeof mes);
      inet_ntop(AF_INET, &peer.sin_addr, peers, sizeof peers);
      std::fprintf(stderr, "http_fuzz: client fd %d state %d %s:%d -> %s:%d unacked %u\n", fd, ti.tcpi_state, mes,
                   ntohs(me.sin_port), peers, ntohs(peer.sin_port), ti.tcpi_unacked);
      Fail("no answer and no close within 10 s; got so far: " + resp.substr(0, 200));
    }
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    resp.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return resp;
}

void CheckAnswer(const std::string& resp) {
  if (!resp.empty() && resp.rfind("HTTP/1.1 ", 0) != 0) Fail("answer without a status line: " + resp.substr(0, 80));
}

void CheckHealth(int port) {
  static const char kHealth[] = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::string r = Exchange(port, kHealth, sizeof kHealth - 1);
  if (r.rfind("HTTP/1.1 200", 0) != 0) Fail("/health does not answer 200 after an input: " + r.substr(0, 80));
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto servers = Servers();
  if (size == 0) return 0;
  const int port = (data[0] & 1) ? servers.second.port : servers.first.port;
  CheckAnswer(Exchange(port, reinterpret_cast<const char*>(data + 1), size - 1));
  CheckHealth(port);
  return 0;
}
