// Air-gapped transfer: one stored model as a plain POSIX ustar archive (readable by tar):
//   manifest.json, then blobs/sha256-<hex> for the model and its projector.
// Import streams each blob into partial/ while hashing it, checks the hash against both its
// name and the manifest, and only then moves it into blobs/ and writes the manifest.
#pragma once

#include <string>

#include "base/status.h"
#include "store/store.h"

namespace gemrun::store {

// Writes `name` from `store` into `out_path` (written to a temporary name, then renamed).
// Sizes past ustar's 8 GiB field use the GNU base-256 form, which GNU tar and libarchive read.
Status ExportBundle(const Store& store, const std::string& name, const std::string& out_path);

// Reads a bundle into `store`; `rename` ("" = the bundle's name) sets the store name. DataLoss
// naming the bundle and member for anything malformed, truncated or with a wrong hash; nothing
// enters the store unless every blob verifies. Returns the stored manifest.
StatusOr<Manifest> ImportBundle(const Store& store, const std::string& bundle_path, const std::string& rename);

}  // namespace gemrun::store
