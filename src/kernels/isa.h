// Runtime ISA dispatch: one table of hot inner kernels per instruction set. The best
// available set is chosen once at start-up; GEMRUN_ISA=scalar|avx2|avx2vnni|avx512 forces a
// lower one. Within a set each kernel declares the CPU features its code needs, and an entry
// whose features this CPU lacks falls back to the next lower implementation (e.g. the AVX-512
// BF16 dot tile on an Ice Lake, which has AVX-512 VNNI but not BF16). On 64-bit ARM the levels
// are neon < neondot < neoni8mm (GEMRUN_ISA=neon|neondot|neoni8mm|scalar), see docs/ARM64.md.
#pragma once

#include <cstdint>

#include "tensor/dtype.h"

namespace gemrun::kernels {

// kAvx2Vnni (AVX2 + AVX-VNNI, no AVX-512) ranks between kAvx2 and kAvx512; its value is
// appended so the older ones keep theirs.
// The ARM levels (ASIMD; + dotprod sdot; + i8mm smmla) follow; a binary contains the levels of
// its architecture only.
enum class Isa { kScalar = 0, kAvx2 = 1, kAvx512 = 2, kAvx2Vnni = 3, kNeon = 4, kNeonDot = 5, kNeonI8mm = 6 };
constexpr int kIsaCount = 7;
// All levels from lowest to highest (each architecture's levels rank above scalar; the two
// architectures never meet in one binary).
constexpr Isa kIsasByRank[kIsaCount] = {Isa::kScalar, Isa::kAvx2, Isa::kAvx2Vnni, Isa::kAvx512,
                                        Isa::kNeon,   Isa::kNeonDot, Isa::kNeonI8mm};

// One bit per CPU feature a kernel may need; OS_YMM/OS_ZMM mean the OS saves that register
// state (XGETBV), without which the instructions fault even when CPUID lists them.
using FeatureSet = uint32_t;
enum CpuFeature : FeatureSet {
  kFeatAvx2 = 1u << 0, kFeatFma = 1u << 1, kFeatF16c = 1u << 2, kFeatAvxVnni = 1u << 3,
  kFeatAvx512F = 1u << 4, kFeatAvx512Bw = 1u << 5, kFeatAvx512Vl = 1u << 6, kFeatAvx512Dq = 1u << 7,
  kFeatAvx512Vnni = 1u << 8, kFeatAvx512Bf16 = 1u << 9, kFeatAvx512Vbmi = 1u << 10,
  kFeatOsYmm = 1u << 11, kFeatOsZmm = 1u << 12,
  // 64-bit ARM: Advanced SIMD, the dot product (FEAT_DotProd) and int8 matrix multiply
  // (FEAT_I8MM) extensions.
  kFeatNeon = 1u << 13, kFeatDotProd = 1u << 14, kFeatI8mm = 1u << 15,
};
constexpr int kCpuFeatureCount = 16;
constexpr FeatureSet kAllCpuFeatures = (1u << kCpuFeatureCount) - 1;
const char* CpuFeatureName(CpuFeature f);

// What the CPU (and OS) offer. Built by DetectCpuFeatures() or, in tests, from a FeatureSet.
struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false, avx_vnni = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;
  bool avx512vnni = false, avx512bf16 = false, avx512vbmi = false;
  bool os_ymm = false, os_zmm = false;  // XCR0: YMM / ZMM+opmask state enabled by the OS
  bool neon = false, dotprod = false, i8mm = false;  // AArch64: HWCAP (Linux) / sysctl (macOS)

  FeatureSet Set() const;
  static CpuFeatures FromSet(FeatureSet s);
};
// CPUID + XGETBV on x86-64, getauxval(AT_HWCAP/AT_HWCAP2) on Linux/AArch64, sysctlbyname
// on macOS/arm64 (cached); nothing elsewhere.
const CpuFeatures& DetectCpuFeatures();
// The features every kernel of a set's compile flags may use (its table's baseline, which
// decides IsaAvailable); entries that need more declare it (IsaKernels::Needs).
FeatureSet IsaBaseline(Isa isa);

// Converts an activation row (n floats) into a vec_dot format (the table is indexed by
// the format's DType id: F32, F16, BF16, Q8_0, Q8_1, Q8_K).
using QuantizeActFn = void (*)(const float* x, void* dst, int64_t n);

// A tile of dot products over rows of n elements:
//   out[c * ldo + r] = dot(weight row r, activation row c)   for r < nr, c < nc
// Weight rows are `w_stride` bytes apart, activation rows `a_stride` bytes apart.
// Indexed by the weight's DType id.
using DotTileFn = void (*)(int64_t n, const void* w, int64_t w_stride, int nr, const void* a,
                           int64_t a_stride, int nc, float* out, int64_t ldo);

// y = gelu(gate) * up (up == nullptr: plain gelu) through llama.cpp's F16 lookup table
// `table` (65536 entries + 2 of padding, so 32-bit gathers stay inside it).
using GeluMulFn = void (*)(const float* gate, const float* up, float* y, int64_t n, const uint16_t* table);

// Row-interleaved weights (WeightLayout::kRows16, see kernels/repack.h): out[c * ldo + r] =
// dot(weight row r, activation row c) for r < n_rows (a multiple of 16, starting at a row
// group), c < T. Activations are rows of the weight type's vec_dot format (Q8_0 or Q8_K)
// `a_stride` apart, with the per-block scales `ad` and sums `asum` that the format's
// BlockSumsFn writes (row c's at ad + c * BlockSumsScales(K), asum + c * BlockSumsInts(K)).
// The tile blocks rows and columns for the caches.
using Rows16TileFn = void (*)(int64_t K, const uint8_t* w, int64_t n_rows, const uint8_t* a,
                              int64_t a_stride, const float* ad, const int32_t* asum, int64_t T,
                              float* out, int64_t ldo);
// Per-block metadata of an activation row of nb blocks:
//   Q8_0: d[b] = the f32 scale, sum[b] = the sum of the 32 codes;
//   Q8_K: d[b] = the scale, sum[4b + i] = the sums of 32-code sub-blocks 2i (low int16) and
//         2i + 1 (high int16), as vpdpwssd wants them.
using BlockSumsFn = void (*)(const uint8_t* row, int64_t nb, float* d, int32_t* sum);
// Entries per activation row of K values: ad (one per block) and asum.
constexpr int64_t BlockSumsScales(DType act, int64_t K) { return act == DType::kQ8_K ? K / 256 : K / 32; }
constexpr int64_t BlockSumsInts(DType act, int64_t K) { return act == DType::kQ8_K ? K / 64 : K / 32; }

struct IsaKernels {
  Isa isa;
  const char* name;
  QuantizeActFn quantize_act[kDTypeCount];  // nullptr: not provided at this ISA
  DotTileFn dot_tile[kDTypeCount];          // nullptr: not provided at this ISA
  GeluMulFn gelu_mul = nullptr;             // nullptr: not provided at this ISA
  // Tiles for kRows16 weights. Never filled from a lower ISA: weights are packed only when
  // the active ISA has a tile for their type.
  Rows16TileFn rows16_tile[kDTypeCount];
  BlockSumsFn block_sums[kDTypeCount];      // by activation format (Q8_0, Q8_K)
  const char* rows16_desc = nullptr;         // how the kRows16 tiles run (bench); nullptr: none
  // The CPU features each entry's code needs (0: plain C++). Declared by the file that
  // provides the kernel: the target flags it is compiled with (see CMakeLists.txt).
  struct Needs {
    FeatureSet quantize_act[kDTypeCount] = {};
    FeatureSet dot_tile[kDTypeCount] = {};
    FeatureSet gelu_mul = 0;
    FeatureSet rows16_tile[kDTypeCount] = {};
    FeatureSet block_sums[kDTypeCount] = {};
  } needs;
};

// The kernels for `isa` on this CPU: each entry is the highest implementation at or below
// `isa` whose needs this CPU meets (finally the scalar reference), so every supported type
// always has an entry. Row-interleaved tiles come only from `isa` itself.
const IsaKernels& KernelsFor(Isa isa);
// The same selection for a given feature set (tests: the table a CPU lacking a feature gets).
IsaKernels BuildKernels(Isa isa, const CpuFeatures& cpu);
// True when this CPU meets `isa`'s baseline and the binary contains it.
bool IsaAvailable(Isa isa);
// The set in use: the best available unless GEMRUN_ISA asks for a lower one.
const IsaKernels& ActiveKernels();
const char* IsaName(Isa isa);

}  // namespace gemrun::kernels
