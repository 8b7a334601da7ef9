// Option files (`gemrun serve --config /etc/gemrun/serve.toml`): a small TOML subset, one
// `key = value` per line, turned into the command-line arguments they stand for, so that every
// option of a command can be set in the file, the command line's own flags win, and the
// command's parser validates file values exactly as it validates flags. Pure: no CLI library.
//
// Accepted: `# comments`, blank lines, keys of [A-Za-z0-9_-] (`max_connections` and
// `max-connections` both name --max-connections), values "double-quoted" (\" \\ \n \t
// escapes), 'literal', bare numbers or words (true / false for flags), and [ "a", "b" ] arrays
// for repeatable options. Not accepted (an error naming the line): [tables], multi-line
// strings, dotted keys, a key given twice.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace gemrun {

struct ConfigEntry {
  std::string key;                  // as written
  std::vector<std::string> values;  // one for scalars, any number for an array
  bool is_array = false;
  bool quoted = false;              // a string value (never a flag's true / false)
  int line = 0;                     // 1-based
};

// InvalidArgument "FILE:LINE: ..." for malformed lines.
StatusOr<std::vector<ConfigEntry>> ParseConfigText(std::string_view text, const std::string& file);
// Reads and parses a file (NotFound when it cannot be opened).
StatusOr<std::vector<ConfigEntry>> ReadConfigFile(const std::string& path);

// What the command knows about the option a key names.
struct ConfigOption {
  enum class Kind { kFlag, kValue, kList };
  std::string flag;               // "--max-connections"
  Kind kind = Kind::kValue;
  bool on_command_line = false;   // given on the command line: it wins, the file's value is skipped
};
// Looks up "--" + key with '_' as '-'; nullptr for an unknown option.
using ConfigLookup = std::function<const ConfigOption*(const std::string& flag)>;

// The arguments the entries stand for ("--port=8080", "--log-prompts", ...), leaving out
// options given on the command line and flags set to false. Errors (InvalidArgument
// "FILE:LINE: ...") for an unknown key (naming it), a flag whose value is not true / false, an
// array for a single-valued option, or a key the caller forbids in files (`forbidden`, e.g.
// "--config").
StatusOr<std::vector<std::string>> ConfigToArgs(const std::vector<ConfigEntry>& entries, const ConfigLookup& lookup,
                                                const std::string& file,
                                                const std::vector<std::string>& forbidden = {});

// "FILE:LINE" of the entry that set `flag` ("" when the file did not set it): for messages
// about a value the command's parser rejected.
std::string ConfigWhere(const std::vector<ConfigEntry>& entries, const std::string& flag, const std::string& file);

}  // namespace gemrun
