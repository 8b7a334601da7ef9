// ParseConfigText / ConfigToArgs: the TOML subset of option files (see config_file.h).
#include "base/config_file.h"

#include <fstream>
#include <set>
#include <sstream>

namespace gemrun {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

bool IsKeyChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

// The flag a key names: max_connections -> --max-connections.
std::string FlagOf(const std::string& key) {
  std::string f = "--" + key;
  for (char& c : f)
    if (c == '_') c = '-';
  return f;
}

// Reads one value at the start of *s (a string, or a bare word up to ',' ']' '#' or the end),
// advancing *s past it. `err` says what is wrong.
bool ReadValue(std::string_view* s, std::string* out, bool* quoted, std::string* err) {
  *s = Trim(*s);
  out->clear();
  *quoted = false;
  if (s->empty()) { *err = "missing value"; return false; }
  const char q = s->front();
  if (q == '"' || q == '\'') {
    *quoted = true;
    size_t i = 1;
    for (; i < s->size() && (*s)[i] != q; ++i) {
      char c = (*s)[i];
      if (q == '"' && c == '\\') {
        if (++i == s->size()) break;
        switch ((*s)[i]) {
          case 'n': c = '\n'; break;
          case 't': c = '\t'; break;
          case '"': c = '"'; break;
          case '\\': c = '\\'; break;
          default: *err = std::string("unknown escape \\") + (*s)[i]; return false;
        }
      }
      out->push_back(c);
    }
    if (i >= s->size()) { *err = "unterminated string"; return false; }
    s->remove_prefix(i + 1);
    return true;
  }
  size_t i = 0;
  while (i < s->size() && (*s)[i] != ',' && (*s)[i] != ']' && (*s)[i] != '#') ++i;
  *out = std::string(Trim(s->substr(0, i)));
  s->remove_prefix(i);
  if (out->empty()) { *err = "missing value"; return false; }
  for (char c : *out)
    if (c == ' ' || c == '\t' || c == '=' || c == '"' || c == '\'' || c == '[') {
      *err = "'" + *out + "' is not a value (quote strings: \"...\")";
      return false;
    }
  return true;
}

// Parses the text after '=' into `e`; false with `err` set when malformed.
bool ParseValue(std::string_view v, ConfigEntry* e, std::string* err) {
  v = Trim(v);
  if (!v.empty() && v.front() == '[') {
    e->is_array = true;
    e->quoted = true;
    v.remove_prefix(1);
    while (true) {
      v = Trim(v);
      if (!v.empty() && v.front() == ']') { v.remove_prefix(1); break; }
      std::string item;
      bool quoted = false;
      if (!ReadValue(&v, &item, &quoted, err)) return false;
      e->values.push_back(item);
      v = Trim(v);
      if (!v.empty() && v.front() == ',') { v.remove_prefix(1); continue; }
      if (!v.empty() && v.front() == ']') { v.remove_prefix(1); break; }
      *err = "expected ',' or ']' in the array (arrays must end on their line)";
      return false;
    }
  } else {
    std::string item;
    if (!ReadValue(&v, &item, &e->quoted, err)) return false;
    e->values.push_back(item);
  }
  v = Trim(v);
  if (!v.empty() && v.front() != '#') {
    *err = "unexpected text after the value: '" + std::string(v) + "'";
    return false;
  }
  return true;
}

}  // namespace

StatusOr<std::vector<ConfigEntry>> ParseConfigText(std::string_view text, const std::string& file) {
  std::vector<ConfigEntry> out;
  std::set<std::string> seen;
  int line_no = 0;
  while (!text.empty()) {
    const size_t nl = std::min(text.find('\n'), text.size());
    std::string_view line = Trim(text.substr(0, nl));
    text.remove_prefix(std::min(nl + 1, text.size()));
    ++line_no;
    const std::string where = file + ":" + std::to_string(line_no) + ": ";
    if (line.empty() || line.front() == '#') continue;
    if (line.front() == '[')
      return InvalidArgumentError(where + "tables ('" + std::string(line) + "') are not supported: write the options "
                                  "as key = value lines at the top level");
    size_t k = 0;
    while (k < line.size() && IsKeyChar(line[k])) ++k;
    ConfigEntry e;
    e.key = std::string(line.substr(0, k));
    e.line = line_no;
    std::string_view rest = Trim(line.substr(k));
    if (e.key.empty() || rest.empty() || rest.front() != '=')
      return InvalidArgumentError(where + "expected 'key = value', got '" + std::string(line) + "'");
    rest.remove_prefix(1);
    std::string err;
    if (!ParseValue(rest, &e, &err)) return InvalidArgumentError(where + e.key + ": " + err);
    std::string canon = FlagOf(e.key);
    if (!seen.insert(canon).second) return InvalidArgumentError(where + "key '" + e.key + "' is set twice");
    out.push_back(std::move(e));
  }
  return out;
}

StatusOr<std::vector<ConfigEntry>> ReadConfigFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFoundError("cannot read the config file " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ParseConfigText(ss.str(), path);
}

StatusOr<std::vector<std::string>> ConfigToArgs(const std::vector<ConfigEntry>& entries, const ConfigLookup& lookup,
                                                const std::string& file, const std::vector<std::string>& forbidden) {
  std::vector<std::string> args;
  for (const ConfigEntry& e : entries) {
    const std::string where = file + ":" + std::to_string(e.line) + ": ";
    const std::string flag = FlagOf(e.key);
    for (const std::string& f : forbidden)
      if (flag == f) return InvalidArgumentError(where + "'" + e.key + "' cannot be set in a config file");
    const ConfigOption* o = lookup(flag);
    if (!o) return InvalidArgumentError(where + "unknown key '" + e.key + "' (no option " + flag + "; see --help)");
    if (o->on_command_line) continue;  // the command line wins
    switch (o->kind) {
      case ConfigOption::Kind::kFlag: {
        const std::string& v = e.values.empty() ? std::string() : e.values[0];
        if (e.is_array || e.quoted || (v != "true" && v != "false"))
          return InvalidArgumentError(where + e.key + " is a switch: its value must be true or false");
        if (v == "true") args.push_back(o->flag);
        break;
      }
      case ConfigOption::Kind::kValue:
        if (e.is_array) return InvalidArgumentError(where + e.key + " takes one value, not an array");
        args.push_back(o->flag + "=" + e.values[0]);  // one word: a value may start with '-'
        break;
      case ConfigOption::Kind::kList:
        for (const std::string& v : e.values) args.push_back(o->flag + "=" + v);
        break;
    }
  }
  return args;
}

std::string ConfigWhere(const std::vector<ConfigEntry>& entries, const std::string& flag, const std::string& file) {
  for (const ConfigEntry& e : entries)
    if (FlagOf(e.key) == flag) return file + ":" + std::to_string(e.line);
  return "";
}

}  // namespace gemrun
