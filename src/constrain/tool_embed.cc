// Embedding a finished grammar into a GrammarBuilder, optionally rewritten from JSON text into
// Gemma 4's tool-argument syntax. The JSON Schema compiler writes every string as the literal
// `"`, a body terminal and `"`, every object key as `"` key `":` (or one literal `"key":`), and
// const/enum values as literals of their JSON text; so the rewrite works on literals only:
// quotes become <|"|>, key quotes disappear, JSON value literals are re-written natively.
#include <optional>

#include "constrain/tool_grammar.h"

namespace gemrun::constrain {
namespace {

using Json = nlohmann::ordered_json;

// The one string a terminal accepts, when it is a literal (a chain DFA, no bounds).
std::optional<std::string> LiteralOf(const Grammar& g, const Terminal& t) {
  if (t.min != 0 || t.max >= 0) return std::nullopt;
  const Dfa& d = g.dfas[static_cast<size_t>(t.dfa)];
  std::string s;
  int st = d.start;
  for (int steps = 0; steps < 1024; ++steps) {
    int next = -1, byte = -1, n = 0;
    for (int b = 0; b < 256; ++b)
      if (int32_t to = d.Next(st, static_cast<uint8_t>(b)); to >= 0) {
        ++n;
        next = to;
        byte = b;
      }
    if (n == 0) return d.accept[static_cast<size_t>(st)] ? std::optional<std::string>(s) : std::nullopt;
    if (n > 1 || d.accept[static_cast<size_t>(st)]) return std::nullopt;
    s += static_cast<char>(byte);
    st = next;
  }
  return std::nullopt;
}

// A JSON string's body as the JSON text writes it (escapes kept), without the quotes.
std::string JsonBody(const std::string& s) {
  const std::string q = Json(s).dump(-1, ' ', false, Json::error_handler_t::replace);
  return q.substr(1, q.size() - 2);
}

// A JSON fragment literal in Gemma 4 syntax. `"` alone is a string quote (key quotes are
// handled by the caller); `"key":` loses its quotes; a whole JSON value is re-written.
std::string RewriteLiteral(const std::string& s) {
  if (s == "\"") return std::string(kG4Quote);
  if (s == "\":") return ":";
  if (s.size() >= 3 && s.front() == '"' && s.back() == ':') {
    const Json key = Json::parse(s.substr(0, s.size() - 1), nullptr, false);
    if (key.is_string()) return JsonBody(key.get<std::string>()) + ":";
  }
  const Json v = Json::parse(s, nullptr, false);
  if (!v.is_discarded() && (v.is_string() || v.is_object() || v.is_array())) return ToGemma4Value(v);
  return s;
}

StatusOr<int> Embed(const Grammar& g, GrammarBuilder* b, const std::string& prefix, bool gemma4) {
  std::vector<int> rule_map(g.alts.size());
  for (size_t r = 0; r < g.alts.size(); ++r) rule_map[r] = b->NewRule(prefix + g.rule_names[r]);
  std::vector<std::optional<std::string>> lits(g.terms.size());
  if (gemma4)
    for (size_t t = 0; t < g.terms.size(); ++t) lits[t] = LiteralOf(g, g.terms[t]);
  auto lit_at = [&](const std::vector<Elem>& src, size_t i) -> const std::optional<std::string>& {
    static const std::optional<std::string> kNone;
    if (i >= src.size() || src[i].kind != Elem::kTerm) return kNone;
    return lits[static_cast<size_t>(src[i].id)];
  };
  for (size_t r = 0; r < g.alts.size(); ++r) {
    b->MarkDefined(rule_map[r]);
    for (int32_t start : g.alts[r]) {
      std::vector<Elem> src;
      for (int32_t p = start; g.elems[static_cast<size_t>(p)].kind != Elem::kEnd; ++p)
        src.push_back(g.elems[static_cast<size_t>(p)]);
      std::vector<Elem> out;
      for (size_t i = 0; i < src.size(); ++i) {
        const Elem& e = src[i];
        if (e.kind == Elem::kRef) {
          out.push_back(b->Ref(rule_map[static_cast<size_t>(e.id)]));
          continue;
        }
        const auto& lit = lit_at(src, i);
        if (lit) {
          // `"` key `":`: the opening quote of a key disappears (the `":` becomes ":").
          const auto& after = lit_at(src, i + 2);
          if (*lit == "\"" && after && *after == "\":") continue;
          const std::string text = RewriteLiteral(*lit);
          if (text.empty()) continue;
          auto l = b->Literal(text);
          if (!l.ok()) return l.status();
          out.push_back(*l);
          continue;
        }
        const Terminal& t = g.terms[static_cast<size_t>(e.id)];
        auto term = b->Term(g.dfas[static_cast<size_t>(t.dfa)], t.min, t.max);
        if (!term.ok()) return term.status();
        out.push_back(*term);
      }
      b->AddAlt(rule_map[r], std::move(out));
    }
  }
  return rule_map[static_cast<size_t>(g.root)];
}

}  // namespace

std::string ToGemma4Value(const Json& v) {
  if (v.is_string()) return std::string(kG4Quote) + JsonBody(v.get<std::string>()) + std::string(kG4Quote);
  if (v.is_object()) {
    std::string out = "{";
    for (auto it = v.begin(); it != v.end(); ++it) {
      if (out.size() > 1) out += ",";
      out += JsonBody(it.key()) + ":" + ToGemma4Value(it.value());
    }
    return out + "}";
  }
  if (v.is_array()) {
    std::string out = "[";
    for (size_t i = 0; i < v.size(); ++i) out += (i ? "," : "") + ToGemma4Value(v[i]);
    return out + "]";
  }
  return v.dump(-1, ' ', false, Json::error_handler_t::replace);
}

StatusOr<int> EmbedGemma4Args(const Grammar& json, GrammarBuilder* b, const std::string& prefix) {
  return Embed(json, b, prefix, /*gemma4=*/true);
}

StatusOr<int> EmbedGrammar(const Grammar& g, GrammarBuilder* b, const std::string& prefix) {
  return Embed(g, b, prefix, /*gemma4=*/false);
}

}  // namespace gemrun::constrain
