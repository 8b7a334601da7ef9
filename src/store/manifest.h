// One model's manifest in the local store: where its files came from, their SHA-256 (the
// blob names) and what the header says (architecture, quantization). Stored as a small JSON
// file per name, so two names for one file share the blob.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/status.h"

namespace gemrun::store {

// One stored file (the model, or its projector).
struct BlobRef {
  std::string sha256;  // lowercase hex: the blob is blobs/sha256-<hex>
  uint64_t size = 0;
  std::string source;  // the URL it was downloaded from (or "import:<bundle>")
  std::string file;    // its file name at the source ("gemma-3-1b-it-Q4_K_M.gguf")
  // How the hash was known: "lfs" (the repo listing's LFS oid, checked after download),
  // "computed" (an https URL with no published hash: computed here, not verified).
  std::string hash_origin = "lfs";
};

struct Manifest {
  std::string name;  // "gemma3:1b", "ggml-org/gemma-3-1b-it-GGUF:Q4_K_M"
  std::string ref;   // what the user pulled
  BlobRef model;
  std::optional<BlobRef> projector;
  std::string architecture;  // general.architecture
  std::string quantization;  // the tensor type holding most weight bytes ("Q4_K")
  std::string description;   // DescribeGguf's line
  std::string created;       // UTC, ISO 8601

  std::string ToJson() const;
  // DataLoss naming `where` when the text is not a manifest.
  static StatusOr<Manifest> FromJson(const std::string& text, const std::string& where);
};

}  // namespace gemrun::store
