// Internals of the Tokenizer shared by its .cc files: the special-token splitter, the
// SentencePiece (SPM) merge loop and the Gemma 4 BPE merge loop. Not part of the public API.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/string_table.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"
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

// Memo of word -> ids for one Encode call: logs and prose repeat words constantly.
class WordCache {
 public:
  // Appends the cached ids of `word` to *out and returns true, or returns false.
  bool Lookup(std::string_view word, std::vector<TokenId>* out) const;
  void Insert(std::string_view word, const TokenId* ids, size_t n);

 private:
  StringTable index_;             // word -> entry
  std::vector<uint32_t> begin_;   // [entry + 1] offsets into ids_
  std::vector<TokenId> ids_;
};

// Cuts an escaped fragment into words that the merge loops may process independently: before
// each U+2581 symbol that follows a non-U+2581 symbol. Both merge loops only ever join symbols
// into texts the vocabulary (SPM) or the merge list (BPE) can produce, so a cut is exact unless
// one of those texts has a U+2581 after other text (Gemma 3 has exactly one, ">▁</"): such
// "cross" pieces veto the cuts they could span. With too many of them the splitter disables
// itself and fragments are processed whole.
class WordSplitter {
 public:
  // `pieces`: every text a merge can produce.
  void Build(const std::vector<std::string_view>& pieces);
  bool enabled() const { return enabled_; }
  // Calls fn(word) for consecutive words covering `text`.
  template <typename Fn>
  void ForEachWord(std::string_view text, Fn&& fn) const;

 private:
  bool CrossAt(std::string_view text, size_t pos) const;

  struct Cross {
    std::string text;
    size_t marker;  // byte offset of the U+2581 after other text
  };
  std::vector<Cross> cross_;
  bool enabled_ = false;
};

template <typename Fn>
void WordSplitter::ForEachWord(std::string_view text, Fn&& fn) const {
  size_t start = 0;
  bool prev_marker = true;  // no cut before the first symbol
  for (size_t i = 0; i < text.size();) {
    const uint8_t b = static_cast<uint8_t>(text[i]);
    if (b < 0x80) {
      prev_marker = false;
      ++i;
      continue;
    }
    const bool marker = b == 0xe2 && i + 2 < text.size() && static_cast<uint8_t>(text[i + 1]) == 0x96 &&
                        static_cast<uint8_t>(text[i + 2]) == 0x81;
    if (marker && !prev_marker && !CrossAt(text, i)) {
      fn(text.substr(start, i - start));
      start = i;
    }
    prev_marker = marker;
    i += std::min(utf8::LeadLength(b), text.size() - i);  // the merge loops' symbols
  }
  if (start < text.size()) fn(text.substr(start));
}

// Buffers reused across the fragments of one Encode call (no per-symbol allocation).
struct Scratch {
  std::vector<Fragment> frags, frags_next;
  std::vector<uint64_t> seen;   // bitset over special-token ranks
  std::vector<uint64_t> cands;  // special-text occurrences: rank << 32 | position
  std::vector<uint8_t> taken;   // [text byte] covered by an accepted special token
  std::string text;            // escaped fragment
  std::string word;            // BPE: code-point round-tripped fragment
  std::vector<Symbol> symbols;
  std::vector<Bigram> heap;
  WordCache cache;
};

// Splits text at special-token occurrences exactly like llama.cpp's tokenizer_st_partition:
// for each special token in Vocab::special_tokens() order, every raw fragment is cut at the
// leftmost non-overlapping occurrences. A byte trie lists the occurrences, so the cost follows
// them rather than the 6414 special tokens.
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
  void Resolve(std::string_view text, Scratch* s) const;
  void Pass(std::string_view text, TokenId id, Scratch* s) const;

  const Vocab* vocab_ = nullptr;
  std::vector<Node> nodes_;  // node 0 is the root
  std::vector<Edge> edges_;
  uint32_t root_child_[256] = {};
  std::vector<uint8_t> rank_parse_only_;  // [rank] 1 if CONTROL/UNKNOWN (needs parse_special)
};

// SentencePiece encoding of one escaped word or fragment (spaces already U+2581), appending
// ids. Highest score pair first, ties leftmost; unknown symbols fall back to byte tokens.
void SpmEncode(const Vocab& vocab, size_t max_token_len, std::string_view text, Scratch* s,
               std::vector<TokenId>* out);
// Whole fragment: word by word through the cache when `words` is enabled.
void SpmEncodeFragment(const Vocab& vocab, size_t max_token_len, const WordSplitter& words,
                       std::string_view text, Scratch* s, std::vector<TokenId>* out);

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
  void EncodeRun(std::string_view run, Gemma4Fallback fallback, Scratch* s, std::vector<TokenId>* out) const;
  void EncodeWord(std::string_view word, Gemma4Fallback fallback, Scratch* s, std::vector<TokenId>* out) const;

  const Vocab* vocab_ = nullptr;
  StringTable pieces_;                 // merge side / result text -> interned id
  std::vector<TokenId> piece_token_;   // [interned id] vocabulary id of that text, or kNoToken
  PairTable<Merge> merges_;
  WordSplitter words_;
  TokenId hex_token_[256] = {};        // <0xXX> tokens for Gemma4Fallback::kByteTokens
};

}  // namespace gemrun::tokenizer_internal
