// gemrun chat: an interactive multi-turn REPL with line editing and history (libedit), multi-
// line input, slash commands, Ctrl-C to stop an answer, and a context-usage warning.
#include <editline/readline.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "engine/reasoning.h"
#include "cli/gen_flags.h"
#include "cli/images.h"
#include "cli/media.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/utf8.h"

namespace gemrun::cli {
namespace {

std::atomic<bool> g_interrupt{false};
std::atomic<bool> g_generating{false};

void OnSigint(int) {
  g_interrupt = true;
  if (!g_generating) {
    const char msg[] = "\n(type /exit or press Ctrl-D to quit)\n";
    (void)!write(STDOUT_FILENO, msg, sizeof(msg) - 1);
  }
}

constexpr const char* kHelp =
    "commands:\n"
    "  /help            this help\n"
    "  /clear           forget the conversation (keeps the system prompt)\n"
    "  /system [TEXT]   set (or clear) the system prompt and start over\n"
    "  /save FILE       save the conversation as JSON\n"
    "  /load FILE       load a conversation saved with /save\n"
    "  /image PATH      attach an image to your next message (needs --mmproj)\n"
    "  /audio PATH      attach an audio clip (WAV) to your next message (needs --mmproj with audio)\n"
    "  /exit, /quit     leave (Ctrl-D too)\n"
    "input: end a line with \\ to continue it, or wrap several lines in \"\"\" ... \"\"\".\n"
    "Ctrl-C stops the current answer.\n";

// Reads one user turn (possibly several lines). Returns false at end of input.
bool ReadTurn(bool tty, std::string* out) {
  out->clear();
  bool block = false;
  for (;;) {
    const char* prompt = !tty ? "" : (block || !out->empty()) ? "... " : "> ";
    char* line = readline(prompt);
    if (!line && g_interrupt.exchange(false)) {  // Ctrl-C at the prompt: drop the line, go on
      out->clear();
      block = false;
      continue;
    }
    if (!line) return !out->empty();
    std::string s(line);
    std::free(line);
    if (!block && out->empty() && s == "\"\"\"") {
      block = true;
      continue;
    }
    if (block) {
      if (s == "\"\"\"") break;
      *out += s + "\n";
      continue;
    }
    if (!s.empty() && s.back() == '\\') {
      s.pop_back();
      *out += s + "\n";
      continue;
    }
    *out += s;
    break;
  }
  if (tty && !out->empty()) add_history(out->c_str());
  return true;
}

struct Conversation {
  std::string system;
  std::vector<ChatMessage> turns;
  std::vector<std::vector<MediaItem>> images;  // images and clips per turn, encoded once

  std::vector<ChatMessage> Messages() const {
    std::vector<ChatMessage> m;
    if (!system.empty()) m.push_back({"system", system});
    m.insert(m.end(), turns.begin(), turns.end());
    return m;
  }
  Status Save(const std::string& path) const {
    nlohmann::json j = {{"system", system}, {"messages", nlohmann::json::array()}};
    for (const auto& t : turns) j["messages"].push_back({{"role", t.role}, {"content", utf8::Sanitize(t.content)}});
    std::ofstream f(path);
    f << j.dump(2) << "\n";
    return f ? OkStatus() : InvalidArgumentError("cannot write " + path);
  }
  Status Load(const std::string& path) {
    std::ifstream f(path);
    if (!f) return NotFoundError("cannot open " + path);
    try {
      const nlohmann::json j = nlohmann::json::parse(f);
      Conversation c;
      c.system = j.value("system", "");
      for (const auto& m : j.at("messages")) c.turns.push_back({m.at("role").get<std::string>(), m.at("content").get<std::string>()});
      c.images.resize(c.turns.size());
      *this = std::move(c);
    } catch (const std::exception& e) {
      return InvalidArgumentError(path + ": not a saved conversation (" + e.what() + ")");
    }
    return OkStatus();
  }
};

// The prompt for the whole conversation: text segments and the turns' images and clips in order.
StatusOr<std::vector<PromptSegment>> ConversationPrompt(const Engine& e, const ChatTemplate& tmpl,
                                                        const Conversation& conv, const ChatOptions& opts) {
  std::vector<ChatMessage> msgs = conv.Messages();
  std::vector<PromptSegment> imgs;
  const size_t first_turn = msgs.size() - conv.turns.size();
  for (size_t t = 0; t < conv.turns.size(); ++t) {
    if (conv.images[t].empty()) continue;
    msgs[first_turn + t].content = PlaceMedia(msgs[first_turn + t].content, conv.images[t], tmpl.format(), &imgs);
  }
  std::vector<PromptSegment> out;
  RETURN_IF_ERROR(EncodeChatPrompt(e.tokenizer(), tmpl, msgs, opts, std::move(imgs), &out));
  return out;
}

// Handles a slash command; returns false when the REPL should end.
bool SlashCommand(const std::string& line, Conversation& conv, Session& session) {
  const size_t sp = line.find(' ');
  const std::string cmd = line.substr(0, sp);
  const std::string arg = sp == std::string::npos ? "" : line.substr(sp + 1);
  if (cmd == "/exit" || cmd == "/quit") return false;
  if (cmd == "/image" || cmd == "/audio") return true;  // handled by the REPL (needs the encoder)
  if (cmd == "/help") {
    std::printf("%s", kHelp);
  } else if (cmd == "/clear") {
    conv.turns.clear();
    conv.images.clear();
    session.Reset();
    std::printf("(conversation cleared)\n");
  } else if (cmd == "/system") {
    conv.system = arg;
    conv.turns.clear();
    conv.images.clear();
    session.Reset();
    std::printf(arg.empty() ? "(system prompt cleared)\n" : "(system prompt set; conversation restarted)\n");
  } else if (cmd == "/save" || cmd == "/load") {
    if (arg.empty()) {
      std::printf("usage: %s FILE\n", cmd.c_str());
    } else {
      Status s = cmd == "/save" ? conv.Save(arg) : conv.Load(arg);
      if (!s.ok()) std::printf("error: %s\n", s.message().c_str());
      else std::printf(cmd == "/save" ? "(saved %zu messages to %s)\n" : "(loaded %zu messages from %s)\n",
                       conv.turns.size(), arg.c_str());
      if (s.ok() && cmd == "/load") session.Reset();
    }
  } else {
    std::printf("unknown command %s (try /help)\n", cmd.c_str());
  }
  return true;
}

}  // namespace

int CmdChat(int argc, char** argv) {
  CLI::App app{"Interactive chat with line editing and history.\n\n"
               "examples:\n  gemrun chat -m gemma-3-4b-it-Q4_0.gguf\n"
               "  gemrun chat -m model.gguf --system \"You are a terse Linux admin.\" -c 8192\n\n"
               "exit codes: 0 ok, 1 usage error, 2 model/file error, 3 runtime error",
               "gemrun chat"};
  GenFlags f;
  f.Register(app);
  Conversation conv;
  bool think = false;
  app.add_option("--system", conv.system, "system prompt");
  app.add_flag("--think", think, "Gemma 4: enable the thinking channel (same as --reasoning on)");
  std::string reasoning = "off";
  int64_t reasoning_budget = -1;
  app.add_option("--reasoning", reasoning, "Gemma 4 thinking: on|off (default off); thoughts are shown dimmed and "
                                           "kept out of the answer, e.g. --reasoning on --reasoning-budget 1024")
      ->check(CLI::IsMember({"on", "off"}));
  app.add_option("--reasoning-budget", reasoning_budget, "with --reasoning on: at most N thought tokens per answer");
  ImageOptions io;
  app.add_option("--mmproj", io.mmproj, "projector (mmproj-*.gguf) for /image and /audio");
  AddImageFlags(app, &io, /*needs_mmproj=*/true);
  f.gen.sampling.temperature = 0.8f;
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  if (Status s = f.Finish(); !s.ok()) return ReportError("chat", s);
  auto engine = Engine::Load(f.model, f.engine);
  if (!engine.ok()) return ReportError("chat", engine.status());
  const Engine& e = **engine;
  std::fprintf(stderr, "gemrun chat: %s\n", e.Describe().c_str());
  auto tmpl = ChatTemplate::ForGguf(e.model().file());
  if (!tmpl.ok()) return ReportError("chat", tmpl.status());
  f.gen.extra_eog = tmpl->StopTokens(e.tokenizer().vocab());
  think = think || reasoning == "on";
  ChatOptions thinking_opts;
  if (think)
    if (Status st = EnableReasoning(e.tokenizer(), tmpl->format(), reasoning_budget, &f.gen, &thinking_opts); !st.ok())
      return ReportError("chat", st);
  auto session = e.NewSession();
  if (!session.ok()) return ReportError("chat", session.status());
  Session& s = **session;

  struct sigaction sa {};
  sa.sa_handler = OnSigint;
  sa.sa_flags = SA_RESTART;  // keep the line editor reading after a Ctrl-C at the prompt
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  const bool tty = isatty(STDIN_FILENO);
  if (tty) std::printf("gemrun chat — %s, context %lld tokens. /help for commands.\n", tmpl->name(), (long long)s.n_ctx());

  std::unique_ptr<vision::VisionEncoder> encoder;
  std::unique_ptr<audio::AudioEncoder> audio_encoder;
  Status no_image = InvalidArgumentError("start chat with --mmproj PROJECTOR to use images");
  Status no_audio = InvalidArgumentError("start chat with --mmproj PROJECTOR to use audio");
  if (!io.mmproj.empty()) {
    auto enc = LoadImageEncoder(e, io);
    // A projector may carry audio only, images only or both (Gemma 4 12B): one of them is enough.
    auto aenc = LoadAudioEncoder(e, io.mmproj);
    if (!enc.ok() && !aenc.ok()) return ReportError("chat", enc.status());
    if (enc.ok()) encoder = std::move(*enc);
    else no_image = enc.status();
    if (aenc.ok()) audio_encoder = std::move(*aenc);
    else no_audio = aenc.status();
  }
  std::vector<MediaItem> pending;  // images and clips for the next user message

  std::string line;
  while (ReadTurn(tty, &line)) {
    g_interrupt = false;
    if (line.empty()) continue;
    if (line.rfind("/image", 0) == 0 && (line.size() == 6 || line[6] == ' ')) {
      const std::string path = line.size() > 7 ? line.substr(7) : "";
      if (!encoder) {
        std::printf("error: %s\n", no_image.message().c_str());
      } else if (path.empty()) {
        std::printf("usage: /image PATH\n");
      } else if (auto seg = EncodeImage(e, *encoder, io, path); !seg.ok()) {
        std::printf("error: %s\n", seg.status().message().c_str());
      } else {
        std::printf("(image attached: %lld tokens; it goes with your next message)\n", (long long)seg->n_rows);
        pending.push_back({MediaKind::kImage, std::move(*seg)});
      }
      continue;
    }
    if (line.rfind("/audio", 0) == 0 && (line.size() == 6 || line[6] == ' ')) {
      const std::string path = line.size() > 7 ? line.substr(7) : "";
      if (!audio_encoder) {
        std::printf("error: %s\n", no_audio.message().c_str());
      } else if (path.empty()) {
        std::printf("usage: /audio PATH\n");
      } else if (auto seg = EncodeAudio(e, *audio_encoder, path); !seg.ok()) {
        std::printf("error: %s\n", seg.status().message().c_str());
      } else {
        std::printf("(audio attached: %lld tokens; it goes with your next message)\n", (long long)seg->n_rows);
        pending.push_back({MediaKind::kAudio, std::move(*seg)});
      }
      continue;
    }
    if (line[0] == '/') {
      if (!SlashCommand(line, conv, s)) break;
      continue;
    }
    conv.turns.push_back({"user", line});
    conv.images.resize(conv.turns.size());
    conv.images.back() = std::move(pending);
    pending.clear();
    auto prompt = ConversationPrompt(e, *tmpl, conv,
                                     ChatOptions{.enable_thinking = think,
                                                 .parse_special_in_content = f.parse_special_in_content});
    if (!prompt.ok()) {
      std::printf("error: %s\n", prompt.status().message().c_str());
      conv.turns.pop_back();
      conv.images.pop_back();
      continue;
    }
    g_generating = true;
    // Thoughts are shown dimmed (on a terminal) and never become part of the answer.
    ChannelSplitter splitter;
    auto show = [&](const ChannelSplitter::Out& o) {
      if (!o.thought.empty()) std::printf("%s%s%s", tty ? "\033[2m" : "", o.thought.c_str(), tty ? "\033[0m" : "");
      std::fwrite(o.answer.data(), 1, o.answer.size(), stdout);
      std::fflush(stdout);
    };
    auto res = s.Generate(std::span<const PromptSegment>(*prompt), f.gen, [&](const TokenEvent& ev) {
      show(think ? splitter.Push(ev.text) : ChannelSplitter::Out{"", std::string(ev.text)});
      return !g_interrupt.load();
    });
    if (think) show(splitter.Flush());
    g_generating = false;
    if (!res.ok()) {
      std::printf("error: %s\n(use /clear to start over)\n", res.status().message().c_str());
      conv.turns.pop_back();
      conv.images.pop_back();
      continue;
    }
    conv.turns.push_back({"assistant", think ? ChannelSplitter::Split(res->text).answer : res->text});
    conv.images.emplace_back();
    std::printf(res->finish == FinishReason::kCancelled ? "\n[stopped]\n" : "\n");
    const double used = static_cast<double>(s.n_past()) / s.n_ctx();
    if (used > 0.8)
      std::printf("[context: %lld of %lld tokens used (%.0f%%); /clear to start over]\n", (long long)s.n_past(),
                  (long long)s.n_ctx(), used * 100);
    if (tty) std::fprintf(stderr, "[%lld tok, %.1f tok/s]\n", (long long)res->timings.gen_tokens, res->timings.GenTokPerS());
  }
  if (tty) std::printf("\n");
  return kExitOk;
}

}  // namespace gemrun::cli
