// Memory read bandwidth, measured on the spot: what bounds decode speed on a CPU, since each
// generated token reads every weight once (`gemrun fit`'s tokens/s estimate).
#pragma once

#include <cstdint>

namespace gemrun {

// Bytes/s: `threads` threads (0: DefaultThreadCount()) sum a freshly written buffer of `bytes`
// bytes (larger than any last-level cache, so DRAM is measured); the best of three passes.
// About 0.1-0.3 s for the default 256 MiB. 0 when the buffer cannot be allocated.
double MeasureReadBandwidth(int threads = 0, uint64_t bytes = uint64_t{256} << 20);

}  // namespace gemrun
