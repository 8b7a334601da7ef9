// gemrun: the CLI entry point; dispatches to one subcommand per file.
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <system_error>

#include "cli/commands.h"
#include "cli/fit_flags.h"  // CmdFit

#ifndef GEMRUN_VERSION
#define GEMRUN_VERSION "dev"  // set by CMake from project(VERSION)
#endif

namespace gemrun::cli {

int ReportError(const char* cmd, const Status& s) {
  std::fprintf(stderr, "gemrun %s: error: %s\n", cmd, s.message().c_str());
  switch (FaultClassOf(s.code())) {
    case FaultClass::kUsage: return kExitUsage;
    case FaultClass::kModelFile: return kExitModel;
    default: return kExitRuntime;
  }
}

Status ParseTokenIds(const char* flag, const std::string& s, std::vector<int32_t>* ids) {
  size_t i = 0;
  while (i < s.size()) {
    size_t j = s.find(',', i);
    if (j == std::string::npos) j = s.size();
    const std::string tok = s.substr(i, j - i);
    char* end = nullptr;
    errno = 0;
    const long long v = std::strtoll(tok.c_str(), &end, 10);
    if (tok.empty() || *end != '\0' || errno || v < 0 || v > INT32_MAX)
      return InvalidArgumentError(std::string(flag) + ": '" + tok + "' is not a token id");
    ids->push_back(static_cast<int32_t>(v));
    i = j + 1;
  }
  if (ids->empty()) return InvalidArgumentError(std::string(flag) + ": no ids given");
  return OkStatus();
}

namespace {

struct Command {
  const char* name;
  int (*fn)(int, char**);
  const char* summary;
};

constexpr Command kCommands[] = {
    {"embed-image", CmdEmbedImage, "encode an image with a vision projector and write its embedding rows"},
    {"embed-audio", CmdEmbedAudio, "encode an audio clip with an audio projector and write its embedding rows"},
    {"run", CmdRun, "generate an answer to one prompt (stdin and files welcome)"},
    {"chat", CmdChat, "interactive multi-turn chat"},
    {"ask", CmdAsk, "ask about files, directories, logs and PDFs of any size (map-reduce or --retrieve)"},
    {"check", CmdCheck, "CI gate: a verdict under a JSON Schema, exit 1 when --fail-if holds"},
    {"batch", CmdBatch, "run a JSONL file of chat requests through the batcher, results in order (resumable)"},
    {"inspect", CmdInspect, "print a GGUF file's metadata and tensor table"},
    {"logits", CmdLogits, "evaluate token ids and write every position's logits (parity checks)"},
    {"tokenize", CmdTokenize, "tokenize text with a model's vocabulary"},
    {"bench", CmdBench, "measure prompt (pp) and generation (tg) tokens/s, like llama-bench"},
    {"bench-grammar", CmdBenchGrammar, "measure constrained decoding: compile and token-mask time per token"},
    {"serve", CmdServe, "OpenAI- and Ollama-compatible HTTP server with continuous batching"},
    {"pull", CmdPull, "download a model into the local store (verified, resumable)"},
    {"list", CmdList, "list the models in the local store"},
    {"show", CmdShow, "show a stored model's metadata and memory need"},
    {"rm", CmdRm, "remove models from the local store"},
    {"export", CmdExport, "write a stored model into a tar bundle (air-gapped transfer)"},
    {"import", CmdImport, "add a bundle made by export to the store (SHA-256 checked)"},
    {"quantize", CmdQuantize, "convert an F32/F16/BF16 GGUF to Q4_K_M, Q8_0, ... (llama-quantize's bytes)"},
    {"fit", CmdFit, "will a model and context fit in memory here, and how fast will it decode"},
};

void PrintUsage() {
  std::printf(
      "gemrun — run Gemma 3 / Gemma 4 GGUF models locally on the CPU\n\n"
      "usage: gemrun <command> [options]   (gemrun <command> --help for details; gemrun --version)\n\ncommands:\n");
  for (const auto& c : kCommands) std::printf("  %-10s %s\n", c.name, c.summary);
  std::printf(
      "\nexit codes: 0 ok, 1 usage error, 2 model/file error, 3 runtime error (check: 1 gate failed, 64 usage\n"
      "error; batch: 4 finished with some failed records)\n"
      "environment: GEMRUN_ISA=scalar|avx2|avx2vnni|avx512 (ARM64: neon|neondot|neoni8mm) forces a lower SIMD path;\n"
      "GEMRUN_HOME is the model store (-m takes a file or a store name: gemrun pull gemma3:1b && gemrun run -m gemma3:1b -p Hi)\n");
}

// llama.cpp's multi-letter short flags, which CLI11 cannot declare, as our long names.
void RewriteLlamaShortFlags(int argc, char** argv) {
  static char kFlashAttn[] = "--flash-attn";
  for (int i = 2; i < argc; ++i)
    if (!std::strcmp(argv[i], "-fa")) argv[i] = kFlashAttn;
}

}  // namespace
}  // namespace gemrun::cli

namespace {
// Last line of defence: an exception no layer caught (std::bad_alloc on a huge allocation,
// std::system_error when a thread cannot be created) becomes a message and exit code 3
// instead of std::terminate's abort (exit 134 and maybe a core dump).
int Dispatch(int argc, char** argv);
}  // namespace

int main(int argc, char** argv) {
  using gemrun::cli::kExitRuntime;
  const char* cmd = argc >= 2 ? argv[1] : "";
  try {
    return Dispatch(argc, argv);
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "gemrun %s: error: out of memory (a buffer could not be allocated); lower the context "
                         "size (-c), --parallel or --batch-size, or free memory\n", cmd);
  } catch (const std::system_error& e) {
    std::fprintf(stderr, "gemrun %s: error: system resource: %s (e.g. threads: lower -t)\n", cmd, e.what());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gemrun %s: error: unexpected failure: %s\n", cmd, e.what());
  } catch (...) {
    std::fprintf(stderr, "gemrun %s: error: unexpected failure (unknown exception)\n", cmd);
  }
  return kExitRuntime;
}

namespace {
int Dispatch(int argc, char** argv) {
  using namespace gemrun::cli;
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") ||
      !std::strcmp(argv[1], "help")) {
    PrintUsage();
    return argc < 2 ? kExitUsage : kExitOk;
  }
  if (!std::strcmp(argv[1], "--version") || !std::strcmp(argv[1], "version")) {
    std::printf("gemrun %s\n", GEMRUN_VERSION);
    return kExitOk;
  }
  RewriteLlamaShortFlags(argc, argv);
  for (const auto& c : kCommands)
    if (!std::strcmp(argv[1], c.name)) {
      int n = argc - 1;
      char** args = argv + 1;
      ResolveStoreModelArgs(&n, &args);  // -m NAME from the store, for every command
      return c.fn(n, args);
    }
  std::fprintf(stderr, "gemrun: unknown command '%s' (see gemrun --help)\n", argv[1]);
  return kExitUsage;
}
}  // namespace
