// AArch64 + FEAT_DotProd (compiled with -march=armv8.2-a+dotprod): the quantized tiles of
// neon_tiles.h on sdot, one instruction per 16 int8 products. The quantizers, float tiles and
// GELU of this level come from the neon table.
#include <arm_neon.h>

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/neon_tiles.h"

namespace gemrun::kernels {
namespace {

struct DotSdot {
  static GEMRUN_INLINE int32x4_t Dot(int32x4_t acc, int8x16_t a, int8x16_t b) { return vdotq_s32(acc, a, b); }
};

}  // namespace

IsaKernels NeonDotKernels() {
  IsaKernels k{};
  k.isa = Isa::kNeonDot;
  k.name = "neondot";
  AddIntTiles<DotSdot>(k);
  DeclareNeeds(k, kNeonDotCode);
  return k;
}

}  // namespace gemrun::kernels
