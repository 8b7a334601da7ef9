// MeasureReadBandwidth: threads summing a resident buffer, timed.
#include "base/bandwidth.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <new>
#include <thread>
#include <vector>

#include "base/sys_info.h"

namespace gemrun {

double MeasureReadBandwidth(int threads, uint64_t bytes) {
  if (threads <= 0) threads = DefaultThreadCount();
  const size_t n = static_cast<size_t>(bytes / sizeof(uint64_t));
  std::unique_ptr<uint64_t[]> buf(new (std::nothrow) uint64_t[n]);
  if (!buf || n == 0) return 0;
  for (size_t i = 0; i < n; ++i) buf[i] = i;  // resident before timing: no page faults are timed
  std::vector<uint64_t> sums(static_cast<size_t>(threads));
  double best = 0;
  for (int pass = 0; pass < 3; ++pass) {
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t)
      workers.emplace_back([&, t] {
        const size_t lo = n * t / threads, hi = n * (t + 1) / threads;
        uint64_t a = 0, b = 0, c = 0, d = 0;  // four chains: the adds never limit the loads
        size_t i = lo;
        for (; i + 4 <= hi; i += 4) a += buf[i], b += buf[i + 1], c += buf[i + 2], d += buf[i + 3];
        for (; i < hi; ++i) a += buf[i];
        sums[static_cast<size_t>(t)] = a + b + c + d;
      });
    for (auto& w : workers) w.join();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (s > 0) best = std::max(best, static_cast<double>(n * sizeof(uint64_t)) / s);
  }
  volatile uint64_t sink = 0;  // the sums are used: the loads cannot be optimised away
  for (uint64_t v : sums) sink = sink + v;
  return best;
}

}  // namespace gemrun
