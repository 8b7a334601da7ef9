// SHA-256 (FIPS 180-4), incremental: verifies downloaded and imported model files without a
// crypto library dependency. Not constant-time; it hashes public files, not secrets.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace gemrun {

class Sha256 {
 public:
  Sha256();
  void Update(const void* data, size_t n);
  void Update(std::string_view s) { Update(s.data(), s.size()); }
  // The 32-byte digest; the object must not be updated afterwards.
  std::array<uint8_t, 32> Finish();
  // Lowercase hex of Finish().
  std::string FinishHex();

 private:
  void Block(const uint8_t* p);  // one 64-byte block
  uint32_t h_[8];
  uint8_t buf_[64];
  size_t buf_len_ = 0;
  uint64_t total_ = 0;  // bytes hashed so far
};

// Hex SHA-256 of a string.
std::string Sha256Hex(std::string_view s);
// Hex SHA-256 of a file's contents (streamed); NotFound / DataLoss naming the path.
StatusOr<std::string> Sha256File(const std::string& path);

}  // namespace gemrun
