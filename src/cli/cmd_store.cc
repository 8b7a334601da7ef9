// The model store's commands: pull, list, show, rm, export, import. Thin: parse flags, call store/, print.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "base/sys_info.h"
#include "cli/commands.h"
#include "model/model.h"
#include "store/bundle.h"
#include "store/pull.h"
#include "store/ref.h"
#include "store/store.h"

namespace gemrun::cli {
namespace {

int ParseOrExit(CLI::App& app, int argc, char** argv, bool* done, int* rc) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    *done = true;
    *rc = app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  return 0;
}

bool EnvTrue(const char* name) {
  const char* v = std::getenv(name);
  return v && *v && std::string(v) != "0" && std::string(v) != "false";
}

StatusOr<std::string> ReadToken(const std::string& file) {
  std::ifstream in(file);
  if (!in) return NotFoundError("--token-file " + file + ": cannot open it");
  std::string t;
  std::getline(in, t);
  while (!t.empty() && (t.back() == '\r' || t.back() == ' ')) t.pop_back();
  if (t.empty()) return InvalidArgumentError("--token-file " + file + ": the first line is empty");
  return t;
}

nlohmann::json BlobJson(const store::BlobRef& b, const store::Store& s) {
  return {{"sha256", b.sha256}, {"size", b.size}, {"file", b.file}, {"source", b.source},
          {"hash_origin", b.hash_origin}, {"path", s.BlobPath(b.sha256)}};
}

nlohmann::json ManifestJson(const store::Manifest& m, const store::Store& s) {
  return {{"name", m.name}, {"ref", m.ref}, {"architecture", m.architecture}, {"quantization", m.quantization},
          {"description", m.description}, {"created", m.created}, {"model", BlobJson(m.model, s)},
          {"projector", m.projector ? BlobJson(*m.projector, s) : nlohmann::json(nullptr)}};
}

}  // namespace

int CmdPull(int argc, char** argv) {
  CLI::App app{"Download a model into the local store ($GEMRUN_HOME, default ~/.local/share/gemrun), "
               "verifying its SHA-256. The only gemrun command that uses the network.\n"
               "REF: hf://ORG/REPO/FILE.gguf | ORG/REPO:QUANT (also fetches the repo's mmproj*.gguf) | "
               "https://HOST/FILE.gguf | a catalogue name (see --catalogue; they point to public repos).\n"
               "Interrupted downloads resume from <store>/partial on the next pull.\n"
               "environment: HF_TOKEN (gated repos), HF_ENDPOINT (mirror), https_proxy, GEMRUN_OFFLINE=1\n"
               "examples:\n  gemrun pull gemma3:1b\n  gemrun pull ggml-org/gemma-3-4b-it-GGUF:Q4_K_M\n"
               "  gemrun pull hf://ggml-org/gemma-3-1b-it-GGUF/gemma-3-1b-it-Q8_0.gguf --name g1\n"
               "  HF_ENDPOINT=https://hf-mirror.example gemrun pull gemma4:e4b && gemrun run -m gemma4:e4b -p Hi",
               "gemrun pull"};
  std::string ref, token_file;
  store::PullOptions o;
  bool catalogue = false, quiet = false;
  if (const char* e = std::getenv("HF_ENDPOINT"); e && *e) o.endpoint = e;
  app.add_option("ref", ref, "what to download (see above)");
  app.add_option("--name", o.name, "store name (default: the reference, e.g. gemma3:1b or ORG/REPO:QUANT)");
  app.add_option("--endpoint", o.endpoint, "Hugging Face endpoint or mirror (default: $HF_ENDPOINT or https://huggingface.co)");
  app.add_option("--token-file", token_file, "file whose first line is the access token (default: $HF_TOKEN)");
  app.add_flag("--offline", o.offline, "never touch the network (also GEMRUN_OFFLINE=1): succeeds only if already stored");
  app.add_flag("--force", o.force, "download again even if the name is in the store");
  app.add_option("--retries", o.max_attempts, "attempts per request before giving up (default 8)")->check(CLI::Range(1, 100));
  app.add_flag("-q,--quiet", quiet, "no progress bar");
  app.add_flag("--catalogue", catalogue, "list the built-in short names and exit");
  bool done = false;
  int rc = 0;
  ParseOrExit(app, argc, argv, &done, &rc);
  if (done) return rc;
  if (catalogue) {
    std::printf("built-in names (each points to a public Hugging Face repo):\n");
    for (const auto& e : store::Catalogue())
      std::printf("  %-12s %s:%s  %s\n", e.name.c_str(), e.repo.c_str(), e.quant.c_str(), e.about.c_str());
    return kExitOk;
  }
  if (ref.empty()) return ReportError("pull", InvalidArgumentError("give a model reference, e.g. gemrun pull gemma3:1b"));
  o.offline = o.offline || EnvTrue("GEMRUN_OFFLINE");
  if (!token_file.empty()) {
    auto t = ReadToken(token_file);
    if (!t.ok()) return ReportError("pull", t.status());
    o.token = *t;
  } else if (const char* t = std::getenv("HF_TOKEN"); t && *t) {
    o.token = t;
  }
  o.progress = !quiet && ::isatty(STDERR_FILENO);
  const store::Store s = store::Store::Default();
  auto log = [&](const std::string& line) { if (!quiet) std::fprintf(stderr, "%s\n", line.c_str()); };
  auto r = store::Pull(s, ref, o, log);
  if (!r.ok()) return ReportError("pull", r.status());
  std::printf("%s %s (%s, %s, %s)%s\n", r->already_present ? "already in the store:" : "pulled", r->manifest.name.c_str(),
              r->manifest.architecture.c_str(), r->manifest.quantization.c_str(),
              HumanBytes(r->manifest.model.size).c_str(), r->manifest.projector ? " + projector" : "");
  return kExitOk;
}

int CmdList(int argc, char** argv) {
  CLI::App app{"List the models in the local store.\nexamples:\n  gemrun list\n  gemrun list --json | jq '.[].name'",
               "gemrun list"};
  bool json = false;
  app.add_flag("--json", json, "one JSON array with every manifest");
  bool done = false;
  int rc = 0;
  ParseOrExit(app, argc, argv, &done, &rc);
  if (done) return rc;
  const store::Store s = store::Store::Default();
  auto list = s.List();
  if (!list.ok()) return ReportError("list", list.status());
  if (json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& m : *list) out.push_back(ManifestJson(m, s));
    std::printf("%s\n", out.dump(1).c_str());
    return kExitOk;
  }
  std::printf("%-44s %-10s %-8s %10s  %-12s %s\n", "NAME", "ARCH", "QUANT", "SIZE", "SHA256", "PROJECTOR");
  for (const auto& m : *list)
    std::printf("%-44s %-10s %-8s %10s  %-12s %s\n", m.name.c_str(), m.architecture.c_str(), m.quantization.c_str(),
                HumanBytes(m.model.size).c_str(), m.model.sha256.substr(0, 12).c_str(),
                m.projector ? HumanBytes(m.projector->size).c_str() : "-");
  if (list->empty()) std::printf("(no models in %s; add one with `gemrun pull gemma3:1b`)\n", s.root().c_str());
  return kExitOk;
}

int CmdShow(int argc, char** argv) {
  CLI::App app{"Show a stored model: manifest, header metadata and the memory a context needs.\n"
               "examples:\n  gemrun show gemma3:1b\n  gemrun show gemma3:1b -c 32768 --json",
               "gemrun show"};
  std::string name;
  int64_t n_ctx = 4096;
  bool json = false;
  app.add_option("name", name, "store name (see gemrun list)")->required();
  app.add_option("-c,--ctx-size", n_ctx, "context for the memory estimate (default 4096)")->check(CLI::Range(int64_t{1}, int64_t{1} << 24));
  app.add_flag("--json", json, "JSON output");
  bool done = false;
  int rc = 0;
  ParseOrExit(app, argc, argv, &done, &rc);
  if (done) return rc;
  const store::Store s = store::Store::Default();
  auto m = s.Get(name);
  if (!m.ok()) return ReportError("show", m.status());
  // The weights are mmapped; the KV cache (F16, llama.cpp's default) and activations are not.
  auto model = LoadModel(s.BlobPath(m->model.sha256));
  if (!model.ok()) return ReportError("show", model.status());
  const double kv = (*model)->KvCacheBytes(n_ctx, DType::kF16, 512);
  const double act = (*model)->WorkspaceBytesEstimate(512, n_ctx);
  nlohmann::json out = ManifestJson(*m, s);
  out["memory"] = {{"n_ctx", n_ctx}, {"weights_bytes", m->model.size}, {"kv_cache_f16_bytes", kv},
                   {"activations_bytes", act}, {"total_bytes", static_cast<double>(m->model.size) + kv + act}};
  if (json) {
    std::printf("%s\n", out.dump(1).c_str());
    return kExitOk;
  }
  std::printf("name          %s\nmodel         %s\nsource        %s\nsha256        %s (%s)\nfile          %s\n",
              m->name.c_str(), m->description.c_str(), m->model.source.c_str(), m->model.sha256.c_str(),
              m->model.hash_origin == "lfs" ? "verified against the repo listing" : "computed here: no published hash",
              s.BlobPath(m->model.sha256).c_str());
  if (m->projector)
    std::printf("projector     %s (%s)\n              %s\n", m->projector->file.c_str(), HumanBytes(m->projector->size).c_str(),
                s.BlobPath(m->projector->sha256).c_str());
  std::printf("memory        %s at -c %lld: weights %s (mmapped) + KV cache %s (f16) + activations ~%s\n",
              HumanBytes(static_cast<uint64_t>(static_cast<double>(m->model.size) + kv + act)).c_str(),
              static_cast<long long>(n_ctx), HumanBytes(m->model.size).c_str(), HumanBytes(static_cast<uint64_t>(kv)).c_str(),
              HumanBytes(static_cast<uint64_t>(act)).c_str());
  return kExitOk;
}

int CmdRm(int argc, char** argv) {
  CLI::App app{"Remove models from the store; a file is deleted only when no other name uses it.\n"
               "example:\n  gemrun rm gemma3:1b",
               "gemrun rm"};
  std::vector<std::string> names;
  app.add_option("names", names, "store names")->required();
  bool done = false;
  int rc = 0;
  ParseOrExit(app, argc, argv, &done, &rc);
  if (done) return rc;
  const store::Store s = store::Store::Default();
  for (const auto& n : names) {
    auto freed = s.Remove(n);
    if (!freed.ok()) return ReportError("rm", freed.status());
    std::printf("removed %s (freed %s)\n", n.c_str(), HumanBytes(*freed).c_str());
  }
  return kExitOk;
}

}  // namespace gemrun::cli

namespace gemrun::cli {

int CmdExport(int argc, char** argv) {
  CLI::App app{"Write a stored model (manifest, model file, projector) into one tar bundle for an air-gapped "
               "machine; `gemrun import` there checks every SHA-256.\n"
               "example:\n  gemrun export gemma3:1b -o gemma3-1b.tar",
               "gemrun export"};
  std::string name, out;
  app.add_option("name", name, "store name (see gemrun list)")->required();
  app.add_option("-o,--output", out, "bundle file to write (a plain tar)")->required();
  bool done = false;
  int rc = 0;
  ParseOrExit(app, argc, argv, &done, &rc);
  if (done) return rc;
  Status st = store::ExportBundle(store::Store::Default(), name, out);
  if (!st.ok()) return ReportError("export", st);
  std::printf("exported %s to %s\n", name.c_str(), out.c_str());
  return kExitOk;
}

int CmdImport(int argc, char** argv) {
  CLI::App app{"Add a bundle made by `gemrun export` to the local store; every file's SHA-256 is checked "
               "before anything enters the store. No network.\n"
               "examples:\n  gemrun import gemma3-1b.tar\n  gemrun import gemma3-1b.tar --name g1",
               "gemrun import"};
  std::string bundle, name;
  app.add_option("bundle", bundle, "bundle file (tar)")->required();
  app.add_option("--name", name, "store name (default: the name it was exported under)");
  bool done = false;
  int rc = 0;
  ParseOrExit(app, argc, argv, &done, &rc);
  if (done) return rc;
  if (!name.empty()) {
    if (Status st = store::Store::ValidateName(name); !st.ok()) return ReportError("import", st);
  }
  auto m = store::ImportBundle(store::Store::Default(), bundle, name);
  if (!m.ok()) return ReportError("import", m.status());
  std::printf("imported %s (%s, %s, sha256 %s verified)%s\n", m->name.c_str(), m->architecture.c_str(),
              HumanBytes(m->model.size).c_str(), m->model.sha256.substr(0, 12).c_str(),
              m->projector ? " + projector" : "");
  return kExitOk;
}

}  // namespace gemrun::cli
