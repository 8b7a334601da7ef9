// ClassTrie: the vocabulary trie folded over one DFA's byte classes, and the per-state entry walk.
#include "constrain/class_trie.h"

#include <algorithm>
#include <string>

#include "constrain/matcher.h"

namespace gemrun::constrain {

// Byte classes: bytes with equal DFA columns (next state and count in every state) and equal
// follow membership. Column hashes find candidates, an exact comparison decides.
ClassTrie ClassifyBytes(const Dfa& d, const FollowBytes& follow) {
  ClassTrie out;
  ClassTrie* ct = &out;
  std::vector<uint8_t>* dead = &out.dead;
  auto in_follow = [&](int b) { return ((follow[static_cast<size_t>(b) >> 6] >> (b & 63)) & 1) != 0; };
  auto same = [&](int a, int b) {
    if (in_follow(a) != in_follow(b)) return false;
    for (int s = 0; s < d.n_states; ++s)
      if (d.Next(s, static_cast<uint8_t>(a)) != d.Next(s, static_cast<uint8_t>(b)) ||
          d.Counts(s, static_cast<uint8_t>(a)) != d.Counts(s, static_cast<uint8_t>(b)))
        return false;
    return true;
  };
  std::vector<uint64_t> hash(256);
  std::vector<uint8_t> is_dead(256, 1);
  for (int b = 0; b < 256; ++b) {
    uint64_t h = in_follow(b) ? 0x51ED27u : 0x9E37u;
    for (int s = 0; s < d.n_states; ++s) {
      const int32_t n = d.Next(s, static_cast<uint8_t>(b));
      if (n >= 0) is_dead[static_cast<size_t>(b)] = 0;
      h = (h ^ (static_cast<uint64_t>(static_cast<uint32_t>(n)) << 1 | (d.Counts(s, static_cast<uint8_t>(b)) ? 1 : 0))) *
          0x100000001B3ull;
    }
    hash[static_cast<size_t>(b)] = h;
  }
  ct->cls.fill(ClassTrie::kPruned);
  for (int b = 0; b < 256; ++b) {
    if (is_dead[static_cast<size_t>(b)] && !in_follow(b)) continue;
    for (size_t k = 0; k < ct->rep.size(); ++k)
      if (hash[ct->rep[k]] == hash[static_cast<size_t>(b)] && same(ct->rep[k], b)) {
        ct->cls[static_cast<size_t>(b)] = static_cast<uint8_t>(k);
        break;
      }
    if (ct->cls[static_cast<size_t>(b)] != ClassTrie::kPruned) continue;
    ct->cls[static_cast<size_t>(b)] = static_cast<uint8_t>(ct->rep.size());
    ct->rep.push_back(static_cast<uint8_t>(b));
    ct->is_follow.push_back(in_follow(b) ? 1 : 0);
    dead->push_back(is_dead[static_cast<size_t>(b)]);
  }
  return out;
}

std::string ClassTrie::PartitionKey() const {
  std::string k(reinterpret_cast<const char*>(cls.data()), cls.size());
  for (size_t c = 0; c < rep.size(); ++c) k += static_cast<char>(dead[c] | is_follow[c] << 1);
  return k;
}

namespace {

// Open addressing (parent node, class) -> child node.
class ChildTable {
 public:
  // Small at first: most folded tries have a few hundred nodes, and a large zeroed table costs
  // page faults on every build.
  ChildTable() : keys_(size_t{1} << 10, 0), vals_(size_t{1} << 10, 0) {}
  // The child's id, or `fresh` after recording it as the child.
  int32_t FindOrAdd(int32_t parent, uint8_t k, int32_t fresh) {
    if ((used_ + 1) * 2 > keys_.size()) Grow();
    const uint64_t key = (static_cast<uint64_t>(parent) << 8 | k) + 1;
    for (size_t i = Slot(key);; i = (i + 1) & (keys_.size() - 1)) {
      if (keys_[i] == key) return vals_[i];
      if (keys_[i] == 0) {
        keys_[i] = key;
        vals_[i] = fresh;
        ++used_;
        return fresh;
      }
    }
  }

 private:
  size_t Slot(uint64_t key) const { return static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> 20) & (keys_.size() - 1); }
  void Grow() {
    std::vector<uint64_t> k(keys_.size() * 2, 0);
    std::vector<int32_t> v(k.size(), 0);
    std::swap(k, keys_);
    std::swap(v, vals_);
    for (size_t j = 0; j < k.size(); ++j)
      if (k[j] != 0) {
        size_t i = Slot(k[j]);
        while (keys_[i] != 0) i = (i + 1) & (keys_.size() - 1);
        keys_[i] = k[j];
        vals_[i] = v[j];
      }
  }
  std::vector<uint64_t> keys_;
  std::vector<int32_t> vals_;
  size_t used_ = 0;
};

// CSR of (node, value) pairs by node, values sorted within a node.
void Bucket(std::vector<std::pair<int32_t, int32_t>>& pairs, const std::vector<int32_t>& new_id, size_t n,
            std::vector<int32_t>* begin, std::vector<int32_t>* vals, bool sorted) {
  begin->assign(n + 1, 0);
  for (auto& [node, v] : pairs) {
    node = new_id[static_cast<size_t>(node)];
    ++(*begin)[static_cast<size_t>(node) + 1];
  }
  for (size_t i = 0; i < n; ++i) (*begin)[i + 1] += (*begin)[i];
  vals->resize(pairs.size());
  std::vector<int32_t> fill(begin->begin(), begin->end() - 1);
  for (const auto& [node, v] : pairs) (*vals)[static_cast<size_t>(fill[static_cast<size_t>(node)]++)] = v;
  if (sorted)
    for (size_t i = 0; i < n; ++i) std::sort(vals->begin() + (*begin)[i], vals->begin() + (*begin)[i + 1]);
}

// Appends the set words of `dense` (those listed in `touched`) in word order and clears them.
// Sorting a long touched list costs more than scanning the whole bitset.
void DrainDense(std::vector<uint64_t>& dense, std::vector<uint32_t>& touched, std::vector<std::pair<uint32_t, uint64_t>>* out) {
  if (touched.size() * 16 > dense.size()) {
    for (uint32_t w = 0; w < dense.size(); ++w)
      if (dense[w] != 0) {
        out->push_back({w, dense[w]});
        dense[w] = 0;
      }
  } else {
    std::sort(touched.begin(), touched.end());
    for (uint32_t w : touched) {
      out->push_back({w, dense[w]});
      dense[w] = 0;
    }
  }
  touched.clear();
}

}  // namespace

size_t ClassTrie::Bytes() const {
  return sizeof(ClassTrie) + edge.capacity() * 4 + end.capacity() * 4 + word_begin.capacity() * 4 +
         words.capacity() * 16 + orig_begin.capacity() * 4 + orig.capacity() * 4 + rep.capacity() * 2;
}

void FoldTrie(const TokenTrie& tr, ClassTrie* out) {
  ClassTrie& ct = *out;
  const std::vector<uint8_t>& dead = ct.dead;
  // Fold the vocabulary trie: node ids in creation order, a parent before its children.
  std::vector<int32_t> parent = {-1};
  std::vector<uint8_t> edge = {0};
  std::vector<std::pair<int32_t, int32_t>> toks, origs;  // (class node, token / vocabulary node)
  ChildTable children;
  // Per depth, reused across builds (written before read in preorder; the memo is stamped).
  thread_local std::vector<int32_t> at_depth(65537), memo_parent(65537), memo_child(65537);
  thread_local std::vector<uint32_t> memo_stamp(65537, 0);
  thread_local std::vector<uint8_t> memo_class(65537);
  thread_local uint32_t stamp = 0;
  if (++stamp == 0) std::fill(memo_stamp.begin(), memo_stamp.end(), 0), stamp = 1;
  at_depth[0] = 0;
  for (int32_t i = 1; i < tr.n_nodes();) {
    const size_t dd = tr.depth[static_cast<size_t>(i)];
    const uint8_t k = ct.cls[tr.byte[static_cast<size_t>(i)]];
    if (k == ClassTrie::kPruned) {
      i = tr.end[static_cast<size_t>(i)];
      continue;
    }
    const int32_t p = at_depth[dd - 1];
    // Siblings in the vocabulary trie mostly share a class (letters after letters): reuse the
    // previous sibling's answer before probing the table.
    int32_t c;
    if (memo_stamp[dd] == stamp && memo_parent[dd] == p && memo_class[dd] == k) {
      c = memo_child[dd];
    } else {
      c = children.FindOrAdd(p, k, static_cast<int32_t>(parent.size()));
      memo_stamp[dd] = stamp, memo_parent[dd] = p, memo_class[dd] = k, memo_child[dd] = c;
    }
    if (c == static_cast<int32_t>(parent.size())) {
      parent.push_back(p);
      edge.push_back(k);
    }
    at_depth[dd] = c;
    if (ct.is_follow[k]) origs.push_back({c, i});
    if (dead[k]) {  // the terminal never takes this byte: only the follow edge itself matters
      i = tr.end[static_cast<size_t>(i)];
      continue;
    }
    for (int32_t t = tr.tok_begin[static_cast<size_t>(i)]; t < tr.tok_begin[static_cast<size_t>(i) + 1]; ++t)
      toks.push_back({c, tr.tok_ids[static_cast<size_t>(t)]});
    ++i;
  }
  // Preorder: children lists (CSR by parent), then an explicit-stack DFS.
  const size_t n = parent.size();
  std::vector<int32_t> kid_begin(n + 1, 0), kids(n > 0 ? n - 1 : 0);
  for (size_t v = 1; v < n; ++v) ++kid_begin[static_cast<size_t>(parent[v]) + 1];
  for (size_t v = 0; v < n; ++v) kid_begin[v + 1] += kid_begin[v];
  std::vector<int32_t> fill(kid_begin.begin(), kid_begin.end() - 1);
  for (size_t v = 1; v < n; ++v) kids[static_cast<size_t>(fill[static_cast<size_t>(parent[v])]++)] = static_cast<int32_t>(v);
  std::vector<int32_t> new_id(n), stack = {0};
  ct.edge.resize(n);
  ct.depth.resize(n);
  ct.end.resize(n);
  int32_t next = 0;
  std::vector<uint16_t> depth_old(n, 0);
  while (!stack.empty()) {
    const int32_t v = stack.back();
    stack.pop_back();
    new_id[static_cast<size_t>(v)] = next;
    ct.edge[static_cast<size_t>(next)] = edge[static_cast<size_t>(v)];
    ct.depth[static_cast<size_t>(next)] = depth_old[static_cast<size_t>(v)];
    ++next;
    for (int32_t j = kid_begin[static_cast<size_t>(v) + 1] - 1; j >= kid_begin[static_cast<size_t>(v)]; --j) {
      const int32_t kid = kids[static_cast<size_t>(j)];
      depth_old[static_cast<size_t>(kid)] = static_cast<uint16_t>(depth_old[static_cast<size_t>(v)] + 1);
      stack.push_back(kid);
    }
  }
  // end[]: one past the subtree, from the depths as in TokenTrie::Build.
  std::vector<int32_t> open;
  std::fill(ct.end.begin(), ct.end.end(), static_cast<int32_t>(n));
  for (int32_t i = 0; i < static_cast<int32_t>(n); ++i) {
    while (!open.empty() && ct.depth[static_cast<size_t>(open.back())] >= ct.depth[static_cast<size_t>(i)]) {
      ct.end[static_cast<size_t>(open.back())] = i;
      open.pop_back();
    }
    open.push_back(i);
  }
  std::vector<int32_t> tok_begin, tok_vals;
  Bucket(toks, new_id, n, &tok_begin, &tok_vals, false);
  ct.word_begin.assign(n + 1, 0);
  std::vector<uint64_t> dense((static_cast<size_t>(tr.n_vocab) + 63) / 64, 0);
  std::vector<uint32_t> touched;
  for (size_t v = 0; v < n; ++v) {
    for (int32_t k = tok_begin[v]; k < tok_begin[v + 1]; ++k) {
      const int32_t t = tok_vals[static_cast<size_t>(k)];
      const uint32_t w = static_cast<uint32_t>(t) >> 6;
      if (dense[w] == 0) touched.push_back(w);
      dense[w] |= uint64_t{1} << (t & 63);
    }
    DrainDense(dense, touched, &ct.words);
    ct.word_begin[v + 1] = static_cast<int32_t>(ct.words.size());
  }
  Bucket(origs, new_id, n, &ct.orig_begin, &ct.orig, true);
  ct.follow_kid.assign(n, 0);
  for (size_t v = 1; v < n; ++v)  // creation ids here
    if (ct.is_follow[edge[v]]) ct.follow_kid[static_cast<size_t>(new_id[static_cast<size_t>(parent[v])])] = 1;
}

ClassTrie BuildClassTrie(const TokenTrie& trie, const Dfa& dfa, const FollowBytes& follow) {
  ClassTrie ct = ClassifyBytes(dfa, follow);
  FoldTrie(trie, &ct);
  return ct;
}

namespace {

// Per-thread scratch of the class walk: one dense bitset per group, cleared through the list
// of words it touched.
struct ClassScratch {
  std::vector<int32_t> st, cp;
  GroupIndex by_cp;
  std::vector<std::vector<uint64_t>> dense;
  std::vector<std::vector<uint32_t>> touched;
};

int32_t ClassGroup(ClassScratch& s, int32_t state, int32_t cp, size_t n_words, std::vector<MaskGroup>* groups) {
  bool fresh = false;
  const int32_t gi = FindOrAddGroup(s.by_cp, state, cp, groups, &fresh);
  if (!fresh) return gi;
  if (s.dense.size() <= static_cast<size_t>(gi)) s.dense.resize(static_cast<size_t>(gi) + 1), s.touched.resize(s.dense.size());
  if (s.dense[static_cast<size_t>(gi)].size() < n_words) s.dense[static_cast<size_t>(gi)].assign(n_words, 0);
  s.touched[static_cast<size_t>(gi)].clear();
  return gi;
}

}  // namespace

MaskEntry ComputeMaskEntryByClass(const ClassTrie& ct, int32_t n_vocab, const Dfa& d, int32_t state) {
  thread_local ClassScratch s;
  MaskEntry e;
  const size_t n_words = (static_cast<size_t>(n_vocab) + 63) / 64;
  if (s.st.size() < 65536) s.st.resize(65536), s.cp.resize(65536);
  for (auto& slot : s.by_cp) slot.clear();
  s.st[0] = state;
  s.cp[0] = 0;
  const int32_t n = static_cast<int32_t>(ct.edge.size());
  for (int32_t i = 1; i < n;) {
    const size_t dd = ct.depth[static_cast<size_t>(i)];
    const int32_t ps = s.st[dd - 1];
    const uint8_t b = ct.rep[ct.edge[static_cast<size_t>(i)]];
    const int32_t ns = d.Next(ps, b);
    if (ns < 0) {
      i = ct.end[static_cast<size_t>(i)];
      continue;
    }
    s.st[dd] = ns;
    const int32_t c = s.cp[dd] = s.cp[dd - 1] + (d.Counts(ps, b) ? 1 : 0);
    const int32_t wb = ct.word_begin[static_cast<size_t>(i)], we = ct.word_begin[static_cast<size_t>(i) + 1];
    if (wb < we) {
      const size_t gi = static_cast<size_t>(ClassGroup(s, ns, c, n_words, &e.groups));
      std::vector<uint64_t>& dense = s.dense[gi];
      std::vector<uint32_t>& touched = s.touched[gi];
      for (int32_t k = wb; k < we; ++k) {
        const auto [w, bits] = ct.words[static_cast<size_t>(k)];
        if (dense[w] == 0) touched.push_back(w);
        dense[w] |= bits;
      }
    }
    if (ct.follow_kid[static_cast<size_t>(i)] && d.accept[static_cast<size_t>(ns)])
      for (int32_t j = i + 1; j < ct.end[static_cast<size_t>(i)]; j = ct.end[static_cast<size_t>(j)]) {
        if (!ct.is_follow[ct.edge[static_cast<size_t>(j)]]) continue;
        for (int32_t k = ct.orig_begin[static_cast<size_t>(j)]; k < ct.orig_begin[static_cast<size_t>(j) + 1]; ++k)
          e.exits.push_back({ct.orig[static_cast<size_t>(k)], ns, c});
      }
    ++i;
  }
  for (size_t gi = 0; gi < e.groups.size(); ++gi) {
    e.groups[gi].words.reserve(s.touched[gi].size());
    DrainDense(s.dense[gi], s.touched[gi], &e.groups[gi].words);
  }
  return e;
}

}  // namespace gemrun::constrain
