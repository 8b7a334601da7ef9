// PDF (poppler-cpp: the text layer per page; a page without one gets a note saying so) and
// HTML (libxml2's forgiving HTML parser: text nodes kept at their source lines, scripts and
// styles dropped).
#include <libxml/HTMLparser.h>
#include <libxml/tree.h>
#include <poppler-document.h>
#include <poppler-global.h>
#include <poppler-page.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <memory>
#include <mutex>

#include "ingest/ingest.h"

namespace gemrun::ingest {
namespace {

void QuietPoppler(const std::string&, void*) {}  // corrupt files: our error says it once

std::string Trim(std::string_view s) {
  size_t a = 0, b = s.size();
  while (a < b && std::isspace(static_cast<unsigned char>(s[a]))) ++a;
  while (b > a && std::isspace(static_cast<unsigned char>(s[b - 1]))) --b;
  return std::string(s.substr(a, b - a));
}

// Trims and collapses runs of whitespace to one space (HTML's rendering of text).
std::string Collapse(std::string_view s) {
  std::string out;
  bool space = false;
  for (char c : s) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      space = !out.empty();
    } else {
      if (space) out += ' ';
      out += c;
      space = false;
    }
  }
  return out;
}

}  // namespace

StatusOr<Document> DecodePdf(const std::string& name, std::string_view bytes) {
  static std::once_flag once;
  std::call_once(once, [] { poppler::set_debug_error_function(QuietPoppler, nullptr); });
  if (bytes.size() > static_cast<size_t>(INT32_MAX)) return InvalidArgumentError(name + ": PDF over 2 GiB");
  std::unique_ptr<poppler::document> doc(
      poppler::document::load_from_raw_data(bytes.data(), static_cast<int>(bytes.size())));
  if (!doc) return DataLossError(name + ": not a readable PDF (corrupt or truncated)");
  if (doc->is_locked()) return InvalidArgumentError(name + ": the PDF is encrypted (password protected); cannot read it");
  Document d;
  d.name = name;
  d.paged = true;
  const int n = doc->pages();
  for (int i = 0; i < n; ++i) {
    std::unique_ptr<poppler::page> p(doc->create_page(i));
    std::string text;
    if (p) {
      const poppler::byte_array utf8 = p->text().to_utf8();
      text.assign(utf8.begin(), utf8.end());
    }
    text.erase(std::remove(text.begin(), text.end(), '\f'), text.end());
    if (Trim(text).empty()) {
      d.Add("[page " + std::to_string(i + 1) + " has no text layer (a scanned image?); its content was not read]");
    } else {
      d.Add(text);
    }
  }
  if (n == 0) return DataLossError(name + ": the PDF has no pages");
  return d;
}

namespace {

bool Skipped(const xmlNode* n) {
  static constexpr const char* kDrop[] = {"script", "style", "noscript", "template", "svg"};
  for (const char* t : kDrop)
    if (!xmlStrcasecmp(n->name, reinterpret_cast<const xmlChar*>(t))) return true;
  return false;
}

// Appends the text of n's subtree to lines[source line - 1], whitespace collapsed.
void Collect(const xmlNode* n, std::vector<std::string>* lines) {
  for (; n; n = n->next) {
    if (n->type == XML_ELEMENT_NODE) {
      if (!Skipped(n)) Collect(n->children, lines);
      continue;
    }
    if (n->type != XML_TEXT_NODE && n->type != XML_CDATA_SECTION_NODE) continue;
    if (!n->content) continue;
    std::string_view t(reinterpret_cast<const char*>(n->content));
    // libxml2's HTML parser records the line where a text node ends: a node spanning lines
    // starts that many lines earlier, and each piece keeps its own line.
    const long newlines = static_cast<long>(std::count(t.begin(), t.end(), '\n'));
    long line = xmlGetLineNo(n) - newlines;
    if (line < 1) line = 1;
    size_t pos = 0;
    for (long k = line;; ++k) {
      const size_t nl = t.find('\n', pos);
      const std::string piece =
          Collapse(t.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos));
      if (!piece.empty()) {
        if (static_cast<size_t>(k) > lines->size()) lines->resize(k);
        std::string& dst = (*lines)[k - 1];
        if (!dst.empty()) dst += ' ';
        dst += piece;
      }
      if (nl == std::string_view::npos) break;
      pos = nl + 1;
    }
  }
}

}  // namespace

StatusOr<Document> DecodeHtml(const std::string& name, std::string_view bytes) {
  if (bytes.size() > static_cast<size_t>(INT32_MAX)) return InvalidArgumentError(name + ": HTML over 2 GiB");
  const int opts = HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET;
  std::unique_ptr<xmlDoc, void (*)(xmlDocPtr)> doc(
      htmlReadMemory(bytes.data(), static_cast<int>(bytes.size()), name.c_str(), "UTF-8", opts), xmlFreeDoc);
  if (!doc) return DataLossError(name + ": not parseable as HTML");
  std::vector<std::string> lines(std::count(bytes.begin(), bytes.end(), '\n') + 1);
  Collect(xmlDocGetRootElement(doc.get()), &lines);
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  Document d;
  d.name = name;
  for (const std::string& l : lines) d.Add(l);
  return d;
}

}  // namespace gemrun::ingest
