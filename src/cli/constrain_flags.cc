// ConstraintFlags implementation.
#include "cli/constrain_flags.h"

#include <fstream>
#include <sstream>

#include "constrain/constrain.h"

namespace gemrun::cli {

void ConstraintFlags::Register(CLI::App& app) {
  app.add_option("--schema", schema_file,
                 "constrain the answer to a JSON Schema (draft 2020-12 subset; unsupported keywords are refused), "
                 "e.g. --schema verdict.json");
  app.add_flag("--json-object", json_object, "constrain the answer to one JSON object");
  app.add_option("--grammar", grammar_file, "constrain the answer to a GBNF grammar (llama.cpp format), "
                                            "e.g. --grammar answer.gbnf");
  app.add_option("--regex", regex, "constrain the whole answer to a regex, e.g. --regex 'INC-[0-9]{6}'");
}

Status ConstraintFlags::Apply(GenerateParams* gen) const {
  const int n = !schema_file.empty() + !grammar_file.empty() + !regex.empty() + json_object;
  if (n == 0) return OkStatus();
  if (n > 1) return InvalidArgumentError("give at most one of --schema, --json-object, --grammar, --regex");
  constrain::ConstraintSpec spec;
  const std::string& file = !schema_file.empty() ? schema_file : grammar_file;
  const char* flag = !schema_file.empty() ? "--schema" : "--grammar";
  if (!file.empty()) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return NotFoundError(std::string("cannot open ") + flag + " " + file);
    std::ostringstream ss;
    ss << in.rdbuf();
    spec.text = ss.str();
    spec.kind = !schema_file.empty() ? constrain::ConstraintKind::kJsonSchema : constrain::ConstraintKind::kGrammar;
    spec.source = std::string(flag) + " " + file;
  } else if (!regex.empty()) {
    spec.kind = constrain::ConstraintKind::kRegex;
    spec.text = regex;
    spec.source = "--regex";
  } else {
    spec.kind = constrain::ConstraintKind::kJsonObject;
    spec.source = "--json-object";
  }
  auto g = constrain::Compile(spec);
  if (!g.ok()) return Status(g.status().code(), spec.source + ": " + g.status().message());
  gen->grammar = *g;
  return OkStatus();
}

}  // namespace gemrun::cli
