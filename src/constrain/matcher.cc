// Recognizer (hash-consed stacks of grammar positions) and Matcher (cached token masks).
#include "constrain/matcher.h"

#include <algorithm>

#include "constrain/class_trie.h"

namespace gemrun::constrain {
namespace {

inline size_t HashFrame(int32_t pos, int32_t state, int32_t count, int32_t parent) {
  uint64_t h = static_cast<uint32_t>(pos) * 0x9E3779B97F4A7C15ull;
  h ^= (static_cast<uint64_t>(static_cast<uint32_t>(state)) << 32 | static_cast<uint32_t>(count)) * 0xC2B2AE3D27D4EB4Full;
  h ^= static_cast<uint32_t>(parent) * 0x165667B19E3779F9ull;
  return static_cast<size_t>(h ^ (h >> 29));
}

}  // namespace

Recognizer::Recognizer(std::shared_ptr<const Grammar> g) : g_(std::move(g)) {
  table_.assign(1024, 0);
  scratch_table_.assign(1024, 0);
  NewStamp();
  for (int32_t alt : g_->alts[static_cast<size_t>(g_->root)]) ExpandAt(alt, -1, &cur_);
}

uint32_t Recognizer::NewStamp() {
  if (++stamp_ == 0) {
    std::fill(mark_.begin(), mark_.end(), 0);
    stamp_ = 1;
  }
  return stamp_;
}

int32_t Recognizer::Intern(int32_t pos, int32_t state, int32_t count, int32_t parent) {
  const size_t h = HashFrame(pos, state, count, parent);
  auto probe = [&](const std::vector<int32_t>& t) -> int32_t {
    const size_t m = t.size() - 1;
    for (size_t i = h & m;; i = (i + 1) & m) {
      const int32_t v = t[i];
      if (v == 0) return -1;
      const Frame& f = frames_[static_cast<size_t>(v - 1)];
      if (f.pos == pos && f.state == state && f.count == count && f.parent == parent) return v - 1;
    }
  };
  if (int32_t id = probe(table_); id >= 0) return id;
  const bool scratch = scratch_from_ >= 0;
  if (scratch)
    if (int32_t id = probe(scratch_table_); id >= 0) return id;
  const int32_t id = static_cast<int32_t>(frames_.size());
  frames_.push_back({pos, state, count, parent});
  mark_.push_back(0);
  std::vector<int32_t>& t = scratch ? scratch_table_ : table_;
  const size_t live = scratch ? frames_.size() - static_cast<size_t>(scratch_from_) : frames_.size();
  if (live * 2 > t.size()) {  // grow and rehash this table's frames
    const int32_t from = scratch ? scratch_from_ : 0;
    t.assign(t.size() * 2, 0);
    if (scratch) scratch_used_.clear();
    for (int32_t k = from; k < static_cast<int32_t>(frames_.size()); ++k) {
      const Frame& f = frames_[static_cast<size_t>(k)];
      size_t i = HashFrame(f.pos, f.state, f.count, f.parent) & (t.size() - 1);
      while (t[i] != 0) i = (i + 1) & (t.size() - 1);
      t[i] = k + 1;
      if (scratch) scratch_used_.push_back(i);
    }
    return id;
  }
  size_t i = h & (t.size() - 1);
  while (t[i] != 0) i = (i + 1) & (t.size() - 1);
  t[i] = id + 1;
  if (scratch) scratch_used_.push_back(i);
  return id;
}

void Recognizer::BeginScratch() { scratch_from_ = static_cast<int32_t>(frames_.size()); }

void Recognizer::EndScratch() {
  if (scratch_from_ < 0) return;
  frames_.resize(static_cast<size_t>(scratch_from_));
  mark_.resize(frames_.size());
  for (size_t i : scratch_used_) scratch_table_[i] = 0;
  scratch_used_.clear();
  scratch_from_ = -1;
}

void Recognizer::ExpandAt(int32_t pos, int32_t parent, StackSet* out) {
  const Elem e = g_->elems[static_cast<size_t>(pos)];
  if (e.kind == Elem::kEnd) {
    if (parent < 0) {
      out->accept = true;
      return;
    }
    const Frame f = frames_[static_cast<size_t>(parent)];
    ExpandAt(f.pos, f.parent, out);
    return;
  }
  if (e.kind == Elem::kTerm) {
    const Terminal& t = g_->terms[static_cast<size_t>(e.id)];
    AddTop(Intern(pos, g_->dfas[static_cast<size_t>(t.dfa)].start, 0, parent), out);
    return;
  }
  // A rule reference: expand each alternative once per (position, return stack).
  const int32_t visit = Intern(pos, -1, 0, parent);
  if (mark_[static_cast<size_t>(visit)] == stamp_) return;
  mark_[static_cast<size_t>(visit)] = stamp_;
  const int32_t cont = g_->elems[static_cast<size_t>(pos) + 1].kind == Elem::kEnd ? parent : Intern(pos + 1, -1, 0, parent);
  for (int32_t alt : g_->alts[static_cast<size_t>(e.id)]) ExpandAt(alt, cont, out);
}

void Recognizer::AddTop(int32_t id, StackSet* out) {
  if (mark_[static_cast<size_t>(id)] == stamp_) return;
  mark_[static_cast<size_t>(id)] = stamp_;
  out->tops.push_back(id);
  const Frame f = frames_[static_cast<size_t>(id)];
  const Terminal& t = g_->terms[static_cast<size_t>(g_->elems[static_cast<size_t>(f.pos)].id)];
  if (g_->CanExit(t, f.state, f.count)) ExpandAt(f.pos + 1, f.parent, out);
}

void Recognizer::Advance(const StackSet& in, uint8_t b, StackSet* out) {
  out->clear();
  NewStamp();
  for (int32_t top : in.tops) {
    const Frame f = frames_[static_cast<size_t>(top)];
    const Terminal& t = g_->terms[static_cast<size_t>(g_->elems[static_cast<size_t>(f.pos)].id)];
    const Dfa& d = g_->dfas[static_cast<size_t>(t.dfa)];
    const int32_t ns = d.Next(f.state, b);
    if (ns < 0) continue;
    const int32_t nc = f.count + (d.Counts(f.state, b) ? 1 : 0);
    if (!g_->Feasible(t, ns, nc)) continue;
    AddTop(Intern(f.pos, ns, nc, f.parent), out);
  }
}

void Recognizer::ExitSet(int32_t top, StackSet* out) {
  out->clear();
  NewStamp();
  const Frame f = frames_[static_cast<size_t>(top)];
  ExpandAt(f.pos + 1, f.parent, out);
}

bool Recognizer::Feed(std::string_view bytes) {
  StackSet a = cur_, b;
  for (char c : bytes) {
    Advance(a, static_cast<uint8_t>(c), &b);
    if (b.empty()) return false;
    std::swap(a, b);
  }
  cur_ = std::move(a);
  return true;
}

// ---------------------------------------------------------------------------------------------

std::shared_ptr<const TokenTrie> TokenTrie::Build(std::vector<std::string> pieces) {
  auto t = std::make_shared<TokenTrie>();
  t->n_vocab = static_cast<int32_t>(pieces.size());
  std::vector<int32_t> order;
  for (int32_t i = 0; i < t->n_vocab; ++i)
    if (!pieces[static_cast<size_t>(i)].empty()) order.push_back(i);
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    return pieces[static_cast<size_t>(a)] < pieces[static_cast<size_t>(b)] ||
           (pieces[static_cast<size_t>(a)] == pieces[static_cast<size_t>(b)] && a < b);
  });
  t->byte = {0};
  t->depth = {0};
  std::vector<int32_t> path = {0}, node_of;
  node_of.reserve(order.size());
  std::string_view prev;
  for (int32_t id : order) {
    const std::string& p = pieces[static_cast<size_t>(id)];
    size_t common = 0;
    while (common < prev.size() && common < p.size() && prev[common] == p[common]) ++common;
    path.resize(common + 1);
    for (size_t k = common; k < p.size() && k < 65535; ++k) {
      path.push_back(static_cast<int32_t>(t->byte.size()));
      t->byte.push_back(static_cast<uint8_t>(p[k]));
      t->depth.push_back(static_cast<uint16_t>(k + 1));
    }
    node_of.push_back(path[std::min(p.size(), size_t{65535})]);
    prev = p;
  }
  const int32_t n = static_cast<int32_t>(t->byte.size());
  t->end.assign(static_cast<size_t>(n), n);
  std::vector<int32_t> open;
  for (int32_t i = 0; i < n; ++i) {
    while (!open.empty() && t->depth[static_cast<size_t>(open.back())] >= t->depth[static_cast<size_t>(i)]) {
      t->end[static_cast<size_t>(open.back())] = i;
      open.pop_back();
    }
    open.push_back(i);
  }
  t->tok_begin.assign(static_cast<size_t>(n) + 1, 0);
  for (int32_t node : node_of) ++t->tok_begin[static_cast<size_t>(node) + 1];
  for (int32_t i = 0; i < n; ++i) t->tok_begin[static_cast<size_t>(i) + 1] += t->tok_begin[static_cast<size_t>(i)];
  t->tok_ids.resize(order.size());
  std::vector<int32_t> fill(t->tok_begin.begin(), t->tok_begin.end() - 1);
  for (size_t k = 0; k < order.size(); ++k) t->tok_ids[static_cast<size_t>(fill[static_cast<size_t>(node_of[k])]++)] = order[k];
  t->pieces = std::move(pieces);
  return t;
}

// ---------------------------------------------------------------------------------------------

Matcher::Matcher(std::shared_ptr<const Grammar> g, std::shared_ptr<const TokenTrie> trie)
    : Matcher(std::move(g), trie, trie->mask_cache) {}

Matcher::Matcher(std::shared_ptr<const Grammar> g, std::shared_ptr<const TokenTrie> trie, std::shared_ptr<MaskCache> cache)
    : trie_(std::move(trie)), cache_(cache ? std::move(cache) : std::make_shared<MaskCache>()), rec_(std::move(g)) {
  dfa_ids_.assign(rec_.grammar().dfas.size(), -1);
}

std::shared_ptr<const MaskEntry> Matcher::Entry(int32_t node, int dfa, int state, const FollowBytes& follow) {
  const Dfa& d = rec_.grammar().dfas[static_cast<size_t>(dfa)];
  int64_t& id = dfa_ids_[static_cast<size_t>(dfa)];
  if (id < 0) id = cache_->DfaId(d);
  if (auto e = cache_->Find(node, id, state, follow)) return e;
  if (node != 0) return cache_->Insert(node, id, state, follow, ComputeMaskEntry(*trie_, node, d, state, follow));
  // At the root, every state of the DFA walks the same folded trie: fold once, walk it per state.
  std::shared_ptr<const ClassTrie> ct = cache_->FindClassTrie(id, follow);
  if (!ct) {
    ClassTrie classes = ClassifyBytes(d, follow);
    const std::string partition = classes.PartitionKey();
    ct = cache_->FindClassTrie(partition);
    if (!ct) {
      FoldTrie(*trie_, &classes);
      ct = std::make_shared<const ClassTrie>(std::move(classes));
    }
    ct = cache_->InsertClassTrie(id, follow, partition, std::move(ct));
  }
  return cache_->Insert(node, id, state, follow, ComputeMaskEntryByClass(*ct, trie_->n_vocab, d, state));
}

// Tokens below trie node `node` (whose bytes are already matched) allowed by the stacks in `set`:
// per stack, the cached tokens that stay inside its top terminal, then, where that terminal can
// end and a continuation byte follows, the same question one level down for the continuation.
void Matcher::MaskFrom(int32_t node, const StackSet& set, TokenMask* mask) {
  // Small subtrees are cheaper to walk byte by byte than to cache (one entry per node would
  // otherwise be built for grammars whose terminals are single characters).
  if (node != 0 && trie_->end[static_cast<size_t>(node)] - node < kCacheMinSubtree) {
    WalkFrom(node, set, mask);
    return;
  }
  const Grammar& g = rec_.grammar();
  StackSet cont;
  for (int32_t top : set.tops) {
    const Recognizer::Frame f = rec_.frame(top);
    const Terminal& t = g.terms[static_cast<size_t>(g.elems[static_cast<size_t>(f.pos)].id)];
    rec_.ExitSet(top, &cont);
    FollowBytes follow{};
    for (int32_t c : cont.tops) {
      const Recognizer::Frame cf = rec_.frame(c);
      const Dfa& cd = g.dfas[static_cast<size_t>(g.terms[static_cast<size_t>(g.elems[static_cast<size_t>(cf.pos)].id)].dfa)];
      const int32_t* row = &cd.trans[static_cast<size_t>(cf.state) * 256];
      for (int b = 0; b < 256; ++b)
        if (row[b] >= 0) follow[static_cast<size_t>(b) >> 6] |= uint64_t{1} << (b & 63);
    }
    const std::shared_ptr<const MaskEntry> e = Entry(node, t.dfa, f.state, follow);
    for (const MaskGroup& gr : e->groups) {
      if (!g.Feasible(t, gr.end_state, f.count + gr.cp)) continue;
      for (auto [w, bits] : gr.words) (*mask)[w] |= bits;
    }
    if (cont.tops.empty() || e->exits.empty()) continue;
    const StackSet next = cont;
    for (const MaskExit& x : e->exits)
      if (g.CanExit(t, x.state, f.count + x.cp)) MaskChild(x.node, next, mask);
  }
}

// The tokens at and below trie node `child` given the stacks before its byte.
void Matcher::MaskChild(int32_t child, const StackSet& set, TokenMask* mask) {
  const TokenTrie& tr = *trie_;
  StackSet after;
  rec_.Advance(set, tr.byte[static_cast<size_t>(child)], &after);
  if (after.empty()) return;
  for (int32_t k = tr.tok_begin[static_cast<size_t>(child)]; k < tr.tok_begin[static_cast<size_t>(child) + 1]; ++k) {
    const int32_t tok = tr.tok_ids[static_cast<size_t>(k)];
    (*mask)[static_cast<size_t>(tok) >> 6] |= uint64_t{1} << (tok & 63);
  }
  if (tr.end[static_cast<size_t>(child)] > child + 1) MaskFrom(child, after, mask);
}

void Matcher::WalkFrom(int32_t node, const StackSet& start, TokenMask* mask) {
  const TokenTrie& tr = *trie_;
  const int d0 = tr.depth[static_cast<size_t>(node)];
  if (walk_sets_.size() < 2) walk_sets_.resize(2);
  walk_sets_[0] = start;
  for (int32_t i = node + 1; i < tr.end[static_cast<size_t>(node)];) {
    const size_t d = static_cast<size_t>(tr.depth[static_cast<size_t>(i)] - d0);
    if (walk_sets_.size() <= d) walk_sets_.resize(d + 1);
    rec_.Advance(walk_sets_[d - 1], tr.byte[static_cast<size_t>(i)], &walk_sets_[d]);
    if (walk_sets_[d].empty()) {
      i = tr.end[static_cast<size_t>(i)];
      continue;
    }
    for (int32_t k = tr.tok_begin[static_cast<size_t>(i)]; k < tr.tok_begin[static_cast<size_t>(i) + 1]; ++k) {
      const int32_t tok = tr.tok_ids[static_cast<size_t>(k)];
      (*mask)[static_cast<size_t>(tok) >> 6] |= uint64_t{1} << (tok & 63);
    }
    ++i;
  }
}

void Matcher::ComputeMask(TokenMask* mask) {
  mask->assign((static_cast<size_t>(trie_->n_vocab) + 63) / 64, 0);
  const StackSet cur = rec_.state();
  rec_.BeginScratch();
  MaskFrom(0, cur, mask);
  rec_.EndScratch();
}

Status Matcher::Accept(int32_t token) {
  if (token < 0 || token >= trie_->n_vocab || trie_->pieces[static_cast<size_t>(token)].empty())
    return InvalidArgumentError("token " + std::to_string(token) + " (special or empty) is not allowed inside the constraint");
  if (!rec_.Feed(trie_->pieces[static_cast<size_t>(token)]))
    return InvalidArgumentError("token " + std::to_string(token) + " does not continue the constrained output");
  return OkStatus();
}

bool GrammarAccepts(std::shared_ptr<const Grammar> g, std::string_view text) {
  Recognizer r(std::move(g));
  return r.Feed(text) && r.CanEnd();
}

}  // namespace gemrun::constrain
