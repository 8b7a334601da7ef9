// GGUF writer: serializes a header (metadata + tensor infos, padded to the alignment) exactly
// as ggml's gguf_write_to_file does for version 3, and writes a file sequentially through a
// `.partial` sibling that is renamed into place only when complete, so a failed or killed
// write never leaves a truncated file under the final name.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "gguf/gguf.h"
#include "tensor/dtype.h"

namespace gemrun {

// One metadata pair, encoded: `value` holds the bytes after the type tag (for arrays, after
// the element type and count), little-endian as in the file.
struct GgufOutKv {
  std::string key;
  GgufType type = GgufType::kU32;
  GgufType elem_type = GgufType::kU8;  // arrays only
  uint64_t count = 0;                  // arrays only
  std::string value;

  static GgufOutKv U32(std::string key, uint32_t v);
  // Re-encodes a value read by GgufFile (bools normalized to 0/1, as ggml does).
  static GgufOutKv Copy(std::string key, const GgufValue& v);
};

struct GgufOutTensor {
  std::string name;
  int64_t ne[4] = {1, 1, 1, 1};
  DType type = DType::kF32;
  uint64_t offset = 0;  // relative to the data section; a multiple of the alignment
  uint64_t nbytes = 0;
};

// ggml_n_dims: 1 + the index of the last dimension > 1 (at least 1).
uint32_t GgmlNDims(const int64_t ne[4]);
inline uint64_t PadTo(uint64_t n, uint64_t align) { return (n + align - 1) / align * align; }

// Assigns offsets (each tensor starts at the previous end padded to `alignment`) and returns
// the data-section size.
uint64_t LayoutTensors(std::vector<GgufOutTensor>* tensors, uint64_t alignment);

// The header bytes: magic, version 3, counts, metadata, tensor infos, zero padding to
// `alignment` (the data section starts right after).
std::string SerializeGgufHeader(const std::vector<GgufOutKv>& kv,
                                const std::vector<GgufOutTensor>& tensors, uint64_t alignment);

// Sequential writer to `path` via `path + ".partial"`. Every failure is a Status naming the
// file and the errno text; ENOSPC/EDQUOT become ResourceExhausted ("disk full"). Destroying
// a writer that was not committed removes the partial file.
class AtomicFileWriter {
 public:
  // InvalidArgument when the partial file cannot be created (missing directory, no
  // permission); ResourceExhausted when the filesystem has fewer than `expected_bytes` free.
  static StatusOr<std::unique_ptr<AtomicFileWriter>> Create(const std::string& path,
                                                            uint64_t expected_bytes);
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  Status Write(const void* data, uint64_t n);
  Status WriteZeros(uint64_t n);
  uint64_t written() const { return written_; }
  // Flushes to disk (fdatasync) and renames the partial file to the final path.
  Status Commit();

 private:
  AtomicFileWriter() = default;
  Status Error(const char* what, int err) const;

  std::string path_, partial_;
  int fd_ = -1;
  uint64_t written_ = 0;
  bool committed_ = false;
};

}  // namespace gemrun
