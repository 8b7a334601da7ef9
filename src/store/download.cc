// libcurl transfers with retries, Range resume and a progress bar (see download.h).
#include "store/download.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "base/sys_info.h"

namespace gemrun::store {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kMaxTextBody = size_t{64} << 20;

// Where one attempt's body goes: a file descriptor (downloads) or a string (listings).
struct Sink {
  int fd = -1;
  std::string* text = nullptr;
  uint64_t offset = 0;    // bytes already in the file when the attempt started
  uint64_t received = 0;  // bytes this attempt wrote
  long code = 0;          // HTTP status of the final response (after redirects)
  bool status_seen = false;
  int write_errno = 0;
  std::string error_body;  // the first bytes of an error response
  uint64_t text_limit = kMaxTextBody;  // text sinks: stop after this many bytes (Range ignored)
  std::string range;       // "first-last" for a text Range request ("" for none)
  uint64_t range_total = 0;  // the size after '/' in Content-Range
  CURL* curl = nullptr;
  // Progress bar.
  const HttpOptions* opts = nullptr;
  uint64_t total = 0;
  Clock::time_point start, last_draw;
};

size_t WriteCb(char* p, size_t size, size_t n, void* ud) {
  auto* s = static_cast<Sink*>(ud);
  const size_t len = size * n;
  if (!s->status_seen) {
    s->status_seen = true;
    curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &s->code);
    if (s->code == 200 && s->offset > 0 && s->fd >= 0) {  // Range ignored: the body is the whole file
      if (::ftruncate(s->fd, 0) != 0) { s->write_errno = errno; return 0; }
      s->offset = 0;
    }
  }
  if (s->code >= 300) {
    if (s->error_body.size() < 2048) s->error_body.append(p, std::min<size_t>(len, 2048));
    return len;
  }
  if (s->text) {
    if (s->text->size() + len > s->text_limit) {
      if (s->range.empty()) return 0;
      s->text->append(p, s->text_limit - s->text->size());  // a whole file for a Range: keep the prefix
      return 0;
    }
    s->text->append(p, len);
    return len;
  }
  for (size_t done = 0; done < len;) {
    const ssize_t w = ::write(s->fd, p + done, len - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      s->write_errno = errno;
      return 0;  // aborts the transfer (CURLE_WRITE_ERROR)
    }
    done += static_cast<size_t>(w);
    s->received += static_cast<uint64_t>(w);
  }
  return len;
}

std::string Duration(double s) {
  char b[32];
  if (s < 60) std::snprintf(b, sizeof b, "%.0fs", s);
  else if (s < 3600) std::snprintf(b, sizeof b, "%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  else std::snprintf(b, sizeof b, "%dh%02dm", static_cast<int>(s) / 3600, static_cast<int>(s) % 3600 / 60);
  return b;
}

void DrawBar(Sink* s, bool final) {
  const auto now = Clock::now();
  if (!final && now - s->last_draw < std::chrono::milliseconds(200)) return;
  s->last_draw = now;
  const uint64_t have = s->offset + s->received;
  const double secs = std::max(1e-3, std::chrono::duration<double>(now - s->start).count());
  const double rate = s->received / secs;
  std::string line = "\r" + s->opts->label + "  " + HumanBytes(have);
  if (s->total) {
    char pct[16];
    std::snprintf(pct, sizeof pct, " (%.0f%%)", 100.0 * have / s->total);
    line += " / " + HumanBytes(s->total) + pct;
  }
  line += "  " + HumanBytes(static_cast<uint64_t>(rate)) + "/s";
  if (s->total && rate > 0 && have < s->total) line += "  ETA " + Duration((s->total - have) / rate);
  line += "   ";
  std::fputs(line.c_str(), stderr);
  if (final) std::fputc('\n', stderr);
}

// Content-Range: bytes 0-99/12345 -> 12345 (for the header fetch of `gemrun fit`).
size_t HeaderCb(char* p, size_t size, size_t n, void* ud) {
  auto* s = static_cast<Sink*>(ud);
  const std::string line(p, size * n);
  constexpr const char* kName = "content-range:";
  if (line.size() > 14) {
    std::string head = line.substr(0, 14);
    for (char& ch : head) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    const size_t slash = line.find('/');
    if (head == kName && slash != std::string::npos) s->range_total = std::strtoull(line.c_str() + slash + 1, nullptr, 10);
  }
  return size * n;
}

int ProgressCb(void* ud, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* s = static_cast<Sink*>(ud);
  if (s->opts->progress && s->fd >= 0 && s->status_seen && s->code < 300) DrawBar(s, false);
  return 0;
}

struct AttemptResult {
  CURLcode rc = CURLE_OK;
  long code = 0;
  long retry_after_s = -1;
  std::string curl_error;
};

AttemptResult RunAttempt(const std::string& url, const HttpOptions& o, Sink* s) {
  static const bool init = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
  (void)init;
  AttemptResult r;
  CURL* c = curl_easy_init();
  if (!c) { r.rc = CURLE_FAILED_INIT; return r; }
  char err[CURL_ERROR_SIZE] = "";
  curl_slist* headers = nullptr;
  if (!o.token.empty()) headers = curl_slist_append(headers, ("Authorization: Bearer " + o.token).c_str());
  s->curl = c;
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");  // never file:// etc., even by redirect
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_USERAGENT, "gemrun");
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);  // a stalled connection counts as dropped
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, WriteCb);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, ProgressCb);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, s);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  const std::string range = std::to_string(s->offset) + "-";
  if (s->fd >= 0 && s->offset > 0) curl_easy_setopt(c, CURLOPT_RANGE, range.c_str());
  if (!s->range.empty()) {
    curl_easy_setopt(c, CURLOPT_RANGE, s->range.c_str());
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, HeaderCb);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, s);
  }
  r.rc = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.code);
  curl_off_t ra = -1;
  if (curl_easy_getinfo(c, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0) r.retry_after_s = static_cast<long>(ra);
  r.curl_error = err[0] ? err : curl_easy_strerror(r.rc);
  curl_slist_free_all(headers);
  curl_easy_cleanup(c);
  return r;
}

// Network errors worth another attempt; the rest (bad URL, TLS verification) are final.
bool Transient(CURLcode rc) {
  switch (rc) {
    case CURLE_URL_MALFORMAT: case CURLE_UNSUPPORTED_PROTOCOL: case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE: case CURLE_TOO_MANY_REDIRECTS: case CURLE_FILESIZE_EXCEEDED:
    case CURLE_FAILED_INIT: case CURLE_OUT_OF_MEMORY:
      return false;
    default:
      return true;
  }
}

// A final HTTP status as a Status; OK when the caller should retry or has its body.
Status HttpStatusError(long code, const std::string& url, const HttpOptions& o) {
  if (code == 401 || code == 403)
    return InvalidArgumentError("HTTP " + std::to_string(code) + " for " + url + ": access denied" +
                                (o.token.empty() ? "; the repo may be gated or private: accept its terms on the hub "
                                                   "and set HF_TOKEN (or --token-file) to an access token"
                                                 : "; the token in HF_TOKEN / --token-file was refused (expired, or "
                                                   "without access to this repo: accept its terms on the hub)"));
  if (code == 404)
    return NotFoundError("HTTP 404 for " + url + ": " + (o.what.empty() ? std::string("not found") : o.what + " does not exist") +
                         " (check the spelling; private repos answer 404 without HF_TOKEN)");
  return InternalError("HTTP " + std::to_string(code) + " for " + url);
}

bool RetryableCode(long code) { return code == 408 || code == 429 || code >= 500; }

double NextDelay(const AttemptResult& r, double* backoff) {
  double d = *backoff;
  *backoff = std::min(30.0, *backoff * 2);
  if (r.retry_after_s >= 0) d = std::min<double>(r.retry_after_s, 300);
  return d;
}

void Sleep(double s) { std::this_thread::sleep_for(std::chrono::duration<double>(s)); }

}  // namespace

Status HttpGetText(const std::string& url, const HttpOptions& o, std::string* body) {
  double backoff = o.backoff_s;
  std::string last;
  for (int attempt = 1; attempt <= o.max_attempts; ++attempt) {
    body->clear();
    Sink s;
    s.text = body;
    s.opts = &o;
    const AttemptResult r = RunAttempt(url, o, &s);
    if (r.rc == CURLE_OK && r.code >= 200 && r.code < 300) return OkStatus();
    if (r.rc == CURLE_OK && !RetryableCode(r.code)) return HttpStatusError(r.code, url, o);
    if (r.rc != CURLE_OK && !Transient(r.rc)) return InternalError("cannot fetch " + url + ": " + r.curl_error);
    last = r.rc == CURLE_OK ? "HTTP " + std::to_string(r.code) : r.curl_error;
    if (attempt < o.max_attempts) Sleep(NextDelay(r, &backoff));
  }
  return InternalError("cannot fetch " + url + " after " + std::to_string(o.max_attempts) + " attempts (last: " + last +
                       "); check the network, HF_ENDPOINT / --endpoint and https_proxy");
}

Status HttpGetRange(const std::string& url, uint64_t first, uint64_t length, const HttpOptions& o, std::string* body,
                    uint64_t* total) {
  if (length == 0 || length > kMaxTextBody) return InvalidArgumentError("range of " + std::to_string(length) + " bytes");
  double backoff = o.backoff_s;
  std::string last;
  for (int attempt = 1; attempt <= o.max_attempts; ++attempt) {
    body->clear();
    Sink s;
    s.text = body;
    s.opts = &o;
    s.text_limit = length;
    s.range = std::to_string(first) + "-" + std::to_string(first + length - 1);
    const AttemptResult r = RunAttempt(url, o, &s);
    const bool ok_code = r.code == 206 || r.code == 200;
    // A 200 (Range ignored) is cut after `length` bytes: the write error is ours.
    if (ok_code && (r.rc == CURLE_OK || (r.rc == CURLE_WRITE_ERROR && body->size() == length))) {
      if (r.code == 200 && first > 0) return InternalError(url + ": the server ignores HTTP Range requests");
      *total = s.range_total;
      return OkStatus();
    }
    if (r.rc == CURLE_OK && r.code == 416) return OutOfRangeError(url + ": the file is shorter than " + std::to_string(first + 1) + " bytes");
    if (r.rc == CURLE_OK && !RetryableCode(r.code)) return HttpStatusError(r.code, url, o);
    if (r.rc != CURLE_OK && !Transient(r.rc)) return InternalError("cannot fetch " + url + ": " + r.curl_error);
    last = r.rc == CURLE_OK ? "HTTP " + std::to_string(r.code) : r.curl_error;
    if (attempt < o.max_attempts) Sleep(NextDelay(r, &backoff));
  }
  return InternalError("cannot fetch " + url + " after " + std::to_string(o.max_attempts) + " attempts (last: " + last +
                       "); check the network, HF_ENDPOINT / --endpoint and https_proxy");
}

Status DownloadFile(const std::string& url, const std::string& partial, uint64_t expected_size, const HttpOptions& o) {
  const int fd = ::open(partial.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return InternalError("cannot open " + partial + ": " + std::strerror(errno));
  struct FdCloser { int fd; ~FdCloser() { ::close(fd); } } closer{fd};
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0)
    return InvalidArgumentError("another gemrun pull is downloading into " + partial + "; wait for it to finish");
  double backoff = o.backoff_s;
  int failures = 0;
  std::string last;
  const auto start = Clock::now();
  while (true) {
    struct stat st;
    if (::fstat(fd, &st) != 0) return InternalError("cannot stat " + partial + ": " + std::strerror(errno));
    Sink s;
    s.fd = fd;
    s.offset = static_cast<uint64_t>(st.st_size);
    s.opts = &o;
    s.total = expected_size;
    s.start = start;
    if (expected_size && s.offset == expected_size) return OkStatus();  // complete from an earlier run
    const AttemptResult r = RunAttempt(url, o, &s);
    const uint64_t have = s.offset + s.received;
    if (s.write_errno)
      return ResourceExhaustedError("cannot write " + partial + ": " + std::strerror(s.write_errno) +
                                    (s.write_errno == ENOSPC || s.write_errno == EDQUOT || s.write_errno == EFBIG
                                         ? " (disk full or file size limit)" : "") +
                                    "; the " + std::to_string(have) + " bytes downloaded so far are kept, and the next "
                                    "`gemrun pull` resumes from there once space is freed");
    if (r.rc == CURLE_OK && (r.code == 200 || r.code == 206)) {
      if (o.progress) DrawBar(&s, true);
      if (!expected_size || have >= expected_size) return OkStatus();
      last = "connection closed after " + std::to_string(have) + " of " + std::to_string(expected_size) + " bytes";
    } else if (r.rc == CURLE_OK && r.code == 416) {
      if (expected_size && s.offset == expected_size) return OkStatus();
      if (::ftruncate(fd, 0) != 0) return InternalError("cannot truncate " + partial + ": " + std::strerror(errno));
      last = "HTTP 416 (the partial file is longer than the remote one): restarting";
    } else if (r.rc == CURLE_OK && !RetryableCode(r.code)) {
      return HttpStatusError(r.code, url, o);
    } else if (r.rc != CURLE_OK && !Transient(r.rc)) {
      return InternalError("cannot download " + url + ": " + r.curl_error);
    } else {
      last = r.rc == CURLE_OK ? "HTTP " + std::to_string(r.code) : r.curl_error;
    }
    if (s.received > 0) { failures = 0; backoff = o.backoff_s; }  // progress: not a failing streak
    if (++failures >= o.max_attempts)
      return InternalError("cannot download " + url + " after " + std::to_string(failures) + " attempts (last: " + last +
                           "); " + std::to_string(have) + " bytes are kept in " + partial + " and the next `gemrun pull` "
                           "resumes from there");
    if (o.progress) std::fprintf(stderr, "\n%s: %s; retrying\n", o.label.c_str(), last.c_str());
    Sleep(NextDelay(r, &backoff));
  }
}

}  // namespace gemrun::store
