// Vocabulary loading: GGUF keys -> tokens, attributes, special ids, EOG set (llama.cpp rules).
#include "tokenizer/vocab.h"

#include <algorithm>
#include <cstdio>
#include <initializer_list>

#include "gguf/gguf.h"

namespace gemrun {
namespace {

constexpr std::string_view kKeyModel = "tokenizer.ggml.model";
constexpr std::string_view kKeyTokens = "tokenizer.ggml.tokens";
constexpr std::string_view kKeyScores = "tokenizer.ggml.scores";
constexpr std::string_view kKeyTypes = "tokenizer.ggml.token_type";
constexpr std::string_view kKeyMerges = "tokenizer.ggml.merges";

// A metadata value of the wrong type is a malformed file (exit code 2), not a usage error.
Status AsFileError(const Status& s) {
  if (s.code() == StatusCode::kInvalidArgument || s.code() == StatusCode::kInvalidModel)
    return DataLossError(s.message());
  return s;
}

bool OneOf(std::string_view t, std::initializer_list<std::string_view> list) {
  for (std::string_view s : list)
    if (t == s) return true;
  return false;
}

uint32_t AttrFromType(int64_t type) {
  switch (type) {  // llama_token_type: 1 NORMAL 2 UNKNOWN 3 CONTROL 4 USER_DEFINED 5 UNUSED 6 BYTE
    case 1: return kAttrNormal;
    case 2: return kAttrUnknown;
    case 3: return kAttrControl;
    case 4: return kAttrUserDefined;
    case 5: return kAttrUnused;
    case 6: return kAttrByte;
    default: return kAttrUndefined;
  }
}

bool IsHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

bool IsByteText(std::string_view t) {
  return t.size() == 6 && t.substr(0, 3) == "<0x" && IsHex(t[3]) && IsHex(t[4]) && t[5] == '>';
}

std::string Quoted(std::string_view s) {
  std::string out = "'";
  for (unsigned char c : s) {
    if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "'";
}

}  // namespace

const char* TokenizerModelName(TokenizerModel m) {
  return m == TokenizerModel::kSpm ? "llama (SentencePiece)" : "gemma4 (BPE)";
}

bool Vocab::IsEog(TokenId id) const { return std::binary_search(eog_.begin(), eog_.end(), id); }

StatusOr<std::unique_ptr<Vocab>> Vocab::FromGguf(const GgufFile& f) {
  std::unique_ptr<Vocab> v(new Vocab());
  auto model = f.GetString(kKeyModel);
  if (!model.ok()) {
    if (model.status().code() == StatusCode::kNotFound)
      return NotFoundError(f.path() + ": metadata key tokenizer.ggml.model is missing: this GGUF carries "
                           "no tokenizer (vocabulary-less conversions cannot tokenize text)");
    return AsFileError(model.status());
  }
  if (*model == "llama") {
    // llama.cpp SPM defaults (overridden by the keys below).
    v->model_ = TokenizerModel::kSpm;
    v->bos_ = 1, v->eos_ = 2, v->unk_ = 0;
    v->add_space_prefix_ = true, v->clean_spaces_ = false, v->add_bos_ = true, v->add_eos_ = false;
  } else if (*model == "gemma4") {
    v->model_ = TokenizerModel::kGemma4Bpe;
    v->add_space_prefix_ = false, v->clean_spaces_ = true;
    auto merges = f.GetStringArray(kKeyMerges);
    if (!merges.ok()) {
      if (merges.status().code() == StatusCode::kNotFound)
        return NotFoundError(f.path() + ": tokenizer model 'gemma4' needs tokenizer.ggml.merges, which is "
                             "missing; reconvert the model with a current converter");
      return AsFileError(merges.status());
    }
    v->merges_.assign(merges->begin(), merges->end());
  } else {
    return UnimplementedError(f.path() + ": tokenizer model '" + *model +
                              "' is not supported; gemrun handles 'llama' (Gemma 3, SentencePiece) "
                              "and 'gemma4' (Gemma 4 BPE)");
  }
  auto space_prefix = f.GetBoolOr("tokenizer.ggml.add_space_prefix", v->add_space_prefix_);
  if (!space_prefix.ok()) return AsFileError(space_prefix.status());
  v->add_space_prefix_ = *space_prefix;

  RETURN_IF_ERROR(v->LoadTokens(f));
  RETURN_IF_ERROR(v->LoadSpecialIds(f));
  RETURN_IF_ERROR(v->LoadSuppressTokens(f));
  v->ApplyTextFixes();
  v->BuildCaches();
  return v;
}

Status Vocab::LoadTokens(const GgufFile& f) {
  auto texts = f.GetStringArray(kKeyTokens);
  if (!texts.ok()) {
    if (texts.status().code() == StatusCode::kNotFound)
      return NotFoundError(f.path() + ": metadata key tokenizer.ggml.tokens is missing: no vocabulary");
    return AsFileError(texts.status());
  }
  const size_t n = texts->size();
  if (n == 0) return DataLossError(f.path() + ": tokenizer.ggml.tokens is empty");
  if (n > 0x7fffffffu)
    return DataLossError(f.path() + ": tokenizer.ggml.tokens has " + std::to_string(n) + " entries (max 2^31-1)");

  std::vector<float> scores;
  if (f.Has(kKeyScores)) {
    auto s = f.GetFloatArray(kKeyScores);
    if (!s.ok()) return AsFileError(s.status());
    if (s->size() < n)
      return DataLossError(f.path() + ": tokenizer.ggml.scores has " + std::to_string(s->size()) +
                           " entries for " + std::to_string(n) + " tokens");
    scores = std::move(*s);
  }
  std::vector<int64_t> types;
  if (f.Has(kKeyTypes)) {
    auto t = f.GetIntArray(kKeyTypes);
    if (!t.ok()) return AsFileError(t.status());
    if (t->size() < n)
      return DataLossError(f.path() + ": tokenizer.ggml.token_type has " + std::to_string(t->size()) +
                           " entries for " + std::to_string(n) + " tokens");
    types = std::move(*t);
  }

  size_t bytes = 0;
  for (std::string_view t : *texts) bytes += t.size() ? t.size() : 16;
  if (bytes > 0xffffffffu) return DataLossError(f.path() + ": vocabulary texts exceed 4 GiB");
  arena_.reserve(bytes);
  tokens_.resize(n);
  text_to_id_.Reserve(n, bytes);
  for (size_t i = 0; i < n; ++i) {
    std::string word((*texts)[i]);
    if (word.empty()) {  // as llama.cpp: keep the id usable, never matchable
      word = "[EMPTY_" + std::to_string(i) + "]";
      warnings_.push_back("empty token at id " + std::to_string(i) + " renamed " + word);
    }
    Token& tok = tokens_[i];
    tok.offset = static_cast<uint32_t>(arena_.size());
    tok.len = static_cast<uint32_t>(word.size());
    tok.score = scores.empty() ? 0.0f : scores[i];
    tok.attr = types.empty() ? kAttrNormal : AttrFromType(types[i]);
    if ((tok.attr & kAttrByte) && !IsByteText(word))
      return DataLossError(f.path() + ": token " + std::to_string(i) + " " + Quoted(word) +
                           " has type BYTE (6) but is not of the form <0xHH>");
    arena_ += word;
    if (!text_to_id_.Insert(word, static_cast<TokenId>(i)))
      return DataLossError(f.path() + ": duplicate token in vocabulary: " + Quoted(word) + " has ids " +
                           std::to_string(text_to_id_.Find(word)) + " and " + std::to_string(i));
  }
  text_to_id_.BuildFilter();  // the SPM merge loop probes many pairs that are not tokens
  return OkStatus();
}

Status Vocab::LoadSpecialIds(const GgufFile& f) {
  const int64_t n = size();
  struct Key {
    const char* name;
    TokenId* id;
  };
  const Key keys[] = {
      {"tokenizer.ggml.bos_token_id", &bos_},       {"tokenizer.ggml.eos_token_id", &eos_},
      {"tokenizer.ggml.eot_token_id", &eot_},       {"tokenizer.ggml.eom_token_id", &eom_},
      {"tokenizer.ggml.unknown_token_id", &unk_},   {"tokenizer.ggml.seperator_token_id", &sep_},
      {"tokenizer.ggml.padding_token_id", &pad_},   {"tokenizer.ggml.mask_token_id", &mask_},
      {"tokenizer.ggml.fim_pre_token_id", &fim_pre_}, {"tokenizer.ggml.fim_suf_token_id", &fim_suf_},
      {"tokenizer.ggml.fim_mid_token_id", &fim_mid_}, {"tokenizer.ggml.fim_pad_token_id", &fim_pad_},
      {"tokenizer.ggml.fim_rep_token_id", &fim_rep_}, {"tokenizer.ggml.fim_sep_token_id", &fim_sep_},
      {"tokenizer.ggml.prefix_token_id", &fim_pre_},  {"tokenizer.ggml.suffix_token_id", &fim_suf_},
      {"tokenizer.ggml.middle_token_id", &fim_mid_},
  };
  for (const Key& k : keys) {
    if (*k.id >= n) {  // a model-type default that this (small) vocabulary does not have
      warnings_.push_back(std::string("default ") + k.name + " = " + std::to_string(*k.id) +
                          " is out of range; disabled");
      *k.id = kNoToken;
    }
    if (!f.Has(k.name)) continue;
    auto val = f.GetInt(k.name);
    if (!val.ok()) return AsFileError(val.status());
    if (*val < 0 || *val >= n) {
      warnings_.push_back(std::string(k.name) + " = " + std::to_string(*val) + " is outside the vocabulary [0, " +
                          std::to_string(n) + "); using " + std::to_string(*k.id));
      continue;
    }
    *k.id = static_cast<TokenId>(*val);
  }
  auto add_bos = f.GetBoolOr("tokenizer.ggml.add_bos_token", add_bos_);
  if (!add_bos.ok()) return AsFileError(add_bos.status());
  auto add_eos = f.GetBoolOr("tokenizer.ggml.add_eos_token", add_eos_);
  if (!add_eos.ok()) return AsFileError(add_eos.status());
  add_bos_ = *add_bos, add_eos_ = *add_eos;
  if (model_ == TokenizerModel::kGemma4Bpe && !add_bos_) {
    add_bos_ = true;  // llama.cpp forces it for Gemma 4 (its PR 21500)
    warnings_.push_back("tokenizer.ggml.add_bos_token overridden to true for gemma4");
  }
  if (add_bos_ && bos_ == kNoToken)
    return DataLossError(f.path() + ": tokenizer.ggml.add_bos_token is true, but tokenizer.ggml.bos_token_id "
                         "is not set");
  if (add_eos_ && eos_ == kNoToken)
    return DataLossError(f.path() + ": tokenizer.ggml.add_eos_token is true, but tokenizer.ggml.eos_token_id "
                         "is not set");
  return OkStatus();
}

// llama.cpp (llama-vocab.cpp, "suppress tokens") fails the load unless the value is an INT32
// array, and drops ids outside the vocabulary without a word; we note them as warnings.
Status Vocab::LoadSuppressTokens(const GgufFile& f) {
  constexpr std::string_view kKey = "tokenizer.ggml.suppress_tokens";
  const GgufValue* v = f.Find(kKey);
  if (!v) return OkStatus();
  if (v->type != GgufType::kArray || v->elem_type != GgufType::kI32)
    return DataLossError(f.path() + ": " + std::string(kKey) + " must be an array of INT32 token ids, got " +
                         (v->type == GgufType::kArray ? std::string("array[") + GgufTypeName(v->elem_type) + "]"
                                                      : std::string(GgufTypeName(v->type))) +
                         "; reconvert the model or remove the key");
  has_suppress_key_ = true;
  auto ids = f.GetIntArray(kKey);
  if (!ids.ok()) return AsFileError(ids.status());
  for (int64_t id : *ids) {
    if (id >= 0 && id < size()) {
      suppress_.push_back(static_cast<TokenId>(id));
    } else {
      warnings_.push_back(std::string(kKey) + ": id " + std::to_string(id) + " is outside the vocabulary [0, " +
                          std::to_string(size()) + "); ignored");
    }
  }
  return OkStatus();
}

std::vector<TokenId> Vocab::implicit_suppress_tokens() const {
  std::vector<TokenId> out;
  if (has_suppress_key_ || model_ != TokenizerModel::kGemma4Bpe) return out;
  for (std::string_view t : {"<audio|>", "<image|>"})  // the 12B's order: 258883, 258882
    if (TokenId id = Find(t); id != kNoToken) out.push_back(id);
  return out;
}

// llama.cpp's "auto-detect special tokens by text" pass. It walks an unordered_map; we walk
// ids in ascending order, which only matters for which id becomes EOT/FIM when a vocabulary
// holds several candidate texts (Gemma vocabularies hold at most one).
void Vocab::ApplyTextFixes() {
  auto promote = [&](TokenId id) {
    if (!(tokens_[id].attr & kAttrControl)) {
      warnings_.push_back("control-looking token " + std::to_string(id) + " " + Quoted(text(id)) +
                          " was not control-type; marked CONTROL (as llama.cpp does)");
      tokens_[id].attr |= kAttrControl;
    }
  };
  auto detect = [&](TokenId* slot, std::initializer_list<std::string_view> texts) {
    if (*slot != kNoToken) return;
    for (TokenId id = 0; id < size(); ++id)
      if (OneOf(text(id), texts)) {
        *slot = id;
        promote(id);
        return;
      }
  };
  detect(&eot_, {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
                 "<|end_of_text|>", "<EOT>", "_<EOT>", "[EOT]", "<｜end▁of▁sentence｜>",
                 "<end_of_utterance>"});
  detect(&eom_, {"<|eom_id|>"});
  detect(&fim_pre_, {"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>",
                     "▁<PRE>", "<|code_prefix|>", "<|prefix|>"});
  detect(&fim_suf_, {"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>",
                     "▁<SUF>", "<|code_suffix|>", "<|suffix|>"});
  detect(&fim_mid_, {"<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>",
                     "▁<MID>", "<|code_middle|>", "<|middle|>"});
  detect(&fim_pad_, {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"});
  detect(&fim_rep_, {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"});
  detect(&fim_sep_, {"<|file_sep|>"});

  for (Token& t : tokens_)  // control tokens named "unused" are unused
    if ((t.attr & kAttrControl) && std::string_view(arena_.data() + t.offset, t.len).find("unused") !=
                                       std::string_view::npos)
      t.attr |= kAttrUnused;

  // End-of-generation set, by text (llama.cpp issue 9606), plus the FIM and eos/eot/eom ids.
  eog_.clear();
  for (TokenId id : {fim_pad_, fim_rep_, fim_sep_})
    if (id != kNoToken) eog_.push_back(id);
  for (TokenId id = 0; id < size(); ++id) {
    if (OneOf(text(id), {"<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>",
                         "<|calls|>", "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>",
                         "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>", "<end_of_utterance>", "<eos>",
                         "<turn|>", "<|tool_response>", "<｜end▁of▁sentence｜>", "[e~["})) {
      eog_.push_back(id);
      promote(id);
    }
  }
  for (TokenId id : {eos_, eot_, eom_})
    if (id != kNoToken) eog_.push_back(id);
  std::sort(eog_.begin(), eog_.end());
  eog_.erase(std::unique(eog_.begin(), eog_.end()), eog_.end());

  auto eog_with_text = [&](std::string_view t) -> TokenId {
    for (TokenId id : eog_)
      if (text(id) == t) return id;
    return kNoToken;
  };
  // o200k_harmony / solar-open: "<|end|>" is not EOG when "<|return|>"/"<|call|>" exist.
  const TokenId end_id = eog_with_text("<|end|>");
  const bool has_call = eog_with_text("<|call|>") != kNoToken || eog_with_text("<|calls|>") != kNoToken;
  if (end_id != kNoToken && has_call &&
      (eog_with_text("<|return|>") != kNoToken || eog_with_text("<|flush|>") != kNoToken)) {
    eog_.erase(std::find(eog_.begin(), eog_.end(), end_id));
    tokens_[end_id].attr = kAttrUserDefined;
  }
  // Gemma 4: "</s>" is an ordinary piece there, not an end of generation (llama.cpp keeps the
  // EOG texts list shared across models and removes it when "<|tool_response>" is present).
  const TokenId s_id = eog_with_text("</s>");
  if (s_id != kNoToken && eog_with_text("<|tool_response>") != kNoToken) {
    eog_.erase(std::find(eog_.begin(), eog_.end(), s_id));
    tokens_[s_id].attr = kAttrNormal;
  }
}

void Vocab::BuildCaches() {
  special_.clear();
  for (TokenId id = 0; id < size(); ++id)
    if (tokens_[id].attr & (kAttrControl | kAttrUserDefined | kAttrUnknown)) special_.push_back(id);
  // Same algorithm, comparator and input order as llama.cpp, so equal-length texts end up in
  // the same (unspecified but deterministic) order with libstdc++.
  std::sort(special_.begin(), special_.end(),
            [&](TokenId a, TokenId b) { return tokens_[a].len > tokens_[b].len; });

  static const char* kHex = "0123456789ABCDEF";
  for (int b = 0; b < 256; ++b) {
    const char hex[6] = {'<', '0', 'x', kHex[b >> 4], kHex[b & 15], '>'};
    TokenId id = Find(std::string_view(hex, 6));
    if (id == kNoToken) {
      const char raw = static_cast<char>(b);
      id = Find(std::string_view(&raw, 1));
    }
    byte_token_[b] = id;
  }
}

}  // namespace gemrun
