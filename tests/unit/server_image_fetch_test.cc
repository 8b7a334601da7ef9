// serve --allow-image-urls: FetchImageUrl against a loopback HTTP server (an image, a redirect,
// a 404, an endless body, a slow answer, a refused connection, a non-http redirect), the address
// check (loopback, private, link-local and metadata addresses refused at connect time, through
// redirects and DNS names too), the deadline, disconnects, the byte budget, and the URL policy.
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <arpa/inet.h>

#include <atomic>
#include <thread>

#include "server/image_input.h"
#include "vision/image.h"

namespace gemrun::server {
namespace {

namespace fs = std::filesystem;

std::string ReadFile(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

class ServerImageFetch : public ::testing::Test {
 protected:
  void SetUp() override {
    png_ = ReadFile(fs::path(GEMRUN_TEST_DATA) / "vision" / "images" / "grad-224x224.png");
    ASSERT_FALSE(png_.empty());
    srv_.Get("/cat.png", [this](const httplib::Request&, httplib::Response& r) {
      ++hits_;
      r.set_content(png_, "image/png");
    });
    srv_.Get("/moved", [](const httplib::Request&, httplib::Response& r) { r.set_redirect("/cat.png"); });
    srv_.Get("/to-file", [](const httplib::Request&, httplib::Response& r) { r.set_redirect("file:///etc/passwd"); });
    srv_.Get("/loop", [](const httplib::Request&, httplib::Response& r) { r.set_redirect("/loop"); });
    srv_.Get("/empty", [](const httplib::Request&, httplib::Response& r) { r.set_content("", "image/png"); });
    srv_.Get("/huge", [](const httplib::Request&, httplib::Response& r) {
      // No Content-Length: only the running count can stop it.
      r.set_chunked_content_provider("image/png", [](size_t, httplib::DataSink& sink) {
        static const std::string chunk(1 << 20, 'x');
        return sink.write(chunk.data(), chunk.size());
      });
    });
    srv_.Get("/slow", [](const httplib::Request&, httplib::Response& r) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1500));
      r.set_content("late", "image/png");
    });
    srv_.Get("/to-loopback", [this](const httplib::Request&, httplib::Response& r) { r.set_redirect(Url("/cat.png")); });
    srv_.Get("/to-metadata", [](const httplib::Request&, httplib::Response& r) {
      r.set_redirect("http://169.254.169.254/latest/meta-data/");
    });
    srv_.Get("/to-name", [this](const httplib::Request&, httplib::Response& r) {
      r.set_redirect("http://internal.test:" + std::to_string(port_) + "/cat.png");
    });
    // 127.0.0.2 is loopback too (Linux routes 127/8 locally); tests treat it as "public".
    port_ = srv_.bind_to_any_port("0.0.0.0");
    ASSERT_GT(port_, 0);
    thread_ = std::thread([this] { srv_.listen_after_bind(); });
    while (!srv_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  void TearDown() override {
    srv_.stop();
    if (thread_.joinable()) thread_.join();
  }
  std::string Url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }
  static ImagePolicy Policy(bool allow_private, long timeout_ms = 5000) {
    ImagePolicy p;
    p.enabled = true;
    p.allow_urls = true;
    p.allow_private = allow_private;
    p.url_timeout_ms = timeout_ms;
    return p;
  }
  std::optional<ApiError> FetchUrl(const std::string& url, const ImagePolicy& p, std::string* out,
                                   const FetchControl& ctl = {}) {
    ImageInput in;
    in.param = "messages[0].content[0].image_url.url";
    in.url = url;
    return FetchImageUrl(in, p, out, ctl);
  }
  std::optional<ApiError> Fetch(const std::string& path, std::string* out, long timeout_ms = 5000,
                                std::string* detail = nullptr) {
    return FetchUrl(Url(path), Policy(true, timeout_ms), out, FetchControl{.detail = detail});
  }

  std::atomic<int> hits_{0};
  httplib::Server srv_;
  std::thread thread_;
  int port_ = 0;
  std::string png_;
};

TEST_F(ServerImageFetch, DownloadsTheImageAndFollowsRedirects) {
  std::string got;
  ASSERT_FALSE(Fetch("/cat.png", &got));
  EXPECT_EQ(got, png_);
  got.clear();
  ASSERT_FALSE(Fetch("/moved", &got));
  EXPECT_EQ(got, png_);
}

// The client learns only that the fetch failed; the log gets the reason.
TEST_F(ServerImageFetch, EveryFailureIsAGeneric400WithTheReasonForTheLog) {
  struct Case {
    const char* path;
    const char* reason;
  } cases[] = {{"/nope", "HTTP 404"},   {"/to-file", "rotocol"}, {"/loop", "edirect"},
               {"/empty", "empty"},     {"/huge", "larger than"}};
  for (const Case& c : cases) {
    std::string got, detail;
    // A generous deadline: under ASan on a busy 2-core runner /huge reached 134 MB in 5 s without
    // passing the size cap first, and the timeout (not the cap) ended it.
    auto e = Fetch(c.path, &got, 60000, &detail);
    ASSERT_TRUE(e) << c.path;
    EXPECT_EQ(e->status, 400) << c.path;
    EXPECT_EQ(e->param, "messages[0].content[0].image_url.url") << c.path;
    EXPECT_NE(e->message.find("image fetch failed"), std::string::npos) << c.path << ": " << e->message;
    EXPECT_EQ(e->message.find(c.reason), std::string::npos) << c.path << ": " << e->message;
    EXPECT_NE(detail.find(c.reason), std::string::npos) << c.path << ": " << detail;
    EXPECT_LE(got.size(), static_cast<size_t>(vision::kMaxImageFileBytes));
  }
  std::string got, detail;
  auto e = Fetch("/slow", &got, 300, &detail);
  ASSERT_TRUE(e);
  EXPECT_NE(detail.find("imed out"), std::string::npos) << detail;
}

TEST_F(ServerImageFetch, ARefusedConnectionIsAGeneric400) {
  std::string got, detail;
  auto e = FetchUrl("http://127.0.0.1:1/cat.png", Policy(true), &got, FetchControl{.detail = &detail});
  ASSERT_TRUE(e);
  EXPECT_EQ(e->status, 400);
  EXPECT_NE(e->message.find("image fetch failed"), std::string::npos) << e->message;
  EXPECT_FALSE(detail.empty());
}

// Before: any address was fetched. Now loopback, private, link-local (metadata) addresses are
// refused when libcurl opens the socket: directly, behind a redirect and behind a DNS name.
TEST_F(ServerImageFetch, NonPublicAddressesAreRefusedAtConnectTime) {
  const std::string port = std::to_string(port_);
  ImagePolicy p = Policy(false, 3000);
  const std::string direct[] = {Url("/cat.png"), "http://10.0.0.1:" + port + "/cat.png",
                                "http://169.254.169.254/latest/meta-data/", "http://[::1]:" + port + "/cat.png",
                                "http://[::ffff:127.0.0.1]:" + port + "/cat.png", "http://0.0.0.0:" + port + "/"};
  for (const std::string& url : direct) {
    std::string got, detail;
    const auto t0 = std::chrono::steady_clock::now();
    auto e = FetchUrl(url, p, &got, FetchControl{.detail = &detail});
    ASSERT_TRUE(e) << url;
    EXPECT_EQ(e->status, 400) << url;
    EXPECT_NE(e->message.find("image URL not allowed"), std::string::npos) << url << ": " << e->message;
    EXPECT_NE(detail.find("refused to connect"), std::string::npos) << url << ": " << detail;
    // 10.0.0.1 and 169.254.169.254 are refused before a socket exists: no connect timeout.
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(1)) << url;
  }
  EXPECT_EQ(hits_.load(), 0);
  // A DNS name resolving to refused addresses (pinned with CURLOPT_RESOLVE).
  for (const char* addr : {"127.0.0.1", "10.0.0.1", "169.254.169.254"}) {
    ImagePolicy q = p;
    q.test_resolve = {"internal.test:" + port + ":" + addr};
    std::string got, detail;
    auto e = FetchUrl("http://internal.test:" + port + "/cat.png", q, &got, FetchControl{.detail = &detail});
    ASSERT_TRUE(e) << addr;
    EXPECT_NE(e->message.find("image URL not allowed"), std::string::npos) << addr;
    EXPECT_NE(detail.find(addr), std::string::npos) << detail;
  }
  // Redirects from an allowed ("public") first hop to refused addresses.
  ImagePolicy q = p;
  q.test_public = {"127.0.0.2"};
  q.test_resolve = {"internal.test:" + port + ":127.0.0.1"};
  const std::string hop = "http://127.0.0.2:" + port;
  std::string got;
  ASSERT_FALSE(FetchUrl(hop + "/cat.png", q, &got)) << "the 'public' hop itself is fetched";
  EXPECT_EQ(hits_.load(), 1);
  for (const char* path : {"/to-loopback", "/to-metadata", "/to-name"}) {
    std::string detail;
    auto e = FetchUrl(hop + path, q, &got, FetchControl{.detail = &detail});
    ASSERT_TRUE(e) << path;
    EXPECT_NE(e->message.find("image URL not allowed"), std::string::npos) << path;
    EXPECT_NE(detail.find("refused to connect"), std::string::npos) << path << ": " << detail;
  }
  EXPECT_EQ(hits_.load(), 1);
  // --allow-private-urls opts out.
  ASSERT_FALSE(FetchUrl(Url("/cat.png"), Policy(true), &got));
  EXPECT_EQ(got, png_);
}

TEST(ServerImageAddress, Ranges) {
  auto v4 = [](const char* a) {
    sockaddr_in s{};
    s.sin_family = AF_INET;
    inet_pton(AF_INET, a, &s.sin_addr);
    return BlockedAddressReason(reinterpret_cast<sockaddr*>(&s)).has_value();
  };
  auto v6 = [](const char* a) {
    sockaddr_in6 s{};
    s.sin6_family = AF_INET6;
    inet_pton(AF_INET6, a, &s.sin6_addr);
    return BlockedAddressReason(reinterpret_cast<sockaddr*>(&s)).has_value();
  };
  for (const char* a : {"0.0.0.0", "10.1.2.3", "100.64.0.1", "100.127.255.255", "127.0.0.1", "127.9.9.9",
                        "169.254.169.254", "172.16.0.1", "172.31.255.255", "192.168.1.1", "224.0.0.1",
                        "239.255.255.250", "255.255.255.255", "240.0.0.1", "192.0.0.8", "198.18.0.1"})
    EXPECT_TRUE(v4(a)) << a;
  for (const char* a : {"8.8.8.8", "1.1.1.1", "100.63.255.255", "100.128.0.0", "172.15.255.255", "172.32.0.0",
                        "192.167.1.1", "169.253.1.1", "93.184.216.34"})
    EXPECT_FALSE(v4(a)) << a;
  for (const char* a : {"::1", "::", "fc00::1", "fd12:3456::1", "fe80::1", "febf::1", "ff02::1", "::ffff:127.0.0.1",
                        "::ffff:10.0.0.1", "::ffff:169.254.169.254", "64:ff9b::a00:1", "2002:a00:1::1", "::127.0.0.1"})
    EXPECT_TRUE(v6(a)) << a;
  for (const char* a : {"2001:4860:4860::8888", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"})
    EXPECT_FALSE(v6(a)) << a;
}

// The request's deadline and the client's disconnect end a download; so does the byte budget.
TEST_F(ServerImageFetch, DeadlineDisconnectAndBudgetStopADownload) {
  std::string got, detail;
  const auto t0 = std::chrono::steady_clock::now();
  auto e = FetchUrl(Url("/slow"), Policy(true, 20000), &got,
                    FetchControl{.deadline = t0 + std::chrono::milliseconds(300), .detail = &detail});
  ASSERT_TRUE(e);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(1400));
  EXPECT_EQ(e->status, 504) << e->message << " / " << detail;
  bool gone = false;
  e = FetchUrl(Url("/huge"), Policy(true, 20000), &got,
               FetchControl{.cancelled = [&] { return gone = true; }, .detail = &detail});
  ASSERT_TRUE(e);
  EXPECT_EQ(e->status, 499) << e->message << " / " << detail;
  ByteBudget budget(1 << 20);
  {
    BudgetLease lease(&budget);
    e = FetchUrl(Url("/huge"), Policy(true, 20000), &got, FetchControl{.lease = &lease, .detail = &detail});
    ASSERT_TRUE(e);
    EXPECT_EQ(e->status, 503) << e->message << " / " << detail;
    EXPECT_LE(budget.used(), budget.limit());
  }
  EXPECT_EQ(budget.used(), 0u);
  {
    BudgetLease lease(&budget);
    ASSERT_FALSE(FetchUrl(Url("/cat.png"), Policy(true), &got, FetchControl{.lease = &lease}));
    EXPECT_EQ(lease.held(), png_.size());
  }
  EXPECT_EQ(budget.used(), 0u);
}

TEST(ServerImageUrlPolicy, UrlsOnlyWithTheFlagAndWellFormed) {
  ImagePolicy off, on;
  off.enabled = on.enabled = true;
  on.allow_urls = true;
  ImageInput in;
  auto e = ParseImageUrl("https://example.com/cat.png", "u", off, &in);
  ASSERT_TRUE(e);
  EXPECT_NE(e->message.find("--allow-image-urls"), std::string::npos);
  EXPECT_FALSE(ParseImageUrl("HTTPS://example.com/cat.png?x=1", "u", on, &in));
  EXPECT_EQ(in.url, "HTTPS://example.com/cat.png?x=1");
  EXPECT_TRUE(in.bytes.empty() && in.file.empty());
  for (const std::string& bad : {std::string("https://example.com/a b.png"), std::string("http://x/\n.png"),
                                "https://example.com/" + std::string(9000, 'a')}) {
    e = ParseImageUrl(bad, "u", on, &in);
    ASSERT_TRUE(e) << bad.substr(0, 40);
    EXPECT_EQ(e->param, "u");
  }
  // The policy flag does not open other schemes.
  EXPECT_TRUE(ParseImageUrl("ftp://example.com/cat.png", "u", on, &in));
}

}  // namespace
}  // namespace gemrun::server
