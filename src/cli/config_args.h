// Option files for a CLI11 command (`gemrun serve --config FILE`): the file's entries become
// arguments placed before the command line's, for the options the command line does not set,
// so every option can live in the file, flags override it, and CLI11 validates both alike.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "base/config_file.h"
#include "base/status.h"

namespace gemrun::cli {

struct MergedArgs {
  std::string file;                  // the config file read ("" when none)
  std::vector<ConfigEntry> entries;
  std::vector<std::string> storage;  // argv[0], the file's arguments, then the command line's
  std::vector<char*> ptrs;
  int argc() const { return static_cast<int>(storage.size()); }
  char** argv() { return ptrs.data(); }
};

// Reads --config FILE (or --config=FILE) from argv, else `default_path` when that file exists;
// "--config none" reads nothing. `app` must have every option registered, --config included.
// Errors: the file's (unreadable, malformed line, unknown key naming it and its line).
Status MergeConfigFile(const CLI::App& app, int argc, char** argv, const std::string& default_path, MergedArgs* out);

// A CLI11 parse error message with "(set in FILE:LINE)" when the option it names came from the
// config file.
std::string ExplainConfigError(const CLI::App& app, const MergedArgs& m, const std::string& message);

}  // namespace gemrun::cli
