// Citation extraction and validation (see citations.h).
#include "ops/citations.h"

#include <cctype>
#include <regex>

namespace gemrun::ops {
namespace {

// The document `name` refers to: exact name, else the one document whose path ends in "/name".
const ingest::Document* Resolve(const std::string& name, const std::vector<ingest::Document>& docs) {
  const ingest::Document* hit = nullptr;
  int n = 0;
  for (const auto& d : docs) {
    if (d.name == name) return &d;
    if (d.name.size() > name.size() && d.name.ends_with(name) && d.name[d.name.size() - name.size() - 1] == '/')
      hit = &d, ++n;
  }
  return n == 1 ? hit : nullptr;
}

}  // namespace

std::vector<Citation> FindCitations(const std::string& answer, const std::vector<ingest::Document>& docs) {
  static const std::regex re(R"(([A-Za-z0-9_./~+@-]*[A-Za-z_~][A-Za-z0-9_./~+@-]*)([:#])(\d{1,9})(?:\s?[-–]\s?(\d{1,9}))?)");
  std::vector<Citation> out;
  for (auto it = std::sregex_iterator(answer.begin(), answer.end(), re); it != std::sregex_iterator(); ++it) {
    const std::smatch& m = *it;
    std::string name = m[1].str();
    while (!name.empty() && (name.back() == '.' || name.back() == '/')) name.pop_back();
    const ingest::Document* d = Resolve(name, docs);
    const bool file_like = name.find('.') != std::string::npos || name.find('/') != std::string::npos;
    if (!d && !file_like) continue;
    Citation c;
    c.text = m[0].str();
    c.first = std::stoll(m[3].str());
    c.last = m[4].matched ? std::stoll(m[4].str()) : c.first;
    const bool paged = m[2].str() == "#";
    if (!d) {
      c.problem = "no input named " + name;
    } else {
      c.source = d->name;
      if (paged != d->paged)
        c.problem = std::string(d->paged ? "pages are cited as " + d->name + "#N" : "lines are cited as " + d->name + ":N");
      else if (c.first < 1 || c.last < c.first || c.last > static_cast<int64_t>(d->size()))
        c.problem = "range " + std::to_string(c.first) + "-" + std::to_string(c.last) + " is outside " + d->name +
                    " (" + std::to_string(d->size()) + (d->paged ? " pages)" : " lines)");
      else
        c.valid = true;
    }
    out.push_back(std::move(c));
  }
  return out;
}

std::string FlagInvalid(const std::string& answer, const std::vector<Citation>& cites) {
  std::string out = answer;
  size_t from = 0;
  for (const Citation& c : cites) {
    if (c.valid) continue;
    const size_t at = out.find(c.text, from);
    if (at == std::string::npos) continue;
    const std::string flag = " [not in the input]";
    out.insert(at + c.text.size(), flag);
    from = at + c.text.size() + flag.size();
  }
  return out;
}

}  // namespace gemrun::ops
