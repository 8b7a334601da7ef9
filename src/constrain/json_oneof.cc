// oneOf exclusivity: sufficient conditions for two JSON Schemas to have no common instance.
#include "constrain/json_oneof.h"

#include <string>
#include <utility>
#include <vector>

namespace gemrun::constrain {
namespace {

using Json = nlohmann::ordered_json;
using Effective = std::function<Json(const Json&)>;

enum : int { kNull = 1, kBool = 2, kNumber = 4, kString = 8, kArray = 16, kObject = 32, kAll = 63 };

int KindOf(const Json& v) {
  if (v.is_null()) return kNull;
  if (v.is_boolean()) return kBool;
  if (v.is_number()) return kNumber;
  if (v.is_string()) return kString;
  return v.is_array() ? kArray : kObject;
}

int KindOfName(const std::string& t) {
  if (t == "null") return kNull;
  if (t == "boolean") return kBool;
  if (t == "integer" || t == "number") return kNumber;  // 1 and 1.0 are one value
  if (t == "string") return kString;
  if (t == "array") return kArray;
  if (t == "object") return kObject;
  return kAll;  // unknown names are refused elsewhere
}

// The JSON types a schema accepts (without `type`, other keywords do not restrict the type).
int Kinds(const Json& s, const Effective& eff, int depth) {
  if (s.is_boolean()) return s.get<bool>() ? kAll : 0;
  if (!s.is_object() || depth > 8) return kAll;
  int mask = kAll;
  if (s.contains("type")) {
    int t = 0;
    if (s["type"].is_string()) t = KindOfName(s["type"].get<std::string>());
    else if (s["type"].is_array())
      for (const auto& x : s["type"]) t |= x.is_string() ? KindOfName(x.get<std::string>()) : kAll;
    if (s.contains("nullable") && s["nullable"] == true) t |= kNull;
    mask &= t;
  }
  if (s.contains("const")) mask &= KindOf(s["const"]);
  if (s.contains("enum") && s["enum"].is_array()) {
    int t = 0;
    for (const auto& v : s["enum"]) t |= KindOf(v);
    mask &= t;
  }
  for (const char* comb : {"anyOf", "oneOf"})
    if (s.contains(comb) && s[comb].is_array()) {
      int t = 0;
      for (const auto& br : s[comb]) t |= Kinds(eff(br), eff, depth + 1);
      mask &= t;
    }
  return mask;
}

// The finite set of values a schema allows (const / enum), if it has one.
bool Values(const Json& s, Json* out) {
  if (!s.is_object()) return false;
  if (s.contains("const")) {
    *out = Json::array({s["const"]});
    return true;
  }
  if (s.contains("enum") && s["enum"].is_array()) {
    *out = s["enum"];
    return true;
  }
  return false;
}

bool SameValue(const Json& a, const Json& b) {
  if (a.is_number() && b.is_number()) return a.get<double>() == b.get<double>();
  return a == b;
}

// Every value of `a`'s finite set is excluded by `b` (by type, or by `b`'s own finite set).
bool ValuesExcluded(const Json& a, const Json& b, int kinds_b) {
  Json va, vb;
  if (!Values(a, &va)) return false;
  const bool b_finite = Values(b, &vb);
  for (const auto& v : va) {
    if ((KindOf(v) & kinds_b) == 0) continue;
    if (!b_finite) return false;
    for (const auto& w : vb)
      if (SameValue(v, w)) return false;
  }
  return true;
}

// Formats: characters every value contains (any one of `need`) and the only characters allowed.
struct FormatChars {
  const char* name;
  const char* need;     // nullptr: no such character
  const char* allowed;  // nullptr: unrestricted
};
constexpr FormatChars kFormats[] = {
    {"ipv4", nullptr, "0123456789."},
    {"ipv6", ":", nullptr},
    {"date", nullptr, "0123456789-"},
    {"time", ":", "0123456789:.Zz+-"},
    {"date-time", "Tt", nullptr},
    {"uuid", nullptr, "0123456789abcdefABCDEF-"},
    {"hostname", nullptr, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-"},
    {"email", "@", nullptr},
    {"uri", ":", nullptr},
};

const FormatChars* FindFormat(const Json& s) {
  if (!s.is_object() || !s.contains("format") || !s["format"].is_string()) return nullptr;
  for (const auto& f : kFormats)
    if (s["format"] == f.name) return &f;
  return nullptr;
}

bool FormatsDisjoint(const Json& a, const Json& b) {
  const FormatChars* fa = FindFormat(a);
  const FormatChars* fb = FindFormat(b);
  if (!fa || !fb) return false;
  auto excludes = [](const FormatChars* x, const FormatChars* y) {  // x needs what y never has
    if (!x->need || !y->allowed) return false;
    for (const char* c = x->need; *c; ++c)
      if (std::string(y->allowed).find(*c) != std::string::npos) return false;
    return true;
  };
  return excludes(fa, fb) || excludes(fb, fa);
}

std::vector<std::string> Required(const Json& s) {
  std::vector<std::string> r;
  if (s.is_object() && s.contains("required") && s["required"].is_array())
    for (const auto& x : s["required"])
      if (x.is_string()) r.push_back(x.get<std::string>());
  return r;
}

const Json* Property(const Json& s, const std::string& name) {
  if (!s.contains("properties") || !s["properties"].is_object() || !s["properties"].contains(name)) return nullptr;
  return &s["properties"][name];
}

bool Forbids(const Json& s, const std::string& name) {
  return s.contains("additionalProperties") && s["additionalProperties"] == false && !Property(s, name);
}

bool Disjoint(const Json& a, const Json& b, const Effective& eff, int depth) {
  if (depth > 8 || a.is_null() || b.is_null()) return false;  // null: unresolved, undecided
  const int ka = Kinds(a, eff, 0), kb = Kinds(b, eff, 0);
  const int common = ka & kb;
  if (common == 0) return true;
  if (ValuesExcluded(a, b, kb) || ValuesExcluded(b, a, ka)) return true;
  if (common == kString && FormatsDisjoint(a, b)) return true;
  if (common != kObject || !a.is_object() || !b.is_object()) return false;
  // Both are objects: a common instance has every property either requires, and its value
  // must then satisfy both property schemas.
  for (const auto& [x, y] : {std::pair<const Json*, const Json*>{&a, &b}, {&b, &a}})
    for (const std::string& p : Required(*x)) {
      if (Forbids(*y, p)) return true;
      const Json* px = Property(*x, p);
      const Json* py = Property(*y, p);
      if (px && py && Disjoint(eff(*px), eff(*py), eff, depth + 1)) return true;
    }
  return false;
}

}  // namespace

bool SchemasDisjoint(const Json& a, const Json& b, const Effective& effective) { return Disjoint(a, b, effective, 0); }

// Pairwise: a pair that cannot be proven disjoint is refused, never generated as anyOf.
Status CheckOneOfExclusive(const Json& branches, const Json& rest, const std::string& ptr,
                           const std::function<StatusOr<Json>(const Json&)>& merge) {
  // A sub-schema with its $ref chain and allOf resolved, as it is compiled; null: unresolved.
  auto effective = [&](const Json& x) -> Json {
    if (!x.is_object()) return x;
    Json members = Json::array();
    if (x.contains("allOf") && x["allOf"].is_array()) {
      members = x["allOf"];
      Json others = x;
      others.erase("allOf");
      members.push_back(others);
    } else {
      members.push_back(x);
    }
    auto m = merge(members);
    return m.ok() ? *m : Json();
  };
  std::vector<Json> eff;
  for (const auto& br : branches) eff.push_back(effective(rest.is_null() ? br : Json{{"allOf", Json::array({rest, br})}}));
  for (size_t i = 0; i < eff.size(); ++i)
    for (size_t j = i + 1; j < eff.size(); ++j)
      if (!Disjoint(eff[i], eff[j], effective, 0))
        return InvalidArgumentError(
            "schema: keyword 'oneOf' at " + ptr + ": branches " + std::to_string(i) + " and " + std::to_string(j) +
            " may both match one value and exclusivity cannot be decided (decidable: different types, a property with "
            "disjoint const/enum values or types, a required property the other branch forbids with "
            "additionalProperties: false, formats that cannot overlap); use anyOf if overlap is acceptable");
  return OkStatus();
}

}  // namespace gemrun::constrain
