// libFuzzer target for the server's request bodies: the first byte picks an endpoint (OpenAI chat /
// completions, Ollama chat / generate), the rest is the body. Any byte string must become a request
// or a 400-class ApiError with a message, never crash, hang or throw; accepted requests go on through
// the chat templates (Gemma 3 and 4) and the response builders, as the server would take them.
// Built by tests/fuzz/CMakeLists.txt with -fsanitize=fuzzer,address,undefined; run via tools/fuzz_smoke.sh.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "server/api.h"
#include "server/framing.h"
#include "server/ollama.h"
#include "server/openai.h"
#include "tokenizer/chat_template.h"

namespace {
using namespace gemrun;
using namespace gemrun::server;

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "server_json_fuzz: %s\n", what);
  std::abort();
}

std::optional<ApiError> Parse(Endpoint ep, const Json& j, ApiRequest* req) {
  RequestLimits lim;
  lim.n_vocab = 262144;
  lim.images.enabled = true;  // image parts are parsed (no files dir, no URLs: nothing is fetched)
  switch (ep) {
    case Endpoint::kChatCompletions: return ParseChatCompletionRequest(j, lim, req);
    case Endpoint::kCompletions: return ParseCompletionRequest(j, lim, req);
    case Endpoint::kOllamaChat: return ParseOllamaChatRequest(j, lim, 4096, req);
    default: return ParseOllamaGenerateRequest(j, lim, 4096, req);
  }
}

// What the server does with an accepted request that needs no model: render its prompt with both
// chat templates and build a response and a stream chunk from a fake result.
void UseAccepted(const ApiRequest& req) {
  for (auto arch : {std::pair{"gemma3", TokenizerModel::kSpm}, std::pair{"gemma4", TokenizerModel::kGemma4Bpe}}) {
    auto tmpl = ChatTemplate::ForModel(arch.first, arch.second);
    if (!tmpl.ok()) Fail("no chat template for a known architecture");
    if (!req.messages.empty()) (void)tmpl->Render(req.messages);
  }
  CompletionResult r;
  r.text = "ok \xff";  // invalid UTF-8 must be replaced, never throw
  r.finish = FinishReason::kLength;
  const ResponseMeta m{"chatcmpl-fuzz", req.model, 0};
  const bool openai = req.endpoint == Endpoint::kChatCompletions || req.endpoint == Endpoint::kCompletions;
  if (openai) {
    const Json body = req.endpoint == Endpoint::kChatCompletions ? ChatCompletionJson(m, r, req) : CompletionJson(m, r, req);
    if (DumpJson(body).empty()) Fail("empty response body");
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static constexpr Endpoint kEndpoints[] = {Endpoint::kChatCompletions, Endpoint::kCompletions,
                                            Endpoint::kOllamaChat, Endpoint::kOllamaGenerate};
  const Endpoint ep = kEndpoints[data[0] % 4];
  const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  try {
    Json j;
    if (auto e = ParseJsonBody(body, &j)) {
      if (e->message.empty()) Fail("body error without a message");
      return 0;
    }
    ApiRequest req;
    req.endpoint = ep;
    if (auto e = Parse(ep, j, &req)) {
      if (e->message.empty()) Fail("request error without a message");
      if (e->status < 400 || e->status >= 500) Fail("request error is not a 4xx");
      return 0;
    }
    UseAccepted(req);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "server_json_fuzz: exception escaped: %s\n", e.what());
    std::abort();
  }
  return 0;
}
