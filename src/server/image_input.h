// Image sources in requests: base64 (Ollama `images`), data: URLs and, when the operator allows
// them, local files and http(s) URLs (OpenAI `image_url.url`). Parsing, one bounded file read
// and one bounded download; errors are 400s naming the field. URLs are off by default: fetching
// them lets any client make the server connect anywhere its network reaches.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/api.h"
#include "server/byte_budget.h"

namespace gemrun::server {

// What the operator allows (gemrun serve flags).
struct ImagePolicy {
  bool enabled = false;    // a projector is loaded (--mmproj)
  size_t max_images = 8;   // per request (--max-images-per-request)
  std::string files_dir;   // realpath of --allow-image-files ("" : no local files)
  bool allow_urls = false; // --allow-image-urls
  long url_timeout_ms = 20000;  // a whole download, redirects included
  bool allow_private = false;   // --allow-private-urls: also fetch from loopback/private/link-local addresses
  // Test hook: CURLOPT_RESOLVE entries ("host:port:address") so tests can point a DNS name at an
  // address without a resolver. Never set from the command line.
  std::vector<std::string> test_resolve;
  // Test hook: addresses treated as public (e.g. "127.0.0.2"), so a loopback test server can play
  // the public first hop of a redirect to a refused address. Never set from the command line.
  std::vector<std::string> test_public;
};

// What one download may spend and who to tell why it failed.
struct FetchControl {
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();  // the request's
  std::function<bool()> cancelled;  // polled during the transfer: true aborts it (the client went away)
  BudgetLease* lease = nullptr;     // grows with every byte received; an exhausted budget is a 503
  std::string* detail = nullptr;    // the specific reason of a failure, for the server log only
};

// Standard base64 (RFC 4648 alphabet, '=' padding optional, ASCII whitespace skipped).
// 400 naming `param` on any other byte, a misplaced '=', an impossible length or empty input.
std::optional<ApiError> DecodeBase64(std::string_view in, const std::string& param, std::string* out);

// An OpenAI image_url.url: "data:image/<any>;base64,<data>" is decoded into out->bytes; a
// "file:///abs/path" or "/abs/path" becomes out->file when the policy allows local files, an
// "http(s)://..." URL out->url when it allows URLs; anything else is a 400 naming `param` (and
// the flag that would allow it, if any).
std::optional<ApiError> ParseImageUrl(std::string_view url, const std::string& param, const ImagePolicy& policy,
                                      ImageInput* out);

// 400 naming `param` when `text` contains kImageSlot.
std::optional<ApiError> CheckNoImageSlot(std::string_view text, const std::string& param);

// The shared checks before an image is accepted: a projector is loaded, and the request holds
// fewer than policy.max_images so far (`count`). `param` names the image's field.
std::optional<ApiError> CheckImageAllowed(const ImagePolicy& policy, size_t count, const std::string& param);

// Reads a local image file for in.file: the path must resolve (realpath, symlinks followed)
// inside policy.files_dir and be a regular file of at most vision::kMaxImageFileBytes. The
// same 400 answers a missing file and one outside the directory, so clients cannot probe. The
// file's size is taken from `lease` first (503 when the server-wide budget is exhausted).
std::optional<ApiError> ReadImageFile(const ImageInput& in, const ImagePolicy& policy, std::string* out,
                                      BudgetLease* lease = nullptr);

// Why a fetch must not connect to `addr` (loopback, private, link-local incl. the cloud metadata
// address 169.254.169.254, CGNAT, multicast, unspecified, broadcast/reserved; IPv6 loopback,
// ULA, link-local, multicast, and IPv4 addresses embedded in IPv6 forms judged as IPv4), or
// nullopt for a public address.
std::optional<std::string> BlockedAddressReason(const sockaddr* addr);

// Downloads in.url (policy.allow_urls): http and https only, redirects (at most 3) too, within
// policy.url_timeout_ms and ctl.deadline, at most vision::kMaxImageFileBytes, and a 2xx answer.
// Unless policy.allow_private, every address actually connected to (after DNS, on every
// redirect) must be public: the check runs when libcurl opens the socket, so nothing is sent to
// a refused address and DNS rebinding cannot slip past it. Clients get a generic 400 ("image URL
// not allowed" / "image fetch failed") naming in.param; the specific reason goes to *ctl.detail.
std::optional<ApiError> FetchImageUrl(const ImageInput& in, const ImagePolicy& policy, std::string* out,
                                      const FetchControl& ctl = {});

}  // namespace gemrun::server
