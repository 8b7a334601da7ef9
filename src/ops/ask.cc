// Ask: token counting, the plan (whole / map-reduce / retrieve), and running it.
#include "ops/ask.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

#include "ops/bm25.h"

namespace gemrun::ops {
namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string Thousands(int64_t v) {
  std::string s = std::to_string(v);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(i, ",");
  return s;
}

std::string Approx(int64_t tokens) {
  if (tokens < 10000) return Thousands(tokens);
  if (tokens < 10000000) return std::to_string((tokens + 500) / 1000) + "k";
  return std::to_string((tokens + 500000) / 1000000) + "M";
}

std::string Trim(const std::string& s) {
  const size_t a = s.find_first_not_of(" \t\r\n");
  if (a == std::string::npos) return "";
  return s.substr(a, s.find_last_not_of(" \t\r\n") - a + 1);
}

ingest::Chunk WholeDoc(size_t i) {
  ingest::Chunk c;
  c.doc = i;
  return c;
}

int64_t Digits(int64_t n) { return static_cast<int64_t>(std::to_string(n).size()); }

}  // namespace

std::string Plan::Describe() const {
  std::string s = std::to_string(files) + (files == 1 ? " input, " : " inputs, ");
  if (lines) s += Thousands(lines) + " lines, ";
  if (pages) s += Thousands(pages) + " pages, ";
  s += Approx(tokens) + " tokens; context " + std::to_string(n_ctx) + " → " + strategy;
  if (strategy == "whole") return s + " (the input fits: one prompt)";
  s += ": " + Thousands(static_cast<int64_t>(chunks)) + " chunks of ~" + Approx(chunk_tokens) + " tokens";
  if (strategy == "map-reduce") return s + ", " + std::to_string(rounds) + " synthesis round" + (rounds == 1 ? "" : "s");
  if (retrieved == 0) return s + ", the most relevant (BM25) that fit are sent; the rest are not read";
  return s + ", the top " + std::to_string(retrieved) + " (" + Approx(retrieved_tokens) + " tokens) sent; the other " +
         std::to_string(chunks - retrieved) + " are not read";
}

nlohmann::json Plan::ToJson() const {
  return {{"inputs", files}, {"lines", lines}, {"pages", pages}, {"tokens", tokens}, {"n_ctx", n_ctx},
          {"strategy", strategy}, {"chunks", chunks}, {"chunk_tokens", chunk_tokens}, {"rounds", rounds},
          {"retrieved", retrieved}, {"retrieved_tokens", retrieved_tokens}};
}

std::vector<ingest::Chunk> Ask::MakeChunks(int64_t max_tokens) const {
  const int64_t overlap = o_.overlap_tokens >= 0 ? std::min(o_.overlap_tokens, max_tokens / 2) : max_tokens / 8;
  const ingest::ChunkOptions co{.max_tokens = max_tokens, .overlap_tokens = overlap};
  auto count = [this](std::string_view t) { return llm_.CountTokens(t); };
  std::vector<ingest::Chunk> out;
  for (size_t i = 0; i < docs_.size(); ++i) {
    auto cs = ingest::ChunkDocument(docs_[i], i, unit_tokens_[i], co, count);
    for (auto& c : cs) out.push_back(std::move(c));
  }
  return out;
}

StatusOr<Plan> Ask::MakePlan() {
  Plan& p = plan_;
  p = Plan{};
  p.files = docs_.size();
  p.n_ctx = llm_.n_ctx();
  unit_tokens_.assign(docs_.size(), {});
  int64_t content = 0, headers = 0;
  for (size_t i = 0; i < docs_.size(); ++i) {
    const ingest::Document& d = docs_[i];
    (d.paged ? p.pages : p.lines) += static_cast<int64_t>(d.size());
    const int64_t label = d.paged ? llm_.CountTokens(d.name) + 4 : 0;
    auto& ut = unit_tokens_[i];
    ut.resize(d.size());
    for (size_t u = 0; u < d.size(); ++u) {
      const int64_t t = llm_.CountTokens(d.unit(u));
      p.tokens += t;
      ut[u] = t + (d.paged ? label : Digits(static_cast<int64_t>(u) + 1) + 1);  // "[f#N]" or "N| "
      content += ut[u];
    }
    headers += llm_.CountTokens(d.name) + 12;
  }
  ASSIGN_OR_RETURN(whole_overhead_, llm_.PromptTokens(Request(WholeUser(""), 0, true)));
  const int64_t room = p.n_ctx - o_.answer_tokens;
  if (whole_overhead_ + content + headers <= room) {
    p.strategy = "whole";
    return p;
  }
  // Notes shrink with a small context: two must fit a merge prompt, one the final prompt.
  ASSIGN_OR_RETURN(const int64_t merge_base, llm_.PromptTokens(Request(MergeUser({}), 0, false)));
  ASSIGN_OR_RETURN(const int64_t final_base, llm_.PromptTokens(Request(FinalUser({}), 0, true)));
  o_.note_tokens = std::min({o_.note_tokens, (p.n_ctx - merge_base) / 3 - 16, room - final_base - 32});
  if (o_.note_tokens < 16)
    return OutOfRangeError("a context of " + std::to_string(p.n_ctx) + " tokens is too small to split this input: "
                           "the instructions take " + std::to_string(std::max(merge_base, final_base)) + " tokens and " +
                           std::to_string(o_.answer_tokens) + " are reserved for the answer; raise -c or lower "
                           "--answer-tokens");
  ASSIGN_OR_RETURN(map_overhead_, llm_.PromptTokens(Request(MapUser(""), 0, false)));
  map_overhead_ += 40;  // the chunk's header (name and range)
  int64_t chunk = (p.n_ctx - o_.note_tokens - map_overhead_) * 9 / 10;  // 10%: counts per line are estimates
  if (o_.retrieve) chunk = std::clamp<int64_t>((room - whole_overhead_) / 4, 64, 1024);
  if (o_.chunk_tokens > 0) chunk = std::min(chunk, o_.chunk_tokens);
  if (chunk < 64)
    return OutOfRangeError("a context of " + std::to_string(p.n_ctx) + " tokens is too small to split this input: the "
                           "instructions take " + std::to_string(map_overhead_) + " tokens and " +
                           std::to_string(o_.note_tokens) + " are reserved per note; raise -c or lower --note-tokens");
  p.chunk_tokens = chunk;
  chunks_ = MakeChunks(chunk);
  p.chunks = chunks_.size();
  if (o_.retrieve) {
    p.strategy = "retrieve";
    return p;
  }
  p.strategy = "map-reduce";
  // Worst case: every note is full. Rounds merge groups of notes until they fit one prompt.
  const int64_t per_note = o_.note_tokens + 16;
  const int64_t per_group = std::max<int64_t>(2, (p.n_ctx - o_.note_tokens - map_overhead_) / per_note);
  int64_t n = static_cast<int64_t>(p.chunks);
  p.rounds = 1;
  while (n > 1 && n * per_note + whole_overhead_ > room) n = (n + per_group - 1) / per_group, ++p.rounds;
  return p;
}

void Ask::Tick(const char* stage, size_t done, size_t total) {
  prog_.stage = stage;
  prog_.done = done;
  prog_.total = total;
  prog_.elapsed_s = Now() - t0_;
  if (progress_) progress_(prog_);
}

StatusOr<LlmReply> Ask::Call(const LlmRequest& r) {
  const int64_t before = prog_.gen_tokens;
  auto tick = [&](int64_t n) {
    prog_.gen_tokens = before + n;
    prog_.elapsed_s = Now() - t0_;
    if (progress_) progress_(prog_);
    return true;
  };
  ASSIGN_OR_RETURN(LlmReply rep, llm_.Complete(r, tick));
  prog_.gen_tokens = before + rep.gen_tokens;
  return rep;
}

// A note re-encodes to more tokens than were generated when the model's output tokenizes
// differently (odd characters, cut UTF-8): its tail is cut to the note budget so merging
// always progresses. This trims the model's own notes, never the input.
std::string Ask::ClampNote(std::string text) const {
  for (int i = 0; i < 20 && llm_.CountTokens(text) > o_.note_tokens; ++i) {
    size_t keep = text.size() * 8 / 10;
    while (keep > 0 && (static_cast<unsigned char>(text[keep]) & 0xC0) == 0x80) --keep;
    text.resize(keep);
  }
  return text;
}

StatusOr<LlmReply> Ask::Final(const std::string& user) {
  const LlmRequest req = Request(user, o_.answer_tokens, true);
  ASSIGN_OR_RETURN(int64_t n, llm_.PromptTokens(req));
  if (n + o_.answer_tokens > llm_.n_ctx())
    return OutOfRangeError("the final prompt takes " + std::to_string(n) + " tokens and " +
                           std::to_string(o_.answer_tokens) + " are reserved for the answer, over the context of " +
                           std::to_string(llm_.n_ctx()) + "; raise -c or lower --answer-tokens");
  Tick("answer", 0, 1);
  ASSIGN_OR_RETURN(LlmReply rep, Call(req));
  Tick("answer", 1, 1);
  if (esc_) {
    if (auto r = esc_->OnLocalAnswer(req, rep, rep.constraint_error.empty())) return *r;
  }
  return rep;
}

ingest::Chunk Ask::SubChunk(const ingest::Chunk& c, int64_t first, int64_t last) const {
  const ingest::Document& d = docs_[c.doc];
  ingest::Chunk s = c;
  s.first = first;
  s.last = last;
  const size_t a = d.starts[first - 1], b = last < static_cast<int64_t>(d.size()) ? d.starts[last] : d.text.size();
  s.text = d.text.substr(a, b - a);
  s.label = d.Label(first, last);
  return s;
}

Status Ask::MapChunk(const ingest::Chunk& c, std::vector<Note>* notes, int depth) {
  const LlmRequest req = Request(MapUser(Render(c)), o_.note_tokens, false);
  ASSIGN_OR_RETURN(int64_t n, llm_.PromptTokens(req));
  if (n + o_.note_tokens > llm_.n_ctx()) {  // the per-line estimate was low: halve and retry
    if (depth > 12) return InternalError("cannot fit " + c.label + " into the context");
    if (c.last > c.first) {
      const int64_t mid = c.first + (c.last - c.first) / 2;
      RETURN_IF_ERROR(MapChunk(SubChunk(c, c.first, mid), notes, depth + 1));
      return MapChunk(SubChunk(c, mid + 1, c.last), notes, depth + 1);
    }
    size_t half = c.text.size() / 2;
    while (half > 0 && (static_cast<unsigned char>(c.text[half]) & 0xC0) == 0x80) --half;
    ingest::Chunk a = c, b = c;
    a.text = c.text.substr(0, half);
    b.text = c.text.substr(half);
    RETURN_IF_ERROR(MapChunk(a, notes, depth + 1));
    return MapChunk(b, notes, depth + 1);
  }
  ASSIGN_OR_RETURN(LlmReply rep, Call(req));
  const std::string text = Trim(rep.text);
  if (text.empty() || text.rfind("NONE", 0) == 0) return OkStatus();
  notes->push_back(Note{ClampNote(text), {{c.doc, {c.first, c.last}}}});
  return OkStatus();
}

StatusOr<std::vector<Ask::Note>> Ask::MergeRound(std::vector<Note> notes) {
  ASSIGN_OR_RETURN(const int64_t base, llm_.PromptTokens(Request(MergeUser({}), 0, false)));
  const int64_t limit = llm_.n_ctx() - o_.note_tokens;
  std::vector<std::vector<Note>> groups(1);
  int64_t used = base;
  for (Note& n : notes) {
    const int64_t cost = llm_.CountTokens("[from " + RangesLabel(n) + "]\n" + n.text + "\n") + 2;
    if (!groups.back().empty() && used + cost > limit) groups.emplace_back(), used = base;
    used += cost;
    groups.back().push_back(std::move(n));
  }
  std::vector<Note> out;
  for (size_t g = 0; g < groups.size(); ++g) {
    Tick("merge", g, groups.size());
    if (groups[g].size() == 1) {
      out.push_back(std::move(groups[g][0]));
      continue;
    }
    ASSIGN_OR_RETURN(LlmReply rep, Call(Request(MergeUser(groups[g]), o_.note_tokens, false)));
    Note m{ClampNote(Trim(rep.text)), {}};
    for (const Note& n : groups[g]) m.ranges.insert(m.ranges.end(), n.ranges.begin(), n.ranges.end());
    out.push_back(std::move(m));
  }
  if (out.size() >= notes.size())
    return ResourceExhaustedError("the notes cannot be merged further: each is too long for the context of " +
                                  std::to_string(llm_.n_ctx()) + " tokens; raise -c or lower --note-tokens");
  return out;
}

StatusOr<LlmReply> Ask::RunMapReduce(int* rounds) {
  std::vector<Note> notes;
  for (size_t i = 0; i < chunks_.size(); ++i) {
    Tick("map", i, chunks_.size());
    RETURN_IF_ERROR(MapChunk(chunks_[i], &notes, 0));
  }
  Tick("map", chunks_.size(), chunks_.size());
  if (notes.empty()) notes.push_back(Note{"(no part of the input held anything relevant to the question)", {}});
  for (;;) {
    ASSIGN_OR_RETURN(int64_t n, llm_.PromptTokens(Request(FinalUser(notes), 0, true)));
    if (n + o_.answer_tokens <= llm_.n_ctx() || notes.size() == 1) break;
    ASSIGN_OR_RETURN(notes, MergeRound(std::move(notes)));
    ++*rounds;
  }
  ++*rounds;
  return Final(FinalUser(notes));
}

StatusOr<LlmReply> Ask::RunRetrieve() {
  Bm25 index;
  for (const auto& c : chunks_) index.Add(c.text);
  const std::vector<double> score = index.Score(o_.question);
  std::vector<size_t> order(chunks_.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return score[a] > score[b]; });
  const int64_t room = llm_.n_ctx() - o_.answer_tokens - whole_overhead_;
  std::vector<size_t> picked;
  int64_t used = 0;
  for (size_t i : order) {
    if (o_.top_k > 0 && static_cast<int>(picked.size()) >= o_.top_k) break;
    const int64_t cost = chunks_[i].tokens + 40;
    if (used + cost > room) continue;  // a smaller one further down may still fit
    used += cost;
    picked.push_back(i);
  }
  // Per-line counts are estimates: drop the lowest-ranked picks until the exact prompt fits.
  std::string sources;
  for (;;) {
    std::vector<size_t> in_order = picked;
    std::sort(in_order.begin(), in_order.end());  // in input order: easier to read, same labels
    sources.clear();
    for (size_t i : in_order) sources += Render(chunks_[i]) + "\n";
    ASSIGN_OR_RETURN(int64_t n, llm_.PromptTokens(Request(WholeUser(sources), 0, true)));
    if (n + o_.answer_tokens <= llm_.n_ctx() || picked.size() <= 1) break;
    used -= chunks_[picked.back()].tokens + 40;
    picked.pop_back();
  }
  plan_.retrieved = picked.size();
  plan_.retrieved_tokens = used;
  return Final(WholeUser(sources));
}

StatusOr<AskResult> Ask::Run(const ProgressFn& progress, Escalator* esc) {
  progress_ = progress;
  esc_ = esc;
  t0_ = Now();
  prog_ = AskProgress{};
  AskResult res;
  std::optional<LlmReply> reply;
  if (plan_.strategy != "whole" && esc_) {  // the escalation rule "does not fit" sees the whole input
    std::string all;
    for (size_t i = 0; i < docs_.size(); ++i)
      all += Render(SubChunk(WholeDoc(i), 1, static_cast<int64_t>(docs_[i].size()))) + "\n";
    reply = esc_->OnTooLarge(Request(WholeUser(all), o_.answer_tokens, true));
  }
  if (!reply) {
    StatusOr<LlmReply> r = InternalError("no plan: call MakePlan first");
    if (plan_.strategy == "whole") {
      std::string all;
      for (size_t i = 0; i < docs_.size(); ++i)
        if (docs_[i].size()) all += Render(SubChunk(WholeDoc(i), 1, static_cast<int64_t>(docs_[i].size()))) + "\n";
      r = Final(WholeUser(all));
      res.rounds = 1;
    } else if (plan_.strategy == "retrieve") {
      r = RunRetrieve();
      res.rounds = 1;
    } else if (plan_.strategy == "map-reduce") {
      r = RunMapReduce(&res.rounds);
    }
    if (!r.ok()) return r.status();
    reply = std::move(*r);
  }
  res.final_reply = std::move(*reply);
  res.raw_answer = res.final_reply.text;
  res.citations = FindCitations(res.raw_answer, docs_);
  res.answer = FlagInvalid(res.raw_answer, res.citations);
  res.plan = plan_;
  return res;
}

}  // namespace gemrun::ops
