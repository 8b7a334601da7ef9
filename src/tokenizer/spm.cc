// SentencePiece (llama.cpp "SPM") merge loop for Gemma 3 vocabularies.
//
// Same algorithm as llama.cpp's llm_tokenizer_spm_session: symbols are UTF-8 "characters" by
// lead byte; a priority queue holds adjacent pairs whose concatenation is a vocabulary token,
// best score first and leftmost first on ties; the merged text of two adjacent symbols is a
// contiguous slice of the fragment, so every lookup is a string_view probe (no allocation).
// Symbols left unmatched are emitted as byte tokens.
#include <algorithm>

#include "tokenizer/tokenizer_internal.h"
#include "tokenizer/utf8.h"

namespace gemrun::tokenizer_internal {
namespace {

// std::priority_queue order of llama.cpp's llm_bigram_spm::comparator: "a below b".
struct SpmLess {
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
};

void EmitSymbol(const Vocab& vocab, std::string_view piece, std::vector<TokenId>* out) {
  const TokenId id = vocab.Find(piece);
  if (id != kNoToken) {
    out->push_back(id);
    return;
  }
  // Byte fallback. llama.cpp throws when a vocabulary has neither <0xXX> nor the raw byte;
  // we emit <unk> if there is one and drop the byte otherwise.
  for (unsigned char c : piece) {
    TokenId b = vocab.ByteToken(c);
    if (b == kNoToken) b = vocab.unk();
    if (b != kNoToken) out->push_back(b);
  }
}

}  // namespace

void SpmEncode(const Vocab& vocab, size_t max_token_len, std::string_view text, Scratch* s,
               std::vector<TokenId>* out) {
  std::vector<Symbol>& sym = s->symbols;
  std::vector<Bigram>& heap = s->heap;
  sym.clear();
  heap.clear();
  for (size_t off = 0; off < text.size();) {
    const size_t n = std::min(utf8::LeadLength(static_cast<uint8_t>(text[off])), text.size() - off);
    const int32_t idx = static_cast<int32_t>(sym.size());
    sym.push_back(Symbol{idx - 1, off + n == text.size() ? -1 : idx + 1, static_cast<uint32_t>(off),
                         static_cast<uint32_t>(n), -1});
    off += n;
  }
  if (sym.empty()) return;

  bool heaped = false;
  auto try_add = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const size_t size = static_cast<size_t>(sym[left].n) + sym[right].n;
    if (size > max_token_len) return;  // no token is that long
    const TokenId id = vocab.Find(text.substr(sym[left].start, size));
    if (id == kNoToken) return;
    Bigram b;
    b.score = vocab.score(id);
    b.left = left, b.right = right;
    b.size = static_cast<uint32_t>(size);
    heap.push_back(b);
    if (heaped) std::push_heap(heap.begin(), heap.end(), SpmLess{});
  };

  // Seed with every adjacent pair, then heapify once (O(n)); the pop order is the same, since
  // no two live entries compare equal.
  for (int32_t i = 1; i < static_cast<int32_t>(sym.size()); ++i) try_add(i - 1, i);
  std::make_heap(heap.begin(), heap.end(), SpmLess{});
  heaped = true;
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), SpmLess{});
    const Bigram b = heap.back();
    heap.pop_back();
    Symbol& l = sym[b.left];
    Symbol& r = sym[b.right];
    // Stale: one side was merged away or grew since the pair was pushed.
    if (l.n == 0 || r.n == 0 || l.n + r.n != b.size) continue;
    l.n += r.n;
    r.n = 0;
    l.next = r.next;
    if (r.next >= 0) sym[r.next].prev = b.left;
    try_add(l.prev, b.left);
    try_add(b.left, l.next);
  }
  for (int32_t i = 0; i != -1; i = sym[i].next) EmitSymbol(vocab, text.substr(sym[i].start, sym[i].n), out);
}

void SpmEncodeFragment(const Vocab& vocab, size_t max_token_len, const WordSplitter& words,
                       std::string_view text, Scratch* s, std::vector<TokenId>* out) {
  if (!words.enabled()) {
    SpmEncode(vocab, max_token_len, text, s, out);
    return;
  }
  words.ForEachWord(text, [&](std::string_view word) {
    if (s->cache.Lookup(word, out)) return;
    const size_t before = out->size();
    SpmEncode(vocab, max_token_len, word, s, out);
    s->cache.Insert(word, out->data() + before, out->size() - before);
  });
}

}  // namespace gemrun::tokenizer_internal
