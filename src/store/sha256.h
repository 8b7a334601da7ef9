// SHA-256 (FIPS 180-4), incremental: verifies downloaded and imported model files. OpenSSL's
// libcrypto does the work (SHA-NI / AVX2 code paths: GB/s, where a portable loop managed well
// under 100 MB/s on the 2-core build machine, minutes for a 12B model).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

struct evp_md_ctx_st;  // OpenSSL's EVP_MD_CTX (global namespace, as OpenSSL declares it)

namespace gemrun {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(const void* data, size_t n);
  void Update(std::string_view s) { Update(s.data(), s.size()); }
  // The 32-byte digest; the object must not be updated afterwards.
  std::array<uint8_t, 32> Finish();
  // Lowercase hex of Finish().
  std::string FinishHex();

 private:
  ::evp_md_ctx_st* ctx_;
};

// Hex SHA-256 of a string.
std::string Sha256Hex(std::string_view s);
// Hex SHA-256 of a file's contents (streamed); NotFound / DataLoss naming the path.
StatusOr<std::string> Sha256File(const std::string& path);

}  // namespace gemrun
