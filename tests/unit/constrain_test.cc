// Constrained decoding: regex/GBNF/JSON Schema compilation (accepts, refusals naming the keyword
// and pointer) and token masks against brute force (every token run through the recognizer).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <map>
#include <random>
#include <set>
#include <tuple>
#include <regex>
#include <sstream>

#include "constrain/class_trie.h"
#include "constrain/constrain.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"

namespace gemrun::constrain {
namespace {

const std::string kData = std::string(GEMRUN_TEST_DATA) + "/constrain";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

GrammarPtr MustCompile(StatusOr<GrammarPtr> g) {
  EXPECT_TRUE(g.ok()) << g.status().message();
  return g.ok() ? *g : nullptr;
}

TEST(ConstrainRegex, WholeMatch) {
  auto g = MustCompile(CompileRegex("INC-[0-9]{6}"));
  ASSERT_TRUE(g);
  EXPECT_TRUE(GrammarAccepts(g, "INC-123456"));
  EXPECT_FALSE(GrammarAccepts(g, "INC-12345"));
  EXPECT_FALSE(GrammarAccepts(g, "INC-1234567"));
  auto s = MustCompile(CompileRegex("^v(0|[1-9][0-9]{0,3})\\.(0|[1-9][0-9]*)(-rc\\.[1-9])?$"));
  EXPECT_TRUE(GrammarAccepts(s, "v1.20-rc.3"));
  EXPECT_FALSE(GrammarAccepts(s, "v01.2"));
  auto u = MustCompile(CompileRegex("[^a]é{2}"));
  EXPECT_TRUE(GrammarAccepts(u, "€éé"));
  EXPECT_FALSE(GrammarAccepts(u, "aéé"));
}

TEST(ConstrainRegex, RefusesUnsupported) {
  for (const char* p : {"(?=a)b", "a\\1", "(ab", "ab)", "[a-", "a{3,2}", "\\bfoo"}) {
    auto g = CompileRegex(p);
    EXPECT_FALSE(g.ok()) << p;
  }
}

TEST(ConstrainGbnf, Basics) {
  auto g = MustCompile(CompileGbnf("root ::= \"a\" x{2,3} (\"-\" | \"+\")*\nx ::= [0-9]\n"));
  ASSERT_TRUE(g);
  EXPECT_TRUE(GrammarAccepts(g, "a12"));
  EXPECT_TRUE(GrammarAccepts(g, "a123-+-"));
  EXPECT_FALSE(GrammarAccepts(g, "a1"));
  EXPECT_FALSE(GrammarAccepts(g, "a1234"));
  auto r = CompileGbnf("root ::= a\na ::= a \"x\" | \"y\"\n");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("left-recursive"), std::string::npos);
}

TEST(ConstrainGbnf, VisibleCases) {
  const auto m = nlohmann::json::parse(ReadFile(kData + "/grammars/manifest.json"));
  for (const auto& c : m["cases"]) {
    const std::string text = ReadFile(kData + "/grammars/" + c["file"].get<std::string>());
    auto g = c["kind"] == "regex" ? CompileRegex(text.substr(0, text.find_last_not_of("\r\n") + 1)) : CompileGbnf(text);
    if (c["expected"] == "valid") {
      EXPECT_TRUE(g.ok()) << c["id"] << ": " << g.status().message();
    } else {
      ASSERT_FALSE(g.ok()) << c["id"];
      std::vector<std::string> kws = {c["keyword"].get<std::string>()};
      if (c.contains("keyword_alternatives"))
        for (const auto& k : c["keyword_alternatives"]) kws.push_back(k);
      bool named = false;
      for (const auto& k : kws) named |= g.status().message().find(k) != std::string::npos;
      EXPECT_TRUE(named) << c["id"] << ": " << g.status().message();
    }
  }
  auto v = MustCompile(CompileGbnf(ReadFile(kData + "/grammars/verdict.gbnf")));
  EXPECT_TRUE(GrammarAccepts(v, "YES: all checks green"));
  EXPECT_FALSE(GrammarAccepts(v, "MAYBE: x"));
}

TEST(ConstrainSchema, VisibleValidCases) {
  const auto m = nlohmann::json::parse(ReadFile(kData + "/manifest.json"));
  for (const auto& c : m["cases"]) {
    if (c["kind"] != "json_schema") continue;
    auto g = CompileJsonSchema(ReadFile(kData + "/" + c["file"].get<std::string>()));
    EXPECT_TRUE(g.ok()) << c["id"] << ": " << g.status().message();
  }
}

TEST(ConstrainSchema, InvalidCasesNameKeywordAndPointer) {
  const auto m = nlohmann::json::parse(ReadFile(kData + "/invalid/manifest.json"));
  for (const auto& c : m["cases"]) {
    auto g = CompileJsonSchema(ReadFile(kData + "/invalid/" + c["file"].get<std::string>()));
    ASSERT_FALSE(g.ok()) << c["id"];
    const std::string& msg = g.status().message();
    std::vector<std::string> kws = {c["keyword"].get<std::string>()};
    if (c.contains("keyword_alternatives"))
      for (const auto& k : c["keyword_alternatives"]) kws.push_back(k);
    bool named = false;
    for (const auto& k : kws) named |= msg.find(k) != std::string::npos;
    EXPECT_TRUE(named) << c["id"] << ": " << msg;
    if (c.contains("pointer")) {
      const std::string p = c["pointer"];
      EXPECT_NE(msg.find(p), std::string::npos) << c["id"] << ": " << msg;
    }
  }
}

// oneOf is generated as anyOf only where no value can match two branches; otherwise refused
// naming oneOf and its pointer (never a silently wrong answer).
TEST(ConstrainSchema, OneOfExclusivity) {
  const char* disjoint[] = {
      R"({"oneOf":[{"type":"string"},{"type":"integer"},{"type":"null"}]})",
      R"({"oneOf":[{"const":"a"},{"enum":["b","c"]},{"type":"integer"}]})",
      R"({"oneOf":[{"type":"object","properties":{"k":{"const":"x"},"v":{"type":"integer"}},"required":["k"]},
                   {"type":"object","properties":{"k":{"enum":["y","z"]}},"required":["k"]}]})",
      R"({"oneOf":[{"type":"object","properties":{"a":{"type":"string"}},"required":["a"],"additionalProperties":false},
                   {"type":"object","properties":{"b":{"type":"string"}},"required":["b"],"additionalProperties":false}]})",
      R"({"oneOf":[{"type":"string","format":"ipv4"},{"type":"string","format":"ipv6"}]})",
      R"({"$defs":{"t":{"type":"object","properties":{"kind":{"const":1}},"required":["kind"]}},
          "oneOf":[{"$ref":"#/$defs/t"},{"type":"object","properties":{"kind":{"const":2}},"required":["kind"]}]})",
      R"({"type":"object","properties":{"n":{"type":"integer"}},"required":["kind"],
          "oneOf":[{"properties":{"kind":{"const":"a"}}},{"properties":{"kind":{"const":"b"}}}]})",
  };
  for (const char* s : disjoint) EXPECT_TRUE(CompileJsonSchema(s).ok()) << s << ": " << CompileJsonSchema(s).status().message();
  auto g = MustCompile(CompileJsonSchema(disjoint[2]));
  ASSERT_TRUE(g);
  EXPECT_TRUE(GrammarAccepts(g, R"({"k":"x","v":3})"));
  EXPECT_TRUE(GrammarAccepts(g, R"({"k":"z"})"));
  EXPECT_FALSE(GrammarAccepts(g, R"({"k":"w"})"));
  const std::vector<std::pair<const char*, std::string>> overlapping = {
      {R"({"oneOf":[{"type":"string"},{"type":"string","maxLength":3}]})", "'oneOf' at /oneOf"},
      {R"({"oneOf":[{"type":"number"},{"type":"integer"}]})", "'oneOf' at /oneOf"},
      {R"({"oneOf":[{"const":1},{"enum":[2,1.0]}]})", "'oneOf' at /oneOf"},
      {R"({"properties":{"x":{"oneOf":[{"type":"string","format":"ipv4"},{"type":"string","format":"hostname"}]}}})",
       "'oneOf' at /properties/x/oneOf"},
      {R"({"items":{"oneOf":[{"type":"object","properties":{"a":{"type":"string"}},"required":["a"]},
                              {"type":"object","properties":{"b":{"type":"string"}},"required":["b"]}]},"type":"array"})",
       "'oneOf' at /items/oneOf"},
      {R"({"oneOf":[{"type":"string","pattern":"^a"},{"type":"string","pattern":"^b"}]})", "'oneOf' at /oneOf"},
  };
  for (const auto& [schema, want] : overlapping) {
    auto r = CompileJsonSchema(schema);
    ASSERT_FALSE(r.ok()) << schema;
    EXPECT_NE(r.status().message().find(want), std::string::npos) << schema << " -> " << r.status().message();
    EXPECT_TRUE(CompileJsonSchema(std::regex_replace(schema, std::regex("oneOf"), "anyOf")).ok()) << schema;
  }
}

struct SchemaCase {
  const char* schema;
  std::vector<const char*> good, bad;
};

TEST(ConstrainSchema, Keywords) {
  const std::vector<SchemaCase> cases = {
      {R"({"type":"object","properties":{"a":{"type":"integer","minimum":-5,"maximum":12},"b":{"type":"boolean"}},"required":["a"],"additionalProperties":false})",
       {R"({"a":-5})", R"({"a":12,"b":true})", R"({"a":0})"}, {R"({"a":13})", R"({"b":true})", R"({"a":-6})", R"({"a":1,"c":1})", R"({"b":true,"a":1})"}},
      {R"({"type":["string","null"],"maxLength":3})", {R"("abc")", "null", R"("")", R"("a\"b")"}, {R"("abcd")", "nul"}},
      {R"({"type":"string","minLength":2,"pattern":"^[a-z]+$"})", {R"("ab")"}, {R"("a")", R"("aB")"}},
      {R"({"enum":["x",1,null,true]})", {R"("x")", "1", "null", "true"}, {"false", R"("y")"}},
      {R"({"const":{"k":[1,2]}})", {R"({"k":[1,2]})"}, {R"({"k":[1]})"}},
      {R"({"type":"array","items":{"type":"integer"},"minItems":1,"maxItems":2})", {"[1]", "[1,2]"}, {"[]", "[1,2,3]"}},
      {R"({"type":"array","prefixItems":[{"type":"string","format":"date"},{"type":"number","minimum":0,"maximum":1}],"items":false,"minItems":2})",
       {R"(["2024-02-28",0.5])", R"(["2024-12-31",1])"}, {R"(["2024-02-30",0.5])", R"(["2024-01-01",1.5])"}},
      {R"({"type":"number","exclusiveMinimum":0,"exclusiveMaximum":1})", {"0.5", "0.001"}, {"0", "1", "0.0", "-0.5"}},
      {R"({"anyOf":[{"type":"string","format":"ipv4"},{"type":"string","format":"ipv6"}]})",
       {R"("10.0.0.1")", R"("2001:db8::1")", R"("::")"}, {R"("010.0.0.1")", R"("256.1.1.1")"}},
      {R"({"$defs":{"n":{"type":"object","properties":{"c":{"type":"array","items":{"$ref":"#/$defs/n"},"maxItems":2}}}},"$ref":"#/$defs/n"})",
       {"{}", R"({"c":[{},{"c":[]}]})"}, {R"({"c":[1]})"}},
      {R"({"allOf":[{"type":"object","properties":{"a":{"type":"string","maxLength":2}},"required":["a"]},{"properties":{"b":{"type":"integer","enum":[1,2]}},"required":["b"]}]})",
       {R"({"a":"x","b":2})"}, {R"({"a":"x"})", R"({"a":"x","b":3})"}},
      {R"({"type":"object","additionalProperties":{"type":"string","maxLength":2}})", {"{}", R"({"k":"v","k2":"ab"})"}, {R"({"k":1})"}},
      {R"({"type":"string","format":"date-time"})", {R"("2024-01-31T23:59:59Z")", R"("2024-01-31T00:00:00.5+05:30")"}, {R"("2024-01-31T24:00:00Z")", R"("2024-01-31T10:00:00")"}},
      {R"({"type":"string","format":"email","maxLength":20})", {R"("a.b@example.com")"}, {R"("a@@b")", R"("averyveryverylongname@example.com")"}},
      {R"({"type":"integer","exclusiveMinimum":0.5,"maximum":3.7})", {"1", "3"}, {"0", "4", "1.5"}},
  };
  for (const auto& c : cases) {
    auto g = MustCompile(CompileJsonSchema(c.schema));
    ASSERT_TRUE(g) << c.schema;
    for (const char* s : c.good) EXPECT_TRUE(GrammarAccepts(g, s)) << c.schema << " should accept " << s;
    for (const char* s : c.bad) EXPECT_FALSE(GrammarAccepts(g, s)) << c.schema << " should refuse " << s;
  }
}

TEST(ConstrainSchema, RefusalsNameKeywordAndPointer) {
  const std::vector<std::pair<const char*, std::string>> cases = {
      {R"({"type":"object","properties":{"x":{"type":"string","not":{"const":"a"}}}})", "'not' at /properties/x/not"},
      {R"({"type":"array","contains":{"type":"string"}})", "'contains' at /contains"},
      {R"({"type":"integer","multipleOf":3})", "'multipleOf' at /multipleOf"},
      {R"({"type":"object","minProperties":1})", "'minProperties' at /minProperties"},
      {R"({"$ref":"https://example.com/s.json"})", "'$ref' at /$ref"},
      {R"({"enum":[]})", "'enum' at /enum"},
      {R"({"type":"string","const":3})", "'const' at /const"},
      {R"({"type":"object","properties":{},"required":["a"],"additionalProperties":false})", "'required' at /required"},
      {R"({"type":"integer","minimum":1.2,"maximum":1.8})", "'minimum' at /"},
      {R"({"$defs":{"a":{"type":"object","properties":{"x":{"$ref":"#/$defs/a"}},"required":["x"]}},"$ref":"#/$defs/a"})", "no finite instance"},
      {R"({"type":"string","pattern":"(?<=a)b"})", "'pattern' at /pattern"},
      {R"({"type":"string","format":"duration"})", "'format' at /format"},
      {R"({"type":"strin"})", "'type' at /type"},
  };
  for (const auto& [schema, want] : cases) {
    auto g = CompileJsonSchema(schema);
    ASSERT_FALSE(g.ok()) << schema;
    EXPECT_NE(g.status().message().find(want), std::string::npos) << schema << " -> " << g.status().message();
  }
}

// Brute force: token t is allowed iff feeding its bytes keeps the recognizer alive.
void CheckMaskAgainstBruteForce(GrammarPtr g, std::shared_ptr<const TokenTrie> trie, int steps, uint32_t seed,
                                std::shared_ptr<MaskCache> cache = nullptr) {
  Matcher m = cache ? Matcher(g, trie, cache) : Matcher(g, trie);
  std::mt19937 rng(seed);
  TokenMask mask;
  for (int step = 0; step < steps; ++step) {
    m.ComputeMask(&mask);
    std::vector<int32_t> allowed;
    Recognizer r = m.recognizer();
    StackSet a, b;
    for (int32_t t = 0; t < trie->n_vocab; ++t) {
      const std::string& piece = trie->pieces[static_cast<size_t>(t)];
      bool ok = !piece.empty();
      r.BeginScratch();
      a = r.state();
      for (size_t k = 0; ok && k < piece.size(); ++k) {
        r.Advance(a, static_cast<uint8_t>(piece[k]), &b);
        ok = !b.empty();
        std::swap(a, b);
      }
      r.EndScratch();
      ASSERT_EQ(ok, MaskHas(mask, t)) << "step " << step << " token " << t << " '" << trie->pieces[static_cast<size_t>(t)] << "'";
      if (ok) allowed.push_back(t);
    }
    if (allowed.empty()) {
      EXPECT_TRUE(m.CanEnd()) << "dead end at step " << step;
      return;
    }
    if (m.CanEnd() && rng() % 4 == 0) return;
    ASSERT_TRUE(m.Accept(allowed[rng() % allowed.size()]).ok());
  }
}

TEST(ConstrainMask, SyntheticVocabMatchesBruteForce) {
  std::mt19937 rng(7);
  const std::string alphabet = "{}[]\":,.-0123456789aeiouxyz tfnrl\\/_@é";
  std::vector<std::string> pieces = {""};  // token 0: special
  for (int b = 0; b < 256; ++b) pieces.push_back(std::string(1, static_cast<char>(b)));
  for (int i = 0; i < 3000; ++i) {
    std::string p;
    const int len = 1 + static_cast<int>(rng() % 6);
    while (static_cast<int>(p.size()) < len) {
      const size_t k = rng() % alphabet.size();
      p += alphabet[k];
      if (static_cast<unsigned char>(alphabet[k]) >= 0x80) p += alphabet[k + 1];
    }
    pieces.push_back(p);
  }
  auto trie = TokenTrie::Build(pieces);
  const char* schemas[] = {
      R"({"type":"object","properties":{"id":{"type":"string","pattern":"^[a-z]{2,4}-[0-9]{1,3}$"},"n":{"type":"number","minimum":-2,"maximum":50},"tags":{"type":"array","items":{"type":"string","maxLength":5},"maxItems":3},"ok":{"type":["boolean","null"]}},"required":["id","n","tags"]})",
      R"({"type":"object","properties":{"when":{"type":"string","format":"date-time"},"ip":{"anyOf":[{"type":"string","format":"ipv4"},{"type":"string","format":"ipv6"}]}},"required":["when","ip"]})",
  };
  uint32_t seed = 1;
  for (const char* s : schemas) {
    auto g = MustCompile(CompileJsonSchema(s));
    ASSERT_TRUE(g);
    for (int run = 0; run < 4; ++run) CheckMaskAgainstBruteForce(g, trie, 60, seed++);
  }
  auto obj = MustCompile(CompileJsonObject());
  CheckMaskAgainstBruteForce(obj, trie, 60, 99);
  auto gb = MustCompile(CompileGbnf(ReadFile(kData + "/grammars/logfmt-line.gbnf")));
  CheckMaskAgainstBruteForce(gb, trie, 60, 5);
}

TEST(ConstrainMask, Gemma3VocabMatchesBruteForce) {
  auto f = GgufFile::Open(std::string(GEMRUN_TEST_DATA) + "/tokenizer/gemma3-vocab.gguf");
  ASSERT_TRUE(f.ok()) << f.status().message();
  auto tok = Tokenizer::FromGguf(**f);
  ASSERT_TRUE(tok.ok()) << tok.status().message();
  auto trie = TokenTrie::FromTokenizer(**tok);
  EXPECT_EQ(trie->n_vocab, 262144);
  // Special tokens are never in a mask.
  EXPECT_TRUE(trie->pieces[static_cast<size_t>((*tok)->vocab().eos())].empty());
  auto g = MustCompile(CompileJsonSchema(ReadFile(kData + "/alert-triage.json")));
  ASSERT_TRUE(g);
  CheckMaskAgainstBruteForce(g, trie, 8, 3);
  auto gb = MustCompile(CompileGbnf(ReadFile(kData + "/grammars/syslog-line.gbnf")));
  CheckMaskAgainstBruteForce(gb, trie, 6, 4);
}


std::shared_ptr<const TokenTrie> VocabTrie(const std::string& path) {
  auto f = GgufFile::Open(path);
  EXPECT_TRUE(f.ok()) << f.status().message();
  if (!f.ok()) return nullptr;
  auto tok = Tokenizer::FromGguf(**f);
  EXPECT_TRUE(tok.ok()) << tok.status().message();
  return tok.ok() ? TokenTrie::FromTokenizer(**tok) : nullptr;
}

TEST(ConstrainMask, Gemma4VocabMatchesBruteForce) {
  auto trie = VocabTrie(std::string(GEMRUN_TEST_DATA) + "/testdata/models/g4-tiny-q8_0.gguf");
  ASSERT_TRUE(trie);
  uint32_t seed = 11;
  for (const char* f : {"/alert-triage.json", "/dns-record-change.json", "/k8s-deployment.json"}) {
    auto g = MustCompile(CompileJsonSchema(ReadFile(kData + f)));
    ASSERT_TRUE(g);
    for (int run = 0; run < 3; ++run) CheckMaskAgainstBruteForce(g, trie, 40, seed++);
  }
}

// Masks from a cache warmed by other requests and another schema equal masks computed with a
// fresh cache, step by step; a cache too small to keep anything (emptied on every insert) too.
TEST(ConstrainMask, SharedCacheEqualsFreshCompute) {
  auto trie = VocabTrie(std::string(GEMRUN_TEST_DATA) + "/tokenizer/gemma3-vocab.gguf");
  ASSERT_TRUE(trie);
  auto tiny = std::make_shared<MaskCache>(1);
  uint32_t seed = 21;
  for (const char* f : {"/log-line-parse.json", "/nginx-access-parse.json", "/log-line-parse.json"}) {
    auto g = MustCompile(CompileJsonSchema(ReadFile(kData + f)));
    ASSERT_TRUE(g);
    Matcher shared(g, trie), fresh(g, trie, std::make_shared<MaskCache>()), small(g, trie, tiny);
    std::mt19937 rng(seed++);
    TokenMask a, b, c;
    for (int step = 0; step < 40; ++step) {
      shared.ComputeMask(&a);
      fresh.ComputeMask(&b);
      small.ComputeMask(&c);
      ASSERT_EQ(a, b) << f << " step " << step;
      ASSERT_EQ(a, c) << f << " step " << step;
      std::vector<int32_t> allowed;
      for (int32_t t = 0; t < trie->n_vocab; ++t)
        if (MaskHas(a, t)) allowed.push_back(t);
      if (allowed.empty()) break;
      const int32_t t = allowed[rng() % allowed.size()];
      ASSERT_TRUE(shared.Accept(t).ok() && fresh.Accept(t).ok() && small.Accept(t).ok());
    }
  }
  const MaskCache::Stats st = trie->mask_cache->stats();
  EXPECT_GT(st.hits, 0u);
  EXPECT_GT(st.class_tries, 0u);
  EXPECT_GT(tiny->stats().clears, 0u);
}

// The folded (byte-class) walk gives the entry of the direct vocabulary-trie walk, for every
// state of several automata (free string body, formats, numbers).
TEST(ConstrainMask, ClassTrieEntryEqualsDirectWalk) {
  auto trie = VocabTrie(std::string(GEMRUN_TEST_DATA) + "/tokenizer/gemma3-vocab.gguf");
  ASSERT_TRUE(trie);
  auto g = MustCompile(CompileJsonSchema(
      R"({"type":"object","properties":{"h":{"type":"string","format":"hostname"},"s":{"type":"string","maxLength":9},)"
      R"("n":{"type":"number","minimum":-3,"maximum":70.5},"t":{"type":"string","format":"date-time"}},"required":["h","s","n","t"]})"));
  ASSERT_TRUE(g);
  auto flatten = [&](const MaskEntry& e) {
    std::map<std::pair<int32_t, int32_t>, std::vector<uint64_t>> groups;
    for (const MaskGroup& gr : e.groups) {
      auto& m = groups[{gr.end_state, gr.cp}];
      m.resize((static_cast<size_t>(trie->n_vocab) + 63) / 64);
      for (auto [w, bits] : gr.words) m[w] |= bits;
    }
    std::set<std::tuple<int32_t, int32_t, int32_t>> exits;
    for (const MaskExit& x : e.exits) exits.insert({x.node, x.state, x.cp});
    return std::make_pair(groups, exits);
  };
  FollowBytes follow{};
  for (int b : {'"', ',', '}', '.', 'e'}) follow[static_cast<size_t>(b) >> 6] |= uint64_t{1} << (b & 63);
  int checked = 0;
  for (const Dfa& d : g->dfas) {
    if (d.n_states < 3) continue;
    const ClassTrie ct = BuildClassTrie(*trie, d, follow);
    for (int s = 0; s < d.n_states; s += std::max(1, d.n_states / 6)) {
      EXPECT_EQ(flatten(ComputeMaskEntryByClass(ct, trie->n_vocab, d, s)), flatten(ComputeMaskEntry(*trie, 0, d, s, follow)))
          << "dfa with " << d.n_states << " states, state " << s;
      ++checked;
    }
  }
  EXPECT_GT(checked, 10);
}

}  // namespace
}  // namespace gemrun::constrain
