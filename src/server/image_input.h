// Image sources in requests: base64 (Ollama `images`), data: URLs and, when the operator allows
// them, local files and http(s) URLs (OpenAI `image_url.url`). Parsing, one bounded file read
// and one bounded download; errors are 400s naming the field. URLs are off by default: fetching
// them lets any client make the server connect anywhere its network reaches.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "server/api.h"

namespace gemrun::server {

// What the operator allows (gemrun serve flags).
struct ImagePolicy {
  bool enabled = false;    // a projector is loaded (--mmproj)
  size_t max_images = 8;   // per request (--max-images-per-request)
  std::string files_dir;   // realpath of --allow-image-files ("" : no local files)
  bool allow_urls = false; // --allow-image-urls
  long url_timeout_ms = 20000;  // a whole download, redirects included
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
// same 400 answers a missing file and one outside the directory, so clients cannot probe.
std::optional<ApiError> ReadImageFile(const ImageInput& in, const ImagePolicy& policy, std::string* out);

// Downloads in.url (policy.allow_urls): http and https only, redirects (at most 3) too, within
// policy.url_timeout_ms, at most vision::kMaxImageFileBytes, and a 2xx answer; anything else is
// a 400 naming in.param and the reason (connection error, HTTP status, size, timeout).
std::optional<ApiError> FetchImageUrl(const ImageInput& in, const ImagePolicy& policy, std::string* out);

}  // namespace gemrun::server
