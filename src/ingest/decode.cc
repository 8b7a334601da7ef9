// Documents, format detection and the text-like formats: plain text and logs, JSON/YAML (as
// text), `journalctl -o json` lines; dispatch to the decompressors, PDF and HTML decoders.
#include <algorithm>
#include <cctype>
#include <ctime>
#include <nlohmann/json.hpp>

#include "ingest/ingest.h"

namespace gemrun::ingest {

void Document::Add(std::string_view u) {
  starts.push_back(text.size());
  text.append(u);
  if (u.empty() || u.back() != '\n') text.push_back('\n');
}

std::string Document::Label(int64_t first, int64_t last) const {
  std::string s = name + (paged ? "#" : ":") + std::to_string(first);
  if (last != first) s += "-" + std::to_string(last);
  return s;
}

Document DecodeText(const std::string& name, std::string_view t) {
  Document d;
  d.name = name;
  d.text.reserve(t.size() + 1);
  size_t pos = 0;
  while (pos < t.size()) {
    size_t nl = t.find('\n', pos);
    if (nl == std::string_view::npos) nl = t.size() - 1;
    std::string_view line = t.substr(pos, nl - pos + 1);
    if (line.size() >= 2 && line[line.size() - 2] == '\r') {  // CRLF -> LF
      d.Add(line.substr(0, line.size() - 2));
    } else {
      d.Add(line);
    }
    pos = nl + 1;
  }
  return d;
}

bool LooksBinary(std::string_view b) {
  const std::string_view head = b.substr(0, 8192);
  if (head.find('\0') != std::string_view::npos) return true;
  size_t odd = 0;
  for (unsigned char c : head)
    if (c < 0x20 && c != '\n' && c != '\r' && c != '\t' && c != '\f' && c != 0x1b) ++odd;
  return head.size() > 0 && odd * 10 > head.size();  // over 10% control bytes
}

bool LooksLikeJournalJson(std::string_view t) {
  const size_t nl = t.find('\n');
  const std::string_view first = t.substr(0, nl);
  if (first.empty() || first[0] != '{') return false;
  const auto j = nlohmann::json::parse(first, nullptr, /*allow_exceptions=*/false);
  return j.is_object() && j.contains("MESSAGE") && (j.contains("__REALTIME_TIMESTAMP") || j.contains("_SYSTEMD_UNIT"));
}

namespace {

std::string JournalField(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_array()) {  // journald writes non-UTF-8 messages as byte arrays
    std::string s;
    for (const auto& b : *it)
      if (b.is_number_unsigned()) s.push_back(static_cast<char>(b.get<unsigned>() & 0xff));
    return s;
  }
  return it->dump();
}

std::string JournalLine(std::string_view line) {
  const auto j = nlohmann::json::parse(line, nullptr, false);
  if (!j.is_object()) return std::string(line);  // kept as is
  std::string ts = JournalField(j, "__REALTIME_TIMESTAMP");
  if (!ts.empty() && std::all_of(ts.begin(), ts.end(), ::isdigit)) {
    const long long us = std::stoll(ts);
    const time_t sec = static_cast<time_t>(us / 1000000);
    std::tm tm{};
    gmtime_r(&sec, &tm);
    char buf[48];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, us % 1000000);
    ts = buf;
  }
  std::string unit = JournalField(j, "_SYSTEMD_UNIT");
  if (unit.empty()) unit = JournalField(j, "SYSLOG_IDENTIFIER");
  if (unit.empty()) unit = "-";
  std::string msg = JournalField(j, "MESSAGE");
  std::replace(msg.begin(), msg.end(), '\n', ' ');
  return ts + " " + unit + ": " + msg;
}

std::string Lower(std::string_view s) {
  std::string r(s);
  for (char& c : r) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return r;
}

bool EndsWith(std::string_view s, std::string_view suf) {
  return s.size() >= suf.size() && s.substr(s.size() - suf.size()) == suf;
}

bool LooksHtml(std::string_view name, std::string_view b) {
  if (EndsWith(name, ".html") || EndsWith(name, ".htm") || EndsWith(name, ".xhtml")) return true;
  size_t i = 0;
  while (i < b.size() && std::isspace(static_cast<unsigned char>(b[i]))) ++i;
  const std::string head = Lower(b.substr(i, 15));
  return head.starts_with("<!doctype html") || head.starts_with("<html");
}

}  // namespace

Document DecodeJournalJson(const std::string& name, std::string_view t) {
  Document d;
  d.name = name;
  size_t pos = 0;
  while (pos < t.size()) {
    size_t nl = t.find('\n', pos);
    if (nl == std::string_view::npos) nl = t.size();
    d.Add(JournalLine(t.substr(pos, nl - pos)));
    pos = nl + 1;
  }
  return d;
}

StatusOr<Document> DecodeBytes(const std::string& name, std::string bytes, const IngestLimits& limits,
                               std::vector<std::string>* notes) {
  std::string inner = Lower(name);  // the name that says the format, compression suffix removed
  const Compression c = DetectCompression(bytes);
  if (c != Compression::kNone) {
    ASSIGN_OR_RETURN(bytes, Decompress(c, bytes, limits.max_decoded_bytes, name));
    for (const char* suf : {".gz", ".zst", ".xz", ".tgz"})
      if (EndsWith(inner, suf)) inner.resize(inner.size() - std::string_view(suf).size());
  } else if (bytes.size() > limits.max_decoded_bytes) {
    return InvalidArgumentError(name + ": " + std::to_string(bytes.size() >> 20) + " MiB is over the " +
                                std::to_string(limits.max_decoded_bytes >> 20) + " MiB cap per file; raise --max-bytes");
  }
  if (bytes.starts_with("%PDF-") || EndsWith(inner, ".pdf")) return DecodePdf(name, bytes);
  if (LooksHtml(inner, bytes)) return DecodeHtml(name, bytes);
  if (LooksBinary(bytes))
    return UnimplementedError(name + ": binary content (not text, PDF, HTML or a known compressed format)");
  if (LooksLikeJournalJson(bytes)) return DecodeJournalJson(name, bytes);
  (void)notes;
  return DecodeText(name, bytes);
}

}  // namespace gemrun::ingest
