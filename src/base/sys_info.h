// Machine limits the process runs under: how many CPUs it may use and how much memory it may
// still allocate, honouring cgroup quotas and sched affinity on Linux. Elsewhere (macOS) the
// hardware's numbers. The only place that reads /proc and /sys.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace gemrun {

// Default worker count: min(hardware threads, CPUs in the affinity mask, ceil(cgroup CPU
// quota)), at least 1. A container limited to 2 CPUs on a 64-core host gets 2, not 64.
int DefaultThreadCount();

// Bytes the process can still allocate: min(MemAvailable, cgroup memory limit - usage), or
// nullopt when neither is known (then callers skip up-front checks).
std::optional<uint64_t> AvailableMemoryBytes();

// "12.3 GiB" for messages.
std::string HumanBytes(uint64_t bytes);

namespace sysinfo_internal {  // pure parsers, exposed for tests
// cgroup v2 cpu.max ("150000 100000" -> 1.5 CPUs; "max 100000" -> nullopt).
std::optional<double> ParseCpuMax(std::string_view text);
// cgroup v1 cpu.cfs_quota_us / cpu.cfs_period_us (quota -1: no limit).
std::optional<double> ParseCfsQuota(std::string_view quota, std::string_view period);
// CPUs a quota allows: ceil(quota), at least 1.
int CpusForQuota(double cpus);
// /proc/meminfo's MemAvailable in bytes.
std::optional<uint64_t> ParseMemAvailable(std::string_view meminfo);
// A cgroup memory limit file (v2 memory.max "max" or bytes; v1 limit_in_bytes, where values
// near 2^63 mean no limit).
std::optional<uint64_t> ParseMemLimit(std::string_view text);
// A "key value" line of a cgroup memory.stat file.
std::optional<uint64_t> ParseStatField(std::string_view stat, std::string_view key);
// The cgroup v2 path of this process from /proc/self/cgroup ("0::/a/b" -> "/a/b").
std::optional<std::string> ParseCgroupV2Path(std::string_view proc_self_cgroup);
}  // namespace sysinfo_internal

}  // namespace gemrun
