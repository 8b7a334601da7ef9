// gemrun check: a CI gate. The inputs of `ask`, a verdict constrained to a JSON Schema, and
// --fail-if over its fields. Exit 0 passed, 1 gate failed (or a usage error: then stderr says
// "error:" and stdout is empty), 2 model/file error, 3 runtime error.
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/commands.h"
#include "cli/gen_flags.h"
#include "cli/ops_flags.h"
#include "cli/remote_flags.h"
#include "ops/remote_escalator.h"
#include "constrain/constrain.h"
#include "ops/check.h"

namespace gemrun::cli {

nlohmann::json CitationsJson(const std::vector<ops::Citation>& cites);  // cmd_ask.cc
void WarnInvalidCitations(const char* cmd, const std::vector<ops::Citation>& cites);

namespace {

Status LoadSchema(const std::string& file, ops::CheckOptions* co) {
  co->schema_text = ops::kDefaultVerdictSchema;
  if (!file.empty()) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return NotFoundError("cannot open --schema " + file);
    std::ostringstream ss;
    ss << in.rdbuf();
    co->schema_text = ss.str();
  }
  auto g = constrain::CompileJsonSchema(co->schema_text);
  if (!g.ok()) return Status(g.status().code(), "--schema " + (file.empty() ? "(default)" : file) + ": " + g.status().message());
  co->ask.answer_grammar = *g;
  return OkStatus();
}

// Runs one check and prints its line; returns the exit code it stands for.
int CheckItem(ops::Llm& llm, const std::vector<ingest::Document>& docs, const ops::CheckOptions& co,
              const std::string& item, bool ndjson, ops::Escalator* esc) {
  ProgressBar bar("check");
  auto on_plan = [&](const ops::Plan& p) {
    std::fprintf(stderr, "gemrun check: %s%s\n", item.empty() ? "" : (item + ": ").c_str(), p.Describe().c_str());
  };
  auto res = ops::RunCheck(llm, docs, co, on_plan, [&bar](const ops::AskProgress& p) { bar.Update(p); }, esc);
  bar.Done();
  if (!res.ok()) {
    if (ndjson) std::printf("%s\n", Dump({{"input", item}, {"error", res.status().message()}}).c_str());
    const int rc = ReportError("check", res.status());
    return rc == kExitUsage ? kExitRuntime : rc;  // a verdict the expression cannot read is not a usage error
  }
  WarnInvalidCitations("check", res->ask.citations);
  if (ndjson) {
    std::printf("%s\n", Dump({{"input", item}, {"failed", res->failed}, {"verdict", res->verdict},
                               {"citations", CitationsJson(res->ask.citations)}}).c_str());
  } else {
    std::printf("%s\n", Dump(res->verdict).c_str());
  }
  std::fflush(stdout);
  std::fprintf(stderr, "gemrun check: %s%s\n", item.empty() ? "" : (item + ": ").c_str(),
               res->failed ? "gate FAILED" : "passed");
  return res->failed ? 1 : kExitOk;
}

}  // namespace

int CmdCheck(int argc, char** argv) {
  CLI::App app{"A CI gate: read the inputs (as `ask` does), decide a verdict constrained to a JSON Schema, and "
               "fail when --fail-if holds. The verdict is printed as JSON on stdout.\n\n"
               "default schema: {\"pass\": bool, \"severity\": \"low\"|\"medium\"|\"high\"|\"critical\", "
               "\"reasons\": [string]}; without --fail-if the gate fails when pass is false\n\n"
               "examples:\n"
               "  git diff origin/main... | gemrun check -m model.gguf -p \"Does this diff leak secrets?\" "
               "--fail-if 'severity in [high, critical]'\n"
               "  gemrun check -m model.gguf -p \"Did the deploy fail?\" deploy.log --fail-if 'pass == false'\n"
               "  gemrun check -m model.gguf --schema review.json --fail-if 'score < 0.5 or not approved' src/\n"
               "  gemrun check -m model.gguf --ndjson logs/   (one verdict line per file)\n\n"
               "--fail-if: comparisons (== != < <= > >=) on numbers and strings, `in [a, b]`, `not in`, "
               "and/or/not, parentheses, fields by name (a.b, a[0])\n\n"
               "exit codes: 0 passed, 1 gate failed (a usage error also exits 1: it prints \"error:\" on stderr and "
               "nothing on stdout), 2 model/file error, 3 runtime error (e.g. no complete verdict)",
               "gemrun check"};
  GenFlags f;
  f.Register(app);
  OpsFlags o;
  o.Register(app, /*retrieve_flags=*/true);
  std::string question = ops::kDefaultCheckQuestion, schema_file, fail_if;
  bool ndjson = false;
  app.add_option("-p,--prompt", question, "what to check (default: a general review for problems)");
  app.add_option("--schema", schema_file, "the verdict's JSON Schema, e.g. --schema verdict.json");
  app.add_option("--fail-if", fail_if, "gate expression on the verdict, e.g. --fail-if 'severity in [high, critical]'");
  app.add_flag("--ndjson", ndjson, "one verdict line per input file: {input, failed, verdict, citations}");
  RemoteFlags rf;
  rf.Register(app);
  f.gen.sampling.temperature = 0;
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  if (Status s = f.Finish(); !s.ok()) return ReportError("check", s);
  auto ropts = rf.Finish();
  if (!ropts.ok()) return ReportError("check", ropts.status());
  ops::CheckOptions co;
  co.ask = o.ask;
  co.ask.question = question;
  co.ask.retrieve = o.retrieve;
  if (Status s = LoadSchema(schema_file, &co); !s.ok()) return ReportError("check", s);
  if (!fail_if.empty()) {
    auto fi = ops::FailIf::Parse(fail_if);
    if (!fi.ok()) return ReportError("check", fi.status());
    if (Status s = ops::CheckFailIfFields(*fi, co.schema_text); !s.ok()) return ReportError("check", s);
    co.fail_if = std::move(*fi);
  }
  ingest::IngestResult in;
  if (Status s = o.Load("check", &in); !s.ok()) return ReportError("check", s);
  auto engine = Engine::Load(f.model, f.engine);
  if (!engine.ok()) return ReportError("check", engine.status());
  auto llm = ops::LocalLlm::Create(**engine, f.gen, f.parse_special_in_content);
  if (!llm.ok()) return ReportError("check", llm.status());
  // --remote: the verdict may come from the remote engine by the router's rule; it must satisfy
  // the same schema (checked with the verdict's grammar), else the local verdict stands.
  std::optional<ops::RemoteEscalator> esc;
  if (rf.active()) {
    const nlohmann::json format = {{"type", "json_schema"},
                                   {"json_schema", {{"name", "verdict"}, {"strict", true},
                                                    {"schema", nlohmann::json::parse(co.schema_text)}}}};
    esc.emplace(*ropts, "check", **llm, format);
  }
  ops::Escalator* e = esc ? &*esc : nullptr;
  if (!ndjson) return CheckItem(**llm, in.docs, co, "", false, e);
  int worst = kExitOk;
  for (const ingest::Document& d : in.docs) worst = std::max(worst, CheckItem(**llm, {d}, co, d.name, true, e));
  return worst;
}

}  // namespace gemrun::cli
