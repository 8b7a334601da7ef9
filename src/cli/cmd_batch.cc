// gemrun batch: OpenAI chat-completions requests, one JSON object per line of IN, through the
// engine's continuous batcher (as `serve --parallel` runs them) into OUT, one record per request
// line, in input order. A bad line (not JSON, a refused field or schema, a prompt over the
// context) becomes an error record and never stops the batch; --resume continues a killed run.
// Requests are parsed and answered by the server's pure OpenAI mapping (server/openai.h,
// server/structured.h), so a line behaves exactly as the same body sent to /v1/chat/completions.
#include <CLI/CLI.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <thread>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/gen_flags.h"
#include "cli/ops_flags.h"
#include "engine/batcher.h"
#include "engine/reasoning.h"
#include "ops/batch.h"
#include "server/openai.h"
#include "server/structured.h"

namespace gemrun::cli {
namespace {

using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

// What every line shares: the model, its chat template, the limits and the flag defaults.
struct BatchContext {
  const Engine* engine = nullptr;
  std::optional<ChatTemplate> tmpl;
  ChatOptions chat_options;
  int64_t n_ctx = 0;
  std::string model_name;
  Json defaults = Json::object();  // request fields set by flags, used where a line has none
};

// A per-line failure, in the shape of the server's error object.
struct LineError {
  std::string type, message, code;
  static LineError Of(const server::ApiError& e) {
    const std::string where = e.param.empty() || e.message.find(e.param) != std::string::npos ? "" : " (" + e.param + ")";
    return {e.type, e.message + where, e.code};
  }
};

// One request on its way through the batcher.
struct Pending {
  size_t index = 0;  // into the request lines
  ops::BatchId id;
  server::ApiRequest req;
  std::shared_ptr<BatchJob> job;
  std::vector<TokenOut> tokens;
};

// The request object of a line: the line itself, or the "body" of an OpenAI Batch API line
// ({"custom_id", "method", "url", "body"}). The echo fields are removed (the parser is strict).
std::optional<LineError> RequestOf(const Json& line, Json* req, const nlohmann::ordered_json** ordered_req,
                                   const nlohmann::ordered_json* ordered_line) {
  *ordered_req = ordered_line;
  if (line.contains("body")) {
    if (!line["body"].is_object()) return LineError{"invalid_request_error", "'body' must be an object", "invalid_value"};
    if (line.contains("url") && line["url"] != "/v1/chat/completions")
      return LineError{"invalid_request_error", "only \"url\": \"/v1/chat/completions\" is supported, not " +
                                                    line["url"].dump(), "unsupported_parameter"};
    *req = line["body"];
    *ordered_req = ordered_line ? server::OrderedField(ordered_line, "body") : nullptr;
    return std::nullopt;
  }
  *req = line;
  for (const char* k : {"custom_id", "id"}) req->erase(k);
  return std::nullopt;
}

// Parses one line into a request with its prompt ids and generation parameters.
std::optional<LineError> PrepareLine(const BatchContext& ctx, std::string_view text, Pending* p) {
  Json line;
  if (auto e = server::ParseJsonBody(text, &line)) {
    // The server's words are about an HTTP body; here it is a line of IN.
    LineError le = LineError::Of(*e);
    if (const size_t at = le.message.find("request body"); at != std::string::npos) le.message.replace(at, 12, "the line");
    if (const size_t at = le.message.find("; send a JSON object"); at != std::string::npos) le.message.resize(at);
    return le;
  }
  p->id = ops::BatchIdOf(line);
  std::optional<nlohmann::ordered_json> ordered;  // schemas compile in their written key order
  if (text.find("response_format") != std::string_view::npos || text.find("\"tools\"") != std::string_view::npos)
    ordered = nlohmann::ordered_json::parse(text, nullptr, false);
  Json req;
  const nlohmann::ordered_json* ordered_req = nullptr;
  if (auto e = RequestOf(line, &req, &ordered_req, ordered ? &*ordered : nullptr)) return e;
  for (const auto& [k, v] : ctx.defaults.items())
    if (!req.contains(k)) req[k] = v;
  if (!req.contains("model")) req["model"] = ctx.model_name;  // the server requires it; here -m names it
  const server::RequestLimits lim{.n_vocab = ctx.engine->model().config().n_vocab, .images = {}, .ordered = ordered_req};
  server::ApiRequest& r = p->req;
  if (auto e = server::ParseChatCompletionRequest(req, lim, &r)) return LineError::Of(*e);
  if (!ctx.tmpl) return LineError{"invalid_request_error", "this model has no known chat template", ""};
  const Tokenizer& tok = ctx.engine->tokenizer();
  ChatOptions opts = ctx.chat_options;
  if (auto e = server::PrepareTools(tok, ctx.tmpl->format(), &r.tools, &r.messages, &r.gen, &opts))
    return LineError::Of(*e);
  if (r.reasoning)
    if (Status st = EnableReasoning(tok, ctx.tmpl->format(), -1, &r.gen, &opts); !st.ok())
      return LineError{"invalid_request_error", st.message(), ""};
  auto ids = ctx.tmpl->Encode(tok, r.messages, opts);
  if (!ids.ok()) return LineError{"invalid_request_error", ids.status().message(), "invalid_value"};
  if (static_cast<int64_t>(ids->size()) >= ctx.n_ctx)
    return LineError{"invalid_request_error",
                     "the prompt is " + std::to_string(ids->size()) + " tokens but the context holds " +
                         std::to_string(ctx.n_ctx) + " per request (including at least one generated token); "
                         "shorten it or raise -c",
                     "context_length_exceeded"};
  r.stream = false;  // a batch answers whole
  p->job = std::make_shared<BatchJob>();
  p->job->prompt = std::move(*ids);
  p->job->params = r.gen;
  p->job->params.extra_eog = ctx.tmpl->StopTokens(tok.vocab());  // as `run`: the turn's end ends the answer
  p->job->want_pieces = r.gen.logprobs;
  return std::nullopt;
}

// The record of a finished request: the chat.completion, or an error (the batcher's, or an
// incomplete constrained answer: fail closed, as the server does).
std::string FinishedRecord(const BatchContext& ctx, int64_t line, Pending& p, bool* failed) {
  *failed = true;
  if (const auto& err = p.job->error())
    return ops::BatchErrorRecord(line, p.id, "server_error", err->message, BatchErrorKindName(err->kind));
  CompletionResult res = p.job->result();
  res.tokens = std::move(p.tokens);
  const server::ResponseMeta meta{.id = "chatcmpl-batch-" + std::to_string(line), .model = ctx.model_name,
                                  .created = std::chrono::duration_cast<std::chrono::seconds>(
                                                 std::chrono::system_clock::now().time_since_epoch()).count()};
  Json body = server::ChatCompletionJson(meta, res, p.req);
  if (body.contains("error")) {
    const Json& e = body["error"];
    return ops::BatchErrorRecord(line, p.id, e.value("type", "invalid_response_error"), e.value("message", ""),
                                 e.value("code", ""));
  }
  *failed = false;
  return ops::BatchResultRecord(line, p.id, body);
}

// Request fields the generation flags stand for, where the user gave them.
Json FlagDefaults(const CLI::App& app, const GenFlags& f) {
  Json d = Json::object();
  auto given = [&](const char* name) { return app.get_option(name)->count() > 0; };
  const SamplingParams& s = f.gen.sampling;
  if (given("--max-tokens")) d["max_tokens"] = f.gen.max_tokens;
  if (given("--temp")) d["temperature"] = s.temperature;
  if (given("--top-k")) d["top_k"] = s.top_k;
  if (given("--top-p")) d["top_p"] = s.top_p;
  if (given("--min-p")) d["min_p"] = s.min_p;
  if (given("--repeat-penalty")) d["repeat_penalty"] = s.repeat_penalty;
  if (given("--presence-penalty")) d["presence_penalty"] = s.presence_penalty;
  if (given("--frequency-penalty")) d["frequency_penalty"] = s.frequency_penalty;
  if (given("--seed")) d["seed"] = s.seed;
  if (given("--stop")) d["stop"] = f.gen.stop;
  return d;
}

Status ReadInput(const std::string& path, std::string* out) {
  std::ostringstream ss;
  if (path == "-") {
    ss << std::cin.rdbuf();
  } else {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) return NotFoundError("cannot read " + path + ": no such file");
    std::ifstream in(path, std::ios::binary);
    if (!in) return NotFoundError("cannot open " + path);
    ss << in.rdbuf();
  }
  *out = ss.str();
  return OkStatus();
}

// Opens OUT for writing: truncated, or (resume) cut to the records that stand and appended to.
StatusOr<FILE*> OpenOutput(const std::string& path, const std::vector<ops::BatchLine>& lines, bool resume,
                           ops::BatchResume* r) {
  std::error_code ec;
  if (resume && std::filesystem::exists(path, ec)) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return NotFoundError("cannot read -o " + path);
    std::ostringstream ss;
    ss << in.rdbuf();
    auto scan = ops::ScanBatchOutput(ss.str(), lines);
    if (!scan.ok()) return Status(scan.status().code(), "-o " + path + ": " + scan.status().message());
    *r = *scan;
    std::filesystem::resize_file(path, r->keep_bytes, ec);
    if (ec) return NotFoundError("cannot truncate -o " + path + ": " + ec.message());
  }
  FILE* f = std::fopen(path.c_str(), resume ? "ab" : "wb");
  if (!f) return NotFoundError("cannot write -o " + path + ": " + std::strerror(errno));
  return f;
}

struct Summary {
  size_t total = 0, skipped = 0, ok = 0, failed = 0, failed_before = 0;
  int64_t prompt_tokens = 0, completion_tokens = 0;
  double seconds = 0;
};

// Runs lines[first, end) through the batcher, at most `window` in flight; records go to `writer`.
Status RunLines(const BatchContext& ctx, Batcher& batcher, const std::vector<ops::BatchLine>& lines, size_t first,
                size_t window, ops::OrderedWriter& writer, Summary* sum) {
  ProgressBar bar("batch");
  const Clock::time_point t0 = Clock::now();
  std::deque<Pending> flight;
  size_t next = first;
  auto put = [&](size_t index, std::string rec, bool failed) {
    (failed ? sum->failed : sum->ok)++;
    return writer.Put(index, std::move(rec));
  };
  while (next < lines.size() || !flight.empty()) {
    while (next < lines.size() && flight.size() < window) {
      Pending p;
      p.index = next++;
      const int64_t number = lines[p.index].number;
      std::optional<LineError> e = PrepareLine(ctx, lines[p.index].text, &p);
      if (!e)
        if (auto se = batcher.Submit(p.job)) e = LineError{"server_error", se->message, BatchErrorKindName(se->kind)};
      if (e) RETURN_IF_ERROR(put(p.index, ops::BatchErrorRecord(number, p.id, e->type, e->message, e->code), true));
      else flight.push_back(std::move(p));
    }
    if (flight.empty()) continue;
    // Wait on the oldest (its record is the next to write), then collect whatever else finished.
    flight.front().job->Wait(std::chrono::milliseconds(50), &flight.front().tokens);
    for (auto it = flight.begin(); it != flight.end();) {
      if (!it->job->Wait(std::chrono::milliseconds(0), &it->tokens)) {
        ++it;
        continue;
      }
      bool failed = false;
      const std::string rec = FinishedRecord(ctx, lines[it->index].number, *it, &failed);
      sum->prompt_tokens += it->job->result().usage.prompt_tokens;
      sum->completion_tokens += it->job->result().usage.completion_tokens;
      RETURN_IF_ERROR(put(it->index, rec, failed));
      it = flight.erase(it);
    }
    sum->seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    bar.Update(ops::AskProgress{.stage = "lines", .done = writer.next(), .total = lines.size(),
                                .gen_tokens = sum->completion_tokens, .elapsed_s = sum->seconds});
  }
  bar.Done();
  sum->seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return OkStatus();
}

void PrintSummary(const Summary& s, const std::string& out, bool json) {
  const double rate = s.seconds > 0 ? s.completion_tokens / s.seconds : 0;
  std::fprintf(stderr, "gemrun batch: %zu requests: %zu ok, %zu failed this run", s.total, s.ok, s.failed);
  if (s.skipped) std::fprintf(stderr, ", %zu already in %s (%zu of them failed)", s.skipped, out.c_str(), s.failed_before);
  std::fprintf(stderr, "; %lld prompt + %lld generated tokens in %.1f s (%.1f tok/s generated)\n",
               static_cast<long long>(s.prompt_tokens), static_cast<long long>(s.completion_tokens), s.seconds, rate);
  if (!json) return;
  std::printf("%s\n", Json{{"requests", s.total}, {"ok", s.ok}, {"failed", s.failed}, {"skipped", s.skipped},
                           {"failed_before", s.failed_before}, {"prompt_tokens", s.prompt_tokens},
                           {"completion_tokens", s.completion_tokens}, {"seconds", s.seconds},
                           {"tokens_per_second", rate}, {"output", out}}.dump().c_str());
}

}  // namespace

int CmdBatch(int argc, char** argv) {
  CLI::App app{"Run OpenAI chat-completions requests from a JSONL file through the continuous batcher (as `serve "
               "--parallel N` runs them) and write one result line per request, in input order.\n\n"
               "input: one JSON object per line, the body of a POST /v1/chat/completions (messages, max_tokens, "
               "temperature, seed, stop, response_format, tools, ...), with an optional \"custom_id\" or \"id\" that "
               "is echoed; OpenAI Batch API lines ({\"custom_id\", \"method\", \"url\", \"body\"}) work too. Blank "
               "lines are skipped. Flags such as --temp, -n, --seed fill fields a line does not set; without a seed "
               "every line uses --seed's default, so a batch is reproducible.\n\n"
               "output: per request line {\"line\": N, <id>, \"response\": {chat.completion}, \"error\": null}, or "
               "{\"line\": N, <id>, \"response\": null, \"error\": {\"type\", \"message\", \"code\"}} for a bad line "
               "(not JSON, a refused field or schema, a prompt over the context) or an answer that failed its "
               "response_format (fail closed). A bad line never stops the batch.\n\n"
               "examples:\n"
               "  gemrun batch -m model.gguf requests.jsonl -o results.jsonl --parallel 4\n"
               "  gemrun batch -m gemma3:1b requests.jsonl -o results.jsonl --resume   (after a crash or Ctrl-C)\n"
               "  jq -c '{custom_id: .id, messages: [{role: \"user\", content: .text}], max_tokens: 64}' items.json |\n"
               "      gemrun batch -m model.gguf - -o out.jsonl --temp 0 --json\n\n"
               "--resume: the requests whose records are complete in OUT are skipped and the rest appended; a torn "
               "last record (a killed run) is redone. OUT must come from the same input.\n\n"
               "exit codes: 0 every request answered, 4 the batch finished but some records are errors (count on "
               "stderr; select them with jq 'select(.error)'), 1 usage error, 2 model/file error (IN unreadable, OUT "
               "from another input), 3 runtime error",
               "gemrun batch"};
  GenFlags f;
  f.Register(app);
  std::string in_path, out_path;
  int parallel = 4;
  bool resume = false, json = false;
  app.add_option("input", in_path, "requests, one JSON object per line (- for stdin)")->required();
  app.add_option("-o,--output", out_path, "results, one JSON line per request line")->required();
  app.add_option("--parallel,-P", parallel, "requests decoded together (default 4)")->check(CLI::Range(1, 256));
  app.add_flag("--resume", resume, "skip the requests already in OUT; append the rest");
  app.add_flag("--json", json, "print a summary object on stdout");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  if (Status s = f.Finish(); !s.ok()) return ReportError("batch", s);
  // A bad flag value is a usage error now, not an error record on every line later.
  if (Status s = f.gen.sampling.Validate(INT64_MAX); !s.ok()) return ReportError("batch", s);
  BatchContext ctx;
  ctx.defaults = FlagDefaults(app, f);
  ctx.chat_options.parse_special_in_content = f.parse_special_in_content;
  std::string input;
  if (Status s = ReadInput(in_path, &input); !s.ok()) return ReportError("batch", s);
  const std::vector<ops::BatchLine> lines = ops::SplitBatchInput(input);
  ops::BatchResume done;
  auto out = OpenOutput(out_path, lines, resume, &done);
  if (!out.ok()) return ReportError("batch", out.status());
  std::unique_ptr<FILE, int (*)(FILE*)> out_file(*out, &std::fclose);
  Summary sum{.total = lines.size(), .skipped = done.done, .failed_before = done.failed};
  if (done.torn) std::fprintf(stderr, "gemrun batch: %s ended in a torn record (a killed run); redoing it\n", out_path.c_str());
  if (done.done > 0) std::fprintf(stderr, "gemrun batch: resuming: %zu of %zu requests already in %s\n", done.done,
                                  lines.size(), out_path.c_str());
  if (done.done < lines.size()) {
    f.engine.n_seqs = parallel;  // the memory check counts every slot's KV cache
    f.engine.repack_lm_head = parallel > 1;
    auto engine = Engine::Load(f.model, f.engine);
    if (!engine.ok()) return ReportError("batch", engine.status());
    std::fprintf(stderr, "gemrun batch: %s\n", (*engine)->Describe().c_str());
    ctx.engine = engine->get();
    ctx.n_ctx = (*engine)->n_ctx();
    ctx.model_name = std::filesystem::path(f.model).stem().string();
    if (auto t = ChatTemplate::ForGguf((*engine)->model().file()); t.ok()) ctx.tmpl = *t;
    const BatcherOptions bo{.n_slots = parallel, .n_ctx = ctx.n_ctx, .max_batch = f.engine.max_batch,
                            .max_queue = 2 * parallel, .kv_type = f.engine.kv_type, .flash_attn = f.engine.flash_attn};
    Batcher batcher(**engine, bo, nullptr);
    if (Status s = batcher.Init(); !s.ok()) return ReportError("batch", s);
    batcher.Start();
    FILE* fp = out_file.get();
    ops::OrderedWriter writer(done.done, [fp](const std::string& rec) {
      // One write per record, flushed: a kill leaves at most the last one torn (--resume redoes it).
      const std::string line = rec + "\n";
      if (std::fwrite(line.data(), 1, line.size(), fp) != line.size() || std::fflush(fp) != 0)
        return InternalError(std::string("writing the output failed: ") + std::strerror(errno));
      return OkStatus();
    });
    // Twice the slots in flight: a slot that frees finds the next request already tokenized. The
    // batcher's cap (slots + max_queue = 3x) stays above it: a finished job may still count there
    // for a moment after Wait() reported it, and a full queue must never fail a line.
    const Status st = RunLines(ctx, batcher, lines, done.done, 2 * static_cast<size_t>(parallel), writer, &sum);
    batcher.Stop();
    if (!st.ok()) return ReportError("batch", st);
  }
  PrintSummary(sum, out_path, json);
  return sum.failed + sum.failed_before > 0 ? kExitPartial : kExitOk;
}

}  // namespace gemrun::cli
