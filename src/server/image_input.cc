// Image sources: base64, data: URLs, allowed local files.
#include "server/image_input.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <climits>
#include <cstdlib>

#include "vision/image.h"

namespace gemrun::server {
namespace {

int Base64Value(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  return true;
}

// Decodes %XX escapes of a file: URL path; false on a malformed escape or an embedded NUL.
bool PercentDecode(std::string_view in, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out->push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size() || !std::isxdigit(static_cast<unsigned char>(in[i + 1])) ||
        !std::isxdigit(static_cast<unsigned char>(in[i + 2])))
      return false;
    const char c = static_cast<char>(std::stoi(std::string(in.substr(i + 1, 2)), nullptr, 16));
    if (c == '\0') return false;
    out->push_back(c);
    i += 2;
  }
  return true;
}

constexpr size_t kMaxUrlBytes = 8192;

ApiError BadUrl(const std::string& param, const std::string& why) {
  return ApiError::BadRequest("'" + param + "' " + why, param, "invalid_image_url");
}

// "data:image/png;base64,...": the media type must be image/*; the bytes decide the format.
std::optional<ApiError> ParseDataUrl(std::string_view url, const std::string& param, ImageInput* out) {
  const size_t comma = url.find(',');
  if (comma == std::string_view::npos) return BadUrl(param, "is a data: URL without a ',' before the data");
  const std::string_view meta = url.substr(5, comma - 5);  // after "data:"
  if (!StartsWithNoCase(meta, "image/"))
    return BadUrl(param, "must be a data: URL of an image (data:image/png;base64,... or data:image/jpeg;base64,...), "
                         "got media type '" + std::string(meta.substr(0, std::min<size_t>(meta.find(';'), 64))) + "'");
  if (meta.size() < 7 || !StartsWithNoCase(meta.substr(meta.size() - 7), ";base64"))
    return BadUrl(param, "must be a base64 data: URL (data:image/png;base64,...)");
  return DecodeBase64(url.substr(comma + 1), param, &out->bytes);
}

std::optional<ApiError> ParseFileUrl(std::string_view url, const std::string& param, const ImagePolicy& policy,
                                     ImageInput* out) {
  if (policy.files_dir.empty())
    return BadUrl(param, "names a local file, which this server does not read; send the image as a data: URL, or "
                         "start the server with --allow-image-files DIR");
  if (url.front() == '/') {
    out->file = std::string(url);
  } else {
    std::string_view path = StartsWithNoCase(url, "file://") ? url.substr(7) : std::string_view();
    if (StartsWithNoCase(path, "localhost/")) path.remove_prefix(9);
    if (path.empty() || path.front() != '/')
      return BadUrl(param, "must be a file URL with an absolute path (file:///dir/image.png)");
    if (!PercentDecode(path, &out->file)) return BadUrl(param, "has a malformed %-escape");
  }
  if (out->file.find('\0') != std::string::npos) return BadUrl(param, "holds a NUL byte");
  return std::nullopt;
}

}  // namespace

std::optional<ApiError> DecodeBase64(std::string_view in, const std::string& param, std::string* out) {
  out->clear();
  out->reserve(in.size() / 4 * 3 + 3);
  uint32_t acc = 0;
  int bits = 0, pad = 0;
  size_t n_chars = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(in[i]);
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
    if (c == '=') {
      ++pad;
      continue;
    }
    const int v = Base64Value(c);
    if (v < 0 || pad > 0)
      return ApiError::BadRequest("'" + param + "' is not valid base64: " +
                                      (v < 0 ? "unexpected character at offset " : "data after '=' padding at offset ") +
                                      std::to_string(i),
                                  param, "invalid_base64");
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    ++n_chars;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  if (n_chars == 0) return ApiError::BadRequest("'" + param + "' is empty: no image data", param, "invalid_base64");
  if (n_chars % 4 == 1 || pad > 2 || (pad > 0 && (n_chars + pad) % 4 != 0))
    return ApiError::BadRequest("'" + param + "' is not valid base64: the data ends mid-character (truncated?)",
                                param, "invalid_base64");
  return std::nullopt;
}

std::optional<ApiError> ParseImageUrl(std::string_view url, const std::string& param, const ImagePolicy& policy,
                                      ImageInput* out) {
  *out = ImageInput{};
  out->param = param;
  if (StartsWithNoCase(url, "data:")) return ParseDataUrl(url, param, out);
  if (StartsWithNoCase(url, "file:") || (!url.empty() && url.front() == '/'))
    return ParseFileUrl(url, param, policy, out);
  if (StartsWithNoCase(url, "http://") || StartsWithNoCase(url, "https://")) {
    if (!policy.allow_urls)
      return BadUrl(param, "is a remote URL, which this server does not fetch; send the image as a data: URL, or "
                           "start the server with --allow-image-urls");
    if (url.size() > kMaxUrlBytes) return BadUrl(param, "is longer than " + std::to_string(kMaxUrlBytes) + " bytes");
    for (const char c : url)
      if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7F)
        return BadUrl(param, "holds a space or control character (percent-encode it)");
    out->url = std::string(url);
    return std::nullopt;
  }
  return BadUrl(param, "must be a data: URL (data:image/png;base64,...)");
}

std::optional<ApiError> CheckNoImageSlot(std::string_view text, const std::string& param) {
  if (text.find(kImageSlot) == std::string_view::npos) return std::nullopt;
  return ApiError::BadRequest("'" + param + "' contains the reserved byte sequence \\u001fgemrun-image\\u001f", param,
                              "invalid_value");
}

std::optional<ApiError> CheckImageAllowed(const ImagePolicy& policy, size_t count, const std::string& param) {
  if (!policy.enabled)
    return ApiError::BadRequest("'" + param + "' is an image, but this server was started without a vision projector; "
                                "start it with --mmproj FILE to accept images",
                                param, "images_not_enabled");
  if (count >= policy.max_images)
    return ApiError::BadRequest("a request holds at most " + std::to_string(policy.max_images) +
                                    " images (--max-images-per-request); '" + param + "' is one too many",
                                param, "too_many_images");
  return std::nullopt;
}

std::optional<ApiError> ReadImageFile(const ImageInput& in, const ImagePolicy& policy, std::string* out,
                                      BudgetLease* lease) {
  const ApiError refused = ApiError::BadRequest(
      "'" + in.param + "' is not a readable image file inside the directory allowed by --allow-image-files", in.param,
      "invalid_image_url");
  if (policy.files_dir.empty()) return refused;
  char resolved[PATH_MAX];
  if (!realpath(in.file.c_str(), resolved)) return refused;
  const std::string path = resolved;
  const std::string prefix = policy.files_dir.back() == '/' ? policy.files_dir : policy.files_dir + "/";
  if (path.compare(0, prefix.size(), prefix) != 0) return refused;
  // O_NOFOLLOW: a symlink swapped in after realpath is not followed out of the directory.
  const int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return refused;
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return refused;
  }
  if (static_cast<uint64_t>(st.st_size) > vision::kMaxImageFileBytes) {
    close(fd);
    return ApiError::BadRequest("'" + in.param + "' is a file of " + std::to_string(st.st_size >> 20) +
                                    " MiB; images are limited to " + std::to_string(vision::kMaxImageFileBytes >> 20) +
                                    " MiB",
                                in.param, "image_too_large");
  }
  if (lease && !lease->Grow(static_cast<size_t>(st.st_size))) {
    close(fd);
    return ApiError::Of(503, "server_error", "the server is holding too many request bytes; retry later", "server_busy");
  }
  out->resize(static_cast<size_t>(st.st_size));
  size_t got = 0;
  while (got < out->size()) {
    const ssize_t n = read(fd, out->data() + got, out->size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  close(fd);
  out->resize(got);  // a file that shrank meanwhile is judged by what was read
  return std::nullopt;
}

}  // namespace gemrun::server
