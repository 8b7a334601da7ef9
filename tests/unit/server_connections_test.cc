// The connection layer under `gemrun serve` (connections.h) on loopback: a total header deadline
// that trickling cannot extend, /health answering while every general worker is busy, the
// per-client cap replacing a client's oldest waiting connection, keep-alive with pipelining,
// and a bind error that names the address and the reason.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "server/connections.h"

namespace gemrun::server {
namespace {

using Clock = std::chrono::steady_clock;

class ServerConnections : public ::testing::Test {
 protected:
  void Start(const ConnectionOptions& o) {
    svr_ = std::make_unique<ConnectionServer>(o);
    svr_->Get("/health", [](const httplib::Request&, httplib::Response& r) { r.set_content("ok", "text/plain"); });
    svr_->Get("/block", [this](const httplib::Request&, httplib::Response& r) {
      ++blocked_;
      while (!release_.load()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      r.set_content("done", "text/plain");
    });
    auto fd = ListenOn("127.0.0.1", 0, &port_);
    ASSERT_TRUE(fd.ok()) << fd.status().message();
    svr_->Start(*fd);
  }
  void TearDown() override {
    release_ = true;
    if (svr_) svr_->Shutdown();
  }
  int Connect(const char* src = "127.0.0.1") const {
    const int s = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    inet_pton(AF_INET, src, &a.sin_addr);
    EXPECT_EQ(bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    a.sin_port = htons(static_cast<uint16_t>(port_));
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    EXPECT_EQ(connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    timeval tv{.tv_sec = 5, .tv_usec = 0};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return s;
  }
  static void Send(int s, const std::string& d) { ASSERT_EQ(send(s, d.data(), d.size(), MSG_NOSIGNAL), ssize_t(d.size())); }
  // Everything until the peer closes (or `until` appears).
  static std::string Read(int s, const std::string& until = "") {
    std::string out;
    char b[4096];
    for (ssize_t n; (n = recv(s, b, sizeof b, 0)) > 0;) {
      out.append(b, static_cast<size_t>(n));
      if (!until.empty() && out.find(until) != std::string::npos) break;
    }
    return out;
  }
  static std::string Request(const std::string& path, bool close = true) {
    return "GET " + path + " HTTP/1.1\r\nHost: x\r\n" + (close ? "Connection: close\r\n" : "") + "\r\n";
  }

  std::unique_ptr<ConnectionServer> svr_;
  int port_ = 0;
  std::atomic<int> blocked_{0};
  std::atomic<bool> release_{false};
};

// httplib's per-read timeout let a client that sends a byte now and then hold a worker forever.
TEST_F(ServerConnections, TricklingHeadersAreCutAtTheTotalDeadline) {
  Start(ConnectionOptions{.read_timeout_s = 1, .workers = 2});
  const int s = Connect();
  const auto t0 = Clock::now();
  Send(s, "GET /health HTTP/1.1\r\n");
  std::string got;
  for (int i = 0; i < 40; ++i) {  // a header byte every 100 ms, for up to 4 s
    if (send(s, "X", 1, MSG_NOSIGNAL) != 1) break;
    pollfd p{.fd = s, .events = POLLIN, .revents = 0};
    if (poll(&p, 1, 100) > 0) {
      got = Read(s);
      break;
    }
  }
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  EXPECT_NE(got.find("408"), std::string::npos) << got;
  EXPECT_EQ(svr_->stats().header_timeout, 1u);
  EXPECT_LT(secs, 2.0);
  close(s);
}

TEST_F(ServerConnections, HealthAnswersWhileEveryWorkerIsBusy) {
  Start(ConnectionOptions{.read_timeout_s = 5, .max_per_client = 0, .workers = 2});
  int busy[4];
  // Both workers block (until release_) and two more requests wait in their queue. The first
  // two go one at a time: sent together, all four could reach the queue (2 deep) before a
  // worker takes one, and the fourth would get its 503 (the busy answer the queue bound gives).
  for (int i = 0; i < 4; ++i) {
    busy[i] = Connect();
    Send(busy[i], Request("/block"));
    while (i < 2 && blocked_.load() < i + 1) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const auto t0 = Clock::now();
  const int h = Connect();
  Send(h, Request("/health"));
  const std::string got = Read(h);
  EXPECT_NE(got.find("200 OK"), std::string::npos) << got;
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(3));  // the general workers never free up before release_
  close(h);
  release_ = true;
  for (const int s : busy) {
    EXPECT_NE(Read(s).find("done"), std::string::npos);
    close(s);
  }
}

TEST_F(ServerConnections, PerClientCapReplacesTheOldestWaitingConnection) {
  Start(ConnectionOptions{.read_timeout_s = 5, .max_per_client = 2, .workers = 2});
  const int idle1 = Connect("127.0.0.5");
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const int idle2 = Connect("127.0.0.5");
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const int h = Connect("127.0.0.5");
  Send(h, Request("/health"));
  EXPECT_NE(Read(h).find("200 OK"), std::string::npos);
  EXPECT_NE(Read(idle1).find("503"), std::string::npos);  // the oldest made room
  EXPECT_EQ(svr_->stats().client_cap, 1u);
  EXPECT_NE(svr_->RenderStats().find("gemrun_connections_refused_total{reason=\"client_cap\"} 1"), std::string::npos);
  // Another address is not affected.
  const int other = Connect("127.0.0.6");
  Send(other, Request("/health"));
  EXPECT_NE(Read(other).find("200 OK"), std::string::npos);
  for (const int s : {idle1, idle2, h, other}) close(s);
}

TEST_F(ServerConnections, KeepAliveAndPipelinedRequests) {
  Start(ConnectionOptions{.read_timeout_s = 5, .workers = 2});
  const int s = Connect();
  Send(s, Request("/health", false) + Request("/health", false));
  const std::string two = Read(s, "okHTTP/1.1 200 OK");
  EXPECT_NE(two.find("okHTTP/1.1 200 OK"), std::string::npos) << two;
  Send(s, Request("/health"));
  EXPECT_NE(Read(s).find("200 OK"), std::string::npos);
  close(s);
}

TEST(ServerListen, ABusyPortNamesTheAddressAndTheReason) {
  int port = 0;
  auto first = ListenOn("127.0.0.1", 0, &port);
  ASSERT_TRUE(first.ok());
  int again = 0;
  auto second = ListenOn("127.0.0.1", port, &again);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("127.0.0.1:" + std::to_string(port)), std::string::npos);
  EXPECT_NE(second.status().message().find("in use"), std::string::npos) << second.status().message();
  EXPECT_EQ(second.status().code(), StatusCode::kInternal);  // a runtime error (exit 3), not usage
  close(*first);
}

}  // namespace
}  // namespace gemrun::server
