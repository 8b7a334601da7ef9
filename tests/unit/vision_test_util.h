// Shared helpers for the vision tests: fixture roots (the copy in tests/data/vision and, when
// present, the full shared set), manifest access, SHA-256, raw golden files, metrics.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace gemrun::vision::testing {

namespace fs = std::filesystem;
using json = nlohmann::json;

struct Root {
  fs::path dir;
  json manifest;
  std::string label;  // "bundled" or "shared"
};

// The bundled subset always; the full shared set when GEMRUN_SHARED_TESTDATA/vision exists.
inline std::vector<Root> VisionRoots() {
  std::vector<Root> roots;
  const std::pair<fs::path, const char*> cands[] = {{fs::path(GEMRUN_TEST_DATA) / "vision", "bundled"},
                                                    {fs::path(GEMRUN_SHARED_TESTDATA) / "vision", "shared"}};
  for (const auto& [dir, label] : cands) {
    if (!fs::exists(dir / "manifest.json")) continue;
    std::ifstream f(dir / "manifest.json");
    roots.push_back({dir, json::parse(f), label});
  }
  return roots;
}

// Goldens with an audio clip (g4u `audio.*`, `mixed0`): their logits need the audio path; the
// image tests use only their image embeddings.
inline bool HasAudio(const json& golden) { return golden.contains("audio") && !golden["audio"].empty(); }
inline const json& ImagesOf(const json& golden) {
  static const json kNone = json::array();
  return golden.contains("images") ? golden["images"] : kNone;
}

inline const json* FindModel(const json& man, const std::string& name) {
  for (const auto& m : man["models"])
    if (m["name"] == name) return &m;
  return nullptr;
}

// A golden file. Missing, unreadable, empty or holding a partial element is a test failure:
// an empty vector would otherwise make the comparison cover zero rows and pass.
template <typename T>
std::vector<T> ReadBin(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) {
    ADD_FAILURE() << "cannot open golden file " << p;
    return {};
  }
  std::vector<char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (bytes.empty() || bytes.size() % sizeof(T) != 0) {
    ADD_FAILURE() << "golden file " << p << " holds " << bytes.size() << " bytes, not a non-empty array of "
                  << sizeof(T) << "-byte values";
    return {};
  }
  std::vector<T> out(bytes.size() / sizeof(T));
  std::memcpy(out.data(), bytes.data(), out.size() * sizeof(T));
  return out;
}

inline std::vector<uint8_t> ReadBytes(const fs::path& p) { return ReadBin<uint8_t>(p); }

// SHA-256 (FIPS 180-4), hex digest.
inline std::string Sha256Hex(const uint8_t* data, size_t n) {
  static constexpr uint32_t k[64] = {
      0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
      0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
      0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
      0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
      0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
      0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
      0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
      0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};
  uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  std::vector<uint8_t> m(data, data + n);
  m.push_back(0x80);
  while (m.size() % 64 != 56) m.push_back(0);
  const uint64_t bits = static_cast<uint64_t>(n) * 8;
  for (int i = 7; i >= 0; --i) m.push_back(static_cast<uint8_t>(bits >> (8 * i)));
  auto rotr = [](uint32_t x, int r) { return (x >> r) | (x << (32 - r)); };
  for (size_t off = 0; off < m.size(); off += 64) {
    uint32_t w[64];
    for (int i = 0; i < 16; ++i)
      w[i] = (uint32_t{m[off + 4 * i]} << 24) | (uint32_t{m[off + 4 * i + 1]} << 16) |
             (uint32_t{m[off + 4 * i + 2]} << 8) | m[off + 4 * i + 3];
    for (int i = 16; i < 64; ++i) {
      const uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
      const uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int i = 0; i < 64; ++i) {
      const uint32_t t1 = hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + k[i] + w[i];
      const uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
      hh = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
  }
  std::string hex;
  char buf[9];
  for (uint32_t v : h) {
    std::snprintf(buf, sizeof buf, "%08x", v);
    hex += buf;
  }
  return hex;
}

// max over rows of max|a - g| / max|g| ([rows][cols]).
inline double MaxNorm(const float* a, const float* g, int64_t rows, int64_t cols) {
  double worst = 0;
  for (int64_t r = 0; r < rows; ++r) {
    double md = 0, mg = 0;
    for (int64_t i = 0; i < cols; ++i) {
      md = std::max(md, std::fabs(double(a[r * cols + i]) - g[r * cols + i]));
      mg = std::max(mg, std::fabs(double(g[r * cols + i])));
    }
    worst = std::max(worst, md / mg);
  }
  return worst;
}

// KL(golden || engine) of one row of logits.
inline double KlRow(const float* g, const float* a, int64_t n) {
  auto logsm = [n](const float* x) {
    double mx = *std::max_element(x, x + n), s = 0;
    for (int64_t i = 0; i < n; ++i) s += std::exp(x[i] - mx);
    std::vector<double> out(n);
    for (int64_t i = 0; i < n; ++i) out[i] = x[i] - mx - std::log(s);
    return out;
  };
  const auto lg = logsm(g), la = logsm(a);
  double kl = 0;
  for (int64_t i = 0; i < n; ++i) kl += std::exp(lg[i]) * (lg[i] - la[i]);
  return kl;
}

}  // namespace gemrun::vision::testing
