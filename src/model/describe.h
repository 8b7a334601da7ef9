// One-line, human description of what a GGUF file is ("gemma4 12B (dense, 48 layers), Q4_0,
// 6.9 GiB, 11.8B params, ctx 262144"; "gemma4 12B vision+audio projector (gemma4uv + gemma4ua)"),
// for `gemrun inspect` and the start-up banner of run / chat / serve. Derived from metadata
// and the tensor table only (never the file name), so it works without loading weights.
#pragma once

#include <cstdint>
#include <string>

namespace gemrun {

class GgufFile;

// Never fails: unknown or partial metadata gives a vaguer description (the loader reports
// what is actually wrong with a file).
std::string DescribeGguf(const GgufFile& f);

// The size name Google uses for a Gemma configuration ("12B", "E4B", "26B-A4B"), or "" when
// (arch, n_layer, n_embd) is not a released one.
std::string GemmaSizeName(const std::string& arch, int64_t n_layer, int64_t n_embd);

}  // namespace gemrun
