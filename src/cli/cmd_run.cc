// gemrun run: one prompt in, a streamed answer out. The prompt comes from -p, files (-f) and
// stdin (appended as a delimited document: piped input that arrives within a short grace, or
// `-f -`, which waits for EOF); the model's chat format is applied unless
// --raw. Tokens stream to stdout; timings go to stderr; --json prints one object at the end.
// With --remote the answer may come from a remote engine (remote/router.h): the decision goes to
// stderr and into the --json record, and the answer is printed whole once it is decided.
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/commands.h"
#include "cli/constrain_flags.h"
#include "cli/fit_flags.h"
#include "cli/gen_flags.h"
#include "cli/remote_flags.h"
#include "engine/reasoning.h"
#include "engine/tool_calls.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/utf8.h"
#include "cli/images.h"
#include "cli/media.h"
#include "vision/vision.h"

namespace gemrun::cli {
namespace {

constexpr uint64_t kMaxInputBytes = uint64_t{256} << 20;  // refuse absurd inputs early

Status ReadAll(std::istream& in, const std::string& what, std::string* out) {
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return InvalidArgumentError("cannot read " + what);
  *out = ss.str();
  if (out->size() > kMaxInputBytes)
    return InvalidArgumentError(what + " is " + std::to_string(out->size() >> 20) + " MiB; the limit is 256 MiB");
  return OkStatus();
}

// How long a non-terminal stdin may stay silent before `run` stops waiting for it: a pipe
// whose writer never writes or closes (a daemon's inherited stdin, `cmd | tee >(gemrun ...)`)
// would otherwise block forever. `-f -` waits without limit.
constexpr int kStdinGraceMs = 500;

// True when stdin has data or is at EOF within the grace period (regular files and closed
// pipes are ready at once).
bool StdinReady() {
  pollfd p{STDIN_FILENO, POLLIN, 0};
  int r;
  do r = poll(&p, 1, kStdinGraceMs);
  while (r < 0 && errno == EINTR);
  return r > 0 && (p.revents & (POLLIN | POLLHUP)) != 0;
}

// The user message: the prompt, then each file and piped stdin as a delimited document.
// A file named "-" is standard input, read to EOF.
Status BuildUserText(const std::string& prompt, const std::vector<std::string>& files, bool use_stdin,
                     std::string* out) {
  *out = prompt;
  auto append_doc = [out](const std::string& name, const std::string& body) {
    if (!out->empty()) *out += "\n\n";
    *out += "<document name=\"" + name + "\">\n" + body;
    if (!body.empty() && body.back() != '\n') *out += "\n";
    *out += "</document>";
  };
  for (const std::string& f : files) {
    if (f == "-") {
      std::string body;
      RETURN_IF_ERROR(ReadAll(std::cin, "standard input", &body));
      append_doc("stdin", body);
      continue;
    }
    std::ifstream in(f, std::ios::binary);
    if (!in) return NotFoundError("cannot open -f " + f);
    std::string body;
    RETURN_IF_ERROR(ReadAll(in, f, &body));
    append_doc(f, body);
  }
  if (use_stdin) {
    std::string body;
    RETURN_IF_ERROR(ReadAll(std::cin, "standard input", &body));
    if (!body.empty()) append_doc("stdin", body);  // </dev/null adds nothing
  }
  if (out->empty()) return InvalidArgumentError("no prompt: give -p TEXT, -f FILE, pipe text in, or --prompt-ids");
  return OkStatus();
}

// Prints a routed answer: the decision on stderr, the text (or the --json record) on stdout.
// `local` is the local generation when one ran and produced a usable answer.
int PrintRouted(const remote::RouteResult& r, const GenerateResult* local, bool json, int64_t n_prompt) {
  std::fprintf(stderr, "gemrun run: %s\n", r.Line().c_str());
  if (!r.has_answer)
    return ReportError("run", InternalError("no answer: the remote failed (" + r.note + ") and there is no local answer "
                                            "to fall back to"));
  if (r.fell_back) std::fprintf(stderr, "gemrun run: warning: the remote was not used (%s); this is the local answer\n",
                                r.note.c_str());
  if (!json) {
    std::fwrite(r.text.data(), 1, r.text.size(), stdout);
    std::printf("\n");
    return kExitOk;
  }
  nlohmann::json out = {{"text", utf8::Sanitize(r.text)}, {"route", r.ToJson()}};
  if (r.remote_used) {
    out["usage"] = {{"prompt_tokens", r.remote_prompt_tokens}, {"completion_tokens", r.remote_completion_tokens}};
  } else if (local) {
    out["tokens"] = local->tokens;
    out["finish_reason"] = FinishReasonName(local->finish);
    out["usage"] = {{"prompt_tokens", n_prompt}, {"completion_tokens", local->tokens.size()}};
  }
  std::printf("%s\n", out.dump().c_str());
  return kExitOk;
}

}  // namespace

int CmdRun(int argc, char** argv) {
  CLI::App app{"Generate an answer to one prompt; tokens stream to stdout, timings to stderr.\n\n"
               "examples:\n"
               "  gemrun run -m gemma-3-4b-it-Q4_0.gguf -p \"Explain SIGPIPE in one paragraph\"\n"
               "  journalctl -u nginx -n 200 | gemrun run -m model.gguf -p \"Why does nginx fail?\"\n"
               "  slow_report.sh | gemrun run -m model.gguf -f - -p \"Summarise\"   (-f -: wait for all of stdin)\n"
               "  gemrun run -m model.gguf -f /var/log/syslog -p \"Summarise the errors\" --temp 0 --json\n"
               "  gemrun run -m model.gguf --prompt-ids 2,105,2364 -n 16 --temp 0 --json\n"
               "  gemrun run -m gemma-4-12b.gguf --mmproj mmproj.gguf --audio call.wav -p \"Transcribe <audio>\"\n"
               "  gemrun run -m model.gguf -p \"Triage this alert\" --schema triage.schema.json --json\n"
               "  gemrun run -m model.gguf -p \"Restart nginx on web-3\" --tools ops.json --tool-choice required --json\n"
               "  gemrun run -m model.gguf -f app.log -p \"Why?\" --remote https://llm.example.com/v1 --escalate auto "
               "--audit remote.jsonl   (redacted; docs/remote.md)\n\n"
               "constrained output (--schema/--json-object/--grammar/--regex): a refused constraint exits 1 naming the "
               "keyword; an answer cut by -n or a full context exits 3 (never a truncated document)\n\n"
               "exit codes: 0 ok, 1 usage error (incl. a prompt longer than the context), 2 model/file error, "
               "3 runtime error",
               "gemrun run"};
  GenFlags f;
  f.Register(app);
  FitFlags fit;
  fit.Register(app);
  ConstraintFlags constraint;
  constraint.Register(app);
  std::string prompt, system, prompt_ids;
  std::vector<std::string> files;
  bool json = false, raw = false, no_stdin = false, think = false;
  app.add_option("-p,--prompt", prompt, "prompt text");
  app.add_option("--system", system, "system prompt");
  app.add_option("-f,--file", files, "file(s) appended to the prompt as documents; '-' is stdin, read to EOF "
                                     "(piped stdin is otherwise read only if it sends data within 0.5 s)");
  app.add_option("--prompt-ids", prompt_ids, "raw prompt token ids, comma-separated (no template)");
  app.add_flag("--json", json, "print one JSON object at the end (text, tokens, finish_reason, usage, timings)");
  app.add_flag("--raw", raw, "no chat template: the prompt text is tokenized as is (BOS added)");
  app.add_flag("--no-stdin", no_stdin, "do not read piped standard input");
  app.add_flag("--think", think, "Gemma 4: enable the thinking channel (same as --reasoning on)");
  std::string reasoning = "off";
  int64_t reasoning_budget = -1;
  app.add_option("--reasoning", reasoning, "Gemma 4 thinking: on|off (default off); the thought goes to stderr "
                                           "(dimmed) and to \"reasoning\" in --json, never into the answer, e.g. "
                                           "--reasoning on --reasoning-budget 512")
      ->check(CLI::IsMember({"on", "off"}));
  app.add_option("--reasoning-budget", reasoning_budget, "with --reasoning on: at most N thought tokens, then the "
                                                         "thought is closed and the answer starts (default: no limit)");
  ImageOptions io;
  std::vector<std::string> images, audios;
  app.add_option("--mmproj", io.mmproj, "projector (mmproj-*.gguf) for --image and --audio");
  app.add_option("--image", images, "image file (PNG/JPEG), repeatable; \"<image>\" in -p marks where it goes, "
                                    "otherwise images come first")->needs("--mmproj");
  app.add_option("--audio", audios, "audio clip (WAV; Gemma 4 12B), repeatable; \"<audio>\" in -p marks where it goes, "
                                    "otherwise clips come first (after the images)")->needs("--mmproj");
  AddImageFlags(app, &io, /*needs_mmproj=*/false);
  RemoteFlags rf;
  rf.Register(app);
  f.gen.sampling.temperature = 0.8f;
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  if (Status s = f.Finish(); !s.ok()) return ReportError("run", s);
  think = think || reasoning == "on";
  if (Status s = constraint.Apply(&f.gen); !s.ok()) return ReportError("run", s);
  auto ropts = rf.Finish();
  if (!ropts.ok()) return ReportError("run", ropts.status());
  const bool routed = rf.active();
  if (routed && (!prompt_ids.empty() || raw || !images.empty() || !audios.empty() || constraint.tools_active() || think))
    return ReportError("run", InvalidArgumentError("--remote works with text prompts (not --prompt-ids, --raw, --image, "
                                                   "--audio, --tools, --reasoning on)"));
  if (routed && ropts->mode == remote::Escalate::kAuto) f.gen.logprobs = true;  // for --min-confidence

  std::vector<int32_t> ids;
  std::string user;
  constrain::ToolSyntax tool_syntax = constrain::ToolSyntax::kJson;
  if (!prompt_ids.empty()) {
    if (Status s = ParseTokenIds("--prompt-ids", prompt_ids, &ids); !s.ok()) return ReportError("run", s);
  } else {
    const bool dash = std::find(files.begin(), files.end(), "-") != files.end();
    bool piped = !no_stdin && !dash && !isatty(STDIN_FILENO);
    if (piped && !StdinReady()) {
      piped = false;
      std::fprintf(stderr, "gemrun run: standard input is not a terminal but sent nothing within %d ms; not reading it "
                           "(-f - waits for it, --no-stdin silences this)\n", kStdinGraceMs);
    }
    if (Status s = BuildUserText(prompt, files, piped, &user); !s.ok()) return ReportError("run", s);
  }
  if (Status s = fit.Check(f.model, f.engine); !s.ok()) return ReportError("run", s);
  auto engine = Engine::Load(f.model, f.engine);
  if (!engine.ok()) return ReportError("run", engine.status());
  const Engine& e = **engine;
  std::fprintf(stderr, "gemrun run: %s\n", e.Describe().c_str());
  if (ids.empty() && images.empty() && audios.empty()) {
    if (raw) {
      ids = e.tokenizer().Encode(user, EncodeOptions{.add_special = true, .parse_special = true});
    } else {
      auto tmpl = ChatTemplate::ForGguf(e.model().file());
      if (!tmpl.ok()) return ReportError("run", tmpl.status());
      std::vector<ChatMessage> msgs;
      if (!system.empty()) msgs.push_back({"system", system});
      msgs.push_back({"user", user});
      ChatOptions co{.enable_thinking = think, .parse_special_in_content = f.parse_special_in_content};
      if (Status s = constraint.ApplyTools(e.tokenizer(), tmpl->format(), &f.gen, &co); !s.ok())
        return ReportError("run", s);
      tool_syntax = ToolSyntaxFor(tmpl->format());
      if (think)
        if (Status s = EnableReasoning(e.tokenizer(), tmpl->format(), reasoning_budget, &f.gen, &co); !s.ok())
          return ReportError("run", s);
      auto enc = tmpl->Encode(e.tokenizer(), msgs, co);
      if (!enc.ok()) return ReportError("run", enc.status());
      ids = std::move(*enc);
      f.gen.extra_eog = tmpl->StopTokens(e.tokenizer().vocab());
    }
  }
  if (constraint.tools_active() && (raw || !prompt_ids.empty() || !images.empty() || !audios.empty()))
    return ReportError("run", InvalidArgumentError("--tools works with the chat format and a text prompt "
                                                   "(not with --raw, --prompt-ids, --image or --audio)"));
  std::vector<PromptSegment> segments;
  if (!images.empty() || !audios.empty()) {
    if (!prompt_ids.empty() || raw)
      return ReportError("run", InvalidArgumentError("--image/--audio work with the chat format (not with --prompt-ids or --raw)"));
    std::vector<MediaItem> items;
    if (!images.empty()) {
      auto enc = LoadImageEncoder(e, io);
      if (!enc.ok()) return ReportError("run", enc.status());
      for (const std::string& img : images) {
        auto seg = EncodeImage(e, **enc, io, img);
        if (!seg.ok()) return ReportError("run", seg.status());
        items.push_back({MediaKind::kImage, std::move(*seg)});
      }
    }
    if (!audios.empty()) {
      auto enc = LoadAudioEncoder(e, io.mmproj);
      if (!enc.ok()) return ReportError("run", enc.status());
      for (const std::string& clip : audios) {
        auto seg = EncodeAudio(e, **enc, clip);
        if (!seg.ok()) return ReportError("run", seg.status());
        items.push_back({MediaKind::kAudio, std::move(*seg)});
      }
    }
    std::vector<PromptSegment> rows;
    auto tmpl = ChatTemplate::ForGguf(e.model().file());
    if (!tmpl.ok()) return ReportError("run", tmpl.status());
    std::vector<ChatMessage> msgs;
    if (!system.empty()) msgs.push_back({"system", system});
    msgs.push_back({"user", PlaceMedia(user, items, tmpl->format(), &rows)});
    const ChatOptions co{.enable_thinking = think, .parse_special_in_content = f.parse_special_in_content};
    if (Status st = EncodeChatPrompt(e.tokenizer(), *tmpl, msgs, co, std::move(rows), &segments); !st.ok())
      return ReportError("run", st);
    f.gen.extra_eog = tmpl->StopTokens(e.tokenizer().vocab());
  } else {
    segments.push_back(PromptSegment{.ids = ids});
  }
  int64_t n_prompt = 0;
  for (const auto& seg : segments) n_prompt += seg.size();
  auto session = e.NewSession();
  if (!session.ok()) return ReportError("run", session.status());
  // The remote request: the same messages, unredacted (the router redacts).
  remote::ChatRequest rreq;
  std::optional<remote::RouteResult> pre;  // --escalate always: the remote is tried before the local run
  if (routed) {
    if (!system.empty()) rreq.messages.push_back({"system", system});
    rreq.messages.push_back({"user", user});
    rreq.max_tokens = f.gen.max_tokens > 0 ? f.gen.max_tokens : 0;
    auto rf_format = ResponseFormatFor(constraint);
    if (!rf_format.ok()) return ReportError("run", rf_format.status());
    rreq.response_format = *rf_format;
    if (ropts->mode == remote::Escalate::kAlways) {
      remote::LocalResult none;  // not run yet: the local model is the fallback
      none.prompt_tokens = n_prompt;
      none.context = (*session)->n_ctx();
      pre = remote::Router(*ropts).Route(rreq, none);
      if (pre->has_answer) return PrintRouted(*pre, nullptr, json, n_prompt);
    }
  }
  // The thought goes to stderr (dimmed on a terminal), the answer to stdout.
  ChannelSplitter splitter;
  const bool dim = isatty(STDERR_FILENO);
  auto show = [dim](const ChannelSplitter::Out& o) {
    if (!o.thought.empty()) std::fprintf(stderr, "%s%s%s", dim ? "\033[2m" : "", o.thought.c_str(), dim ? "\033[0m" : "");
    std::fwrite(o.answer.data(), 1, o.answer.size(), stdout);
    std::fflush(stdout);
  };
  double logprob_sum = 0;
  int64_t logprob_n = 0;
  auto on_token = [&](const TokenEvent& ev) {
    logprob_sum += ev.logprob;
    ++logprob_n;
    if (!json && !routed && !ev.text.empty())
      show(think ? splitter.Push(ev.text) : ChannelSplitter::Out{"", std::string(ev.text)});
    return true;
  };
  auto res = (*session)->Generate(std::span<const PromptSegment>(segments), f.gen, on_token);
  if (routed) {
    if (!res.ok() && res.status().code() != StatusCode::kOutOfRange) return ReportError("run", res.status());
    remote::LocalResult local;
    local.available = local.valid = res.ok() && res->constraint_error.empty();
    local.fits_context = res.ok();
    local.prompt_tokens = n_prompt;
    local.context = (*session)->n_ctx();
    if (res.ok()) {
      local.text = res->text;
      local.invalid_reason = res->constraint_error;
      if (logprob_n > 0 && ropts->mode == remote::Escalate::kAuto) local.mean_logprob = logprob_sum / logprob_n;
    }
    remote::RouteResult r;
    if (pre) {  // always: the remote already failed; the local answer is the fallback
      r = *pre;
      r.has_answer = local.available;
      r.text = local.text;
    } else {
      r = remote::Router(*ropts).Route(rreq, local);
    }
    if (!r.has_answer && res.ok() && !res->constraint_error.empty()) {
      std::fprintf(stderr, "gemrun run: %s\n", r.Line().c_str());
      return ReportError("run", InternalError(res->constraint_error));
    }
    if (!r.has_answer && !res.ok() && !r.decision.remote) return ReportError("run", res.status());
    return PrintRouted(r, res.ok() ? &*res : nullptr, json, n_prompt);
  }
  if (!res.ok()) return ReportError("run", res.status());
  if (!res->constraint_error.empty()) return ReportError("run", InternalError(res->constraint_error));
  if (!json) show(splitter.Flush());
  const ChannelSplitter::Out channels = think ? ChannelSplitter::Split(res->text) : ChannelSplitter::Out{"", res->text};
  std::string answer = channels.answer;
  nlohmann::json calls = nlohmann::json::array();
  if (constraint.tools_active()) {
    auto parsed = ParseToolCalls(answer, tool_syntax);
    if (!parsed.ok()) return ReportError("run", InternalError(parsed.status().message()));
    answer = parsed->content;
    for (const ToolCall& c : parsed->calls) calls.push_back({{"name", c.name}, {"arguments", c.arguments}});
  }
  const Timings& t = res->timings;
  if (json) {
    nlohmann::json out = {
        {"text", utf8::Sanitize(answer)},
        {"tokens", res->tokens},
        {"finish_reason", FinishReasonName(res->finish)},
        {"finish_detail", FinishReasonDetail(res->finish)},
        {"usage", {{"prompt_tokens", n_prompt}, {"completion_tokens", res->tokens.size()},
                   {"total_tokens", n_prompt + static_cast<int64_t>(res->tokens.size())}, {"cached_tokens", t.cached_tokens}}},
        {"timings", {{"load_ms", t.load_ms}, {"prompt_ms", t.prompt_ms}, {"prompt_tokens_per_s", t.PromptTokPerS()},
                     {"gen_ms", t.gen_ms}, {"gen_tokens_per_s", t.GenTokPerS()}}}};
    if (constraint.tools_active()) out["tool_calls"] = calls;
    if (think) out["reasoning"] = utf8::Sanitize(channels.thought);
    if (e.draft_model())
      out["speculative"] = {{"drafted", t.spec.drafted}, {"accepted", t.spec.accepted},
                            {"acceptance_rate", t.spec.AcceptanceRate()}, {"target_passes", t.spec.target_passes},
                            {"draft_ms", t.spec.draft_ms}};
    std::printf("%s\n", out.dump().c_str());
  } else {
    std::printf("\n");
  }
  std::fprintf(stderr, "[load %.0f ms | prompt %lld tok, %.1f tok/s | gen %lld tok, %.1f tok/s | %s]\n", t.load_ms,
               (long long)t.prompt_tokens, t.PromptTokPerS(), (long long)t.gen_tokens, t.GenTokPerS(),
               FinishReasonDetail(res->finish));
  if (e.draft_model())
    std::fprintf(stderr, "[speculative: %lld drafted, %lld accepted (%.2f), %lld target passes, draft %.0f ms]\n",
                 (long long)t.spec.drafted, (long long)t.spec.accepted, t.spec.AcceptanceRate(),
                 (long long)t.spec.target_passes, t.spec.draft_ms);
  return kExitOk;
}

}  // namespace gemrun::cli
