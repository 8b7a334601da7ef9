// Ingest: inputs (stdin, files, directory trees) -> documents of text with source positions.
// Decoding uses Debian's libraries (zlib, libzstd, liblzma, poppler-cpp, libxml2); every unit of
// text keeps where it came from (`file:line`, or `file#page` for PDFs) so answers can cite it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace gemrun::ingest {

// One decoded input. Units are lines (numbered from 1, each ending in '\n') or, for paged
// formats, pages (numbered from 1). All unit texts are stored back to back in `text`.
struct Document {
  std::string name;    // the path as found, or "stdin"
  bool paged = false;  // units are pages: cite as name#N; else lines: name:N
  std::string text;
  std::vector<size_t> starts;  // byte offset of unit i (number i + 1) in `text`

  size_t size() const { return starts.size(); }
  std::string_view unit(size_t i) const {
    const size_t end = i + 1 < starts.size() ? starts[i + 1] : text.size();
    return std::string_view(text).substr(starts[i], end - starts[i]);
  }
  // Appends a unit (a '\n' is added when missing).
  void Add(std::string_view unit_text);
  // "name:3", "name:3-9", "name#2", "name#2-4" for units first..last (1-based, inclusive).
  std::string Label(int64_t first, int64_t last) const;
};

// Limits that turn hostile or huge inputs into clear errors (never a silent truncation).
struct IngestLimits {
  uint64_t max_file_bytes = uint64_t{1} << 30;      // one file as stored
  uint64_t max_decoded_bytes = uint64_t{1} << 30;   // one file after decompression (bomb cap)
  uint64_t max_total_bytes = uint64_t{4} << 30;     // all inputs together, decoded
};

struct IngestOptions {
  std::vector<std::string> include;  // globs; when given, a file must match one
  std::vector<std::string> exclude;  // globs; matching files and directories are skipped
  bool gitignore = true;             // honour .gitignore files inside walked directories
  IngestLimits limits;
};

struct IngestResult {
  std::vector<Document> docs;
  std::vector<std::string> notes;  // skipped files and other remarks, for stderr
  uint64_t total_bytes = 0;
};

// Decodes one input's bytes by name and content: .gz/.zst/.xz (also by magic), PDF, HTML,
// `journalctl -o json` lines, and anything else that is text. Binary content is an
// Unimplemented error whose message says so (callers walking directories skip it with a note).
StatusOr<Document> DecodeBytes(const std::string& name, std::string bytes, const IngestLimits& limits,
                               std::vector<std::string>* notes);

// Reads files and directories (recursively, sorted, .gitignore and globs applied; binary files
// skipped with a note). A missing path or a corrupt file is an error naming it.
Status IngestPaths(const std::vector<std::string>& paths, const IngestOptions& opts, IngestResult* out);

// Adds an already-read stream (e.g. stdin) under `name`.
Status IngestBytes(const std::string& name, std::string bytes, const IngestOptions& opts, IngestResult* out);

// --- pieces, exposed for tests ---

// Decompression with a cap on the output: an output over `cap` bytes is an error, not a cut.
enum class Compression { kNone, kGzip, kZstd, kXz };
Compression DetectCompression(std::string_view bytes);
StatusOr<std::string> Decompress(Compression c, std::string_view in, uint64_t cap, const std::string& name);

StatusOr<Document> DecodePdf(const std::string& name, std::string_view bytes);
StatusOr<Document> DecodeHtml(const std::string& name, std::string_view bytes);
// True when the first line is a JSON object with journald's MESSAGE field.
bool LooksLikeJournalJson(std::string_view text);
// One "TIMESTAMP UNIT: MESSAGE" line per input line (line numbers kept).
Document DecodeJournalJson(const std::string& name, std::string_view text);
// Splits text into lines.
Document DecodeText(const std::string& name, std::string_view text);
// Heuristic: NUL bytes or mostly non-text bytes in the first 8 KiB.
bool LooksBinary(std::string_view bytes);

}  // namespace gemrun::ingest
