// FetchImageUrl: one bounded libcurl download of an image URL (serve --allow-image-urls), with the
// address check at connect time (SSRF), the request's deadline, the client's disconnect and the
// server-wide byte budget.
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <mutex>

#include "server/image_input.h"
#include "vision/image.h"

namespace gemrun::server {
namespace {

struct Sink {
  std::string* out;
  size_t limit;
  const FetchControl* ctl;
  bool too_large = false;
  bool over_budget = false;
  bool cancelled = false;
  bool deadline = false;
  bool allow_private = false;
  const std::vector<std::string>* test_public = nullptr;
  std::string blocked;  // the refused address and why (first one)
};

size_t Write(char* data, size_t size, size_t n, void* user) {
  auto* s = static_cast<Sink*>(user);
  const size_t len = size * n;
  if (s->out->size() + len > s->limit) {
    s->too_large = true;
    return 0;  // aborts the transfer (CURLE_WRITE_ERROR)
  }
  if (s->ctl->lease && !s->ctl->lease->Grow(len)) {
    s->over_budget = true;
    return 0;
  }
  s->out->append(data, len);
  return len;
}

// Called by libcurl often during a transfer (and at least once a second while it waits).
int Progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* s = static_cast<Sink*>(user);
  if (std::chrono::steady_clock::now() >= s->ctl->deadline) s->deadline = true;
  else if (s->ctl->cancelled && s->ctl->cancelled()) s->cancelled = true;
  return s->deadline || s->cancelled ? 1 : 0;
}

std::string Text(const sockaddr* a) {
  char b[INET6_ADDRSTRLEN] = "?";
  if (a->sa_family == AF_INET) inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(a)->sin_addr, b, sizeof b);
  if (a->sa_family == AF_INET6) inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(a)->sin6_addr, b, sizeof b);
  return b;
}

// libcurl asks us for every socket it connects, after DNS and on every redirect: the one place
// where the address is final. A refused address gets no socket, so no packet is ever sent to it.
curl_socket_t OpenSocket(void* user, curlsocktype purpose, curl_sockaddr* a) {
  auto* s = static_cast<Sink*>(user);
  if (purpose != CURLSOCKTYPE_IPCXN) return CURL_SOCKET_BAD;
  const bool test_public = s->test_public && std::find(s->test_public->begin(), s->test_public->end(),
                                                       Text(&a->addr)) != s->test_public->end();
  if (!s->allow_private && !test_public) {
    if (auto why = BlockedAddressReason(&a->addr)) {
      if (s->blocked.empty()) s->blocked = *why;
      return CURL_SOCKET_BAD;
    }
  }
  return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

std::optional<std::string> BlockedV4(uint32_t ip) {  // host byte order
  struct Range {
    uint32_t net;
    int bits;
    const char* what;
  };
  static constexpr Range kRanges[] = {
      {0x00000000, 8, "unspecified (0.0.0.0/8)"},       {0x0A000000, 8, "private (10.0.0.0/8)"},
      {0x64400000, 10, "shared CGNAT (100.64.0.0/10)"},  {0x7F000000, 8, "loopback (127.0.0.0/8)"},
      {0xA9FE0000, 16, "link-local (169.254.0.0/16, cloud metadata)"},
      {0xAC100000, 12, "private (172.16.0.0/12)"},       {0xC0000000, 24, "IETF protocol assignments (192.0.0.0/24)"},
      {0xC0A80000, 16, "private (192.168.0.0/16)"},      {0xC6120000, 15, "benchmarking (198.18.0.0/15)"},
      {0xE0000000, 4, "multicast (224.0.0.0/4)"},        {0xF0000000, 4, "reserved or broadcast (240.0.0.0/4)"}};
  for (const Range& r : kRanges)
    if ((ip >> (32 - r.bits)) == (r.net >> (32 - r.bits))) return std::string(r.what);
  return std::nullopt;
}

ApiError Generic(const ImageInput& in, bool not_allowed) {
  return ApiError::BadRequest("'" + in.param + "' could not be fetched: " +
                                  (not_allowed ? "image URL not allowed" : "image fetch failed"),
                              in.param, not_allowed ? "image_url_not_allowed" : "image_fetch_failed");
}

}  // namespace

std::optional<std::string> BlockedAddressReason(const sockaddr* addr) {
  if (addr->sa_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(addr);
    if (auto why = BlockedV4(ntohl(a->sin_addr.s_addr))) return Text(addr) + " is " + *why;
    return std::nullopt;
  }
  if (addr->sa_family != AF_INET6) return "address family " + std::to_string(addr->sa_family) + " is not IP";
  const uint8_t* b = reinterpret_cast<const sockaddr_in6*>(addr)->sin6_addr.s6_addr;
  auto v4at = [&](int at) {
    return static_cast<uint32_t>(b[at]) << 24 | static_cast<uint32_t>(b[at + 1]) << 16 |
           static_cast<uint32_t>(b[at + 2]) << 8 | b[at + 3];
  };
  auto zero = [&](int from, int to) { return std::all_of(b + from, b + to, [](uint8_t x) { return x == 0; }); };
  const std::string text = Text(addr);
  std::optional<uint32_t> v4;  // an IPv4 address embedded in an IPv6 form is judged as IPv4
  if (zero(0, 10) && b[10] == 0xFF && b[11] == 0xFF) v4 = v4at(12);                  // ::ffff:a.b.c.d
  else if (zero(0, 12)) v4 = v4at(12);                                               // ::a.b.c.d, ::1, ::
  else if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xFF && b[3] == 0x9B && zero(4, 12)) v4 = v4at(12);  // NAT64
  else if (b[0] == 0x20 && b[1] == 0x02) v4 = v4at(2);                               // 6to4
  if (zero(0, 15) && b[15] == 1) return text + " is loopback (::1)";
  if (zero(0, 16)) return text + " is unspecified (::)";
  if (v4) {
    if (auto why = BlockedV4(*v4)) return text + " embeds an IPv4 address that is " + *why;
    return std::nullopt;
  }
  if ((b[0] & 0xFE) == 0xFC) return text + " is unique-local (fc00::/7)";
  if (b[0] == 0xFE && (b[1] & 0xC0) == 0x80) return text + " is link-local (fe80::/10)";
  if (b[0] == 0xFE && (b[1] & 0xC0) == 0xC0) return text + " is site-local (fec0::/10)";
  if (b[0] == 0xFF) return text + " is multicast (ff00::/8)";
  return std::nullopt;
}

std::optional<ApiError> FetchImageUrl(const ImageInput& in, const ImagePolicy& policy, std::string* out,
                                      const FetchControl& ctl) {
  std::string scratch;
  std::string& detail = ctl.detail ? *ctl.detail : scratch;
  detail.clear();
  if (!policy.allow_urls) return Generic(in, true);
  static std::once_flag init;
  std::call_once(init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  const auto now = std::chrono::steady_clock::now();
  long timeout_ms = policy.url_timeout_ms;
  if (ctl.deadline != std::chrono::steady_clock::time_point::max())
    timeout_ms = std::clamp<long>(std::chrono::duration_cast<std::chrono::milliseconds>(ctl.deadline - now).count(),
                                  1, timeout_ms);
  CURL* c = curl_easy_init();
  if (!c) return ApiError::Of(500, "server_error", "cannot start an HTTP client for '" + in.param + "'");
  out->clear();
  Sink sink{.out = out, .limit = static_cast<size_t>(vision::kMaxImageFileBytes), .ctl = &ctl,
            .allow_private = policy.allow_private, .test_public = &policy.test_public, .blocked = {}};
  curl_slist* resolve = nullptr;
  for (const std::string& r : policy.test_resolve) resolve = curl_slist_append(resolve, r.c_str());
  char err[CURL_ERROR_SIZE] = "";
  // Every option must take: a libcurl that ignored the protocol, size or address limits would
  // fetch what the policy refuses.
  CURLcode set = CURLE_OK;
  auto opt = [&](CURLoption o, auto value) {
    if (set == CURLE_OK) set = curl_easy_setopt(c, o, value);
  };
  opt(CURLOPT_URL, in.url.c_str());
  opt(CURLOPT_PROTOCOLS_STR, "http,https");
  opt(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  opt(CURLOPT_FOLLOWLOCATION, 1L);
  opt(CURLOPT_MAXREDIRS, 3L);
  opt(CURLOPT_TIMEOUT_MS, timeout_ms);
  opt(CURLOPT_CONNECTTIMEOUT_MS, std::min(timeout_ms, 10000L));
  opt(CURLOPT_NOSIGNAL, 1L);  // timeouts without SIGALRM: the server is threaded
  opt(CURLOPT_PROXY, "");     // no proxy from the environment: the check must see the real peer
  opt(CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(vision::kMaxImageFileBytes));
  opt(CURLOPT_USERAGENT, "gemrun-serve");
  opt(CURLOPT_WRITEFUNCTION, Write);
  opt(CURLOPT_WRITEDATA, &sink);
  opt(CURLOPT_OPENSOCKETFUNCTION, OpenSocket);
  opt(CURLOPT_OPENSOCKETDATA, &sink);
  opt(CURLOPT_XFERINFOFUNCTION, Progress);
  opt(CURLOPT_XFERINFODATA, &sink);
  opt(CURLOPT_NOPROGRESS, 0L);
  opt(CURLOPT_ERRORBUFFER, err);
  if (resolve) opt(CURLOPT_RESOLVE, resolve);
  if (set != CURLE_OK) {
    curl_easy_cleanup(c);
    curl_slist_free_all(resolve);
    return ApiError::Of(500, "server_error",
                        std::string("cannot configure the HTTP client: ") + curl_easy_strerror(set));
  }
  const CURLcode rc = curl_easy_perform(c);
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(c);
  curl_slist_free_all(resolve);
  // With the request's deadline nearer than the URL timeout, libcurl's own timeout is the deadline.
  if (rc == CURLE_OPERATION_TIMEDOUT && timeout_ms < policy.url_timeout_ms) sink.deadline = true;
  std::optional<ApiError> e;
  if (!sink.blocked.empty()) {
    detail = "refused to connect: " + sink.blocked + " (--allow-private-urls allows it)";
    e = Generic(in, true);
  } else if (sink.over_budget) {
    detail = "the server's buffered-bytes budget is exhausted";
    e = ApiError::Of(503, "server_error", "the server is holding too many request bytes; retry later", "server_busy");
  } else if (sink.cancelled) {
    detail = "the client went away during the download";
    e = ApiError::Of(499, "cancelled", "client went away");
  } else if (sink.deadline) {
    detail = "the request's --timeout passed during the download";
    e = ApiError::Of(504, "server_error", "the request took longer than the server's --timeout", "timeout");
  } else if (sink.too_large || rc == CURLE_FILESIZE_EXCEEDED) {
    detail = "larger than " + std::to_string(vision::kMaxImageFileBytes >> 20) + " MiB";
  } else if (rc != CURLE_OK) {
    detail = err[0] ? std::string(err) : std::string(curl_easy_strerror(rc));
  } else if (status < 200 || status > 299) {
    detail = "the server answered HTTP " + std::to_string(status);
  } else if (out->empty()) {
    detail = "the answer is empty";
  }
  if (!e && !detail.empty()) e = Generic(in, false);
  if (e) out->clear();
  return e;
}

}  // namespace gemrun::server
