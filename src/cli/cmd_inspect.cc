// gemrun inspect FILE [--json]: what a GGUF file is (one line), its metadata and tensor table.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "gguf/gguf.h"
#include "model/describe.h"

namespace gemrun::cli {
namespace {

// Long arrays are summarised: a vocabulary has 262144 entries.
constexpr uint64_t kShowArray = 8;

nlohmann::json ScalarJson(const GgufValue& v) {
  switch (v.type) {
    case GgufType::kString: return std::string(v.str);
    case GgufType::kBool: return v.u != 0;
    case GgufType::kF32: case GgufType::kF64: return v.f;
    case GgufType::kU64: return v.u;
    default: return v.i;
  }
}

nlohmann::json ValueJson(const GgufFile& f, const std::string& key, const GgufValue& v, bool full) {
  if (v.type != GgufType::kArray) return ScalarJson(v);
  nlohmann::json arr = nlohmann::json::array();
  const uint64_t n = full ? v.count : std::min(v.count, kShowArray);
  if (v.elem_type == GgufType::kString) {
    for (uint64_t i = 0; i < n; ++i) arr.push_back(std::string(v.strs[i]));
  } else if (auto ints = f.GetIntArray(key); ints.ok()) {
    for (uint64_t i = 0; i < n; ++i) arr.push_back((*ints)[i]);
  } else if (auto fl = f.GetFloatArray(key); fl.ok()) {
    for (uint64_t i = 0; i < n; ++i) arr.push_back((*fl)[i]);
  }
  return nlohmann::json{{"type", std::string("array[") + GgufTypeName(v.elem_type) + "]"},
                        {"count", v.count}, {"values", arr}};
}

std::string Shape(const GgufTensorInfo& t) {
  std::string s = "[";
  for (uint32_t d = 0; d < t.n_dims; ++d) s += (d ? ", " : "") + std::to_string(t.ne[d]);
  return s + "]";
}

}  // namespace

int CmdInspect(int argc, char** argv) {
  CLI::App app{"Print what a GGUF file is (e.g. \"gemma4 12B (dense, 48 layers), Q4_0, ...\"), its metadata\n"
               "and tensor table.\n\n"
               "examples:\n  gemrun inspect gemma-3-1b-it-Q4_0.gguf\n"
               "  gemrun inspect model.gguf --json | jq '.metadata[\"general.architecture\"]'",
               "gemrun inspect"};
  std::string path;
  bool json = false, full = false;
  app.add_option("file", path, "GGUF file")->required();
  app.add_flag("--json", json, "machine-readable output");
  app.add_flag("--full", full, "print arrays in full (vocabularies can be huge)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  auto file = GgufFile::Open(path);
  if (!file.ok()) return ReportError("inspect", file.status());
  const GgufFile& f = **file;
  if (json) {
    nlohmann::json out;
    out["file"] = path;
    out["version"] = f.version();
    out["alignment"] = f.alignment();
    out["data_offset"] = f.data_offset();
    out["description"] = DescribeGguf(f);
    nlohmann::json meta = nlohmann::json::object();
    for (const auto& [k, v] : f.metadata()) meta[k] = ValueJson(f, k, v, full);
    out["metadata"] = meta;
    nlohmann::json ts = nlohmann::json::array();
    for (const auto& t : f.tensors()) {
      std::vector<int64_t> shape(t.ne, t.ne + t.n_dims);
      ts.push_back({{"name", t.name}, {"type", DTypeName(t.type)}, {"shape", shape},
                    {"offset", t.offset}, {"bytes", t.nbytes}});
    }
    out["tensors"] = ts;
    std::printf("%s\n", out.dump(1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return kExitOk;
  }
  std::printf("%s: GGUF v%u, %zu metadata keys, %zu tensors, alignment %llu, data at %llu\n",
              path.c_str(), f.version(), f.metadata().size(), f.tensors().size(),
              (unsigned long long)f.alignment(), (unsigned long long)f.data_offset());
  std::printf("  %s\n", DescribeGguf(f).c_str());
  for (const auto& [k, v] : f.metadata()) {
    std::string val = ValueJson(f, k, v, full).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (val.size() > 160) val = val.substr(0, 157) + "...";
    std::printf("  %-48s %s\n", k.c_str(), val.c_str());
  }
  uint64_t total = 0;
  for (const auto& t : f.tensors()) {
    std::printf("  %-40s %-8s %-24s %12llu bytes\n", t.name.c_str(), DTypeName(t.type).c_str(),
                Shape(t).c_str(), (unsigned long long)t.nbytes);
    total += t.nbytes;
  }
  std::printf("total tensor bytes: %llu\n", (unsigned long long)total);
  return kExitOk;
}

}  // namespace gemrun::cli
