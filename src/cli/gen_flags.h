// Flags shared by the generating commands (run, chat): model, context, threads, sampling.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "engine/engine.h"

namespace gemrun::cli {

struct GenFlags {
  std::string model;
  EngineOptions engine;
  std::string kv_type = "f16";
  GenerateParams gen;
  std::vector<std::string> logit_bias;  // "ID=BIAS"

  // Registers -m, -c, -t, -b, --kv-type and the sampling flags on `app`.
  void Register(CLI::App& app);
  // Turns the parsed strings into options; usage errors as InvalidArgument.
  Status Finish();
};

}  // namespace gemrun::cli
