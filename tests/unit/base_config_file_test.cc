// Option files (base/config_file.h): the TOML subset, errors naming the key and line, and the
// precedence of the command line over the file.
#include "base/config_file.h"

#include <gtest/gtest.h>

#include <map>

namespace gemrun {
namespace {

// A command with --port (value), --log-prompts (flag), --stop (repeatable) and --host.
struct Options {
  std::map<std::string, ConfigOption> known = {
      {"--port", {"--port", ConfigOption::Kind::kValue, false}},
      {"--host", {"--host", ConfigOption::Kind::kValue, false}},
      {"--log-prompts", {"--log-prompts", ConfigOption::Kind::kFlag, false}},
      {"--max-connections", {"--max-connections", ConfigOption::Kind::kValue, false}},
      {"--stop", {"--stop", ConfigOption::Kind::kList, false}},
      {"--config", {"--config", ConfigOption::Kind::kValue, false}},
  };
  ConfigLookup Lookup() {
    return [this](const std::string& f) -> const ConfigOption* {
      auto it = known.find(f);
      return it == known.end() ? nullptr : &it->second;
    };
  }
};

StatusOr<std::vector<std::string>> Args(const std::string& text, Options& o) {
  ASSIGN_OR_RETURN(auto entries, ParseConfigText(text, "serve.toml"));
  return ConfigToArgs(entries, o.Lookup(), "serve.toml", {"--config"});
}

TEST(ConfigFile, ParsesTheSubset) {
  Options o;
  auto a = Args("# comment\n\nport = 8080   # trailing comment\nhost = \"0.0.0.0\"\nlog_prompts = true\n"
                "max-connections = 64\nstop = [\"</s>\", 'a\\b', \"x\\\"y\"]\n", o);
  ASSERT_TRUE(a.ok()) << a.status().message();
  const std::vector<std::string> want = {"--port=8080", "--host=0.0.0.0", "--log-prompts", "--max-connections=64",
                                         "--stop=</s>", "--stop=a\\b", "--stop=x\"y"};
  EXPECT_EQ(*a, want);
  auto off = Args("log_prompts = false\n", o);
  ASSERT_TRUE(off.ok());
  EXPECT_TRUE(off->empty());  // a false switch adds nothing
}

TEST(ConfigFile, UnknownKeyNamesKeyAndLine) {
  Options o;
  auto a = Args("port = 1\n\n# x\nprot = 8080\n", o);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(a.status().message().find("serve.toml:4"), std::string::npos) << a.status().message();
  EXPECT_NE(a.status().message().find("'prot'"), std::string::npos) << a.status().message();
}

TEST(ConfigFile, BadValuesNameTheLine) {
  Options o;
  struct Case { const char* text; const char* needle; };
  for (const Case& c : {Case{"log_prompts = yes\n", "serve.toml:1: log_prompts is a switch"},
                        Case{"port = [1, 2]\n", "serve.toml:1: port takes one value"},
                        Case{"\nhost = \"open\n", "serve.toml:2: host: unterminated string"},
                        Case{"host = two words\n", "serve.toml:1: host:"},
                        Case{"port 8080\n", "serve.toml:1: expected 'key = value'"},
                        Case{"[serve]\n", "serve.toml:1: tables"},
                        Case{"port = 1\nport = 2\n", "serve.toml:2: key 'port' is set twice"},
                        Case{"config = \"/x\"\n", "serve.toml:1: 'config' cannot be set"},
                        Case{"host = \"a\\q\"\n", "unknown escape"}}) {
    auto a = Args(c.text, o);
    ASSERT_FALSE(a.ok()) << c.text;
    EXPECT_NE(a.status().message().find(c.needle), std::string::npos) << a.status().message();
  }
}

TEST(ConfigFile, CommandLineOverridesTheFile) {
  Options o;
  o.known["--port"].on_command_line = true;
  o.known["--stop"].on_command_line = true;
  auto a = Args("port = 8080\nhost = \"h\"\nstop = [\"a\"]\n", o);
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ(*a, std::vector<std::string>{"--host=h"});
  // Unknown keys are errors even when everything else is overridden.
  EXPECT_FALSE(Args("port = 1\nnope = 2\n", o).ok());
}

TEST(ConfigFile, WhereNamesTheLine) {
  auto e = ParseConfigText("host = \"x\"\n\nmax_connections = 5\n", "f.toml");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(ConfigWhere(*e, "--max-connections", "f.toml"), "f.toml:3");
  EXPECT_EQ(ConfigWhere(*e, "--port", "f.toml"), "");
}

TEST(ConfigFile, MissingFileIsNotFound) {
  auto e = ReadConfigFile("/nonexistent/gemrun/serve.toml");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace gemrun
