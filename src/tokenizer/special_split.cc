// Special-token split (llama.cpp tokenizer_st_partition semantics, trie-accelerated).
//
// llama.cpp loops over every CONTROL/USER_DEFINED/UNKNOWN token (6414 for Gemma 3) and searches
// each in every raw fragment. Only tokens that occur somewhere in the text can cut anything, so
// we first walk a byte trie from every position to collect those, then replay llama.cpp's
// passes for them alone, in the same order. The result is identical; the cost is linear in the
// text for ordinary input.
#include <algorithm>
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

  // 1. Which special texts occur anywhere (and are eligible)?
  s->seen.assign((n_special + 63) / 64, 0);
  bool any = false;
  const size_t n = text.size();
  for (size_t i = 0; i < n; ++i) {
    uint32_t node = root_child_[static_cast<uint8_t>(text[i])];
    for (size_t j = i + 1; node != 0; ++j) {
      const int32_t rank = nodes_[node].rank;
      if (rank >= 0 && (parse_special || !rank_parse_only_[rank])) {
        s->seen[rank >> 6] |= uint64_t{1} << (rank & 63);
        any = true;
      }
      if (j == n) break;
      node = Child(node, static_cast<uint8_t>(text[j]));
    }
  }
  if (!any) return;

  // 2. llama.cpp's passes, in its order, for the tokens that occur.
  const std::vector<TokenId>& special = vocab_->special_tokens();
  for (size_t w = 0; w < s->seen.size(); ++w) {
    for (uint64_t bits = s->seen[w]; bits != 0; bits &= bits - 1) {
      const size_t rank = w * 64 + static_cast<size_t>(__builtin_ctzll(bits));
      Pass(text, special[rank], s);
    }
  }
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
