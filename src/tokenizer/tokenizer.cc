// Tokenizer: encode (special split + SPM / Gemma 4 BPE), token pieces, decode, streaming decode.
#include "tokenizer/tokenizer.h"

#include <algorithm>

#include "gguf/gguf.h"
#include "tokenizer/tokenizer_internal.h"
#include "tokenizer/utf8.h"

namespace gemrun {

using tokenizer_internal::Fragment;
using tokenizer_internal::Scratch;

struct Tokenizer::Impl {
  tokenizer_internal::SpecialSplitter splitter;
  tokenizer_internal::Gemma4Bpe bpe;
  tokenizer_internal::WordSplitter spm_words;  // SPM: any vocabulary text can be a merge result
  size_t max_token_len = 0;
  // Piece of every token as llama.cpp's token_to_piece cache (special = true), back to back.
  std::string piece_arena;
  std::vector<uint32_t> piece_offset;  // [n_vocab + 1]
};

namespace {

constexpr std::string_view kSpaceMarker = "\xE2\x96\x81";  // U+2581 LOWER ONE EIGHTH BLOCK

// Appends `s` with every ' ' replaced by U+2581 (llama_escape_whitespace).
void AppendEscaped(std::string_view s, std::string* out) {
  size_t from = 0;
  for (size_t i = s.find(' '); i != std::string_view::npos; i = s.find(' ', from)) {
    out->append(s.data() + from, i - from);
    out->append(kSpaceMarker);
    from = i + 1;
  }
  out->append(s.data() + from, s.size() - from);
}

// Appends `s` with every U+2581 replaced by ' ' (llama_unescape_whitespace).
void AppendUnescaped(std::string_view s, std::string* out) {
  size_t from = 0;
  for (size_t i = s.find(kSpaceMarker); i != std::string_view::npos; i = s.find(kSpaceMarker, from)) {
    out->append(s.data() + from, i - from);
    out->push_back(' ');
    from = i + kSpaceMarker.size();
  }
  out->append(s.data() + from, s.size() - from);
}

uint8_t HexByte(std::string_view t) {  // "<0xHH>", validated at load
  auto nib = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
  return static_cast<uint8_t>(nib(t[3]) << 4 | nib(t[4]));
}

// llama.cpp detokenize's "clean up spaces" passes, byte for byte.
void CleanSpaces(std::string* s) {
  std::string& t = *s;
  size_t total = t.size();
  if (total == 0) return;
  // " ?", " !", " .", " ,"  -> drop the space
  size_t n = 1;
  for (size_t i = 1; i < total; ++i) {
    const char x = t[i];
    if (t[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',')) --n;
    t[n++] = x;
  }
  total = n;
  // " ' " -> "'"
  n = 1;
  for (size_t i = 1; i < total; ++i) {
    const char x = t[i];
    if (x == '\'' && i + 1 < total && t[i - 1] == ' ' && t[i + 1] == ' ') {
      --n;
      t[++i] = '\0';
    }
    t[n++] = x;
  }
  total = n;
  // " 's", " 'm", " 're", " 've" -> drop the space
  n = 1;
  for (size_t i = 1; i < total; ++i) {
    const char x = t[i];
    if (t[i - 1] == ' ' && x == '\'' && i + 1 < total) {
      const char x1 = t[i + 1];
      if (x1 == 's' || x1 == 'm') {
        --n;
      } else if (i + 2 < total) {
        const char x2 = t[i + 2];
        if ((x1 == 'r' && x2 == 'e') || (x1 == 'v' && x2 == 'e')) --n;
      }
    }
    t[n++] = x;
  }
  t.resize(n);
}

}  // namespace

Tokenizer::Tokenizer(std::unique_ptr<Vocab> vocab, TokenizerOptions opts)
    : vocab_(std::move(vocab)), opts_(opts), impl_(std::make_unique<Impl>()) {}

Tokenizer::~Tokenizer() = default;

StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromGguf(const GgufFile& file, TokenizerOptions opts) {
  ASSIGN_OR_RETURN(std::unique_ptr<Vocab> vocab, Vocab::FromGguf(file));
  return FromVocab(std::move(vocab), opts);
}

StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromVocab(std::unique_ptr<Vocab> vocab, TokenizerOptions opts) {
  if (!vocab) return InvalidArgumentError("Tokenizer::FromVocab: null vocabulary");
  std::unique_ptr<Tokenizer> t(new Tokenizer(std::move(vocab), opts));
  const Vocab& v = *t->vocab_;
  if (opts.suppress != SuppressMode::kOff) t->suppressed_ = v.suppress_tokens();
  if (opts.suppress == SuppressMode::kAuto && !v.has_suppress_key()) t->suppressed_ = v.implicit_suppress_tokens();
  Impl& impl = *t->impl_;
  impl.splitter.Build(v);
  if (v.model() == TokenizerModel::kGemma4Bpe) {
    impl.bpe.Build(v);
  } else {
    std::vector<std::string_view> texts(static_cast<size_t>(v.size()));
    for (TokenId id = 0; id < v.size(); ++id) texts[id] = v.text(id);
    impl.spm_words.Build(texts);
  }
  impl.piece_offset.resize(static_cast<size_t>(v.size()) + 1);
  for (TokenId id = 0; id < v.size(); ++id) {
    impl.piece_offset[id] = static_cast<uint32_t>(impl.piece_arena.size());
    const std::string_view text = v.text(id);
    const uint32_t attr = v.attr(id);
    impl.max_token_len = std::max(impl.max_token_len, text.size());
    if (attr & (kAttrControl | kAttrUnknown | kAttrUserDefined)) {
      impl.piece_arena.append(text);
    } else if (attr & kAttrNormal) {
      AppendUnescaped(text, &impl.piece_arena);  // both models write spaces as U+2581
    } else if (attr & kAttrByte) {
      impl.piece_arena.push_back(static_cast<char>(HexByte(text)));
    }  // UNUSED / UNDEFINED: empty, as in llama.cpp
  }
  impl.piece_offset[v.size()] = static_cast<uint32_t>(impl.piece_arena.size());
  return t;
}

std::vector<TokenId> Tokenizer::Encode(std::string_view text, const EncodeOptions& opts) const {
  std::vector<TokenId> out;
  out.reserve(text.size() / 3 + 4);
  Encode(text, opts, &out);
  return out;
}

void Tokenizer::Encode(std::string_view text, const EncodeOptions& opts, std::vector<TokenId>* out) const {
  const Vocab& v = *vocab_;
  if (opts.add_special && v.add_bos()) out->push_back(v.bos());
  // Fragment offsets are 32-bit: a text of 2 GiB or more is tokenized in 2 GiB pieces.
  constexpr size_t kMaxChunk = size_t{1} << 31;
  Scratch s;
  // llama.cpp: a raw fragment at the start or after a special token gets the space prefix
  // when the vocabulary asks for one (SPM only; Gemma vocabularies do not).
  bool prev_special = true;
  size_t base = 0;
  do {
    const std::string_view chunk = text.substr(base, kMaxChunk);
    base += chunk.size();
    impl_->splitter.Split(chunk, opts.parse_special, &s);
    for (const Fragment& f : s.frags) {
      if (f.token != kNoToken) {
        out->push_back(f.token);
        prev_special = true;
        continue;
      }
      EncodeRaw(chunk.substr(f.start, f.len), prev_special, s, out);
      prev_special = false;
    }
  } while (base < text.size());
  if (opts.add_special && v.add_eos()) out->push_back(v.eos());
}

void Tokenizer::EncodeRaw(std::string_view raw, bool after_special, Scratch& s, std::vector<TokenId>* out) const {
  const Vocab& v = *vocab_;
  s.text.clear();
  if (v.add_space_prefix() && after_special && v.model() == TokenizerModel::kSpm) s.text = kSpaceMarker;
  if (v.escape_whitespaces()) {
    AppendEscaped(raw, &s.text);
  } else {
    s.text.append(raw);
  }
  if (v.model() == TokenizerModel::kSpm) {
    tokenizer_internal::SpmEncodeFragment(v, impl_->max_token_len, impl_->spm_words, s.text, &s, out);
  } else {
    impl_->bpe.Encode(s.text, opts_.gemma4_fallback, &s, out);
  }
}

void Tokenizer::EncodeParts(std::span<const TextPart> parts, bool add_special, std::vector<TokenId>* out) const {
  const Vocab& v = *vocab_;
  if (add_special && v.add_bos()) out->push_back(v.bos());
  Scratch split, enc;  // the split's fragments stay valid while raw text is encoded
  std::string pending;  // raw text since the last special token, across part boundaries
  bool prev_special = true;
  auto flush = [&] {
    if (pending.empty()) return;
    EncodeRaw(pending, prev_special, enc, out);
    prev_special = false;
    pending.clear();
  };
  constexpr size_t kMaxChunk = size_t{1} << 31;  // 32-bit fragment offsets, as in Encode
  for (const TextPart& p : parts) {
    for (size_t base = 0; base < p.text.size(); base += kMaxChunk) {
      const std::string_view chunk = p.text.substr(base, kMaxChunk);
      impl_->splitter.Split(chunk, p.parse_special, &split);
      for (const Fragment& f : split.frags) {
        if (f.token == kNoToken) {
          pending.append(chunk.substr(f.start, f.len));
          continue;
        }
        flush();
        out->push_back(f.token);
        prev_special = true;
      }
    }
  }
  flush();
  if (add_special && v.add_eos()) out->push_back(v.eos());
}

std::string_view Tokenizer::Piece(TokenId id, bool special) const {
  if (!vocab_->Valid(id)) return {};
  if (!special && (vocab_->attr(id) & (kAttrControl | kAttrUnknown))) return {};
  const uint32_t b = impl_->piece_offset[id], e = impl_->piece_offset[id + 1];
  return std::string_view(impl_->piece_arena.data() + b, e - b);
}

std::string Tokenizer::Decode(std::span<const TokenId> ids, const DecodeOptions& opts) const {
  const Vocab& v = *vocab_;
  bool remove_space = v.add_space_prefix();
  if (opts.remove_special && v.add_bos() && !ids.empty() && ids.front() == v.bos()) {
    remove_space = false;
    ids = ids.subspan(1);
  }
  if (opts.remove_special && v.add_eos() && !ids.empty() && ids.back() == v.eos()) ids = ids.first(ids.size() - 1);
  std::string out;
  for (TokenId id : ids) {
    std::string_view p = Piece(id, opts.unparse_special);
    if (remove_space && !p.empty() && p.front() == ' ') p.remove_prefix(1);  // lstrip = 1
    remove_space = false;
    out.append(p);
  }
  if (opts.llama_clean_spaces && v.clean_spaces()) CleanSpaces(&out);
  return out;
}

// ---- StreamDecoder ----

std::string StreamDecoder::Push(TokenId id) {
  std::string out;
  Push(id, &out);
  return out;
}

void StreamDecoder::Push(TokenId id, std::string* out) { PushBytes(tok_->Piece(id, special_), out); }

void StreamDecoder::PushBytes(std::string_view bytes, std::string* out) {
  pending_.append(bytes);
  const std::string_view p(pending_);
  size_t run = 0, i = 0;
  while (i < p.size()) {
    if (static_cast<uint8_t>(p[i]) < 0x80) {
      ++i;
      continue;
    }
    const utf8::Seq q = utf8::Next(p, i);
    if (q.kind == utf8::SeqKind::kValid) {
      i += q.len;
    } else if (q.kind == utf8::SeqKind::kTruncated) {
      break;  // wait for the next token
    } else {
      out->append(p.data() + run, i - run);
      out->append("\xEF\xBF\xBD");
      i += q.len;
      run = i;
    }
  }
  out->append(p.data() + run, i - run);
  pending_.erase(0, i);
}

std::string StreamDecoder::Flush() {
  std::string out;
  if (!pending_.empty()) out = "\xEF\xBF\xBD";  // only ever a truncated sequence
  pending_.clear();
  return out;
}

}  // namespace gemrun
