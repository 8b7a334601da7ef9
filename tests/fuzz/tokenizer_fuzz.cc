// libFuzzer target for the tokenizer: arbitrary bytes through encode (Gemma 3 SPM and Gemma 4
// BPE, with and without special-token parsing), piece/whole decoding, the streaming decoder
// and the chat templates; and arbitrary GGUF metadata through vocabulary loading.
//
// Input layout: byte 0 selects the mode and flags, the rest is the payload.
//   mode 0..2 (byte0 % 4): payload is text; bit 2 add_special, bit 3 parse_special,
//                          bit 4 Gemma 4 byte-token fallback, bit 5 enable_thinking
//   mode 3:                payload is a GGUF file; load it as a vocabulary and tokenize with it
// Invariants checked (abort on violation): every id is inside the vocabulary; the streamed
// text is valid UTF-8 and equals the sanitised concatenation of the pieces.
//
// Vocabularies: $GEMRUN_TEST_DATA (or the GEMRUN_TEST_DATA compile definition, or
// ./tests/data) /tokenizer/gemma3-vocab.gguf and /testdata/models/g4-tiny-q8_0.gguf.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace {

using namespace gemrun;

std::string DataDir() {
  if (const char* env = std::getenv("GEMRUN_TEST_DATA")) return env;
#ifdef GEMRUN_TEST_DATA
  return GEMRUN_TEST_DATA;
#else
  return "tests/data";
#endif
}

struct Tokenizers {
  std::unique_ptr<Tokenizer> g3, g4, g4_bytes;
};

std::unique_ptr<Tokenizer> LoadOrDie(const std::string& path, Gemma4Fallback fallback) {
  auto f = GgufFile::Open(path);
  if (!f.ok()) {
    std::fprintf(stderr, "tokenizer_fuzz: %s\n", f.status().message().c_str());
    std::abort();
  }
  TokenizerOptions o;
  o.gemma4_fallback = fallback;
  auto t = Tokenizer::FromGguf(**f, o);
  if (!t.ok()) {
    std::fprintf(stderr, "tokenizer_fuzz: %s\n", t.status().message().c_str());
    std::abort();
  }
  return std::move(*t);
}

const Tokenizers& Get() {
  static const Tokenizers* t = [] {
    auto* r = new Tokenizers;
    const std::string dir = DataDir();
    r->g3 = LoadOrDie(dir + "/tokenizer/gemma3-vocab.gguf", Gemma4Fallback::kDropBytes);
    r->g4 = LoadOrDie(dir + "/testdata/models/g4-tiny-q8_0.gguf", Gemma4Fallback::kDropBytes);
    r->g4_bytes = LoadOrDie(dir + "/testdata/models/g4-tiny-q8_0.gguf", Gemma4Fallback::kByteTokens);
    return r;
  }();
  return *t;
}

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "tokenizer_fuzz: invariant violated: %s\n", what);
    std::abort();
  }
}

void Exercise(const Tokenizer& tok, std::string_view text, const EncodeOptions& opts) {
  const std::vector<TokenId> ids = tok.Encode(text, opts);
  std::string pieces;
  StreamDecoder stream(tok);
  std::string streamed;
  for (TokenId id : ids) {
    Check(tok.vocab().Valid(id), "id inside the vocabulary");
    pieces += tok.Piece(id);
    const std::string chunk = stream.Push(id);
    Check(utf8::IsValid(chunk), "streamed chunk is valid UTF-8");
    streamed += chunk;
  }
  streamed += stream.Flush();
  Check(streamed == utf8::Sanitize(pieces), "stream == sanitize(pieces)");
  // Decode = the pieces, less one leading space when the vocabulary adds a space prefix.
  std::string expect = pieces;
  if (tok.vocab().add_space_prefix() && !ids.empty() && !tok.Piece(ids[0]).empty() && tok.Piece(ids[0])[0] == ' ')
    expect.erase(0, 1);
  Check(tok.Decode(ids, DecodeOptions{false, false, false}) == expect, "decode == concatenated pieces");
  (void)tok.Decode(ids, DecodeOptions{true, true, true});
}

void FuzzText(uint8_t flags, std::string_view text) {
  const Tokenizers& t = Get();
  EncodeOptions opts;
  opts.add_special = flags & 4;
  opts.parse_special = flags & 8;
  const Tokenizer& g4 = (flags & 16) ? *t.g4_bytes : *t.g4;
  switch (flags % 4) {
    case 0: Exercise(*t.g3, text, opts); break;
    case 1: Exercise(g4, text, opts); break;
    default: {
      // The text as every message of a conversation, through both templates.
      const std::vector<ChatMessage> msgs = {{"system", std::string(text)}, {"user", std::string(text)},
                                             {"assistant", std::string(text)}, {"user", std::string(text)}};
      ChatOptions co;
      co.enable_thinking = flags & 32;
      for (const ChatFormat f : {ChatFormat::kGemma3, ChatFormat::kGemma4}) {
        const Tokenizer& tok = f == ChatFormat::kGemma3 ? *t.g3 : g4;
        auto ids = ChatTemplate(f).Encode(tok, msgs, co);
        Check(ids.ok(), "alternating conversation renders");
        Check(!ids->empty() && ids->front() == tok.vocab().bos(), "prompt starts with BOS");
      }
    }
  }
}

void FuzzGguf(const uint8_t* data, size_t size) {
  auto f = GgufFile::Parse(data, size, "fuzz.gguf");
  if (!f.ok()) return;
  auto tok = Tokenizer::FromGguf(**f);
  if (!tok.ok()) return;
  Exercise(**tok, "Hello world <start_of_turn>\n\n  x\xC3", EncodeOptions{true, true});
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  if (flags % 4 == 3) {
    FuzzGguf(data + 1, size - 1);
  } else {
    FuzzText(flags, std::string_view(reinterpret_cast<const char*>(data + 1), size - 1));
  }
  return 0;
}
