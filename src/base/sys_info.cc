// CPU and memory limits from cgroups (v2 and v1), sched affinity and /proc/meminfo on Linux.
#include "base/sys_info.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#ifdef __linux__
#include <sched.h>
#endif

namespace gemrun {
namespace sysinfo_internal {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

template <typename T>
std::optional<T> ParseNum(std::string_view s) {
  s = Trim(s);
  T v{};
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

std::optional<double> ParseCpuMax(std::string_view text) {
  text = Trim(text);
  const size_t sp = text.find(' ');
  if (sp == std::string_view::npos) return std::nullopt;
  const auto quota = ParseNum<int64_t>(text.substr(0, sp));  // "max" fails: no limit
  const auto period = ParseNum<int64_t>(text.substr(sp + 1));
  if (!quota || !period || *quota <= 0 || *period <= 0) return std::nullopt;
  return static_cast<double>(*quota) / static_cast<double>(*period);
}

std::optional<double> ParseCfsQuota(std::string_view quota, std::string_view period) {
  const auto q = ParseNum<int64_t>(quota), p = ParseNum<int64_t>(period);
  if (!q || !p || *q <= 0 || *p <= 0) return std::nullopt;
  return static_cast<double>(*q) / static_cast<double>(*p);
}

int CpusForQuota(double cpus) { return std::max(1, static_cast<int>(std::ceil(cpus - 1e-9))); }

std::optional<uint64_t> ParseMemAvailable(std::string_view meminfo) {
  size_t at = meminfo.find("MemAvailable:");
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view line = meminfo.substr(at + 13);
  line = line.substr(0, line.find('\n'));
  line = Trim(line);
  if (line.size() > 3 && line.substr(line.size() - 3) == " kB") line.remove_suffix(3);
  const auto kb = ParseNum<uint64_t>(line);
  if (!kb) return std::nullopt;
  return *kb * 1024;
}

std::optional<uint64_t> ParseMemLimit(std::string_view text) {
  const auto v = ParseNum<uint64_t>(text);
  if (!v || *v >= (uint64_t{1} << 62)) return std::nullopt;  // "max", or v1's "unlimited" 2^63-4096
  return v;
}

std::optional<uint64_t> ParseStatField(std::string_view stat, std::string_view key) {
  while (!stat.empty()) {
    const size_t nl = stat.find('\n');
    const std::string_view line = stat.substr(0, nl);
    if (line.size() > key.size() && line.substr(0, key.size()) == key && line[key.size()] == ' ')
      return ParseNum<uint64_t>(line.substr(key.size() + 1));
    if (nl == std::string_view::npos) break;
    stat.remove_prefix(nl + 1);
  }
  return std::nullopt;
}

std::optional<std::string> ParseCgroupV2Path(std::string_view text) {
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    if (line.substr(0, 3) == "0::") return std::string(Trim(line.substr(3)));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return std::nullopt;
}

}  // namespace sysinfo_internal

namespace {

#ifdef __linux__
using namespace sysinfo_internal;

std::optional<std::string> ReadSmallFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The cgroup v2 directories that constrain this process, leaf first (a limit on any ancestor
// applies too). Inside a container with a cgroup namespace the path is "/": the root.
std::vector<std::string> CgroupV2Dirs() {
  std::vector<std::string> dirs;
  auto self = ReadSmallFile("/proc/self/cgroup");
  std::string path = self ? ParseCgroupV2Path(*self).value_or("/") : "/";
  while (true) {
    dirs.push_back("/sys/fs/cgroup" + (path == "/" ? std::string() : path));
    if (path.empty() || path == "/") break;
    path = path.substr(0, path.rfind('/'));
    if (path.empty()) path = "/";
  }
  return dirs;
}

std::optional<double> CgroupCpuLimit() {
  std::optional<double> best;
  auto take = [&best](std::optional<double> v) {
    if (v && (!best || *v < *best)) best = v;
  };
  for (const std::string& d : CgroupV2Dirs())
    if (auto t = ReadSmallFile(d + "/cpu.max")) take(ParseCpuMax(*t));
  for (const char* d : {"/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct"}) {  // v1
    auto q = ReadSmallFile(std::string(d) + "/cpu.cfs_quota_us"), p = ReadSmallFile(std::string(d) + "/cpu.cfs_period_us");
    if (q && p) take(ParseCfsQuota(*q, *p));
  }
  return best;
}

std::optional<uint64_t> CgroupMemoryLeft() {
  std::optional<uint64_t> best;
  // Usage counts the page cache (the mmapped model among it); its inactive part is reclaimed
  // before the limit bites, so it counts as available (what `docker stats` does).
  auto take = [&best](std::optional<std::string> limit, std::optional<std::string> usage,
                      std::optional<std::string> stat, std::string_view inactive_key) {
    if (!limit) return;
    const auto l = ParseMemLimit(*limit);
    if (!l) return;
    uint64_t used = usage ? ParseMemLimit(*usage).value_or(0) : 0;
    const uint64_t inactive = stat ? ParseStatField(*stat, inactive_key).value_or(0) : 0;
    used = used > inactive ? used - inactive : 0;
    const uint64_t left = *l > used ? *l - used : 0;
    if (!best || left < *best) best = left;
  };
  for (const std::string& d : CgroupV2Dirs())
    take(ReadSmallFile(d + "/memory.max"), ReadSmallFile(d + "/memory.current"), ReadSmallFile(d + "/memory.stat"),
         "inactive_file");
  const std::string v1 = "/sys/fs/cgroup/memory/";
  take(ReadSmallFile(v1 + "memory.limit_in_bytes"), ReadSmallFile(v1 + "memory.usage_in_bytes"),
       ReadSmallFile(v1 + "memory.stat"), "total_inactive_file");
  return best;
}
#endif

}  // namespace

int DefaultThreadCount() {
  int n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
#ifdef __linux__
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) n = std::min(n, std::max(1, CPU_COUNT(&set)));
  if (auto q = CgroupCpuLimit()) n = std::min(n, CpusForQuota(*q));
#endif
  return n;
}

std::optional<uint64_t> AvailableMemoryBytes() {
  std::optional<uint64_t> avail;
#ifdef __linux__
  if (auto m = ReadSmallFile("/proc/meminfo")) avail = ParseMemAvailable(*m);
  if (auto c = CgroupMemoryLeft()) avail = avail ? std::min(*avail, *c) : *c;
#endif
  return avail;
}

std::string HumanBytes(uint64_t bytes) {
  char buf[48];
  const double b = static_cast<double>(bytes);
  if (b >= 1024.0 * 1024 * 1024) std::snprintf(buf, sizeof buf, "%.1f GiB", b / (1024.0 * 1024 * 1024));
  else if (b >= 1024.0 * 1024) std::snprintf(buf, sizeof buf, "%.1f MiB", b / (1024.0 * 1024));
  else std::snprintf(buf, sizeof buf, "%.1f KiB", b / 1024.0);
  return buf;
}

}  // namespace gemrun
