// Internal declarations shared by the two weight-quantizer files (test/fixture use only).
#pragma once

#include <cstdint>

#include "quant/blocks.h"

namespace gemrun::quant_internal {

// The element of largest magnitude, with its sign (first one wins on ties); 0 for all-zero.
float SignedAbsMax(const float* x, int n);
// Index of the IQ4_NL codebook entry nearest to v (lowest index on ties).
int NearestIq4Index(float v);
// Packs n values (n even) as IQ4 codes of x/dl: low nibbles the first n/2, high the rest.
void QuantizeIq4Codes(const float* x, int n, float dl, uint8_t* qs);

void QuantizeQ2_K(const float* x, BlockQ2_K* y, int64_t nb);
void QuantizeQ3_K(const float* x, BlockQ3_K* y, int64_t nb);
void QuantizeQ4_K(const float* x, BlockQ4_K* y, int64_t nb);
void QuantizeQ5_K(const float* x, BlockQ5_K* y, int64_t nb);
void QuantizeQ6_K(const float* x, BlockQ6_K* y, int64_t nb);
void QuantizeIQ4_XS(const float* x, BlockIQ4_XS* y, int64_t nb);

}  // namespace gemrun::quant_internal
