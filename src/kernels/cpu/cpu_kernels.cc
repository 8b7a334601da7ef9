// Which SIMD kernel sets this binary contains.
#include "kernels/cpu/cpu_kernels.h"

namespace gemrun::kernels {
bool CpuKernelsCompiled(Isa isa) {
#if defined(__x86_64__)
  return isa == Isa::kAvx2 || isa == Isa::kAvx2Vnni || isa == Isa::kAvx512;
#elif defined(__aarch64__)
  return isa == Isa::kNeon || isa == Isa::kNeonDot || isa == Isa::kNeonI8mm;
#else
  return isa == Isa::kScalar;
#endif
}
}  // namespace gemrun::kernels
