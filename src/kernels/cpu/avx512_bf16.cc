// AVX-512 BF16 dot tile (vdpbf16ps). A file of its own so that only this kernel is built with
// -mavx512bf16: CPUs with AVX-512 VNNI but no BF16 (Ice Lake, Tiger Lake, Cascade Lake) use
// the AVX2 BF16 tile instead (the entry declares kAvx512Bf16Code, see cpu_internal.h).
#include <immintrin.h>

#include "kernels/cpu/cpu_internal.h"
#include "kernels/cpu/x86_common.h"

namespace gemrun::kernels {
namespace {

// BF16 x BF16 with vdpbf16ps: 32 products per instruction, exact products, f32 sums
// (the instruction treats bf16 denormals as zero; they are below 1e-38).
template <int NR, int NC>
struct DotBF16 {
  static constexpr bool kRowAtATimeDecode = true;
  static void Run(int64_t n, const uint8_t* w, int64_t ws, const uint8_t* a, int64_t as, float* out,
                  int64_t ldo) {
    constexpr int kU = NR * NC < 8 ? 2 : 1;
    __m512 acc[kU][NR * NC];
    GEMRUN_UNROLL
    for (int u = 0; u < kU; ++u)
      GEMRUN_UNROLL
      for (int p = 0; p < NR * NC; ++p) acc[u][p] = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 * kU <= n; i += 32 * kU) {
      GEMRUN_UNROLL
      for (int u = 0; u < kU; ++u) {
        __m512bh av[NC];
        GEMRUN_UNROLL
        for (int c = 0; c < NC; ++c) av[c] = (__m512bh)_mm512_loadu_si512(a + c * as + (i + 32 * u) * 2);
        GEMRUN_UNROLL
        for (int r = 0; r < NR; ++r) {
          if constexpr (NC == 1) PrefetchAhead<64>(w + r * ws + (i + 32 * u) * 2);
          const __m512bh wv = (__m512bh)_mm512_loadu_si512(w + r * ws + (i + 32 * u) * 2);
          GEMRUN_UNROLL
          for (int c = 0; c < NC; ++c) acc[u][r * NC + c] = _mm512_dpbf16_ps(acc[u][r * NC + c], wv, av[c]);
        }
      }
    }
    for (; i < n; i += 32) {
      const __mmask32 m = n - i >= 32 ? 0xFFFFFFFFu : static_cast<__mmask32>((1ull << (n - i)) - 1);
      __m512bh av[NC];
      GEMRUN_UNROLL
      for (int c = 0; c < NC; ++c) av[c] = (__m512bh)_mm512_maskz_loadu_epi16(m, a + c * as + i * 2);
      GEMRUN_UNROLL
      for (int r = 0; r < NR; ++r) {
        const __m512bh wv = (__m512bh)_mm512_maskz_loadu_epi16(m, w + r * ws + i * 2);
        GEMRUN_UNROLL
        for (int c = 0; c < NC; ++c) acc[0][r * NC + c] = _mm512_dpbf16_ps(acc[0][r * NC + c], wv, av[c]);
      }
    }
    if constexpr (kU == 2)
      GEMRUN_UNROLL
      for (int p = 0; p < NR * NC; ++p) acc[0][p] = _mm512_add_ps(acc[0][p], acc[1][p]);
    GEMRUN_UNROLL
    for (int r = 0; r < NR; ++r)
      GEMRUN_UNROLL
      for (int c = 0; c < NC; ++c) out[c * ldo + r] = _mm512_reduce_add_ps(acc[0][r * NC + c]);
  }
};

}  // namespace

void Avx512AddBf16Tiles(IsaKernels& k) { SetDot(k, DType::kBF16, DotTile<DotBF16>); }

}  // namespace gemrun::kernels
