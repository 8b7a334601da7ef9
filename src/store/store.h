// The local model store: content-addressed blobs (blobs/sha256-<hex>) plus one JSON manifest
// per model name (manifests/<name>.json), so two names for one file take the space once.
// Root: $GEMRUN_HOME, else $XDG_DATA_HOME/gemrun, else ~/.local/share/gemrun. Files enter
// blobs/ only by rename after their hash is checked; manifests are written to a temporary
// file and renamed, so a crash leaves either the old or the new state.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "store/manifest.h"

namespace gemrun::store {

class Store {
 public:
  // $GEMRUN_HOME, $XDG_DATA_HOME/gemrun or ~/.local/share/gemrun.
  static std::string DefaultRoot();
  explicit Store(std::string root) : root_(std::move(root)) {}
  static Store Default() { return Store(DefaultRoot()); }

  const std::string& root() const { return root_; }
  std::string BlobPath(const std::string& sha256) const { return root_ + "/blobs/sha256-" + sha256; }
  std::string PartialDir() const { return root_ + "/partial"; }
  // Creates root/blobs, root/manifests and root/partial (Internal naming the directory).
  Status EnsureDirs() const;
  bool HasBlob(const std::string& sha256) const;

  // Moves a file whose hash was checked into blobs/ (rename, same file system as partial/);
  // when the blob is already there the file is removed instead.
  Status AdoptBlob(const std::string& file, const std::string& sha256) const;

  // InvalidArgument when `name` cannot be a model name (empty, control characters, "..").
  static Status ValidateName(const std::string& name);
  // NotFound naming the store and `gemrun list` when there is no such name.
  StatusOr<Manifest> Get(const std::string& name) const;
  bool Has(const std::string& name) const;
  Status Put(const Manifest& m) const;
  // Every manifest, sorted by name; unreadable ones are errors naming the file.
  StatusOr<std::vector<Manifest>> List() const;
  // Removes the manifest and each of its blobs that no other manifest references.
  // Returns the bytes freed.
  StatusOr<uint64_t> Remove(const std::string& name) const;

 private:
  std::string ManifestPath(const std::string& name) const;
  std::string root_;
};

// Reads a model file's header into m's architecture, quantization and description.
Status FillFromHeader(const std::string& path, Manifest* m);

// What `-m ARG` means: a path that exists is itself; otherwise a store name gives its blob and
// projector. nullopt when ARG is neither (the command then reports the missing file).
struct ResolvedModel {
  std::string model_path;
  std::string projector_path;  // "" when the manifest has none
};
std::optional<ResolvedModel> ResolveModelArg(const std::string& arg);

// UTC now as "2026-12-02T10:59:53Z".
std::string UtcNow();

}  // namespace gemrun::store
