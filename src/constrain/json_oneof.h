// oneOf exclusivity for the JSON Schema compiler: oneOf is generated as anyOf, which is right
// only when no JSON value can be valid under two branches. Decided on the schemas themselves
// (the text a branch generates is a subset of what it accepts, so comparing generated
// languages would not be enough); what cannot be decided is reported as not disjoint.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "base/status.h"

namespace gemrun::constrain {

// True when provably no value satisfies both `a` and `b`. `effective` resolves a sub-schema
// ($ref chains, allOf merged; null when it cannot). Proofs: disjoint JSON types; const/enum
// values the other schema excludes; for objects, a property required by both whose schemas are
// disjoint, or a required property the other forbids (additionalProperties: false); for
// strings, formats whose alphabets cannot overlap (an ipv4 never has the ':' an ipv6 needs).
bool SchemasDisjoint(const nlohmann::ordered_json& a, const nlohmann::ordered_json& b,
                     const std::function<nlohmann::ordered_json(const nlohmann::ordered_json&)>& effective);

// Refuses (naming 'oneOf' and `ptr`) a oneOf with two branches not provably disjoint. `rest`:
// the sibling keywords every branch is combined with (null when only annotations); `merge`: the
// compiler's allOf merge (resolves $ref chains) of a list of schemas.
Status CheckOneOfExclusive(const nlohmann::ordered_json& branches, const nlohmann::ordered_json& rest,
                           const std::string& ptr,
                           const std::function<StatusOr<nlohmann::ordered_json>(const nlohmann::ordered_json&)>& merge);

}  // namespace gemrun::constrain
