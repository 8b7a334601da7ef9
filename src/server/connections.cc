// Connection layer: listening socket, epoll accept + header collection, two worker lanes, and a
// deadline-aware httplib::Stream over each connection.
#include "server/connections.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

namespace gemrun::server {
namespace {

using Clock = std::chrono::steady_clock;

struct Conn {
  int fd = -1;
  std::string peer_ip, local_ip;
  int peer_port = 0, local_port = 0;
  std::string buf;  // bytes received and not yet parsed (headers, maybe the body's start)
  Clock::time_point headers_at;  // when its current request's headers were complete
  bool counted = true;           // in the open-connection counts (not: refused at accept)
  bool linger = false;           // answered with an error: drain what the client still sends, then close
};

bool AddressOf(const sockaddr_storage& ss, std::string* ip, int* port) {
  char host[INET6_ADDRSTRLEN] = "";
  if (ss.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
    *port = ntohs(a->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
    *port = ntohs(a->sin6_port);
  } else {
    return false;
  }
  *ip = host;
  return true;
}

int MsUntil(Clock::time_point t) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t - Clock::now()).count();
  return static_cast<int>(std::clamp<int64_t>(ms, 0, 1 << 30));
}

bool WaitFor(int fd, short events, int timeout_ms) {
  pollfd p{.fd = fd, .events = events, .revents = 0};
  for (;;) {
    const int r = poll(&p, 1, timeout_ms);
    if (r < 0 && errno == EINTR) continue;
    return r > 0 && (p.revents & events);
  }
}

// A best-effort answer to a connection we refuse before a worker sees it; then it is closed.
void Refuse(int fd, int status, const char* reason, const char* message) {
  const std::string body = std::string("{\"error\":{\"message\":\"") + message +
                           "\",\"type\":\"server_error\",\"param\":null,\"code\":null}}";
  const std::string head = "HTTP/1.1 " + std::to_string(status) + " " + reason +
                           "\r\nContent-Type: application/json\r\nRetry-After: 1\r\nConnection: close\r\n"
                           "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  const std::string all = head + body;
  (void)!send(fd, all.data(), all.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  shutdown(fd, SHUT_WR);
}

// httplib's view of one connection: reads come from the collected bytes first, then from the
// socket until one total deadline (not per read); writes wait at most write_timeout each.
class ConnStream final : public httplib::Stream {
 public:
  ConnStream(Conn& c, Clock::time_point read_deadline, int write_timeout_ms)
      : c_(c), read_deadline_(read_deadline), write_timeout_ms_(write_timeout_ms) {}
  bool is_readable() const override { return pos_ < c_.buf.size() || WaitFor(c_.fd, POLLIN, MsUntil(read_deadline_)); }
  bool is_writable() const override { return WaitFor(c_.fd, POLLOUT, write_timeout_ms_); }
  ssize_t read(char* ptr, size_t size) override {
    while (pos_ >= c_.buf.size()) {
      c_.buf.clear();
      pos_ = 0;
      if (Clock::now() >= read_deadline_ || !WaitFor(c_.fd, POLLIN, MsUntil(read_deadline_))) return -1;
      c_.buf.resize(16384);
      const ssize_t n = recv(c_.fd, c_.buf.data(), c_.buf.size(), 0);
      const int err = errno;
      c_.buf.resize(n > 0 ? static_cast<size_t>(n) : 0);
      if (n == 0) return 0;
      if (n < 0 && err != EAGAIN && err != EWOULDBLOCK && err != EINTR) return -1;
    }
    const size_t n = std::min(size, c_.buf.size() - pos_);
    std::memcpy(ptr, c_.buf.data() + pos_, n);
    pos_ += n;
    return static_cast<ssize_t>(n);
  }
  ssize_t write(const char* ptr, size_t size) override {
    for (;;) {
      if (!WaitFor(c_.fd, POLLOUT, write_timeout_ms_)) return -1;
      const ssize_t n = send(c_.fd, ptr, size, MSG_NOSIGNAL);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      return n;
    }
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = c_.peer_ip;
    port = c_.peer_port;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    ip = c_.local_ip;
    port = c_.local_port;
  }
  int socket() const override { return c_.fd; }
  // Drops the bytes already parsed; what stays is the start of a pipelined next request.
  void Compact() {
    c_.buf.erase(0, pos_);
    pos_ = 0;
  }

 private:
  Conn& c_;
  size_t pos_ = 0;
  Clock::time_point read_deadline_;
  int write_timeout_ms_;
};

// A fixed set of threads with a bounded queue of connections whose headers are complete. The
// most recently idle worker takes the next connection (LIFO): a burst reuses the same warm
// threads (stacks, malloc arenas) instead of touching every idle thread in turn, so memory stays
// flat across bursts of equal size.
struct Lane {
  struct Worker {
    std::condition_variable cv;
    std::optional<Conn> job;
  };
  std::mutex mu;
  std::deque<Conn> queue;
  size_t max_queue = 0;
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<Worker*> idle;
  std::vector<std::thread> threads;
};

bool HeadersComplete(const std::string& buf) { return buf.find("\r\n\r\n") != std::string::npos; }

bool IsProbe(const std::string& buf) {
  for (const char* p : {"GET /health", "GET /metrics"}) {
    const size_t n = std::strlen(p);
    if (buf.size() > n && buf.compare(0, n, p) == 0 && (buf[n] == ' ' || buf[n] == '?')) return true;
  }
  return false;
}

}  // namespace

ConnectionContext& CurrentConnection() {
  thread_local ConnectionContext c;
  return c;
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

StatusOr<int> ListenOn(const std::string& host, int port, int* bound_port) {
  const std::string where = host + ":" + std::to_string(port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  if (const int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res); rc != 0)
    return InternalError("cannot listen on " + where + ": " + gai_strerror(rc) + " (check --host)");
  std::string why = "no usable address";
  int fd = -1;
  for (addrinfo* a = res; a && fd < 0; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0) {
      why = std::strerror(errno);
      continue;
    }
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, a->ai_addr, a->ai_addrlen) != 0 || listen(fd, 1024) != 0) {
      why = std::strerror(errno);
      if (errno == EADDRINUSE) why += " (another process listens there; stop it or pick another --port)";
      if (errno == EADDRNOTAVAIL) why += " (not an address of this machine; check --host)";
      if (errno == EACCES) why += " (ports below 1024 need privileges)";
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(res);
  if (fd < 0) return InternalError("cannot listen on " + where + ": " + why);
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  std::string ip;
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  AddressOf(ss, &ip, bound_port);
  return fd;
}

struct ConnectionServer::Impl {
  ConnectionServer* owner;
  ConnectionOptions opts;
  int listen_fd = -1, epoll_fd = -1, wake_fd = -1, spare_fd = -1;
  std::atomic<bool> stopping{false};
  std::thread reactor;
  Lane general, probe;

  std::atomic<uint64_t> n_client_cap{0}, n_server_cap{0}, n_busy{0}, n_header_timeout{0}, n_header_too_large{0};
  std::mutex count_mu;  // open connections, in total and per peer address
  size_t total = 0;
  std::unordered_map<std::string, size_t> per_client;

  struct Pending {
    Conn conn;
    Clock::time_point deadline;
    bool waiting_first_byte = false;  // a kept-alive connection between requests
    Clock::time_point since = Clock::now();  // when it started waiting here
    bool lingering = false;  // our answer is sent: read and drop the rest until EOF or the deadline
  };
  size_t n_lingering = 0;
  std::unordered_map<int, Pending> pending;  // reactor thread only
  std::mutex back_mu;
  std::vector<Conn> back;  // kept-alive connections handed back by workers

  void Close(Conn& c) {
    if (c.fd < 0) return;
    close(c.fd);
    c.fd = -1;
    if (!c.counted) return;
    std::lock_guard<std::mutex> l(count_mu);
    --total;
    if (auto it = per_client.find(c.peer_ip); it != per_client.end() && --it->second == 0) per_client.erase(it);
  }
  void Wake() {
    const uint64_t one = 1;
    (void)!::write(wake_fd, &one, sizeof one);
  }
  void Watch(Conn c, Clock::time_point deadline, bool first_byte, bool lingering = false) {
    epoll_event ev{.events = EPOLLIN | EPOLLRDHUP, .data = {.fd = c.fd}};
    epoll_ctl(epoll_fd, EPOLL_CTL_ADD, c.fd, &ev);
    const int fd = c.fd;
    n_lingering += lingering;
    pending[fd] = Pending{std::move(c), deadline, first_byte, Clock::now(), lingering};
  }
  void Forget(std::unordered_map<int, Pending>::iterator it) {
    n_lingering -= it->second.lingering;
    epoll_ctl(epoll_fd, EPOLL_CTL_DEL, it->first, nullptr);
    pending.erase(it);
  }
  // Closing right after an error answer while the client is still sending (a body over a limit,
  // a request refused at a cap) makes the kernel reset the connection, and the client may never
  // read the answer. So the write side is shut and what arrives is read and dropped (up to the
  // read timeout) before the close (Apache's "lingering close"), on this thread, without a worker.
  void Retire(Conn c) {
    if (c.fd < 0) return;
    if (stopping.load() || n_lingering >= 256) return Close(c);
    shutdown(c.fd, SHUT_WR);
    c.buf.clear();
    const double s = std::max(2.0, opts.read_timeout_s);  // as long as the body would have had
    Watch(std::move(c), Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(s * 1000)), false, true);
  }
  void Dispatch(Conn c) {
    c.headers_at = Clock::now();
    Lane& lane = IsProbe(c.buf) ? probe : general;
    {
      std::lock_guard<std::mutex> l(lane.mu);
      if (!lane.idle.empty()) {
        Lane::Worker* w = lane.idle.back();
        lane.idle.pop_back();
        w->job = std::move(c);
        w->cv.notify_one();
        return;
      }
      if (lane.queue.size() < lane.max_queue) {
        lane.queue.push_back(std::move(c));
        return;
      }
    }
    ++n_busy;
    Refuse(c.fd, 503, "Service Unavailable", "the server is busy; retry later");
    Retire(std::move(c));
  }
  enum class Admission { kOk, kClientFull, kServerFull };
  Admission Admit(const std::string& ip) {
    std::lock_guard<std::mutex> l(count_mu);
    auto it = per_client.find(ip);
    if (opts.max_per_client > 0 && it != per_client.end() && it->second >= opts.max_per_client)
      return Admission::kClientFull;
    if (total >= opts.max_connections) return Admission::kServerFull;
    ++per_client[ip];
    ++total;
    return Admission::kOk;
  }
  // At a cap a new connection replaces the one that has waited longest for its headers (a slow,
  // idle or already closed client): of the same client at the per-client cap, of anyone at the
  // total cap. So a client that sends its request at once always gets in, and one address
  // cannot lock itself out with idle connections.
  bool EvictOldestPending(const std::string* ip) {
    auto oldest = pending.end();
    for (auto it = pending.begin(); it != pending.end(); ++it)
      if ((!ip || it->second.conn.peer_ip == *ip) &&
          (oldest == pending.end() || it->second.since < oldest->second.since))
        oldest = it;
    if (oldest == pending.end()) return false;
    if (!oldest->second.lingering)
      Refuse(oldest->second.conn.fd, 503, "Service Unavailable", "too many connections; retry later");
    Close(oldest->second.conn);
    Forget(oldest);
    return true;
  }
  void AcceptAll();
  void OnReadable(int fd);
  void TakeBack();
  void Expire();
  int NextTimeoutMs() const;
  void ReactorLoop();
  void WorkerLoop(Lane& lane, Lane::Worker& w);
  void Serve(Conn& c);
};

void ConnectionServer::Impl::AcceptAll() {
  for (;;) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    const int fd = accept4(listen_fd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if ((errno == EMFILE || errno == ENFILE) && spare_fd >= 0) {
        // Out of descriptors: accept with the spare one and close at once, so the backlog does not
        // spin the loop; then take the spare back.
        close(spare_fd);
        const int c = accept(listen_fd, nullptr, nullptr);
        if (c >= 0) close(c);
        spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        continue;
      }
      return;  // EAGAIN: the backlog is empty
    }
    Conn c;
    c.fd = fd;
    AddressOf(ss, &c.peer_ip, &c.peer_port);
    sockaddr_storage ls{};
    socklen_t llen = sizeof ls;
    getsockname(fd, reinterpret_cast<sockaddr*>(&ls), &llen);
    AddressOf(ls, &c.local_ip, &c.local_port);
    Admission a = stopping.load() ? Admission::kServerFull : Admit(c.peer_ip);
    if (a == Admission::kClientFull) ++n_client_cap;
    if (a == Admission::kClientFull && EvictOldestPending(&c.peer_ip)) a = Admit(c.peer_ip);
    if (a == Admission::kServerFull) ++n_server_cap;
    if (a == Admission::kServerFull && !stopping.load() && EvictOldestPending(nullptr)) a = Admit(c.peer_ip);
    if (a != Admission::kOk) {
      Refuse(fd, 503, "Service Unavailable", "too many connections; retry later");
      c.counted = false;
      Retire(std::move(c));
      continue;
    }
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    Watch(std::move(c), Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(opts.read_timeout_s * 1000)), false);
  }
}

void ConnectionServer::Impl::OnReadable(int fd) {
  auto it = pending.find(fd);
  if (it == pending.end()) return;
  Pending& p = it->second;
  Conn& c = p.conn;
  if (p.lingering) {  // at most 256 KiB per wake-up: a fast sender must not hold this thread
    char drop[16384];
    ssize_t r = 0;
    for (int i = 0; i < 16 && (r = recv(fd, drop, sizeof drop, 0)) > 0; ++i) {
    }
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      Close(c);
      Forget(it);
    }
    return;
  }
  const size_t before = c.buf.size();
  bool eof = false;
  char tmp[16384];
  while (c.buf.size() <= opts.max_header_bytes) {
    const ssize_t n = recv(fd, tmp, sizeof tmp, 0);
    if (n > 0) {
      c.buf.append(tmp, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    eof = n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
    break;
  }
  if (p.waiting_first_byte && c.buf.size() > before) {  // the next request starts: its own deadline
    p.waiting_first_byte = false;
    p.deadline = Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(opts.read_timeout_s * 1000));
  }
  const bool complete = HeadersComplete(c.buf);
  if (!complete && !eof && c.buf.size() <= opts.max_header_bytes) return;
  Conn taken = std::move(c);
  Forget(it);
  if (complete) return Dispatch(std::move(taken));
  if (eof) return Close(taken);
  ++n_header_too_large;
  Refuse(taken.fd, 431, "Request Header Fields Too Large", "the request headers are too large");
  Retire(std::move(taken));
}

void ConnectionServer::Impl::TakeBack() {
  std::vector<Conn> conns;
  {
    std::lock_guard<std::mutex> l(back_mu);
    conns.swap(back);
  }
  for (Conn& c : conns) {
    if (stopping.load()) {
      Close(c);
    } else if (c.linger) {
      Retire(std::move(c));
    } else if (HeadersComplete(c.buf)) {  // a pipelined request already arrived
      Dispatch(std::move(c));
    } else {
      const bool idle = c.buf.empty();
      const double s = idle ? opts.idle_timeout_s : opts.read_timeout_s;
      Watch(std::move(c), Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(s * 1000)), idle);
    }
  }
}

void ConnectionServer::Impl::Expire() {
  const auto now = Clock::now();
  for (auto it = pending.begin(); it != pending.end();) {
    if (it->second.deadline > now) {
      ++it;
      continue;
    }
    Conn& c = it->second.conn;
    const bool answer = !it->second.waiting_first_byte && !it->second.lingering;
    n_header_timeout += answer;
    if (answer) Refuse(c.fd, 408, "Request Timeout", "the request headers did not arrive in time (--read-timeout)");
    Close(c);
    auto next = std::next(it);
    Forget(it);
    it = next;
  }
}

int ConnectionServer::Impl::NextTimeoutMs() const {
  int ms = 1000;
  for (const auto& [fd, p] : pending) ms = std::min(ms, MsUntil(p.deadline) + 1);
  return ms;
}

void ConnectionServer::Impl::ReactorLoop() {
  epoll_event evs[256];
  while (!stopping.load()) {
    const int n = epoll_wait(epoll_fd, evs, 256, NextTimeoutMs());
    for (int i = 0; i < n; ++i) {
      const int fd = evs[i].data.fd;
      if (fd == listen_fd) {
        AcceptAll();
      } else if (fd == wake_fd) {
        uint64_t v;
        (void)!::read(wake_fd, &v, sizeof v);
        TakeBack();
      } else {
        OnReadable(fd);
      }
    }
    Expire();
  }
  for (auto& [fd, p] : pending) Close(p.conn);
  pending.clear();
  TakeBack();  // closes what came back meanwhile
}

void ConnectionServer::Impl::WorkerLoop(Lane& lane, Lane::Worker& w) {
  std::unique_lock<std::mutex> l(lane.mu);
  for (;;) {
    if (!w.job && !lane.queue.empty() && !stopping.load()) {
      w.job = std::move(lane.queue.front());
      lane.queue.pop_front();
    }
    if (w.job) {
      Conn c = std::move(*w.job);
      w.job.reset();
      l.unlock();
      Serve(c);
      l.lock();
      continue;
    }
    if (stopping.load()) return;  // Shutdown() closes what is still queued
    lane.idle.push_back(&w);
    w.cv.wait(l, [&] { return w.job || stopping.load(); });
    if (!w.job) std::erase(lane.idle, &w);
  }
}

void ConnectionServer::Impl::Serve(Conn& c) {
  {
    ConnectionContext& ctx = CurrentConnection();
    ctx = ConnectionContext{.fd = c.fd, .close_after = false};
    // The body's deadline counts from the headers, time spent queued for a worker included.
    const auto deadline = c.headers_at + std::chrono::milliseconds(static_cast<int64_t>(opts.read_timeout_s * 1000));
    ConnStream s(c, deadline, opts.write_timeout_s * 1000);
    bool closed = false;
    const bool ok = owner->RunRequest(s, stopping.load(), closed);
    const bool keep = ok && !closed && !ctx.close_after && !stopping.load();
    c.linger = ok && ctx.close_after;
    ctx = ConnectionContext{};
    if (!keep && !c.linger) return Close(c);
    s.Compact();
  }
  {
    std::lock_guard<std::mutex> l(back_mu);
    back.push_back(std::move(c));
  }
  Wake();
}

ConnectionServer::Stats ConnectionServer::stats() const {
  Impl& m = *impl_;  // unique_ptr: the counters stay mutable in a const call
  Stats st{.client_cap = m.n_client_cap.load(), .server_cap = m.n_server_cap.load(), .busy = m.n_busy.load(),
           .header_timeout = m.n_header_timeout.load(), .header_too_large = m.n_header_too_large.load()};
  std::lock_guard<std::mutex> l(m.count_mu);
  st.open = m.total;
  return st;
}

std::string ConnectionServer::RenderStats() const {
  const Stats st = stats();
  std::string out =
      "# HELP gemrun_connections_open Open client connections.\n# TYPE gemrun_connections_open gauge\n"
      "gemrun_connections_open " + std::to_string(st.open) + "\n"
      "# HELP gemrun_connections_refused_total Connections refused, replaced or cut before a worker saw a request.\n"
      "# TYPE gemrun_connections_refused_total counter\n";
  for (const auto& [reason, n] : {std::pair{"client_cap", st.client_cap}, std::pair{"server_cap", st.server_cap},
                                  std::pair{"busy", st.busy}, std::pair{"header_timeout", st.header_timeout},
                                  std::pair{"header_too_large", st.header_too_large}})
    out += "gemrun_connections_refused_total{reason=\"" + std::string(reason) + "\"} " + std::to_string(n) + "\n";
  return out;
}

ConnectionServer::ConnectionServer(const ConnectionOptions& opts) : impl_(std::make_unique<Impl>()) {
  impl_->owner = this;
  impl_->opts = opts;
}

ConnectionServer::~ConnectionServer() { Shutdown(); }

void ConnectionServer::Start(int listen_fd) {
  Impl& m = *impl_;
  m.listen_fd = listen_fd;
  MarkListening(listen_fd);
  m.epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  m.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  m.spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  for (const int fd : {listen_fd, m.wake_fd}) {
    epoll_event ev{.events = EPOLLIN, .data = {.fd = fd}};
    epoll_ctl(m.epoll_fd, EPOLL_CTL_ADD, fd, &ev);
  }
  m.general.max_queue = std::max<size_t>(m.opts.workers, 1);
  m.probe.max_queue = 64;
  for (auto [lane_ptr, n] : {std::pair{&m.general, m.opts.workers}, std::pair{&m.probe, m.opts.probe_workers}})
    for (size_t i = 0; i < std::max<size_t>(n, 1); ++i) {
      Lane* lane = lane_ptr;  // a structured binding cannot be captured before C++20 in clang < 16
      lane->workers.push_back(std::make_unique<Lane::Worker>());
      lane->threads.emplace_back([&m, lane, w = lane->workers.back().get()] { m.WorkerLoop(*lane, *w); });
    }
  m.reactor = std::thread([&m] { m.ReactorLoop(); });
}

void ConnectionServer::Shutdown() {
  Impl& m = *impl_;
  if (!m.reactor.joinable()) return;
  m.stopping.store(true);
  MarkListening(-1);
  m.Wake();
  m.reactor.join();
  for (Lane* lane : {&m.general, &m.probe}) {
    {
      std::lock_guard<std::mutex> l(lane->mu);
      for (auto& w : lane->workers) w->cv.notify_one();
    }
    for (std::thread& t : lane->threads) t.join();
    lane->threads.clear();
    for (Conn& c : lane->queue) m.Close(c);
    lane->queue.clear();
  }
  m.TakeBack();
  for (const int fd : {m.listen_fd, m.epoll_fd, m.wake_fd, m.spare_fd})
    if (fd >= 0) close(fd);
  m.listen_fd = m.epoll_fd = m.wake_fd = m.spare_fd = -1;
}

}  // namespace gemrun::server
