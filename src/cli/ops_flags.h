// Flags and presentation shared by `ask` and `check`: inputs (files, directories, stdin),
// --include/--exclude, .gitignore, size caps, plan sizing, and the progress bar on a TTY.
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ingest/ingest.h"
#include "ops/ask.h"

namespace gemrun::cli {

// JSON text for stdout; invalid UTF-8 from a model (a cut multi-byte character) becomes U+FFFD
// instead of an exception.
inline std::string Dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

struct OpsFlags {
  std::vector<std::string> inputs;  // files and directories; "-" is stdin
  std::vector<std::string> include, exclude;
  bool no_gitignore = false, no_stdin = false, retrieve = false, json = false;
  int64_t max_mib = 1024;
  ops::AskOptions ask;

  // Registers the inputs (positional) and the flags; `retrieve_flags`: --retrieve, --top-k.
  void Register(CLI::App& app, bool retrieve_flags);
  // Reads every input (stdin when piped and not silent for 0.5 s, or named "-"), printing
  // skipped files on stderr. An error when there is no input at all.
  Status Load(const char* cmd, ingest::IngestResult* out) const;
};

// Draws "[map 12/180] 6% | 35.2 tok/s | ETA 4m02s" on stderr when it is a terminal (at most
// five times a second); does nothing when stderr is piped.
class ProgressBar {
 public:
  explicit ProgressBar(const char* cmd);
  void Update(const ops::AskProgress& p);
  void Done();  // clears the line

 private:
  const char* cmd_;
  bool tty_;
  double last_ = -1;
  bool drawn_ = false;
};

}  // namespace gemrun::cli
