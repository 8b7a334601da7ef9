// Vocabulary from GGUF `tokenizer.ggml.*` metadata: token texts, scores, attributes, special
// ids and flags, BPE merges and the end-of-generation (EOG) set, interpreted the way llama.cpp
// (llama-vocab.cpp, the reference for our goldens) interprets them — including its text-based
// fixes that promote tokens such as `<end_of_turn>` and `</s>` to CONTROL.
//
// Immutable after FromGguf(); all accessors are const and thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "tokenizer/string_table.h"

namespace gemrun {

class GgufFile;

using TokenId = int32_t;
inline constexpr TokenId kNoToken = -1;

// Token attribute bits (llama.cpp's llama_token_attr). GGUF token_type maps to one bit; the
// text-based fixes OR in CONTROL / UNUSED, so a token can carry several (Gemma 3's `</s>` is
// USER_DEFINED | CONTROL).
enum TokenAttr : uint32_t {
  kAttrUndefined = 0,
  kAttrUnknown = 1u << 0,
  kAttrUnused = 1u << 1,
  kAttrNormal = 1u << 2,
  kAttrControl = 1u << 3,
  kAttrUserDefined = 1u << 4,
  kAttrByte = 1u << 5,
};

// `tokenizer.ggml.model`: "llama" (SentencePiece BPE by score, Gemma 3) or "gemma4"
// (BPE with a merges list over raw UTF-8 with ▁ for spaces, Gemma 4).
enum class TokenizerModel { kSpm, kGemma4Bpe };
const char* TokenizerModelName(TokenizerModel m);

class Vocab {
 public:
  // Reads and validates the tokenizer keys. Errors (NotFound / DataLoss / Unimplemented) name
  // the file, the key and the offending value. Lenient where llama.cpp is lenient (special ids
  // out of range are ignored with a warning()).
  static StatusOr<std::unique_ptr<Vocab>> FromGguf(const GgufFile& file);

  TokenizerModel model() const { return model_; }
  int32_t size() const { return static_cast<int32_t>(tokens_.size()); }
  bool Valid(TokenId id) const { return id >= 0 && id < size(); }

  // Raw GGUF text of a token (▁ for spaces in pieces; user-defined tokens carry real spaces).
  // Requires Valid(id).
  std::string_view text(TokenId id) const {
    const Token& t = tokens_[id];
    return std::string_view(arena_.data() + t.offset, t.len);
  }
  float score(TokenId id) const { return tokens_[id].score; }
  uint32_t attr(TokenId id) const { return tokens_[id].attr; }
  bool IsControl(TokenId id) const { return Valid(id) && (attr(id) & kAttrControl); }
  bool IsByte(TokenId id) const { return Valid(id) && (attr(id) & kAttrByte); }
  bool IsEog(TokenId id) const;

  // Exact text -> id, kNoToken when absent. No allocation.
  TokenId Find(std::string_view text) const { return text_to_id_.Find(text); }
  // Token for one raw byte (SPM: `<0xXX>`, else the 1-byte text), kNoToken when neither exists.
  TokenId ByteToken(uint8_t b) const { return byte_token_[b]; }

  TokenId bos() const { return bos_; }
  TokenId eos() const { return eos_; }
  TokenId eot() const { return eot_; }
  TokenId unk() const { return unk_; }
  TokenId pad() const { return pad_; }
  bool add_bos() const { return add_bos_; }
  bool add_eos() const { return add_eos_; }
  bool add_space_prefix() const { return add_space_prefix_; }
  bool escape_whitespaces() const { return escape_whitespaces_; }
  // llama.cpp's whole-sequence detokenize applies its "clean up spaces" passes when set
  // (BPE vocabs, i.e. Gemma 4).
  bool clean_spaces() const { return clean_spaces_; }

  // End-of-generation ids, ascending (llama.cpp's special_eog_ids: EOG texts + eos/eot/eom).
  const std::vector<TokenId>& eog_ids() const { return eog_; }
  // `tokenizer.ggml.suppress_tokens` (Gemma 4 12B): ids the sampler must never pick (llama.cpp
  // puts a -inf logit bias for each at the front of its sampler chain). Out-of-range ids are
  // dropped, file order kept; empty when the key is absent.
  const std::vector<TokenId>& suppress_tokens() const { return suppress_; }
  bool has_suppress_key() const { return has_suppress_key_; }
  // What to suppress when the file has no list: Gemma 4's multimodal end tokens `<image|>` and
  // `<audio|>` if the vocabulary has them (the 12B's generation_config list; older conversions
  // lack the key), else nothing. Empty whenever the file has the key.
  std::vector<TokenId> implicit_suppress_tokens() const;
  // CONTROL / USER_DEFINED / UNKNOWN tokens in llama.cpp's matching order (longest text
  // first, the order std::sort gives on ascending ids). The special-token split uses it.
  const std::vector<TokenId>& special_tokens() const { return special_; }
  // BPE merges in rank order (Gemma 4), each "left right"; empty for SPM.
  const std::vector<std::string>& merges() const { return merges_; }
  // Non-fatal findings while loading (ignored out-of-range ids, overridden token types).
  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  struct Token {
    uint32_t offset = 0;  // into arena_
    uint32_t len = 0;
    float score = 0;
    uint32_t attr = kAttrNormal;
  };

  Vocab() = default;
  Status LoadTokens(const GgufFile& f);
  Status LoadSpecialIds(const GgufFile& f);
  Status LoadSuppressTokens(const GgufFile& f);
  void ApplyTextFixes();
  void BuildCaches();

  TokenizerModel model_ = TokenizerModel::kSpm;
  std::string arena_;           // all token texts, back to back
  std::vector<Token> tokens_;   // [n_vocab]
  tokenizer_internal::StringTable text_to_id_;
  std::array<TokenId, 256> byte_token_{};

  TokenId bos_ = kNoToken, eos_ = kNoToken, eot_ = kNoToken, eom_ = kNoToken;
  TokenId unk_ = kNoToken, pad_ = kNoToken, sep_ = kNoToken, mask_ = kNoToken;
  TokenId fim_pre_ = kNoToken, fim_suf_ = kNoToken, fim_mid_ = kNoToken;
  TokenId fim_pad_ = kNoToken, fim_rep_ = kNoToken, fim_sep_ = kNoToken;
  bool add_bos_ = false, add_eos_ = false, add_space_prefix_ = false;
  bool escape_whitespaces_ = true, clean_spaces_ = false;

  std::vector<TokenId> eog_;
  std::vector<TokenId> suppress_;
  bool has_suppress_key_ = false;
  std::vector<TokenId> special_;
  std::vector<std::string> merges_;
  std::vector<std::string> warnings_;
};

}  // namespace gemrun
