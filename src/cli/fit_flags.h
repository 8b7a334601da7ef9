// `gemrun fit` (cmd_fit.cc) and the start-up fit check of the commands that load a model:
// --no-fit-check, and the check itself (engine/fit.h) run before Engine::Load.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "base/status.h"
#include "engine/engine.h"

namespace gemrun::cli {

struct FitFlags {
  bool check = true;  // false: --no-fit-check

  // Registers --no-fit-check on `app`.
  void Register(CLI::App& app);
  // CheckModelFits(model, o) unless --no-fit-check was given.
  Status Check(const std::string& model, const EngineOptions& o) const;
};

int CmdFit(int argc, char** argv);

}  // namespace gemrun::cli
