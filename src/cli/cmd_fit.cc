// gemrun fit: will a model run here, with this context? The memory plan (model/memory_plan.h:
// the sizes the engine allocates) for a local file, a store name or a remote reference (only
// its header is fetched), against the available memory, and the decode speed the machine's
// memory bandwidth allows. See docs/fit.md.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "base/bandwidth.h"
#include "base/sys_info.h"
#include "cli/commands.h"
#include "cli/fit_flags.h"
#include "cli/gen_flags.h"
#include "engine/fit.h"
#include "gguf/gguf.h"
#include "model/describe.h"
#include "model/memory_plan.h"
#include "store/pull.h"

namespace gemrun::cli {
namespace {

// Below this share of the available memory a plan "fits"; up to all of it, it is "tight" (the
// page cache and other processes are squeezed); beyond, it "does not fit".
constexpr double kTightShare = 0.85;

struct Source {
  std::string where;                      // path or URL
  std::string fetched;                    // remote: "header only: N of M bytes fetched"
  std::unique_ptr<GgufFile> model;        // header-only for a remote reference
  std::unique_ptr<GgufFile> projector;
  store::RemoteModel remote;              // owns the bytes of a remote header
};

bool EnvTrue(const char* name) {
  const char* v = std::getenv(name);
  return v && *v && std::string(v) != "0" && std::string(v) != "false";
}

// A local file (store names were rewritten to their blob by ResolveStoreModelArgs), else a
// remote reference (hf://, ORG/REPO:QUANT, https://, a catalogue name) read header-only.
StatusOr<Source> OpenSource(const std::string& model, const std::string& mmproj, bool offline) {
  Source s;
  std::error_code ec;
  if (std::filesystem::exists(model, ec)) {
    s.where = model;
    ASSIGN_OR_RETURN(s.model, GgufFile::Open(model));
  } else {
    store::PullOptions o;
    if (const char* e = std::getenv("HF_ENDPOINT"); e && *e) o.endpoint = e;
    if (const char* t = std::getenv("HF_TOKEN"); t && *t) o.token = t;
    o.offline = offline;
    o.max_attempts = 3;
    // Tests only: a small first Range, to show the header is read in growing pieces, never whole.
    if (const char* b = std::getenv("GEMRUN_TEST_FIT_HEADER_BYTES"); b && *b) o.header_bytes = std::strtoull(b, nullptr, 10);
    ASSIGN_OR_RETURN(s.remote, store::FetchRemoteHeaders(model, o));
    s.where = s.remote.model.url;
    s.fetched = "header only: " + HumanBytes(s.remote.model.fetched) + " of " + HumanBytes(s.remote.model.size) +
                " fetched";
    s.model = std::move(s.remote.model.file);
    if (s.remote.projector && mmproj.empty()) s.projector = std::move(s.remote.projector->file);
  }
  if (!mmproj.empty()) {
    ASSIGN_OR_RETURN(s.projector, GgufFile::Open(mmproj));
  }
  return s;
}

const char* Verdict(double total, std::optional<uint64_t> avail) {
  if (!avail) return "unknown (available memory not known)";
  if (total <= kTightShare * static_cast<double>(*avail)) return "fits";
  if (total <= static_cast<double>(*avail)) return "tight";
  return "does not fit";
}

std::string Human(double b) { return HumanBytes(static_cast<uint64_t>(std::max(0.0, std::min(b, 1.8e19)))); }

void PrintText(const Source& s, const MemoryPlanOptions& o, const MemoryPlan& p, std::optional<uint64_t> avail,
               double bandwidth, bool bandwidth_measured) {
  std::printf("model        %s\n             %s%s%s%s\n", DescribeGguf(*s.model).c_str(), s.where.c_str(),
              s.fetched.empty() ? "" : " (", s.fetched.c_str(), s.fetched.empty() ? "" : ")");
  std::printf("config       -c %lld, %d sequence%s, KV %s, batch %lld\n", static_cast<long long>(o.n_ctx), o.n_seqs,
              o.n_seqs > 1 ? "s" : "", DTypeName(o.kv_type).c_str(), static_cast<long long>(std::min(o.max_batch, o.n_ctx)));
  std::printf("weights      %10s  mmapped file", Human(p.weights_resident).c_str());
  if (p.lookup_bytes > 0) std::printf(" (+ %s of lookup tables read a row per token, not resident)", Human(p.lookup_bytes).c_str());
  std::printf("\nKV cache     %10s", Human(p.kv_bytes).c_str());
  if (o.n_seqs > 1) std::printf("  (%d sequences)", o.n_seqs);
  std::printf("\n");
  for (const KvGroup& g : p.kv_groups) {
    if (g.slots > 0)
      std::printf("  %-40s %3d layers x %7lld positions  %10s\n", g.kind.c_str(), g.n_layers,
                  static_cast<long long>(g.slots), Human(g.bytes).c_str());
    else
      std::printf("  %-40s %3d layers, no cache of their own\n", g.kind.c_str(), g.n_layers);
  }
  std::printf("activations  %10s  (workspace and logits)\n", Human(p.activation_bytes).c_str());
  std::printf("scratch      %10s  (kernel buffers sized on first use, estimate)\n", Human(p.scratch_bytes).c_str());
  std::printf("runtime      %10s  (tokenizer, code, threads; estimate)\n", Human(p.runtime_bytes).c_str());
  if (p.projector_bytes > 0) std::printf("projector    %10s  (mmapped)\n", Human(p.projector_bytes).c_str());
  std::printf("total        %10s\n", Human(p.Total()).c_str());
  if (avail) std::printf("available    %10s  (MemAvailable / cgroup limit)\n", HumanBytes(*avail).c_str());
  std::printf("verdict      %s", Verdict(p.Total(), avail));
  if (avail) std::printf(" (%.0f%% of the available memory)", 100.0 * p.Total() / static_cast<double>(*avail));
  std::printf("\n");
  if (bandwidth > 0)
    std::printf("decode       at most ~%.1f tokens/s at a full context (%s read per token at %.1f GB/s %s)\n",
                bandwidth / p.decode_stream_bytes, Human(p.decode_stream_bytes).c_str(), bandwidth / 1e9,
                bandwidth_measured ? "measured memory bandwidth" : "given by --bandwidth");
}

nlohmann::json Json(const Source& s, const MemoryPlanOptions& o, const MemoryPlan& p, std::optional<uint64_t> avail,
                    double bandwidth) {
  nlohmann::json kv = nlohmann::json::array();
  for (const KvGroup& g : p.kv_groups)
    kv.push_back({{"kind", g.kind}, {"layers", g.n_layers}, {"positions", g.slots}, {"bytes", g.bytes}});
  return {{"model", s.where}, {"description", DescribeGguf(*s.model)},
          {"n_ctx", o.n_ctx}, {"parallel", o.n_seqs}, {"kv_type", DTypeName(o.kv_type)},
          {"batch", std::min(o.max_batch, o.n_ctx)},
          {"weights_bytes", p.weights_resident}, {"lookup_table_bytes", p.lookup_bytes}, {"file_bytes", p.file_bytes},
          {"kv_cache_bytes", p.kv_bytes}, {"kv_cache_per_sequence", kv},
          {"activation_bytes", p.activation_bytes}, {"scratch_bytes", p.scratch_bytes},
          {"runtime_bytes", p.runtime_bytes}, {"projector_bytes", p.projector_bytes}, {"total_bytes", p.Total()},
          {"available_bytes", avail ? nlohmann::json(*avail) : nlohmann::json(nullptr)},
          {"verdict", Verdict(p.Total(), avail)},
          {"bandwidth_bytes_per_s", bandwidth}, {"decode_bytes_per_token", p.decode_stream_bytes},
          {"decode_tokens_per_s", bandwidth > 0 ? bandwidth / p.decode_stream_bytes : 0.0}};
}

}  // namespace

void FitFlags::Register(CLI::App& app) {
  app.add_flag_function(
      "--no-fit-check", [this](std::int64_t) { check = false; },
      "start even when the model, KV cache and activations exceed the available memory (see gemrun fit; the "
      "weights then page from disk)");
}

Status FitFlags::Check(const std::string& model, const EngineOptions& o) const {
  return check ? CheckModelFits(model, o) : OkStatus();
}

int CmdFit(int argc, char** argv) {
  CLI::App app{"Will a model run here? Memory by part (weights, KV cache by layer type, activations, scratch),\n"
               "the verdict against the available memory, and the decode speed the memory bandwidth allows;\n"
               "from the file's header only: MODEL may be a file, a store name or a remote reference\n"
               "(hf://ORG/REPO/FILE.gguf, ORG/REPO:QUANT, https://..., a catalogue name), of which only the\n"
               "header is fetched (HTTP Range). run and serve refuse what does not fit (--no-fit-check).\n"
               "exit codes: 0 fits or tight, 3 does not fit, 1 usage, 2 bad file\n"
               "examples:\n  gemrun fit -m gemma3:1b -c 32768\n  gemrun fit -m ggml-org/gemma-3-4b-it-GGUF:Q4_K_M --parallel 4 --json",
               "gemrun fit"};
  std::string model, mmproj, kv_type = "f16";
  MemoryPlanOptions o;
  bool json = false, offline = false;
  double bandwidth_gbs = 0;
  app.add_option("-m,--model", model, "GGUF file, store name or remote reference")->required();
  app.add_option("-c,--ctx-size", o.n_ctx, "context positions per sequence (default 4096)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 30));
  app.add_option("--parallel,-P", o.n_seqs, "sequences with their own KV cache (serve --parallel)")->check(CLI::Range(1, 4096));
  app.add_option("-b,--batch,--batch-size", o.max_batch, "prompt tokens per forward pass (default 512)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 16));
  app.add_option("--kv-type", kv_type, "KV cache type (f16 default, f32, q8_0)")->check(CLI::IsMember(kKvTypeNames));
  app.add_option("--mmproj", mmproj, "projector file to count (a store name's projector is counted by default)");
  app.add_option("--bandwidth", bandwidth_gbs, "memory bandwidth in GB/s instead of measuring it")->check(CLI::Range(0.01, 1e5));
  app.add_flag("--offline", offline, "never touch the network (also GEMRUN_OFFLINE=1)");
  app.add_flag("--json", json, "JSON output");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  o.kv_type = KvTypeFromName(kv_type);
  auto src = OpenSource(model, mmproj, offline || EnvTrue("GEMRUN_OFFLINE"));
  if (!src.ok()) return ReportError("fit", src.status());
  auto config = ReadModelConfig(*src->model);
  if (!config.ok()) return ReportError("fit", config.status());
  auto plan = PlanMemory(*src->model, *config, o);
  if (!plan.ok()) return ReportError("fit", plan.status());
  if (src->projector) plan->projector_bytes = static_cast<double>(src->projector->file_size());
  const std::optional<uint64_t> avail = AvailableMemoryBytes();
  const double bandwidth = bandwidth_gbs > 0 ? bandwidth_gbs * 1e9 : MeasureReadBandwidth();
  if (json) std::printf("%s\n", Json(*src, o, *plan, avail, bandwidth).dump(1).c_str());
  else PrintText(*src, o, *plan, avail, bandwidth, bandwidth_gbs <= 0);
  return avail && plan->Total() > static_cast<double>(*avail) ? kExitRuntime : kExitOk;
}

}  // namespace gemrun::cli
