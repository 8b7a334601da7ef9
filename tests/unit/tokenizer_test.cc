// Gemma 3 (SentencePiece) tokenizer: the full llama.cpp golden corpus (ids, detok and
// detok_special for all 374 records), the llama.cpp quirks the goldens embody, vocabulary
// attributes, pieces, the word-split fast path against the plain merge loop, and GGUF
// validation errors.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_internal.h"
#include "tokenizer/utf8.h"

namespace gemrun {
namespace {

const std::string kData = GEMRUN_TEST_DATA;

const Tokenizer& Gemma3() {
  static const Tokenizer* tok = [] {
    auto f = GgufFile::Open(kData + "/tokenizer/gemma3-vocab.gguf");
    EXPECT_TRUE(f.ok()) << f.status().message();
    auto t = Tokenizer::FromGguf(**f);
    EXPECT_TRUE(t.ok()) << t.status().message();
    return t->release();
  }();
  return *tok;
}

std::vector<TokenId> Ids(std::string_view text, bool add_special = false, bool parse_special = false) {
  return Gemma3().Encode(text, EncodeOptions{add_special, parse_special});
}

TEST(Gemma3Tokenizer, GoldenCorpus) {
  std::ifstream in(kData + "/tokenizer/corpus.jsonl");
  ASSERT_TRUE(in) << "missing " << kData << "/tokenizer/corpus.jsonl";
  const Tokenizer& tok = Gemma3();
  std::string line;
  int n = 0, ids_ok = 0, detok_ok = 0, special_ok = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const auto rec = nlohmann::json::parse(line);
    ++n;
    const std::string text = rec["text"];
    const std::vector<TokenId> want = rec["ids"].get<std::vector<TokenId>>();
    const std::vector<TokenId> got = tok.Encode(text, EncodeOptions{rec["add_special"], rec["parse_special"]});
    ids_ok += got == want;
    EXPECT_EQ(got, want) << "record " << rec["id"] << " [" << rec["category"] << "] " << rec["text"].dump();
    // Decoding the golden ids, both ways llama.cpp was asked to.
    const std::string detok = tok.Decode(want, DecodeOptions{true, false, true});
    detok_ok += detok == rec["detok"];
    EXPECT_EQ(detok, rec["detok"].get<std::string>()) << "record " << rec["id"];
    const std::string special = tok.Decode(want, DecodeOptions{false, true, true});
    special_ok += special == rec["detok_special"];
    EXPECT_EQ(special, rec["detok_special"].get<std::string>()) << "record " << rec["id"];
  }
  EXPECT_EQ(n, 374);
  EXPECT_EQ(ids_ok, n);
  EXPECT_EQ(detok_ok, n);
  EXPECT_EQ(special_ok, n);
}

TEST(Gemma3Tokenizer, VocabularyMetadata) {
  const Vocab& v = Gemma3().vocab();
  EXPECT_EQ(v.model(), TokenizerModel::kSpm);
  EXPECT_EQ(v.size(), 262144);
  EXPECT_EQ(v.bos(), 2);
  EXPECT_EQ(v.eos(), 106);  // this conversion writes <end_of_turn> as eos
  EXPECT_EQ(v.unk(), 3);
  EXPECT_TRUE(v.add_bos());
  EXPECT_FALSE(v.add_eos());
  EXPECT_FALSE(v.add_space_prefix());
  EXPECT_FALSE(v.clean_spaces());
  EXPECT_EQ(v.Find("<start_of_turn>"), 105);
  EXPECT_EQ(v.Find("\xE2\x96\x81"), 236743);
  EXPECT_EQ(v.Find("no such token"), kNoToken);
  EXPECT_EQ(v.ByteToken(0x0A), v.Find("<0x0A>"));
}

TEST(Gemma3Tokenizer, LlamaCppTextBasedControlTokens) {
  const Vocab& v = Gemma3().vocab();
  // "</s>" is USER_DEFINED in the file; llama.cpp's EOG-by-text list adds CONTROL.
  const TokenId s = v.Find("</s>");
  ASSERT_EQ(s, 212);
  EXPECT_TRUE(v.attr(s) & kAttrUserDefined);
  EXPECT_TRUE(v.attr(s) & kAttrControl);
  EXPECT_EQ(v.eog_ids(), (std::vector<TokenId>{1, 106, 212}));
  EXPECT_TRUE(v.IsEog(106));
  EXPECT_FALSE(v.IsEog(105));
  EXPECT_TRUE(v.attr(v.Find("<unused0>")) & kAttrUnused);
  // "<s>" stays user-defined: matched even without parse_special, kept by detok.
  EXPECT_EQ(Ids("<s>"), (std::vector<TokenId>{203}));
  EXPECT_EQ(Ids("</s>"), (std::vector<TokenId>{954, 236751, 236813}));  // not matched: control now
  EXPECT_EQ(Ids("</s>", false, true), (std::vector<TokenId>{212}));
  EXPECT_EQ(Gemma3().Decode(Ids("</s><s>", false, true)), "<s>");
}

TEST(Gemma3Tokenizer, SpecialTokenOrderIsLongestFirst) {
  const Vocab& v = Gemma3().vocab();
  const auto& sp = v.special_tokens();
  ASSERT_EQ(sp.size(), 6251u + 163u);
  for (size_t i = 1; i < sp.size(); ++i) ASSERT_GE(v.text(sp[i - 1]).size(), v.text(sp[i]).size());
}

TEST(Gemma3Tokenizer, Basics) {
  EXPECT_EQ(Ids("Hello world", true), (std::vector<TokenId>{2, 9259, 1902}));
  EXPECT_EQ(Ids("", true), (std::vector<TokenId>{2}));
  EXPECT_TRUE(Ids("").empty());
  // Whitespace runs are user-defined tokens matched before SentencePiece; a literal ▁▁ is not.
  EXPECT_EQ(Ids("  "), (std::vector<TokenId>{138}));
  EXPECT_EQ(Ids("\n\n"), (std::vector<TokenId>{108}));
  // Control tokens only with parse_special; a BOS in the text is kept (llama.cpp warns only).
  EXPECT_EQ(Ids("<bos>x", true, true), (std::vector<TokenId>{2, 2, Gemma3().vocab().Find("x")}));
  EXPECT_EQ(Ids("<start_of_turn>", false, true), (std::vector<TokenId>{105}));
}

TEST(Gemma3Tokenizer, ByteFallbackAndInvalidUtf8) {
  // U+E0001 is not a piece: four byte tokens. A lone lead byte and a stray continuation byte
  // become byte tokens too; decoding gives the exact bytes back.
  const std::string tag = "\xF3\xA0\x80\x81";
  const auto ids = Ids(tag);
  ASSERT_EQ(ids.size(), 4u);
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(ids[i], Gemma3().vocab().ByteToken(static_cast<uint8_t>(tag[i])));
  for (const std::string& s : {std::string("a\xC3"), std::string("\x80z"), std::string("\xE2\x82"),
                              std::string("\xFF\xFE"), std::string("x\xC3(y")})
    EXPECT_EQ(Gemma3().Decode(Ids(s)), s);
}

TEST(Gemma3Tokenizer, Pieces) {
  const Tokenizer& t = Gemma3();
  EXPECT_EQ(t.Piece(2), "");
  EXPECT_EQ(t.Piece(2, true), "<bos>");
  EXPECT_EQ(t.Piece(1902), " world");
  EXPECT_EQ(t.Piece(138), "  ");
  EXPECT_EQ(t.Piece(t.vocab().Find("<0xE2>")), "\xE2");
  EXPECT_EQ(t.Piece(-1), "");
  EXPECT_EQ(t.Piece(1 << 30), "");
  // Decode concatenates pieces (no space clean-up for SPM).
  const std::vector<TokenId> ids = Ids("Don't stop . ,", true);
  std::string cat;
  for (TokenId id : ids) cat += t.Piece(id);
  EXPECT_EQ(t.Decode(ids), cat);
  EXPECT_EQ(t.Decode(ids, DecodeOptions{true, false, true}), cat);
  EXPECT_EQ(t.Decode(ids, DecodeOptions{false, true}), "<bos>" + cat);
}

// The word cache path must give exactly what the plain merge loop gives on whole fragments.
TEST(Gemma3Tokenizer, WordSplitMatchesWholeFragment) {
  using namespace tokenizer_internal;
  const Vocab& v = Gemma3().vocab();
  std::vector<std::string_view> texts;
  size_t max_len = 0;
  for (TokenId id = 0; id < v.size(); ++id) {
    texts.push_back(v.text(id));
    max_len = std::max(max_len, v.text(id).size());
  }
  WordSplitter words;
  words.Build(texts);
  ASSERT_TRUE(words.enabled());  // Gemma 3 has one cross piece, ">▁</"
  SpecialSplitter splitter;
  splitter.Build(v);

  const std::vector<std::string> alphabet = {
      "a", "e", "the", "ing", " ", " ", " ", ">", "<", "/", "</", "> </", "\xE2\x96\x81", "1", "2", ".",
      ":", "-", "\xC3\xA9", "\xE4\xB8\x96", "\xF0\x9F\x98\x80", "\xE2", "\x96", "\x81", "\xF0", "x", "'s", ","};
  std::mt19937 rng(42);
  Scratch s1, s2;
  for (int iter = 0; iter < 3000; ++iter) {
    std::string text;
    const int n = 1 + static_cast<int>(rng() % 40);
    for (int i = 0; i < n; ++i) text += alphabet[rng() % alphabet.size()];
    splitter.Split(text, false, &s1);
    const std::vector<Fragment> frags = s1.frags;
    for (const Fragment& f : frags) {
      if (f.token != kNoToken) continue;
      std::string esc;
      for (char c : text.substr(f.start, f.len)) esc += c == ' ' ? std::string("\xE2\x96\x81") : std::string(1, c);
      std::vector<TokenId> whole, split;
      SpmEncode(v, max_len, esc, &s1, &whole);
      SpmEncodeFragment(v, max_len, words, esc, &s2, &split);
      ASSERT_EQ(whole, split) << "text " << nlohmann::json(utf8::Sanitize(text)).dump();
    }
  }
}

// llama.cpp's tokenizer_st_partition, transcribed: every special token in order, each cutting
// every raw fragment at its leftmost non-overlapping occurrences.
std::vector<tokenizer_internal::Fragment> ReferencePartition(const Vocab& v, std::string_view text, bool parse_special) {
  using tokenizer_internal::Fragment;
  std::vector<Fragment> frags;
  if (!text.empty()) frags.push_back(Fragment{0, static_cast<uint32_t>(text.size()), kNoToken});
  for (TokenId id : v.special_tokens()) {
    if (!parse_special && (v.attr(id) & (kAttrControl | kAttrUnknown))) continue;
    const std::string_view needle = v.text(id);
    std::vector<Fragment> next;
    for (const Fragment& f : frags) {
      if (f.token != kNoToken) {
        next.push_back(f);
        continue;
      }
      size_t pos = f.start;
      const size_t end = f.start + f.len;
      for (size_t m; (m = text.substr(0, end).find(needle, pos)) != std::string_view::npos; pos = m + needle.size()) {
        if (m > pos) next.push_back(Fragment{static_cast<uint32_t>(pos), static_cast<uint32_t>(m - pos), kNoToken});
        next.push_back(Fragment{static_cast<uint32_t>(m), static_cast<uint32_t>(needle.size()), id});
      }
      if (pos < end) next.push_back(Fragment{static_cast<uint32_t>(pos), static_cast<uint32_t>(end - pos), kNoToken});
    }
    frags.swap(next);
  }
  return frags;
}

TEST(Gemma3Tokenizer, SpecialSplitMatchesLlamaPartition) {
  using namespace tokenizer_internal;
  const Vocab& v = Gemma3().vocab();
  SpecialSplitter splitter;
  splitter.Build(v);
  const std::vector<std::string> soup = {"<start_of_turn>", "<end_of_turn>", "<start_of", "turn>", "<bos>", "<eos>",
                                         "</s>", "<s>", "<b>", "</b>", "<unused1>", "<unused12>", "<unused123>",
                                         "[multimodal]", "\n", "\n\n", "\t", "  ", " ", "x", "<", ">", "/", "<<"};
  std::mt19937 rng(17);
  Scratch s;
  for (int iter = 0; iter < 300; ++iter) {
    std::string text;
    const int n = static_cast<int>(rng() % 30);
    for (int i = 0; i < n; ++i) text += soup[rng() % soup.size()];
    if (iter % 10 == 0) text += std::string(300 + rng() % 2000, " \n\t"[rng() % 3]);  // forces the pass path
    for (int i = 0; i < n; ++i) text += soup[rng() % soup.size()];
    for (const bool parse : {false, true}) {
      splitter.Split(text, parse, &s);
      const auto want = ReferencePartition(v, text, parse);
      ASSERT_EQ(s.frags.size(), want.size()) << nlohmann::json(text).dump();
      for (size_t i = 0; i < want.size(); ++i) {
        ASSERT_EQ(s.frags[i].start, want[i].start);
        ASSERT_EQ(s.frags[i].len, want[i].len);
        ASSERT_EQ(s.frags[i].token, want[i].token);
      }
    }
  }
}

TEST(Gemma3Tokenizer, RoundTripOfArbitraryBytes) {
  // SPM with byte fallback is lossless on arbitrary bytes, with two exceptions that llama.cpp
  // shares: a literal U+2581 decodes as a space, and a space escaped to U+2581 right after an
  // incomplete lead byte is swallowed into that byte's symbol (its bytes then come back raw).
  std::mt19937 rng(7);
  for (int iter = 0; iter < 500; ++iter) {
    std::string text(rng() % 64, '\0');
    for (char& c : text) c = static_cast<char>(rng() % 256);
    for (char& c : text) if (c == ' ') c = '_';
    if (text.find("\xE2\x96\x81") != std::string::npos) continue;
    const auto ids = Ids(text, true);
    for (TokenId id : ids) ASSERT_TRUE(Gemma3().vocab().Valid(id));
    EXPECT_EQ(Gemma3().Decode(ids), text);
  }
}

TEST(Gemma3Tokenizer, LongWhitespaceRuns) {
  for (const char c : {' ', '\n', '\t'}) {
    const std::string text(200000, c);
    const auto ids = Ids(text);
    EXPECT_EQ(Gemma3().Decode(ids), text);
    EXPECT_LT(ids.size(), 20000u);  // runs of 31 spaces / newlines / tabs are single tokens
  }
  std::string mixed;
  for (int i = 0; i < 50000; ++i) mixed += (i % 7 == 0) ? "\n \t" : "  ";
  EXPECT_EQ(Gemma3().Decode(Ids(mixed)), mixed);
  const std::string one_word(300000, 'a');  // one huge fragment through the merge loop
  EXPECT_EQ(Gemma3().Decode(Ids(one_word)), one_word);
}

// ---- GGUF validation -------------------------------------------------------------------

// Minimal GGUF v3 writer for metadata-only files.
class GgufBuilder {
 public:
  void Str(const std::string& key, const std::string& v) {
    Key(key, 8);
    String(v);
    ++n_;
  }
  void U32(const std::string& key, uint32_t v) {
    Key(key, 4);
    Pod(v);
    ++n_;
  }
  void Bool(const std::string& key, bool v) {
    Key(key, 7);
    Pod(static_cast<uint8_t>(v));
    ++n_;
  }
  void Strs(const std::string& key, const std::vector<std::string>& v) {
    Key(key, 9);
    Pod(uint32_t{8});
    Pod(uint64_t{v.size()});
    for (const auto& s : v) String(s);
    ++n_;
  }
  void F32s(const std::string& key, const std::vector<float>& v) {
    Key(key, 9);
    Pod(uint32_t{6});
    Pod(uint64_t{v.size()});
    for (float x : v) Pod(x);
    ++n_;
  }
  void I32s(const std::string& key, const std::vector<int32_t>& v) {
    Key(key, 9);
    Pod(uint32_t{5});
    Pod(uint64_t{v.size()});
    for (int32_t x : v) Pod(x);
    ++n_;
  }
  StatusOr<std::unique_ptr<Vocab>> Load() {
    std::string head = "GGUF";
    auto pod = [&](auto x) { head.append(reinterpret_cast<const char*>(&x), sizeof x); };
    pod(uint32_t{3});
    pod(uint64_t{0});
    pod(uint64_t{n_});
    buf_ = head + body_;
    auto f = GgufFile::Parse(reinterpret_cast<const uint8_t*>(buf_.data()), buf_.size(), "test.gguf");
    if (!f.ok()) return f.status();
    return Vocab::FromGguf(**f);
  }

 private:
  template <typename T>
  void Pod(T x) {
    body_.append(reinterpret_cast<const char*>(&x), sizeof x);
  }
  void String(const std::string& s) {
    Pod(uint64_t{s.size()});
    body_ += s;
  }
  void Key(const std::string& k, uint32_t type) {
    String(k);
    Pod(type);
  }
  std::string body_, buf_;
  uint64_t n_ = 0;
};

GgufBuilder Minimal(const std::vector<std::string>& tokens) {
  GgufBuilder b;
  b.Str("tokenizer.ggml.model", "llama");
  b.Strs("tokenizer.ggml.tokens", tokens);
  return b;
}

TEST(VocabValidation, MinimalVocabularyLoads) {
  GgufBuilder b = Minimal({"<unk>", "<s>", "</s>", "a", "b", "ab", "\xE2\x96\x81" "b"});
  b.F32s("tokenizer.ggml.scores", {0, 0, 0, -1, -2, -3, -4});
  b.I32s("tokenizer.ggml.token_type", {2, 3, 3, 1, 1, 1, 1});
  {
    auto v = b.Load();
    ASSERT_TRUE(v.ok()) << v.status().message();
    EXPECT_EQ((*v)->bos(), 1);  // llama.cpp SPM defaults: bos 1, eos 2, unk 0
    EXPECT_EQ((*v)->eos(), 2);
    EXPECT_TRUE((*v)->add_space_prefix());  // the SPM default when the key is absent
    auto t = Tokenizer::FromVocab(std::move(*v));
    ASSERT_TRUE(t.ok());
    EXPECT_EQ((*t)->Encode("b"), (std::vector<TokenId>{1, 6}));  // " b" -> "▁b"
    // llama_detokenize strips that space again only when no BOS was removed before it.
    EXPECT_EQ((*t)->Decode((*t)->Encode("b", EncodeOptions{false, false})), "b");
    EXPECT_EQ((*t)->Decode((*t)->Encode("b")), " b");
  }
  b.Bool("tokenizer.ggml.add_space_prefix", false);
  auto v = b.Load();
  ASSERT_TRUE(v.ok()) << v.status().message();
  auto t = Tokenizer::FromVocab(std::move(*v));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ((*t)->Encode("ab"), (std::vector<TokenId>{1, 5}));
  // No byte tokens at all: each byte of an unknown symbol becomes <unk>.
  EXPECT_EQ((*t)->Encode("ba c", EncodeOptions{false, false}), (std::vector<TokenId>{4, 3, 0, 0, 0, 0}));
}

TEST(VocabValidation, Errors) {
  {
    GgufBuilder b;
    b.Strs("tokenizer.ggml.tokens", {"a"});
    auto v = b.Load();
    EXPECT_EQ(v.status().code(), StatusCode::kNotFound);
    EXPECT_NE(v.status().message().find("tokenizer.ggml.model"), std::string::npos);
  }
  {
    GgufBuilder b;
    b.Str("tokenizer.ggml.model", "llama");
    EXPECT_EQ(b.Load().status().code(), StatusCode::kNotFound);
  }
  {
    GgufBuilder b;
    b.Str("tokenizer.ggml.model", "gpt2");
    b.Strs("tokenizer.ggml.tokens", {"a"});
    auto v = b.Load();
    EXPECT_EQ(v.status().code(), StatusCode::kUnimplemented);
    EXPECT_NE(v.status().message().find("gpt2"), std::string::npos);
  }
  {
    GgufBuilder b = Minimal({"a", "b", "c"});
    b.F32s("tokenizer.ggml.scores", {0, 0});
    auto v = b.Load();
    EXPECT_EQ(v.status().code(), StatusCode::kDataLoss);
    EXPECT_NE(v.status().message().find("tokenizer.ggml.scores has 2 entries for 3 tokens"), std::string::npos)
        << v.status().message();
  }
  {
    GgufBuilder b = Minimal({"a", "b", "c"});
    b.I32s("tokenizer.ggml.token_type", {1});
    EXPECT_EQ(b.Load().status().code(), StatusCode::kDataLoss);
  }
  {
    GgufBuilder b = Minimal({"a", "b", "c"});
    b.Strs("tokenizer.ggml.token_type", {"x", "y", "z"});
    EXPECT_EQ(b.Load().status().code(), StatusCode::kDataLoss);
  }
  {
    GgufBuilder b = Minimal({"a", "b", "a"});
    auto v = b.Load();
    EXPECT_EQ(v.status().code(), StatusCode::kDataLoss);
    EXPECT_NE(v.status().message().find("duplicate token"), std::string::npos);
  }
  {
    GgufBuilder b = Minimal({"a", "<0xZZ>"});
    b.I32s("tokenizer.ggml.token_type", {1, 6});
    EXPECT_EQ(b.Load().status().code(), StatusCode::kDataLoss);
  }
  {
    GgufBuilder b;
    b.Str("tokenizer.ggml.model", "gemma4");
    b.Strs("tokenizer.ggml.tokens", {"a", "b"});
    auto v = b.Load();
    EXPECT_EQ(v.status().code(), StatusCode::kNotFound);
    EXPECT_NE(v.status().message().find("tokenizer.ggml.merges"), std::string::npos);
  }
  {
    GgufBuilder b;
    b.Str("tokenizer.ggml.model", "gemma4");
    b.Strs("tokenizer.ggml.tokens", {"a", "b"});
    b.Strs("tokenizer.ggml.merges", {"a b"});
    auto v = b.Load();  // add_bos is forced on for gemma4, and there is no BOS
    EXPECT_EQ(v.status().code(), StatusCode::kDataLoss);
    EXPECT_NE(v.status().message().find("bos_token_id"), std::string::npos);
  }
  {
    GgufBuilder b = Minimal({"a", "b", "c"});
    b.U32("tokenizer.ggml.bos_token_id", 99);  // out of range: ignored with a warning
    b.Bool("tokenizer.ggml.add_bos_token", false);
    auto v = b.Load();
    ASSERT_TRUE(v.ok()) << v.status().message();
    EXPECT_FALSE((*v)->warnings().empty());
  }
  {
    GgufBuilder b = Minimal({"a", ""});  // empty texts are renamed, as llama.cpp does
    auto v = b.Load();
    ASSERT_TRUE(v.ok());
    EXPECT_EQ((*v)->text(1), "[EMPTY_1]");
  }
}

// A Gemma 4 style vocabulary: control tokens, the multimodal end tokens, `</s>` as a piece.
GgufBuilder Gemma4Like() {
  GgufBuilder b;
  b.Str("tokenizer.ggml.model", "gemma4");
  b.Strs("tokenizer.ggml.tokens",
         {"<pad>", "<eos>", "<bos>", "<turn|>", "<|tool_response>", "</s>", "a", "<image|>", "<audio|>"});
  b.I32s("tokenizer.ggml.token_type", {3, 3, 3, 3, 3, 1, 1, 3, 3});
  b.Strs("tokenizer.ggml.merges", {"a a"});
  b.U32("tokenizer.ggml.bos_token_id", 2);
  b.U32("tokenizer.ggml.eos_token_id", 1);
  return b;
}

std::vector<TokenId> Suppressed(GgufBuilder b, SuppressMode mode) {
  auto v = b.Load();
  EXPECT_TRUE(v.ok()) << v.status().message();
  if (!v.ok()) return {};
  auto t = Tokenizer::FromVocab(std::move(*v), TokenizerOptions{.suppress = mode});
  EXPECT_TRUE(t.ok());
  return t.ok() ? (*t)->suppressed() : std::vector<TokenId>{};
}

TEST(VocabSuppressTokens, LoadsInt32ArrayAndDropsOutOfRangeIds) {
  GgufBuilder b = Gemma4Like();
  b.I32s("tokenizer.ggml.suppress_tokens", {8, -1, 9, 7, 1000});
  auto v = b.Load();
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_TRUE((*v)->has_suppress_key());
  EXPECT_EQ((*v)->suppress_tokens(), (std::vector<TokenId>{8, 7}));  // file order, as llama.cpp
  EXPECT_TRUE((*v)->implicit_suppress_tokens().empty());
  EXPECT_EQ(Suppressed(b, SuppressMode::kAuto), (std::vector<TokenId>{8, 7}));
  EXPECT_EQ(Suppressed(b, SuppressMode::kFile), (std::vector<TokenId>{8, 7}));
  EXPECT_TRUE(Suppressed(b, SuppressMode::kOff).empty());
}

TEST(VocabSuppressTokens, WrongTypeFailsTheLoad) {
  {
    GgufBuilder b = Gemma4Like();
    b.F32s("tokenizer.ggml.suppress_tokens", {7, 8});
    auto v = b.Load();
    EXPECT_EQ(v.status().code(), StatusCode::kDataLoss);
    EXPECT_NE(v.status().message().find("tokenizer.ggml.suppress_tokens must be an array of INT32"), std::string::npos)
        << v.status().message();
  }
  {
    GgufBuilder b = Gemma4Like();
    b.U32("tokenizer.ggml.suppress_tokens", 7);
    EXPECT_EQ(b.Load().status().code(), StatusCode::kDataLoss);
  }
}

TEST(VocabSuppressTokens, ImplicitGemma4MultimodalEndTokens) {
  // No key: <audio|> and <image|> in auto mode only (older 12B conversions lack the key).
  EXPECT_EQ(Suppressed(Gemma4Like(), SuppressMode::kAuto), (std::vector<TokenId>{8, 7}));
  EXPECT_TRUE(Suppressed(Gemma4Like(), SuppressMode::kFile).empty());
  EXPECT_TRUE(Suppressed(Gemma4Like(), SuppressMode::kOff).empty());
  // An empty list in the file is respected.
  GgufBuilder b = Gemma4Like();
  b.I32s("tokenizer.ggml.suppress_tokens", {});
  EXPECT_TRUE(Suppressed(b, SuppressMode::kAuto).empty());
  // Gemma 3 vocabularies never get the implicit list.
  EXPECT_TRUE(Suppressed(Minimal({"a", "<image|>", "<audio|>"}), SuppressMode::kAuto).empty());
}

TEST(VocabEog, Gemma4DemotesEndOfSentenceWhenToolResponseIsEog) {
  auto v = Gemma4Like().Load();
  ASSERT_TRUE(v.ok()) << v.status().message();
  // llama.cpp 3f545becc: <eos>, <turn|>, <|tool_response>; "</s>" NORMAL and not EOG.
  EXPECT_EQ((*v)->eog_ids(), (std::vector<TokenId>{1, 3, 4}));
  EXPECT_EQ((*v)->attr(5), static_cast<uint32_t>(kAttrNormal));
  auto t = Tokenizer::FromVocab(std::move(*v));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ((*t)->Piece(5), "</s>");  // an ordinary piece, printed
  // Without <|tool_response> (Gemma 3 style) "</s>" stays EOG and becomes CONTROL.
  GgufBuilder g3 = Minimal({"<unk>", "<s>", "</s>", "a"});
  auto v3 = g3.Load();
  ASSERT_TRUE(v3.ok());
  EXPECT_TRUE((*v3)->IsEog(2));
  EXPECT_TRUE((*v3)->IsControl(2));
}

}  // namespace
}  // namespace gemrun
