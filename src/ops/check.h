// `check`: a CI gate. The same inputs and plan as `ask`, a final answer constrained to a JSON
// Schema (the verdict), and a --fail-if expression over the verdict's fields.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "ops/ask.h"
#include "ops/fail_if.h"

namespace gemrun::ops {

// {pass: bool, severity: low|medium|high|critical, reasons: [string] (at most 5, 240 characters each)}
extern const char* const kDefaultVerdictSchema;
extern const char* const kDefaultCheckQuestion;

struct CheckOptions {
  AskOptions ask;                // ask.question: what to check; ask.answer_grammar: the schema's
  std::string schema_text;       // shown to the model in the instructions
  std::optional<FailIf> fail_if;  // none: the gate fails when the verdict says "pass": false
};

struct CheckResult {
  nlohmann::json verdict;
  bool failed = false;
  AskResult ask;
};

// Plans (reported through on_plan before any generation), runs, parses the verdict and
// evaluates the gate. A verdict cut by the token limit is a runtime error (no verdict is
// invented); a --fail-if that does not fit the verdict is an InvalidArgument.
StatusOr<CheckResult> RunCheck(Llm& llm, const std::vector<ingest::Document>& docs, const CheckOptions& opts,
                               const std::function<void(const Plan&)>& on_plan, const ProgressFn& progress,
                               Escalator* esc);

// Usage check before the model loads: every field --fail-if reads must be a property of the
// schema (when the schema lists properties).
Status CheckFailIfFields(const FailIf& f, const std::string& schema_text);

}  // namespace gemrun::ops
