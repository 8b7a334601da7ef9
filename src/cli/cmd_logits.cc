// gemrun logits — placeholder until the model lands.
#include "cli/commands.h"
namespace gemrun::cli {
int CmdLogits(int, char**) { return kExitRuntime; }
}
