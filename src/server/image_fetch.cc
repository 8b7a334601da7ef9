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
  curl_easy_setopt(c, CURLOPT_URL, in.url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 3L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, policy.url_timeout_ms);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, std::min(policy.url_timeout_ms, 10000L));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // timeouts without SIGALRM: the server is threaded
  curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(vision::kMaxImageFileBytes));
  curl_easy_setopt(c, CURLOPT_USERAGENT, "gemrun-serve");
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, Write);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
  const CURLcode rc = curl_easy_perform(c);
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(c);
  const std::string limit = std::to_string(vision::kMaxImageFileBytes >> 20) + " MiB";
  if (sink.too_large || rc == CURLE_FILESIZE_EXCEEDED) {
    out->clear();
    return ApiError::BadRequest("'" + in.param + "' is larger than " + limit + "; images are limited to " + limit,
                                in.param, "image_too_large");
  }
  if (rc != CURLE_OK) {
    out->clear();
    return Refused(in, err[0] ? std::string(err) : std::string(curl_easy_strerror(rc)));
  }
  if (status < 200 || status > 299) {
    out->clear();
    return Refused(in, "the server answered HTTP " + std::to_string(status));
  }
  if (out->empty()) return Refused(in, "the answer is empty");
  return std::nullopt;
}

}  // namespace gemrun::server
