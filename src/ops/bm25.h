// BM25 ranking over chunks, built on the fly for `ask --retrieve` (no stored index).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace gemrun::ops {

// Lower-cased runs of letters, digits and '_' (ASCII; other bytes split words; UTF-8 letters
// are kept inside words).
std::vector<std::string> Words(std::string_view text);

class Bm25 {
 public:
  explicit Bm25(double k1 = 1.2, double b = 0.75) : k1_(k1), b_(b) {}
  void Add(std::string_view doc_text);
  // One score per added document, in order of addition.
  std::vector<double> Score(std::string_view query) const;
  size_t size() const { return lengths_.size(); }

 private:
  double k1_, b_;
  // Terms as ids: a 40 MB log makes ~60k chunks, and a hash map per chunk cost ~10 KB each.
  std::unordered_map<std::string, uint32_t> ids_;
  std::vector<uint32_t> df_;                                    // per term id
  std::vector<std::vector<std::pair<uint32_t, uint32_t>>> tf_;  // per chunk: (term id, count), sorted
  std::vector<int> lengths_;
  long long total_len_ = 0;
};

}  // namespace gemrun::ops
