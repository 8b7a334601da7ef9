// Tool calling: declarations and tool_choice checks, the call grammar in both syntaxes (random
// walks through the token matcher always give calls that parse and validate; an undeclared
// name is impossible, checked against brute force over a small vocabulary), the Gemma 4 call
// parser (incl. malformed input) and history rendering.
#include <gtest/gtest.h>

#include <random>

#include "constrain/tool_grammar.h"
#include "engine/tool_calls.h"
#include "engine/tool_stream.h"

namespace gemrun {
namespace {

using constrain::ToolSyntax;
using Json = nlohmann::ordered_json;

const char* kTools = R"([
 {"type":"function","function":{"name":"get_logs","description":"Fetch logs.","parameters":{"type":"object",
   "properties":{"unit":{"type":"string","pattern":"^[a-z]{1,6}\\.service$"},"lines":{"type":"integer","minimum":1,"maximum":500}},
   "required":["unit","lines"],"additionalProperties":false}}},
 {"type":"function","function":{"name":"restart","parameters":{"type":"object",
   "properties":{"host":{"type":"string","enum":["web-1","db-2"]},"force":{"type":"boolean"},
     "tags":{"type":"array","items":{"type":"string","maxLength":4},"maxItems":2}},
   "required":["host"],"additionalProperties":false}}}
])";

std::vector<constrain::ToolDecl> Decls() {
  auto d = constrain::ParseToolDecls(std::string_view(kTools));
  EXPECT_TRUE(d.ok()) << d.status().message();
  return *d;
}

constrain::GrammarPtr Grammar(std::string_view choice, ToolSyntax syntax) {
  const auto decls = Decls();
  auto c = constrain::ParseToolChoice(choice, decls);
  EXPECT_TRUE(c.ok()) << c.status().message();
  auto g = constrain::CompileToolGrammar(decls, *c, syntax);
  EXPECT_TRUE(g.ok()) << g.status().message();
  return *g;
}

// Whether `args` validates against the function's parameters (via the JSON Schema grammar).
bool Validates(const std::string& name, const Json& args) {
  for (const auto& d : Decls())
    if (d.name == name) {
      auto g = constrain::CompileJsonSchema(d.parameters.dump());
      return g.ok() && constrain::GrammarAccepts(*g, args.dump());
    }
  return false;
}

TEST(ToolDecls, Refusals) {
  EXPECT_FALSE(constrain::ParseToolDecls(std::string_view("{}")).ok());
  auto dup = constrain::ParseToolDecls(std::string_view(R"([{"name":"a"},{"type":"function","function":{"name":"a"}}])"));
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.status().message().find("'a'"), std::string::npos);
  EXPECT_FALSE(constrain::ParseToolDecls(std::string_view(R"([{"name":"bad name"}])")).ok());
  auto c = constrain::ParseToolChoice("delete_cluster", Decls());
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("delete_cluster"), std::string::npos);
  auto bad = constrain::ParseToolDecls(std::string_view(
      R"([{"name":"f","parameters":{"type":"object","properties":{"a":{"type":"array","uniqueItems":true}}}}])"));
  ASSERT_TRUE(bad.ok());
  auto g = constrain::CompileToolGrammar(*bad, {}, ToolSyntax::kJson);
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("uniqueItems"), std::string::npos);
  EXPECT_NE(g.status().message().find("'f'"), std::string::npos);
}

TEST(ToolGrammar, JsonSyntax) {
  auto g = Grammar("required", ToolSyntax::kJson);
  const std::string call = "<tool_call>\n{\"name\":\"get_logs\",\"arguments\":{\"unit\":\"nginx.service\",\"lines\":50}}\n</tool_call>";
  EXPECT_TRUE(constrain::GrammarAccepts(g, call));
  EXPECT_TRUE(constrain::GrammarAccepts(g, call + "\n" + call));
  EXPECT_FALSE(constrain::GrammarAccepts(g, "hello"));
  EXPECT_FALSE(constrain::GrammarAccepts(g, "<tool_call>\n{\"name\":\"drop_db\",\"arguments\":{}}\n</tool_call>"));
  EXPECT_FALSE(constrain::GrammarAccepts(g, "<tool_call>\n{\"name\":\"get_logs\",\"arguments\":{\"unit\":\"x\",\"lines\":50}}\n</tool_call>"));
  auto named = Grammar("restart", ToolSyntax::kJson);
  EXPECT_FALSE(constrain::GrammarAccepts(named, call));
  EXPECT_TRUE(constrain::GrammarAccepts(named, "<tool_call>\n{\"name\":\"restart\",\"arguments\":{\"host\":\"db-2\"}}\n</tool_call>"));
  auto aut = Grammar("auto", ToolSyntax::kJson);
  EXPECT_TRUE(constrain::GrammarAccepts(aut, call));
  EXPECT_TRUE(constrain::GrammarAccepts(aut, "Check the disk first. <tool_call> is how I call."));
  EXPECT_TRUE(constrain::GrammarAccepts(aut, ""));
  // A cut call is not free text: it cannot end there.
  EXPECT_FALSE(constrain::GrammarAccepts(aut, "<tool_call>\n{\"name\":\"get_"));
  EXPECT_FALSE(Grammar("none", ToolSyntax::kJson));
}

TEST(ToolGrammar, Gemma4Syntax) {
  auto g = Grammar("required", ToolSyntax::kGemma4);
  const std::string call = "<|tool_call>call:get_logs{unit:<|\"|>nginx.service<|\"|>,lines:50}<tool_call|>";
  EXPECT_TRUE(constrain::GrammarAccepts(g, call));
  EXPECT_TRUE(constrain::GrammarAccepts(g, call + call));
  EXPECT_TRUE(constrain::GrammarAccepts(
      g, "<|tool_call>call:restart{host:<|\"|>web-1<|\"|>,tags:[<|\"|>a<|\"|>]}<tool_call|>"));
  EXPECT_FALSE(constrain::GrammarAccepts(g, "<|tool_call>call:get_logs{\"unit\":\"nginx.service\",\"lines\":50}<tool_call|>"));
  EXPECT_FALSE(constrain::GrammarAccepts(g, "<|tool_call>call:drop{}<tool_call|>"));
  auto parsed = ParseToolCalls(call, ToolSyntax::kGemma4);
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  ASSERT_EQ(parsed->calls.size(), 1u);
  EXPECT_EQ(parsed->calls[0].arguments, Json::parse(R"({"unit":"nginx.service","lines":50})"));
}

TEST(ToolCallParser, Gemma4) {
  auto p = ParseToolCalls("Let me look.<|tool_call>call:f{a:<|\"|>x, y<|\"|>,b:[1,2.5,true,null],c:{d:<|\"|>q\\\"<|\"|>}}"
                          "<tool_call|><|tool_response>",
                          ToolSyntax::kGemma4);
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->content, "Let me look.");
  ASSERT_EQ(p->calls.size(), 1u);
  EXPECT_EQ(p->calls[0].name, "f");
  EXPECT_EQ(p->calls[0].arguments, Json::parse(R"({"a":"x, y","b":[1,2.5,true,null],"c":{"d":"q\""}})"));
  for (const char* bad : {"<|tool_call>call:f{a:1", "<|tool_call>call:f{a:<|\"|>x}<tool_call|>",
                          "<|tool_call>call:{a:1}<tool_call|>", "<|tool_call>call:f{a:1,}<tool_call|>",
                          "<|tool_call>call:f{a:nope}<tool_call|>", "<|tool_call>call:f{a:1}}<tool_call|>",
                          "<|tool_call>call:f{a:1}<tool_call|> trailing", "<|tool_call>call:f{:1}<tool_call|>"})
    EXPECT_FALSE(ParseToolCalls(bad, ToolSyntax::kGemma4).ok()) << bad;
  EXPECT_FALSE(Gemma4ArgsToJson("{a:[1,2}").ok());
  auto none = ParseToolCalls("just text", ToolSyntax::kGemma4);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->calls.empty());
}

TEST(ToolCallParser, JsonSyntax) {
  auto p = ParseToolCalls("<tool_call>\n{\"name\":\"f\",\"arguments\":{\"a\":1}}\n</tool_call>\n<tool_call>\n"
                          "{\"name\":\"g\",\"arguments\":{}}\n</tool_call>",
                          ToolSyntax::kJson);
  ASSERT_TRUE(p.ok()) << p.status().message();
  ASSERT_EQ(p->calls.size(), 2u);
  EXPECT_EQ(p->calls[1].name, "g");
  EXPECT_FALSE(ParseToolCalls("<tool_call>\n{\"name\":\"f\"}\n</tool_call>", ToolSyntax::kJson).ok());
  EXPECT_FALSE(ParseToolCalls("<tool_call>\n{\"name\":\"f\",\"arguments\":{}}", ToolSyntax::kJson).ok());
  auto text = ParseToolCalls("  plain answer ", ToolSyntax::kJson);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(text->content, "plain answer");
}

// A small vocabulary: every printable byte plus multi-byte pieces that cross terminals.
std::shared_ptr<const constrain::TokenTrie> SmallVocab() {
  std::vector<std::string> pieces;
  for (int c = 32; c < 127; ++c) pieces.emplace_back(1, static_cast<char>(c));
  for (const char* p : {"\n", "<tool_call>", "<tool_call>\n{\"", "name", "\":\"", "get_logs", "get", "_logs\",",
                        "restart", "drop", "\"arguments\":{", "}}\n</tool_call>", "\n</", "<|tool_call>", "call:",
                        "<|\"|>", "<tool_call|>", "web-1", ".service", "true", "},", "\":", ":<|\"|>", "<|\"|>,"})
    pieces.emplace_back(p);
  return constrain::TokenTrie::Build(pieces);
}

void RandomWalks(ToolSyntax syntax, const std::string& choice) {
  auto g = Grammar(choice, syntax);
  auto vocab = SmallVocab();
  std::mt19937 rng(7);
  int ended = 0;
  for (int walk = 0; walk < 60; ++walk) {
    constrain::Matcher m(g, vocab);
    std::string text;
    std::vector<std::string> pieces;  // as generated, for the streaming reader
    constrain::TokenMask mask;
    for (int step = 0; step < 400; ++step) {
      if (m.CanEnd() && rng() % 4 == 0) break;
      m.ComputeMask(&mask);
      std::vector<int32_t> ok;
      for (int32_t t = 0; t < vocab->n_vocab; ++t)
        if (constrain::MaskHas(mask, t)) ok.push_back(t);
      if (ok.empty()) break;
      const int32_t t = ok[rng() % ok.size()];
      ASSERT_TRUE(m.Accept(t).ok());
      text += vocab->pieces[static_cast<size_t>(t)];
      pieces.push_back(vocab->pieces[static_cast<size_t>(t)]);
    }
    if (!m.CanEnd()) continue;
    ++ended;
    auto p = ParseToolCalls(text, syntax);
    ASSERT_TRUE(p.ok()) << p.status().message() << "\n" << text;
    if (choice != "auto") EXPECT_FALSE(p->calls.empty()) << text;
    for (const ToolCall& c : p->calls) {
      EXPECT_TRUE(c.name == "get_logs" || c.name == "restart") << text;
      if (choice == "restart") EXPECT_EQ(c.name, "restart");
      EXPECT_TRUE(Validates(c.name, c.arguments)) << c.arguments.dump() << "\n" << text;
    }
    // Streamed token by token, the same content and calls come out.
    ToolCallStreamer stream(syntax);
    std::string content;
    std::vector<ToolCall> calls;
    for (const std::string& piece : pieces) {
      auto o = stream.Push(piece);
      ASSERT_TRUE(o.ok()) << o.status().message() << "\n" << text;
      content += o->content;
      calls.insert(calls.end(), o->calls.begin(), o->calls.end());
    }
    auto rest = stream.Flush();
    ASSERT_TRUE(rest.ok()) << rest.status().message();
    content += rest->content;
    calls.insert(calls.end(), rest->calls.begin(), rest->calls.end());
    EXPECT_EQ(content, p->content) << text;
    ASSERT_EQ(calls.size(), p->calls.size()) << text;
    for (size_t i = 0; i < calls.size(); ++i) EXPECT_EQ(calls[i].arguments, p->calls[i].arguments) << text;
  }
  EXPECT_GT(ended, 10);
}

TEST(ToolGrammar, RandomWalksJson) { RandomWalks(ToolSyntax::kJson, "required"); }
TEST(ToolGrammar, RandomWalksGemma4) { RandomWalks(ToolSyntax::kGemma4, "required"); }
TEST(ToolGrammar, RandomWalksNamed) { RandomWalks(ToolSyntax::kGemma4, "restart"); }
TEST(ToolGrammar, RandomWalksAutoJson) { RandomWalks(ToolSyntax::kJson, "auto"); }
TEST(ToolGrammar, RandomWalksAutoGemma4) { RandomWalks(ToolSyntax::kGemma4, "auto"); }

// At the name position every token's admission equals feeding its bytes to the recognizer,
// and no token that starts an undeclared name is admitted.
TEST(ToolGrammar, NameMaskMatchesBruteForce) {
  for (ToolSyntax syntax : {ToolSyntax::kJson, ToolSyntax::kGemma4}) {
    auto g = Grammar("required", syntax);
    auto vocab = SmallVocab();
    constrain::Matcher m(g, vocab);
    const std::string prefix = syntax == ToolSyntax::kJson ? "<tool_call>\n{\"name\":\"" : "<|tool_call>call:";
    for (char c : prefix) {
      int32_t id = -1;
      for (int32_t t = 0; t < vocab->n_vocab; ++t)
        if (vocab->pieces[static_cast<size_t>(t)] == std::string(1, c)) id = t;
      ASSERT_GE(id, 0);
      ASSERT_TRUE(m.Accept(id).ok());
    }
    constrain::TokenMask mask;
    m.ComputeMask(&mask);
    for (int32_t t = 0; t < vocab->n_vocab; ++t) {
      constrain::Recognizer r(g);
      const bool brute = r.Feed(prefix) && r.Feed(vocab->pieces[static_cast<size_t>(t)]);
      EXPECT_EQ(constrain::MaskHas(mask, t), brute) << vocab->pieces[static_cast<size_t>(t)];
    }
    for (const char* p : {"drop", "d", "x"}) {
      int32_t id = -1;
      for (int32_t t = 0; t < vocab->n_vocab; ++t)
        if (vocab->pieces[static_cast<size_t>(t)] == p) id = t;
      EXPECT_FALSE(constrain::MaskHas(mask, id)) << p;
    }
  }
}

TEST(ToolPrompt, RenderAndFold) {
  const auto decls = Decls();
  const std::string g4 = RenderToolDeclarations(decls, ToolSyntax::kGemma4);
  EXPECT_NE(g4.find("<|tool>declaration:get_logs{description:<|\"|>Fetch logs.<|\"|>,parameters:{type:<|\"|>OBJECT<|\"|>"),
            std::string::npos)
      << g4;
  std::vector<ToolCall> calls = {{"call_0", "get_logs", Json::parse(R"({"unit":"a.service","lines":5})")}};
  EXPECT_EQ(RenderToolCalls(calls, ToolSyntax::kGemma4),
            "<|tool_call>call:get_logs{unit:<|\"|>a.service<|\"|>,lines:5}<tool_call|>");
  EXPECT_EQ(RenderToolResult("get_logs", "\"ok\"", ToolSyntax::kGemma4),
            "<|tool_response>response:get_logs{value:<|\"|>ok<|\"|>}<tool_response|>");
  std::vector<ChatMessage> msgs = {{"user", "hi"}, {"assistant", "", RenderToolCalls(calls, ToolSyntax::kJson)},
                                   {"tool", "{\"lines\":[]}"}, {"user", "and?"}};
  auto folded = FoldToolMessages(msgs, ChatFormat::kGemma3);
  ASSERT_EQ(folded.size(), 3u);
  EXPECT_EQ(folded[2].role, "user");
  EXPECT_NE(folded[2].content.find("and?"), std::string::npos);
}

TEST(ToolPrompt, Gemma4HistoryStaysInTheModelTurn) {
  std::vector<ToolCall> calls = {{"c1", "get_logs", Json::parse(R"({"unit":"a.service"})")}};
  std::vector<ChatMessage> msgs = {{"user", "hi"},
                                   {"assistant", "", RenderToolCalls(calls, ToolSyntax::kGemma4)},
                                   {"tool", "ok", RenderToolResult("get_logs", "ok", ToolSyntax::kGemma4)}};
  ChatTemplate t(ChatFormat::kGemma4);
  ChatOptions o;
  o.tools_text = RenderToolDeclarations(Decls(), ToolSyntax::kGemma4);
  auto text = t.Render(msgs, o);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(text->substr(0, 27), "<|turn>system\n<|tool>declar");
  const std::string tail = "<|turn>user\nhi<turn|>\n<|turn>model\n"
                           "<|tool_call>call:get_logs{unit:<|\"|>a.service<|\"|>}<tool_call|>"
                           "<|tool_response>response:get_logs{value:<|\"|>ok<|\"|>}<tool_response|>";
  ASSERT_GE(text->size(), tail.size());
  EXPECT_EQ(text->substr(text->size() - tail.size()), tail) << *text;
}

}  // namespace
}  // namespace gemrun
