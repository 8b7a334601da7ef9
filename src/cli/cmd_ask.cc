// gemrun ask: a question over files, directories and piped input of any size. Thin: flags,
// ingest, ops::Ask, printing (the plan on stderr, the answer on stdout, --json for scripts).
#include <unistd.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/remote_flags.h"
#include "ops/remote_escalator.h"
#include "cli/gen_flags.h"
#include "cli/ops_flags.h"
#include "ops/ask.h"

namespace gemrun::cli {

nlohmann::json CitationsJson(const std::vector<ops::Citation>& cites) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& c : cites) {
    nlohmann::json j = {{"text", c.text}, {"source", c.source}, {"first", c.first}, {"last", c.last}, {"valid", c.valid}};
    if (!c.valid) j["problem"] = c.problem;
    a.push_back(std::move(j));
  }
  return a;
}

void WarnInvalidCitations(const char* cmd, const std::vector<ops::Citation>& cites) {
  for (const auto& c : cites)
    if (!c.valid) std::fprintf(stderr, "gemrun %s: warning: citation %s is not in the input: %s\n", cmd, c.text.c_str(),
                               c.problem.c_str());
}

int CmdAsk(int argc, char** argv) {
  CLI::App app{"Ask a question about files, directories and piped input of any size. Counts tokens first and "
               "prints the plan on stderr: the whole input in one prompt when it fits the context, otherwise "
               "map-reduce over chunks (notes per chunk, merged until they fit) or, with --retrieve, the most "
               "relevant chunks (BM25). Nothing is cut silently. The answer cites file:LINE / file#PAGE ranges; "
               "citations that are not in the input are flagged.\n\n"
               "examples:\n"
               "  journalctl -u nginx -o json -n 5000 | gemrun ask -m model.gguf -p \"Why does nginx fail?\"\n"
               "  gemrun ask -m model.gguf -p \"Which runbook covers disk full?\" runbooks/ --include '*.md'\n"
               "  gemrun ask -m model.gguf -c 4096 -p \"What failed at boot?\" /var/log/syslog.2.gz\n"
               "  gemrun ask -m model.gguf --retrieve -p \"OOM killer victims\" big.log --json\n"
               "  gemrun ask -m model.gguf -p \"Root cause?\" app.log --remote https://llm.example.com/v1 --escalate auto "
               "--audit remote.jsonl   (redacted before it leaves; docs/remote.md)\n\n"
               "inputs: text and logs, .gz/.zst/.xz, PDF (text per page), HTML, JSON/YAML, journalctl -o json; "
               "binary files in directories are skipped with a note\n\n"
               "exit codes: 0 ok, 1 usage error, 2 model/file error (incl. a corrupt input), 3 runtime error",
               "gemrun ask"};
  GenFlags f;
  f.Register(app);
  OpsFlags o;
  o.Register(app, /*retrieve_flags=*/true);
  std::string question;
  app.add_option("-p,--prompt", question, "the question")->required();
  app.add_flag("--json", o.json, "print one JSON object: answer, citations (each checked), plan, usage");
  RemoteFlags rf;
  rf.Register(app);
  f.gen.sampling.temperature = 0;  // analysis, not prose: greedy unless asked otherwise
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  if (Status s = f.Finish(); !s.ok()) return ReportError("ask", s);
  auto ropts = rf.Finish();
  if (!ropts.ok()) return ReportError("ask", ropts.status());
  ingest::IngestResult in;
  if (Status s = o.Load("ask", &in); !s.ok()) return ReportError("ask", s);
  auto engine = Engine::Load(f.model, f.engine);
  if (!engine.ok()) return ReportError("ask", engine.status());
  auto llm = ops::LocalLlm::Create(**engine, f.gen, f.parse_special_in_content);
  if (!llm.ok()) return ReportError("ask", llm.status());
  ops::AskOptions ao = o.ask;
  ao.question = question;
  ao.retrieve = o.retrieve;
  ops::Ask ask(**llm, in.docs, ao);
  auto plan = ask.MakePlan();
  if (!plan.ok()) return ReportError("ask", plan.status());
  std::fprintf(stderr, "gemrun ask: %s\n", plan->Describe().c_str());
  std::optional<ops::RemoteEscalator> esc;  // --remote: local first, the router's rule decides
  if (rf.active()) esc.emplace(*ropts, "ask", **llm);
  ProgressBar bar("ask");
  auto res = ask.Run([&bar](const ops::AskProgress& p) { bar.Update(p); }, esc ? &*esc : nullptr);
  bar.Done();
  if (!res.ok()) return ReportError("ask", res.status());
  if (res->plan.strategy == "retrieve") std::fprintf(stderr, "gemrun ask: %s\n", res->plan.Describe().c_str());
  WarnInvalidCitations("ask", res->citations);
  const ops::LlmReply& r = res->final_reply;
  if (o.json) {
    nlohmann::json out = {{"answer", res->answer}, {"raw_answer", res->raw_answer},
                          {"citations", CitationsJson(res->citations)}, {"plan", res->plan.ToJson()},
                          {"rounds", res->rounds}, {"route", r.route},
                          {"routing", esc ? esc->last_route() : nlohmann::json()},
                          {"finish_reason", FinishReasonDetail(r.finish)},
                          {"usage", {{"prompt_tokens", r.prompt_tokens}, {"completion_tokens", r.gen_tokens}}}};
    std::printf("%s\n", Dump(out).c_str());
  } else {
    std::printf("%s\n", res->answer.c_str());
  }
  return kExitOk;
}

}  // namespace gemrun::cli
