// The vocabulary trie as one terminal automaton sees it. Bytes on which the DFA behaves alike in
// every state (same next state, same code point count) and that are alike as follow bytes form
// one class; the trie is rebuilt over classes, so every token spelled with, say, only
// letters and digits collapses onto a handful of nodes for a hostname or identifier DFA, and
// subtrees whose byte the DFA can never take are dropped. Built once per (DFA, follow bytes),
// it makes each further per-state mask entry a walk of that small trie instead of the
// 600k-node vocabulary trie.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "constrain/mask_cache.h"

namespace gemrun::constrain {

struct ClassTrie {
  static constexpr uint8_t kPruned = 255;
  std::array<uint8_t, 256> cls{};   // byte -> class, kPruned: never taken and never a follow byte
  std::vector<uint8_t> rep;         // class -> one of its bytes
  std::vector<uint8_t> is_follow;   // class -> its bytes may follow the terminal
  std::vector<uint8_t> dead;        // class -> the DFA takes its bytes in no state
  // Nodes in preorder (root 0), as in TokenTrie.
  std::vector<uint8_t> edge;        // [node] class of the edge into it
  std::vector<uint16_t> depth;
  std::vector<int32_t> end;
  std::vector<int32_t> word_begin;  // [node + 1] the tokens ending at a node, as (word, bits)
  std::vector<std::pair<uint32_t, uint64_t>> words;
  std::vector<uint8_t> follow_kid;  // [node] some child's edge is a follow class
  std::vector<int32_t> orig_begin;  // [node + 1] for follow-class edges: the vocabulary trie nodes
  std::vector<int32_t> orig;
  size_t Bytes() const;
  // The folded trie depends only on the classes (cls, dead, is_follow), not on the DFA: automata
  // with equal keys (the same alphabet structure) share one.
  std::string PartitionKey() const;
};

// The classes only (no nodes yet), then the fold; BuildClassTrie does both.
ClassTrie ClassifyBytes(const Dfa& dfa, const FollowBytes& follow);
void FoldTrie(const TokenTrie& trie, ClassTrie* ct);
ClassTrie BuildClassTrie(const TokenTrie& trie, const Dfa& dfa, const FollowBytes& follow);

// Same result as ComputeMaskEntry(trie, 0, dfa, state, follow) for the trie and follow bytes
// `ct` was built from.
MaskEntry ComputeMaskEntryByClass(const ClassTrie& ct, int32_t n_vocab, const Dfa& dfa, int32_t state);

}  // namespace gemrun::constrain
