// Chunking: documents -> pieces that fit a token budget, cut at line / paragraph / page
// boundaries with an overlap, each keeping its source range for citations.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "ingest/ingest.h"

namespace gemrun::ingest {

// Counts tokens of a text (the model's tokenizer in production; a stub in tests).
using TokenCounter = std::function<int64_t(std::string_view)>;

struct Chunk {
  size_t doc = 0;           // index into the documents
  int64_t first = 0, last = 0;  // unit numbers (1-based, inclusive)
  std::string text;
  int64_t tokens = 0;
  std::string label;        // Document::Label(first, last)
};

struct ChunkOptions {
  int64_t max_tokens = 3000;  // per chunk
  int64_t overlap_tokens = 200;  // repeated from the end of the previous chunk
};

// Per-unit token counts of a document.
std::vector<int64_t> CountUnits(const Document& d, const TokenCounter& count);

// Cuts every document into chunks of at most max_tokens (a unit longer than that is split
// inside itself and keeps its number). Prefers to cut after a blank line (paragraph) when one
// lies in the last quarter of a chunk. Consecutive chunks of a document share at least
// overlap_tokens of whole units when units are small enough, and always advance.
std::vector<Chunk> ChunkDocument(const Document& d, size_t doc_index, const std::vector<int64_t>& unit_tokens,
                                 const ChunkOptions& opts, const TokenCounter& count);

}  // namespace gemrun::ingest
