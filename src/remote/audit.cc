// Audit log lines and the daily token budget file (see audit.h).
#include "remote/audit.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>

namespace gemrun::remote {
namespace {

std::string Today() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  return buf;
}

std::string ReadFd(int fd) {
  std::string s;
  char buf[4096];
  ssize_t n;
  lseek(fd, 0, SEEK_SET);
  while ((n = read(fd, buf, sizeof buf)) > 0) s.append(buf, static_cast<size_t>(n));
  return s;
}

int64_t TokensFor(const std::string& text, const std::string& day) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || j.value("day", "") != day) return 0;
  auto it = j.find("tokens");
  return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

}  // namespace

std::string Sha256Hex(const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

std::string UtcTimestamp() {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  int ms = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, ms);
  return out;
}

Status AppendAudit(const std::string& path, const nlohmann::json& record) {
  if (path.empty()) return OkStatus();
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return NotFoundError("cannot open --audit " + path + " for appending");
  std::string line = record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  // One write() per line: O_APPEND keeps concurrent writers' lines whole.
  ssize_t n = write(fd, line.data(), line.size());
  close(fd);
  if (n != static_cast<ssize_t>(line.size())) return InternalError("short write to --audit " + path);
  return OkStatus();
}

std::string DefaultBudgetPath() {
  const char* xdg = std::getenv("XDG_STATE_HOME");
  if (xdg && *xdg) return std::string(xdg) + "/gemrun/remote-budget.json";
  const char* home = std::getenv("HOME");
  if (home && *home) return std::string(home) + "/.local/state/gemrun/remote-budget.json";
  return "";
}

int64_t DailyBudget::UsedToday() const {
  if (path_.empty()) return 0;
  int fd = open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  flock(fd, LOCK_SH);
  int64_t used = TokensFor(ReadFd(fd), Today());
  close(fd);
  return used;
}

Status DailyBudget::Charge(int64_t tokens) {
  if (path_.empty()) return OkStatus();
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path_).parent_path(), ec);
  int fd = open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return NotFoundError("cannot open the remote budget file " + path_);
  flock(fd, LOCK_EX);
  const std::string day = Today();
  const int64_t used = TokensFor(ReadFd(fd), day) + tokens;
  std::string text = nlohmann::json{{"day", day}, {"tokens", used}}.dump() + "\n";
  Status st = OkStatus();
  if (ftruncate(fd, 0) != 0 || pwrite(fd, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size()))
    st = InternalError("cannot write the remote budget file " + path_);
  close(fd);
  return st;
}

}  // namespace gemrun::remote
