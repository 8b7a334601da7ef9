// Tool calling as a constraint: OpenAI-style tool declarations -> one grammar whose language is
// exactly the well-formed calls of the declared functions (arguments valid against each
// function's "parameters" schema), optionally OR free text (tool_choice "auto").
//
// Two call syntaxes, one per model family (docs/TOOLS.md):
//   kJson   (Gemma 3, a prompt convention):  <tool_call>\n{"name":"F","arguments":{...}}\n</tool_call>
//   kGemma4 (native):  <|tool_call>call:F{key:value,...}<tool_call|>  with <|"|>-quoted strings
// Parallel calls follow each other ("\n" between kJson calls), at most kMaxParallelCalls.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "constrain/constrain.h"

namespace gemrun::constrain {

struct ToolDecl {
  std::string name, description;
  nlohmann::ordered_json parameters;  // a JSON Schema ({"type":"object"} when absent)
};

enum class ToolChoiceMode { kAuto, kNone, kRequired, kNamed };
constexpr int kMaxParallelCalls = 4;
struct ToolChoice {
  ToolChoiceMode mode = ToolChoiceMode::kAuto;
  std::string name;  // kNamed
  int max_calls = kMaxParallelCalls;  // 1: no parallel calls
};

enum class ToolSyntax { kJson, kGemma4 };

// Text markers of the two syntaxes (Gemma 4's are special tokens of its vocabulary).
inline constexpr std::string_view kJsonCallOpen = "<tool_call>\n";
inline constexpr std::string_view kJsonCallClose = "\n</tool_call>";
inline constexpr std::string_view kG4CallOpen = "<|tool_call>call:";
inline constexpr std::string_view kG4CallClose = "<tool_call|>";
inline constexpr std::string_view kG4Quote = "<|\"|>";

// Parses a JSON array of declarations: {"type":"function","function":{"name","description",
// "parameters"}} (OpenAI and Ollama) or the bare {"name",...} object. Refuses a missing or
// malformed name, a duplicate name (naming it), and a "type" other than "function".
StatusOr<std::vector<ToolDecl>> ParseToolDecls(const nlohmann::ordered_json& tools);
StatusOr<std::vector<ToolDecl>> ParseToolDecls(std::string_view json_text);

// "auto" | "none" | "required" | a function name; the name must be declared.
StatusOr<ToolChoice> ParseToolChoice(std::string_view choice, const std::vector<ToolDecl>& decls);

// The grammar of the answer under `choice` (nullptr for kNone: no constraint). Every function's
// parameters are compiled (not only the chosen one's): an unsupported keyword is refused naming
// the keyword, its JSON pointer and the function.
StatusOr<GrammarPtr> CompileToolGrammar(const std::vector<ToolDecl>& decls, const ToolChoice& choice,
                                        ToolSyntax syntax);

// The JSON-text grammar of one schema rewritten into Gemma 4's argument syntax: object keys
// unquoted, strings between <|"|> markers (their contents keep JSON escaping), the rest as JSON.
// The result is embedded as a rule of `b` (returns its id).
StatusOr<int> EmbedGemma4Args(const Grammar& json, GrammarBuilder* b, const std::string& prefix);
// Embeds a finished grammar unchanged as a rule of `b`.
StatusOr<int> EmbedGrammar(const Grammar& g, GrammarBuilder* b, const std::string& prefix);

// A JSON value written in Gemma 4's argument syntax (for const/enum literals and prompts).
std::string ToGemma4Value(const nlohmann::ordered_json& v);

}  // namespace gemrun::constrain
