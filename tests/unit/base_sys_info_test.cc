// The cgroup / meminfo parsers behind DefaultThreadCount and AvailableMemoryBytes.
#include "base/sys_info.h"

#include <gtest/gtest.h>

#include <thread>

namespace gemrun {
namespace {
using namespace sysinfo_internal;

TEST(SysInfo, CgroupV2CpuMax) {
  EXPECT_FALSE(ParseCpuMax("max 100000\n").has_value());
  EXPECT_DOUBLE_EQ(*ParseCpuMax("150000 100000\n"), 1.5);
  EXPECT_DOUBLE_EQ(*ParseCpuMax("200000 100000"), 2.0);
  EXPECT_FALSE(ParseCpuMax("").has_value());
  EXPECT_FALSE(ParseCpuMax("0 100000").has_value());
  EXPECT_FALSE(ParseCpuMax("garbage").has_value());
}

TEST(SysInfo, CgroupV1Quota) {
  EXPECT_FALSE(ParseCfsQuota("-1\n", "100000\n").has_value());
  EXPECT_DOUBLE_EQ(*ParseCfsQuota("50000\n", "100000\n"), 0.5);
  EXPECT_EQ(CpusForQuota(0.5), 1);
  EXPECT_EQ(CpusForQuota(1.5), 2);
  EXPECT_EQ(CpusForQuota(2.0), 2);
}

TEST(SysInfo, MemInfoAndLimits) {
  const char* meminfo = "MemTotal:       16318480 kB\nMemFree:         1000000 kB\nMemAvailable:    8000000 kB\n";
  EXPECT_EQ(ParseMemAvailable(meminfo), uint64_t{8000000} * 1024);
  EXPECT_FALSE(ParseMemAvailable("MemTotal: 1 kB\n").has_value());
  EXPECT_FALSE(ParseMemLimit("max\n").has_value());
  EXPECT_FALSE(ParseMemLimit("9223372036854771712\n").has_value());  // v1 "unlimited"
  EXPECT_EQ(ParseMemLimit("536870912\n"), uint64_t{536870912});
  const char* stat = "anon 100\nfile 900\nactive_file 300\ninactive_file 600\n";
  EXPECT_EQ(ParseStatField(stat, "inactive_file"), uint64_t{600});
  EXPECT_EQ(ParseStatField(stat, "file"), uint64_t{900});
  EXPECT_FALSE(ParseStatField(stat, "total_inactive_file").has_value());
}

TEST(SysInfo, CgroupPath) {
  EXPECT_EQ(ParseCgroupV2Path("0::/user.slice/session-1.scope\n"), "/user.slice/session-1.scope");
  EXPECT_EQ(ParseCgroupV2Path("12:cpu,cpuacct:/docker/x\n0::/\n"), "/");
  EXPECT_FALSE(ParseCgroupV2Path("12:cpu,cpuacct:/docker/x\n").has_value());
}

TEST(SysInfo, DefaultThreadCountIsWithinTheHardware) {
  const int n = DefaultThreadCount();
  EXPECT_GE(n, 1);
  EXPECT_LE(n, static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
#ifdef __linux__
  EXPECT_TRUE(AvailableMemoryBytes().has_value());
#endif
}

}  // namespace
}  // namespace gemrun
