// Server wire formats: response bodies, stream chunks, SSE / NDJSON framing, Prometheus text,
// the request id's spelling and the 500 for an exception (no internals to the client).
#include <gtest/gtest.h>

#include "server/framing.h"
#include "server/http_internal.h"
#include "server/metrics.h"
#include "server/ollama.h"
#include "server/openai.h"

namespace gemrun::server {
namespace {

CompletionResult Result() {
  CompletionResult r;
  r.text = "Hello";
  r.finish = FinishReason::kStopString;
  r.usage = {.prompt_tokens = 10, .cached_tokens = 4, .completion_tokens = 2};
  TokenOut a, b;
  a.text = "Hel";
  a.piece = "Hel";
  a.logprob = -0.5f;
  a.top = {{"Hel", -0.5f}, {"He", -1.5f}};
  b.text = "lo";
  b.piece = "lo";
  b.logprob = -0.25f;
  r.tokens = {a, b};
  return r;
}

// Before: the 500 said "internal error: <what()>", which can name paths and library state.
TEST(ServerWire, AnExceptionIsAGeneric500WithTheRequestId) {
  httplib::Request req;
  req.path = "/v1/chat/completions";
  httplib::Response res;
  CurrentLog() = RequestLog{};
  CurrentLog().id = 42;
  SendInternalError(req, res, std::make_exception_ptr(std::runtime_error("open /secret/path failed")));
  EXPECT_EQ(res.status, 500);
  EXPECT_EQ(res.body.find("/secret/path"), std::string::npos) << res.body;
  EXPECT_NE(res.body.find("req-000042"), std::string::npos) << res.body;
  EXPECT_NE(CurrentLog().error.find("/secret/path"), std::string::npos);  // the log keeps it
  EXPECT_EQ(RequestIdText(42), "req-000042");
  CurrentLog() = RequestLog{};
}

const ResponseMeta kMeta{.id = "chatcmpl-1", .model = "m", .created = 1700000000};

TEST(ServerWire, ChatCompletionBody) {
  ApiRequest req;
  req.gen.logprobs = true;
  const Json j = ChatCompletionJson(kMeta, Result(), req);
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_EQ(j["choices"][0]["message"]["content"], "Hello");
  EXPECT_EQ(j["choices"][0]["message"]["role"], "assistant");
  EXPECT_EQ(j["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(j["usage"]["prompt_tokens"], 10);
  EXPECT_EQ(j["usage"]["completion_tokens"], 2);
  EXPECT_EQ(j["usage"]["total_tokens"], 12);
  EXPECT_EQ(j["usage"]["prompt_tokens_details"]["cached_tokens"], 4);
  const Json& lp = j["choices"][0]["logprobs"]["content"];
  ASSERT_EQ(lp.size(), 2u);
  EXPECT_EQ(lp[0]["token"], "Hel");
  EXPECT_FLOAT_EQ(lp[0]["logprob"].get<float>(), -0.5f);
  EXPECT_EQ(lp[0]["bytes"], Json::array({72, 101, 108}));
  EXPECT_EQ(lp[0]["top_logprobs"].size(), 2u);
  req.gen.logprobs = false;
  EXPECT_TRUE(ChatCompletionJson(kMeta, Result(), req)["choices"][0]["logprobs"].is_null());
}

TEST(ServerWire, CompletionBodyAndLegacyLogprobs) {
  ApiRequest req;
  req.endpoint = Endpoint::kCompletions;
  req.gen.logprobs = true;
  CompletionResult r = Result();
  r.finish = FinishReason::kContextFull;
  const Json j = CompletionJson(kMeta, r, req);
  EXPECT_EQ(j["object"], "text_completion");
  EXPECT_EQ(j["choices"][0]["text"], "Hello");
  EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(j["choices"][0]["logprobs"]["tokens"], Json::array({"Hel", "lo"}));
  EXPECT_EQ(j["choices"][0]["logprobs"]["text_offset"], Json::array({0, 3}));
}

TEST(ServerWire, StreamChunks) {
  ApiRequest req;
  EXPECT_EQ(ChatRoleChunk(kMeta)["choices"][0]["delta"]["role"], "assistant");
  const Json d = ChatDeltaChunk(kMeta, Result().tokens, req);
  EXPECT_EQ(d["object"], "chat.completion.chunk");
  EXPECT_EQ(d["choices"][0]["delta"]["content"], "Hello");
  EXPECT_TRUE(d["choices"][0]["finish_reason"].is_null());
  const Json f = ChatFinishChunk(kMeta, FinishReason::kLength);
  EXPECT_EQ(f["choices"][0]["finish_reason"], "length");
  EXPECT_TRUE(f["choices"][0]["delta"].empty());
  const Json u = UsageChunk(kMeta, "chat.completion.chunk", Result().usage);
  EXPECT_TRUE(u["choices"].empty());
  EXPECT_EQ(u["usage"]["total_tokens"], 12);
}

TEST(ServerWire, SseAndNdjsonFraming) {
  const Json j = {{"a", 1}};
  EXPECT_EQ(SseEvent(j), "data: {\"a\":1}\n\n");
  EXPECT_EQ(kSseDone, "data: [DONE]\n\n");
  EXPECT_EQ(NdjsonLine(j), "{\"a\":1}\n");
  // Invalid UTF-8 never throws; it becomes U+FFFD.
  const Json bad = {{"s", std::string("a\xff")}};
  EXPECT_EQ(DumpJson(bad), "{\"s\":\"a\xEF\xBF\xBD\"}");
  // A newline inside content is escaped, so one event stays one line.
  EXPECT_EQ(SseEvent(Json{{"s", "x\ny"}}).find('\n'), SseEvent(Json{{"s", "x\ny"}}).size() - 2);
}

TEST(ServerWire, OllamaLines) {
  ApiRequest req;
  req.endpoint = Endpoint::kOllamaChat;
  const Json d = OllamaDeltaJson(req, "m", "t", "Hi");
  EXPECT_EQ(d["message"]["content"], "Hi");
  EXPECT_EQ(d["done"], false);
  CompletionResult r = Result();
  r.timings = {.queue_ms = 1, .prompt_ms = 2, .gen_ms = 3};
  const Json f = OllamaFinalJson(req, "m", "t", "", r);
  EXPECT_EQ(f["done"], true);
  EXPECT_EQ(f["done_reason"], "stop");
  EXPECT_EQ(f["prompt_eval_count"], 10);
  EXPECT_EQ(f["eval_count"], 2);
  EXPECT_EQ(f["eval_duration"], 3000000);
  EXPECT_EQ(f["total_duration"], 6000000);
  req.endpoint = Endpoint::kOllamaGenerate;
  EXPECT_EQ(OllamaDeltaJson(req, "m", "t", "Hi")["response"], "Hi");
  EXPECT_EQ(Rfc3339(std::chrono::system_clock::time_point(std::chrono::seconds(1700000000))),
            "2023-11-14T22:13:20.000000Z");
  ModelInfo info{.id = "g", .arch = "gemma3", .quantization = "Q4_0", .file_size = 5, .parameters = 1000000000};
  EXPECT_EQ(OllamaTagsJson(info)["models"][0]["details"]["parameter_size"], "1.0B");
  EXPECT_EQ(OllamaShowJson(info)["details"]["quantization_level"], "Q4_0");
}

TEST(ServerMetrics, PrometheusText) {
  Metrics m;
  m.CountRequest("/v1/chat/completions", 200);
  m.CountRequest("/v1/chat/completions", 200);
  m.CountRequest("/v1/chat/completions", 429);
  m.AddTokens(10, 4, 7);
  m.ObserveTimeToFirstToken(0.03);
  m.ObserveTokenLatency(0.02);
  m.ObserveTokenLatency(100);
  m.SetGauges({.queue_depth = 3, .slots_busy = 2, .slots_total = 4, .kv_used_tokens = 50, .kv_total_tokens = 100});
  const std::string t = m.Render();
  auto has = [&](const std::string& s) { return t.find(s) != std::string::npos; };
  EXPECT_TRUE(has("# TYPE gemrun_requests_total counter\n"));
  EXPECT_TRUE(has("gemrun_requests_total{endpoint=\"/v1/chat/completions\",status=\"200\"} 2\n"));
  EXPECT_TRUE(has("gemrun_requests_total{endpoint=\"/v1/chat/completions\",status=\"429\"} 1\n"));
  EXPECT_TRUE(has("gemrun_prompt_tokens_total 10\n"));
  EXPECT_TRUE(has("gemrun_generated_tokens_total 7\n"));
  EXPECT_TRUE(has("gemrun_time_to_first_token_seconds_bucket{le=\"0.025\"} 0\n"));
  EXPECT_TRUE(has("gemrun_time_to_first_token_seconds_bucket{le=\"0.05\"} 1\n"));
  EXPECT_TRUE(has("gemrun_time_per_output_token_seconds_bucket{le=\"2.5\"} 1\n"));
  EXPECT_TRUE(has("gemrun_time_per_output_token_seconds_bucket{le=\"+Inf\"} 2\n"));
  EXPECT_TRUE(has("gemrun_time_per_output_token_seconds_count 2\n"));
  EXPECT_TRUE(has("gemrun_queue_depth 3\n"));
  EXPECT_TRUE(has("gemrun_slots_busy 2\n"));
  EXPECT_TRUE(has("gemrun_kv_cache_usage_ratio 0.5\n"));
  // Every non-comment line is "name[{labels}] value".
  size_t pos = 0;
  while (pos < t.size()) {
    const size_t end = t.find('\n', pos);
    ASSERT_NE(end, std::string::npos);
    const std::string line = t.substr(pos, end - pos);
    if (line[0] != '#') EXPECT_NE(line.rfind(' '), std::string::npos) << line;
    pos = end + 1;
  }
}

}  // namespace
}  // namespace gemrun::server
