// BM25 (Robertson/Sparck Jones weights with the usual +1 inside the log so scores stay >= 0).
#include "ops/bm25.h"

#include <algorithm>
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
  std::vector<uint32_t> terms;
  for (std::string& w : Words(text)) {
    auto [it, fresh] = ids_.emplace(std::move(w), static_cast<uint32_t>(ids_.size()));
    if (fresh) df_.push_back(0);
    terms.push_back(it->second);
  }
  std::sort(terms.begin(), terms.end());
  std::vector<std::pair<uint32_t, uint32_t>> tf;
  for (uint32_t t : terms) {
    if (!tf.empty() && tf.back().first == t) {
      ++tf.back().second;
    } else {
      tf.emplace_back(t, 1);
      ++df_[t];
    }
  }
  tf.shrink_to_fit();
  lengths_.push_back(static_cast<int>(terms.size()));
  total_len_ += static_cast<long long>(terms.size());
  tf_.push_back(std::move(tf));
}

std::vector<double> Bm25::Score(std::string_view query) const {
  std::vector<double> s(tf_.size(), 0.0);
  if (tf_.empty()) return s;
  const double n = static_cast<double>(tf_.size());
  const double avg = std::max(1.0, static_cast<double>(total_len_) / n);
  const std::vector<std::string> q = Words(query);
  const std::set<std::string> terms(q.begin(), q.end());  // a repeated query word counts once
  for (const std::string& w : terms) {
    auto it = ids_.find(w);
    if (it == ids_.end()) continue;
    const uint32_t id = it->second;
    const double idf = std::log(1.0 + (n - df_[id] + 0.5) / (df_[id] + 0.5));
    for (size_t d = 0; d < tf_.size(); ++d) {
      auto f = std::lower_bound(tf_[d].begin(), tf_[d].end(), std::make_pair(id, uint32_t{0}));
      if (f == tf_[d].end() || f->first != id) continue;
      const double tf = f->second;
      s[d] += idf * tf * (k1_ + 1) / (tf + k1_ * (1 - b_ + b_ * lengths_[d] / avg));
    }
  }
  return s;
}

}  // namespace gemrun::ops
