// What leaves the machine is written down: the audit log (one JSON line per remote call, with
// the exact body sent and its sha256) and the token budget (per call, and per day in a small
// state file shared by every gemrun process of the user).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "base/status.h"

namespace gemrun::remote {

// Lower-case hex SHA-256 of `data`.
std::string Sha256Hex(const std::string& data);
// Now as "2026-12-02T10:00:00.123Z".
std::string UtcTimestamp();

// Appends `record` (one object) as one line to `path`, created 0600. Empty path: nothing.
Status AppendAudit(const std::string& path, const nlohmann::json& record);

// The per-day budget state: {"day": "2026-12-02", "tokens": N} (UTC days).
// Default path: $XDG_STATE_HOME/gemrun/remote-budget.json, else ~/.local/state/gemrun/remote-budget.json.
std::string DefaultBudgetPath();

class DailyBudget {
 public:
  // limit 0: unlimited (the file is still kept up to date when a path is known).
  DailyBudget(std::string path, int64_t limit) : path_(std::move(path)), limit_(limit) {}
  // Tokens used today (0 when the file is absent, unreadable or from another day).
  int64_t UsedToday() const;
  // True when `tokens` more fit under today's limit.
  bool Allows(int64_t tokens) const { return limit_ <= 0 || UsedToday() + tokens <= limit_; }
  // Adds `tokens` to today's total (under an flock, so concurrent processes add up).
  Status Charge(int64_t tokens);
  int64_t limit() const { return limit_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int64_t limit_;
};

}  // namespace gemrun::remote
