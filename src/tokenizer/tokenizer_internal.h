// Internals of the Tokenizer shared by its .cc files: the special-token splitter, the
// SentencePiece (SPM) merge loop and the Gemma 4 BPE merge loop. Not part of the public API.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/string_table.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"

namespace gemrun::tokenizer_internal {

// A piece of the input after the special-token split: raw text [start, start+len) to be
// tokenized, or one special token.
struct Fragment {
  uint32_t start = 0;
  uint32_t len = 0;
  TokenId token = kNoToken;  // kNoToken: raw text
};

// One merge-loop symbol: bytes [start, start+n) of the current word, in a doubly linked list.
struct Symbol {
  int32_t prev = -1, next = -1;
  uint32_t start = 0, n = 0;
  int32_t piece = -1;  // BPE only: interned id of the symbol's text, -1 if not in the merges
};

// Candidate merge of symbols left/right (adjacent when pushed; stale once either changed).
struct Bigram {
  float score = 0;    // SPM: score of the merged token (higher first)
  int32_t rank = 0;   // BPE: merge rank (lower first)
  int32_t left = 0, right = 0;
  uint32_t size = 0;  // byte length of the merged text when pushed
  int32_t result = -1;  // BPE: interned id of the merged text
};

// Buffers reused across the fragments of one Encode call (no per-symbol allocation).
struct Scratch {
  std::vector<Fragment> frags, frags_next;
  std::vector<uint64_t> seen;  // bitset over special-token ranks
  std::string text;            // escaped fragment
  std::string word;            // BPE: code-point round-tripped fragment
  std::vector<Symbol> symbols;
  std::vector<Bigram> heap;
};

// Splits text at special-token occurrences exactly like llama.cpp's tokenizer_st_partition:
// for each special token in Vocab::special_tokens() order, every raw fragment is cut at the
// leftmost non-overlapping occurrences. A byte trie finds which special texts occur at all,
// so only those tokens make a pass over the fragments.
class SpecialSplitter {
 public:
  void Build(const Vocab& vocab);
  // Result in s->frags (empty for empty text).
  void Split(std::string_view text, bool parse_special, Scratch* s) const;

 private:
  struct Node {
    uint32_t edge_begin = 0;
    uint32_t edge_count = 0;
    int32_t rank = -1;  // index into vocab.special_tokens() of the token ending here, or -1
  };
  struct Edge {
    uint8_t byte;
    uint32_t child;
  };
  uint32_t Child(uint32_t node, uint8_t b) const;
  void Pass(std::string_view text, TokenId id, Scratch* s) const;

  const Vocab* vocab_ = nullptr;
  std::vector<Node> nodes_;  // node 0 is the root
  std::vector<Edge> edges_;
  uint32_t root_child_[256] = {};
  std::vector<uint8_t> rank_parse_only_;  // [rank] 1 if CONTROL/UNKNOWN (needs parse_special)
};

// SentencePiece encoding of one escaped fragment (spaces already U+2581), appending ids.
// Highest score pair first, ties leftmost; unknown symbols fall back to byte tokens.
void SpmEncode(const Vocab& vocab, size_t max_token_len, std::string_view text, Scratch* s,
               std::vector<TokenId>* out);

// Gemma 4 BPE: merge ranks keyed by the interned ids of both sides.
class Gemma4Bpe {
 public:
  void Build(const Vocab& vocab);
  // Encodes one escaped fragment (spaces already U+2581), appending ids.
  void Encode(std::string_view text, Gemma4Fallback fallback, Scratch* s, std::vector<TokenId>* out) const;

 private:
  struct Merge {
    int32_t rank = 0;
    int32_t result = -1;  // interned id of left+right
  };
  int32_t Intern(std::string_view piece);
  void EncodeWord(std::string_view word, Gemma4Fallback fallback, Scratch* s, std::vector<TokenId>* out) const;

  const Vocab* vocab_ = nullptr;
  StringTable pieces_;                 // merge side / result text -> interned id
  std::vector<TokenId> piece_token_;   // [interned id] vocabulary id of that text, or kNoToken
  PairTable<Merge> merges_;
  TokenId hex_token_[256] = {};        // <0xXX> tokens for Gemma4Fallback::kByteTokens
};

}  // namespace gemrun::tokenizer_internal
