// MergeConfigFile: option files as arguments (see config_args.h).
#include "cli/config_args.h"

#include <sys/stat.h>

#include <cstring>
#include <map>

namespace gemrun::cli {
namespace {

bool FileExists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0;
}

// The option a command-line word names ("--port=80" -> --port, "-c4096" -> -c), or nullptr.
const CLI::Option* OptionOfWord(const CLI::App& app, const std::string& w) {
  if (w.size() < 2 || w[0] != '-') return nullptr;
  std::string name = w.rfind("--", 0) == 0 ? w.substr(0, w.find('=')) : w.substr(0, 2);
  return app.get_option_no_throw(name);
}

ConfigOption::Kind KindOf(const CLI::Option& o) {
  if (o.get_expected_max() == 0) return ConfigOption::Kind::kFlag;  // add_flag: expected(0)
  return o.get_expected_max() > 1 ? ConfigOption::Kind::kList : ConfigOption::Kind::kValue;
}

}  // namespace

Status MergeConfigFile(const CLI::App& app, int argc, char** argv, const std::string& default_path, MergedArgs* out) {
  std::string path;
  bool explicit_path = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--config") && i + 1 < argc) path = argv[i + 1], explicit_path = true;
    else if (!std::strncmp(argv[i], "--config=", 9)) path = argv[i] + 9, explicit_path = true;
  }
  if (!explicit_path && FileExists(default_path)) path = default_path;
  if (path == "none") path.clear();
  out->storage.assign(argv, argv + argc);  // argv[0] is the subcommand
  if (!path.empty()) {
    ASSIGN_OR_RETURN(out->entries, ReadConfigFile(path));
    out->file = path;
    std::map<std::string, ConfigOption> known;  // by every long name
    for (const CLI::Option* o : app.get_options()) {
      for (const std::string& l : o->get_lnames()) known["--" + l] = ConfigOption{"--" + l, KindOf(*o), false};
    }
    for (int i = 1; i < argc; ++i)
      if (const CLI::Option* o = OptionOfWord(app, argv[i]))
        for (const std::string& l : o->get_lnames()) known["--" + l].on_command_line = true;
    auto lookup = [&](const std::string& flag) -> const ConfigOption* {
      auto it = known.find(flag);
      return it == known.end() ? nullptr : &it->second;
    };
    ASSIGN_OR_RETURN(std::vector<std::string> args, ConfigToArgs(out->entries, lookup, path, {"--config", "--help"}));
    out->storage.insert(out->storage.begin() + 1, args.begin(), args.end());
  }
  out->ptrs.clear();
  for (auto& s : out->storage) out->ptrs.push_back(s.data());
  out->ptrs.push_back(nullptr);
  return OkStatus();
}

std::string ExplainConfigError(const CLI::App& app, const MergedArgs& m, const std::string& message) {
  if (m.file.empty()) return message;
  for (const CLI::Option* o : app.get_options())
    for (const std::string& l : o->get_lnames()) {
      const std::string where = ConfigWhere(m.entries, "--" + l, m.file);
      if (!where.empty() && message.find("--" + l) != std::string::npos) return message + " (set in " + where + ")";
    }
  return message + " (options from " + m.file + ")";
}

}  // namespace gemrun::cli
