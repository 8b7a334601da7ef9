// HTTP(S) transfers for `gemrun pull` (libcurl): small GETs (repo listings) and resumable file
// downloads. The only network code in the store; nothing else in gemrun calls it. Follows
// redirects (http/https only), retries 429 (honouring Retry-After), 5xx and dropped or stalled
// connections with exponential backoff, resumes with Range from the partial file's size, and
// honours libcurl's proxy variables (https_proxy, no_proxy).
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"

namespace gemrun::store {

struct HttpOptions {
  std::string token;       // sent as "Authorization: Bearer <token>" when not empty
  int max_attempts = 8;    // consecutive failed attempts (an attempt that received bytes resets the count)
  double backoff_s = 1.0;  // first retry delay; doubled each time, capped at 30 s
  bool progress = false;   // a progress bar on stderr (the caller sets it for a TTY)
  std::string label;       // the file name in the bar and in messages
  std::string what;        // what is being fetched, for 404 messages ("repo org/x", "file f of org/x")
};

// GET `url` into *body (at most 64 MiB). Errors: InvalidArgument for 401/403 (naming HF_TOKEN),
// NotFound for 404 (naming o.what), Internal for other failures after the retries.
Status HttpGetText(const std::string& url, const HttpOptions& o, std::string* body);

// GET bytes [first, first + length) of `url` (an HTTP Range request) into *body, and the
// file's total size (from Content-Range) into *total. A server that ignores Range is stopped
// after `length` bytes rather than read to the end. Same errors and retries as HttpGetText.
Status HttpGetRange(const std::string& url, uint64_t first, uint64_t length, const HttpOptions& o, std::string* body,
                    uint64_t* total);
// Downloads `url` into `partial`, appending from its current size with a Range request (a
// server that ignores Range restarts the file). `expected_size` 0 means unknown. On failure the
// bytes already written stay in `partial` for the next call to resume; a write failure (disk
// full) is ResourceExhausted naming the file. A second process on the same partial file is
// refused (flock).
Status DownloadFile(const std::string& url, const std::string& partial, uint64_t expected_size, const HttpOptions& o);

}  // namespace gemrun::store
