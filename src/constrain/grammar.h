// The one internal grammar IR every constraint compiles to (JSON Schema, json_object, GBNF,
// regex): rules of alternatives of elements, where an element is a reference to a rule or a
// terminal. A terminal is a byte DFA plus bounds on how many code points it spans, so a long
// bounded run ([a-z0-9-]{0,29}, a string with maxLength) is one element, not a chain of rules.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/status.h"
#include "constrain/regex.h"

namespace gemrun::constrain {

struct Elem {
  enum Kind : uint8_t { kEnd, kRef, kTerm };
  Kind kind = kEnd;
  int32_t id = 0;  // rule (kRef) or terminal (kTerm)
};

struct Terminal {
  int dfa = 0;
  int min = 0, max = -1;  // code points; max < 0: unbounded
  int cap = 0;            // feas covers counts 0..cap
  std::vector<uint8_t> feas;  // [state * (cap+1) + count]: acceptance still reachable within bounds
  bool nullable = false;
};

struct Grammar {
  std::vector<Dfa> dfas;
  std::vector<Terminal> terms;
  std::vector<Elem> elems;                  // every alternative, flat, each ends with kEnd
  std::vector<std::vector<int32_t>> alts;   // per rule: start positions in elems
  std::vector<std::string> rule_names;
  int root = 0;

  // Whether a terminal in DFA state `s` having spanned `count` code points can still finish.
  bool Feasible(const Terminal& t, int s, int count) const {
    if (count > t.cap) return t.max < 0;
    return t.feas[static_cast<size_t>(s) * static_cast<size_t>(t.cap + 1) + static_cast<size_t>(count)] != 0;
  }
  bool CanExit(const Terminal& t, int s, int count) const {
    return dfas[static_cast<size_t>(t.dfa)].accept[static_cast<size_t>(s)] && count >= t.min &&
           (t.max < 0 || count <= t.max);
  }
  std::string Summary() const;  // "N rules, M terminals, K DFA states"
};

// Builds a Grammar. Rules may be referenced before they are defined; Finish() checks that every
// referenced rule is defined (naming it), refuses left recursion, drops alternatives that can
// never finish and refuses a root without a finite instance.
class GrammarBuilder {
 public:
  int Rule(const std::string& name);  // id of the rule with this name (created if new)
  int NewRule(const std::string& hint);  // a fresh, uniquely named helper rule
  void AddAlt(int rule, std::vector<Elem> alt);
  void MarkDefined(int rule) { defined_[static_cast<size_t>(rule)] = 1; }
  bool Defined(int rule) const { return defined_[static_cast<size_t>(rule)] != 0; }
  const std::string& Name(int rule) const { return names_[static_cast<size_t>(rule)]; }

  StatusOr<Elem> Term(Dfa dfa, int min = 0, int max = -1);
  StatusOr<Elem> TermFromRegex(const RegexAst& ast, int root, int min = 0, int max = -1);
  StatusOr<Elem> Literal(const std::string& bytes);  // an exact byte string
  Elem Ref(int rule) const { return Elem{Elem::kRef, rule}; }

  // `what` names the grammar's origin in errors ("grammar", "schema").
  StatusOr<Grammar> Finish(int root, const std::string& what = "grammar");

 private:
  Status CheckLeftRecursion(const Grammar& g, const std::vector<uint8_t>& nullable_rule) const;

  std::vector<std::string> names_;
  std::map<std::string, int> by_name_;
  std::vector<std::vector<std::vector<Elem>>> rules_;
  std::vector<uint8_t> defined_;
  std::vector<Dfa> dfas_;
  std::map<std::string, int> dfa_ids_;
  std::vector<Terminal> terms_;
  std::map<std::tuple<int, int, int>, int> term_ids_;
  std::map<std::string, Elem> literals_;
};

}  // namespace gemrun::constrain
