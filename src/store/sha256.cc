// SHA-256 through OpenSSL's EVP interface (libcrypto picks the CPU's fastest code path).
#include "store/sha256.h"

#include <openssl/evp.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <new>
#include <vector>

namespace gemrun {

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_ || EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) != 1) throw std::bad_alloc();
}

Sha256::~Sha256() { EVP_MD_CTX_free(ctx_); }

void Sha256::Update(const void* data, size_t n) {
  if (n) EVP_DigestUpdate(ctx_, data, n);
}

std::array<uint8_t, 32> Sha256::Finish() {
  std::array<uint8_t, 32> out{};
  unsigned len = 0;
  EVP_DigestFinal_ex(ctx_, out.data(), &len);
  return out;
}
std::string Sha256::FinishHex() {
  static const char kHex[] = "0123456789abcdef";
  std::string s;
  for (uint8_t b : Finish()) { s += kHex[b >> 4]; s += kHex[b & 15]; }
  return s;
}

std::string Sha256Hex(std::string_view s) {
  Sha256 h;
  h.Update(s);
  return h.FinishHex();
}

StatusOr<std::string> Sha256File(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) return NotFoundError("cannot open " + path + " to hash it: " + std::strerror(errno));
  std::vector<char> buf(1 << 20);
  Sha256 h;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), f.get())) > 0) h.Update(buf.data(), n);
  if (std::ferror(f.get())) return DataLossError("read error while hashing " + path + ": " + std::strerror(errno));
  return h.FinishHex();
}

}  // namespace gemrun
