// Micro-benchmarks of MatMul at real Gemma projection shapes: decode (T=1, memory bound,
// reported as weight GB/s), batched decode (T=8) and prefill (T=64/512, reported as GFLOP/s),
// 1 and 2 threads, Q4_0/Q8_0/Q4_K also in the row-interleaved layout (packed:1),
// on the active ISA (GEMRUN_ISA=scalar|avx2|avx2vnni|avx512 to compare). Decode rotates through weight
// copies larger than the L3 so that it measures DRAM streaming, as in a real model.
//
//   kernels_bench --benchmark_filter='Q4_0/K:2560'   # one type and shape
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>
#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "base/fp16.h"
#include "kernels/isa.h"
#include "kernels/kernels.h"
#include "kernels/repack.h"
#include "tensor/dtype.h"
#include "threading/thread_pool.h"

namespace gemrun::kernels {
namespace {

uint64_t g_state = 0x9E3779B97F4A7C15ull;
uint64_t Next() {
  g_state ^= g_state << 13;
  g_state ^= g_state >> 7;
  g_state ^= g_state << 17;
  return g_state;
}
float Uniform() { return static_cast<float>(Next() >> 40) / static_cast<float>(1 << 24) * 2.0f - 1.0f; }

std::vector<int> HalfFieldOffsets(DType t) {
  switch (t) {
    case DType::kQ4_0: case DType::kQ5_0: case DType::kQ8_0: case DType::kIQ4_NL: case DType::kIQ4_XS:
      return {0};
    case DType::kQ4_1: case DType::kQ5_1: case DType::kQ4_K: case DType::kQ5_K: return {0, 2};
    case DType::kQ2_K: return {80, 82};
    case DType::kQ3_K: return {108};
    case DType::kQ6_K: return {208};
    default: return {};
  }
}

// A [K, N] weight of random codes with small finite scales (timing does not depend on values).
struct Weight {
  std::vector<uint8_t> bytes;
  TensorView view;
};

Weight MakeWeight(DType t, int64_t K, int64_t N) {
  Weight w;
  const int64_t rb = RowBytes(t, K);
  w.bytes.resize(rb * N);
  uint8_t* p = w.bytes.data();
  if (t == DType::kF16 || t == DType::kBF16 || t == DType::kF32) {
    const int64_t n = K * N;
    for (int64_t i = 0; i < n; ++i) {
      const float v = Uniform() * 0.05f;
      if (t == DType::kF32) {
        std::memcpy(p + 4 * i, &v, 4);
      } else {
        const uint16_t h = t == DType::kF16 ? Fp32ToFp16(v) : Fp32ToBf16(v);
        std::memcpy(p + 2 * i, &h, 2);
      }
    }
  } else {
    for (size_t i = 0; i + 8 <= w.bytes.size(); i += 8) {
      const uint64_t r = Next();
      std::memcpy(p + i, &r, 8);
    }
    const int64_t bs = Traits(t).type_size;
    for (int64_t b = 0; b < static_cast<int64_t>(w.bytes.size()) / bs; ++b)
      for (int off : HalfFieldOffsets(t)) {
        const uint16_t h = Fp32ToFp16(0.001f + 0.01f * (Uniform() + 1.0f));
        std::memcpy(p + b * bs + off, &h, 2);
      }
  }
  TensorView& v = w.view;
  v.type = t;
  v.ne[0] = K;
  v.ne[1] = N;
  v.nb[0] = Traits(t).type_size;
  v.nb[1] = rb;
  v.nb[2] = v.nb[3] = rb * N;
  v.data = p;
  return w;
}

// Decode streams weights from DRAM in a real model (GBs of weights, 32 MB of L3 here), so
// T = 1 rotates through enough copies to exceed 128 MB; prefill uses one copy. `packed`:
// the row-interleaved copy the model loader makes (kernels/repack.h).
const std::vector<Weight>& GetWeights(DType t, int64_t K, int64_t N, bool cold, bool packed) {
  static std::map<std::tuple<int, int64_t, int64_t, bool, bool>, std::vector<Weight>> cache;
  static kernels::PackedWeights* store = nullptr;
  const auto key = std::make_tuple(static_cast<int>(t), K, N, cold, packed);
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  cache.clear();  // keep one set alive at a time
  delete store;
  store = new kernels::PackedWeights();
  auto& ws = cache[key];
  const int64_t bytes = RowBytes(t, K) * N;
  const int64_t copies = cold ? std::max<int64_t>(2, (int64_t{128} << 20) / bytes + 1) : 1;
  for (int64_t c = 0; c < copies; ++c) {
    ws.push_back(MakeWeight(t, K, N));
    if (packed) store->Pack(&ws.back().view, 2, /*release_source=*/false);
  }
  return ws;
}

ThreadPool& Pool(int threads) {
  static std::map<int, std::unique_ptr<ThreadPool>> pools;
  auto& p = pools[threads];
  if (!p) p = std::make_unique<ThreadPool>(threads);
  return *p;
}

void BM_MatMul(benchmark::State& state, DType t) {
  const int64_t K = state.range(0), N = state.range(1), T = state.range(2);
  const int threads = static_cast<int>(state.range(3));
  const bool packed = state.range(4) != 0;
  if (packed && !kernels::CanPackRows16(MakeWeight(t, 256, 16).view)) {
    state.SkipWithError("no row-interleaved kernel for this type on this CPU");
    return;
  }
  const std::vector<Weight>& ws = GetWeights(t, K, N, /*cold=*/T == 1, packed);
  std::vector<float> x(T * K), y(T * N);
  for (auto& v : x) v = Uniform();
  ThreadPool& pool = Pool(threads);
  MatMulScratch scratch;
  size_t i = 0;
  for (auto _ : state) {
    MatMul(ws[i++ % ws.size()].view, x.data(), T, K, y.data(), N, pool, scratch);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  const double bytes = static_cast<double>(ws[0].bytes.size());
  state.counters["GB/s"] = benchmark::Counter(bytes / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * K * N * T / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(std::string(ActiveKernels().name) + (packed ? " rows16" : ""));
}

void Register() {
  const int64_t shapes[][2] = {{1152, 6912}, {6912, 1152}, {2560, 10240}, {3840, 15360}};
  const DType types[] = {DType::kQ4_0, DType::kQ8_0, DType::kQ4_K, DType::kQ6_K, DType::kF16,
                         DType::kBF16, DType::kQ5_0, DType::kQ5_K, DType::kF32};
  for (DType t : types) {
    auto* b = benchmark::RegisterBenchmark(("MatMul/" + DTypeName(t)).c_str(), BM_MatMul, t);
    b->ArgNames({"K", "N", "T", "thr", "packed"})->Unit(benchmark::kMillisecond)->UseRealTime();
    const bool packable = t == DType::kQ4_0 || t == DType::kQ8_0 || t == DType::kQ4_K || t == DType::kQ5_0 ||
                          t == DType::kQ6_K;
    for (const auto& s : shapes)
      for (int64_t T : {1, 8, 64, 512})
        for (int64_t thr : {1, 2})
          for (int64_t packed : {0, 1}) {
            if (T == 512 && s[0] == 3840) continue;  // ~60 GFLOP per call: too slow to repeat
            if (packed && !packable) continue;
            b->Args({s[0], s[1], T, thr, packed});
          }
  }
}

}  // namespace
}  // namespace gemrun::kernels

int main(int argc, char** argv) {
  gemrun::kernels::Register();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
