// GrammarBuilder: terminal feasibility tables, rule checks (undefined, left recursion,
// productivity) and flattening into the Grammar IR.
#include "constrain/grammar.h"

#include <algorithm>
#include <functional>

namespace gemrun::constrain {
namespace {

// feas[s][c]: some path from state s to acceptance spans r counted units with
// min <= c + r <= max (max < 0: unbounded).
Status BuildFeasibility(const Dfa& d, Terminal* t) {
  t->cap = t->max >= 0 ? t->max : t->min;
  const int R = t->cap + d.n_states + 1;
  const size_t n = static_cast<size_t>(d.n_states);
  if (n * static_cast<size_t>(R + 1) > (size_t{64} << 20))
    return InvalidArgumentError("length bounds too large for the pattern (" + std::to_string(t->max) + ")");
  // Distinct successor edges per state.
  std::vector<std::vector<std::pair<int, bool>>> adj(n);
  for (size_t s = 0; s < n; ++s) {
    for (int b = 0; b < 256; ++b) {
      const int to = d.Next(static_cast<int>(s), static_cast<uint8_t>(b));
      if (to < 0) continue;
      const std::pair<int, bool> e{to, d.Counts(static_cast<int>(s), static_cast<uint8_t>(b))};
      if (std::find(adj[s].begin(), adj[s].end(), e) == adj[s].end()) adj[s].push_back(e);
    }
  }
  // dp[r][s]: acceptance reachable from s with exactly r counted units.
  std::vector<std::vector<uint8_t>> dp(static_cast<size_t>(R + 1), std::vector<uint8_t>(n));
  for (int r = 0; r <= R; ++r) {
    auto& cur = dp[static_cast<size_t>(r)];
    for (size_t s = 0; s < n; ++s) {
      if (r == 0 && d.accept[s]) cur[s] = 1;
      if (r > 0)
        for (auto [to, c] : adj[s])
          if (c && dp[static_cast<size_t>(r - 1)][static_cast<size_t>(to)]) cur[s] = 1;
    }
    for (bool changed = true; changed;) {  // zero-count moves (UTF-8 continuation bytes, escapes)
      changed = false;
      for (size_t s = 0; s < n; ++s)
        if (!cur[s])
          for (auto [to, c] : adj[s])
            if (!c && cur[static_cast<size_t>(to)]) {
              cur[s] = 1;
              changed = true;
              break;
            }
    }
  }
  t->feas.assign(n * static_cast<size_t>(t->cap + 1), 0);
  for (size_t s = 0; s < n; ++s)
    for (int c = 0; c <= t->cap; ++c) {
      const int lo = std::max(0, t->min - c), hi = t->max >= 0 ? t->max - c : R;
      bool ok = false;
      for (int r = lo; r <= hi && r <= R && !ok; ++r) ok = dp[static_cast<size_t>(r)][s];
      t->feas[s * static_cast<size_t>(t->cap + 1) + static_cast<size_t>(c)] = ok;
    }
  t->nullable = t->min == 0 && d.accept[static_cast<size_t>(d.start)];
  return OkStatus();
}

}  // namespace

std::string Grammar::Summary() const {
  size_t states = 0;
  for (const Dfa& d : dfas) states += static_cast<size_t>(d.n_states);
  return std::to_string(alts.size()) + " rules, " + std::to_string(terms.size()) + " terminals, " +
         std::to_string(states) + " DFA states";
}

int GrammarBuilder::Rule(const std::string& name) {
  auto it = by_name_.find(name);
  if (it != by_name_.end()) return it->second;
  const int id = static_cast<int>(names_.size());
  names_.push_back(name);
  by_name_[name] = id;
  rules_.emplace_back();
  defined_.push_back(0);
  return id;
}

int GrammarBuilder::NewRule(const std::string& hint) {
  std::string name = hint;
  for (int k = 1; by_name_.count(name); ++k) name = hint + "-" + std::to_string(k);
  const int id = Rule(name);
  defined_[static_cast<size_t>(id)] = 1;
  return id;
}

void GrammarBuilder::AddAlt(int rule, std::vector<Elem> alt) {
  rules_[static_cast<size_t>(rule)].push_back(std::move(alt));
  defined_[static_cast<size_t>(rule)] = 1;
}

StatusOr<Elem> GrammarBuilder::Term(Dfa dfa, int min, int max) {
  std::string key = dfa.Key();
  auto [it, fresh] = dfa_ids_.emplace(std::move(key), static_cast<int>(dfas_.size()));
  if (fresh) dfas_.push_back(std::move(dfa));
  const auto tkey = std::make_tuple(it->second, min, max);
  if (auto t = term_ids_.find(tkey); t != term_ids_.end()) return Elem{Elem::kTerm, t->second};
  Terminal t;
  t.dfa = it->second;
  t.min = min;
  t.max = max;
  RETURN_IF_ERROR(BuildFeasibility(dfas_[static_cast<size_t>(it->second)], &t));
  if (!t.feas[static_cast<size_t>(dfas_[static_cast<size_t>(it->second)].start) * static_cast<size_t>(t.cap + 1)])
    return InvalidArgumentError("no string satisfies the pattern within the length bounds [" + std::to_string(min) +
                                ", " + (max < 0 ? std::string("inf") : std::to_string(max)) + "]");
  const int id = static_cast<int>(terms_.size());
  terms_.push_back(std::move(t));
  term_ids_[tkey] = id;
  return Elem{Elem::kTerm, id};
}

StatusOr<Elem> GrammarBuilder::TermFromRegex(const RegexAst& ast, int root, int min, int max) {
  auto dfa = CompileDfa(ast, root);
  if (!dfa.ok()) return dfa.status();
  return Term(std::move(*dfa), min, max);
}

StatusOr<Elem> GrammarBuilder::Literal(const std::string& bytes) {
  if (auto it = literals_.find(bytes); it != literals_.end()) return it->second;
  RegexAst ast;
  const int root = ast.Bytes(bytes);
  auto e = TermFromRegex(ast, root);
  if (!e.ok()) return e.status();
  literals_[bytes] = *e;
  return e;
}

Status GrammarBuilder::CheckLeftRecursion(const Grammar& g, const std::vector<uint8_t>& nullable_rule) const {
  // Edge A -> B when B can be the first thing A expands to (after nullable elements).
  const size_t n = g.alts.size();
  std::vector<std::vector<int>> first(n);
  for (size_t r = 0; r < n; ++r)
    for (int32_t start : g.alts[r])
      for (int32_t p = start; g.elems[static_cast<size_t>(p)].kind != Elem::kEnd; ++p) {
        const Elem& e = g.elems[static_cast<size_t>(p)];
        if (e.kind == Elem::kTerm) {
          if (!g.terms[static_cast<size_t>(e.id)].nullable) break;
          continue;
        }
        first[r].push_back(e.id);
        if (!nullable_rule[static_cast<size_t>(e.id)]) break;
      }
  std::vector<uint8_t> color(n);  // 0 new, 1 on stack, 2 done
  std::function<int(int)> dfs = [&](int r) -> int {
    color[static_cast<size_t>(r)] = 1;
    for (int s : first[static_cast<size_t>(r)]) {
      if (color[static_cast<size_t>(s)] == 1) return s;
      if (color[static_cast<size_t>(s)] == 0)
        if (int bad = dfs(s); bad >= 0) return bad;
    }
    color[static_cast<size_t>(r)] = 2;
    return -1;
  };
  for (size_t r = 0; r < n; ++r)
    if (color[r] == 0)
      if (int bad = dfs(static_cast<int>(r)); bad >= 0)
        return InvalidArgumentError("rule '" + g.rule_names[static_cast<size_t>(bad)] +
                                    "' is left-recursive (it can derive itself before any text); rewrite it "
                                    "with right recursion or a repetition");
  return OkStatus();
}

StatusOr<Grammar> GrammarBuilder::Finish(int root, const std::string& what) {
  for (size_t r = 0; r < rules_.size(); ++r)
    if (!defined_[r]) return InvalidArgumentError(what + ": rule '" + names_[r] + "' is used but never defined");
  const size_t n = rules_.size();
  // Productive rules (a finite instance exists), to a fixpoint.
  std::vector<uint8_t> prod(n), nullable(n);
  auto elem_ok = [&](const Elem& e, const std::vector<uint8_t>& v) {
    return e.kind == Elem::kTerm ? (&v == &prod ? true : terms_[static_cast<size_t>(e.id)].nullable)
                                 : v[static_cast<size_t>(e.id)] != 0;
  };
  for (auto* v : {&prod, &nullable})
    for (bool changed = true; changed;) {
      changed = false;
      for (size_t r = 0; r < n; ++r) {
        if ((*v)[r]) continue;
        for (const auto& alt : rules_[r])
          if (std::all_of(alt.begin(), alt.end(), [&](const Elem& e) { return elem_ok(e, *v); })) {
            (*v)[r] = 1;
            changed = true;
            break;
          }
      }
    }
  if (!prod[static_cast<size_t>(root)])
    return InvalidArgumentError(what + ": rule '" + names_[static_cast<size_t>(root)] +
                                "' has no finite instance (every alternative recurses forever)");
  Grammar g;
  g.rule_names = names_;
  g.alts.resize(n);
  for (size_t r = 0; r < n; ++r)
    for (const auto& alt : rules_[r]) {
      // An alternative through an unproductive rule can never finish: never offer it.
      if (!std::all_of(alt.begin(), alt.end(), [&](const Elem& e) { return elem_ok(e, prod); })) continue;
      g.alts[r].push_back(static_cast<int32_t>(g.elems.size()));
      g.elems.insert(g.elems.end(), alt.begin(), alt.end());
      g.elems.push_back(Elem{});
    }
  g.dfas = dfas_;
  g.terms = terms_;
  g.root = root;
  RETURN_IF_ERROR(CheckLeftRecursion(g, nullable));
  return g;
}

}  // namespace gemrun::constrain
