// `gemrun pull`: resolve a reference to files (Hugging Face listing or URL), download each one
// the store lacks into partial/, verify its SHA-256, move it into blobs/ and write the manifest.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "base/status.h"
#include "gguf/gguf.h"
#include "store/store.h"

namespace gemrun::store {

inline constexpr const char* kDefaultEndpoint = "https://huggingface.co";

struct PullOptions {
  std::string endpoint = kDefaultEndpoint;  // HF_ENDPOINT / --endpoint (mirrors)
  std::string token;                        // HF_TOKEN / --token-file
  std::string name;                         // store name; "" = the reference's default name
  bool offline = false;                     // GEMRUN_OFFLINE=1 / --offline: fail before any request
  bool force = false;                       // fetch again even when the name is in the store
  bool progress = false;                    // progress bars on stderr
  int max_attempts = 8;
  double backoff_s = 1.0;
  uint64_t header_bytes = uint64_t{8} << 20;  // FetchRemoteHeaders' first Range (doubled as needed)
};

struct PullResult {
  Manifest manifest;
  bool already_present = false;  // nothing fetched: the name was in the store
};

// `log` receives one line per step worth telling (what is fetched, what was reused, notes such
// as "no published hash"). Errors: InvalidArgument (bad ref, offline, 401), NotFound (404, no
// file for the quantization), DataLoss (hash mismatch, not a GGUF file), ResourceExhausted (not
// enough disk space), Internal (network after the retries).
StatusOr<PullResult> Pull(const Store& store, const std::string& ref, const PullOptions& o,
                          const std::function<void(const std::string&)>& log);

// A remote model's GGUF header, for `gemrun fit` on a reference that is not downloaded: the
// reference is resolved as Pull resolves it (listing, quantization, projector), then only the
// first bytes of each file are fetched with HTTP Range requests (more while the header has not
// ended; never the tensors). `file` maps a sparse stand-in (the fetched bytes, then a hole up to
// the remote size, already unlinked): metadata and the tensor table are real, tensor data reads
// as zeros.
struct RemoteHeader {
  std::string url;
  uint64_t size = 0;     // the whole remote file
  uint64_t fetched = 0;  // bytes actually downloaded
  std::unique_ptr<GgufFile> file;
};
struct RemoteModel {
  RemoteHeader model;
  std::optional<RemoteHeader> projector;
};
// Errors: as Pull's (offline mode refuses before any request), DataLoss when the header is not
// a GGUF one or does not end within 256 MiB.
StatusOr<RemoteModel> FetchRemoteHeaders(const std::string& ref, const PullOptions& o);

}  // namespace gemrun::store
