// Subcommand entry points; each lives in its own cmd_*.cc file.
// Exit codes (documented in --help): 0 ok, 1 usage error, 2 model/file error, 3 runtime error;
// two commands add their own: `batch` 4 (finished, some records are errors), `check` 1 (gate
// failed) and 64 for its usage errors (so they cannot pass for a failed gate).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace gemrun::cli {

constexpr int kExitOk = 0;
constexpr int kExitUsage = 1;
constexpr int kExitModel = 2;
constexpr int kExitRuntime = 3;
constexpr int kExitPartial = 4;      // batch: every request ran, some records are errors
constexpr int kExitCheckUsage = 64;  // check: usage error (sysexits.h EX_USAGE); 1 is a failed gate

// Prints "gemrun <cmd>: <message>" to stderr and returns the exit code for the status.
int ReportError(const char* cmd, const Status& s);

// Parses "2,17,33" into token ids (non-negative int32); errors name `flag` and the bad item.
Status ParseTokenIds(const char* flag, const std::string& s, std::vector<int32_t>* ids);

int CmdEmbedImage(int argc, char** argv);
int CmdEmbedAudio(int argc, char** argv);
int CmdInspect(int argc, char** argv);
int CmdLogits(int argc, char** argv);
int CmdTokenize(int argc, char** argv);
int CmdBench(int argc, char** argv);
int CmdBenchGrammar(int argc, char** argv);
int CmdServe(int argc, char** argv);
int CmdRun(int argc, char** argv);
int CmdChat(int argc, char** argv);
int CmdAsk(int argc, char** argv);
int CmdCheck(int argc, char** argv);
int CmdBatch(int argc, char** argv);
int CmdPull(int argc, char** argv);
int CmdList(int argc, char** argv);
int CmdShow(int argc, char** argv);
int CmdRm(int argc, char** argv);
int CmdExport(int argc, char** argv);
int CmdImport(int argc, char** argv);
int CmdQuantize(int argc, char** argv);

// Rewrites `-m NAME` for a model in the local store into its file (and adds the manifest's
// projector as --mmproj for commands that take one); argv[0] is the subcommand. Paths that
// exist are left alone. The new argv stays valid until exit. (model_arg.cc)
void ResolveStoreModelArgs(int* argc, char*** argv);

}  // namespace gemrun::cli
