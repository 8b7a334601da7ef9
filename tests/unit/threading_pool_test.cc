// ThreadPool: deterministic chunking, the default size, and one pool shared by two callers
// (the decode loop and the image encoder use the engine's pool from different threads).
#include "threading/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "base/sys_info.h"

namespace gemrun {
namespace {

TEST(ThreadPool, CoversEveryItemOnce) {
  ThreadPool pool(4);
  std::vector<std::atomic<int>> hits(1000);
  pool.ParallelFor(1000, [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) hits[i].fetch_add(1);
  });
  for (auto& h : hits) ASSERT_EQ(h.load(), 1);
}

TEST(ThreadPool, DefaultSizeFollowsTheCpuLimits) {
  ThreadPool pool;
  EXPECT_EQ(pool.size(), DefaultThreadCount());
}

// Before calls were serialized, two threads driving one pool corrupted each other's job
// (a worker ran the other caller's function, or a caller returned before its chunks ran).
TEST(ThreadPool, ConcurrentCallersShareOnePool) {
  ThreadPool pool(4);
  std::atomic<bool> bad{false};
  auto caller = [&](int salt) {
    std::vector<int64_t> out(257);
    for (int iter = 0; iter < 300 && !bad; ++iter) {
      std::fill(out.begin(), out.end(), -1);
      pool.ParallelFor(static_cast<int64_t>(out.size()), [&](int64_t b, int64_t e, int) {
        for (int64_t i = b; i < e; ++i) out[i] = i * salt + iter;
      });
      for (int64_t i = 0; i < static_cast<int64_t>(out.size()); ++i)
        if (out[i] != i * salt + iter) bad = true;
    }
  };
  std::thread a(caller, 3), b(caller, 7);
  a.join();
  b.join();
  EXPECT_FALSE(bad.load());
}

}  // namespace
}  // namespace gemrun
