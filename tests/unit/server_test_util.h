// Helpers shared by the server tests.
#pragma once

#include <random>
#include <string>
#include <string_view>

namespace gemrun::server {

// 1-4 random edits of a request body: replace or insert a byte from `alphabet`, erase a run,
// or truncate. Mutated seeds that stay valid JSON exercise the parsers' type and range checks.
inline void MutateBody(std::string& b, std::mt19937& rng, std::string_view alphabet) {
  for (int e = 0, n = 1 + static_cast<int>(rng() % 4); e < n && !b.empty(); ++e) {
    const size_t at = rng() % b.size();
    switch (rng() % 4) {
      case 0: b[at] = alphabet[rng() % alphabet.size()]; break;
      case 1: b.insert(at, 1, alphabet[rng() % alphabet.size()]); break;
      case 2: b.erase(at, 1 + rng() % 8); break;
      default: b.resize(at); break;
    }
  }
}

}  // namespace gemrun::server
