// ThreadPool: a fixed set of workers and ParallelFor with deterministic chunking.
// Partitioning depends only on (n, thread count), so results are bit-identical run to run.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <type_traits>
#include <mutex>
#include <thread>
#include <vector>

namespace gemrun {

// A non-owning reference to a callable (no allocation, unlike std::function): the pool runs
// hundreds of ops per decoded token and must not touch the heap doing so.
template <typename Sig>
class FunctionRef;
template <typename R, typename... Args>
class FunctionRef<R(Args...)> {
 public:
  template <typename F, typename = std::enable_if_t<!std::is_same_v<std::decay_t<F>, FunctionRef>>>
  FunctionRef(F&& f)  // NOLINT: implicit by design
      : obj_(const_cast<void*>(static_cast<const void*>(&f))),
        call_([](void* o, Args... a) -> R { return (*static_cast<std::remove_reference_t<F>*>(o))(a...); }) {}
  R operator()(Args... a) const { return call_(obj_, a...); }

 private:
  void* obj_;
  R (*call_)(void*, Args...);
};

class ThreadPool {
 public:
  // fn(begin, end, worker_index) processes items [begin, end).
  using RangeFn = FunctionRef<void(int64_t, int64_t, int)>;

  // n_threads includes the calling thread; 0 = DefaultThreadCount() (base/sys_info.h: hardware
  // threads limited by the affinity mask and the cgroup CPU quota).
  // Throws std::system_error when a worker thread cannot be created (cli/main.cc reports it).
  explicit ThreadPool(int n_threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Splits [0, n) into size() contiguous chunks (multiples of `grain` except the last)
  // and runs them in parallel; the caller runs chunk 0. Returns when all are done.
  // Calls from several threads are serialized, op by op, so one pool (the engine's) can serve
  // the decode loop and the image encoder without a second pool oversubscribing the cores.
  // Not reentrant: fn must not call back into the same pool.
  void ParallelFor(int64_t n, RangeFn fn, int64_t grain = 1);

  // Runs fn(worker) on every worker (including the caller as worker 0).
  void RunOnAll(FunctionRef<void(int)> fn);

 private:
  void WorkerLoop(int index);
  void Stop();  // ends and joins the workers

  int n_threads_;
  std::vector<std::thread> workers_;
  std::mutex call_mu_;  // one RunOnAll at a time (callers on different threads)
  std::mutex mu_;
  std::condition_variable cv_;
  const FunctionRef<void(int)>* job_ = nullptr;
  uint64_t generation_ = 0;
  std::atomic<int> pending_{0};
  std::atomic<uint64_t> spin_generation_{0};
  bool stop_ = false;
};

}  // namespace gemrun
