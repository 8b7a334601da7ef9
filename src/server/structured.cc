// Structured output and tool calling on the server (see structured.h).
#include "server/structured.h"

#include <map>
#include <mutex>

#include "engine/reasoning.h"

namespace gemrun::server {
namespace {

using OJson = nlohmann::ordered_json;
using Err = std::optional<ApiError>;

Err Refused(const std::string& param, const Status& st) {
  return ApiError::BadRequest("'" + param + "' was refused: " + st.message(), param, "invalid_schema");
}

Err CompileSchemaInto(const Json& schema, const OJson* ordered, const std::string& param, GenerateParams* gen) {
  if (!schema.is_object() && !schema.is_boolean())
    return ApiError::BadRequest("'" + param + "' must be a JSON Schema object", param, "invalid_type");
  auto g = constrain::CompileJsonSchema(ordered ? ordered->dump() : schema.dump());
  if (!g.ok()) return Refused(param, g.status());
  gen->grammar = *g;
  return std::nullopt;
}

Err JsonObjectInto(GenerateParams* gen) {
  auto g = constrain::CompileJsonObject();
  if (!g.ok()) return ApiError::Of(500, "server_error", g.status().message());
  gen->grammar = *g;
  return std::nullopt;
}

// One vocabulary trie per (tokenizer, syntax), shared by every request (building one walks the
// whole 262k vocabulary).
std::shared_ptr<const constrain::TokenTrie> SharedVocab(const Tokenizer& tok, constrain::ToolSyntax syntax) {
  static std::mutex mu;
  static std::map<std::pair<const Tokenizer*, int>, std::shared_ptr<const constrain::TokenTrie>> cache;
  std::lock_guard<std::mutex> l(mu);
  auto& v = cache[{&tok, static_cast<int>(syntax)}];
  if (!v) v = ToolCallVocab(tok, syntax);
  return v;
}

}  // namespace

const OJson* OrderedField(const OJson* body, const char* key) {
  if (!body || !body->is_object()) return nullptr;
  auto it = body->find(key);
  return it == body->end() ? nullptr : &*it;
}

Err ParseResponseFormat(const Json& rf, const OJson* ordered, GenerateParams* gen) {
  if (rf.is_null()) return std::nullopt;
  if (!rf.is_object() || !rf.contains("type") || !rf["type"].is_string())
    return ApiError::BadRequest("'response_format' must be an object with a string 'type'", "response_format",
                                "invalid_type");
  const std::string type = rf["type"];
  if (type == "text") {
    if (auto k = FirstUnknownKey(rf, {"type"})) return ApiError::Unsupported("response_format." + *k);
    return std::nullopt;
  }
  if (type == "json_object") {
    if (auto k = FirstUnknownKey(rf, {"type"})) return ApiError::Unsupported("response_format." + *k);
    return JsonObjectInto(gen);
  }
  if (type != "json_schema")
    return ApiError::BadRequest("'response_format.type' must be text, json_object or json_schema, got '" + type + "'",
                                "response_format.type", "invalid_value");
  if (auto k = FirstUnknownKey(rf, {"type", "json_schema"})) return ApiError::Unsupported("response_format." + *k);
  if (!rf.contains("json_schema") || !rf["json_schema"].is_object())
    return ApiError::BadRequest("'response_format.json_schema' must be an object with a 'schema'",
                                "response_format.json_schema", "invalid_type");
  const Json& js = rf["json_schema"];
  if (auto k = FirstUnknownKey(js, {"name", "description", "schema", "strict"}))
    return ApiError::Unsupported("response_format.json_schema." + *k);
  bool strict = false;
  if (auto e = GetBool(js, "strict", "response_format.json_schema.strict", &strict)) return e;
  // strict or not, the schema is enforced: gemrun never answers outside a schema it accepted.
  if (!js.contains("schema") || js["schema"].is_null()) return JsonObjectInto(gen);
  const OJson* ojs = OrderedField(OrderedField(ordered, "json_schema"), "schema");
  return CompileSchemaInto(js["schema"], ojs, "response_format.json_schema.schema", gen);
}

Err ParseOllamaFormat(const Json& format, const OJson* ordered, GenerateParams* gen) {
  if (format.is_null() || format == "") return std::nullopt;
  if (format == "json") return JsonObjectInto(gen);
  if (format.is_object()) return CompileSchemaInto(format, ordered, "format", gen);
  return ApiError::BadRequest("'format' must be \"json\" or a JSON Schema object", "format", "invalid_value");
}

Err ParseTools(const Json& body, const OJson* ordered_body, bool openai, ToolRequest* out) {
  const bool has_tools = body.contains("tools") && !body["tools"].is_null() &&
                         !(body["tools"].is_array() && body["tools"].empty());
  std::string choice = "auto";
  if (openai && body.contains("tool_choice") && !body["tool_choice"].is_null()) {
    const Json& tc = body["tool_choice"];
    if (tc.is_string()) {
      choice = tc.get<std::string>();
      if (choice != "auto" && choice != "none" && choice != "required")
        return ApiError::BadRequest("'tool_choice' must be auto, none, required or {\"type\": \"function\", "
                                    "\"function\": {\"name\": ...}}", "tool_choice", "invalid_value");
    } else if (tc.is_object() && tc.contains("function") && tc["function"].is_object() &&
               tc["function"].contains("name") && tc["function"]["name"].is_string()) {
      choice = tc["function"]["name"].get<std::string>();
      if (choice == "auto" || choice == "none" || choice == "required") choice = "=" + choice;  // never a mode
    } else {
      return ApiError::BadRequest("'tool_choice' must be a string or {\"type\": \"function\", \"function\": {\"name\"}}",
                                  "tool_choice", "invalid_type");
    }
  }
  if (!has_tools) {
    if (choice != "auto" && choice != "none")
      return ApiError::BadRequest("'tool_choice' '" + choice + "' needs 'tools'", "tool_choice", "invalid_value");
    return std::nullopt;
  }
  const OJson* ot = OrderedField(ordered_body, "tools");
  auto decls = constrain::ParseToolDecls(ot ? *ot : OJson(body["tools"]));
  if (!decls.ok()) return ApiError::BadRequest(decls.status().message(), "tools", "invalid_value");
  auto c = constrain::ParseToolChoice(choice, *decls);
  if (!c.ok()) return ApiError::BadRequest(c.status().message(), "tool_choice", "invalid_value");
  // Every function's parameters must compile, whatever the choice (the syntax does not change
  // which keywords are refused).
  constrain::ToolChoice all;
  auto g = constrain::CompileToolGrammar(*decls, all, constrain::ToolSyntax::kJson);
  if (!g.ok()) return ApiError::BadRequest(g.status().message(), "tools", "invalid_schema");
  out->decls = std::move(*decls);
  out->choice = *c;
  out->given = c->mode != constrain::ToolChoiceMode::kNone;
  return std::nullopt;
}

Err ParseMessageToolCalls(const Json& calls, const std::string& path, std::vector<ToolCall>* out) {
  if (calls.is_null()) return std::nullopt;
  if (!calls.is_array()) return ApiError::BadRequest("'" + path + "' must be an array", path, "invalid_type");
  for (size_t i = 0; i < calls.size(); ++i) {
    const std::string p = path + "[" + std::to_string(i) + "]";
    const Json& c = calls[i];
    if (!c.is_object() || !c.contains("function") || !c["function"].is_object())
      return ApiError::BadRequest("'" + p + "' must be {\"id\", \"type\": \"function\", \"function\": {\"name\", "
                                  "\"arguments\"}}", p, "invalid_type");
    const Json& f = c["function"];
    ToolCall tc;
    if (c.contains("id") && c["id"].is_string()) tc.id = c["id"];
    if (!f.contains("name") || !f["name"].is_string())
      return ApiError::BadRequest("'" + p + ".function.name' must be a string", p + ".function.name", "invalid_type");
    tc.name = f["name"];
    const Json a = f.contains("arguments") ? f["arguments"] : Json::object();
    if (a.is_string()) {
      const Json parsed = Json::parse(a.get<std::string>(), nullptr, false);
      if (!parsed.is_object())
        return ApiError::BadRequest("'" + p + ".function.arguments' must be a JSON object (as a string)",
                                    p + ".function.arguments", "invalid_value");
      tc.arguments = OJson(parsed);
    } else if (a.is_object()) {
      tc.arguments = OJson(a);
    } else {
      return ApiError::BadRequest("'" + p + ".function.arguments' must be a JSON object", p + ".function.arguments",
                                  "invalid_type");
    }
    out->push_back(std::move(tc));
  }
  return std::nullopt;
}

Err PrepareTools(const Tokenizer& tok, ChatFormat format, ToolRequest* tools, std::vector<ChatMessage>* messages,
                 GenerateParams* gen, ChatOptions* opts) {
  const constrain::ToolSyntax syntax = ToolSyntaxFor(format);
  tools->syntax = syntax;
  if (gen->grammar && !gen->grammar_vocab) gen->grammar_vocab = SharedVocab(tok, constrain::ToolSyntax::kJson);
  // History: calls of earlier assistant messages, results of tool messages (name by call id).
  std::map<std::string, std::string> name_of;
  for (size_t i = 0; i < messages->size() && i < tools->messages.size(); ++i) {
    ChatMessage& m = (*messages)[i];
    const MessageTools& mt = tools->messages[i];
    if (!mt.calls.empty()) {
      for (const ToolCall& c : mt.calls) name_of[c.id] = c.name;
      m.tool_text = RenderToolCalls(mt.calls, syntax);
    }
    if (m.role == "tool") {
      std::string name = mt.tool_name;
      if (auto it = name_of.find(name); it != name_of.end()) name = it->second;  // tool_name holds the call id
      m.tool_text = RenderToolResult(name.empty() ? "tool" : name, m.content, syntax);
    }
  }
  *messages = FoldToolMessages(std::move(*messages), format);
  if (!tools->given) return std::nullopt;
  if (gen->grammar)
    return ApiError::BadRequest("'tools' cannot be combined with 'response_format' or 'format' in one request",
                                "tools", "invalid_value");
  auto g = constrain::CompileToolGrammar(tools->decls, tools->choice, syntax);
  if (!g.ok()) return ApiError::BadRequest(g.status().message(), "tools", "invalid_schema");
  gen->grammar = *g;
  gen->grammar_vocab = SharedVocab(tok, syntax);
  gen->decode_special = syntax == constrain::ToolSyntax::kGemma4;
  opts->tools_text = RenderToolDeclarations(tools->decls, syntax);
  return std::nullopt;
}

StructuredAnswer FinishAnswer(const CompletionResult& r, const ApiRequest& req) {
  const ToolRequest& tools = req.tools;
  StructuredAnswer a;
  a.content = r.text;
  if (req.reasoning) {
    ChannelSplitter::Out ch = ChannelSplitter::Split(r.text);
    a.content = std::move(ch.answer);
    a.reasoning = std::move(ch.thought);
  }
  if (!r.constraint_error.empty()) {
    a.error = r.constraint_error;
    return a;
  }
  if (!tools.given) return a;
  auto parsed = ParseToolCalls(a.content, tools.syntax);
  if (!parsed.ok()) {
    a.error = "the tool calls could not be read back: " + parsed.status().message();
    return a;
  }
  a.content = parsed->content;
  a.calls = std::move(parsed->calls);
  for (size_t i = 0; i < a.calls.size(); ++i) a.calls[i].id = "call_" + std::to_string(i);
  return a;
}

Json StructuredErrorJson(const std::string& message) {
  return Json{{"message", message}, {"type", "invalid_response_error"}, {"param", nullptr},
              {"code", "constraint_incomplete"}};
}

Json OpenAIToolCallsJson(const std::vector<ToolCall>& calls, bool stream) {
  Json out = Json::array();
  for (size_t i = 0; i < calls.size(); ++i) {
    Json c = {{"id", calls[i].id}, {"type", "function"},
              {"function", {{"name", calls[i].name}, {"arguments", calls[i].arguments.dump()}}}};
    if (stream) c["index"] = i;
    out.push_back(std::move(c));
  }
  return out;
}

Json OllamaToolCallsJson(const std::vector<ToolCall>& calls) {
  Json out = Json::array();
  for (const ToolCall& c : calls)
    out.push_back({{"function", {{"name", c.name}, {"arguments", Json(c.arguments)}}}});
  return out;
}

}  // namespace gemrun::server
