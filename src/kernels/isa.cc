// ISA detection and the per-ISA kernel tables, each completed from the one below it.
#include "kernels/isa.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/ref/ref_kernels.h"

namespace gemrun::kernels {
namespace {

#if defined(__x86_64__)
// AVX-VNNI (VEX-encoded vpdpbusd on ymm): CPUID leaf 7 subleaf 1, EAX bit 4. GCC 12's
// __builtin_cpu_supports does not know "avxvnni".
bool CpuHasAvxVnni() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid_count(7, 1, &a, &b, &c, &d)) return false;
  return (a >> 4) & 1;
}
#endif

bool CpuHas(Isa isa) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  switch (isa) {
    case Isa::kScalar: return true;
    case Isa::kAvx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
             __builtin_cpu_supports("f16c");
    case Isa::kAvx512:
      return CpuHas(Isa::kAvx2) && __builtin_cpu_supports("avx512f") &&
             __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("avx512vnni");
    case Isa::kAvx2Vnni: return CpuHas(Isa::kAvx2) && CpuHasAvxVnni();
  }
  return false;
#else
  return isa == Isa::kScalar;
#endif
}

// Fills nullptr entries of `k` from `lower`.
void Complete(IsaKernels& k, const IsaKernels& lower) {
  for (uint32_t i = 0; i < kDTypeCount; ++i) {
    if (!k.quantize_act[i]) k.quantize_act[i] = lower.quantize_act[i];
    if (!k.dot_tile[i]) k.dot_tile[i] = lower.dot_tile[i];
    if (!k.block_sums[i]) k.block_sums[i] = lower.block_sums[i];
  }
  if (!k.gelu_mul) k.gelu_mul = lower.gelu_mul;
}

const IsaKernels* Table(Isa isa) {
  static IsaKernels avx2, avx2vnni, avx512;
  static std::once_flag once;
  std::call_once(once, [] {
    avx2 = Avx2Kernels();
    Complete(avx2, RefKernels());
    avx2vnni = Avx2VnniKernels();
    Complete(avx2vnni, avx2);
    avx512 = Avx512Kernels();
    Complete(avx512, avx2);
  });
  switch (isa) {
    case Isa::kScalar: return &RefKernels();
    case Isa::kAvx2: return &avx2;
    case Isa::kAvx2Vnni: return &avx2vnni;
    case Isa::kAvx512: return &avx512;
  }
  return &RefKernels();
}

}  // namespace

const char* IsaName(Isa isa) {
  switch (isa) {
    case Isa::kScalar: return "scalar";
    case Isa::kAvx2: return "avx2";
    case Isa::kAvx512: return "avx512";
    case Isa::kAvx2Vnni: return "avx2vnni";
  }
  return "?";
}

bool IsaAvailable(Isa isa) { return CpuHas(isa) && (isa == Isa::kScalar || CpuKernelsCompiled(isa)); }

const IsaKernels& KernelsFor(Isa isa) { return *Table(isa); }

const IsaKernels& ActiveKernels() {
  static const IsaKernels* active = [] {
    Isa best = Isa::kScalar;
    for (Isa i : {Isa::kAvx2, Isa::kAvx2Vnni, Isa::kAvx512})
      if (IsaAvailable(i)) best = i;
    if (const char* env = std::getenv("GEMRUN_ISA"); env && *env) {
      Isa want = best;
      if (!std::strcmp(env, "scalar")) want = Isa::kScalar;
      else if (!std::strcmp(env, "avx2")) want = Isa::kAvx2;
      else if (!std::strcmp(env, "avx2vnni")) want = Isa::kAvx2Vnni;
      else if (!std::strcmp(env, "avx512")) want = Isa::kAvx512;
      else std::fprintf(stderr, "gemrun: ignoring unknown GEMRUN_ISA=%s (scalar|avx2|avx2vnni|avx512)\n", env);
      if (!IsaAvailable(want))
        std::fprintf(stderr, "gemrun: GEMRUN_ISA=%s not available on this CPU; using %s\n", env, IsaName(best));
      else
        best = want;
    }
    return Table(best);
  }();
  return *active;
}

}  // namespace gemrun::kernels
