// Constrained decoding, the public surface: compile a constraint (JSON Schema, any JSON object,
// a GBNF grammar, a regex) into the grammar IR, then drive a Matcher (matcher.h) per request.
// Every error is an InvalidArgument naming what was refused (keyword and JSON pointer, rule
// name, regex construct) before any token is generated.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"
#include "constrain/grammar.h"
#include "constrain/matcher.h"

namespace gemrun::constrain {

enum class ConstraintKind { kNone, kJsonSchema, kJsonObject, kGrammar, kRegex };
const char* ConstraintKindName(ConstraintKind k);  // "json_schema", "json_object", "grammar", "regex"

struct ConstraintSpec {
  ConstraintKind kind = ConstraintKind::kNone;
  std::string text;    // the schema (JSON text), the GBNF text or the pattern
  std::string source;  // where it came from, for messages ("--schema plan.json")
};

using GrammarPtr = std::shared_ptr<const Grammar>;

StatusOr<GrammarPtr> CompileJsonSchema(std::string_view schema_json);
StatusOr<GrammarPtr> CompileJsonObject();
StatusOr<GrammarPtr> CompileGbnf(std::string_view gbnf);
StatusOr<GrammarPtr> CompileRegex(std::string_view pattern);
StatusOr<GrammarPtr> Compile(const ConstraintSpec& spec);

}  // namespace gemrun::constrain
