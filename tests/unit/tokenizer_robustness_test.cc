// Fuzz-style robustness: the libFuzzer target's checks (tests/fuzz/tokenizer_fuzz.cc) driven by
// a seeded generator — random bytes, invalid UTF-8, special-token soup, long whitespace runs,
// random GGUF metadata — so every test run covers them without a fuzzing build.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "../fuzz/tokenizer_fuzz.cc"

namespace {

int RunOne(uint8_t flags, const std::string& payload) {
  std::string input(1, static_cast<char>(flags));
  input += payload;
  return LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
}

std::string RandomText(std::mt19937& rng) {
  static const char* kPieces[] = {
      "<start_of_turn>", "<end_of_turn>", "<bos>", "<eos>", "</s>", "<s>", "<|turn>", "<turn|>", "<|channel>",
      "<channel|>", "<unused7>", "[multimodal]", "\n", "\n\n", "  ", "\t", " ", "\xE2\x96\x81", "\xF0\x9F",
      "\x98\x80", "\xC3", "\xA9", "\xFF", "\x80", "\xED\xA0\x80", "\xC0\xAF", "Hello", "world", "<", ">", "|",
      "\xE4\xB8\x96\xE7\x95\x8C", "0", "123", ".", "'s", "\r\n", "\x01"};
  std::string s;
  const int n = static_cast<int>(rng() % 64);
  for (int i = 0; i < n; ++i) {
    if (rng() % 4 == 0) {
      s.push_back(static_cast<char>(rng() % 256));
    } else {
      s += kPieces[rng() % (sizeof kPieces / sizeof kPieces[0])];
    }
  }
  return s;
}

TEST(TokenizerRobustness, RandomTextAllModes) {
  std::mt19937 rng(2024);
  for (int iter = 0; iter < 3000; ++iter) {
    const uint8_t flags = static_cast<uint8_t>(rng() % 256);
    if (flags % 4 == 3) continue;
    RunOne(flags, RandomText(rng));
  }
}

TEST(TokenizerRobustness, RandomBytes) {
  std::mt19937 rng(99);
  for (int iter = 0; iter < 1000; ++iter) {
    std::string s(rng() % 200, '\0');
    for (char& c : s) c = static_cast<char>(rng() % 256);
    RunOne(static_cast<uint8_t>(iter % 3) | static_cast<uint8_t>((rng() % 16) << 2), s);
  }
}

TEST(TokenizerRobustness, LongRuns) {
  for (uint8_t mode : {0, 1, 2, 12, 13}) {
    RunOne(mode, std::string(100000, ' '));
    RunOne(mode, std::string(50000, '\n') + std::string(50000, '\t'));
    RunOne(mode, std::string(30000, '\xE2'));  // lead bytes with nothing after them
    std::string mix;
    for (int i = 0; i < 20000; ++i) mix += (i % 3) ? "  " : " \n";
    RunOne(mode, mix);
  }
}

TEST(TokenizerRobustness, GgufMetadataMutations) {
  // Mutate a valid vocabulary-only GGUF built in memory; loading must fail cleanly or succeed.
  std::string g;
  auto pod = [&](auto x) { g.append(reinterpret_cast<const char*>(&x), sizeof x); };
  auto str = [&](const std::string& s) {
    pod(uint64_t{s.size()});
    g += s;
  };
  g = "GGUF";
  pod(uint32_t{3});
  pod(uint64_t{0});
  pod(uint64_t{4});
  str("tokenizer.ggml.model");
  pod(uint32_t{8});
  str("llama");
  str("tokenizer.ggml.tokens");
  pod(uint32_t{9});
  pod(uint32_t{8});
  pod(uint64_t{5});
  for (const char* t : {"<unk>", "<s>", "a", "<0x41>", "\xE2\x96\x81"}) str(t);
  str("tokenizer.ggml.token_type");
  pod(uint32_t{9});
  pod(uint32_t{5});
  pod(uint64_t{5});
  for (int32_t t : {2, 3, 1, 6, 1}) pod(t);
  str("tokenizer.ggml.scores");
  pod(uint32_t{9});
  pod(uint32_t{6});
  pod(uint64_t{5});
  for (float f : {0.f, 0.f, -1.f, 0.f, -2.f}) pod(f);
  RunOne(3, g);  // the unmutated file
  std::mt19937 rng(5);
  for (int iter = 0; iter < 4000; ++iter) {
    std::string m = g;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) m[rng() % m.size()] = static_cast<char>(rng() % 256);
    if (rng() % 8 == 0) m.resize(rng() % m.size());
    RunOne(3, m);
  }
}

}  // namespace
