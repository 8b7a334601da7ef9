// gemrun bench: llama-bench-style throughput. pp = p prompt tokens in one batch from an
// empty cache; tg = n tokens decoded one at a time from an empty cache; median of r runs.
// Also measures the machine's read bandwidth so decode speed can be judged against it.
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <vector>

#include "cli/bench_spec.h"
#include "cli/commands.h"
#include "cli/gen_flags.h"
#include "kernels/isa.h"
#include "model/model.h"

namespace gemrun::cli {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// Multi-threaded streaming read of a buffer larger than the caches; best of a few passes.
double ReadBandwidthGBs(ThreadPool& pool) {
  const size_t n = size_t{1} << 27;  // 128 Mi floats = 512 MiB
  std::vector<float> buf(n, 1.0f);
  std::vector<double> partial(pool.size());
  double best = 0;
  for (int rep = 0; rep < 4; ++rep) {
    const auto t0 = Clock::now();
    pool.ParallelFor(static_cast<int64_t>(n), [&](int64_t b, int64_t e, int w) {
      float s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
      int64_t i = b;
      for (; i + 8 <= e; i += 8) {
        s0 += buf[i]; s1 += buf[i + 1]; s2 += buf[i + 2]; s3 += buf[i + 3];
        s4 += buf[i + 4]; s5 += buf[i + 5]; s6 += buf[i + 6]; s7 += buf[i + 7];
      }
      for (; i < e; ++i) s0 += buf[i];
      partial[w] = s0 + s1 + s2 + s3 + s4 + s5 + s6 + s7;
    }, 1 << 16);
    const double s = Seconds(t0, Clock::now());
    best = std::max(best, n * sizeof(float) / s / 1e9);
  }
  return best;
}

// Weight bytes one decode step reads: every matrix, except lookup-only tables (one row)
// and, for MoE, only the used share of the experts.
uint64_t BytesPerToken(const Model& m) {
  const ModelConfig& c = m.config();
  uint64_t total = 0;
  const bool tied = m.file().FindTensor("output.weight") == nullptr;
  for (const auto& t : m.file().tensors()) {
    uint64_t b = t.nbytes;
    if (t.name == "per_layer_token_embd.weight" || (t.name == "token_embd.weight" && !tied)) b = b / t.ne[1];
    if (t.name.find("_exps.") != std::string::npos && c.n_expert > 0) b = b * c.n_expert_used / c.n_expert;
    total += b;
  }
  return total;
}

}  // namespace

int CmdBench(int argc, char** argv) {
  CLI::App app{"Measure prompt processing (pp) and generation (tg) throughput, like llama-bench.\n\n"
               "examples:\n  gemrun bench -m gemma-3-1b-it-Q4_0.gguf -t 2\n"
               "  gemrun bench -m model.gguf -p 512 -n 128 -r 3 --json\n"
               "  gemrun bench -m model.gguf -p 512 -n 32 -d 8192   # both measured after 8192 cached tokens\n"
               "  gemrun bench -m g3-12b.gguf --verify-k 1..9 --draft-model g3-270m.gguf -d 512   # speculative costs",
               "gemrun bench"};
  std::string model_path;
  int threads = 0, reps = 3;
  int64_t p = 512, n = 128, depth = 0;
  bool json = false;
  app.add_option("-m,--model", model_path, "GGUF model")->required();
  app.add_option("-t,--threads", threads, "threads (default: all cores)");
  app.add_option("-p,--n-prompt", p, "prompt tokens for pp (0 = skip)")->check(CLI::Range(int64_t{0}, int64_t{1} << 20));
  app.add_option("-n,--n-gen", n, "generated tokens for tg (0 = skip)")->check(CLI::Range(int64_t{0}, int64_t{1} << 20));
  app.add_option("-r,--repetitions", reps, "runs per test; the median is reported")->check(CLI::Range(1, 1000));
  app.add_option("-d,--n-depth", depth, "tokens already in the cache before each pp and tg run (as llama-bench -d)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 20));
  app.add_flag("--json", json, "one JSON object on stdout");
  std::string kv_type = "f16";
  int64_t ctx = 0;
  app.add_option("-c,--ctx-size", ctx, "KV cache size to allocate (default: enough for -p/-n); reported as kv_cache_bytes");
  app.add_option("--kv-type", kv_type, "KV cache type (f16 default, f32, q8_0)")->check(CLI::IsMember(kKvTypeNames));
  std::string flash_attn = "auto";
  AddFlashAttnOption(app, &flash_attn);
  std::string verify_k, draft_path;
  app.add_option("--verify-k", verify_k, "speculative decoding costs instead of pp/tg: one pass over k ids against k "
                                         "single-id steps, for k in A..B (e.g. 1..9)");
  app.add_option("--draft-model", draft_path, "with --verify-k: also time this drafter per drafted id and project "
                                              "the speed-up at acceptance 0.6 and 0.8")->needs("--verify-k");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  const auto t_load = Clock::now();
  auto model = LoadModel(model_path);
  if (!model.ok()) return ReportError("bench", model.status());
  const double load_s = Seconds(t_load, Clock::now());
  const Model& m = **model;
  const ModelConfig& c = m.config();
  ThreadPool pool(threads);
  std::vector<int32_t> ids(static_cast<size_t>(std::max({p, n, depth})));
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>((i * 7919 + 13) % c.n_vocab);

  int64_t k_lo = 0, k_hi = 0;
  if (!verify_k.empty()) {
    auto lo = ParseKRange(verify_k, &k_hi);
    if (!lo.ok()) return ReportError("bench", lo.status());
    k_lo = *lo;
    p = std::max<int64_t>(k_hi, 16);  // sizes the batch, the ids and the context below
    n = 0;
    ids.resize(static_cast<size_t>(depth + p));
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>((i * 7919 + 13) % c.n_vocab);
  }
  if (ctx == 0) ctx = depth + std::max<int64_t>(p + 1, n + 1);
  if (ctx < depth + std::max(p, n))
    return ReportError("bench", InvalidArgumentError("--ctx-size must hold -d plus the -p and -n tokens"));
  const int64_t max_batch = std::max<int64_t>({p, std::min<int64_t>(depth, 512), 1});
  auto st = m.NewState(ctx, max_batch, KvTypeFromName(kv_type));
  if (!st.ok()) return ReportError("bench", st.status());
  (*st)->ws->flash_attn = FlashAttnFromName(flash_attn);
  if (!verify_k.empty()) {
    std::unique_ptr<Model> draft;
    if (!draft_path.empty()) {
      auto d = LoadModel(draft_path);
      if (!d.ok()) return ReportError("bench", d.status());
      draft = std::move(*d);
      if (draft->config().n_vocab != c.n_vocab)
        return ReportError("bench", InvalidArgumentError("--draft-model " + draft_path + " has " +
                                                         std::to_string(draft->config().n_vocab) + " vocabulary rows, the model " +
                                                         std::to_string(c.n_vocab)));
    }
    if (!json) std::printf("model %s, drafter %s, %d threads, isa %s\n", model_path.c_str(),
                           draft_path.empty() ? "-" : draft_path.c_str(), pool.size(), kernels::ActiveKernels().name);
    return BenchVerify(VerifyBenchArgs{.model = m, .st = **st, .pool = pool, .ids = ids, .depth = depth, .k_lo = k_lo,
                                       .k_hi = k_hi, .reps = reps, .draft = draft.get(),
                                       .kv_type = KvTypeFromName(kv_type), .json = json});
  }
  std::vector<float> logits(static_cast<size_t>(c.n_vocab));
  std::vector<double> pp_runs, tg_runs;
  // Empties the cache and fills it with `depth` tokens (not timed).
  auto fill = [&]() -> Status {
    (*st)->kv->n_past = 0;
    for (int64_t i = 0; i < depth; i += max_batch)
      RETURN_IF_ERROR(m.Forward(std::span<const int32_t>(ids.data() + i, std::min(max_batch, depth - i)), **st,
                                LogitsMode::kLast, logits.data(), pool));
    return OkStatus();
  };
  for (int r = 0; r <= reps; ++r) {  // run 0 warms up (page faults, caches)
    if (p > 0) {
      if (Status s = fill(); !s.ok()) return ReportError("bench", s);
      const auto t0 = Clock::now();
      Status s = m.Forward(std::span<const int32_t>(ids.data(), p), **st, LogitsMode::kLast, logits.data(), pool);
      if (!s.ok()) return ReportError("bench", s);
      if (r) pp_runs.push_back(p / Seconds(t0, Clock::now()));
    }
    if (n > 0) {
      if (Status s = fill(); !s.ok()) return ReportError("bench", s);
      const auto t0 = Clock::now();
      for (int64_t i = 0; i < n; ++i) {
        Status s = m.Forward(std::span<const int32_t>(ids.data() + i, 1), **st, LogitsMode::kLast, logits.data(), pool);
        if (!s.ok()) return ReportError("bench", s);
      }
      if (r) tg_runs.push_back(n / Seconds(t0, Clock::now()));
    }
  }
  const double pp = Median(pp_runs), tg = Median(tg_runs);
  // Peak RSS before the bandwidth probe allocates its buffer.
  const uint64_t kv_bytes = (*st)->kv->Bytes();
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  const uint64_t peak_rss = static_cast<uint64_t>(ru.ru_maxrss) * 1024;
  const double bw = ReadBandwidthGBs(pool);
  const uint64_t bpt = BytesPerToken(m);
  const double eff = bw > 0 ? bpt * tg / 1e9 / bw : 0;
  const char* isa = kernels::ActiveKernels().name;
  // Which kernel path ran: the ISA, and whether (and how) the row-interleaved tiles did.
  const char* r16 = kernels::ActiveKernels().rows16_desc;
  const std::string layout = m.packed_bytes() > 0 && r16 ? r16 : "file layout (no repacked weights)";
  if (json) {
    nlohmann::json out = {{"model", model_path}, {"arch", c.arch_name}, {"threads", pool.size()}, {"isa", isa},
                          {"kernel_layout", layout}, {"repacked_bytes", m.packed_bytes()},
                          {"n_prompt", p}, {"n_gen", n}, {"n_depth", depth}, {"repetitions", reps},
                          {"pp_tokens_per_s", pp}, {"tg_tokens_per_s", tg}, {"load_s", load_s},
                          {"model_bytes", m.file().file_size()}, {"weight_bytes_per_token", bpt},
                          {"n_ctx", ctx}, {"kv_cache_bytes", kv_bytes}, {"peak_rss_bytes", peak_rss},
                          {"flash_attn", (*st)->ws->flash_attn},
                          {"read_bandwidth_gb_per_s", bw}, {"tg_bandwidth_efficiency", eff}};
    std::printf("%s\n", out.dump().c_str());
  } else {
    std::printf("model %s (%s, %.2f GB), %d threads, isa %s, load %.3f s\n", model_path.c_str(), c.arch_name.c_str(),
                m.file().file_size() / 1e9, pool.size(), isa, load_s);
    std::printf("kernels: %s, %s; %.1f MB repacked\n", isa, layout.c_str(), m.packed_bytes() / 1e6);
    std::printf("memory: weights %.1f MB mapped, KV cache %.1f MB (%lld positions), peak RSS %.1f MB\n",
                m.file().file_size() / 1e6, kv_bytes / 1e6, (long long)ctx, peak_rss / 1e6);
    if (depth > 0) std::printf("after %lld cached tokens:\n", (long long)depth);
    if (p > 0) std::printf("pp%-6lld %10.2f tok/s\n", (long long)p, pp);
    if (n > 0) std::printf("tg%-6lld %10.2f tok/s   (%.2f GB/s of weights; read bandwidth %.2f GB/s; efficiency %.2f)\n",
                           (long long)n, tg, bpt * tg / 1e9, bw, eff);
  }
  return kExitOk;
}

}  // namespace gemrun::cli
