// Tool calls: prompt rendering, history folding, answer parsing (see tool_calls.h).
#include "engine/tool_calls.h"

#include <cctype>

#include "constrain/matcher.h"

namespace gemrun {
namespace {

using Json = nlohmann::ordered_json;
using constrain::ToolSyntax;

std::string Trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

// Gemma 4's declaration form: schema types upper-cased ("type":"string" -> type:<|"|>STRING<|"|>).
Json UpperTypes(const Json& v) {
  if (v.is_object()) {
    Json out = Json::object();
    for (auto it = v.begin(); it != v.end(); ++it) {
      if (it.key() == "type" && it.value().is_string()) {
        std::string t = it.value().get<std::string>();
        for (char& c : t) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        out[it.key()] = t;
      } else {
        out[it.key()] = UpperTypes(it.value());
      }
    }
    return out;
  }
  if (v.is_array()) {
    Json out = Json::array();
    for (const Json& x : v) out.push_back(UpperTypes(x));
    return out;
  }
  return v;
}

class G4Reader {
 public:
  explicit G4Reader(std::string_view s) : s_(s) {}
  StatusOr<Json> Value() {
    SkipWs();
    if (Eat(constrain::kG4Quote)) {
      const size_t end = s_.find(constrain::kG4Quote, i_);
      if (end == std::string_view::npos) return Err("unterminated <|\"|> string");
      const std::string body(s_.substr(i_, end - i_));
      i_ = end + constrain::kG4Quote.size();
      Json j = Json::parse("\"" + body + "\"", nullptr, false);
      return j.is_string() ? j : Json(body);
    }
    if (Eat("{")) return Object();
    if (Eat("[")) return Array();
    const size_t start = i_;
    while (i_ < s_.size() && s_[i_] != ',' && s_[i_] != '}' && s_[i_] != ']') ++i_;
    const Json j = Json::parse(Trim(s_.substr(start, i_ - start)), nullptr, false);
    if (j.is_discarded() || j.is_structured() || j.is_string()) return Err("bad scalar");
    return j;
  }
  StatusOr<Json> Object() {
    Json out = Json::object();
    SkipWs();
    if (Eat("}")) return out;
    for (;;) {
      SkipWs();
      const size_t start = i_;
      while (i_ < s_.size() && s_[i_] != ':' && s_[i_] != '}') ++i_;
      if (i_ >= s_.size() || s_[i_] != ':') return Err("expected key:");
      std::string key = Trim(s_.substr(start, i_ - start));
      ++i_;
      if (key.empty()) return Err("empty key");
      const Json k = Json::parse("\"" + key + "\"", nullptr, false);
      if (k.is_string()) key = k.get<std::string>();
      auto v = Value();
      if (!v.ok()) return v.status();
      out[key] = std::move(*v);
      SkipWs();
      if (Eat("}")) return out;
      if (!Eat(",")) return Err("expected ',' or '}'");
    }
  }
  StatusOr<Json> Array() {
    Json out = Json::array();
    SkipWs();
    if (Eat("]")) return out;
    for (;;) {
      auto v = Value();
      if (!v.ok()) return v.status();
      out.push_back(std::move(*v));
      SkipWs();
      if (Eat("]")) return out;
      if (!Eat(",")) return Err("expected ',' or ']'");
    }
  }
  bool AtEnd() {
    SkipWs();
    return i_ == s_.size();
  }

 private:
  bool Eat(std::string_view t) {
    if (s_.substr(i_, t.size()) != t) return false;
    i_ += t.size();
    return true;
  }
  void SkipWs() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }
  Status Err(const std::string& what) const {
    return InvalidArgumentError("tool call arguments: " + what + " at byte " + std::to_string(i_));
  }
  std::string_view s_;
  size_t i_ = 0;
};

StatusOr<ParsedAnswer> ParseJsonCalls(std::string_view text) {
  ParsedAnswer out;
  const std::string open = Trim(constrain::kJsonCallOpen), close = Trim(constrain::kJsonCallClose);
  std::string_view rest = text;
  while (!rest.empty() && std::isspace(static_cast<unsigned char>(rest.front()))) rest.remove_prefix(1);
  if (rest.substr(0, open.size()) != open) {
    out.content = Trim(text);
    return out;
  }
  while (!rest.empty()) {
    if (rest.substr(0, open.size()) != open) return InvalidArgumentError("tool calls: text after a call");
    const size_t end = rest.find(close);
    if (end == std::string_view::npos) return InvalidArgumentError("tool calls: unterminated <tool_call> block");
    const Json j = Json::parse(rest.substr(open.size(), end - open.size()), nullptr, false);
    if (!j.is_object() || !j.contains("name") || !j["name"].is_string() || !j.contains("arguments") ||
        !j["arguments"].is_object())
      return InvalidArgumentError("tool calls: a <tool_call> block is not {\"name\": ..., \"arguments\": {...}}");
    out.calls.push_back(ToolCall{"", j["name"].get<std::string>(), j["arguments"]});
    rest.remove_prefix(end + close.size());
    while (!rest.empty() && std::isspace(static_cast<unsigned char>(rest.front()))) rest.remove_prefix(1);
  }
  return out;
}

StatusOr<ParsedAnswer> ParseG4Calls(std::string_view text) {
  ParsedAnswer out;
  const size_t first = text.find(constrain::kG4CallOpen.substr(0, 12));  // "<|tool_call>"
  out.content = Trim(text.substr(0, first));
  if (first == std::string_view::npos) return out;
  std::string_view rest = text.substr(first);
  while (!rest.empty()) {
    if (rest.substr(0, constrain::kG4CallOpen.size()) != constrain::kG4CallOpen)
      return InvalidArgumentError("tool calls: expected <|tool_call>call:NAME{...}");
    rest.remove_prefix(constrain::kG4CallOpen.size());
    const size_t brace = rest.find('{');
    const size_t end = rest.find(constrain::kG4CallClose);
    if (brace == std::string_view::npos || end == std::string_view::npos || brace > end)
      return InvalidArgumentError("tool calls: unterminated or malformed <|tool_call> (no {...}<tool_call|>)");
    const std::string name = Trim(rest.substr(0, brace));
    if (name.empty()) return InvalidArgumentError("tool calls: a call without a function name");
    G4Reader r(rest.substr(brace + 1, end - brace - 1));
    auto args = r.Object();
    if (!args.ok()) return args.status();
    if (!r.AtEnd()) return InvalidArgumentError("tool calls: text after the arguments of '" + name + "'");
    out.calls.push_back(ToolCall{"", name, std::move(*args)});
    rest.remove_prefix(end + constrain::kG4CallClose.size());
    while (!rest.empty() && std::isspace(static_cast<unsigned char>(rest.front()))) rest.remove_prefix(1);
    if (rest.substr(0, 16) == "<|tool_response>") rest.remove_prefix(16);
    while (!rest.empty() && std::isspace(static_cast<unsigned char>(rest.front()))) rest.remove_prefix(1);
  }
  return out;
}

}  // namespace

constrain::ToolSyntax ToolSyntaxFor(ChatFormat f) {
  return f == ChatFormat::kGemma4 ? ToolSyntax::kGemma4 : ToolSyntax::kJson;
}

std::string RenderToolDeclarations(const std::vector<constrain::ToolDecl>& decls, ToolSyntax syntax) {
  std::string out;
  if (syntax == ToolSyntax::kGemma4) {
    for (const auto& d : decls) {
      Json body = Json::object();
      if (!d.description.empty()) body["description"] = d.description;
      body["parameters"] = UpperTypes(d.parameters);
      out += "<|tool>declaration:" + d.name + constrain::ToGemma4Value(body) + "<tool|>";
    }
    return out;
  }
  out = "You can call functions. To call one or more, answer with only the calls, one block each:\n"
        "<tool_call>\n{\"name\": \"FUNCTION\", \"arguments\": {...}}\n</tool_call>\n"
        "Otherwise answer in plain text. Results come back in <tool_response> blocks.\nFunctions:";
  for (const auto& d : decls) {
    Json f = {{"name", d.name}, {"description", d.description}, {"parameters", d.parameters}};
    out += "\n" + f.dump(-1, ' ', false, Json::error_handler_t::replace);
  }
  return out;
}

std::string RenderToolCalls(const std::vector<ToolCall>& calls, ToolSyntax syntax) {
  std::string out;
  for (const ToolCall& c : calls) {
    if (syntax == ToolSyntax::kGemma4) {
      out += std::string(constrain::kG4CallOpen) + c.name + constrain::ToGemma4Value(c.arguments) +
             std::string(constrain::kG4CallClose);
    } else {
      if (!out.empty()) out += "\n";
      const Json j = {{"name", c.name}, {"arguments", c.arguments}};
      out += std::string(constrain::kJsonCallOpen) + j.dump(-1, ' ', false, Json::error_handler_t::replace) +
             std::string(constrain::kJsonCallClose);
    }
  }
  return out;
}

std::string RenderToolResult(const std::string& name, const std::string& content, ToolSyntax syntax) {
  if (syntax == ToolSyntax::kJson) return "<tool_response>\n" + Trim(content) + "\n</tool_response>";
  const Json j = Json::parse(content, nullptr, false);
  const Json v = !j.is_discarded() && j.is_object() ? j : Json{{"value", j.is_discarded() ? Json(content) : j}};
  return "<|tool_response>response:" + name + constrain::ToGemma4Value(v) + "<tool_response|>";
}

std::vector<ChatMessage> FoldToolMessages(std::vector<ChatMessage> msgs, ChatFormat f) {
  if (f == ChatFormat::kGemma4) return msgs;
  std::vector<ChatMessage> out;
  for (ChatMessage& m : msgs) {
    if (m.role == "tool") {
      m.role = "user";
      m.content = m.tool_text.empty() ? m.content : m.tool_text;
      m.tool_text.clear();
    }
    if (m.role == "user" && !out.empty() && out.back().role == "user" && out.size() > 0) {
      out.back().content += "\n\n" + m.content;
      continue;
    }
    out.push_back(std::move(m));
  }
  return out;
}

StatusOr<ParsedAnswer> ParseToolCalls(std::string_view text, ToolSyntax syntax) {
  return syntax == ToolSyntax::kGemma4 ? ParseG4Calls(text) : ParseJsonCalls(text);
}

StatusOr<nlohmann::ordered_json> Gemma4ArgsToJson(std::string_view text) {
  G4Reader r(text);
  auto v = r.Value();
  if (!v.ok()) return v.status();
  if (!r.AtEnd()) return InvalidArgumentError("tool call arguments: trailing text");
  return v;
}

std::shared_ptr<const constrain::TokenTrie> ToolCallVocab(const Tokenizer& tok, ToolSyntax syntax, bool thought) {
  const Vocab& v = tok.vocab();
  std::vector<std::string> pieces(static_cast<size_t>(v.size()));
  constexpr uint32_t kExcluded = kAttrControl | kAttrUnknown | kAttrUnused | kAttrUserDefined;
  const std::string_view specials[] = {constrain::kG4CallOpen.substr(0, 12), constrain::kG4CallClose,
                                       constrain::kG4Quote};
  for (TokenId id = 0; id < v.size(); ++id) {
    const uint32_t a = v.attr(id);
    if (!(a & kExcluded) && (a & (kAttrNormal | kAttrByte))) {
      pieces[static_cast<size_t>(id)] = std::string(tok.Piece(id));
      continue;
    }
    const std::string p(tok.Piece(id, /*special=*/true));
    if (syntax == ToolSyntax::kGemma4)
      for (std::string_view s : specials)
        if (p == s) pieces[static_cast<size_t>(id)] = p;
    if (thought && (p == "<|channel>" || p == "<channel|>")) pieces[static_cast<size_t>(id)] = p;
  }
  return constrain::TokenTrie::Build(std::move(pieces));
}

}  // namespace gemrun
