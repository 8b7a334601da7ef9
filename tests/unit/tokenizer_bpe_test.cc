// Gemma 4 BPE tokenizer on the g4-tiny fixture's vocabulary (2048 tokens, 1673 merges):
// against a naive reference BPE written from gemma4.md §8.2, newline-run handling, special
// tokens, the two unknown-character fallbacks, decoding and llama.cpp's space clean-up.
#include <gtest/gtest.h>

#include <climits>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace gemrun {
namespace {

const std::string kModel = std::string(GEMRUN_TEST_DATA) + "/testdata/models/g4-tiny-q8_0.gguf";

std::unique_ptr<Tokenizer> Load(Gemma4Fallback fallback) {
  auto f = GgufFile::Open(kModel);
  EXPECT_TRUE(f.ok()) << f.status().message();
  TokenizerOptions o;
  o.gemma4_fallback = fallback;
  auto t = Tokenizer::FromGguf(**f, o);
  EXPECT_TRUE(t.ok()) << t.status().message();
  return std::move(*t);
}

const Tokenizer& Gemma4() {
  static const Tokenizer* tok = Load(Gemma4Fallback::kByteTokens).release();
  return *tok;
}

// Textbook BPE from the spec: repeatedly merge the adjacent pair with the lowest rank
// (leftmost on ties), per run of newlines / non-newlines; unknown symbols: one <0xXX> token per
// byte (llama.cpp 3f545becc, HF), dropped if absent.
std::vector<TokenId> ReferenceEncode(const Vocab& v, const std::string& raw) {
  std::map<std::pair<std::string, std::string>, int> ranks;
  for (size_t i = 0; i < v.merges().size(); ++i) {
    const std::string& m = v.merges()[i];
    const size_t pos = m.find(' ', 1);
    if (pos != std::string::npos) ranks.emplace(std::make_pair(m.substr(0, pos), m.substr(pos + 1)), static_cast<int>(i));
  }
  std::string text;
  for (char c : raw) text += c == ' ' ? std::string("\xE2\x96\x81") : std::string(1, c);
  std::vector<TokenId> out;
  for (size_t i = 0; i < text.size();) {
    const bool nl = text[i] == '\n';
    size_t j = i;
    while (j < text.size() && (text[j] == '\n') == nl) ++j;
    const std::string word = text.substr(i, j - i);
    i = j;
    if (nl && v.Find(word) != kNoToken) {
      out.push_back(v.Find(word));
      continue;
    }
    std::vector<std::string> sym;
    for (size_t k = 0; k < word.size();) {
      const size_t n = std::min(utf8::LeadLength(static_cast<uint8_t>(word[k])), word.size() - k);
      sym.push_back(word.substr(k, n));
      k += n;
    }
    for (;;) {
      int best = INT_MAX;
      size_t at = 0;
      for (size_t k = 0; k + 1 < sym.size(); ++k) {
        auto it = ranks.find({sym[k], sym[k + 1]});
        if (it != ranks.end() && it->second < best) best = it->second, at = k;
      }
      if (best == INT_MAX) break;
      sym[at] += sym[at + 1];
      sym.erase(sym.begin() + static_cast<long>(at) + 1);
    }
    for (const std::string& s : sym) {
      if (v.Find(s) != kNoToken) {
        out.push_back(v.Find(s));
        continue;
      }
      for (unsigned char c : s) {
        char hex[8];
        std::snprintf(hex, sizeof hex, "<0x%02X>", c);
        if (v.Find(hex) != kNoToken) out.push_back(v.Find(hex));
      }
    }
  }
  return out;
}

TEST(Gemma4Tokenizer, Metadata) {
  const Vocab& v = Gemma4().vocab();
  EXPECT_EQ(v.model(), TokenizerModel::kGemma4Bpe);
  EXPECT_EQ(v.size(), 2048);
  EXPECT_EQ(v.merges().size(), 1673u);
  EXPECT_EQ(v.bos(), 2);
  EXPECT_EQ(v.eos(), 1);
  EXPECT_TRUE(v.add_bos());
  EXPECT_TRUE(v.clean_spaces());
  EXPECT_EQ(v.eog_ids(), (std::vector<TokenId>{1, 6}));  // <eos>, <turn|>
}

TEST(Gemma4Tokenizer, MatchesReferenceBpe) {
  const Vocab& v = Gemma4().vocab();
  // The fixture's single-character pieces, plus space, newlines, a tab and characters it lacks.
  std::vector<std::string> alphabet;
  for (TokenId id = 0; id < v.size(); ++id) {
    const std::string_view t = v.text(id);
    const utf8::Seq q = utf8::Next(t, 0);
    if (q.kind == utf8::SeqKind::kValid && q.len == t.size() && t != "\n") alphabet.emplace_back(t);
  }
  ASSERT_GT(alphabet.size(), 100u);
  for (const char* extra : {" ", " ", " ", " ", "\n", "\n", "\t", "\xCE\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80"})
    alphabet.emplace_back(extra);
  // Frequent pieces make merges actually fire.
  for (const char* piece : {"tu", "s", "oa", "R", "q", "\\7", "\xC3\xA7", "yb", "ij", "io", "l", "x"})
    for (int k = 0; k < 6; ++k) alphabet.emplace_back(piece);
  std::mt19937 rng(3);
  int merged = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::string text;
    const int n = static_cast<int>(rng() % 48);
    for (int i = 0; i < n; ++i) text += alphabet[rng() % alphabet.size()];
    const std::vector<TokenId> want = ReferenceEncode(v, text);
    const std::vector<TokenId> got = Gemma4().Encode(text, EncodeOptions{false, false});
    ASSERT_EQ(got, want) << "text '" << text << "'";
    for (TokenId id : got) merged += v.text(id).size() > 1 && id > 266;
  }
  EXPECT_GT(merged, 1000);  // the test exercised real merges
}

TEST(Gemma4Tokenizer, NewlineRunsAndSpecials) {
  const Tokenizer& t = Gemma4();
  const Vocab& v = t.vocab();
  EXPECT_EQ(t.Encode("\n\n", EncodeOptions{false, false}), (std::vector<TokenId>{9}));
  EXPECT_EQ(t.Encode("\n\n\n", EncodeOptions{false, false}), (std::vector<TokenId>{8, 8, 8}));
  EXPECT_EQ(t.Encode("", EncodeOptions{true, false}), (std::vector<TokenId>{2}));
  EXPECT_EQ(t.Encode("<|turn>user", EncodeOptions{true, true}).at(1), v.Find("<|turn>"));
  EXPECT_NE(t.Encode("<|turn>", EncodeOptions{false, false}).at(0), v.Find("<|turn>"));
}

TEST(Gemma4Tokenizer, UnknownCharacterFallbacks) {
  const Vocab& v = Gemma4().vocab();
  const EncodeOptions raw{false, false};
  // llama.cpp 3f545becc (and HF) encode a character missing from the vocabulary as <0xXX>
  // byte tokens; this failed before the default changed (the bytes were dropped).
  EXPECT_EQ(Gemma4().Encode("\xCE\xA9", raw), (std::vector<TokenId>{v.Find("<0xCE>"), v.Find("<0xA9>")}));
  EXPECT_EQ(Gemma4().Encode("a\xCE\xA9" "b", raw),
            (std::vector<TokenId>{v.Find("a"), v.Find("<0xCE>"), v.Find("<0xA9>"), v.Find("b")}));
  EXPECT_EQ(Gemma4().Decode(Gemma4().Encode("\xCE\xA9", raw)), "\xCE\xA9");
  EXPECT_EQ(Gemma4().Decode(Gemma4().Encode("x\xF0\x9F\x98\x80y", raw)), "x\xF0\x9F\x98\x80y");
  // Invalid UTF-8 becomes U+FFFD first (llama.cpp's code-point round trip).
  EXPECT_EQ(Gemma4().Decode(Gemma4().Encode("\xFF", raw)), "\xEF\xBF\xBD");
  // April's llama.cpp (d1f82e382) dropped what has no one-byte token; still available.
  const auto drop = Load(Gemma4Fallback::kDropBytes);
  EXPECT_TRUE(drop->Encode("\xCE\xA9", raw).empty());
  EXPECT_EQ(drop->Encode("a\xCE\xA9" "b", raw), (std::vector<TokenId>{v.Find("a"), v.Find("b")}));
  EXPECT_TRUE(drop->Encode("\xFF\xC3", raw).empty());
}

TEST(Gemma4Tokenizer, DecodeAndCleanSpaces) {
  const Tokenizer& t = Gemma4();
  const Vocab& v = t.vocab();
  EXPECT_EQ(t.Piece(v.Find("\xE2\x96\x81t")), " t");
  EXPECT_EQ(t.Piece(v.Find("<0x41>")), "A");
  EXPECT_EQ(t.Piece(v.Find("<|turn>")), "");
  EXPECT_EQ(t.Piece(v.Find("<|turn>"), true), "<|turn>");
  const std::vector<TokenId> ids = t.Encode("a . b 's", EncodeOptions{true, false});
  EXPECT_EQ(t.Decode(ids), "a . b 's");
  EXPECT_EQ(t.Decode(ids, DecodeOptions{true, false, true}), "a. b's");  // llama_detokenize
  EXPECT_EQ(t.Decode(ids, DecodeOptions{false, true}), "<bos>a . b 's");
}

TEST(Gemma4Tokenizer, RobustOnArbitraryBytes) {
  std::mt19937 rng(11);
  for (int iter = 0; iter < 500; ++iter) {
    std::string text(rng() % 96, '\0');
    for (char& c : text) c = static_cast<char>(rng() % 256);
    for (TokenId id : Gemma4().Encode(text, EncodeOptions{true, true})) ASSERT_TRUE(Gemma4().vocab().Valid(id));
  }
  const std::string spaces(100000, ' ');
  EXPECT_EQ(Gemma4().Decode(Gemma4().Encode(spaces, EncodeOptions{false, false})), spaces);
  const std::string newlines(100000, '\n');
  EXPECT_EQ(Gemma4().Decode(Gemma4().Encode(newlines, EncodeOptions{false, false})), newlines);
}

}  // namespace
}  // namespace gemrun
