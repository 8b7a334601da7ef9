// Internal entry points that let one ISA's kernel table be filled from several files
// (each compiled with that ISA's flags). Only cpu/*.cc include this.
#pragma once

#include "kernels/isa.h"

namespace gemrun::kernels {
// What the code of each group of files needs: the target flags CMakeLists.txt compiles it
// with (the compiler may use any of them anywhere in the file). Keep the two in step.
constexpr FeatureSet kAvx2Code = kFeatAvx2 | kFeatFma | kFeatF16c | kFeatOsYmm;      // avx2*.cc
constexpr FeatureSet kAvx512Code = kAvx2Code | kFeatAvx512F | kFeatAvx512Bw | kFeatAvx512Vl |
                                   kFeatAvx512Dq | kFeatOsZmm;                        // avx512.cc
constexpr FeatureSet kAvx512VnniCode = kAvx512Code | kFeatAvx512Vnni;  // avx512_{q8,kquants,rows16}.cc
constexpr FeatureSet kAvx512Bf16Code = kAvx512Code | kFeatAvx512Bf16;  // avx512_bf16.cc

// Records `needs` for every entry of `k` that is set but has no needs declared yet.
inline void DeclareNeeds(IsaKernels& k, FeatureSet needs) {
  auto stamp = [needs](const void* fn, FeatureSet& n) {
    if (fn && n == 0) n = needs;
  };
  for (uint32_t i = 0; i < kDTypeCount; ++i) {
    stamp(reinterpret_cast<const void*>(k.quantize_act[i]), k.needs.quantize_act[i]);
    stamp(reinterpret_cast<const void*>(k.dot_tile[i]), k.needs.dot_tile[i]);
    stamp(reinterpret_cast<const void*>(k.rows16_tile[i]), k.needs.rows16_tile[i]);
    stamp(reinterpret_cast<const void*>(k.block_sums[i]), k.needs.block_sums[i]);
  }
  stamp(reinterpret_cast<const void*>(k.gelu_mul), k.needs.gelu_mul);
}

// The BF16 dot tile (vdpbf16ps).
void Avx512AddBf16Tiles(IsaKernels& k);
// Dot tiles for the weights whose activations are Q8_0/Q8_1 (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL).
void Avx512AddQ8Tiles(IsaKernels& k);
void Avx2AddQ8Tiles(IsaKernels& k);
// Dot tiles for the K-quants and IQ4_XS (activations in Q8_K).
void Avx512AddKQuantTiles(IsaKernels& k);
void Avx2AddKQuantTiles(IsaKernels& k);
// Tiles for row-interleaved (kRows16) weights and the Q8_0 block sums they consume.
void Avx512AddRows16Tiles(IsaKernels& k);
void Avx2AddRows16Tiles(IsaKernels& k);  // Q4_0, Q4_K with vpmaddubsw (avx2_rows16.cc)
}  // namespace gemrun::kernels
