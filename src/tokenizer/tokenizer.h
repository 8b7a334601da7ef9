// Text <-> token ids for Gemma 3 (SentencePiece, `tokenizer.ggml.model = "llama"`) and Gemma 4
// (BPE with merges, `"gemma4"`), reproducing llama.cpp's tokenizer (the reference for our
// goldens, tests/data/tokenizer/corpus.jsonl) id for id:
//   1. special-token split: CONTROL/UNKNOWN texts only with parse_special, USER_DEFINED always,
//      longest text first, leftmost non-overlapping occurrences;
//   2. BOS when add_special and the vocabulary's add_bos;
//   3. raw fragments: ' ' -> U+2581, then SPM (highest score pair first, ties leftmost, byte
//      fallback <0xXX>) or Gemma 4 BPE (newline-run split, lowest merge rank first, ties leftmost).
// Decoding follows llama_token_to_piece / llama_detokenize. StreamDecoder turns a token stream
// into text that never splits a UTF-8 sequence.
//
// A Tokenizer is immutable after creation; every method is const and thread-safe. Encode never
// fails: any byte string (invalid UTF-8 included) is tokenized.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "tokenizer/vocab.h"

namespace gemrun {

class GgufFile;
namespace tokenizer_internal {
struct Scratch;
}

struct EncodeOptions {
  bool add_special = true;     // prepend BOS (and append EOS) as the vocabulary asks
  bool parse_special = false;  // recognise CONTROL texts such as "<start_of_turn>"
};

// A piece of text to tokenize with its own special-token rule: a chat template's own text
// (parse_special: its <start_of_turn> etc. become control tokens) next to message contents
// (plain text: a user who types "<end_of_turn>" gets those characters, not a turn boundary).
struct TextPart {
  std::string_view text;
  bool parse_special = false;
};

struct DecodeOptions {
  bool remove_special = true;    // drop a leading BOS (and trailing EOS if add_eos)
  bool unparse_special = false;  // render CONTROL/UNKNOWN tokens as their text
  // Apply llama.cpp's "clean up spaces" passes (" ." -> ".", " 's" -> "'s", ...) when the
  // vocabulary asks for them (Gemma 4). Off by default: per-token pieces and the streaming
  // decoder never clean up, and the cleaned text no longer concatenates piece by piece.
  bool llama_clean_spaces = false;
};

// What Gemma 4 BPE does with a final symbol that is not a vocabulary token.
enum class Gemma4Fallback {
  // llama.cpp 3f545becc (the reference since August 2026) and HF tokenizers (byte_fallback):
  // one <0xXX> token per byte, lossless. Default.
  kByteTokens,
  // llama.cpp d1f82e382 (April 2026): each raw byte looked up as a one-byte token text and
  // dropped when there is none, so characters missing from the vocabulary are lost. Kept only
  // to reproduce old outputs (`gemrun tokenize --g4-drop-bytes`).
  kDropBytes,
};

// Which ids generation must never sample (a -inf logit bias applied before anything else,
// as llama.cpp's common sampler does; raw logits are unchanged).
enum class SuppressMode {
  // `tokenizer.ggml.suppress_tokens` when the file has it; otherwise Gemma 4's multimodal end
  // tokens `<image|>` / `<audio|>` if the vocabulary has them (what the 12B's generation config
  // lists; conversions older than August 2026 lack the key). Default.
  kAuto,
  // Only the file's list: strict llama.cpp 3f545becc parity on old files.
  kFile,
  // Nothing suppressed (raw greedy decoding, for debugging).
  kOff,
};
// "auto", "file", "off".
inline const char* SuppressModeName(SuppressMode m) {
  return m == SuppressMode::kAuto ? "auto" : m == SuppressMode::kFile ? "file" : "off";
}

struct TokenizerOptions {
  Gemma4Fallback gemma4_fallback = Gemma4Fallback::kByteTokens;
  SuppressMode suppress = SuppressMode::kAuto;
};

class Tokenizer {
 public:
  static StatusOr<std::unique_ptr<Tokenizer>> FromGguf(const GgufFile& file, TokenizerOptions opts = {});
  static StatusOr<std::unique_ptr<Tokenizer>> FromVocab(std::unique_ptr<Vocab> vocab, TokenizerOptions opts = {});
  ~Tokenizer();

  const Vocab& vocab() const { return *vocab_; }
  TokenizerModel model() const { return vocab_->model(); }
  // Ids generation never samples, per TokenizerOptions::suppress (see SuppressMode).
  const std::vector<TokenId>& suppressed() const { return suppressed_; }

  // Tokenizes arbitrary bytes. Output ids are all valid for vocab().
  std::vector<TokenId> Encode(std::string_view text, const EncodeOptions& opts = {}) const;
  // Appends to *out (reuse one vector across calls to avoid reallocations).
  void Encode(std::string_view text, const EncodeOptions& opts, std::vector<TokenId>* out) const;
  // Tokenizes the concatenation of `parts`, recognising special-token texts only inside parts
  // with parse_special. Raw text of adjacent parts joins into one fragment, so the ids equal
  // Encode(concatenation, {add_special, parse_special = true}) whenever the parts without
  // parse_special hold no special-token text. Appends to *out.
  void EncodeParts(std::span<const TextPart> parts, bool add_special, std::vector<TokenId>* out) const;

  // The bytes one token stands for (llama_token_to_piece with lstrip 0): CONTROL/UNKNOWN are
  // "" unless `special`; USER_DEFINED verbatim; NORMAL with U+2581 -> ' '; BYTE one raw byte
  // (possibly part of a UTF-8 sequence). An id outside the vocabulary gives "". The view stays
  // valid for the Tokenizer's lifetime.
  std::string_view Piece(TokenId id, bool special = false) const;

  // Whole-sequence decode (llama_detokenize). The result is raw bytes and can hold invalid
  // UTF-8 (e.g. a lone byte token); see utf8::Sanitize / StreamDecoder for display.
  std::string Decode(std::span<const TokenId> ids, const DecodeOptions& opts = {}) const;

 private:
  struct Impl;
  explicit Tokenizer(std::unique_ptr<Vocab> vocab, TokenizerOptions opts);
  // One raw fragment (no special tokens) after the space-prefix and escaping rules.
  void EncodeRaw(std::string_view raw, bool after_special, tokenizer_internal::Scratch& s,
                 std::vector<TokenId>* out) const;

  std::unique_ptr<Vocab> vocab_;
  TokenizerOptions opts_;
  std::vector<TokenId> suppressed_;
  std::unique_ptr<Impl> impl_;
};

// Incremental detokenizer for streaming generation: Push() returns only complete, valid UTF-8
// text; bytes of a sequence split across tokens wait for the next token; bytes that can never
// become valid are replaced by U+FFFD (one per maximal invalid subpart). The concatenation of
// every Push() and the final Flush() equals utf8::Sanitize of the concatenated pieces.
// Not thread-safe (one per stream); holds a reference to the Tokenizer.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tokenizer, bool special = false)
      : tok_(&tokenizer), special_(special) {}

  // Appends the piece of `id` and returns the text that became complete (often empty).
  std::string Push(TokenId id);
  void Push(TokenId id, std::string* out);
  // Feeds raw bytes directly (used by Push; exposed for tests and custom pieces).
  void PushBytes(std::string_view bytes, std::string* out);
  // Ends the stream: a pending incomplete sequence becomes U+FFFD. The decoder is then empty.
  std::string Flush();
  void Reset() { pending_.clear(); }
  // Bytes held back waiting for the rest of a UTF-8 sequence (0..3).
  size_t pending_bytes() const { return pending_.size(); }

 private:
  const Tokenizer* tok_;
  bool special_;
  std::string pending_;
};

}  // namespace gemrun
