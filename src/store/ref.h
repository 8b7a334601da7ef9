// What `gemrun pull REF` names, parsed without touching the network: a file in a Hugging Face
// repo (hf://ORG/REPO/FILE.gguf), a quantization of a repo (ORG/REPO:QUANT), a plain URL, or a
// short name from the built-in catalogue (data/catalogue.json, compiled in). Also the choice of
// files from a repo listing (the QUANT's model file and a projector).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace gemrun::store {

struct PullRef {
  enum class Kind { kHfFile, kHfQuant, kUrl };
  Kind kind = Kind::kHfFile;
  std::string repo;   // "ggml-org/gemma-3-1b-it-GGUF" (kHfFile, kHfQuant)
  std::string file;   // path inside the repo (kHfFile)
  std::string quant;  // "Q4_K_M" (kHfQuant)
  std::string url;    // kUrl
  std::string name;   // the store name it gets by default
  std::string catalogue_name;  // set when it came from the catalogue
};

// InvalidArgument with the accepted forms (and the catalogue's names) when `ref` is none.
StatusOr<PullRef> ParsePullRef(const std::string& ref);

struct CatalogueEntry {
  std::string name, repo, quant, about;
};
// The built-in catalogue, sorted by name.
const std::vector<CatalogueEntry>& Catalogue();

// One file of a repo listing (GET {endpoint}/api/models/{repo}/tree/main).
struct RepoFile {
  std::string path;
  uint64_t size = 0;
  std::string sha256;  // lfs.oid; "" for files not in LFS
};
// Parses the listing's JSON array; DataLoss naming `where` when it is not one.
StatusOr<std::vector<RepoFile>> ParseRepoListing(const std::string& json, const std::string& where);

// True when `quant` occurs in the file name (case-insensitively) as a whole token: "Q4_K" does
// not match "...-Q4_K_M.gguf", "Q4_0" does not match "...-Q4_0_4_4.gguf".
bool QuantMatches(const std::string& file_name, const std::string& quant);

// The model file for `quant` (not a projector), and the repo's projector if any ("" when
// none). NotFound naming the repo and the quantizations it has; InvalidArgument when
// several files match (split models are not supported).
struct QuantChoice {
  RepoFile model;
  RepoFile projector;  // path "" when the repo has none
};
StatusOr<QuantChoice> ChooseFiles(const std::vector<RepoFile>& files, const std::string& repo,
                                  const std::string& quant);

// The projector for a single chosen file (hf://...): an mmproj*.gguf next to it, if any.
RepoFile ChooseProjector(const std::vector<RepoFile>& files);

}  // namespace gemrun::store
