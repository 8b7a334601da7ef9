// Flags for constrained decoding shared by the generating commands: --schema, --json-object,
// --grammar, --regex (at most one). The constraint is compiled before the model loads, so a
// refused schema costs nothing and exits 1 naming the keyword.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "engine/generation.h"

namespace gemrun::cli {

struct ConstraintFlags {
  std::string schema_file, grammar_file, regex;
  bool json_object = false;

  void Register(CLI::App& app);
  bool active() const { return !schema_file.empty() || !grammar_file.empty() || !regex.empty() || json_object; }
  // Reads and compiles the constraint into gen->grammar. InvalidArgument (exit 1) for a refused
  // constraint, NotFound (exit 2) for an unreadable file.
  Status Apply(GenerateParams* gen) const;
};

}  // namespace gemrun::cli
