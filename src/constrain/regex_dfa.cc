// RegexAst -> byte NFA (Thompson, code point sets split into UTF-8 byte-range sequences) ->
// DFA (subset construction) with dead states removed.
#include <algorithm>
#include <map>

#include "constrain/regex.h"

namespace gemrun::constrain {
namespace {

using ByteSeq = std::vector<std::pair<uint8_t, uint8_t>>;

int Utf8Len(uint32_t cp) { return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4; }

std::vector<uint8_t> Encode(uint32_t cp) {
  std::string s;
  AppendUtf8(cp, &s);
  return std::vector<uint8_t>(s.begin(), s.end());
}

// Splits [lo, hi] (same UTF-8 length) into sequences of byte ranges whose product is exact.
void SplitSameLen(uint32_t lo, uint32_t hi, std::vector<ByteSeq>* out) {
  const int n = Utf8Len(lo);
  for (int i = 1; i < n; ++i) {
    const uint32_t m = (1u << (6 * i)) - 1;
    if ((lo & ~m) != (hi & ~m)) {
      if ((lo & m) != 0) {
        SplitSameLen(lo, lo | m, out);
        SplitSameLen((lo | m) + 1, hi, out);
        return;
      }
      if ((hi & m) != m) {
        SplitSameLen(lo, (hi & ~m) - 1, out);
        SplitSameLen(hi & ~m, hi, out);
        return;
      }
    }
  }
  const auto a = Encode(lo), b = Encode(hi);
  ByteSeq seq;
  for (size_t k = 0; k < a.size(); ++k) seq.push_back({a[k], b[k]});
  out->push_back(std::move(seq));
}

void Utf8Sequences(uint32_t lo, uint32_t hi, std::vector<ByteSeq>* out) {
  static const uint32_t kBounds[] = {0x7F, 0x7FF, 0xFFFF, kMaxCodePoint};
  for (uint32_t b : kBounds) {
    if (lo > hi) return;
    if (lo <= b) {
      SplitSameLen(lo, std::min(hi, b), out);
      lo = b + 1;
    }
  }
}

struct Nfa {
  struct Edge {
    uint8_t lo, hi;
    bool count;
    int to;
  };
  struct State {
    std::vector<int> eps;
    std::vector<Edge> edges;
  };
  std::vector<State> states;
  int accept = -1;
  int New() {
    states.emplace_back();
    return static_cast<int>(states.size()) - 1;
  }
};

class NfaBuilder {
 public:
  NfaBuilder(const RegexAst& ast, Nfa* nfa, int limit) : ast_(ast), nfa_(nfa), limit_(limit) {}

  // Builds a fragment for node; returns {start, end}.
  StatusOr<std::pair<int, int>> Build(int node) {
    if (static_cast<int>(nfa_->states.size()) > limit_)
      return InvalidArgumentError("pattern too complex: its automaton exceeds " + std::to_string(limit_) + " states");
    const RegexAst::Node& n = ast_.nodes[static_cast<size_t>(node)];
    const int s = nfa_->New(), e = nfa_->New();
    switch (n.kind) {
      case RegexAst::kEmpty: nfa_->states[s].eps.push_back(e); break;
      case RegexAst::kSet: {
        std::vector<ByteSeq> seqs;
        for (auto [lo, hi] : n.set) Utf8Sequences(lo, hi, &seqs);
        for (const ByteSeq& seq : seqs) Chain(s, e, seq);
        break;
      }
      case RegexAst::kBytes: {
        ByteSeq seq;
        for (char c : n.bytes) seq.push_back({static_cast<uint8_t>(c), static_cast<uint8_t>(c)});
        Chain(s, e, seq);
        break;
      }
      case RegexAst::kCat: {
        int cur = s;
        for (int k : n.kids) {
          auto f = Build(k);
          if (!f.ok()) return f.status();
          nfa_->states[cur].eps.push_back(f->first);
          cur = f->second;
        }
        nfa_->states[cur].eps.push_back(e);
        break;
      }
      case RegexAst::kAlt:
        for (int k : n.kids) {
          auto f = Build(k);
          if (!f.ok()) return f.status();
          nfa_->states[s].eps.push_back(f->first);
          nfa_->states[f->second].eps.push_back(e);
        }
        break;
      case RegexAst::kRep: {
        int cur = s;
        for (int k = 0; k < n.min; ++k) {
          auto f = Build(n.kids[0]);
          if (!f.ok()) return f.status();
          nfa_->states[cur].eps.push_back(f->first);
          cur = f->second;
        }
        if (n.max < 0) {
          auto f = Build(n.kids[0]);
          if (!f.ok()) return f.status();
          nfa_->states[cur].eps.push_back(f->first);
          nfa_->states[f->second].eps.push_back(cur);
        } else {
          for (int k = n.min; k < n.max; ++k) {
            auto f = Build(n.kids[0]);
            if (!f.ok()) return f.status();
            nfa_->states[cur].eps.push_back(e);
            nfa_->states[cur].eps.push_back(f->first);
            cur = f->second;
          }
        }
        nfa_->states[cur].eps.push_back(e);
        break;
      }
    }
    return std::make_pair(s, e);
  }

 private:
  void Chain(int s, int e, const ByteSeq& seq) {
    int cur = s;
    for (size_t k = 0; k < seq.size(); ++k) {
      const int to = k + 1 == seq.size() ? e : nfa_->New();
      nfa_->states[cur].edges.push_back({seq[k].first, seq[k].second, k == 0, to});
      cur = to;
    }
  }
  const RegexAst& ast_;
  Nfa* nfa_;
  int limit_;
};

// Epsilon closures with one reusable visit stamp per NFA state (a fresh visited array per call
// cost O(NFA states) for each of up to 256 transitions of every DFA state). `work` counts the
// states touched, so a pathological pattern ends with an error instead of minutes of CPU.
class Closer {
 public:
  explicit Closer(const Nfa& nfa) : nfa_(nfa), stamp_(nfa.states.size(), 0) {}
  std::vector<int> operator()(std::vector<int> set) {
    if (++gen_ == 0) std::fill(stamp_.begin(), stamp_.end(), 0), gen_ = 1;
    std::vector<int> todo = set;
    for (int s : set) stamp_[static_cast<size_t>(s)] = gen_;
    while (!todo.empty()) {
      const int s = todo.back();
      todo.pop_back();
      for (int t : nfa_.states[static_cast<size_t>(s)].eps)
        if (stamp_[static_cast<size_t>(t)] != gen_) {
          stamp_[static_cast<size_t>(t)] = gen_;
          set.push_back(t);
          todo.push_back(t);
        }
    }
    std::sort(set.begin(), set.end());
    work += set.size();
    return set;
  }
  uint64_t work = 0;

 private:
  const Nfa& nfa_;
  std::vector<uint32_t> stamp_;
  uint32_t gen_ = 0;
};

// Closure elements and byte edges a pattern may touch while its DFA is built (well under a
// second of CPU; typical patterns use a few thousand).
constexpr uint64_t kMaxCompileWork = 20'000'000;

// Keeps the states that can reach an accepting one; renumbers them. A backward search from the
// accepting states over reversed edges: linear in the transitions (a forward fixpoint was
// quadratic in the states and hung on long chains; found by constrain_fuzz).
Status PruneDead(Dfa* d) {
  const size_t n_all = static_cast<size_t>(d->n_states);
  std::vector<uint32_t> first(n_all + 1, 0);  // reversed edges in CSR form: sources of each target
  for (size_t s = 0; s < n_all; ++s)
    for (int b = 0; b < 256; ++b)
      if (const int t = d->Next(static_cast<int>(s), static_cast<uint8_t>(b)); t >= 0) ++first[static_cast<size_t>(t) + 1];
  for (size_t t = 0; t < n_all; ++t) first[t + 1] += first[t];
  std::vector<int32_t> from(first[n_all]);
  std::vector<uint32_t> fill(first.begin(), first.end() - 1);
  for (size_t s = 0; s < n_all; ++s)
    for (int b = 0; b < 256; ++b)
      if (const int t = d->Next(static_cast<int>(s), static_cast<uint8_t>(b)); t >= 0)
        from[fill[static_cast<size_t>(t)]++] = static_cast<int32_t>(s);
  std::vector<uint8_t> live(n_all);
  std::vector<int32_t> todo;
  for (size_t s = 0; s < n_all; ++s)
    if (d->accept[s]) live[s] = 1, todo.push_back(static_cast<int32_t>(s));
  while (!todo.empty()) {
    const size_t t = static_cast<size_t>(todo.back());
    todo.pop_back();
    for (uint32_t i = first[t]; i < first[t + 1]; ++i)
      if (!live[static_cast<size_t>(from[i])]) live[static_cast<size_t>(from[i])] = 1, todo.push_back(from[i]);
  }
  if (!live[static_cast<size_t>(d->start)]) return InvalidArgumentError("the pattern matches no string that can be generated");
  std::vector<int> remap(static_cast<size_t>(d->n_states), -1);
  int n = 0;
  for (int s = 0; s < d->n_states; ++s)
    if (live[static_cast<size_t>(s)]) remap[static_cast<size_t>(s)] = n++;
  Dfa out;
  out.n_states = n;
  out.start = remap[static_cast<size_t>(d->start)];
  out.trans.assign(static_cast<size_t>(n) * 256, -1);
  out.counts.assign(static_cast<size_t>(n) * 256, 0);
  out.accept.assign(static_cast<size_t>(n), 0);
  for (int s = 0; s < d->n_states; ++s) {
    const int ns = remap[static_cast<size_t>(s)];
    if (ns < 0) continue;
    out.accept[static_cast<size_t>(ns)] = d->accept[static_cast<size_t>(s)];
    for (int b = 0; b < 256; ++b) {
      const int t = d->Next(s, static_cast<uint8_t>(b));
      if (t >= 0 && remap[static_cast<size_t>(t)] >= 0) {
        out.trans[static_cast<size_t>(ns) * 256 + b] = remap[static_cast<size_t>(t)];
        out.counts[static_cast<size_t>(ns) * 256 + b] = d->Counts(s, static_cast<uint8_t>(b));
      }
    }
  }
  *d = std::move(out);
  return OkStatus();
}

}  // namespace

std::string Dfa::Key() const {
  std::string k;
  k.append(reinterpret_cast<const char*>(&start), sizeof(start));
  k.append(reinterpret_cast<const char*>(trans.data()), trans.size() * sizeof(int32_t));
  k.append(reinterpret_cast<const char*>(counts.data()), counts.size());
  k.append(reinterpret_cast<const char*>(accept.data()), accept.size());
  return k;
}

StatusOr<Dfa> CompileDfa(const RegexAst& ast, int root, int max_states) {
  Nfa nfa;
  NfaBuilder nb(ast, &nfa, max_states * 4);
  auto frag = nb.Build(root);
  if (!frag.ok()) return frag.status();
  nfa.accept = frag->second;

  Dfa d;
  std::map<std::vector<int>, int> ids;
  std::vector<std::vector<int>> sets;
  auto intern = [&](std::vector<int> set) {
    auto [it, fresh] = ids.emplace(set, static_cast<int>(sets.size()));
    if (fresh) sets.push_back(std::move(set));
    return it->second;
  };
  Closer closure(nfa);
  d.start = intern(closure({frag->first}));
  for (size_t cur = 0; cur < sets.size(); ++cur) {
    if (static_cast<int>(sets.size()) > max_states)
      return InvalidArgumentError("pattern too complex: its automaton exceeds " + std::to_string(max_states) + " states");
    if (closure.work > kMaxCompileWork)
      return InvalidArgumentError("pattern too complex: building its automaton exceeds the compile budget");
    std::vector<std::vector<int>> to(256);
    uint8_t cnt[256] = {};
    for (int s : sets[cur])
      for (const Nfa::Edge& e : nfa.states[static_cast<size_t>(s)].edges)
        for (int b = e.lo; b <= e.hi; ++b) {
          to[static_cast<size_t>(b)].push_back(e.to);
          cnt[b] |= e.count;
          ++closure.work;
        }
    d.trans.resize((cur + 1) * 256, -1);
    d.counts.resize((cur + 1) * 256, 0);
    for (int b = 0; b < 256; ++b) {
      if (to[static_cast<size_t>(b)].empty()) continue;
      auto& v = to[static_cast<size_t>(b)];
      std::sort(v.begin(), v.end());
      v.erase(std::unique(v.begin(), v.end()), v.end());
      const int id = intern(closure(std::move(v)));
      d.trans[cur * 256 + static_cast<size_t>(b)] = id;
      d.counts[cur * 256 + static_cast<size_t>(b)] = cnt[b];
    }
  }
  d.n_states = static_cast<int>(sets.size());
  d.trans.resize(sets.size() * 256, -1);
  d.counts.resize(sets.size() * 256, 0);
  d.accept.resize(sets.size());
  for (size_t s = 0; s < sets.size(); ++s)
    d.accept[s] = std::binary_search(sets[s].begin(), sets[s].end(), nfa.accept);
  RETURN_IF_ERROR(PruneDead(&d));
  return d;
}

}  // namespace gemrun::constrain
