// Glob matching (gitignore flavour: *, ?, [...], **) and .gitignore rule sets: the common
// subset of gitignore(5) — globs, `dir/` (directories only), `!` negation, anchored `/x` and
// patterns with an inner slash, comments and blank lines; last matching rule wins.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace gemrun::ingest {

// True when `path` matches `glob`. '*' and '?' do not cross '/', '**' does (as a whole
// component: "a/**/b", "**/b", "a/**").
bool GlobMatch(std::string_view glob, std::string_view path);

class GitIgnore {
 public:
  // Adds the rules of one .gitignore whose directory is `base` (relative to the walk's root,
  // "" for the root itself, no trailing slash).
  void AddRules(std::string_view base, std::string_view file_text);
  // `rel` is relative to the walk's root. Returns true when the path is ignored.
  bool Ignored(std::string_view rel, bool is_dir) const;
  bool empty() const { return rules_.empty(); }

 private:
  struct Rule {
    std::string base;     // directory of the .gitignore
    std::string pattern;  // without '!', trailing '/' and leading '/'
    bool negate = false, dir_only = false, anchored = false;
  };
  std::vector<Rule> rules_;
};

}  // namespace gemrun::ingest
