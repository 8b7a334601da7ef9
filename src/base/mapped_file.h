// MappedFile: read-only mmap of a whole file (RAII). Weights are never copied.
//
// A mapped file that shrinks while in use (another process truncates or rewrites it) makes
// reads past its new end raise SIGBUS. Two guards: CheckSize() compares the file's current
// size with the mapping (load and session start call it), and a process-wide SIGBUS handler
// turns a fault inside any live mapping into a message naming the file and exit code 2
// (model/file error) instead of a crash.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "base/status.h"

namespace gemrun {

class MappedFile {
 public:
  static StatusOr<std::unique_ptr<MappedFile>> Open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }

  // DataLoss when the file on disk is now shorter than the mapping (reads past its end
  // would fault). One fstat: cheap enough to call before each use.
  Status CheckSize() const;

 private:
  MappedFile() = default;
  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
  std::string path_;
  int fd_ = -1;    // kept open for CheckSize
  int slot_ = -1;  // entry in the SIGBUS handler's table of mappings
};

}  // namespace gemrun
