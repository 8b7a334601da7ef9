// Manifest <-> JSON (nlohmann); a malformed manifest is DataLoss naming its file.
#include "store/manifest.h"

#include <nlohmann/json.hpp>

namespace gemrun::store {
namespace {

using nlohmann::json;

json BlobJson(const BlobRef& b) {
  return json{{"sha256", b.sha256}, {"size", b.size}, {"source", b.source}, {"file", b.file},
              {"hash_origin", b.hash_origin}};
}

bool IsHex64(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

StatusOr<BlobRef> BlobFrom(const json& j, const std::string& where) {
  BlobRef b;
  b.sha256 = j.at("sha256").get<std::string>();
  b.size = j.at("size").get<uint64_t>();
  b.source = j.value("source", "");
  b.file = j.value("file", "");
  b.hash_origin = j.value("hash_origin", "lfs");
  // The hash names a file path: anything but 64 hex digits could escape blobs/.
  if (!IsHex64(b.sha256)) return DataLossError(where + ": sha256 '" + b.sha256 + "' is not 64 lowercase hex digits");
  return b;
}

}  // namespace

std::string Manifest::ToJson() const {
  json j{{"schema", 1},
         {"name", name},
         {"ref", ref},
         {"model", BlobJson(model)},
         {"projector", projector ? BlobJson(*projector) : json(nullptr)},
         {"architecture", architecture},
         {"quantization", quantization},
         {"description", description},
         {"created", created}};
  return j.dump(2) + "\n";
}

StatusOr<Manifest> Manifest::FromJson(const std::string& text, const std::string& where) {
  try {
    const json j = json::parse(text);
    Manifest m;
    m.name = j.at("name").get<std::string>();
    m.ref = j.value("ref", "");
    ASSIGN_OR_RETURN(m.model, BlobFrom(j.at("model"), where));
    if (j.contains("projector") && !j["projector"].is_null()) {
      ASSIGN_OR_RETURN(BlobRef p, BlobFrom(j["projector"], where));
      m.projector = p;
    }
    m.architecture = j.value("architecture", "");
    m.quantization = j.value("quantization", "");
    m.description = j.value("description", "");
    m.created = j.value("created", "");
    return m;
  } catch (const json::exception& e) {
    return DataLossError(where + ": not a gemrun manifest (" + e.what() + ")");
  }
}

}  // namespace gemrun::store
