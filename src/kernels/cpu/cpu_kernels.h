// Entry points of the per-ISA SIMD kernel files (each compiled with its own target flags).
#pragma once

#include "kernels/isa.h"

namespace gemrun::kernels {
// Partial tables: entries left nullptr fall back to the ISA below.
IsaKernels Avx2Kernels();
IsaKernels Avx2VnniKernels();  // only the kRows16 tiles; the rest comes from Avx2Kernels
IsaKernels Avx512Kernels();
// AArch64 (kernels/cpu/neon*.cc): the ASIMD table, its sdot twin, and the smmla tiles.
IsaKernels NeonKernels();
IsaKernels NeonDotKernels();
IsaKernels NeonI8mmKernels();
// Whether the kernels for `isa` were compiled into this binary.
bool CpuKernelsCompiled(Isa isa);
}  // namespace gemrun::kernels
