// QuantizeFile: GGUF in -> GGUF out with the plan of quant_plan.h, streaming: the input is
// mmapped, the output written front to back (header with every offset first, then each
// tensor), and memory holds one batch of rows (16 MiB in, 16 MiB out) plus one f32 row per thread,
// not a tensor or the model. Rows are split over the thread pool; every row is quantized on
// its own, so the bytes do not depend on the thread count.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "convert/quant_plan.h"
#include "threading/thread_pool.h"

namespace gemrun::convert {

struct QuantizeStats {
  uint64_t in_bytes = 0;   // tensor data read
  uint64_t out_bytes = 0;  // output file size
  int n_tensors = 0;
  int n_quantized = 0;     // tensors converted (the rest are copied)
  int n_fallback = 0;
};

// `log` (may be empty) receives one line per tensor. Errors: those of GgufFile::Open and
// PlanQuantization; InvalidArgument when out names the input file or cannot be created;
// ResourceExhausted when the disk is (or becomes) full. On any error no file is left at
// `out` nor at `out.partial` (an existing `out` is replaced only on success).
StatusOr<QuantizeStats> QuantizeFile(const std::string& in, const std::string& out,
                                     const QuantizeOptions& opt, ThreadPool& pool,
                                     const std::function<void(std::string_view)>& log);

}  // namespace gemrun::convert
