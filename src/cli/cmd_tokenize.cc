// gemrun tokenize — placeholder until the tokenizer lands (owned by the tokenizer work).
#include <cstdio>

#include "cli/commands.h"

namespace gemrun::cli {
int CmdTokenize(int, char**) {
  std::fprintf(stderr, "gemrun tokenize: not built yet\n");
  return kExitRuntime;
}
}  // namespace gemrun::cli
