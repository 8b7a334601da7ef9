// Tool declarations and tool_choice -> the grammar of the calls (see tool_grammar.h).
#include "constrain/tool_grammar.h"

#include <set>

namespace gemrun::constrain {
namespace {

using Json = nlohmann::ordered_json;

// OpenAI's rule for function names; it also keeps a name from being ambiguous in the syntaxes.
bool ValidName(const std::string& n) {
  if (n.empty() || n.size() > 64) return false;
  for (char c : n)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')) return false;
  return true;
}

StatusOr<ToolDecl> ParseOne(const Json& t, size_t i) {
  const std::string where = "tools[" + std::to_string(i) + "]";
  if (!t.is_object()) return InvalidArgumentError(where + " must be an object");
  const Json* f = &t;
  if (t.contains("type")) {
    if (!t["type"].is_string() || t["type"] != "function")
      return InvalidArgumentError(where + ".type must be \"function\" (the only tool type supported)");
  }
  if (t.contains("function")) f = &t["function"];
  if (!f->is_object() || !f->contains("name") || !(*f)["name"].is_string())
    return InvalidArgumentError(where + ": a function needs a string \"name\"");
  ToolDecl d;
  d.name = (*f)["name"].get<std::string>();
  if (!ValidName(d.name))
    return InvalidArgumentError(where + ": function name '" + d.name +
                                "' is invalid (use 1-64 of a-z, A-Z, 0-9, '_', '-', '.')");
  if (f->contains("description") && (*f)["description"].is_string()) d.description = (*f)["description"];
  if (f->contains("parameters") && !(*f)["parameters"].is_null()) d.parameters = (*f)["parameters"];
  else d.parameters = Json{{"type", "object"}, {"properties", Json::object()}};
  if (!d.parameters.is_object())
    return InvalidArgumentError(where + ": parameters of function '" + d.name + "' must be a JSON Schema object");
  // Arguments are always an object: a schema that does not say so gets "type": "object".
  static const std::set<std::string> kComposed = {"type", "$ref", "anyOf", "oneOf", "allOf", "enum", "const"};
  bool typed = false;
  for (const auto& k : kComposed) typed = typed || d.parameters.contains(k);
  if (!typed) d.parameters["type"] = "object";
  return d;
}

}  // namespace

StatusOr<std::vector<ToolDecl>> ParseToolDecls(const Json& tools) {
  if (!tools.is_array()) return InvalidArgumentError("tools must be a JSON array of function declarations");
  std::vector<ToolDecl> out;
  std::set<std::string> seen;
  for (size_t i = 0; i < tools.size(); ++i) {
    auto d = ParseOne(tools[i], i);
    if (!d.ok()) return d.status();
    if (!seen.insert(d->name).second)
      return InvalidArgumentError("tools: function '" + d->name + "' is declared twice (tools[" + std::to_string(i) +
                                  "]); names must be unique");
    out.push_back(std::move(*d));
  }
  return out;
}

StatusOr<std::vector<ToolDecl>> ParseToolDecls(std::string_view json_text) {
  const Json j = Json::parse(json_text, nullptr, false);
  if (j.is_discarded()) return InvalidArgumentError("tools: not valid JSON");
  return ParseToolDecls(j);
}

StatusOr<ToolChoice> ParseToolChoice(std::string_view choice, const std::vector<ToolDecl>& decls) {
  ToolChoice c;
  if (choice == "auto" || choice.empty()) return c;
  if (choice == "none") c.mode = ToolChoiceMode::kNone;
  else if (choice == "required") c.mode = ToolChoiceMode::kRequired;
  else {
    c.mode = ToolChoiceMode::kNamed;
    c.name = std::string(choice);
    bool found = false;
    for (const auto& d : decls) found = found || d.name == c.name;
    if (!found)
      return InvalidArgumentError("tool_choice names function '" + c.name + "', which is not declared in tools");
  }
  if (c.mode != ToolChoiceMode::kNone && decls.empty())
    return InvalidArgumentError("tool_choice '" + std::string(choice) + "' needs at least one declared tool");
  return c;
}

namespace {

std::string RegexEscape(char c) {
  static const std::string kMeta = "\\^$.|?*+()[]{}/-";
  return kMeta.find(c) != std::string::npos ? std::string("\\") + c : std::string(1, c);
}

// Any text that does not start with `marker` (so free text and a call cannot be confused):
// P(i) = ( [^m_i] any | m_i P(i+1) )?, the last one without the second branch.
std::string FreeTextPattern(std::string_view marker, size_t i = 0) {
  const std::string c = RegexEscape(marker[i]);
  const std::string first = "[^" + c + "][^\\x00]*";
  if (i + 1 == marker.size()) return "(" + first + ")?";
  return "(" + first + "|" + c + FreeTextPattern(marker, i + 1) + ")?";
}

}  // namespace

StatusOr<GrammarPtr> CompileToolGrammar(const std::vector<ToolDecl>& decls, const ToolChoice& choice,
                                        ToolSyntax syntax) {
  if (choice.mode == ToolChoiceMode::kNone) return GrammarPtr();
  GrammarBuilder b;
  const int call = b.NewRule("call");
  for (const ToolDecl& d : decls) {
    auto args = CompileJsonSchema(d.parameters.dump());
    if (!args.ok()) return InvalidArgumentError("tool '" + d.name + "' parameters: " + args.status().message());
    if (choice.mode == ToolChoiceMode::kNamed && d.name != choice.name) continue;
    const std::string prefix = d.name + "_";
    auto rule = syntax == ToolSyntax::kGemma4 ? EmbedGemma4Args(**args, &b, prefix) : EmbedGrammar(**args, &b, prefix);
    if (!rule.ok()) return InvalidArgumentError("tool '" + d.name + "' parameters: " + rule.status().message());
    std::string open, close;
    if (syntax == ToolSyntax::kGemma4) {
      open = std::string(kG4CallOpen) + d.name;
      close = std::string(kG4CallClose);
    } else {
      open = std::string(kJsonCallOpen) + "{\"name\":\"" + d.name + "\",\"arguments\":";
      close = "}" + std::string(kJsonCallClose);
    }
    auto o = b.Literal(open), c = b.Literal(close);
    if (!o.ok()) return o.status();
    if (!c.ok()) return c.status();
    b.AddAlt(call, {*o, b.Ref(*rule), *c});
  }
  // calls_k: one to k calls, separated by "\n" (kJson) or nothing (Gemma 4).
  int calls = b.NewRule("calls");
  b.AddAlt(calls, {b.Ref(call)});
  for (int k = 2; k <= choice.max_calls; ++k) {
    const int more = b.NewRule("calls");
    b.AddAlt(more, {b.Ref(call)});
    if (syntax == ToolSyntax::kJson) b.AddAlt(more, {b.Ref(call), *b.Literal("\n"), b.Ref(calls)});
    else b.AddAlt(more, {b.Ref(call), b.Ref(calls)});
    calls = more;
  }
  const int root = b.Rule("root");
  b.AddAlt(root, {b.Ref(calls)});
  if (choice.mode == ToolChoiceMode::kAuto) {
    const std::string_view marker = syntax == ToolSyntax::kGemma4 ? kG4CallOpen : kJsonCallOpen;
    auto text = CompileRegex(FreeTextPattern(marker.substr(0, marker.find_first_of(">") + 1)));
    if (!text.ok()) return InternalError("tools: free-text pattern: " + text.status().message());
    auto t = EmbedGrammar(**text, &b, "text_");
    if (!t.ok()) return t.status();
    b.AddAlt(root, {b.Ref(*t)});
  }
  auto g = b.Finish(root, "tools");
  if (!g.ok()) return g.status();
  return std::make_shared<const Grammar>(std::move(*g));
}

}  // namespace gemrun::constrain
