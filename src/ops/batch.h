// `gemrun batch` bookkeeping that needs no model: the input's request lines, the records
// written to OUT, resuming from what an earlier (maybe killed) run left in OUT, and writing
// results in input order while they complete in any order. The generation itself runs on the
// engine's Batcher (engine/batcher.h), driven by cli/cmd_batch.cc.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace gemrun::ops {

// One request line of the input. Blank lines (only whitespace) hold no request and get no
// record; `number` stays the physical line number (1-based), as editors show it.
struct BatchLine {
  int64_t number = 0;
  std::string_view text;  // without the newline (and a trailing '\r')
};
// Splits the input into request lines; `text` must outlive the result.
std::vector<BatchLine> SplitBatchInput(std::string_view text);

// What OUT already holds, for --resume.
struct BatchResume {
  size_t done = 0;          // records for lines[0, done): those lines are skipped
  uint64_t keep_bytes = 0;  // OUT is truncated to this (drops a torn last record)
  bool torn = false;        // a torn last record was found (a killed run was writing it)
  size_t failed = 0;        // of the `done` records, those with an error
};
// Reads OUT's records against the input: each complete line must be a JSON object whose
// "line" is the next request line's number. A last line without its newline, or one that is
// not JSON, is torn (dropped, redone). Anything else (a bad record before the last, a record
// for another line, more records than requests) is DataLoss: OUT belongs to another input.
StatusOr<BatchResume> ScanBatchOutput(std::string_view out, const std::vector<BatchLine>& lines);

// The request's echo field: "custom_id" or "id" as the input named it (both: custom_id).
struct BatchId {
  std::string key;       // "" when the line had none
  nlohmann::json value;
};
BatchId BatchIdOf(const nlohmann::json& line);

// One OUT record: {"line", <id key>: value, "response": ..., "error": null} or the same with
// "response": null and "error": {"type", "message"[, "code"]}. One line, no newline.
std::string BatchResultRecord(int64_t line, const BatchId& id, const nlohmann::json& response);
std::string BatchErrorRecord(int64_t line, const BatchId& id, const std::string& type, const std::string& message,
                             const std::string& code = "");

// Hands records to `sink` in index order: Put may come in any order; each record waits until
// all before it were written. Not thread-safe (the batch driver is one thread).
class OrderedWriter {
 public:
  using Sink = std::function<Status(const std::string& record)>;
  // `first`: the index of the first record still to write (resume: BatchResume::done).
  OrderedWriter(size_t first, Sink sink) : next_(first), sink_(std::move(sink)) {}
  // InvalidArgument for an index already written or given twice; the sink's error otherwise.
  Status Put(size_t index, std::string record);
  size_t next() const { return next_; }              // records written so far end here
  size_t buffered() const { return waiting_.size(); }  // completed, waiting for an earlier one

 private:
  size_t next_;
  Sink sink_;
  std::map<size_t, std::string> waiting_;
};

}  // namespace gemrun::ops
