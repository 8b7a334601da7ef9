// StreamDecoder (UTF-8-safe incremental detokenization) and the UTF-8 helpers it relies on.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace gemrun {
namespace {

const Tokenizer& Gemma3() {
  static const Tokenizer* tok = [] {
    auto f = GgufFile::Open(std::string(GEMRUN_TEST_DATA) + "/tokenizer/gemma3-vocab.gguf");
    EXPECT_TRUE(f.ok()) << f.status().message();
    auto t = Tokenizer::FromGguf(**f);
    EXPECT_TRUE(t.ok()) << t.status().message();
    return t->release();
  }();
  return *tok;
}

TokenId Byte(uint8_t b) { return Gemma3().vocab().ByteToken(b); }

TEST(StreamDecoder, HoldsSplitSequencesUntilComplete) {
  StreamDecoder d(Gemma3());
  // U+1F600 as four byte tokens: nothing comes out until the last one.
  EXPECT_EQ(d.Push(Byte(0xF0)), "");
  EXPECT_EQ(d.Push(Byte(0x9F)), "");
  EXPECT_EQ(d.pending_bytes(), 2u);
  EXPECT_EQ(d.Push(Byte(0x98)), "");
  EXPECT_EQ(d.Push(Byte(0x80)), "\xF0\x9F\x98\x80");
  EXPECT_EQ(d.pending_bytes(), 0u);
  // A normal piece right after a partial sequence flushes the complete part only.
  const TokenId hello = Gemma3().vocab().Find("Hello");
  EXPECT_EQ(d.Push(Byte(0xE4)), "");
  EXPECT_EQ(d.Push(Byte(0xB8)), "");
  EXPECT_EQ(d.Push(Byte(0x96)), "\xE4\xB8\x96");
  EXPECT_EQ(d.Push(hello), "Hello");
  EXPECT_EQ(d.Flush(), "");
}

TEST(StreamDecoder, ReplacesBytesThatCanNeverBeValid) {
  StreamDecoder d(Gemma3());
  EXPECT_EQ(d.Push(Byte(0xF0)), "");
  EXPECT_EQ(d.Push(Gemma3().vocab().Find("a")), "\xEF\xBF\xBD" "a");  // lead byte + ASCII
  EXPECT_EQ(d.Push(Byte(0x80)), "\xEF\xBF\xBD");                       // stray continuation
  EXPECT_EQ(d.Push(Byte(0xC0)), "\xEF\xBF\xBD");                       // never valid
  EXPECT_EQ(d.Push(Byte(0xE2)), "");
  EXPECT_EQ(d.Flush(), "\xEF\xBF\xBD");  // the stream ended inside a sequence
  EXPECT_EQ(d.pending_bytes(), 0u);
}

TEST(StreamDecoder, ControlTokensOnlyWhenAsked) {
  StreamDecoder plain(Gemma3()), special(Gemma3(), /*special=*/true);
  EXPECT_EQ(plain.Push(106), "");
  EXPECT_EQ(special.Push(106), "<end_of_turn>");
}

// Whatever the split, the streamed text equals the sanitised whole and is valid UTF-8 at
// every step.
TEST(StreamDecoder, EqualsSanitizedWholeForRandomStreams) {
  const Tokenizer& t = Gemma3();
  std::mt19937 rng(5);
  const std::vector<std::string> texts = {"héllo wörld 😀 世界 ✓ naïve café", "日本語のテキスト🎉🎉", "plain ascii"};
  for (int iter = 0; iter < 400; ++iter) {
    std::vector<TokenId> ids;
    const int n = 1 + static_cast<int>(rng() % 30);
    for (int i = 0; i < n; ++i) {
      switch (rng() % 3) {
        case 0: ids.push_back(Byte(static_cast<uint8_t>(rng() % 256))); break;
        case 1: ids.push_back(static_cast<TokenId>(rng() % t.vocab().size())); break;
        default: {  // byte-level encoding of real multi-byte text, split anywhere
          const std::string& s = texts[rng() % texts.size()];
          for (unsigned char c : s) ids.push_back(Byte(c));
        }
      }
    }
    StreamDecoder d(t);
    std::string streamed, whole;
    for (TokenId id : ids) {
      const std::string chunk = d.Push(id);
      ASSERT_TRUE(utf8::IsValid(chunk));
      streamed += chunk;
      whole += t.Piece(id);
    }
    streamed += d.Flush();
    ASSERT_EQ(streamed, utf8::Sanitize(whole));
  }
}

TEST(StreamDecoder, RealTextThroughByteTokensRoundTrips) {
  const std::string text = "Grüße aus Köln — 東京 🚀 done";
  StreamDecoder d(Gemma3());
  std::string out;
  for (unsigned char c : text) out += d.Push(Byte(c));
  out += d.Flush();
  EXPECT_EQ(out, text);
  // And through the tokenizer's own pieces.
  StreamDecoder e(Gemma3());
  std::string out2;
  for (TokenId id : Gemma3().Encode(text)) out2 += e.Push(id);
  EXPECT_EQ(out2 + e.Flush(), text);
}

TEST(Utf8, SanitizeUsesMaximalSubparts) {
  EXPECT_EQ(utf8::Sanitize("ok"), "ok");
  EXPECT_EQ(utf8::Sanitize("\xE2\x82"), "\xEF\xBF\xBD");               // truncated: one U+FFFD
  EXPECT_EQ(utf8::Sanitize("\xE2\x82" "a"), "\xEF\xBF\xBD" "a");
  EXPECT_EQ(utf8::Sanitize("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");   // overlong: per byte
  EXPECT_EQ(utf8::Sanitize("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  EXPECT_EQ(utf8::Sanitize("\xF4\x90\x80\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_TRUE(utf8::IsValid("\xF4\x8F\xBF\xBF"));
  EXPECT_FALSE(utf8::IsValid("\xF4\x90\x80\x80"));
}

TEST(Utf8, TrimLikePython) {
  EXPECT_EQ(utf8::TrimPy("  \t\nhi there \r\n"), "hi there");
  EXPECT_EQ(utf8::TrimPy("\xC2\xA0\xE3\x80\x80x\xE2\x80\xA8"), "x");  // NBSP, ideographic space, LS
  EXPECT_EQ(utf8::TrimPy("\xE2\x80\x8Bx"), "\xE2\x80\x8Bx");          // ZWSP is not whitespace
  EXPECT_EQ(utf8::TrimPy("\x1c\x1fx\x0b"), "x");
  EXPECT_EQ(utf8::TrimPy("   "), "");
  EXPECT_EQ(utf8::TrimPy(" \xFF "), "\xFF");
}

TEST(Utf8, LlamaRoundTrip) {
  std::string out;
  utf8::LlamaRoundTrip("a\xFF" "b\xC3", &out);
  EXPECT_EQ(out, "a\xEF\xBF\xBD" "b\xEF\xBF\xBD");
  out.clear();
  utf8::LlamaRoundTrip("\xC1\x81", &out);  // overlong 'A' decodes (leniently) to 'A'
  EXPECT_EQ(out, "A");
}

}  // namespace
}  // namespace gemrun
