// Generation endpoints: body -> ApiRequest -> prompt ids (and encoded images) -> Job on the
// Scheduler -> JSON, SSE or NDJSON. Images are encoded here, on the HTTP thread, so the
// scheduler keeps decoding other streams meanwhile. Clients that go away are noticed within
// ~100 ms (socket poll) and their slot freed.
#include <random>

#include "server/framing.h"
#include "server/http_internal.h"
#include "server/ollama.h"
#include "server/openai.h"
#include "engine/reasoning.h"
#include "engine/tool_stream.h"
#include "server/structured.h"

namespace gemrun::server {
namespace {

constexpr auto kPoll = std::chrono::milliseconds(100);

bool IsOllama(Endpoint ep) { return ep == Endpoint::kOllamaChat || ep == Endpoint::kOllamaGenerate; }

// Reads the body through httplib's content reader with our own cap (httplib's cap only covers
// Content-Length bodies; chunked and compressed bodies are counted here as they arrive).
// Every byte is first taken from the server-wide budget (503 when it is exhausted).
std::optional<ApiError> ReadBody(const httplib::Request& req, const httplib::ContentReader& reader, size_t max,
                                 BudgetLease* lease, std::string* body, httplib::Response& res) {
  if (req.is_multipart_form_data())
    return ApiError::Of(415, "invalid_request_error", "multipart bodies are not accepted; send application/json");
  bool too_big = false, busy = false;
  const bool ok = reader([&](const char* d, size_t n) {
    if (body->size() + n > max) {
      too_big = true;
      return false;
    }
    if (!lease->Grow(n)) {
      busy = true;
      return false;
    }
    body->append(d, n);
    return true;
  });
  if (busy) {
    res.set_header("Connection", "close");
    return ApiError::Of(503, "server_error", "the server is holding too many request bytes; retry later", "server_busy");
  }
  if (too_big || res.status == 413) {
    res.set_header("Connection", "close");
    return ApiError::Of(413, "invalid_request_error", "request body is larger than the server's limit of " +
                                              std::to_string(max) + " bytes (--max-body-bytes)", "body_too_large");
  }
  if (!ok) {
    res.set_header("Connection", "close");
    return ApiError::BadRequest("could not read the request body");
  }
  return std::nullopt;
}

// What the server's flags allow for images.
ImagePolicy PolicyOf(const GenerateContext& ctx) {
  return ImagePolicy{.enabled = ctx.backend->images != nullptr,
                     .max_images = ctx.opts->max_images,
                     .files_dir = ctx.opts->image_files_dir,
                     .allow_urls = ctx.opts->allow_image_urls,
                     .allow_private = ctx.opts->allow_private_urls,
                     .test_resolve = ctx.opts->test_resolve,
                     .test_public = ctx.opts->test_public};
}

std::optional<ApiError> Parse(Endpoint ep, const Json& j, const nlohmann::ordered_json* ordered,
                              const GenerateContext& ctx, ApiRequest* out) {
  const Backend& b = *ctx.backend;
  const RequestLimits lim{.n_vocab = b.engine->model().config().n_vocab, .images = PolicyOf(ctx), .ordered = ordered};
  const int64_t n_ctx = b.scheduler->options().n_ctx;
  switch (ep) {
    case Endpoint::kChatCompletions: return ParseChatCompletionRequest(j, lim, out);
    case Endpoint::kCompletions: return ParseCompletionRequest(j, lim, out);
    case Endpoint::kOllamaChat: return ParseOllamaChatRequest(j, lim, n_ctx, out);
    case Endpoint::kOllamaGenerate: return ParseOllamaGenerateRequest(j, lim, n_ctx, out);
  }
  return ApiError::BadRequest("unknown endpoint");
}

ApiError ContextExceeded(int64_t n, int64_t n_ctx, const char* param) {
  return ApiError::BadRequest("the prompt is " + std::to_string(n) + " tokens but the context holds " +
                                  std::to_string(n_ctx) + " per request (including at least one generated token); "
                                  "shorten the input or raise --ctx-size",
                              param, "context_length_exceeded");
}

std::optional<ApiError> BuildPrompt(const Backend& b, const ApiRequest& r, const ChatOptions& opts,
                                    std::vector<int32_t>* ids) {
  const Tokenizer& tok = b.engine->tokenizer();
  if (r.use_template) {
    if (!b.chat_template)
      return ApiError::BadRequest("this model has no known chat template; use /v1/completions", "messages");
    auto enc = b.chat_template->Encode(tok, r.messages, opts);
    if (!enc.ok()) return ApiError::BadRequest(enc.status().message(), "messages", "invalid_value");
    *ids = std::move(*enc);
  } else {
    *ids = tok.Encode(r.prompt, EncodeOptions{.add_special = true, .parse_special = true});
  }
  const int64_t n_ctx = b.scheduler->options().n_ctx;
  if (static_cast<int64_t>(ids->size()) >= n_ctx)
    return ContextExceeded(static_cast<int64_t>(ids->size()), n_ctx, r.use_template ? "messages" : "prompt");
  return std::nullopt;
}

// A decoder or projector error for one image: the client's fault (corrupt, oversized, an
// unsupported format) is a 400 naming the field; anything else is ours.
ApiError ImageError(const Status& st, const std::string& param) {
  switch (st.code()) {
    case StatusCode::kDataLoss:
    case StatusCode::kInvalidArgument:
    case StatusCode::kUnimplemented:
    case StatusCode::kOutOfRange:
      return ApiError::BadRequest(st.message(), param, "invalid_image");
    default:
      return ApiError::Of(500, "server_error", "encoding '" + param + "' failed: " + st.message());
  }
}

std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// Decodes and encodes one input_audio clip (400 when this server has no audio projector).
std::optional<ApiError> EncodeClip(const Backend& b, ImageInput& in, PromptSegment* out) {
  if (!b.audio)
    return ApiError::BadRequest("'" + in.param + "': this server has no audio projector (the model '" + b.info.id +
                                "' was started without an --mmproj that has one; audio needs e.g. Gemma 4 12B's mmproj)",
                                in.param, "invalid_audio");
  double ms = 0;
  if (auto e = b.audio->Encode(Bytes(in.bytes), in.param, out, &ms)) return e;
  CurrentLog().image_ms += ms;
  in.bytes = std::string();
  return std::nullopt;
}

// Loads a file or URL image into in.bytes, its bytes taken from `lease`.
std::optional<ApiError> LoadImage(const GenerateContext& ctx, ImageInput& in, const ImagePolicy& policy, int fd,
                                  Clock::time_point deadline, BudgetLease* lease) {
  (void)ctx;
  if (!in.file.empty()) return ReadImageFile(in, policy, &in.bytes, lease);
  std::string detail;
  const FetchControl ctl{.deadline = deadline, .cancelled = [fd] { return PeerClosed(fd); }, .lease = lease,
                         .detail = &detail};
  auto e = FetchImageUrl(in, policy, &in.bytes, ctl);
  if (e) CurrentLog().detail = detail;
  if (e && e->status == 499) CurrentLog().client_gone = true;
  return e;
}

// Counts one image's rows; a 400 when it takes more than the encoder allows per image.
std::optional<ApiError> CountRows(const Backend& b, const ImageInput& in, int64_t* rows) {
  auto n = b.images->CountTokens(Bytes(in.bytes), in.param);
  if (!n.ok()) return ImageError(n.status(), in.param);
  if (*n > b.images->max_tokens())
    return ApiError::BadRequest("'" + in.param + "' becomes " + std::to_string(*n) + " image tokens, more than the " +
                                    std::to_string(b.images->max_tokens()) + " this server takes per image; crop it to "
                                    "a less elongated shape", in.param, "invalid_image");
  *rows = *n;
  return std::nullopt;
}

// Decodes and encodes one image (the encoder runs one image at a time server-wide) and frees its bytes.
std::optional<ApiError> EncodeOne(const GenerateContext& ctx, ImageInput& in, int fd, int64_t rows, PromptSegment* seg) {
  if (PeerClosed(fd)) {
    CurrentLog().client_gone = true;
    return ApiError::Of(499, "cancelled", "client went away");
  }
  double wait_ms = 0, encode_ms = 0;
  auto enc = ctx.backend->images->Encode(Bytes(in.bytes), in.param, &wait_ms, &encode_ms);
  if (!enc.ok()) return ImageError(enc.status(), in.param);
  if (enc->n_rows != rows)
    return ApiError::Of(500, "server_error", "'" + in.param + "' gave " + std::to_string(enc->n_rows) +
                                                 " rows, expected " + std::to_string(rows));
  ctx.metrics->ObserveImageEncode(encode_ms / 1000.0);
  CurrentLog().image_ms += wait_ms + encode_ms;
  *seg = std::move(*enc);
  in.bytes = std::string();  // the encoded rows replace the file bytes
  return std::nullopt;
}

// The prompt of a request with images and audio clips (clips are decoded and encoded up front:
// their length gives their token count). Images named by file or URL are loaded, counted and
// encoded one at a time, so a request holds at most one such image's bytes (from the server-wide
// budget); images sent inline are counted first, so the cheap checks (token counts, the context)
// run before they are encoded, again one at a time.
std::optional<ApiError> BuildImagePrompt(const GenerateContext& ctx, ApiRequest& r, const ChatOptions& opts, int fd,
                                         Clock::time_point deadline, Job* job) {
  const Backend& b = *ctx.backend;
  if (!b.chat_template) return ApiError::BadRequest("this model has no known chat template; images need one", "messages");
  const ImagePolicy policy = PolicyOf(ctx);
  const int64_t n_ctx = b.scheduler->options().n_ctx;
  std::vector<int64_t> rows(r.images.size());
  std::vector<std::optional<PromptSegment>> encoded(r.images.size());
  int64_t n_rows = 0;
  for (size_t k = 0; k < r.images.size(); ++k) {
    ImageInput& in = r.images[k];
    if (in.audio) {
      encoded[k].emplace();
      if (auto e = EncodeClip(b, in, &*encoded[k])) return e;
      rows[k] = encoded[k]->n_rows;
    } else {
      if (!b.images) return CheckImageAllowed(ImagePolicy{}, 0, in.param);
      const bool remote = !in.file.empty() || !in.url.empty();
      BudgetLease lease(ctx.budget);
      if (remote)
        if (auto e = LoadImage(ctx, in, policy, fd, deadline, &lease)) return e;
      if (auto e = CountRows(b, in, &rows[k])) return e;
      if (remote) {
        encoded[k].emplace();
        if (auto e = EncodeOne(ctx, in, fd, rows[k], &*encoded[k])) return e;
      }
    }
    n_rows += rows[k];
    if (n_rows >= n_ctx) return ContextExceeded(n_rows, n_ctx, "messages");
  }
  std::vector<PromptSegment> segs;
  const Status st = LayoutImagePrompt(b.engine->tokenizer(), *b.chat_template, r.messages, rows, &segs, opts);
  if (!st.ok()) return ApiError::BadRequest(st.message(), "messages", "invalid_value");
  int64_t n_prompt = 0;
  for (const PromptSegment& s : segs) n_prompt += s.size();
  if (n_prompt >= n_ctx) return ContextExceeded(n_prompt, n_ctx, "messages");
  size_t k = 0;
  for (PromptSegment& seg : segs) {
    if (!seg.is_image()) continue;
    if (encoded[k]) seg = std::move(*encoded[k]);
    else if (auto e = EncodeOne(ctx, r.images[k], fd, seg.n_rows, &seg)) return e;
    ++k;
  }
  job->SetPrompt(std::move(segs));
  return std::nullopt;
}

uint64_t RandomSeed() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  return rng();
}

std::string NewId(Endpoint ep) {
  static const char* kHex = "0123456789abcdef";
  const uint64_t a = RandomSeed(), b = RandomSeed();
  std::string s = ep == Endpoint::kCompletions ? "cmpl-" : "chatcmpl-";
  for (int i = 0; i < 16; ++i) s += kHex[(a >> (4 * i)) & 15];
  for (int i = 0; i < 8; ++i) s += kHex[(b >> (4 * i)) & 15];
  return s;
}

void RecordResult(const CompletionResult& r, const std::optional<BatchError>& err) {
  RequestLog& log = CurrentLog();
  log.prompt_tokens = r.usage.prompt_tokens;
  log.cached_tokens = r.usage.cached_tokens;
  log.gen_tokens = r.usage.completion_tokens;
  log.queue_ms = r.timings.queue_ms;
  log.ttft_ms = r.usage.completion_tokens > 0 ? r.timings.queue_ms + r.timings.prompt_ms : -1;
  log.gen_ms = r.timings.gen_ms;
  log.finish = FinishReasonDetail(r.finish);
  if (err) log.error = err->message;
}

// Shared state of one streamed response (lives as long as httplib's provider).
struct Stream {
  std::shared_ptr<Job> job;
  ApiRequest req;
  ResponseMeta meta;
  int fd = -1;
  bool started = false;
  std::chrono::milliseconds ping{0};  // SSE: a comment after this long without output (0: never)
  Clock::time_point last_write = Clock::now();
  ChannelSplitter channels{};  // reasoning: thought and answer deltas told apart
  std::optional<ToolCallStreamer> tool_stream{};  // tools: content and calls as they are decided
  bool tool_stream_failed = false;  // a call did not read back: the end reports the error
  size_t content_sent = 0, calls_sent = 0;  // tools: what the deltas carried so far
};

// One streamed piece of thought and/or answer, in the endpoint's format.
std::string RenderChannels(const Stream& st, const ChannelSplitter::Out& o) {
  std::string out;
  const ApiRequest& r = st.req;
  if (r.endpoint == Endpoint::kChatCompletions) {
    if (!o.thought.empty()) out += SseEvent(ChatChunk(st.meta, Json{{"reasoning_content", o.thought}}, nullptr));
    if (!o.answer.empty()) out += SseEvent(ChatChunk(st.meta, Json{{"content", o.answer}}, nullptr));
    return out;
  }
  if (!IsOllama(r.endpoint) || (o.thought.empty() && o.answer.empty())) return out;
  Json j = OllamaDeltaJson(r, st.meta.model, Rfc3339(std::chrono::system_clock::now()), o.answer);
  if (!o.thought.empty()) {
    if (r.endpoint == Endpoint::kOllamaChat) j["message"]["thinking"] = o.thought;
    else j["thinking"] = o.thought;
  }
  return NdjsonLine(j);
}

// Calls streamed so far, numbered as FinishAnswer numbers them ("call_<n>", index n).
std::vector<ToolCall> NumberCalls(Stream& st, std::vector<ToolCall> calls) {
  for (ToolCall& c : calls) c.id = "call_" + std::to_string(st.calls_sent++);
  return calls;
}

// A piece of a tools answer: the thought (reasoning on), decided content, completed calls.
std::string RenderToolDelta(Stream& st, const std::string& thought, const std::string& content,
                            std::vector<ToolCall> calls) {
  const ApiRequest& r = st.req;
  const size_t first = st.calls_sent;
  calls = NumberCalls(st, std::move(calls));
  st.content_sent += content.size();
  std::string out;
  if (r.endpoint == Endpoint::kChatCompletions) {
    if (!thought.empty()) out += SseEvent(ChatChunk(st.meta, Json{{"reasoning_content", thought}}, nullptr));
    if (!content.empty()) out += SseEvent(ChatChunk(st.meta, Json{{"content", content}}, nullptr));
    Json j = OpenAIToolCallsJson(calls, /*stream=*/true);
    for (size_t i = 0; i < j.size(); ++i) {
      j[i]["index"] = first + i;
      out += SseEvent(ChatChunk(st.meta, Json{{"tool_calls", Json::array({j[i]})}}, nullptr));
    }
    return out;
  }
  if (!IsOllama(r.endpoint) || (thought.empty() && content.empty() && calls.empty())) return out;
  Json j = OllamaDeltaJson(r, st.meta.model, Rfc3339(std::chrono::system_clock::now()), content);
  Json& msg = r.endpoint == Endpoint::kOllamaChat ? j["message"] : j;
  if (!thought.empty()) msg["thinking"] = thought;
  if (!calls.empty()) msg["tool_calls"] = OllamaToolCallsJson(calls);
  return NdjsonLine(j);
}

// Generated text of a tools answer: thoughts stream at once, content as soon as it cannot be
// the start of a call, each call when its block closes (never a call's text as content).
std::string PushToolText(Stream& st, std::string_view text) {
  if (!st.tool_stream) st.tool_stream.emplace(st.req.tools.syntax);
  ChannelSplitter::Out ch;
  if (st.req.reasoning) ch = st.channels.Push(text);
  else ch.answer = std::string(text);
  std::string content;
  std::vector<ToolCall> calls;
  if (!st.tool_stream_failed && !ch.answer.empty()) {
    auto o = st.tool_stream->Push(ch.answer);
    if (o.ok()) content = std::move(o->content), calls = std::move(o->calls);
    else st.tool_stream_failed = true;
  }
  return RenderToolDelta(st, ch.thought, content, std::move(calls));
}

std::string RenderTokens(Stream& st, std::vector<TokenOut>& toks) {
  std::string out;
  const ApiRequest& r = st.req;
  if (!st.started) {
    st.started = true;
    if (r.endpoint == Endpoint::kChatCompletions) out += SseEvent(ChatRoleChunk(st.meta));
  }
  for (TokenOut& t : toks) {
    if (r.tools.given) {  // calls must not leak into content
      out += PushToolText(st, t.text);
      continue;
    }
    if (r.reasoning && r.endpoint != Endpoint::kCompletions) {  // thoughts never reach content
      out += RenderChannels(st, st.channels.Push(t.text));
      continue;
    }
    if (t.eog ? t.text.empty() : (t.text.empty() && !r.gen.logprobs)) continue;
    if (t.eog) t.piece.clear();
    const std::vector<TokenOut> one{std::move(t)};
    switch (r.endpoint) {
      case Endpoint::kChatCompletions: out += SseEvent(ChatDeltaChunk(st.meta, one, r)); break;
      case Endpoint::kCompletions: out += SseEvent(CompletionDeltaChunk(st.meta, one, r)); break;
      default: out += NdjsonLine(OllamaDeltaJson(r, st.meta.model, Rfc3339(std::chrono::system_clock::now()), one[0].text));
    }
  }
  return out;
}

// The end of a tools answer: the whole-text parse is the authority; what the deltas have not
// carried yet (held-back content, calls after a block the streamer could not read) goes now.
std::string RenderToolRest(Stream& st, const StructuredAnswer& a) {
  std::string content;
  if (a.content.size() > st.content_sent) content = a.content.substr(st.content_sent);
  std::vector<ToolCall> calls(a.calls.begin() + static_cast<std::ptrdiff_t>(std::min(st.calls_sent, a.calls.size())),
                              a.calls.end());
  return RenderToolDelta(st, "", content, std::move(calls));
}

std::string RenderEnd(Stream& st) {
  const CompletionResult& res = st.job->result();
  const ApiRequest& r = st.req;
  RecordResult(res, st.job->error());
  std::string held;
  if (r.reasoning && !r.tools.given) held = RenderChannels(st, st.channels.Flush());
  if (r.reasoning && r.tools.given) {
    const ChannelSplitter::Out ch = st.channels.Flush();
    held = RenderToolDelta(st, ch.thought, "", {});
    if (!ch.answer.empty()) held += PushToolText(st, ch.answer);
  }
  if (const auto& err = st.job->error())
    return IsOllama(r.endpoint) ? NdjsonLine(OllamaErrorJson(ToApiError(*err))) : SseEvent(OpenAIErrorJson(ToApiError(*err)));
  const StructuredAnswer a = FinishAnswer(res, r);
  if (a.error) {  // fail closed: an incomplete constrained answer ends the stream with an error
    if (IsOllama(r.endpoint)) return NdjsonLine(Json{{"error", *a.error}, {"done", true}, {"done_reason", "length"}});
    return SseEvent(Json{{"error", StructuredErrorJson(*a.error)}}) + std::string(kSseDone);
  }
  if (r.tools.given) held += RenderToolRest(st, a);
  if (IsOllama(r.endpoint)) {
    Json fin = OllamaFinalJson(r, st.meta.model, Rfc3339(std::chrono::system_clock::now()), "", res);
    return held + NdjsonLine(fin);
  }
  const bool chat = r.endpoint == Endpoint::kChatCompletions;
  std::string out = held;
  if (chat && r.tools.given) {
    if (st.calls_sent > 0) {
      out += SseEvent(ChatChunk(st.meta, Json::object(), "tool_calls"));
    } else {
      out += SseEvent(ChatFinishChunk(st.meta, res.finish));
    }
  } else {
    out += SseEvent(chat ? ChatFinishChunk(st.meta, res.finish) : CompletionFinishChunk(st.meta, res.finish));
  }
  if (r.include_usage) out += SseEvent(UsageChunk(st.meta, chat ? "chat.completion.chunk" : "text_completion", res.usage));
  out += kSseDone;
  return out;
}

// One call of httplib's chunked content provider: waits up to kPoll for tokens, writes them.
bool ProvideStream(Stream& st, httplib::DataSink& sink) {
  std::vector<TokenOut> toks;
  const bool done = st.job->Wait(kPoll, &toks);
  std::string out = RenderTokens(st, toks);
  if (done) out += RenderEnd(st);
  // Queued or in a long prefill the stream is silent; a comment line every `ping` keeps
  // proxies and clients with idle timeouts from dropping it (NDJSON has no comment syntax).
  if (out.empty() && st.ping.count() > 0 && !IsOllama(st.req.endpoint) && Clock::now() - st.last_write >= st.ping)
    out = kSsePing;
  if (!out.empty()) st.last_write = Clock::now();
  if (!out.empty() && !sink.write(out.data(), out.size())) {
    st.job->Cancel();
    CurrentLog().client_gone = true;
    return false;
  }
  if (done) {
    sink.done();
    return true;
  }
  if (PeerClosed(st.fd)) {
    st.job->Cancel();
    CurrentLog().client_gone = true;
    return false;
  }
  return true;
}

void RespondWhole(const std::shared_ptr<Job>& job, const ApiRequest& r, const ResponseMeta& meta, int fd,
                  const httplib::Request& hreq, httplib::Response& res) {
  std::vector<TokenOut> toks;
  while (!job->Wait(kPoll, &toks))
    if (!job->cancelled() && PeerClosed(fd)) {
      job->Cancel();
      CurrentLog().client_gone = true;
    }
  RecordResult(job->result(), job->error());
  if (CurrentLog().client_gone) {
    res.status = 499;  // nginx's "client closed request"; nobody reads it
    res.set_header("Connection", "close");
    return;
  }
  if (job->error()) return SendError(hreq, res, ToApiError(*job->error()));
  CompletionResult result = job->result();
  result.tokens = std::move(toks);
  switch (r.endpoint) {
    case Endpoint::kChatCompletions: return SendJson(res, ChatCompletionJson(meta, result, r));
    case Endpoint::kCompletions: return SendJson(res, CompletionJson(meta, result, r));
    default: {
      const StructuredAnswer a = FinishAnswer(result, r);
      Json fin = OllamaFinalJson(r, meta.model, Rfc3339(std::chrono::system_clock::now()), a.content, result);
      if (!a.calls.empty()) fin["message"]["tool_calls"] = OllamaToolCallsJson(a.calls);
      if (r.reasoning) {
        if (r.endpoint == Endpoint::kOllamaChat) fin["message"]["thinking"] = a.reasoning;
        else fin["thinking"] = a.reasoning;
      }
      if (a.error) {
        fin["done_reason"] = "length";
        fin["error"] = *a.error;
      }
      return SendJson(res, fin);
    }
  }
}

// Waits for a whole (non-streamed) job; false when the client went away (499 sent).
bool WaitWhole(const std::shared_ptr<Job>& job, int fd, std::vector<TokenOut>* toks, httplib::Response& res) {
  while (!job->Wait(kPoll, toks))
    if (!job->cancelled() && PeerClosed(fd)) {
      job->Cancel();
      CurrentLog().client_gone = true;
    }
  RecordResult(job->result(), job->error());
  if (!CurrentLog().client_gone) return true;
  res.status = 499;
  res.set_header("Connection", "close");
  return false;
}

// serve --remote (gateway): a non-streamed text chat request runs locally first (unless
// --escalate always), then the router decides; the decision is the x-gemrun-route header.
void RespondRouted(const GenerateContext& ctx, const ApiRequest& r, const ResponseMeta& meta,
                   std::shared_ptr<Job> job, std::optional<ApiError> prompt_error, const httplib::Request& hreq,
                   httplib::Response& res) {
  const Backend& b = *ctx.backend;
  const remote::Router& router = *b.router;
  remote::ChatRequest rreq;
  for (const ChatMessage& m : r.messages) rreq.messages.push_back({m.role, m.content});
  rreq.max_tokens = r.gen.max_tokens > 0 ? r.gen.max_tokens : 0;
  remote::LocalResult local;
  local.prompt_tokens = static_cast<int64_t>(job->prompt.size());
  local.context = b.scheduler->options().n_ctx;
  if (prompt_error) {
    if (prompt_error->code != "context_length_exceeded") return SendError(hreq, res, *prompt_error);
    local.fits_context = false;
  }
  CompletionResult result;
  auto run_local = [&]() -> bool {  // false: a response was sent already
    job->params = r.gen;
    job->params.logprobs = true;  // for --min-confidence
    job->want_pieces = r.gen.logprobs;
    if (auto e = b.scheduler->Submit(job)) { SendError(hreq, res, ToApiError(*e)); return false; }
    std::vector<TokenOut> toks;
    if (!WaitWhole(job, CurrentConnection().fd, &toks, res)) return false;
    if (job->error()) { SendError(hreq, res, ToApiError(*job->error())); return false; }
    result = job->result();
    double sum = 0;
    int64_t n = 0;
    for (const TokenOut& t : toks)
      if (!t.eog) { sum += t.logprob; ++n; }
    result.tokens = std::move(toks);
    local.available = true;
    local.text = result.text;
    if (n > 0) local.mean_logprob = sum / static_cast<double>(n);
    return true;
  };
  const bool always = router.options().mode == remote::Escalate::kAlways;
  if (local.fits_context && !always && !run_local()) return;
  remote::RouteResult rr = router.Route(rreq, local);
  if (rr.fell_back && !rr.has_answer && local.fits_context && always) {
    if (!run_local()) return;
    rr.has_answer = true;
    rr.text = local.text;
  }
  res.set_header("x-gemrun-route", rr.Line().substr(7));  // without "route: "
  if (!rr.has_answer)
    return SendError(hreq, res, ApiError::Of(502, "remote_error", "the remote failed (" + rr.note +
                                                 ") and the prompt does not fit the local context", "remote_failed"));
  if (rr.remote_used) {
    result = CompletionResult{};
    result.text = rr.text;
    result.finish = FinishReason::kEog;
    result.usage.prompt_tokens = std::max<int64_t>(rr.remote_prompt_tokens, 0);
    result.usage.completion_tokens = std::max<int64_t>(rr.remote_completion_tokens, 0);
  }
  SendJson(res, ChatCompletionJson(meta, result, r));
}

std::string PromptForLog(const ApiRequest& r) {
  if (!r.use_template) return r.prompt;
  Json m = Json::array();
  for (const ChatMessage& c : r.messages) {
    std::string text = c.content;
    for (size_t at; (at = text.find(kImageSlot)) != std::string::npos;) text.replace(at, kImageSlot.size(), "<image>");
    m.push_back({{"role", c.role}, {"content", text}});
  }
  return DumpJson(m);
}

}  // namespace

void HandleGenerate(const GenerateContext& ctx, Endpoint ep, const httplib::Request& hreq, httplib::Response& res,
                    const httplib::ContentReader& reader) {
  const Backend& b = *ctx.backend;
  std::string body;
  BudgetLease body_lease(ctx.budget);  // held until the prompt is built (body, JSON, inline images)
  if (auto e = ReadBody(hreq, reader, ctx.opts->max_body_bytes, &body_lease, &body, res))
    return SendError(hreq, res, *e);
  Json j;
  if (auto e = ParseJsonBody(body, &j)) return SendError(hreq, res, *e);
  // Schemas keep their declared key order (a second, ordered parse only when there are any).
  std::optional<nlohmann::ordered_json> ordered;
  if (j.contains("response_format") || j.contains("format") || j.contains("tools"))
    ordered = nlohmann::ordered_json::parse(body, nullptr, false);
  body.clear();
  body.shrink_to_fit();
  ApiRequest r;
  if (auto e = Parse(ep, j, ordered ? &*ordered : nullptr, ctx, &r)) return SendError(hreq, res, *e);
  ordered.reset();
  j = Json();  // image data lives on in r.images only
  if (!r.images.empty()) {
    CurrentLog().images = static_cast<int64_t>(r.images.size());
    ctx.metrics->AddImages(static_cast<int64_t>(r.images.size()));
  }
  if (ctx.opts->log_prompts) CurrentLog().prompt = PromptForLog(r);
  if (!r.seed_given) r.gen.sampling.seed = RandomSeed();
  const ResponseMeta meta{.id = NewId(ep), .model = b.info.id,
                          .created = std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::system_clock::now().time_since_epoch()).count()};
  if (ep == Endpoint::kOllamaGenerate && r.prompt.empty() && r.images.empty()) {  // Ollama's "load the model" call
    CompletionResult empty;
    empty.finish = FinishReason::kEog;
    Json done = OllamaFinalJson(r, meta.model, Rfc3339(std::chrono::system_clock::now()), "", empty);
    done["done_reason"] = "load";
    return SendJson(res, done);
  }
  auto job = std::make_shared<Job>();
  // The deadline counts from here, so slow image encoding spends the request's time too.
  job->deadline = Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(ctx.opts->request_timeout_s * 1000));
  const int fd = CurrentConnection().fd;
  ChatOptions opts = b.chat_options;
  if (r.tools.given && !(r.use_template && b.chat_template))
    return SendError(hreq, res, ApiError::BadRequest("'tools' need the model's chat template", "tools"));
  if (auto e = PrepareTools(b.engine->tokenizer(), b.chat_template ? b.chat_template->format() : ChatFormat::kGemma3,
                            &r.tools, &r.messages, &r.gen, &opts))
    return SendError(hreq, res, *e);
  if (r.reasoning && r.use_template && b.chat_template)
    if (Status st = EnableReasoning(b.engine->tokenizer(), b.chat_template->format(),
                                    r.reasoning_budget >= 0 ? r.reasoning_budget : ctx.opts->reasoning_budget, &r.gen, &opts);
        !st.ok())
      return SendError(hreq, res, ApiError::Of(500, "server_error", st.message()));
  // The gateway escalates plain text chat only: tool calls, thoughts and structured answers are
  // decoded locally under their grammar (a remote answer would not be checked against it).
  const bool routable = ep == Endpoint::kChatCompletions && !r.stream && r.images.empty() && r.use_template &&
                        !r.tools.given && !r.reasoning && !r.gen.grammar;
  if (b.router && routable) {
    auto e = BuildPrompt(b, r, opts, &job->prompt);
    body_lease.Reset();
    return RespondRouted(ctx, r, meta, job, e, hreq, res);
  }
  if (b.router) res.set_header("x-gemrun-route", "local (gateway: only non-streamed plain text chat requests escalate)");
  if (r.images.empty()) {
    if (auto e = BuildPrompt(b, r, opts, &job->prompt)) return SendError(hreq, res, *e);
  } else {
    if (auto e = BuildImagePrompt(ctx, r, opts, fd, job->deadline, job.get())) return SendError(hreq, res, *e);
    r.images.clear();
  }
  body_lease.Reset();
  CurrentLog().prompt_tokens = static_cast<int64_t>(job->prompt.size());
  job->params = r.gen;
  job->want_pieces = r.gen.logprobs;
  if (auto e = b.scheduler->Submit(job)) return SendError(hreq, res, ToApiError(*e));
  if (!r.stream) return RespondWhole(job, r, meta, fd, hreq, res);

  auto st = std::make_shared<Stream>(Stream{.job = job, .req = std::move(r), .meta = meta, .fd = fd,
                                            .ping = std::chrono::milliseconds(
                                                static_cast<int64_t>(ctx.opts->sse_ping_s * 1000))});
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");  // nginx: do not buffer the stream
  res.set_chunked_content_provider(
      IsOllama(ep) ? "application/x-ndjson" : "text/event-stream",
      [st](size_t, httplib::DataSink& sink) { return ProvideStream(*st, sink); },
      [st](bool) { st->job->Cancel(); });  // no-op when finished; frees the slot when not
}

}  // namespace gemrun::server
