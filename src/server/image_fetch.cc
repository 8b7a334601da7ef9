// FetchImageUrl: one bounded libcurl download of an image URL (serve --allow-image-urls).
#include <curl/curl.h>

#include <algorithm>
#include <mutex>

#include "server/image_input.h"
#include "vision/image.h"

namespace gemrun::server {
namespace {

struct Sink {
  std::string* out;
  size_t limit;
  bool too_large = false;
};

size_t Write(char* data, size_t size, size_t n, void* user) {
  auto* s = static_cast<Sink*>(user);
  const size_t len = size * n;
  if (s->out->size() + len > s->limit) {
    s->too_large = true;
    return 0;  // aborts the transfer (CURLE_WRITE_ERROR)
  }
  s->out->append(data, len);
  return len;
}

ApiError Refused(const ImageInput& in, const std::string& why) {
  return ApiError::BadRequest("'" + in.param + "' could not be fetched: " + why, in.param, "invalid_image_url");
}

}  // namespace

std::optional<ApiError> FetchImageUrl(const ImageInput& in, const ImagePolicy& policy, std::string* out) {
  if (!policy.allow_urls) return Refused(in, "this server does not fetch URLs (--allow-image-urls)");
  static std::once_flag init;
  std::call_once(init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  CURL* c = curl_easy_init();
  if (!c) return ApiError::Of(500, "server_error", "cannot start an HTTP client for '" + in.param + "'");
  out->clear();
  Sink sink{out, static_cast<size_t>(vision::kMaxImageFileBytes)};
  char err[CURL_ERROR_SIZE] = "";
  // Every option must take: a libcurl that ignored the protocol or size limits would fetch
  // what the policy refuses.
  CURLcode set = CURLE_OK;
  auto opt = [&](CURLoption o, auto value) {
    if (set == CURLE_OK) set = curl_easy_setopt(c, o, value);
  };
  opt(CURLOPT_URL, in.url.c_str());
  opt(CURLOPT_PROTOCOLS_STR, "http,https");
  opt(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  opt(CURLOPT_FOLLOWLOCATION, 1L);
  opt(CURLOPT_MAXREDIRS, 3L);
  opt(CURLOPT_TIMEOUT_MS, policy.url_timeout_ms);
  opt(CURLOPT_CONNECTTIMEOUT_MS, std::min(policy.url_timeout_ms, 10000L));
  opt(CURLOPT_NOSIGNAL, 1L);  // timeouts without SIGALRM: the server is threaded
  opt(CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(vision::kMaxImageFileBytes));
  opt(CURLOPT_USERAGENT, "gemrun-serve");
  opt(CURLOPT_WRITEFUNCTION, Write);
  opt(CURLOPT_WRITEDATA, &sink);
  opt(CURLOPT_ERRORBUFFER, err);
  if (set != CURLE_OK) {
    curl_easy_cleanup(c);
    return ApiError::Of(500, "server_error",
                        std::string("cannot configure the HTTP client: ") + curl_easy_strerror(set));
  }
  const CURLcode rc = curl_easy_perform(c);
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(c);
  const std::string limit = std::to_string(vision::kMaxImageFileBytes >> 20) + " MiB";
  std::optional<ApiError> e;
  if (sink.too_large || rc == CURLE_FILESIZE_EXCEEDED)
    e = ApiError::BadRequest("'" + in.param + "' is larger than " + limit + "; images are limited to " + limit,
                             in.param, "image_too_large");
  else if (rc != CURLE_OK)
    e = Refused(in, err[0] ? std::string(err) : std::string(curl_easy_strerror(rc)));
  else if (status < 200 || status > 299)
    e = Refused(in, "the server answered HTTP " + std::to_string(status));
  else if (out->empty())
    e = Refused(in, "the answer is empty");
  if (e) out->clear();
  return e;
}

}  // namespace gemrun::server
