// check: verdict under a schema, then the gate.
#include "ops/check.h"

namespace gemrun::ops {

const char* const kDefaultVerdictSchema = R"({
  "type": "object",
  "properties": {
    "pass": {"type": "boolean"},
    "severity": {"enum": ["low", "medium", "high", "critical"]},
    "reasons": {"type": "array", "items": {"type": "string", "maxLength": 240}, "maxItems": 5}
  },
  "required": ["pass", "severity", "reasons"],
  "additionalProperties": false
})";

const char* const kDefaultCheckQuestion =
    "Review this input for problems: errors, failures, security issues, risky changes. Decide whether it passes.";

Status CheckFailIfFields(const FailIf& f, const std::string& schema_text) {
  const auto s = nlohmann::json::parse(schema_text, nullptr, false);
  if (!s.is_object() || !s.contains("properties") || !s["properties"].is_object()) return OkStatus();
  for (const std::string& field : f.fields()) {
    if (s["properties"].contains(field)) continue;
    std::string have;
    for (const auto& [k, v] : s["properties"].items()) have += (have.empty() ? "" : ", ") + k;
    return InvalidArgumentError("--fail-if reads '" + field + "', which the verdict schema does not have (fields: " +
                                have + ")");
  }
  return OkStatus();
}

StatusOr<CheckResult> RunCheck(Llm& llm, const std::vector<ingest::Document>& docs, const CheckOptions& opts,
                               const std::function<void(const Plan&)>& on_plan, const ProgressFn& progress,
                               Escalator* esc) {
  AskOptions ao = opts.ask;
  ao.answer_instructions =
      "Give your verdict as one JSON object that follows this JSON Schema:\n" + opts.schema_text +
      "\nIn text fields, cite the evidence as file:LINE, file:FIRST-LAST or file#PAGE.";
  Ask ask(llm, docs, ao);
  ASSIGN_OR_RETURN(Plan plan, ask.MakePlan());
  if (on_plan) on_plan(plan);
  ASSIGN_OR_RETURN(AskResult ar, ask.Run(progress, esc));
  const LlmReply& r = ar.final_reply;
  if (!r.constraint_error.empty())
    return InternalError("no verdict: " + r.constraint_error + " (raise --answer-tokens)");
  CheckResult out;
  out.verdict = nlohmann::json::parse(r.text, nullptr, false);
  if (out.verdict.is_discarded())
    return InternalError("no verdict: the answer is not JSON: " + r.text.substr(0, 200));
  if (opts.fail_if) {
    ASSIGN_OR_RETURN(out.failed, opts.fail_if->Eval(out.verdict));
  } else {
    out.failed = out.verdict.is_object() && out.verdict.contains("pass") && out.verdict["pass"] == false;
  }
  out.ask = std::move(ar);
  return out;
}

}  // namespace gemrun::ops
