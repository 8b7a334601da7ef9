// Citations in an answer (`file:12`, `file:12-40`, `file#3`, `file#3-4`), checked against the
// ingested sources: a range that does not exist in the input is flagged, never passed off.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ingest/ingest.h"

namespace gemrun::ops {

struct Citation {
  std::string text;     // as written in the answer
  std::string source;   // the document's name it resolved to ("" when none)
  int64_t first = 0, last = 0;
  bool valid = false;
  std::string problem;  // why not valid
};

// Finds citation-like references in `answer`. A reference counts when its name resolves to an
// input document (exactly, or as a path suffix of exactly one) or looks like a file name (has a
// '.' or '/'), so times (12:30:01) and bare "host:port" pairs are not taken for citations.
std::vector<Citation> FindCitations(const std::string& answer, const std::vector<ingest::Document>& docs);

// Appends " [not in the input]" after each invalid citation in `answer`.
std::string FlagInvalid(const std::string& answer, const std::vector<Citation>& cites);

}  // namespace gemrun::ops
