// Byte-level recognizer for the grammar IR and per-step token masks over a whole vocabulary.
//
// Recognizer: the state is a set of stacks; a stack's top is a terminal frame (DFA state and
// code points spanned so far), the frames below are return positions. Stacks are persistent
// and hash-consed, so equal stacks are one id and a set deduplicates by id.
//
// Masks: the vocabulary is a byte trie in preorder. For a stack whose top is terminal T in DFA
// state s, the tokens that stay inside T are context-independent: they are cached per
// (DFA content, s, follow bytes) as groups (end state, code points) of bitset words in a
// MaskCache (mask_cache.h) shared by every matcher over the trie, across steps, requests and
// grammars, so a free-text string costs a few thousand word ORs, not a 262k-token walk. Only
// the trie nodes where T can end and a continuation byte follows are walked with the full
// recognizer (the parser is consulted only where a lexeme completes).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "constrain/grammar.h"
#include "constrain/mask_cache.h"

namespace gemrun {
class Tokenizer;
}

namespace gemrun::constrain {

// The vocabulary as a byte trie (preorder). Only tokens that may appear inside a constrained
// span are in it: normal pieces and byte tokens with a non-empty piece, never control,
// user-defined, unknown or unused tokens.
struct TokenTrie {
  int32_t n_vocab = 0;
  std::vector<uint8_t> byte;      // [node] the edge byte (root: 0)
  std::vector<uint16_t> depth;    // [node] root = 0
  std::vector<int32_t> end;       // [node] one past the last node of its subtree
  std::vector<int32_t> tok_begin; // [node + 1] tokens ending at a node: tok_ids[tok_begin[i], tok_begin[i+1])
  std::vector<int32_t> tok_ids;
  std::vector<std::string> pieces;  // [token] the bytes it stands for ("" when excluded)
  // Shared by every Matcher built over this trie unless one is given its own.
  std::shared_ptr<MaskCache> mask_cache = std::make_shared<MaskCache>();

  // pieces[i] == "" excludes token i.
  static std::shared_ptr<const TokenTrie> Build(std::vector<std::string> pieces);
  static std::shared_ptr<const TokenTrie> FromTokenizer(const Tokenizer& tok);
  int32_t n_nodes() const { return static_cast<int32_t>(byte.size()); }
};

using TokenMask = std::vector<uint64_t>;  // bit i: token i allowed
inline bool MaskHas(const TokenMask& m, int32_t t) { return (m[static_cast<size_t>(t) >> 6] >> (t & 63)) & 1; }

struct StackSet {
  std::vector<int32_t> tops;  // stacks whose top is a terminal frame
  bool accept = false;        // the empty stack: the text so far is complete
  bool empty() const { return tops.empty() && !accept; }
  void clear() {
    tops.clear();
    accept = false;
  }
};

class Recognizer {
 public:
  explicit Recognizer(std::shared_ptr<const Grammar> g);

  const Grammar& grammar() const { return *g_; }
  const StackSet& state() const { return cur_; }
  // Consumes bytes; false (state unchanged) when they are not a prefix of the language.
  bool Feed(std::string_view bytes);
  bool CanEnd() const { return cur_.accept; }

  // Building blocks for the mask walk.
  struct Frame {
    int32_t pos, state, count, parent;
  };
  const Frame& frame(int32_t id) const { return frames_[static_cast<size_t>(id)]; }
  void Advance(const StackSet& in, uint8_t b, StackSet* out);
  // The stacks after the terminal on top of `top` ends (popped, the rest expanded).
  void ExitSet(int32_t top, StackSet* out);
  // Frames interned from here on are scratch, dropped by EndScratch().
  void BeginScratch();
  void EndScratch();

 private:
  int32_t Intern(int32_t pos, int32_t state, int32_t count, int32_t parent);
  void ExpandAt(int32_t pos, int32_t parent, StackSet* out);
  void AddTop(int32_t id, StackSet* out);
  uint32_t NewStamp();

  std::shared_ptr<const Grammar> g_;
  std::vector<Frame> frames_;
  // Open-addressing tables (frame id + 1; 0 empty): committed frames and scratch frames.
  std::vector<int32_t> table_, scratch_table_;
  std::vector<size_t> scratch_used_;
  int32_t scratch_from_ = -1;  // >= 0 while in scratch mode
  std::vector<uint32_t> mark_;  // per frame: stamp of the set it was last added to
  uint32_t stamp_ = 0;
  StackSet cur_;
};

class Matcher {
 public:
  // Uses the trie's shared mask cache.
  Matcher(std::shared_ptr<const Grammar> g, std::shared_ptr<const TokenTrie> trie);
  // Uses `cache` instead (e.g. a fresh one, to compare against the shared one in tests).
  Matcher(std::shared_ptr<const Grammar> g, std::shared_ptr<const TokenTrie> trie, std::shared_ptr<MaskCache> cache);

  // Tokens that keep the output a prefix of the language (EOG excluded: see CanEnd()).
  void ComputeMask(TokenMask* mask);
  bool CanEnd() const { return rec_.CanEnd(); }
  // Advances by the token's bytes. An error when the token is not allowed (the state is kept).
  Status Accept(int32_t token);
  const Recognizer& recognizer() const { return rec_; }

 private:
  std::shared_ptr<const MaskEntry> Entry(int32_t node, int dfa, int state, const FollowBytes& follow);
  void MaskFrom(int32_t node, const StackSet& set, TokenMask* mask);
  void MaskChild(int32_t child, const StackSet& set, TokenMask* mask);
  void WalkFrom(int32_t node, const StackSet& start, TokenMask* mask);
  static constexpr int32_t kCacheMinSubtree = 4096;  // trie nodes

  std::shared_ptr<const TokenTrie> trie_;
  std::shared_ptr<MaskCache> cache_;
  Recognizer rec_;
  std::vector<int64_t> dfa_ids_;  // per grammar DFA: its MaskCache id (-1 until first needed)
  std::vector<StackSet> walk_sets_;
};

// Whether the whole of `text` is in the grammar's language.
bool GrammarAccepts(std::shared_ptr<const Grammar> g, std::string_view text);

}  // namespace gemrun::constrain
