// Store names for -m: the one place every command's model argument is resolved. Before a
// command parses its flags, `-m NAME` (or --model NAME / --model=NAME) naming no file but a
// model in the store becomes the blob's path, and commands that take a projector get the
// manifest's one as --mmproj unless the user gave one; `serve` advertises the store name
// (--alias) instead of the blob's file name.
#include <cstring>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "store/store.h"

namespace gemrun::cli {
namespace {

// Commands with a --mmproj option that is valid without other flags.
bool TakesProjector(const char* cmd) {
  for (const char* c : {"run", "chat", "serve", "embed-image", "embed-audio"})
    if (!std::strcmp(cmd, c)) return true;
  return false;
}

}  // namespace

void ResolveStoreModelArgs(int* argc, char*** argv) {
  static std::vector<std::string> storage;  // the rewritten arguments live until exit
  static std::vector<char*> ptrs;
  std::vector<std::string> args((*argv), (*argv) + *argc);
  std::string projector;
  std::string store_name;
  bool has_mmproj = false, has_alias = false, changed = false;
  for (size_t i = 1; i < args.size(); ++i) {
    std::string& a = args[i];
    if (a == "--mmproj" || a.rfind("--mmproj=", 0) == 0) has_mmproj = true;
    if (a == "--alias" || a.rfind("--alias=", 0) == 0) has_alias = true;
    std::string* value = nullptr;
    std::string prefix;
    if ((a == "-m" || a == "--model") && i + 1 < args.size()) value = &args[++i];
    else if (a.rfind("--model=", 0) == 0) { prefix = "--model="; value = &a; }
    if (!value) continue;
    const std::string v = value->substr(prefix.size());
    auto r = store::ResolveModelArg(v);
    if (!r) continue;
    store_name = v;
    *value = prefix + r->model_path;
    projector = r->projector_path;
    changed = true;
  }
  if (!changed) return;
  if (!has_mmproj && !projector.empty() && *argc >= 1 && TakesProjector((*argv)[0])) {
    args.push_back("--mmproj");
    args.push_back(projector);
  }
  if (!has_alias && *argc >= 1 && !std::strcmp((*argv)[0], "serve")) {
    args.push_back("--alias");
    args.push_back(store_name);
  }
  storage = std::move(args);
  ptrs.clear();
  for (auto& s : storage) ptrs.push_back(s.data());
  ptrs.push_back(nullptr);
  *argc = static_cast<int>(storage.size());
  *argv = ptrs.data();
}

}  // namespace gemrun::cli
