// Chunking by token count at unit boundaries, with overlap (see chunk.h).
#include "ingest/chunk.h"

#include <algorithm>
#include <cctype>

namespace gemrun::ingest {
namespace {

bool Blank(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)); });
}

// Cuts a unit too long for one chunk into pieces of about max_tokens, at whitespace or at
// least at a UTF-8 character boundary; every piece keeps the unit's number.
void SplitUnit(const Document& d, size_t doc_index, size_t u, int64_t tokens, const ChunkOptions& opts,
               const TokenCounter& count, std::vector<Chunk>* out) {
  const std::string_view t = d.unit(u);
  const double bytes_per_tok = static_cast<double>(t.size()) / std::max<int64_t>(tokens, 1);
  const size_t step = std::max<size_t>(16, static_cast<size_t>(bytes_per_tok * opts.max_tokens * 0.8));
  size_t pos = 0;
  while (pos < t.size()) {
    size_t end = std::min(t.size(), pos + step);
    if (end < t.size()) {
      const size_t sp = t.rfind(' ', end);
      if (sp != std::string_view::npos && sp > pos + step / 2) end = sp + 1;
      while (end > pos + 1 && (static_cast<unsigned char>(t[end]) & 0xC0) == 0x80) --end;
    }
    Chunk c;
    c.doc = doc_index;
    c.first = c.last = static_cast<int64_t>(u) + 1;
    c.text = std::string(t.substr(pos, end - pos));
    c.tokens = count(c.text);
    c.label = d.Label(c.first, c.last);
    out->push_back(std::move(c));
    pos = end;
  }
}

}  // namespace

std::vector<int64_t> CountUnits(const Document& d, const TokenCounter& count) {
  std::vector<int64_t> n(d.size());
  for (size_t i = 0; i < d.size(); ++i) n[i] = count(d.unit(i));
  return n;
}

std::vector<Chunk> ChunkDocument(const Document& d, size_t doc_index, const std::vector<int64_t>& ut,
                                 const ChunkOptions& opts, const TokenCounter& count) {
  std::vector<Chunk> out;
  const size_t n = d.size();
  const int64_t max = std::max<int64_t>(opts.max_tokens, 1);
  size_t i = 0;
  while (i < n) {
    if (ut[i] > max) {
      SplitUnit(d, doc_index, i, ut[i], opts, count, &out);
      ++i;
      continue;
    }
    size_t j = i, para = 0;
    int64_t sum = 0, sum_at_para = 0;
    while (j < n && ut[j] <= max && sum + ut[j] <= max) {
      sum += ut[j];
      if (j > i && Blank(d.unit(j))) para = j, sum_at_para = sum;
      ++j;
    }
    // A paragraph break in the last quarter makes a better cut than the budget's edge.
    if (j < n && para > i && sum_at_para * 4 >= max * 3) j = para + 1, sum = sum_at_para;
    Chunk c;
    c.doc = doc_index;
    c.first = static_cast<int64_t>(i) + 1;
    c.last = static_cast<int64_t>(j);
    c.text.assign(d.text, d.starts[i], (j < n ? d.starts[j] : d.text.size()) - d.starts[i]);
    c.tokens = sum;
    c.label = d.Label(c.first, c.last);
    out.push_back(std::move(c));
    if (j >= n) break;
    if (ut[j] > max) {  // the next unit is split on its own; no overlap into it
      i = j;
      continue;
    }
    size_t k = j;
    int64_t ov = 0;
    while (k > i + 1 && ov < opts.overlap_tokens) ov += ut[--k];
    i = k;
  }
  return out;
}

}  // namespace gemrun::ingest
