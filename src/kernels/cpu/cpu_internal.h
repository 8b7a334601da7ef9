// Internal entry points that let one ISA's kernel table be filled from several files
// (each compiled with that ISA's flags). Only cpu/*.cc include this.
#pragma once

#include "kernels/isa.h"

namespace gemrun::kernels {
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
