// Pull references, the compiled-in catalogue and file choice from a Hugging Face repo listing.
#include "store/ref.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "store/catalogue_data.h"  // generated from data/catalogue.json

namespace gemrun::store {
namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string BaseName(const std::string& p) {
  const size_t k = p.rfind('/');
  return k == std::string::npos ? p : p.substr(k + 1);
}

bool EndsWithGguf(const std::string& p) { return p.size() > 5 && Lower(p.substr(p.size() - 5)) == ".gguf"; }
bool IsProjector(const std::string& p) { return EndsWithGguf(p) && Lower(BaseName(p)).rfind("mmproj", 0) == 0; }

// "ORG/REPO": two non-empty parts of letters, digits, '-', '_', '.'.
bool ValidRepo(const std::string& r) {
  const size_t k = r.find('/');
  if (k == std::string::npos || k == 0 || k + 1 == r.size() || r.find('/', k + 1) != std::string::npos) return false;
  for (char c : r)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == '/')) return false;
  return r.find("..") == std::string::npos;
}

std::string FormsHelp() {
  std::string names;
  for (const auto& e : Catalogue()) names += (names.empty() ? "" : ", ") + e.name;
  return "accepted forms: hf://ORG/REPO/FILE.gguf, ORG/REPO:QUANT (e.g. ggml-org/gemma-3-1b-it-GGUF:Q4_K_M), "
         "https://HOST/PATH.gguf, or a catalogue name (" + names + ")";
}

}  // namespace

const std::vector<CatalogueEntry>& Catalogue() {
  static const std::vector<CatalogueEntry> entries = [] {
    std::vector<CatalogueEntry> out;
    const auto j = nlohmann::json::parse(kCatalogueJson);  // checked by store_ref_test
    for (const auto& [name, e] : j.at("models").items())
      out.push_back({name, e.at("repo").get<std::string>(), e.at("quant").get<std::string>(), e.value("about", "")});
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    return out;
  }();
  return entries;
}

StatusOr<PullRef> ParsePullRef(const std::string& ref) {
  PullRef r;
  if (ref.rfind("hf://", 0) == 0) {
    const std::string rest = ref.substr(5);
    const size_t a = rest.find('/'), b = a == std::string::npos ? a : rest.find('/', a + 1);
    if (b == std::string::npos || !ValidRepo(rest.substr(0, b)) || !EndsWithGguf(rest) ||
        rest.find("..") != std::string::npos)
      return InvalidArgumentError("'" + ref + "' is not hf://ORG/REPO/FILE.gguf; " + FormsHelp());
    r.kind = PullRef::Kind::kHfFile;
    r.repo = rest.substr(0, b);
    r.file = rest.substr(b + 1);
    r.name = rest;
    return r;
  }
  if (ref.rfind("https://", 0) == 0 || ref.rfind("http://", 0) == 0) {
    r.kind = PullRef::Kind::kUrl;
    r.url = ref;
    std::string base = BaseName(ref.substr(0, ref.find_first_of("?#")));
    if (EndsWithGguf(base)) base.resize(base.size() - 5);
    if (base.empty()) return InvalidArgumentError("'" + ref + "' names no file; " + FormsHelp());
    r.name = base;
    return r;
  }
  for (const auto& e : Catalogue()) {
    if (e.name != ref) continue;
    r.kind = PullRef::Kind::kHfQuant;
    r.repo = e.repo;
    r.quant = e.quant;
    r.name = e.name;
    r.catalogue_name = e.name;
    return r;
  }
  const size_t colon = ref.rfind(':');
  const std::string repo = ref.substr(0, colon);
  if (ValidRepo(repo)) {
    r.kind = PullRef::Kind::kHfQuant;
    r.repo = repo;
    r.quant = colon == std::string::npos ? "Q4_K_M" : ref.substr(colon + 1);  // Ollama's default too
    if (r.quant.empty() || r.quant.find_first_of("/ ") != std::string::npos)
      return InvalidArgumentError("'" + ref + "': empty or malformed quantization after ':'; " + FormsHelp());
    r.name = repo + ":" + r.quant;
    return r;
  }
  return InvalidArgumentError("unknown model reference '" + ref + "'; " + FormsHelp());
}

StatusOr<std::vector<RepoFile>> ParseRepoListing(const std::string& text, const std::string& where) {
  try {
    const auto j = nlohmann::json::parse(text);
    if (!j.is_array()) return DataLossError(where + ": the repo listing is not a JSON array");
    std::vector<RepoFile> out;
    for (const auto& e : j) {
      if (e.value("type", "file") != "file") continue;
      RepoFile f;
      f.path = e.at("path").get<std::string>();
      f.size = e.value("size", uint64_t{0});
      if (e.contains("lfs") && e["lfs"].is_object()) {
        f.sha256 = Lower(e["lfs"].value("oid", ""));
        if (e["lfs"].contains("size")) f.size = e["lfs"]["size"].get<uint64_t>();
      }
      out.push_back(std::move(f));
    }
    return out;
  } catch (const nlohmann::json::exception& e) {
    return DataLossError(where + ": cannot read the repo listing (" + e.what() + ")");
  }
}

bool QuantMatches(const std::string& file_name, const std::string& quant) {
  if (quant.empty()) return false;
  const std::string f = Lower(BaseName(file_name)), q = Lower(quant);
  for (size_t k = f.find(q); k != std::string::npos; k = f.find(q, k + 1)) {
    const bool before_ok = k == 0 || !std::isalnum(static_cast<unsigned char>(f[k - 1]));
    const size_t e = k + q.size();
    const bool after_ok = e == f.size() || (!std::isalnum(static_cast<unsigned char>(f[e])) && f[e] != '_');
    if (before_ok && after_ok) return true;
  }
  return false;
}

RepoFile ChooseProjector(const std::vector<RepoFile>& files) {
  // Prefer full precision: the projector is small and quantizing it costs accuracy.
  const RepoFile* best = nullptr;
  int best_rank = 99;
  for (const auto& f : files) {
    if (!IsProjector(f.path)) continue;
    const std::string l = Lower(BaseName(f.path));
    const int rank = l.find("f16") != std::string::npos && l.find("bf16") == std::string::npos ? 0
                     : l.find("bf16") != std::string::npos ? 1 : l.find("f32") != std::string::npos ? 2 : 3;
    if (rank < best_rank) { best_rank = rank; best = &f; }
  }
  return best ? *best : RepoFile{};
}

StatusOr<QuantChoice> ChooseFiles(const std::vector<RepoFile>& files, const std::string& repo,
                                  const std::string& quant) {
  std::vector<const RepoFile*> hits;
  std::string available;
  for (const auto& f : files) {
    if (!EndsWithGguf(f.path) || IsProjector(f.path)) continue;
    available += (available.empty() ? "" : ", ") + BaseName(f.path);
    if (QuantMatches(f.path, quant)) hits.push_back(&f);
  }
  if (hits.empty())
    return NotFoundError("repo " + repo + " has no GGUF file for quantization " + quant +
                         (available.empty() ? " (it has no .gguf files at all)" : "; its files: " + available));
  if (hits.size() > 1) {
    std::string names;
    for (const auto* h : hits) names += (names.empty() ? "" : ", ") + h->path;
    return InvalidArgumentError("repo " + repo + ": several files match " + quant + " (" + names +
                                "); pull one with hf://" + repo + "/FILE.gguf (split models are not supported)");
  }
  return QuantChoice{*hits[0], ChooseProjector(files)};
}

}  // namespace gemrun::store
