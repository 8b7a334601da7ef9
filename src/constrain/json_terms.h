// Regular pieces of JSON generation shared by the schema compiler and json_object mode.
#pragma once

#include <cstdint>
#include <string>

#include "constrain/regex.h"

namespace gemrun::constrain {

// The pattern (string body, ECMA syntax) for a supported `format`, nullptr when unsupported.
const std::string* FormatPattern(const std::string& name);

// Integers lo..hi (|values| < 10^18) as a pattern without leading zeros.
std::string IntegerRangePattern(int64_t lo, int64_t hi);

struct NumberBounds {
  double lo = -1e15, hi = 1e15;
  bool lo_excl = false, hi_excl = false;
};
// JSON numbers within the bounds (integers, and for `number` also decimals up to 6 places);
// "" when none of those exists.
std::string NumberRangePattern(const NumberBounds& b, bool integer);

// A free JSON string body (no quotes): any code point but '"', '\\' and controls, or an escape.
int FreeStringBody(RegexAst* ast);

}  // namespace gemrun::constrain
