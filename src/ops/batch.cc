// Input lines, OUT records, resume scan and the in-order writer of `gemrun batch` (see batch.h).
#include "ops/batch.h"

namespace gemrun::ops {
namespace {

bool IsBlank(std::string_view s) { return s.find_first_not_of(" \t\r\f\v") == std::string_view::npos; }

}  // namespace

std::vector<BatchLine> SplitBatchInput(std::string_view text) {
  std::vector<BatchLine> lines;
  int64_t number = 0;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!IsBlank(line)) lines.push_back({number, line});
  }
  return lines;
}

StatusOr<BatchResume> ScanBatchOutput(std::string_view out, const std::vector<BatchLine>& lines) {
  BatchResume r;
  uint64_t pos = 0;
  while (pos < out.size()) {
    const size_t nl = out.find('\n', pos);
    const bool last = nl == std::string_view::npos || nl + 1 == out.size();
    const std::string_view rec = out.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    const nlohmann::json j = nlohmann::json::parse(rec, nullptr, /*allow_exceptions=*/false);
    // A killed run leaves at most its last record torn: cut short (no newline), or not JSON.
    if (nl == std::string_view::npos || j.is_discarded() || !j.is_object()) {
      if (!last)
        return DataLossError("OUT record " + std::to_string(r.done + 1) + " is not a JSON object; OUT was not "
                             "written by `gemrun batch` for this input (use another -o, or drop --resume)");
      r.torn = true;
      break;
    }
    if (r.done >= lines.size())
      return DataLossError("OUT holds more records than the input has requests (" + std::to_string(lines.size()) +
                           "); it belongs to another input (use another -o, or drop --resume)");
    const int64_t want = lines[r.done].number;
    if (!j.contains("line") || !j["line"].is_number_integer() || j["line"].get<int64_t>() != want)
      return DataLossError("OUT record " + std::to_string(r.done + 1) + " is not for input line " +
                           std::to_string(want) + " (it says line " + (j.contains("line") ? j["line"].dump() : "nothing") +
                           "); it belongs to another input (use another -o, or drop --resume)");
    ++r.done;
    if (j.contains("error") && !j["error"].is_null()) ++r.failed;
    pos = nl + 1;
    r.keep_bytes = pos;
  }
  return r;
}

BatchId BatchIdOf(const nlohmann::json& line) {
  if (!line.is_object()) return {};
  for (const char* key : {"custom_id", "id"})
    if (line.contains(key)) return BatchId{key, line[key]};
  return {};
}

namespace {

nlohmann::json Record(int64_t line, const BatchId& id) {
  nlohmann::json j = {{"line", line}};
  if (!id.key.empty()) j[id.key] = id.value;
  return j;
}

std::string Dump(const nlohmann::json& j) {
  // Invalid UTF-8 in a generated answer is replaced, never a throw that would stop the batch.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

std::string BatchResultRecord(int64_t line, const BatchId& id, const nlohmann::json& response) {
  nlohmann::json j = Record(line, id);
  j["response"] = response;
  j["error"] = nullptr;
  return Dump(j);
}

std::string BatchErrorRecord(int64_t line, const BatchId& id, const std::string& type, const std::string& message,
                             const std::string& code) {
  nlohmann::json j = Record(line, id);
  j["response"] = nullptr;
  j["error"] = {{"type", type}, {"message", message}};
  if (!code.empty()) j["error"]["code"] = code;
  return Dump(j);
}

Status OrderedWriter::Put(size_t index, std::string record) {
  if (index < next_ || waiting_.count(index))
    return InvalidArgumentError("batch record " + std::to_string(index) + " was given twice");
  waiting_.emplace(index, std::move(record));
  for (auto it = waiting_.begin(); it != waiting_.end() && it->first == next_; it = waiting_.erase(it)) {
    RETURN_IF_ERROR(sink_(it->second));
    ++next_;
  }
  return OkStatus();
}

}  // namespace gemrun::ops
