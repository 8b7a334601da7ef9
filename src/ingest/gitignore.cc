// Glob matching and .gitignore rules (see gitignore.h).
#include "ingest/gitignore.h"

namespace gemrun::ingest {
namespace {

// Matches a [...] class at g[0] == '[' against c; sets *len to the class's length in g (0 when
// the class is unterminated: then '[' is a literal).
bool ClassMatch(std::string_view g, char c, size_t* len) {
  size_t i = 1;
  bool neg = false;
  if (i < g.size() && (g[i] == '!' || g[i] == '^')) neg = true, ++i;
  bool hit = false;
  const size_t first = i;
  for (; i < g.size() && (g[i] != ']' || i == first); ++i) {
    if (i + 2 < g.size() && g[i + 1] == '-' && g[i + 2] != ']') {
      hit |= g[i] <= c && c <= g[i + 2];
      i += 2;
    } else {
      hit |= g[i] == c;
    }
  }
  if (i >= g.size()) {
    *len = 0;
    return c == '[';
  }
  *len = i + 1;
  return hit != neg;
}

}  // namespace

bool GlobMatch(std::string_view g, std::string_view p) {
  while (!g.empty()) {
    if (g.substr(0, 2) == "**") {
      std::string_view rest = g.substr(2);
      if (!rest.empty() && rest[0] == '/') {  // "**/": zero or more whole directories
        rest.remove_prefix(1);
        for (size_t i = 0; i <= p.size(); ++i)
          if ((i == 0 || p[i - 1] == '/') && GlobMatch(rest, p.substr(i))) return true;
        return false;
      }
      for (size_t i = 0; i <= p.size(); ++i)  // anything, slashes included
        if (GlobMatch(rest, p.substr(i))) return true;
      return false;
    }
    const char c = g[0];
    if (c == '*') {
      for (size_t i = 0; i <= p.size(); ++i) {
        if (GlobMatch(g.substr(1), p.substr(i))) return true;
        if (i < p.size() && p[i] == '/') break;
      }
      return false;
    }
    if (p.empty()) return false;
    if (c == '?') {
      if (p[0] == '/') return false;
      g.remove_prefix(1);
    } else if (c == '[') {
      size_t len = 0;
      if (!ClassMatch(g, p[0], &len)) return false;
      g.remove_prefix(len ? len : 1);
    } else {
      if (c == '\\' && g.size() > 1) g.remove_prefix(1);
      if (g[0] != p[0]) return false;
      g.remove_prefix(1);
    }
    p.remove_prefix(1);
  }
  return p.empty();
}

void GitIgnore::AddRules(std::string_view base, std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string line(text.substr(pos, nl - pos));
    pos = nl + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    // Trailing spaces are ignored unless escaped.
    while (!line.empty() && line.back() == ' ' && !(line.size() > 1 && line[line.size() - 2] == '\\')) line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    Rule r;
    r.base = std::string(base);
    if (line[0] == '!') {
      r.negate = true;
      line.erase(0, 1);
    } else if (line.size() > 1 && line[0] == '\\' && (line[1] == '!' || line[1] == '#')) {
      line.erase(0, 1);
    }
    if (!line.empty() && line.back() == '/') {
      r.dir_only = true;
      line.pop_back();
    }
    if (line.find('/') != std::string::npos) r.anchored = true;
    if (!line.empty() && line[0] == '/') line.erase(0, 1);
    if (line.empty()) continue;
    r.pattern = std::move(line);
    rules_.push_back(std::move(r));
  }
}

bool GitIgnore::Ignored(std::string_view rel, bool is_dir) const {
  bool ignored = false;
  for (const Rule& r : rules_) {
    std::string_view sub = rel;
    if (!r.base.empty()) {
      if (sub.size() <= r.base.size() || sub.substr(0, r.base.size()) != r.base || sub[r.base.size()] != '/') continue;
      sub.remove_prefix(r.base.size() + 1);
    }
    if (r.dir_only && !is_dir) continue;
    std::string_view subject = sub;
    if (!r.anchored) {
      const size_t slash = sub.rfind('/');
      if (slash != std::string_view::npos) subject = sub.substr(slash + 1);
    }
    if (GlobMatch(r.pattern, subject)) ignored = !r.negate;
  }
  return ignored;
}

}  // namespace gemrun::ingest
