// AVX-512 (F/BW/VL/VNNI, BF16 where present) kernels.
#include "kernels/cpu/cpu_kernels.h"

namespace gemrun::kernels {
IsaKernels Avx512Kernels() { return IsaKernels{Isa::kAvx512, "avx512", {}, {}}; }
}  // namespace gemrun::kernels
