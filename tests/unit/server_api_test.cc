// Server request mapping: strict JSON reading, OpenAI and Ollama request parsing and
// validation (unsupported fields named), error objects, auth comparison.
#include <gtest/gtest.h>

#include <random>

#include "server/api.h"
#include "server/audio_input.h"
#include "server/ollama.h"
#include "server/openai.h"
#include "server/scheduler.h"
#include "server_test_util.h"

namespace gemrun::server {
namespace {

const RequestLimits kLim{.n_vocab = 1000, .images = {}};  // no projector: images are refused

Json J(const char* s) { return Json::parse(s); }

std::optional<ApiError> Chat(const char* body, ApiRequest* r) { return ParseChatCompletionRequest(J(body), kLim, r); }

TEST(ServerJson, ParsesObjectsAndRejectsOthers) {
  Json j;
  EXPECT_FALSE(ParseJsonBody(R"({"a": 1})", &j));
  auto e = ParseJsonBody("{\"a\": ", &j);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->status, 400);
  EXPECT_NE(e->message.find("not valid JSON"), std::string::npos);
  e = ParseJsonBody("[1, 2]", &j);
  ASSERT_TRUE(e);
  EXPECT_NE(e->message.find("JSON object"), std::string::npos);
  EXPECT_TRUE(ParseJsonBody("", &j));
  EXPECT_TRUE(ParseJsonBody("{\"s\": \"\xff\"}", &j));  // invalid UTF-8
  // A number beyond double's range is a 400, not an escaping exception (found by server_json_fuzz).
  e = ParseJsonBody(R"({"max_tokens": 1e400})", &j);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->status, 400);
  EXPECT_NE(e->message.find("number"), std::string::npos) << e->message;
}

TEST(ServerJson, RefusesDeepNestingBeforeParsing) {
  std::string deep(100000, '[');
  Json j;
  auto e = ParseJsonBody(deep, &j);
  ASSERT_TRUE(e);
  EXPECT_NE(e->message.find("deeper"), std::string::npos);
  // Brackets inside strings do not count.
  EXPECT_FALSE(ParseJsonBody("{\"s\": \"" + std::string(1000, '[') + "\"}", &j));
}

TEST(ServerOpenAI, ChatDefaultsAndFields) {
  ApiRequest r;
  ASSERT_FALSE(Chat(R"({"model": "m", "messages": [{"role": "system", "content": "be brief"},
                       {"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "text", "text": "!"}]}],
                       "max_completion_tokens": 7, "temperature": 0, "stop": ["a", "b"], "seed": 42,
                       "presence_penalty": 0.5, "frequency_penalty": -0.5, "logprobs": true, "top_logprobs": 3,
                       "stream": true, "stream_options": {"include_usage": true}, "logit_bias": {"5": -100}})", &r));
  ASSERT_EQ(r.messages.size(), 2u);
  EXPECT_EQ(r.messages[1].content, "hi!");
  EXPECT_EQ(r.gen.max_tokens, 7);
  EXPECT_EQ(r.gen.sampling.temperature, 0.0f);
  EXPECT_EQ(r.gen.stop, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(r.seed_given);
  EXPECT_EQ(r.gen.sampling.seed, 42u);
  EXPECT_EQ(r.gen.top_logprobs, 3);
  EXPECT_TRUE(r.stream && r.include_usage);
  ASSERT_EQ(r.gen.sampling.logit_bias.size(), 1u);
  EXPECT_EQ(r.gen.sampling.logit_bias[0].first, 5);

  ASSERT_FALSE(Chat(R"({"model": "m", "messages": [{"role": "user", "content": "x"}]})", &r));
  EXPECT_EQ(r.gen.max_tokens, -1);
  EXPECT_EQ(r.gen.sampling.temperature, 1.0f);  // OpenAI defaults
  EXPECT_EQ(r.gen.sampling.top_p, 1.0f);
  EXPECT_FALSE(r.seed_given);
  EXPECT_FALSE(r.stream);
}

// OpenAI's "developer" role is the system role under another name: it reaches the chat template
// as "system" (the Gemma 3 template rejected it as a non-alternating role before).
TEST(ServerOpenAI, DeveloperRoleIsSystem) {
  ApiRequest r;
  ASSERT_FALSE(Chat(R"({"model": "m", "messages": [{"role": "developer", "content": "be brief"},
                       {"role": "user", "content": "hi"}]})", &r));
  ASSERT_EQ(r.messages.size(), 2u);
  EXPECT_EQ(r.messages[0].role, "system");
  EXPECT_EQ(r.messages[0].content, "be brief");
  EXPECT_EQ(r.messages[1].role, "user");
}

TEST(ServerOpenAI, UnsupportedFieldsAreNamed) {
  ApiRequest r;
  for (const char* f : {"functions", "n_probs", "audio", "whatever"}) {
    const std::string body = std::string(R"({"model": "m", "messages": [{"role": "user", "content": "x"}], ")") + f +
                             R"(": 1})";
    auto e = ParseChatCompletionRequest(J(body.c_str()), kLim, &r);
    ASSERT_TRUE(e) << f;
    EXPECT_EQ(e->status, 400);
    EXPECT_EQ(e->param, f);
    EXPECT_EQ(e->code, "unsupported_parameter");
  }
  auto e = Chat(R"({"model": "m", "messages": [{"role": "user", "content": "x"}], "n": 2})", &r);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->param, "n");
  e = Chat(R"({"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]})", &r);
  ASSERT_TRUE(e);  // without --mmproj
  EXPECT_EQ(e->param, "messages[0].content[0]");
  EXPECT_EQ(e->code, "images_not_enabled");
  EXPECT_NE(e->message.find("--mmproj"), std::string::npos);
  // input_audio parts (audio_input.cc) are parsed; their faults name the field.
  e = Chat(R"({"model": "m", "messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]})", &r);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->param, "messages[0].content[0].input_audio.data");
  EXPECT_EQ(e->code, "missing_required_parameter");
  e = Chat(R"({"model": "m", "messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "ogg"}}]}]})", &r);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->param, "messages[0].content[0].input_audio.format");
  EXPECT_NE(e->message.find("supported: wav, mp3, flac"), std::string::npos) << e->message;
  e = Chat(R"({"model": "m", "messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "%%%", "format": "wav"}}]}]})", &r);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->param, "messages[0].content[0].input_audio.data");
  e = Chat(R"({"model": "m", "messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav", "x": 1}}]}]})", &r);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->param, "messages[0].content[0].input_audio.x");
  e = Chat(R"({"model": "m", "messages": [{"role": "assistant", "content": [{"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}}]}]})", &r);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->param, "messages[0].content[0].type");
  EXPECT_FALSE(Chat(R"({"model": "m", "messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}}]}]})", &r));
  ASSERT_EQ(r.images.size(), 1u);
  EXPECT_TRUE(r.images[0].audio);
  EXPECT_EQ(r.images[0].bytes, "RIFF");
  EXPECT_NE(r.messages[0].content.find(kAudioSlot), std::string::npos);
  e = Chat("{\"model\": \"m\", \"messages\": [{\"role\": \"user\", \"content\": \"a\\u001fgemrun-audio\\u001fb\"}]}", &r);
  ASSERT_TRUE(e);  // a forged audio slot
  EXPECT_EQ(e->param, "messages[0].content");
  e = Chat(R"({"model": "m", "messages": [{"role": "user", "content": "x", "name": "bob"}]})", &r);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->param, "messages[0].name");
  e = Chat(R"({"model": "m", "messages": [{"role": "user", "content": "x"}], "response_format": {"type": "json_schema", "json_schema": {"schema": {"type": "array", "uniqueItems": true}}}})", &r);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->param, "response_format.json_schema.schema");
  EXPECT_NE(e->message.find("uniqueItems"), std::string::npos);
  e = Chat(R"({"model": "m", "messages": [{"role": "user", "content": "x"}], "response_format": {"type": "xml"}})", &r);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->param, "response_format.type");
  EXPECT_FALSE(Chat(R"({"model": "m", "messages": [{"role": "user", "content": "x"}], "response_format": {"type": "json_object"}})", &r));
  EXPECT_TRUE(r.gen.grammar);
  EXPECT_FALSE(Chat(R"({"model": "m", "messages": [{"role": "user", "content": "x"}], "response_format": {"type": "text"}, "n": 1, "user": "u"})", &r));
}

TEST(ServerOpenAI, WrongTypesAndRanges) {
  ApiRequest r;
  struct Case {
    const char* extra;
    const char* param;
  } cases[] = {
      {R"("max_tokens": "10")", "max_tokens"},   {R"("max_tokens": 0)", "max_tokens"},
      {R"("max_tokens": 1.5)", "max_tokens"},    {R"("temperature": 3)", "temperature"},
      {R"("temperature": "hot")", "temperature"}, {R"("top_p": -1)", "top_p"},
      {R"("stop": 5)", "stop"},                  {R"("stop": ["a", 1])", "stop[1]"},
      {R"("stop": [""])", "stop[0]"},            {R"("stream": "yes")", "stream"},
      {R"("top_logprobs": 50, "logprobs": true)", "top_logprobs"},
      {R"("logit_bias": {"99999": 1})", "logit_bias.99999"},
      {R"("max_tokens": 1e300)", "max_tokens"},
      {R"("max_tokens": 99999999999999999999)", "max_tokens"},
  };
  for (const Case& c : cases) {
    const std::string body = std::string(R"({"model": "m", "messages": [{"role": "user", "content": "x"}], )") + c.extra + "}";
    auto e = ParseChatCompletionRequest(J(body.c_str()), kLim, &r);
    ASSERT_TRUE(e) << c.extra;
    EXPECT_EQ(e->status, 400) << c.extra;
    EXPECT_EQ(e->param, c.param) << c.extra;
  }
  EXPECT_TRUE(Chat(R"({"messages": [{"role": "user", "content": "x"}]})", &r));
  EXPECT_TRUE(Chat(R"({"model": "m"})", &r));
  EXPECT_TRUE(Chat(R"({"model": "m", "messages": []})", &r));
  EXPECT_TRUE(Chat(R"({"model": "m", "messages": [{"role": "tool", "content": "x"}]})", &r));
  EXPECT_TRUE(Chat(R"({"model": "m", "messages": [{"role": "user", "content": "x"}], "stream_options": {"include_usage": true}})", &r));
  // A huge max_tokens is valid: generation stops at the context.
  EXPECT_FALSE(Chat(R"({"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 1000000000000})", &r));
  // Nulls mean "absent".
  EXPECT_FALSE(Chat(R"({"model": "m", "messages": [{"role": "user", "content": "x"}], "stop": null, "seed": null})", &r));
}

TEST(ServerOpenAI, Completions) {
  ApiRequest r;
  ASSERT_FALSE(ParseCompletionRequest(J(R"({"model": "m", "prompt": "Once", "logprobs": 2})"), kLim, &r));
  EXPECT_EQ(r.prompt, "Once");
  EXPECT_FALSE(r.use_template);
  EXPECT_EQ(r.gen.max_tokens, 16);  // legacy default
  EXPECT_TRUE(r.gen.logprobs);
  EXPECT_EQ(r.gen.top_logprobs, 2);
  ASSERT_FALSE(ParseCompletionRequest(J(R"({"model": "m", "prompt": ["Once"]})"), kLim, &r));
  auto e = ParseCompletionRequest(J(R"({"model": "m", "prompt": ["a", "b"]})"), kLim, &r);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->param, "prompt");
  e = ParseCompletionRequest(J(R"({"model": "m", "prompt": "a", "echo": true})"), kLim, &r);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->param, "echo");
  e = ParseCompletionRequest(J(R"({"model": "m", "prompt": "a", "suffix": "b"})"), kLim, &r);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->param, "suffix");
}

TEST(ServerOllama, ChatAndGenerate) {
  ApiRequest r;
  ASSERT_FALSE(ParseOllamaChatRequest(J(R"({"model": "m", "messages": [{"role": "user", "content": "hi"}],
                                          "options": {"num_predict": 5, "temperature": 0, "stop": ["x"], "seed": 1}})"),
                                      kLim, 4096, &r));
  EXPECT_TRUE(r.stream);  // Ollama streams by default
  EXPECT_EQ(r.gen.max_tokens, 5);
  EXPECT_EQ(r.gen.stop.size(), 1u);
  EXPECT_EQ(r.gen.sampling.top_k, 40);
  auto e = ParseOllamaChatRequest(J(R"({"model": "m", "messages": [], "options": {"mirostat": 1}})"), kLim, 4096, &r);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->param, "options.mirostat");
  e = ParseOllamaChatRequest(J(R"({"model": "m", "messages": [{"role": "user", "content": "x"}], "options": {"num_ctx": 99999}})"),
                             kLim, 4096, &r);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->param, "options.num_ctx");
  e = ParseOllamaChatRequest(J(R"({"model": "m", "messages": [{"role": "user", "content": "x", "images": ["AAAA"]}]})"),
                             kLim, 4096, &r);
  ASSERT_TRUE(e);  // without --mmproj
  EXPECT_EQ(e->param, "messages[0].images[0]");
  EXPECT_EQ(e->code, "images_not_enabled");

  ASSERT_FALSE(ParseOllamaGenerateRequest(J(R"({"model": "m", "prompt": "p", "system": "s", "stream": false})"), kLim, 4096, &r));
  EXPECT_TRUE(r.use_template);
  ASSERT_EQ(r.messages.size(), 2u);
  EXPECT_EQ(r.messages[0].role, "system");
  ASSERT_FALSE(ParseOllamaGenerateRequest(J(R"({"model": "m", "prompt": "p", "raw": true})"), kLim, 4096, &r));
  EXPECT_FALSE(r.use_template);
  e = ParseOllamaGenerateRequest(J(R"({"model": "m", "prompt": "p", "context": [1, 2]})"), kLim, 4096, &r);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->param, "context");
}

TEST(ServerErrors, OpenAIAndOllamaShapes) {
  const ApiError e = ApiError::Unsupported("tools");
  const Json o = OpenAIErrorJson(e);
  EXPECT_EQ(o["error"]["param"], "tools");
  EXPECT_EQ(o["error"]["type"], "invalid_request_error");
  EXPECT_EQ(o["error"]["code"], "unsupported_parameter");
  EXPECT_NE(o["error"]["message"].get<std::string>().find("tools"), std::string::npos);
  const Json n = OpenAIErrorJson(ApiError::Of(500, "server_error", "boom"));
  EXPECT_TRUE(n["error"]["param"].is_null());
  EXPECT_TRUE(n["error"]["code"].is_null());
  EXPECT_EQ(OllamaErrorJson(e)["error"], e.message);
}

TEST(ServerAuth, BearerComparison) {
  EXPECT_TRUE(ConstantTimeEquals("secret", "secret"));
  EXPECT_FALSE(ConstantTimeEquals("secret", "secreT"));
  EXPECT_FALSE(ConstantTimeEquals("secret", "secret2"));
  EXPECT_FALSE(ConstantTimeEquals("", "x"));
  EXPECT_TRUE(BearerMatches("Bearer k-123", "k-123"));
  EXPECT_TRUE(BearerMatches("bearer  k-123 ", "k-123"));
  EXPECT_FALSE(BearerMatches("Bearer k-124", "k-123"));
  EXPECT_FALSE(BearerMatches("Basic k-123", "k-123"));
  EXPECT_FALSE(BearerMatches("", "k-123"));
  EXPECT_FALSE(BearerMatches("Bearer ", ""));
}

// A poor man's fuzzer for the untrusted-input path: byte mutations of valid bodies through the
// JSON reader and all four parsers must only ever produce values or ApiErrors.
TEST(ServerFuzz, MutatedBodiesNeverCrash) {
  const std::vector<std::string> seeds = {
      R"({"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}], "stop": ["a"],
          "max_tokens": 5, "logprobs": true, "top_logprobs": 2, "stream": true, "stream_options": {"include_usage": true},
          "logit_bias": {"7": 1.5}, "seed": -3, "temperature": 0.5})",
      R"({"model": "m", "prompt": ["x"], "max_tokens": 16, "logprobs": 3, "echo": false, "best_of": 1})",
      R"({"model": "m", "messages": [{"role": "system", "content": "s"}], "options": {"num_predict": -1, "stop": "x",
          "num_ctx": 64, "repeat_last_n": -1}, "keep_alive": "5m", "format": ""})",
      R"({"model": "m", "prompt": "p", "system": "s", "raw": false, "images": [], "options": {"seed": 1}})"};
  std::mt19937 rng(1234);
  const char kBytes[] = "{}[]\",:0123456789.eE+-truefalsnul \\\x00\xff";
  int parsed = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    std::string b = seeds[iter % seeds.size()];
    MutateBody(b, rng, std::string_view(kBytes, sizeof kBytes - 1));
    Json j;
    if (ParseJsonBody(b, &j)) continue;
    ++parsed;
    ApiRequest r;
    (void)ParseChatCompletionRequest(j, kLim, &r);
    (void)ParseCompletionRequest(j, kLim, &r);
    (void)ParseOllamaChatRequest(j, kLim, 128, &r);
    (void)ParseOllamaGenerateRequest(j, kLim, 128, &r);
  }
  EXPECT_GT(parsed, 1000);  // the mutations keep many bodies valid JSON, so the parsers are exercised
}


TEST(ServerStructured, ToolsAndHistory) {
  ApiRequest r;
  const std::string tools = R"("tools": [{"type": "function", "function": {"name": "get_logs", "parameters": {"type": "object", "properties": {"unit": {"type": "string"}}, "required": ["unit"]}}}])";
  auto body = [&](const std::string& extra) {
    return std::string(R"({"model": "m", "messages": [{"role": "user", "content": "x"}], )") + tools + extra + "}";
  };
  ASSERT_FALSE(Chat(body(R"(, "tool_choice": "required")").c_str(), &r));
  EXPECT_TRUE(r.tools.given);
  EXPECT_EQ(r.tools.choice.mode, constrain::ToolChoiceMode::kRequired);
  ASSERT_FALSE(Chat(body(R"(, "tool_choice": "none")").c_str(), &r));
  EXPECT_FALSE(r.tools.given);
  auto e = Chat(body(R"(, "tool_choice": {"type": "function", "function": {"name": "drop_db"}})").c_str(), &r);
  ASSERT_TRUE(e);
  EXPECT_NE(e->message.find("drop_db"), std::string::npos);
  e = Chat(R"({"model": "m", "messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {"a": {"type": "object", "patternProperties": {}}}}}}]})", &r);
  ASSERT_TRUE(e);
  EXPECT_NE(e->message.find("patternProperties"), std::string::npos);
  EXPECT_NE(e->message.find("'f'"), std::string::npos);
  // An assistant call and its result in the history.
  ASSERT_FALSE(Chat(R"({"model": "m", "messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "get_logs", "arguments": "{\"unit\": \"a\"}"}}]}, {"role": "tool", "tool_call_id": "c1", "content": "ok"}]})", &r));
  ASSERT_EQ(r.tools.messages.size(), 3u);
  EXPECT_EQ(r.tools.messages[1].calls[0].name, "get_logs");
  EXPECT_EQ(r.tools.messages[2].tool_name, "c1");
  e = Chat(R"({"model": "m", "messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "not json"}}]}]})", &r);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->param, "messages[1].tool_calls[0].function.arguments");
  ASSERT_FALSE(Chat(R"({"model": "m", "messages": [{"role": "user", "content": "x"}], "reasoning_effort": "high"})", &r));
  EXPECT_TRUE(r.reasoning);
  EXPECT_EQ(r.reasoning_budget, -1);
}

TEST(ServerApi, ReasoningBudgetFields) {
  ApiRequest r;
  auto with = [](const char* extra) {
    return std::string(R"({"model": "m", "messages": [{"role": "user", "content": "x"}])") + extra + "}";
  };
  // llama-server's names; a budget alone turns thinking on.
  ASSERT_FALSE(Chat(with(R"(, "thinking_budget_tokens": 64)").c_str(), &r));
  EXPECT_TRUE(r.reasoning);
  EXPECT_EQ(r.reasoning_budget, 64);
  ASSERT_FALSE(Chat(with(R"(, "reasoning_effort": "low", "reasoning_budget_tokens": 16)").c_str(), &r));
  EXPECT_TRUE(r.reasoning);
  EXPECT_EQ(r.reasoning_budget, 16);
  // 0: no thought at all; -1: no cap (the server's default applies).
  ASSERT_FALSE(Chat(with(R"(, "reasoning_effort": "high", "reasoning_budget_tokens": 0)").c_str(), &r));
  EXPECT_FALSE(r.reasoning);
  ASSERT_FALSE(Chat(with(R"(, "reasoning_effort": "high", "thinking_budget_tokens": -1)").c_str(), &r));
  EXPECT_TRUE(r.reasoning);
  EXPECT_EQ(r.reasoning_budget, -1);
  // Refused, naming the field.
  auto e = Chat(with(R"(, "reasoning_budget_tokens": 8, "thinking_budget_tokens": 8)").c_str(), &r);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->param, "thinking_budget_tokens");
  e = Chat(with(R"(, "reasoning_effort": "none", "thinking_budget_tokens": 8)").c_str(), &r);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->param, "thinking_budget_tokens");
  e = Chat(with(R"(, "reasoning_budget_tokens": "lots")").c_str(), &r);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->param, "reasoning_budget_tokens");
  e = Chat(with(R"(, "reasoning_budget_tokens": -2)").c_str(), &r);
  ASSERT_TRUE(e);
}

TEST(ServerStructured, AnswerAndErrors) {
  ApiRequest req;
  req.tools.given = true;
  req.tools.syntax = constrain::ToolSyntax::kJson;
  CompletionResult res;
  res.text = "<tool_call>\n{\"name\":\"f\",\"arguments\":{\"a\":1}}\n</tool_call>";
  res.finish = FinishReason::kEog;
  const ResponseMeta meta{.id = "x", .model = "m", .created = 1};
  Json j = ChatCompletionJson(meta, res, req);
  EXPECT_EQ(j["choices"][0]["finish_reason"], "tool_calls");
  EXPECT_TRUE(j["choices"][0]["message"]["content"].is_null());
  EXPECT_EQ(j["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"], "{\"a\":1}");
  res.constraint_error = "generation hit the token limit";
  res.finish = FinishReason::kLength;
  j = ChatCompletionJson(meta, res, req);
  EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(j["error"]["code"], "constraint_incomplete");
  // Thinking: the thought goes to reasoning_content, never to content.
  ApiRequest think;
  think.reasoning = true;
  CompletionResult t;
  t.text = "<|channel>thought\nhmm<channel|>Answer.";
  t.finish = FinishReason::kEog;
  j = ChatCompletionJson(meta, t, think);
  EXPECT_EQ(j["choices"][0]["message"]["content"], "Answer.");
  EXPECT_EQ(j["choices"][0]["message"]["reasoning_content"], "hmm");
}

TEST(ServerStructured, Ollama) {
  ApiRequest r;
  ASSERT_FALSE(ParseOllamaChatRequest(J(R"({"model": "m", "messages": [{"role": "user", "content": "x"}], "format": "json", "think": true})"), kLim, 4096, &r));
  EXPECT_TRUE(r.gen.grammar);
  EXPECT_TRUE(r.reasoning);
  auto e = ParseOllamaChatRequest(J(R"({"model": "m", "messages": [{"role": "user", "content": "x"}], "format": {"type": "object", "dependentSchemas": {}}})"), kLim, 4096, &r);
  ASSERT_TRUE(e);
  EXPECT_NE(e->message.find("dependentSchemas"), std::string::npos);
  ASSERT_FALSE(ParseOllamaChatRequest(J(R"({"model": "m", "messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "f", "arguments": {"a": 1}}}]}, {"role": "tool", "tool_name": "f", "content": "1"}], "tools": [{"type": "function", "function": {"name": "f"}}]})"), kLim, 4096, &r));
  EXPECT_TRUE(r.tools.given);
  EXPECT_EQ(r.tools.messages[1].calls[0].arguments["a"], 1);
}

// The batcher's error kinds keep the HTTP statuses the scheduler answered before it moved to engine/.
TEST(ServerApi, BatcherErrorsMapToHttpStatuses) {
  const std::pair<BatchErrorKind, int> cases[] = {
      {BatchErrorKind::kTooLarge, 400}, {BatchErrorKind::kBusy, 429},     {BatchErrorKind::kCancelled, 499},
      {BatchErrorKind::kTimeout, 504},  {BatchErrorKind::kStopping, 503}, {BatchErrorKind::kInternal, 500}};
  for (const auto& [kind, status] : cases) {
    const ApiError e = ToApiError(BatchError{kind, "why", "code"});
    EXPECT_EQ(e.status, status) << BatchErrorKindName(kind);
    EXPECT_EQ(e.code, "code");
  }
  EXPECT_EQ(ToApiError(BatchError{BatchErrorKind::kBusy, "busy: 4 running", ""}).message, "the server is busy: 4 running");
  EXPECT_FALSE(ToApiError(std::optional<BatchError>()));
}

}  // namespace
}  // namespace gemrun::server
