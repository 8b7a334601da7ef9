// Flags for escalation to a remote engine, shared by the front ends (run, serve): --remote,
// --remote-key-file, --escalate, --min-confidence, --redact-file, --audit, budgets, timeouts.
// Without --remote nothing here touches the network.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

#include "cli/constrain_flags.h"
#include "remote/router.h"

namespace gemrun::cli {

struct RemoteFlags {
  std::string url, key_file, model, escalate, redact_file, audit;
  double min_confidence = -1.0;
  int64_t max_tokens = 0, max_tokens_per_day = 0;
  double timeout_s = 300, connect_timeout_s = 10;
  int retries = 2;
  bool stream = false;

  void Register(CLI::App& app);
  // True when --remote was given (the router then decides and prints every decision).
  bool active() const { return !url.empty(); }
  // The router's options: reads the key and the redact file, checks the flags' combination.
  // InvalidArgument for usage errors (e.g. --escalate auto without --remote), NotFound for files.
  StatusOr<remote::RouterOptions> Finish() const;
};

// The OpenAI response_format matching the constraint flags (json_object / json_schema), or none
// for --grammar / --regex (the remote answer is then not checked). NotFound/InvalidArgument for
// an unreadable or non-JSON schema file.
StatusOr<std::optional<nlohmann::json>> ResponseFormatFor(const ConstraintFlags& c);

}  // namespace gemrun::cli
