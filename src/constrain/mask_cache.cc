// MaskCache (shared, bounded, content-keyed token-mask entries) and the trie walk that fills it.
#include "constrain/mask_cache.h"

#include <algorithm>

#include "constrain/class_trie.h"
#include "constrain/matcher.h"

namespace gemrun::constrain {
namespace {

// Per-thread scratch of the fill walk, reused so a fill allocates only its result.
struct FillScratch {
  std::vector<int32_t> st, cp;                               // per trie depth: DFA state, code points
  GroupIndex by_cp;
  std::vector<std::vector<int32_t>> toks;                     // per group: its tokens, unsorted
  std::vector<uint64_t> dense;                                // one group's bits, all zero between uses
};

int32_t GroupOf(FillScratch& s, int32_t state, int32_t cp, std::vector<MaskGroup>* groups) {
  bool fresh = false;
  const int32_t gi = FindOrAddGroup(s.by_cp, state, cp, groups, &fresh);
  if (!fresh) return gi;
  if (s.toks.size() <= static_cast<size_t>(gi)) s.toks.resize(static_cast<size_t>(gi) + 1);
  s.toks[static_cast<size_t>(gi)].clear();
  return gi;
}

// Token ids to (word, bits) pairs in word order: set bits in a dense bitset, then collect and
// clear only the touched words (sorting the ids instead cost more than the whole walk).
void Pack(FillScratch& s, std::vector<int32_t>& toks, size_t n_words, MaskGroup* g) {
  if (s.dense.size() < n_words) s.dense.assign(n_words, 0);
  std::vector<uint32_t> touched;
  for (int32_t t : toks) {
    const uint32_t w = static_cast<uint32_t>(t) >> 6;
    if (s.dense[w] == 0) touched.push_back(w);
    s.dense[w] |= uint64_t{1} << (t & 63);
  }
  std::sort(touched.begin(), touched.end());
  g->words.reserve(touched.size());
  for (uint32_t w : touched) {
    g->words.push_back({w, s.dense[w]});
    s.dense[w] = 0;
  }
}

}  // namespace

size_t MaskEntry::Bytes() const {
  size_t b = sizeof(MaskEntry) + exits.capacity() * sizeof(MaskExit) + groups.capacity() * sizeof(MaskGroup);
  for (const MaskGroup& g : groups) b += g.words.capacity() * sizeof(g.words[0]);
  return b;
}

MaskEntry ComputeMaskEntry(const TokenTrie& tr, int32_t node, const Dfa& d, int32_t state, const FollowBytes& follow) {
  thread_local FillScratch s;
  MaskEntry e;
  if (s.st.size() < 65536) s.st.resize(65536), s.cp.resize(65536);
  for (auto& slot : s.by_cp) slot.clear();
  const size_t d0 = tr.depth[static_cast<size_t>(node)];
  s.st[d0] = state;
  s.cp[d0] = 0;
  const int32_t stop = tr.end[static_cast<size_t>(node)];
  for (int32_t i = node + 1; i < stop;) {
    const size_t dd = tr.depth[static_cast<size_t>(i)];
    const int32_t ps = s.st[dd - 1];
    const uint8_t b = tr.byte[static_cast<size_t>(i)];
    const int32_t ns = d.Next(ps, b);
    if (ns < 0) {  // early rejection: nothing below can stay inside the terminal
      i = tr.end[static_cast<size_t>(i)];
      continue;
    }
    s.st[dd] = ns;
    const int32_t c = s.cp[dd] = s.cp[dd - 1] + (d.Counts(ps, b) ? 1 : 0);
    const int32_t tb = tr.tok_begin[static_cast<size_t>(i)], te = tr.tok_begin[static_cast<size_t>(i) + 1];
    if (tb < te) {
      auto& v = s.toks[static_cast<size_t>(GroupOf(s, ns, c, &e.groups))];
      v.insert(v.end(), tr.tok_ids.begin() + tb, tr.tok_ids.begin() + te);
    }
    if (d.accept[static_cast<size_t>(ns)])
      for (int32_t j = i + 1; j < tr.end[static_cast<size_t>(i)]; j = tr.end[static_cast<size_t>(j)]) {
        const uint8_t cb = tr.byte[static_cast<size_t>(j)];
        if ((follow[cb >> 6] >> (cb & 63)) & 1) e.exits.push_back({j, ns, c});
      }
    ++i;
  }
  const size_t n_words = (static_cast<size_t>(tr.n_vocab) + 63) / 64;
  for (size_t gi = 0; gi < e.groups.size(); ++gi) Pack(s, s.toks[gi], n_words, &e.groups[gi]);
  return e;
}

size_t MaskCache::KeyHash::operator()(const Key& k) const {
  uint64_t h = static_cast<uint64_t>(k.dfa) * 0x9E3779B97F4A7C15ull;
  h ^= (static_cast<uint64_t>(static_cast<uint32_t>(k.node)) << 32 | static_cast<uint32_t>(k.state)) * 0xC2B2AE3D27D4EB4Full;
  for (uint64_t w : k.follow) h = (h ^ w) * 0x165667B19E3779F9ull;
  return static_cast<size_t>(h ^ (h >> 31));
}

namespace {

// A hash of a sample of the automaton: cheap on a 1000-state DFA; equality is decided by
// comparing the whole content, so a collision costs a comparison, never a wrong mask.
uint64_t SampleHash(const Dfa& d) {
  uint64_t h = (static_cast<uint64_t>(static_cast<uint32_t>(d.n_states)) << 32 | static_cast<uint32_t>(d.start)) *
               0x9E3779B97F4A7C15ull;
  const size_t n = d.trans.size(), step = std::max<size_t>(1, n / 1024);
  for (size_t i = 0; i < n; i += step)
    h = (h ^ (static_cast<uint64_t>(static_cast<uint32_t>(d.trans[i])) << 1 | d.counts[i])) * 0x100000001B3ull;
  for (size_t s = 0; s < d.accept.size(); s += std::max<size_t>(1, d.accept.size() / 256)) h = (h ^ d.accept[s]) * 0x100000001B3ull;
  return h ^ (h >> 29);
}

bool SameDfa(const Dfa& a, const Dfa& b) {
  return a.n_states == b.n_states && a.start == b.start && a.trans == b.trans && a.counts == b.counts &&
         a.accept == b.accept;
}

size_t DfaBytes(const Dfa& d) { return sizeof(Dfa) + d.trans.size() * 5 + d.accept.size(); }

}  // namespace

int64_t MaskCache::DfaId(const Dfa& dfa) {
  const uint64_t h = SampleHash(dfa);
  std::lock_guard<std::mutex> lock(mu_);
  auto [lo, hi] = dfa_ids_.equal_range(h);
  for (auto it = lo; it != hi; ++it)
    if (SameDfa(*it->second.first, dfa)) return it->second.second;
  const int64_t id = next_dfa_id_++;
  dfa_ids_.emplace(h, std::make_pair(std::make_shared<const Dfa>(dfa), id));
  bytes_ += DfaBytes(dfa);
  return id;
}

std::shared_ptr<const MaskEntry> MaskCache::Find(int32_t node, int64_t dfa_id, int32_t state, const FollowBytes& follow) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(Key{dfa_id, node, state, follow});
  if (it == entries_.end()) {
    ++stats_.misses;
    return nullptr;
  }
  ++stats_.hits;
  return it->second;
}

void MaskCache::MakeRoom(size_t size) {
  if (bytes_ + size <= max_bytes_) return;
  // Emptied, not evicted one by one: rare (a long-running server over many distinct grammars),
  // and DFA ids stay unique, so no stale entry can ever match again.
  entries_.clear();
  class_tries_.clear();
  by_partition_.clear();
  dfa_ids_.clear();
  bytes_ = 0;
  ++stats_.clears;
}

std::shared_ptr<const MaskEntry> MaskCache::Insert(int32_t node, int64_t dfa_id, int32_t state,
                                                   const FollowBytes& follow, MaskEntry entry) {
  auto e = std::make_shared<const MaskEntry>(std::move(entry));
  const size_t size = e->Bytes();
  std::lock_guard<std::mutex> lock(mu_);
  MakeRoom(size);
  auto [it, fresh] = entries_.emplace(Key{dfa_id, node, state, follow}, e);
  if (fresh) bytes_ += size;
  return it->second;
}

std::shared_ptr<const ClassTrie> MaskCache::FindClassTrie(int64_t dfa_id, const FollowBytes& follow) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = class_tries_.find(Key{dfa_id, 0, 0, follow});
  return it == class_tries_.end() ? nullptr : it->second;
}

std::shared_ptr<const ClassTrie> MaskCache::FindClassTrie(const std::string& partition) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_partition_.find(partition);
  return it == by_partition_.end() ? nullptr : it->second;
}

std::shared_ptr<const ClassTrie> MaskCache::InsertClassTrie(int64_t dfa_id, const FollowBytes& follow,
                                                            const std::string& partition,
                                                            std::shared_ptr<const ClassTrie> ct) {
  std::lock_guard<std::mutex> lock(mu_);
  auto p = by_partition_.find(partition);
  if (p == by_partition_.end()) {
    const size_t size = ct->Bytes() + partition.size();
    MakeRoom(size);
    p = by_partition_.emplace(partition, std::move(ct)).first;
    bytes_ += size;
    ++stats_.class_tries;
  }
  class_tries_.emplace(Key{dfa_id, 0, 0, follow}, p->second);
  bytes_ += sizeof(Key) + 16;
  return p->second;
}

MaskCache::Stats MaskCache::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  Stats s = stats_;
  s.entries = entries_.size();
  s.bytes = bytes_;
  s.dfas = dfa_ids_.size();
  s.class_tries = by_partition_.size();
  return s;
}

}  // namespace gemrun::constrain
