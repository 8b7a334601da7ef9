// MappedFile implementation (POSIX mmap, read-only, private) and the SIGBUS guard.
#include "base/mapped_file.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>

namespace gemrun {
namespace {

// Live mappings, read by the signal handler: only atomics and fixed buffers (async-signal-safe).
struct Mapping {
  std::atomic<uintptr_t> begin{0}, end{0};
  char path[512] = {};
};
constexpr int kMaxMappings = 32;
Mapping g_maps[kMaxMappings];
std::mutex g_maps_mu;  // writers only

void WriteAll(const char* s) {
  size_t n = std::strlen(s);
  while (n > 0) {
    const ssize_t w = ::write(STDERR_FILENO, s, n);
    if (w <= 0) return;
    s += w;
    n -= static_cast<size_t>(w);
  }
}

void OnSigbus(int sig, siginfo_t* info, void*) {
  const auto addr = reinterpret_cast<uintptr_t>(info->si_addr);
  for (const Mapping& m : g_maps) {
    const uintptr_t b = m.begin.load(std::memory_order_acquire), e = m.end.load(std::memory_order_acquire);
    if (b != 0 && addr >= b && addr < e) {
      WriteAll("gemrun: error: ");
      WriteAll(m.path);
      WriteAll(": the file was truncated or became unreadable while in use (SIGBUS reading its memory map); "
               "do not modify a model file while gemrun runs\n");
      ::_exit(2);  // model/file error
    }
  }
  // Not ours: the default action (core dump) on return, when the instruction faults again.
  ::signal(sig, SIG_DFL);
}

void InstallSigbusHandler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_sigaction = OnSigbus;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGBUS, &sa, nullptr);
  });
}

int Register(const uint8_t* data, uint64_t size, const std::string& path) {
  InstallSigbusHandler();
  std::lock_guard<std::mutex> lock(g_maps_mu);
  for (int i = 0; i < kMaxMappings; ++i) {
    Mapping& m = g_maps[i];
    if (m.begin.load(std::memory_order_relaxed) != 0) continue;
    const size_t n = std::min(path.size(), sizeof(m.path) - 1);
    std::memcpy(m.path, path.data(), n);
    m.path[n] = '\0';
    m.end.store(reinterpret_cast<uintptr_t>(data) + size, std::memory_order_release);
    m.begin.store(reinterpret_cast<uintptr_t>(data), std::memory_order_release);
    return i;
  }
  return -1;  // table full: the mapping is unguarded (CheckSize still works)
}

void Unregister(int slot) {
  if (slot < 0) return;
  std::lock_guard<std::mutex> lock(g_maps_mu);
  g_maps[slot].begin.store(0, std::memory_order_release);
  g_maps[slot].end.store(0, std::memory_order_release);
}

}  // namespace

StatusOr<std::unique_ptr<MappedFile>> MappedFile::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    const std::string why = std::strerror(err);
    if (err == ENOENT) return NotFoundError(path + ": no such file");
    return NotFoundError(path + ": cannot open: " + why);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return NotFoundError(path + ": not a regular file");
  }
  std::unique_ptr<MappedFile> f(new MappedFile());
  f->path_ = path;
  f->size_ = static_cast<uint64_t>(st.st_size);
  f->fd_ = fd;
  if (f->size_ > 0) {
    void* p = ::mmap(nullptr, f->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      const std::string why = std::strerror(errno);
      return InternalError(path + ": mmap failed: " + why);
    }
    f->data_ = static_cast<const uint8_t*>(p);
    f->slot_ = Register(f->data_, f->size_, path);
  }
  // The file may have shrunk between the fstat and the mmap.
  RETURN_IF_ERROR(f->CheckSize());
  return f;
}

Status MappedFile::CheckSize() const {
  struct stat st {};
  if (fd_ < 0 || ::fstat(fd_, &st) != 0) return DataLossError(path_ + ": cannot stat the open file");
  if (static_cast<uint64_t>(st.st_size) < size_)
    return DataLossError(path_ + ": the file shrank to " + std::to_string(st.st_size) + " bytes after it was opened (" +
                         std::to_string(size_) + " bytes mapped); it was modified while in use");
  return OkStatus();
}

MappedFile::~MappedFile() {
  Unregister(slot_);
  if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace gemrun
