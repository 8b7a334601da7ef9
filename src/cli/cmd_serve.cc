// gemrun serve: an OpenAI- and Ollama-compatible HTTP server with continuous batching.
// Listens first (so /health answers 503 while loading), loads and warms the model, then serves
// until SIGINT / SIGTERM. See docs/serve.md.
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <filesystem>
#include <fstream>
#include <future>
#include <atomic>
#if defined(__GLIBC__)
#include <malloc.h>  // mallopt (glibc only)
#endif
#include <map>
#include <optional>
#include <pthread.h>
#include <sys/resource.h>
#include <thread>

#include "cli/commands.h"
#include "cli/config_args.h"
#include "cli/fit_flags.h"
#include "cli/gen_flags.h"
#include "cli/images.h"
#include "cli/remote_flags.h"
#include "server/http_server.h"
#include "server/scheduler.h"

#ifndef GEMRUN_SERVE_CONFIG
#define GEMRUN_SERVE_CONFIG "/etc/gemrun/serve.toml"  // CMake sets it from the install's sysconfdir
#endif

namespace gemrun::cli {
namespace {

using server::ModelInfo;
constexpr const char* kDefaultServeConfig = GEMRUN_SERVE_CONFIG;

bool IsLoopback(const std::string& host) {
  return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1";
}

StatusOr<std::string> ReadKeyFile(const std::string& path) {
  std::ifstream f(path);
  if (!f) return NotFoundError("cannot read --api-key-file " + path);
  std::string key;
  std::getline(f, key);
  while (!key.empty() && (key.back() == '\r' || key.back() == ' ' || key.back() == '\t')) key.pop_back();
  if (key.empty()) return InvalidArgumentError("--api-key-file " + path + " is empty");
  return key;
}

// --allow-image-files DIR as an absolute path without symlinks (what request paths must resolve under).
StatusOr<std::string> ResolveImageDir(const std::string& dir) {
  std::error_code ec;
  const std::filesystem::path p = std::filesystem::canonical(dir, ec);
  if (ec || !std::filesystem::is_directory(p, ec))
    return InvalidArgumentError("--allow-image-files " + dir + " is not an existing directory");
  return p.string();
}

// Loads --mmproj and wraps it for the HTTP threads (on the engine's thread pool, the family's
// attention default unless --image-attention says otherwise).
StatusOr<std::unique_ptr<server::ImageEncoder>> LoadProjector(const Engine& e, const ImageOptions& io, int threads) {
  ASSIGN_OR_RETURN(auto enc, LoadImageEncoder(e, io));
  server::ImageEncoderOptions o;
  o.budget = io.budget;
  ASSIGN_OR_RETURN(const vision::ImageAttention a, vision::ParseImageAttention(io.attention, e.model().config()));
  vision::SetAttentionFlags(a, &o.non_causal, &o.global_causal);
  o.threads = threads;
  o.pool = &e.pool();  // shared with decode: no second full-size pool
  return server::ImageEncoder::Create(std::move(enc), o);
}

ModelInfo Describe(const Engine& e, const std::string& path, const std::string& alias, int64_t n_ctx) {
  const Model& m = e.model();
  ModelInfo info;
  info.id = alias.empty() ? std::filesystem::path(path).stem().string() : alias;
  info.arch = m.config().arch_name;
  info.file_size = m.file().file_size();
  info.n_ctx_train = m.config().n_ctx_train;
  info.n_embd = m.config().n_embd;
  info.n_layer = m.config().n_layer;
  info.n_ctx = n_ctx;
  std::map<std::string, uint64_t> bytes_by_type;
  for (const auto& t : m.file().tensors()) {
    info.parameters += t.ne[0] * t.ne[1] * t.ne[2] * t.ne[3];
    if (t.n_dims >= 2) bytes_by_type[DTypeName(t.type)] += t.nbytes;
  }
  uint64_t best = 0;
  for (const auto& [name, b] : bytes_by_type)
    if (b > best) best = b, info.quantization = name;
  std::error_code ec;
  const auto mtime = std::filesystem::last_write_time(path, ec);
  info.modified = ec ? std::chrono::system_clock::now()
                     : std::chrono::system_clock::now() + (mtime - std::filesystem::file_time_type::clock::now());
  return info;
}

// Each connection is a descriptor: raise the soft limit towards the hard one to fit
// --max-connections plus the model's files and headroom, or lower the cap to what fits.
void RaiseFileLimit(server::ServerOptions* so) {
  constexpr rlim_t kHeadroom = 128;
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  const rlim_t want = so->max_connections + kHeadroom;
  if (rl.rlim_cur < want) {
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ? want : std::min(want, rl.rlim_max);
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  if (rl.rlim_cur < want) {
    const size_t fit = rl.rlim_cur > 2 * kHeadroom ? rl.rlim_cur - kHeadroom : rl.rlim_cur / 2;
    std::fprintf(stderr, "gemrun serve: the open-file limit is %llu; serving at most %zu connections instead of %zu\n",
                 static_cast<unsigned long long>(rl.rlim_cur), fit, so->max_connections);
    so->max_connections = fit;
  }
}

// A comma-separated environment variable's entries.
void SplitEnv(const char* name, std::vector<std::string>* out) {
  const char* r = std::getenv(name);
  for (std::string_view v = r ? r : ""; !v.empty();) {
    const size_t comma = std::min(v.find(','), v.size());
    if (comma > 0) out->emplace_back(v.substr(0, comma));
    v.remove_prefix(std::min(comma + 1, v.size()));
  }
}

}  // namespace

int CmdServe(int argc, char** argv) {
  CLI::App app{"Serve a model over HTTP: OpenAI (/v1/chat/completions, /v1/completions, /v1/models) and Ollama\n"
               "(/api/chat, /api/generate, /api/tags, /api/show, /api/version) APIs, /health and /metrics.\n\n"
               "examples:\n  gemrun serve -m gemma-3-1b-it-Q4_0.gguf\n"
               "  gemrun serve -m model.gguf --host 0.0.0.0 --port 8080 --parallel 8 --api-key-file /etc/gemrun/key\n"
               "  gemrun serve -m model.gguf --mmproj mmproj.gguf --allow-image-urls --read-timeout 10 \\\n"
               "      --max-connections 1024 --max-connections-per-client 16 --max-buffered-bytes 268435456 --sse-ping 15\n"
               "  gemrun serve -m model.gguf --remote https://llm.example.com/v1 --escalate auto --audit remote.jsonl\n"
               "      (gateway: non-streamed chat requests may escalate, redacted; header x-gemrun-route; docs/remote.md)",
               "gemrun serve"};
  std::string model_path, alias, key_file, kv_type = "f16", flash_attn = "auto", suppress = "auto";
  server::ServerOptions so;
  server::SchedulerOptions sched;
  int threads = 0;
  app.option_defaults()->always_capture_default();
  app.add_option("-m,--model", model_path, "GGUF model")->required();
  app.add_option("--host", so.host, "address to listen on (default 127.0.0.1: this machine only)");
  app.add_option("--port", so.port, "TCP port (0: any free port)")->check(CLI::Range(0, 65535));
  app.add_option("--parallel,-P", sched.n_slots, "sequences decoded together (slots)")->check(CLI::Range(1, 256));
  app.add_option("--ctx-size,-c", sched.n_ctx, "context positions per slot (prompt + output)")
      ->check(CLI::Range(int64_t{8}, int64_t{1} << 20));
  app.add_option("--batch,-b", sched.max_batch, "prompt tokens evaluated per step, over all slots")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 16));
  auto* key_opt = app.add_option("--api-key", so.api_key, "require 'Authorization: Bearer KEY' (not /health)");
  app.add_option("--api-key-file", key_file, "read the API key from the first line of a file")->excludes(key_opt);
  app.add_option("--max-queue", sched.max_queue, "requests waiting for a slot before 429")
      ->check(CLI::Range(int64_t{0}, int64_t{100000}));
  app.add_option("--max-body-bytes", so.max_body_bytes, "largest request body; larger gets 413")
      ->check(CLI::Range(size_t{1024}, size_t{1} << 32));
  app.add_option("--cors", so.cors_origin, "allow browser requests from this origin (e.g. https://app.example)");
  app.add_option("--timeout", so.request_timeout_s, "seconds one generation request may take, queue included")
      ->check(CLI::Range(0.1, 86400.0));
  app.add_option("--read-timeout", so.read_timeout_s, "seconds a client may take to send a request's headers, and "
                 "again its body (totals, not per read; slow clients are cut)")
      ->check(CLI::Range(1, 3600));
  app.add_option("--max-connections", so.max_connections, "open connections in total; more get 503 and are closed")
      ->check(CLI::Range(size_t{8}, size_t{65536}));
  app.add_option("--max-connections-per-client", so.max_connections_per_client, "open connections per client "
                 "address, at most half the HTTP workers (0: no cap, e.g. behind a reverse proxy); more get 503 and are closed")
      ->check(CLI::Range(size_t{0}, size_t{65536}));
  app.add_option("--write-timeout", so.write_timeout_s, "seconds a socket write may stall")->check(CLI::Range(1, 3600));
  app.add_option("--sse-ping", so.sse_ping_s, "seconds of silence after which an SSE stream gets a ': ping' "
                 "comment (while queued or in a long prefill; 0: never)")->check(CLI::Range(0.0, 3600.0));
  app.add_option("-t,--threads", threads, "compute threads (default: all cores)");
  app.add_option("--kv-type", kv_type, "KV cache type (f16 default, f32, q8_0)")->check(CLI::IsMember(kKvTypeNames));
  AddFlashAttnOption(app, &flash_attn);
  AddSuppressOption(app, &suppress);
  FitFlags fit;
  fit.Register(app);
  app.add_option("--alias", alias, "model name in /v1/models and responses (default: file name)");
  app.add_flag("--log-prompts", so.log_prompts, "include prompts in the request log (off: never logged)");
  app.add_option("--reasoning-budget", so.reasoning_budget,
                 "thought tokens per request when thinking is on and the request sets no budget "
                 "(reasoning_budget_tokens / thinking_budget_tokens); -1: no cap")
      ->check(CLI::Range(int64_t{-1}, int64_t{1} << 30));
  bool parse_special_in_content = false;
  app.add_flag("--parse-special-in-content", parse_special_in_content,
               "let control-token texts in message contents (e.g. <end_of_turn>) act as control tokens "
               "(default: plain text; only the chat template adds control tokens)");
  ImageOptions io;
  std::string image_dir;
  app.add_option("--mmproj", io.mmproj, "projector (mmproj-*.gguf): accept images (and, with an audio part such as Gemma 4 12B's, input_audio clips) in chat requests");
  AddImageFlags(app, &io, /*needs_mmproj=*/true);
  app.add_option("--max-images-per-request", so.max_images, "images one request may carry")
      ->check(CLI::Range(size_t{1}, size_t{256}));
  app.add_option("--allow-image-files", image_dir, "let requests name local image files (file:///... or /path) "
                 "under this directory (default: data: URLs only)")->needs("--mmproj");
  app.add_flag("--allow-image-urls", so.allow_image_urls, "fetch http(s) image URLs named in requests (lets any "
               "client make this server connect where its network reaches; default: off)")->needs("--mmproj");
  app.add_flag("--allow-private-urls", so.allow_private_urls, "with --allow-image-urls: also fetch from loopback, "
               "private, link-local (cloud metadata) and other non-public addresses (default: refused)")
      ->needs("--allow-image-urls");
  app.add_option("--max-buffered-bytes", so.max_buffered_bytes, "request bodies and image bytes held at once over all "
                 "requests; beyond it requests get 503")->check(CLI::Range(size_t{1} << 20, size_t{1} << 40));
  RemoteFlags rf;
  rf.Register(app);
  std::string config_file;
  app.add_option("--config", config_file, std::string("options file: key = value lines naming any option above "
                 "(port = 8080, api_key_file = \"/etc/gemrun/key\", log_prompts = true); flags given here override "
                 "it (default: ") + kDefaultServeConfig + " when it exists; none: no file; docs/install.md)");
  MergedArgs merged;
  if (Status st = MergeConfigFile(app, argc, argv, kDefaultServeConfig, &merged); !st.ok())
    return ReportError("serve", st);
  int n_args = merged.argc();
  char** args = merged.argv();
  if (!merged.file.empty()) ResolveStoreModelArgs(&n_args, &args);  // `model = NAME` in the file
  try {
    app.parse(n_args, args);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0 || merged.file.empty()) return app.exit(e) == 0 ? kExitOk : kExitUsage;
    std::fprintf(stderr, "gemrun serve: error: %s\n", ExplainConfigError(app, merged, e.what()).c_str());
    return kExitUsage;
  }
  auto ropts = rf.Finish();
  if (!ropts.ok()) return ReportError("serve", ropts.status());
  std::optional<remote::Router> router;  // outlives the server below
  if (rf.active()) {
    router.emplace(*ropts);
    std::fprintf(stderr, "gemrun serve: gateway to %s (--escalate %s)\n", rf.url.c_str(),
                 remote::EscalateName(ropts->mode));
  }
  // Tests only: "host:port:address,..." entries that pin image-URL DNS names (CURLOPT_RESOLVE),
  // so the address check can be shown to hold for a name that resolves to a refused address.
  // GEMRUN_TEST_IMAGE_PUBLIC: addresses treated as public, so a loopback server can be the first
  // hop of a redirect to a refused address.
  SplitEnv("GEMRUN_TEST_IMAGE_RESOLVE", &so.test_resolve);
  SplitEnv("GEMRUN_TEST_IMAGE_PUBLIC", &so.test_public);
  if (!key_file.empty()) {
    auto k = ReadKeyFile(key_file);
    if (!k.ok()) return ReportError("serve", k.status());
    so.api_key = *k;
  }
  if (!image_dir.empty()) {
    auto d = ResolveImageDir(image_dir);
    if (!d.ok()) return ReportError("serve", d.status());
    so.image_files_dir = *d;
  }
  if (!IsLoopback(so.host) && so.api_key.empty())
    std::fprintf(stderr, "gemrun serve: WARNING: listening on %s without --api-key: anyone who can reach this "
                         "address can use the model\n", so.host.c_str());
  RaiseFileLimit(&so);
  sched.kv_type = KvTypeFromName(kv_type);
  sched.flash_attn = FlashAttnFromName(flash_attn);
  so.http_threads = static_cast<int>(sched.n_slots + sched.max_queue + 32);

  // Signals: SIGPIPE would kill us on a closed socket; SIGINT/SIGTERM are taken by sigwait below,
  // so every thread started from here on inherits the block.
  std::signal(SIGPIPE, SIG_IGN);
  // Dozens of HTTP threads would otherwise each get a malloc arena; their allocations are small
  // and short-lived, so a few shared arenas keep RSS flat under load.
#if defined(__GLIBC__)
  mallopt(M_ARENA_MAX, 4);
#endif
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  // One thread takes the stop signals from the start: while the model loads (which cannot be
  // interrupted cleanly) a signal ends the process at once with 128 + signal (130 for Ctrl-C);
  // once serving, it starts the orderly shutdown below.
  struct SignalState {
    std::atomic<bool> serving{false};
    std::promise<int> stop;
  };
  auto signals = std::make_shared<SignalState>();  // shared: the thread outlives early returns
  std::thread([signals, stop_signals] {
    int s = 0;
    sigwait(&stop_signals, &s);
    if (!signals->serving.load()) {
      std::fprintf(stderr, "gemrun serve: %s while loading; exiting\n", s == SIGINT ? "SIGINT" : "SIGTERM");
      std::_Exit(128 + s);
    }
    signals->stop.set_value(s);
  }).detach();
  auto stop_signal = signals->stop.get_future();

  server::Metrics metrics;
  server::HttpServer http(so, &metrics);
  auto port = http.Bind();
  if (!port.ok()) return ReportError("serve", port.status());
  http.Start();
  std::fprintf(stderr, "gemrun serve: listening on http://%s:%d (loading %s)\n", so.host.c_str(), *port,
               model_path.c_str());

  EngineOptions eo;
  eo.threads = threads;
  eo.n_ctx = sched.n_ctx;
  eo.max_batch = sched.max_batch;
  eo.kv_type = sched.kv_type;
  eo.flash_attn = sched.flash_attn;
  eo.suppress = SuppressFromName(suppress);
  eo.n_seqs = static_cast<int>(sched.n_slots);  // the memory check counts every slot's KV cache
  eo.repack_lm_head = sched.n_slots > 1;  // batched decode: the LM head dominates a step
  if (Status st = fit.Check(model_path, eo); !st.ok()) {
    http.Stop();
    return ReportError("serve", st);
  }
  auto engine = Engine::Load(model_path, eo);
  if (!engine.ok()) {
    http.Stop();
    return ReportError("serve", engine.status());
  }
  std::fprintf(stderr, "gemrun serve: model: %s\n", (*engine)->Describe().c_str());
  std::unique_ptr<server::ImageEncoder> images;
  std::unique_ptr<server::AudioService> audio;
  if (!io.mmproj.empty()) {
    // A projector may carry images, audio or both (Gemma 4 12B): one of them is enough.
    auto p = LoadProjector(**engine, io, threads);
    auto a = server::AudioService::Create(**engine, io.mmproj, threads);
    if (!p.ok() && !a.ok()) {
      http.Stop();
      return ReportError("serve", p.status());
    }
    if (p.ok()) {
      images = std::move(*p);
      sched.max_image_rows = images->max_tokens();
    } else {
      std::fprintf(stderr, "gemrun serve: no images (%s)\n", p.status().message().c_str());
    }
    if (a.ok()) {
      audio = std::move(*a);
      sched.max_image_rows = std::max(sched.max_image_rows, audio->max_tokens());  // a clip is one batch
    }
  }
  server::Scheduler scheduler(**engine, sched, &metrics);
  if (Status s = scheduler.Init(); !s.ok()) {
    http.Stop();
    return ReportError("serve", s);
  }
  scheduler.Start();
  server::Backend backend;
  backend.engine = engine->get();
  backend.scheduler = &scheduler;
  auto tmpl = ChatTemplate::ForGguf((*engine)->model().file());
  if (tmpl.ok()) backend.chat_template = *tmpl;
  else std::fprintf(stderr, "gemrun serve: no chat template (%s); chat endpoints will refuse requests\n",
                    tmpl.status().message().c_str());
  backend.chat_options.parse_special_in_content = parse_special_in_content;
  backend.info = Describe(**engine, model_path, alias, sched.n_ctx);
  backend.images = images.get();
  backend.audio = audio.get();
  backend.router = router ? &*router : nullptr;
  backend.info.vision = images != nullptr;
  const std::string id = backend.info.id;
  http.SetBackend(std::move(backend));
  std::fprintf(stderr, "gemrun serve: ready: model %s, %d slots x %lld positions, KV cache %.1f MiB, %d threads\n",
               id.c_str(), sched.n_slots, static_cast<long long>(sched.n_ctx), scheduler.kv_bytes() / 1048576.0,
               (*engine)->pool().size());
  if (images)
    std::fprintf(stderr, "gemrun serve: images: projector %s, up to %lld tokens each, %zu per request%s%s%s\n",
                 io.mmproj.c_str(), static_cast<long long>(images->max_tokens()), so.max_images,
                 so.image_files_dir.empty() ? "" : ", local files under ", so.image_files_dir.c_str(),
                 !so.allow_image_urls ? "" : so.allow_private_urls ? ", http(s) URLs fetched (private addresses too)"
                                                                    : ", http(s) URLs fetched (public addresses only)");
  if (audio)
    std::fprintf(stderr, "gemrun serve: audio: projector %s (gemma4ua), input_audio parts up to %.0f s (%lld tokens) each\n",
                 audio->path().c_str(), server::kMaxServerAudioSeconds, static_cast<long long>(audio->max_tokens()));

  signals->serving.store(true);
  const int sig = stop_signal.get();
  std::fprintf(stderr, "gemrun serve: %s received, shutting down\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
  scheduler.Stop();  // ends running requests (503) so HTTP threads can finish
  http.Stop();
  return kExitOk;
}

}  // namespace gemrun::cli
