// BM25 (Robertson/Sparck Jones weights with the usual +1 inside the log so scores stay >= 0).
#include "ops/bm25.h"

#include <cctype>
#include <cmath>
#include <set>

namespace gemrun::ops {

std::vector<std::string> Words(std::string_view t) {
  std::vector<std::string> out;
  std::string cur;
  for (char ch : t) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '_' || c >= 0x80) {
      cur += static_cast<char>(std::tolower(c));
    } else if (!cur.empty()) {
      out.push_back(std::move(cur));
      cur.clear();
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

void Bm25::Add(std::string_view text) {
  std::unordered_map<std::string, int> tf;
  int len = 0;
  for (std::string& w : Words(text)) ++tf[std::move(w)], ++len;
  for (const auto& [w, n] : tf) ++df_[w];
  tf_.push_back(std::move(tf));
  lengths_.push_back(len);
  total_len_ += len;
}

std::vector<double> Bm25::Score(std::string_view query) const {
  std::vector<double> s(tf_.size(), 0.0);
  if (tf_.empty()) return s;
  const double n = static_cast<double>(tf_.size());
  const double avg = std::max(1.0, static_cast<double>(total_len_) / n);
  const std::vector<std::string> q = Words(query);
  const std::set<std::string> terms(q.begin(), q.end());  // a repeated query word counts once
  for (const std::string& w : terms) {
    auto it = df_.find(w);
    if (it == df_.end()) continue;
    const double idf = std::log(1.0 + (n - it->second + 0.5) / (it->second + 0.5));
    for (size_t d = 0; d < tf_.size(); ++d) {
      auto f = tf_[d].find(w);
      if (f == tf_[d].end()) continue;
      const double tf = f->second;
      s[d] += idf * tf * (k1_ + 1) / (tf + k1_ * (1 - b_ + b_ * lengths_[d] / avg));
    }
  }
  return s;
}

}  // namespace gemrun::ops
