// libFuzzer target for the constraint parsers: the first byte picks JSON Schema, GBNF or regex;
// the rest is the constraint text. A compiled grammar is then run over the same bytes. Any
// input must give a Status, never a crash, hang or sanitizer report.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "constrain/constrain.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0 || size > 4096) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  using namespace gemrun;
  using namespace gemrun::constrain;
  StatusOr<GrammarPtr> g = InvalidArgumentError("none");
  switch (data[0] % 3) {
    case 0: g = CompileJsonSchema(text); break;
    case 1: g = CompileGbnf(text); break;
    default: g = CompileRegex(text); break;
  }
  if (g.ok()) (void)GrammarAccepts(*g, text.substr(0, 256));
  return 0;
}
