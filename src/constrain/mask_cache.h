// Token-mask cache shared by every Matcher over one vocabulary trie: across steps, requests and
// grammars. An entry answers, for a trie node and a terminal's DFA in state s, which tokens
// below the node stay inside the terminal (grouped by end state and code points spanned) and at
// which nodes the terminal can end with a continuation byte following. That answer depends only
// on the DFA's content, the state and the set of continuation bytes, never on the grammar around
// it, so entries are keyed by a content id of the DFA and reused by any grammar that has the
// same terminal automaton (a free JSON string body, whitespace, digits, a format).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "constrain/regex.h"

namespace gemrun::constrain {

struct TokenTrie;
struct ClassTrie;

struct MaskGroup {
  int32_t end_state = 0, cp = 0;
  std::vector<std::pair<uint32_t, uint64_t>> words;  // (word index, bits) of the token mask
};
// Groups of one mask entry, indexed by code-point count then end state. Returns the group of
// (state, cp), appending it to `groups` (and *fresh = true) when it is new.
using GroupIndex = std::vector<std::vector<std::pair<int32_t, int32_t>>>;  // cp -> (end state, group)
inline int32_t FindOrAddGroup(GroupIndex& by_cp, int32_t state, int32_t cp, std::vector<MaskGroup>* groups,
                              bool* fresh) {
  if (by_cp.size() <= static_cast<size_t>(cp)) by_cp.resize(static_cast<size_t>(cp) + 1);
  auto& slot = by_cp[static_cast<size_t>(cp)];
  for (const auto& [st, gi] : slot)
    if (st == state) return *fresh = false, gi;
  const int32_t gi = static_cast<int32_t>(groups->size());
  groups->push_back(MaskGroup{state, cp, {}});
  slot.push_back({state, gi});
  *fresh = true;
  return gi;
}
struct MaskExit {
  int32_t node = 0;  // a child whose byte may follow the terminal's end (its parent is where it ends)
  int32_t state = 0, cp = 0;  // the terminal's DFA state and code points at the parent
};
struct MaskEntry {
  std::vector<MaskGroup> groups;
  std::vector<MaskExit> exits;
  size_t Bytes() const;
};

using FollowBytes = std::array<uint64_t, 4>;  // bit b: byte b can start what follows the terminal

// Walks the subtree of `node` (whose bytes are already matched) with the DFA from `state`:
// the uncached computation of an entry.
MaskEntry ComputeMaskEntry(const TokenTrie& trie, int32_t node, const Dfa& dfa, int32_t state,
                           const FollowBytes& follow);

// Thread-safe. Bounded: when the entries exceed the byte budget the cache is emptied (entries
// still held by a matcher stay alive until it drops them).
class MaskCache {
 public:
  static constexpr size_t kDefaultMaxBytes = size_t{256} << 20;
  explicit MaskCache(size_t max_bytes = kDefaultMaxBytes) : max_bytes_(max_bytes) {}

  // A process-unique id for the DFA's content: equal automata get one id, ids are never reused
  // (so an id held by a matcher stays valid after the cache is emptied).
  int64_t DfaId(const Dfa& dfa);

  std::shared_ptr<const MaskEntry> Find(int32_t node, int64_t dfa_id, int32_t state, const FollowBytes& follow);
  std::shared_ptr<const MaskEntry> Insert(int32_t node, int64_t dfa_id, int32_t state, const FollowBytes& follow,
                                          MaskEntry entry);

  // The vocabulary trie folded over a DFA's byte classes (class_trie.h): found per (DFA,
  // follow), or per partition key (automata with the same classes share one).
  std::shared_ptr<const ClassTrie> FindClassTrie(int64_t dfa_id, const FollowBytes& follow);
  std::shared_ptr<const ClassTrie> FindClassTrie(const std::string& partition);
  std::shared_ptr<const ClassTrie> InsertClassTrie(int64_t dfa_id, const FollowBytes& follow,
                                                   const std::string& partition, std::shared_ptr<const ClassTrie> ct);

  struct Stats {
    uint64_t hits = 0, misses = 0, clears = 0, class_tries = 0;
    size_t entries = 0, bytes = 0, dfas = 0;
  };
  Stats stats() const;

 private:
  void MakeRoom(size_t size);  // with mu_ held
  struct Key {
    int64_t dfa;
    int32_t node, state;
    FollowBytes follow;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const;
  };

  const size_t max_bytes_;
  mutable std::mutex mu_;
  std::unordered_map<Key, std::shared_ptr<const MaskEntry>, KeyHash> entries_;
  std::unordered_map<Key, std::shared_ptr<const ClassTrie>, KeyHash> class_tries_;  // node, state: 0
  std::unordered_map<std::string, std::shared_ptr<const ClassTrie>> by_partition_;
  // Sampled content hash -> (the automaton, its id); a hit is confirmed by a full comparison.
  std::unordered_multimap<uint64_t, std::pair<std::shared_ptr<const Dfa>, int64_t>> dfa_ids_;
  int64_t next_dfa_id_ = 0;
  size_t bytes_ = 0;
  Stats stats_;
};

}  // namespace gemrun::constrain
