// ThreadPool: a fixed set of workers and ParallelFor with deterministic chunking.
// Partitioning depends only on (n, thread count), so results are bit-identical run to run.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace gemrun {

class ThreadPool {
 public:
  // fn(begin, end, worker_index) processes items [begin, end).
  using RangeFn = std::function<void(int64_t, int64_t, int)>;

  // n_threads includes the calling thread; 0 = hardware concurrency.
  explicit ThreadPool(int n_threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Splits [0, n) into size() contiguous chunks (multiples of `grain` except the last)
  // and runs them in parallel; the caller runs chunk 0. Returns when all are done.
  void ParallelFor(int64_t n, const RangeFn& fn, int64_t grain = 1);

  // Runs fn(worker) on every worker (including the caller as worker 0).
  void RunOnAll(const std::function<void(int)>& fn);

 private:
  void WorkerLoop(int index);

  int n_threads_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_;
  const std::function<void(int)>* job_ = nullptr;
  uint64_t generation_ = 0;
  std::atomic<int> pending_{0};
  std::atomic<uint64_t> spin_generation_{0};
  bool stop_ = false;
};

}  // namespace gemrun
