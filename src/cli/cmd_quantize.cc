// gemrun quantize IN.gguf OUT.gguf TYPE: converts an F32/F16/BF16 GGUF to a quantized one with
// llama-quantize's per-tensor choices and bytes (convert/quant_plan.h, convert/quantize_file.h).
// Thin: parses flags, calls convert::QuantizeFile, prints.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>

#include "cli/commands.h"
#include "convert/quantize_file.h"
#include "threading/thread_pool.h"

namespace gemrun::cli {
namespace {

constexpr char kCmd[] = "quantize";

std::string TypeTable() {
  std::string s = "types:\n";
  for (const convert::FileTypeInfo& t : convert::FileTypes()) {
    s += "  " + std::string(t.name) + std::string(8 - std::min<size_t>(8, std::strlen(t.name)), ' ') +
         t.description + "\n";
  }
  return s;
}

}  // namespace

int CmdQuantize(int argc, char** argv) {
  CLI::App app{
      "Quantize a GGUF model (F32, F16 or BF16 weights) to TYPE. Per-tensor types, tensor order and\n"
      "metadata follow llama-quantize (llama.cpp 3f545becc); without an importance matrix the output\n"
      "is byte-identical to llama-quantize's for the same input and TYPE. Streams: memory holds a\n"
      "batch of rows, not the model. The output appears only when complete (written as OUT.partial).\n\n" +
          TypeTable() +
          "\nexamples:\n"
          "  gemrun quantize gemma-3-1b-it-bf16.gguf gemma-3-1b-it-Q4_K_M.gguf Q4_K_M\n"
          "  gemrun quantize model-f32.gguf model-Q8_0.gguf q8_0 --threads 8\n"
          "  gemrun quantize model-f16.gguf model-Q4_0.gguf Q4_0 --output-tensor-type Q8_0\n"
          "  gemrun quantize model-Q8_0.gguf model-Q4_K_M.gguf Q4_K_M --allow-requantize\n\n"
          "exit codes: 0 ok, 1 usage error (unknown type, requantizing without --allow-requantize,\n"
          "unwritable output), 2 input file error, 3 runtime error (disk full)",
      "gemrun quantize"};
  std::string in, out, type, out_type, embd_type;
  int threads = 0;
  bool quiet = false;
  convert::QuantizeOptions opt;
  app.add_option("input", in, "input GGUF (F32/F16/BF16 weights)")->required();
  app.add_option("output", out, "output GGUF")->required();
  app.add_option("type", type, "quantization type (see types above; case-insensitive)")->required();
  app.add_flag("--allow-requantize", opt.allow_requantize,
               "allow requantizing tensors that are already quantized (loses quality)");
  app.add_flag("--leave-output-tensor", opt.leave_output, "leave output.weight unquantized");
  app.add_flag("--pure", opt.pure,
               "no k-quant mixes: every quantizable tensor gets TYPE's base type (still falling back on odd shapes)");
  app.add_option("--output-tensor-type", out_type, "type of output.weight (e.g. Q8_0, F16)");
  app.add_option("--token-embedding-type", embd_type, "type of token_embd.weight");
  app.add_option("-t,--threads", threads, "worker threads (default: all available cores)")
      ->check(CLI::Range(0, 1024));
  app.add_flag("-q,--quiet", quiet, "no per-tensor lines");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  auto ft = convert::ParseFileType(type);
  if (!ft.ok()) return ReportError(kCmd, ft.status());
  opt.ftype = ft->id;
  if (!out_type.empty()) {
    auto t = convert::ParseTensorType(out_type);
    if (!t.ok()) return ReportError(kCmd, t.status());
    opt.output_tensor_type = *t;
  }
  if (!embd_type.empty()) {
    auto t = convert::ParseTensorType(embd_type);
    if (!t.ok()) return ReportError(kCmd, t.status());
    opt.token_embedding_type = *t;
  }
  ThreadPool pool(threads);
  auto log = [quiet](std::string_view line) {
    if (!quiet) std::fprintf(stderr, "%.*s\n", (int)line.size(), line.data());
  };
  auto stats = convert::QuantizeFile(in, out, opt, pool, log);
  if (!stats.ok()) return ReportError(kCmd, stats.status());
  std::fprintf(stderr, "quantized %d of %d tensors to %s (%d fallbacks, %d threads): %.2f MiB -> %.2f MiB, wrote %s\n",
               stats->n_quantized, stats->n_tensors, ft->name, stats->n_fallback, pool.size(),
               stats->in_bytes / 1048576.0, stats->out_bytes / 1048576.0, out.c_str());
  return kExitOk;
}

}  // namespace gemrun::cli
