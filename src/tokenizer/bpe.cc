// Gemma 4 BPE (llama.cpp pre-tokenizer "gemma4", gemma4.md §8.2).
//
// Per fragment: code-point round trip as llama.cpp's regex splitter does (invalid bytes become
// U+FFFD), split into runs of '\n' and of everything else, emit a newline run whole when it is
// a token, else BPE over its UTF-8 characters: repeatedly merge the adjacent pair with the
// lowest merge rank (ties leftmost). Merge keys are the interned ids of both sides' texts, so
// a lookup is two integers, not two strings.
#include <algorithm>

#include "tokenizer/tokenizer_internal.h"
#include "tokenizer/utf8.h"

namespace gemrun::tokenizer_internal {
namespace {

// std::priority_queue order of llama.cpp's llm_bigram_bpe::comparator: "a below b".
struct BpeLess {
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  }
};

}  // namespace

int32_t Gemma4Bpe::Intern(std::string_view piece) {
  const int32_t id = static_cast<int32_t>(piece_token_.size());
  if (!pieces_.Insert(piece, id)) return pieces_.Find(piece);
  piece_token_.push_back(vocab_->Find(piece));
  return id;
}

void Gemma4Bpe::Build(const Vocab& vocab) {
  vocab_ = &vocab;
  const std::vector<std::string>& merges = vocab.merges();
  pieces_.Reserve(merges.size() * 2 + 16, merges.size() * 16);
  merges_.Reserve(merges.size() + 16);
  std::string joined;
  for (size_t i = 0; i < merges.size(); ++i) {
    const std::string& m = merges[i];
    // llama.cpp splits at the first space at index >= 1. An entry without one becomes the
    // pair ("", ""), which can never match a (non-empty) symbol, so we skip it.
    const size_t pos = m.find(' ', 1);
    if (pos == std::string::npos) continue;
    const std::string_view left(m.data(), pos), right(m.data() + pos + 1, m.size() - pos - 1);
    const int32_t a = Intern(left);
    const int32_t b = Intern(right);
    joined.assign(left);
    joined.append(right);
    const int32_t r = Intern(joined);
    merges_.Insert(static_cast<uint32_t>(a), static_cast<uint32_t>(b), Merge{static_cast<int32_t>(i), r});
  }
  // Merge results are the only multi-character symbols BPE can form.
  std::vector<std::string> results;
  results.reserve(merges.size());
  for (const std::string& m : merges) {
    const size_t pos = m.find(' ', 1);
    if (pos == std::string::npos) continue;
    results.push_back(m.substr(0, pos) + m.substr(pos + 1));
  }
  words_.Build(std::vector<std::string_view>(results.begin(), results.end()));
  static const char* kHex = "0123456789ABCDEF";
  for (int c = 0; c < 256; ++c) {
    const char hex[6] = {'<', '0', 'x', kHex[c >> 4], kHex[c & 15], '>'};
    hex_token_[c] = vocab.Find(std::string_view(hex, 6));
  }
}

void Gemma4Bpe::Encode(std::string_view text, Gemma4Fallback fallback, Scratch* s,
                       std::vector<TokenId>* out) const {
  std::string& word = s->word;
  word.clear();
  utf8::LlamaRoundTrip(text, &word);
  const std::string_view w(word);
  for (size_t i = 0; i < w.size();) {
    const bool newline = w[i] == '\n';
    size_t j = i + 1;
    while (j < w.size() && (w[j] == '\n') == newline) ++j;
    EncodeRun(w.substr(i, j - i), fallback, s, out);
    i = j;
  }
}

void Gemma4Bpe::EncodeRun(std::string_view run, Gemma4Fallback fallback, Scratch* s,
                          std::vector<TokenId>* out) const {
  // A run of newlines that is itself a token is emitted whole (llama.cpp PR 21343).
  if (run[0] == '\n') {
    const TokenId id = vocab_->Find(run);
    if (id != kNoToken) {
      out->push_back(id);
      return;
    }
  }
  if (!words_.enabled()) {
    EncodeWord(run, fallback, s, out);
    return;
  }
  words_.ForEachWord(run, [&](std::string_view word) {
    if (s->cache.Lookup(word, out)) return;
    const size_t before = out->size();
    EncodeWord(word, fallback, s, out);
    s->cache.Insert(word, out->data() + before, out->size() - before);
  });
}

void Gemma4Bpe::EncodeWord(std::string_view word, Gemma4Fallback fallback, Scratch* s,
                           std::vector<TokenId>* out) const {
  std::vector<Symbol>& sym = s->symbols;
  std::vector<Bigram>& heap = s->heap;
  sym.clear();
  heap.clear();
  for (size_t off = 0; off < word.size();) {
    const size_t n = std::min(utf8::LeadLength(static_cast<uint8_t>(word[off])), word.size() - off);
    const int32_t idx = static_cast<int32_t>(sym.size());
    sym.push_back(Symbol{idx - 1, off + n == word.size() ? -1 : idx + 1, static_cast<uint32_t>(off),
                         static_cast<uint32_t>(n), pieces_.Find(word.substr(off, n))});
    off += n;
  }

  bool heaped = false;
  auto try_add = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0 || sym[left].piece < 0 || sym[right].piece < 0) return;
    const Merge* m = merges_.Find(static_cast<uint32_t>(sym[left].piece), static_cast<uint32_t>(sym[right].piece));
    if (!m) return;
    Bigram b;
    b.rank = m->rank;
    b.result = m->result;
    b.left = left, b.right = right;
    b.size = sym[left].n + sym[right].n;
    heap.push_back(b);
    if (heaped) std::push_heap(heap.begin(), heap.end(), BpeLess{});
  };

  // Seed with every adjacent pair, then heapify once (O(n)); the pop order is the same, since
  // no two live entries compare equal.
  for (int32_t i = 1; i < static_cast<int32_t>(sym.size()); ++i) try_add(i - 1, i);
  std::make_heap(heap.begin(), heap.end(), BpeLess{});
  heaped = true;
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), BpeLess{});
    const Bigram b = heap.back();
    heap.pop_back();
    Symbol& l = sym[b.left];
    Symbol& r = sym[b.right];
    if (l.n == 0 || r.n == 0 || l.n + r.n != b.size) continue;  // stale
    l.n += r.n;
    l.piece = b.result;
    r.n = 0;
    l.next = r.next;
    if (r.next >= 0) sym[r.next].prev = b.left;
    try_add(l.prev, b.left);
    try_add(b.left, l.next);
  }

  for (int32_t i = 0; i != -1; i = sym[i].next) {
    const Symbol& x = sym[i];
    const std::string_view piece = word.substr(x.start, x.n);
    const TokenId id = x.piece >= 0 ? piece_token_[x.piece] : vocab_->Find(piece);
    if (id != kNoToken) {
      out->push_back(id);
      continue;
    }
    for (unsigned char c : piece) {
      TokenId b;
      if (fallback == Gemma4Fallback::kByteTokens) {
        b = hex_token_[c];  // llama.cpp 3f545becc, HF
      } else {  // llama.cpp d1f82e382
        const char raw = static_cast<char>(c);
        b = vocab_->Find(std::string_view(&raw, 1));
      }
      if (b != kNoToken) out->push_back(b);  // no such token: the byte is dropped
    }
  }
}

}  // namespace gemrun::tokenizer_internal
