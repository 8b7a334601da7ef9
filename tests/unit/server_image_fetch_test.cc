// serve --allow-image-urls: FetchImageUrl against a loopback HTTP server (an image, a redirect,
// a 404, an endless body, a slow answer, a refused connection, a non-http redirect) and the
// URL policy in ParseImageUrl.
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
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
    srv_.Get("/cat.png", [this](const httplib::Request&, httplib::Response& r) { r.set_content(png_, "image/png"); });
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
    port_ = srv_.bind_to_any_port("127.0.0.1");
    ASSERT_GT(port_, 0);
    thread_ = std::thread([this] { srv_.listen_after_bind(); });
    while (!srv_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  void TearDown() override {
    srv_.stop();
    if (thread_.joinable()) thread_.join();
  }
  std::string Url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }
  std::optional<ApiError> Fetch(const std::string& path, std::string* out, long timeout_ms = 5000) {
    ImageInput in;
    in.param = "messages[0].content[0].image_url.url";
    in.url = Url(path);
    ImagePolicy p{.enabled = true, .max_images = 8, .files_dir = "", .allow_urls = true, .url_timeout_ms = timeout_ms};
    return FetchImageUrl(in, p, out);
  }

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

TEST_F(ServerImageFetch, EveryFailureIsA400NamingTheFieldAndTheReason) {
  struct Case {
    const char* path;
    const char* reason;
  } cases[] = {{"/nope", "HTTP 404"},   {"/to-file", "fetched"}, {"/loop", "redirect"},
               {"/empty", "empty"},     {"/huge", "larger than"}};
  for (const Case& c : cases) {
    std::string got;
    auto e = Fetch(c.path, &got);
    ASSERT_TRUE(e) << c.path;
    EXPECT_EQ(e->status, 400) << c.path;
    EXPECT_EQ(e->param, "messages[0].content[0].image_url.url") << c.path;
    EXPECT_NE(e->message.find(c.reason), std::string::npos) << c.path << ": " << e->message;
    EXPECT_LE(got.size(), static_cast<size_t>(vision::kMaxImageFileBytes));
  }
  std::string got;
  auto e = Fetch("/slow", &got, 300);
  ASSERT_TRUE(e);
  EXPECT_NE(e->message.find("imed out"), std::string::npos) << e->message;
}

TEST_F(ServerImageFetch, ARefusedConnectionIsA400) {
  ImageInput in;
  in.param = "u";
  in.url = "http://127.0.0.1:1/cat.png";
  std::string got;
  auto e = FetchImageUrl(in, ImagePolicy{.enabled = true, .max_images = 8, .files_dir = "", .allow_urls = true}, &got);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->status, 400);
  EXPECT_NE(e->message.find("could not be fetched"), std::string::npos) << e->message;
}

TEST(ServerImageUrlPolicy, UrlsOnlyWithTheFlagAndWellFormed) {
  const ImagePolicy off{.enabled = true, .max_images = 8, .files_dir = ""};
  const ImagePolicy on{.enabled = true, .max_images = 8, .files_dir = "", .allow_urls = true};
  ImageInput in;
  auto e = ParseImageUrl("https://example.com/cat.png", "u", off, &in);
  ASSERT_TRUE(e);
  EXPECT_NE(e->message.find("--allow-image-urls"), std::string::npos);
  EXPECT_FALSE(ParseImageUrl("HTTPS://example.com/cat.png?x=1", "u", on, &in));
  EXPECT_EQ(in.url, "HTTPS://example.com/cat.png?x=1");
  EXPECT_TRUE(in.bytes.empty() && in.file.empty());
  for (const std::string bad : {std::string("https://example.com/a b.png"), std::string("http://x/\n.png"),
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
