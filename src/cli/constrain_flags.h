// Flags for constrained decoding shared by the generating commands: --schema, --json-object,
// --grammar, --regex (at most one). The constraint is compiled before the model loads, so a
// refused schema costs nothing and exits 1 naming the keyword.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "constrain/tool_grammar.h"
#include "engine/generation.h"
#include "engine/tool_calls.h"

namespace gemrun::cli {

struct ConstraintFlags {
  std::string schema_file, grammar_file, regex, tools_file, tool_choice = "auto";
  bool json_object = false;
  // --tools: the declarations and the choice (checked by Apply, used by ApplyTools).
  std::vector<constrain::ToolDecl> tools;
  constrain::ToolChoice choice;

  void Register(CLI::App& app);
  bool active() const { return !schema_file.empty() || !grammar_file.empty() || !regex.empty() || json_object; }
  bool tools_active() const { return !tools_file.empty() && choice.mode != constrain::ToolChoiceMode::kNone; }
  // Reads and compiles the constraint into gen->grammar. InvalidArgument (exit 1) for a refused
  // constraint, NotFound (exit 2) for an unreadable file.
  // --tools: the declarations and every function's parameters are checked here, before the
  // model loads (InvalidArgument naming the keyword and the function).
  Status Apply(GenerateParams* gen);
  // After the model loads: the call grammar in the model's syntax, its vocabulary, and the
  // declarations for the prompt (opts->tools_text). No-op without --tools.
  Status ApplyTools(const Tokenizer& tok, ChatFormat format, GenerateParams* gen, ChatOptions* opts) const;
};

}  // namespace gemrun::cli
