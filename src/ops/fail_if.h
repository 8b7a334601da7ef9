// `check --fail-if EXPR`: a small expression language over the verdict's JSON fields.
//   expr    := or ;  or := and ("or" and)* ;  and := unary ("and" unary)*
//   unary   := "not" unary | compare
//   compare := value [("=="|"!="|"<"|"<="|">"|">=") value | ["not"] "in" list]
//   value   := "(" expr ")" | number | "string" | 'string' | true | false | null | path
//   path    := name ("." name | "[" index "]")*        e.g. severity, findings[0].score
//   list    := "[" [item ("," item)*] "]"   (a bare word in a list is a string: [high, critical])
// Examples: `severity in [high, critical]`, `pass == false or score > 0.8`, `not pass`.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/status.h"

namespace gemrun::ops {

class FailIf {
 public:
  // InvalidArgument naming the position and what was expected for a malformed expression.
  static StatusOr<FailIf> Parse(const std::string& text);
  // The top-level field names the expression reads (for checking against a schema).
  const std::vector<std::string>& fields() const { return fields_; }
  // True when the gate fails. An error for a missing field or a type mismatch (comparing a
  // string with a number with '<', "and" on a non-boolean), naming both.
  StatusOr<bool> Eval(const nlohmann::json& verdict) const;

  struct Node;

 private:
  std::shared_ptr<const Node> root_;
  std::vector<std::string> fields_;
  std::string text_;
};

}  // namespace gemrun::ops
