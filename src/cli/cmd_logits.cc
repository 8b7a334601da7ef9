// gemrun logits: evaluate ids from an empty cache in chunks and write every position's
// logits as float32 LE [n_ids x n_vocab]. Used by acceptance checks: keep the interface.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <vector>

#include "cli/commands.h"
#include "model/model.h"

namespace gemrun::cli {
namespace {

Status ParseIds(const std::string& s, std::vector<int32_t>* ids) {
  size_t i = 0;
  while (i < s.size()) {
    size_t j = s.find(',', i);
    if (j == std::string::npos) j = s.size();
    const std::string tok = s.substr(i, j - i);
    char* end = nullptr;
    errno = 0;
    const long long v = std::strtoll(tok.c_str(), &end, 10);
    if (tok.empty() || *end != '\0' || errno || v < 0 || v > INT32_MAX)
      return InvalidArgumentError("--ids: '" + tok + "' is not a token id");
    ids->push_back(static_cast<int32_t>(v));
    i = j + 1;
  }
  if (ids->empty()) return InvalidArgumentError("--ids: no ids given");
  return OkStatus();
}

}  // namespace

int CmdLogits(int argc, char** argv) {
  CLI::App app{"Evaluate token ids from an empty cache and write the logits of every position\n"
               "as float32 little-endian [n_ids x n_vocab]; prints {\"n_tokens\":..,\"n_vocab\":..}.\n\n"
               "examples:\n  gemrun logits -m model.gguf --ids 2,17,33 -o out.bin\n"
               "  gemrun logits -m model.gguf --ids 2,17,33 -o out.bin --batch 1   # pure decode path",
               "gemrun logits"};
  std::string model_path, ids_str, out_path;
  int64_t batch = 0;
  int threads = 0;
  app.add_option("-m,--model", model_path, "GGUF model")->required();
  app.add_option("--ids", ids_str, "comma-separated token ids")->required();
  app.add_option("-o,--output", out_path, "output file")->required();
  app.add_option("--batch", batch, "tokens per forward call (default: all at once; 1 = one-token decode)");
  app.add_option("-t,--threads", threads, "threads (default: all cores)");
  std::string kv_type = "f32";
  app.add_option("--kv-type", kv_type, "KV cache type: f32 (default here, exact parity) or f16")
      ->check(CLI::IsMember({"f32", "f16"}));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  std::vector<int32_t> ids;
  if (Status s = ParseIds(ids_str, &ids); !s.ok()) return ReportError("logits", s);
  if (batch < 0) return ReportError("logits", InvalidArgumentError("--batch must be >= 1"));
  const int64_t n = static_cast<int64_t>(ids.size());
  if (batch == 0 || batch > n) batch = n;

  auto model = LoadModel(model_path);
  if (!model.ok()) return ReportError("logits", model.status());
  const ModelConfig& c = (*model)->config();
  auto st = (*model)->NewState(n, batch, kv_type == "f16" ? DType::kF16 : DType::kF32);
  if (!st.ok()) return ReportError("logits", st.status());
  ThreadPool pool(threads);
  std::vector<float> logits(static_cast<size_t>(n * c.n_vocab));
  for (int64_t i = 0; i < n; i += batch) {
    const int64_t m = std::min(batch, n - i);
    Status s = (*model)->Forward(std::span<const int32_t>(ids.data() + i, m), **st, LogitsMode::kAll,
                                 logits.data() + i * c.n_vocab, pool);
    if (!s.ok()) return ReportError("logits", s);
  }
  std::ofstream out(out_path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(logits.data()), static_cast<std::streamsize>(logits.size() * sizeof(float)));
  if (!out) return ReportError("logits", InternalError("cannot write " + out_path));
  std::printf("{\"n_tokens\":%lld,\"n_vocab\":%lld}\n", (long long)n, (long long)c.n_vocab);
  return kExitOk;
}

}  // namespace gemrun::cli
