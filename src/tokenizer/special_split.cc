// Special-token split (llama.cpp tokenizer_st_partition semantics, trie-accelerated).
//
// llama.cpp loops over every CONTROL/USER_DEFINED/UNKNOWN token (6414 for Gemma 3) and searches
// each in every raw fragment: O(tokens * fragments), quadratic on text made of many distinct
// special texts. We walk a byte trie from every position to list the occurrences, then take
// them in llama.cpp's order (Resolve); when runs of whitespace make the list longer than the
// text allows, we replay llama.cpp's passes for just the texts that occur. Same result, linear
// for ordinary input.
#include <algorithm>
#include <cstring>
#include <map>

#include "tokenizer/tokenizer_internal.h"

namespace gemrun::tokenizer_internal {

void SpecialSplitter::Build(const Vocab& vocab) {
  vocab_ = &vocab;
  const std::vector<TokenId>& special = vocab.special_tokens();
  // Build with maps, then flatten into sorted edge arrays.
  std::vector<std::map<uint8_t, uint32_t>> kids(1);
  std::vector<int32_t> rank_at(1, -1);
  rank_parse_only_.assign(special.size(), 0);
  for (size_t r = 0; r < special.size(); ++r) {
    const TokenId id = special[r];
    rank_parse_only_[r] = (vocab.attr(id) & (kAttrControl | kAttrUnknown)) ? 1 : 0;
    uint32_t node = 0;
    for (unsigned char c : vocab.text(id)) {
      auto it = kids[node].find(c);
      if (it == kids[node].end()) {
        const uint32_t child = static_cast<uint32_t>(kids.size());
        kids[node].emplace(c, child);
        kids.emplace_back();
        rank_at.push_back(-1);
        node = child;
      } else {
        node = it->second;
      }
    }
    rank_at[node] = static_cast<int32_t>(r);  // texts are unique, so one rank per node
  }
  nodes_.assign(kids.size(), Node{});
  edges_.clear();
  for (size_t n = 0; n < kids.size(); ++n) {
    nodes_[n].edge_begin = static_cast<uint32_t>(edges_.size());
    nodes_[n].edge_count = static_cast<uint32_t>(kids[n].size());
    nodes_[n].rank = rank_at[n];
    for (const auto& [b, child] : kids[n]) edges_.push_back(Edge{b, child});
  }
  std::fill(std::begin(root_child_), std::end(root_child_), 0u);
  for (const auto& [b, child] : kids[0]) root_child_[b] = child;
}

uint32_t SpecialSplitter::Child(uint32_t node, uint8_t b) const {
  const Node& n = nodes_[node];
  const Edge* first = edges_.data() + n.edge_begin;
  const Edge* last = first + n.edge_count;
  if (n.edge_count <= 8) {
    for (const Edge* e = first; e != last; ++e)
      if (e->byte == b) return e->child;
    return 0;
  }
  const Edge* e = std::lower_bound(first, last, b, [](const Edge& x, uint8_t v) { return x.byte < v; });
  return (e != last && e->byte == b) ? e->child : 0;
}

void SpecialSplitter::Split(std::string_view text, bool parse_special, Scratch* s) const {
  s->frags.clear();
  if (text.empty()) return;
  s->frags.push_back(Fragment{0, static_cast<uint32_t>(text.size()), kNoToken});
  const size_t n_special = rank_parse_only_.size();
  if (n_special == 0) return;

  // 1. Every eligible occurrence (rank << 32 | position), up to a budget. Runs of spaces or
  // newlines match many nested special texts per position, so the list can outgrow the text;
  // past the budget we only remember which texts occur.
  const size_t n = text.size();
  const size_t budget = 4 * n + 4096;
  std::vector<uint64_t>& cands = s->cands;
  cands.clear();
  s->seen.assign((n_special + 63) / 64, 0);
  bool overflow = false;
  for (size_t i = 0; i < n; ++i) {
    uint32_t node = root_child_[static_cast<uint8_t>(text[i])];
    for (size_t j = i + 1; node != 0; ++j) {
      const int32_t rank = nodes_[node].rank;
      if (rank >= 0 && (parse_special || !rank_parse_only_[rank])) {
        s->seen[rank >> 6] |= uint64_t{1} << (rank & 63);
        if (cands.size() < budget) {
          cands.push_back(static_cast<uint64_t>(rank) << 32 | i);
        } else {
          overflow = true;
        }
      }
      if (j == n) break;
      node = Child(node, static_cast<uint8_t>(text[j]));
    }
  }
  if (cands.empty()) return;
  if (!overflow) {
    Resolve(text, s);
    return;
  }
  // 2b. llama.cpp's passes, in its order, for the texts that occur (few distinct ones when the
  // occurrences are that dense).
  const std::vector<TokenId>& special = vocab_->special_tokens();
  for (size_t w = 0; w < s->seen.size(); ++w) {
    for (uint64_t bits = s->seen[w]; bits != 0; bits &= bits - 1) {
      const size_t rank = w * 64 + static_cast<size_t>(__builtin_ctzll(bits));
      Pass(text, special[rank], s);
    }
  }
}

// 2a. The passes' result computed from the occurrence list in O(occurrences * log): in rank
// order, then left to right, an occurrence is taken when none of its bytes is taken yet. That
// is what the passes do: the raw fragments are exactly the untaken gaps, and `find` takes the
// leftmost fitting occurrence, then continues after it.
void SpecialSplitter::Resolve(std::string_view text, Scratch* s) const {
  const std::vector<TokenId>& special = vocab_->special_tokens();
  std::vector<uint64_t>& cands = s->cands;
  std::sort(cands.begin(), cands.end());
  std::vector<uint8_t>& taken = s->taken;
  taken.assign(text.size(), 0);
  std::vector<Fragment>& hits = s->frags_next;
  hits.clear();
  for (const uint64_t c : cands) {
    const TokenId id = special[c >> 32];
    const uint32_t pos = static_cast<uint32_t>(c);
    const uint32_t len = static_cast<uint32_t>(vocab_->text(id).size());
    if (std::memchr(taken.data() + pos, 1, len) != nullptr) continue;
    std::memset(taken.data() + pos, 1, len);
    hits.push_back(Fragment{pos, len, id});
  }
  std::sort(hits.begin(), hits.end(), [](const Fragment& a, const Fragment& b) { return a.start < b.start; });
  s->frags.clear();
  uint32_t at = 0;
  for (const Fragment& h : hits) {
    if (h.start > at) s->frags.push_back(Fragment{at, h.start - at, kNoToken});
    s->frags.push_back(h);
    at = h.start + h.len;
  }
  if (at < text.size()) s->frags.push_back(Fragment{at, static_cast<uint32_t>(text.size() - at), kNoToken});
}

// Cuts every raw fragment at the leftmost non-overlapping occurrences of token `id`.
void SpecialSplitter::Pass(std::string_view text, TokenId id, Scratch* s) const {
  const std::string_view needle = vocab_->text(id);
  const uint32_t len = static_cast<uint32_t>(needle.size());
  std::vector<Fragment>& out = s->frags_next;
  out.clear();
  for (const Fragment& f : s->frags) {
    if (f.token != kNoToken) {
      out.push_back(f);
      continue;
    }
    const size_t end = static_cast<size_t>(f.start) + f.len;
    const std::string_view window = text.substr(0, end);
    size_t pos = f.start;
    for (;;) {
      const size_t m = window.find(needle, pos);
      if (m == std::string_view::npos) break;
      if (m > pos) out.push_back(Fragment{static_cast<uint32_t>(pos), static_cast<uint32_t>(m - pos), kNoToken});
      out.push_back(Fragment{static_cast<uint32_t>(m), len, id});
      pos = m + len;
    }
    if (pos < end) out.push_back(Fragment{static_cast<uint32_t>(pos), static_cast<uint32_t>(end - pos), kNoToken});
  }
  s->frags.swap(out);
}

}  // namespace gemrun::tokenizer_internal
