// JSON Schema (draft 2020-12 subset of OpenAI/Ollama structured output) -> grammar IR.
// Output is compact JSON (no whitespace), properties in declared order. Every keyword is either
// compiled, an annotation, or refused with its name and JSON pointer.
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "constrain/constrain.h"
#include "constrain/json_oneof.h"
#include "constrain/json_terms.h"

namespace gemrun::constrain {
namespace {

using Json = nlohmann::ordered_json;

constexpr int kExtraArrayItems = 8;   // items allowed beyond minItems when maxItems is absent
constexpr int kMaxArrayItems = 64;    // cap on generated items
constexpr int kMapEntries = 8;        // additionalProperties map entries
constexpr int kMapKeyLength = 32;
constexpr int kAnyDepth = 3;          // nesting of free JSON values

const std::set<std::string> kAnnotations = {"$schema", "$id", "$comment", "title", "description", "default",
                                            "examples", "deprecated", "readOnly", "writeOnly", "$defs", "definitions"};
const std::set<std::string> kSupported = {"type", "properties", "required", "additionalProperties", "items",
                                          "prefixItems", "minItems", "maxItems", "enum", "const", "anyOf", "oneOf",
                                          "allOf", "$ref", "minLength", "maxLength", "pattern", "format", "minimum",
                                          "maximum", "exclusiveMinimum", "exclusiveMaximum", "nullable"};

std::string Escape(const std::string& key) {
  std::string out;
  for (char c : key) out += c == '~' ? "~0" : c == '/' ? "~1" : std::string(1, c);
  return out;
}
std::string Where(const std::string& ptr) { return ptr.empty() ? "/" : ptr; }

class SchemaCompiler {
 public:
  explicit SchemaCompiler(const Json& doc) : doc_(doc) {}

  StatusOr<GrammarPtr> Run() {
    auto root = Value(doc_, "");
    if (!root.ok()) return root.status();
    const int r = b_.Rule("root");
    b_.AddAlt(r, {b_.Ref(*root)});
    auto g = b_.Finish(r, "schema");
    if (!g.ok()) return InvalidArgumentError(g.status().message() + " (a $ref recursion must be optional)");
    return std::make_shared<const Grammar>(std::move(*g));
  }

  // JSON value rules with no schema (json_object mode, `{}`, `true`).
  int AnyValue(int depth);
  int AnyObject(int depth);

 private:
  Status Err(const std::string& keyword, const std::string& ptr, const std::string& why) const {
    return InvalidArgumentError("schema: keyword '" + keyword + "' at " + Where(ptr) + ": " + why);
  }
  Elem Lit(const std::string& s) { return *b_.Literal(s); }

  StatusOr<int> Value(const Json& s, const std::string& ptr);
  StatusOr<int> Ref(const std::string& ref, const std::string& ptr);
  StatusOr<Json> Merge(const Json& all, const std::string& ptr);
  Status CheckKeywords(const Json& s, const std::string& ptr) const;
  StatusOr<int> Typed(const Json& s, const std::string& type, const std::string& ptr, int rule);
  Status Enum(const Json& s, const std::string& ptr, int rule);
  Status String(const Json& s, const std::string& ptr, int rule);
  Status Number(const Json& s, const std::string& ptr, bool integer, int rule);
  Status Object(const Json& s, const std::string& ptr, int rule);
  Status Array(const Json& s, const std::string& ptr, int rule);
  StatusOr<int> NonNegative(const Json& s, const char* key, const std::string& ptr, int dflt) const;

  const Json& doc_;
  GrammarBuilder b_;
  std::map<std::string, int> refs_;
  std::map<int, int> any_value_, any_object_;
  int depth_ = 0;
};

Status SchemaCompiler::CheckKeywords(const Json& s, const std::string& ptr) const {
  for (auto it = s.begin(); it != s.end(); ++it) {
    const std::string& k = it.key();
    if (kAnnotations.count(k) || kSupported.count(k)) continue;
    return Err(k, ptr + "/" + Escape(k), "is not supported (refused rather than ignored)");
  }
  return OkStatus();
}

StatusOr<int> SchemaCompiler::Ref(const std::string& ref, const std::string& ptr) {
  if (ref.empty() || ref[0] != '#')
    return Err("$ref", ptr, "'" + ref + "' is not a local reference (#/...); remote references are not supported");
  if (auto it = refs_.find(ref); it != refs_.end()) return it->second;
  const Json* target = &doc_;
  std::string tp = ref.substr(1);
  if (!tp.empty()) {
    try {
      target = &doc_.at(Json::json_pointer(tp));
    } catch (const std::exception&) {
      return Err("$ref", ptr, "'" + ref + "' points to nothing (no such definition)");
    }
  }
  const int rule = b_.NewRule("ref");
  refs_[ref] = rule;
  auto body = Value(*target, tp);
  if (!body.ok()) return body.status();
  b_.AddAlt(rule, {b_.Ref(*body)});
  return rule;
}

// allOf members (with $refs resolved) merged into one schema; conflicts are refused.
StatusOr<Json> SchemaCompiler::Merge(const Json& all, const std::string& ptr) {
  Json out = Json::object();
  std::set<std::string> closed_keys;
  bool closed = false;
  for (size_t i = 0; i < all.size(); ++i) {
    Json m = all[i];
    const std::string mp = ptr + "/" + std::to_string(i);
    for (int hops = 0; m.is_object() && m.contains("$ref"); ++hops) {
      if (hops > 32) return Err("$ref", mp, "reference chain too long");
      const std::string ref = m["$ref"].is_string() ? m["$ref"].get<std::string>() : "";
      if (ref.size() < 1 || ref[0] != '#') return Err("$ref", mp, "must be a local reference");
      Json target;
      try {
        target = doc_.at(Json::json_pointer(ref.substr(1)));
      } catch (const std::exception&) {
        return Err("$ref", mp, "'" + ref + "' points to nothing (no such definition)");
      }
      Json rest = m;
      rest.erase("$ref");
      m = target;
      for (auto it = rest.begin(); it != rest.end(); ++it) m[it.key()] = it.value();
    }
    if (!m.is_object()) return Err("allOf", mp, "members must be schema objects");
    if (m.contains("allOf")) return Err("allOf", mp, "nested allOf is not supported");
    for (auto it = m.begin(); it != m.end(); ++it) {
      const std::string& k = it.key();
      if (kAnnotations.count(k)) continue;
      if (k == "properties") {
        for (auto p = it.value().begin(); p != it.value().end(); ++p) {
          if (out["properties"].contains(p.key()) && out["properties"][p.key()] != p.value())
            return Err("allOf", mp + "/properties/" + Escape(p.key()), "conflicting definitions of a property");
          out["properties"][p.key()] = p.value();
        }
      } else if (k == "required") {
        for (const auto& r : it.value())
          if (!out.contains("required") || std::find(out["required"].begin(), out["required"].end(), r) == out["required"].end())
            out["required"].push_back(r);
      } else if (k == "additionalProperties" && it.value() == false) {
        std::set<std::string> keys;
        if (m.contains("properties"))
          for (auto p = m["properties"].begin(); p != m["properties"].end(); ++p) keys.insert(p.key());
        if (closed) {
          std::set<std::string> both;
          for (const auto& key : keys) if (closed_keys.count(key)) both.insert(key);
          closed_keys = both;
        } else {
          closed_keys = keys;
        }
        closed = true;
      } else if (out.contains(k) && out[k] != it.value()) {
        return Err(k, mp + "/" + Escape(k), "conflicts with another allOf member");
      } else {
        out[k] = it.value();
      }
    }
  }
  if (closed) {
    out["additionalProperties"] = false;
    if (out.contains("properties")) {
      Json kept = Json::object();
      for (auto p = out["properties"].begin(); p != out["properties"].end(); ++p)
        if (closed_keys.count(p.key())) kept[p.key()] = p.value();
      out["properties"] = kept;
    }
  }
  return out;
}

StatusOr<int> SchemaCompiler::Value(const Json& s, const std::string& ptr) {
  if (++depth_ > 64) return Err("$ref", ptr, "schema nesting too deep");
  struct Guard {
    int* d;
    ~Guard() { --*d; }
  } guard{&depth_};
  if (s.is_boolean()) {
    if (!s.get<bool>()) return Err("false", ptr, "the schema `false` allows no value");
    return AnyValue(0);
  }
  if (!s.is_object()) return Err("type", ptr, "a schema must be an object or a boolean");
  RETURN_IF_ERROR(CheckKeywords(s, ptr));
  if (s.contains("allOf")) {
    if (!s["allOf"].is_array() || s["allOf"].empty()) return Err("allOf", ptr + "/allOf", "must be a non-empty array");
    Json members = s["allOf"];
    Json rest = s;
    rest.erase("allOf");
    members.push_back(rest);
    auto merged = Merge(members, ptr + "/allOf");
    if (!merged.ok()) return merged.status();
    return Value(*merged, ptr);
  }
  if (s.contains("$ref")) {
    if (!s["$ref"].is_string()) return Err("$ref", ptr + "/$ref", "must be a string");
    Json rest = s;
    rest.erase("$ref");
    bool only_annotations = true;
    for (auto it = rest.begin(); it != rest.end(); ++it) only_annotations &= kAnnotations.count(it.key()) > 0;
    if (only_annotations) return Ref(s["$ref"].get<std::string>(), ptr + "/$ref");
    return Value(Json{{"allOf", Json::array({Json{{"$ref", s["$ref"]}}, rest})}}, ptr);
  }
  const int rule = b_.NewRule("v");
  for (const char* comb : {"anyOf", "oneOf"}) {
    if (!s.contains(comb)) continue;
    const Json& branches = s[comb];
    if (!branches.is_array() || branches.empty()) return Err(comb, ptr + "/" + comb, "must be a non-empty array");
    Json rest = s;
    rest.erase(comb);
    bool plain = true;
    for (auto it = rest.begin(); it != rest.end(); ++it) plain &= kAnnotations.count(it.key()) > 0;
    for (size_t i = 0; i < branches.size(); ++i) {
      const std::string bp = ptr + "/" + comb + "/" + std::to_string(i);
      StatusOr<int> br = plain ? Value(branches[i], bp) : Value(Json{{"allOf", Json::array({rest, branches[i]})}}, bp);
      if (!br.ok()) return br.status();
      b_.AddAlt(rule, {b_.Ref(*br)});
    }
    // oneOf is generated as anyOf, which is only right when no value can match two branches.
    if (std::string(comb) == "oneOf")
      RETURN_IF_ERROR(CheckOneOfExclusive(branches, plain ? Json() : rest, ptr + "/oneOf",
                                          [this](const Json& all) { return Merge(all, ""); }));
    return rule;
  }
  if (s.contains("enum") || s.contains("const")) {
    RETURN_IF_ERROR(Enum(s, ptr, rule));
    return rule;
  }
  std::vector<std::string> types;
  if (s.contains("type")) {
    const Json& t = s["type"];
    if (t.is_string()) types.push_back(t.get<std::string>());
    else if (t.is_array() && !t.empty())
      for (const auto& x : t) {
        if (!x.is_string()) return Err("type", ptr + "/type", "must be a type name or a list of names");
        types.push_back(x.get<std::string>());
      }
    else return Err("type", ptr + "/type", "must be a type name or a non-empty list of names");
  } else if (s.contains("properties") || s.contains("required") || s.contains("additionalProperties")) {
    types = {"object"};
  } else if (s.contains("items") || s.contains("prefixItems") || s.contains("minItems") || s.contains("maxItems")) {
    types = {"array"};
  } else if (s.contains("pattern") || s.contains("format") || s.contains("minLength") || s.contains("maxLength")) {
    types = {"string"};
  } else if (s.contains("minimum") || s.contains("maximum") || s.contains("exclusiveMinimum") || s.contains("exclusiveMaximum")) {
    types = {"number"};
  } else {
    b_.AddAlt(rule, {b_.Ref(AnyValue(0))});
    return rule;
  }
  if (s.contains("nullable") && s["nullable"] == true) types.push_back("null");
  for (const std::string& t : types) {
    auto r = Typed(s, t, ptr, rule);
    if (!r.ok()) return r.status();
  }
  return rule;
}

StatusOr<int> SchemaCompiler::Typed(const Json& s, const std::string& type, const std::string& ptr, int rule) {
  if (type == "null") b_.AddAlt(rule, {Lit("null")});
  else if (type == "boolean") b_.AddAlt(rule, {Lit("true")}), b_.AddAlt(rule, {Lit("false")});
  else if (type == "string") RETURN_IF_ERROR(String(s, ptr, rule));
  else if (type == "integer" || type == "number") RETURN_IF_ERROR(Number(s, ptr, type == "integer", rule));
  else if (type == "object") RETURN_IF_ERROR(Object(s, ptr, rule));
  else if (type == "array") RETURN_IF_ERROR(Array(s, ptr, rule));
  else return Err("type", ptr + "/type", "unknown type name '" + type + "'");
  return rule;
}

Status SchemaCompiler::Enum(const Json& s, const std::string& ptr, int rule) {
  Json values = Json::array();
  std::string kw = s.contains("const") ? "const" : "enum";
  if (s.contains("const")) values.push_back(s["const"]);
  else if (!s["enum"].is_array() || s["enum"].empty()) return Err("enum", ptr + "/enum", "must be a non-empty array");
  else values = s["enum"];
  std::set<std::string> types;
  if (s.contains("type")) {
    if (s["type"].is_string()) types.insert(s["type"].get<std::string>());
    else for (const auto& t : s["type"]) types.insert(t.is_string() ? t.get<std::string>() : "");
  }
  auto type_of = [](const Json& v) -> std::string {
    if (v.is_null()) return "null";
    if (v.is_boolean()) return "boolean";
    if (v.is_number_integer() || v.is_number_unsigned()) return "integer";
    if (v.is_number()) return std::floor(v.get<double>()) == v.get<double>() ? "integer" : "number";
    if (v.is_string()) return "string";
    return v.is_array() ? "array" : "object";
  };
  int n = 0;
  for (const auto& v : values) {
    const std::string t = type_of(v);
    if (!types.empty() && !types.count(t) && !(t == "integer" && types.count("number"))) continue;
    b_.AddAlt(rule, {Lit(v.dump(-1, ' ', false, Json::error_handler_t::replace))});
    ++n;
  }
  if (n == 0) return Err(kw, ptr + "/" + kw, "no value is allowed (empty, or none of the declared type)");
  return OkStatus();
}

StatusOr<int> SchemaCompiler::NonNegative(const Json& s, const char* key, const std::string& ptr, int dflt) const {
  if (!s.contains(key)) return dflt;
  const Json& v = s[key];
  if (!v.is_number() || v.get<double>() < 0 || std::floor(v.get<double>()) != v.get<double>())
    return Err(key, ptr + "/" + key, "must be a non-negative integer");
  return static_cast<int>(std::min(v.get<double>(), 1e6));
}

Status SchemaCompiler::String(const Json& s, const std::string& ptr, int rule) {
  auto min = NonNegative(s, "minLength", ptr, 0);
  if (!min.ok()) return min.status();
  auto max = NonNegative(s, "maxLength", ptr, -1);
  if (!max.ok()) return max.status();
  if (*max >= 0 && *min > *max)
    return Err("minLength", ptr, "minLength " + std::to_string(*min) + " is greater than maxLength " + std::to_string(*max));
  RegexAst ast;
  int body;
  int lmax = *max;
  if (s.contains("pattern") && s.contains("format"))
    return Err("format", ptr + "/format", "format together with pattern is not supported");
  if (s.contains("pattern")) {
    if (!s["pattern"].is_string()) return Err("pattern", ptr + "/pattern", "must be a string");
    auto r = ParseRegex(s["pattern"].get<std::string>(), RegexOptions{.json_string_body = true}, &ast);
    if (!r.ok()) return Err("pattern", ptr + "/pattern", r.status().message());
    body = *r;
  } else if (s.contains("format")) {
    const std::string f = s["format"].is_string() ? s["format"].get<std::string>() : "";
    const std::string* pat = FormatPattern(f);
    if (!pat) return Err("format", ptr + "/format", "format '" + f + "' is not supported (supported: date-time, date, time, "
                                                   "uuid, ipv4, ipv6, email, hostname, uri)");
    auto r = ParseRegex(*pat, RegexOptions{.json_string_body = true, .full_match = true}, &ast);
    if (!r.ok()) return Err("format", ptr + "/format", r.status().message());
    body = *r;
    if (f == "hostname") lmax = lmax < 0 ? 253 : std::min(lmax, 253);
  } else {
    body = FreeStringBody(&ast);
  }
  auto term = b_.TermFromRegex(ast, body, *min, lmax);
  if (!term.ok()) return Err(s.contains("pattern") ? "pattern" : s.contains("format") ? "format" : "maxLength", ptr, term.status().message());
  b_.AddAlt(rule, {Lit("\""), *term, Lit("\"")});
  return OkStatus();
}

Status SchemaCompiler::Number(const Json& s, const std::string& ptr, bool integer, int rule) {
  NumberBounds nb;
  for (const char* k : {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}) {
    if (!s.contains(k)) continue;
    if (!s[k].is_number()) return Err(k, ptr + "/" + k, "must be a number");
    const double v = s[k].get<double>();
    const std::string key = k;
    const bool lower = key == "minimum" || key == "exclusiveMinimum";
    const bool excl = key[0] == 'e';
    if (lower && (v > nb.lo || (v == nb.lo && excl))) nb.lo = v, nb.lo_excl = excl;
    if (!lower && (v < nb.hi || (v == nb.hi && excl))) nb.hi = v, nb.hi_excl = excl;
  }
  if (nb.lo < -1e15) nb.lo = -1e15;
  if (nb.hi > 1e15) nb.hi = 1e15;
  const std::string pat = NumberRangePattern(nb, integer);
  if (pat.empty())
    return Err(s.contains("exclusiveMinimum") ? "exclusiveMinimum" : "minimum", ptr,
               std::string("no ") + (integer ? "integer" : "number with up to 6 decimals") + " lies within the bounds");
  RegexAst ast;
  auto r = ParseRegex(pat, RegexOptions{.full_match = true}, &ast);
  if (!r.ok()) return Err("minimum", ptr, r.status().message());
  auto term = b_.TermFromRegex(ast, *r);
  if (!term.ok()) return Err("minimum", ptr, term.status().message());
  b_.AddAlt(rule, {*term});
  return OkStatus();
}

Status SchemaCompiler::Object(const Json& s, const std::string& ptr, int rule) {
  const Json empty = Json::object();
  const Json& props = s.contains("properties") ? s["properties"] : empty;
  if (!props.is_object()) return Err("properties", ptr + "/properties", "must be an object");
  std::vector<std::string> required;
  if (s.contains("required")) {
    if (!s["required"].is_array()) return Err("required", ptr + "/required", "must be an array of names");
    for (const auto& r : s["required"]) {
      if (!r.is_string()) return Err("required", ptr + "/required", "must be an array of names");
      required.push_back(r.get<std::string>());
    }
  }
  const Json ap = s.contains("additionalProperties") ? s["additionalProperties"] : Json(true);
  if (!ap.is_boolean() && !ap.is_object()) return Err("additionalProperties", ptr + "/additionalProperties", "must be a boolean or a schema");
  struct Item {
    std::string key;
    int value;
    bool required;
  };
  std::vector<Item> items;
  auto is_required = [&](const std::string& k) { return std::find(required.begin(), required.end(), k) != required.end(); };
  for (auto it = props.begin(); it != props.end(); ++it) {
    auto v = Value(it.value(), ptr + "/properties/" + Escape(it.key()));
    if (!v.ok()) return v.status();
    items.push_back({it.key(), *v, is_required(it.key())});
  }
  for (const std::string& r : required) {
    if (props.contains(r)) continue;
    if (ap == false)
      return Err("required", ptr + "/required", "property '" + r + "' is required but additionalProperties: false forbids it");
    auto v = ap.is_object() ? Value(ap, ptr + "/additionalProperties") : StatusOr<int>(AnyValue(1));
    if (!v.ok()) return v.status();
    items.push_back({r, *v, true});
  }
  if (items.empty() && ap == true) {  // {"type": "object"}: any object
    b_.AddAlt(rule, {b_.Ref(AnyObject(1))});
    return OkStatus();
  }
  // Extra entries only where a schema asks for a map and nothing is declared (no key clashes).
  int first_tail = -1, after_tail = -1;
  if (ap.is_object() && props.empty()) {
    auto v = Value(ap, ptr + "/additionalProperties");
    if (!v.ok()) return v.status();
    RegexAst ast;
    auto key = b_.TermFromRegex(ast, FreeStringBody(&ast), 1, kMapKeyLength);
    if (!key.ok()) return key.status();
    const int entry = b_.NewRule("entry");
    b_.AddAlt(entry, {Lit("\""), *key, Lit("\":"), b_.Ref(*v)});
    int next = -1;
    for (int k = 0; k < kMapEntries; ++k) {  // after_k ::= "" | "," entry after_{k-1}
      const int r = b_.NewRule("more");
      b_.AddAlt(r, {});
      b_.AddAlt(r, next < 0 ? std::vector<Elem>{Lit(","), b_.Ref(entry)} : std::vector<Elem>{Lit(","), b_.Ref(entry), b_.Ref(next)});
      next = r;
    }
    after_tail = next;
    first_tail = b_.NewRule("entries");
    b_.AddAlt(first_tail, {});
    b_.AddAlt(first_tail, {b_.Ref(entry), b_.Ref(next)});
  }
  int first = b_.NewRule("first"), after = b_.NewRule("after");
  if (first_tail >= 0) b_.AddAlt(first, {b_.Ref(first_tail)}), b_.AddAlt(after, {b_.Ref(after_tail)});
  else b_.AddAlt(first, {}), b_.AddAlt(after, {});
  for (size_t i = items.size(); i-- > 0;) {
    const Elem key = Lit(Json(items[i].key).dump(-1, ' ', false, Json::error_handler_t::replace) + ":");
    const int f = b_.NewRule("first"), a = b_.NewRule("after");
    b_.AddAlt(f, {key, b_.Ref(items[i].value), b_.Ref(after)});
    b_.AddAlt(a, {Lit(","), key, b_.Ref(items[i].value), b_.Ref(after)});
    if (!items[i].required) b_.AddAlt(f, {b_.Ref(first)}), b_.AddAlt(a, {b_.Ref(after)});
    first = f;
    after = a;
  }
  b_.AddAlt(rule, {Lit("{"), b_.Ref(first), Lit("}")});
  return OkStatus();
}

Status SchemaCompiler::Array(const Json& s, const std::string& ptr, int rule) {
  const Json prefix = s.contains("prefixItems") ? s["prefixItems"] : Json::array();
  if (!prefix.is_array()) return Err("prefixItems", ptr + "/prefixItems", "must be an array of schemas");
  const Json items = s.contains("items") ? s["items"] : Json(true);
  if (!items.is_boolean() && !items.is_object()) return Err("items", ptr + "/items", "must be a schema");
  auto min = NonNegative(s, "minItems", ptr, 0);
  if (!min.ok()) return min.status();
  auto max = NonNegative(s, "maxItems", ptr, -1);
  if (!max.ok()) return max.status();
  if (*max >= 0 && *min > *max)
    return Err("minItems", ptr, "minItems " + std::to_string(*min) + " is greater than maxItems " + std::to_string(*max));
  const int k = static_cast<int>(prefix.size());
  int n = *max >= 0 ? *max : *min + kExtraArrayItems;
  if (items == false) n = std::min(n, k);
  if (*min > n) return Err("minItems", ptr, "more items are required than prefixItems with items: false allow");
  n = std::min(n, std::max(*min, kMaxArrayItems));
  int rest = -1;
  std::vector<int> item_rules;
  for (int i = 0; i < n; ++i) {
    if (i < k) {
      auto v = Value(prefix[static_cast<size_t>(i)], ptr + "/prefixItems/" + std::to_string(i));
      if (!v.ok()) return v.status();
      item_rules.push_back(*v);
    } else {
      if (rest < 0) {
        auto v = Value(items, ptr + "/items");
        if (!v.ok()) return v.status();
        rest = *v;
      }
      item_rules.push_back(rest);
    }
  }
  int next = b_.NewRule("items-end");
  b_.AddAlt(next, {});
  for (int i = n - 1; i >= 0; --i) {
    const int r = b_.NewRule("items");
    std::vector<Elem> alt;
    if (i > 0) alt.push_back(Lit(","));
    alt.push_back(b_.Ref(item_rules[static_cast<size_t>(i)]));
    alt.push_back(b_.Ref(next));
    b_.AddAlt(r, std::move(alt));
    if (i >= *min) b_.AddAlt(r, {});
    next = r;
  }
  b_.AddAlt(rule, {Lit("["), b_.Ref(next), Lit("]")});
  return OkStatus();
}

int SchemaCompiler::AnyObject(int depth) {
  depth = std::min(depth, kAnyDepth);
  if (auto it = any_object_.find(depth); it != any_object_.end()) return it->second;
  const int obj = b_.NewRule("any-object");
  any_object_[depth] = obj;
  RegexAst ast;
  const Elem key = *b_.TermFromRegex(ast, FreeStringBody(&ast), 1, kMapKeyLength);
  const int value = AnyValue(depth + 1);
  const int member = b_.NewRule("any-member");
  b_.AddAlt(member, {Lit("\""), key, Lit("\":"), b_.Ref(value)});
  int next = -1;
  for (int k = 0; k < kMapEntries - 1; ++k) {
    const int r = b_.NewRule("any-more");
    b_.AddAlt(r, {});
    b_.AddAlt(r, next < 0 ? std::vector<Elem>{Lit(","), b_.Ref(member)} : std::vector<Elem>{Lit(","), b_.Ref(member), b_.Ref(next)});
    next = r;
  }
  b_.AddAlt(obj, {Lit("{}")});
  b_.AddAlt(obj, {Lit("{"), b_.Ref(member), b_.Ref(next), Lit("}")});
  return obj;
}

int SchemaCompiler::AnyValue(int depth) {
  depth = std::min(depth, kAnyDepth);
  if (auto it = any_value_.find(depth); it != any_value_.end()) return it->second;
  const int v = b_.NewRule("any-value");
  any_value_[depth] = v;
  RegexAst ast;
  const Elem body = *b_.TermFromRegex(ast, FreeStringBody(&ast), 0, 64);
  b_.AddAlt(v, {Lit("\""), body, Lit("\"")});
  RegexAst num;
  const Elem number = *b_.TermFromRegex(num, *ParseRegex("-?(0|[1-9][0-9]{0,15})(\\.[0-9]{1,6})?", RegexOptions{.full_match = true}, &num));
  b_.AddAlt(v, {number});
  for (const char* lit : {"true", "false", "null"}) b_.AddAlt(v, {Lit(lit)});
  if (depth < kAnyDepth) {
    b_.AddAlt(v, {b_.Ref(AnyObject(depth))});
    const int inner = AnyValue(depth + 1);
    int next = -1;
    for (int k = 0; k < kMapEntries - 1; ++k) {
      const int r = b_.NewRule("any-items");
      b_.AddAlt(r, {});
      b_.AddAlt(r, next < 0 ? std::vector<Elem>{Lit(","), b_.Ref(inner)} : std::vector<Elem>{Lit(","), b_.Ref(inner), b_.Ref(next)});
      next = r;
    }
    b_.AddAlt(v, {Lit("[]")});
    b_.AddAlt(v, {Lit("["), b_.Ref(inner), b_.Ref(next), Lit("]")});
  }
  return v;
}

}  // namespace

const char* ConstraintKindName(ConstraintKind k) {
  switch (k) {
    case ConstraintKind::kJsonSchema: return "json_schema";
    case ConstraintKind::kJsonObject: return "json_object";
    case ConstraintKind::kGrammar: return "grammar";
    case ConstraintKind::kRegex: return "regex";
    case ConstraintKind::kNone: break;
  }
  return "none";
}

StatusOr<GrammarPtr> CompileJsonSchema(std::string_view schema_json) {
  Json doc;
  try {
    doc = Json::parse(schema_json);
  } catch (const Json::parse_error& e) {
    return InvalidArgumentError(std::string("schema is not valid JSON (parse error): ") + e.what());
  }
  SchemaCompiler c(doc);
  return c.Run();
}

StatusOr<GrammarPtr> CompileJsonObject() {
  const Json doc = {{"type", "object"}};
  SchemaCompiler c(doc);
  return c.Run();
}

StatusOr<GrammarPtr> Compile(const ConstraintSpec& spec) {
  switch (spec.kind) {
    case ConstraintKind::kJsonSchema: return CompileJsonSchema(spec.text);
    case ConstraintKind::kJsonObject: return CompileJsonObject();
    case ConstraintKind::kGrammar: return CompileGbnf(spec.text);
    case ConstraintKind::kRegex: return CompileRegex(spec.text);
    case ConstraintKind::kNone: break;
  }
  return InvalidArgumentError("no constraint given");
}

}  // namespace gemrun::constrain
