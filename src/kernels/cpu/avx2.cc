// AVX2 + FMA + F16C kernels (compiled with -mavx2 -mfma -mf16c only).
#include "kernels/cpu/cpu_internal.h"
#include "kernels/cpu/cpu_kernels.h"

namespace gemrun::kernels {
void Avx2AddQ8Tiles(IsaKernels&) {}
void Avx2AddKQuantTiles(IsaKernels&) {}
IsaKernels Avx2Kernels() { return IsaKernels{Isa::kAvx2, "avx2", {}, {}}; }
}  // namespace gemrun::kernels
