// ThreadPool implementation: workers spin briefly on a generation counter (decode runs
// hundreds of small ops per token, so a futex wake per op would dominate), then sleep.
#include "threading/thread_pool.h"

#include "base/sys_info.h"

#include <algorithm>

#if defined(__x86_64__)
#include <immintrin.h>
#define GEMRUN_PAUSE() _mm_pause()
#elif defined(__aarch64__)
#define GEMRUN_PAUSE() __asm__ __volatile__("yield")  // the spin-wait hint, no system call
#else
#define GEMRUN_PAUSE() std::this_thread::yield()
#endif

namespace gemrun {

ThreadPool::ThreadPool(int n_threads) {
  if (n_threads <= 0) n_threads = DefaultThreadCount();  // cgroup quota and affinity aware
  n_threads_ = n_threads;
  try {
    for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { WorkerLoop(i); });
  } catch (...) {
    // std::system_error (thread limit, memory): stop the workers already started, or their
    // joinable std::thread objects would call std::terminate as the exception unwinds.
    Stop();
    throw;
  }
}

ThreadPool::~ThreadPool() { Stop(); }

void ThreadPool::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    ++generation_;
    spin_generation_.store(generation_, std::memory_order_release);
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::WorkerLoop(int index) {
  uint64_t seen = 0;
  for (;;) {
    // Spin for a short while before blocking: the next op usually follows within microseconds.
    for (int spin = 0; spin < 20000; ++spin) {
      if (spin_generation_.load(std::memory_order_acquire) != seen) break;
      GEMRUN_PAUSE();
    }
    const FunctionRef<void(int)>* job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return generation_ != seen; });
      seen = generation_;
      if (stop_) return;
      job = job_;
    }
    (*job)(index);
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

void ThreadPool::RunOnAll(FunctionRef<void(int)> fn) {
  if (n_threads_ == 1) {
    fn(0);
    return;
  }
  std::lock_guard<std::mutex> call(call_mu_);
  pending_.store(n_threads_ - 1, std::memory_order_release);
  {
    std::lock_guard<std::mutex> lock(mu_);
    job_ = &fn;
    ++generation_;
    spin_generation_.store(generation_, std::memory_order_release);
  }
  cv_.notify_all();
  fn(0);
  // Spin while the workers finish; yield now and then so an oversubscribed machine (another
  // process on our cores) does not leave us burning the timeslice a worker needs.
  for (int spin = 0; pending_.load(std::memory_order_acquire) != 0; ++spin) {
    if (spin < 4096) GEMRUN_PAUSE();
    else std::this_thread::yield();
  }
}

void ThreadPool::ParallelFor(int64_t n, RangeFn fn, int64_t grain) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  const int64_t n_grains = (n + grain - 1) / grain;
  const int parts = static_cast<int>(std::min<int64_t>(n_threads_, n_grains));
  if (parts <= 1) {
    fn(0, n, 0);
    return;
  }
  const int64_t per = n_grains / parts, extra = n_grains % parts;
  auto chunk = [&](int w) {
    if (w >= parts) return;
    const int64_t g0 = w * per + std::min<int64_t>(w, extra);
    const int64_t g1 = g0 + per + (w < extra ? 1 : 0);
    fn(g0 * grain, std::min(n, g1 * grain), w);
  };
  RunOnAll(chunk);
}

}  // namespace gemrun
