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
  app.add_option("--tools", tools_file, "offer functions (a JSON array of OpenAI tool declarations); calls are "
                                        "decoded under their parameter schemas and printed in --json as tool_calls, "
                                        "e.g. --tools ops.json --tool-choice required");
  app.add_option("--tool-choice", tool_choice, "with --tools: auto (text or calls), none, required, or a function "
                                               "name (default auto)");
}

namespace {
Status ReadFile(const std::string& file, const char* flag, std::string* out) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return NotFoundError(std::string("cannot open ") + flag + " " + file);
  std::ostringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return OkStatus();
}
}  // namespace

Status ConstraintFlags::ApplyTools(const Tokenizer& tok, ChatFormat format, GenerateParams* gen,
                                   ChatOptions* opts) const {
  if (!tools_active()) return OkStatus();
  const constrain::ToolSyntax syntax = ToolSyntaxFor(format);
  auto g = constrain::CompileToolGrammar(tools, choice, syntax);
  if (!g.ok()) return Status(g.status().code(), "--tools " + tools_file + ": " + g.status().message());
  gen->grammar = *g;
  gen->grammar_vocab = ToolCallVocab(tok, syntax);
  gen->decode_special = syntax == constrain::ToolSyntax::kGemma4;
  opts->tools_text = RenderToolDeclarations(tools, syntax);
  return OkStatus();
}

Status ConstraintFlags::Apply(GenerateParams* gen) {
  const int n = !schema_file.empty() + !grammar_file.empty() + !regex.empty() + json_object + !tools_file.empty();
  if (n == 0) return OkStatus();
  if (n > 1) return InvalidArgumentError("give at most one of --schema, --json-object, --grammar, --regex, --tools");
  if (!tools_file.empty()) {
    std::string text;
    RETURN_IF_ERROR(ReadFile(tools_file, "--tools", &text));
    auto decls = constrain::ParseToolDecls(std::string_view(text));
    if (!decls.ok()) return Status(decls.status().code(), "--tools " + tools_file + ": " + decls.status().message());
    auto c = constrain::ParseToolChoice(tool_choice, *decls);
    if (!c.ok()) return Status(c.status().code(), "--tool-choice: " + c.status().message());
    tools = std::move(*decls);
    choice = *c;
    // Every function's parameters compile (in either syntax the errors are the schema's).
    auto g = constrain::CompileToolGrammar(tools, choice, constrain::ToolSyntax::kJson);
    if (!g.ok()) return Status(g.status().code(), "--tools " + tools_file + ": " + g.status().message());
    return OkStatus();
  }
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
