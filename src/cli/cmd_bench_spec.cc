// gemrun bench --verify-k A..B [--draft-model FILE]: what speculative decoding would cost on
// this machine. For each k, one target pass over k ids (logits for every row, as a
// verification pass) against k single-id steps, interleaved, median of -r runs, after -d
// cached ids. With a drafter, its cost per drafted id (one single-id step), and the projected
// decode speed-up at acceptance rates 0.6 and 0.8 from those measured costs.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/bench_spec.h"
#include "engine/speculative.h"

namespace gemrun::cli {
namespace {

using Clock = std::chrono::steady_clock;
double Ms(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double, std::milli>(b - a).count(); }
double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// Fills the cache with `depth` ids (untimed).
Status Fill(const Model& m, ForwardState& st, std::span<const int32_t> ids, int64_t depth, float* logits, ThreadPool& pool) {
  st.kv->n_past = 0;
  const int64_t B = st.ws->max_rows;
  for (int64_t i = 0; i < depth; i += B)
    RETURN_IF_ERROR(m.Forward(ids.subspan(i, std::min(B, depth - i)), st, LogitsMode::kLast, logits, pool));
  return OkStatus();
}

// Milliseconds of one single-id step after `depth` ids (median over reps of n steps each).
StatusOr<double> StepMs(const Model& m, ForwardState& st, std::span<const int32_t> ids, int64_t depth, int n,
                        int reps, float* logits, ThreadPool& pool) {
  std::vector<double> runs;
  for (int r = 0; r <= reps; ++r) {
    RETURN_IF_ERROR(Fill(m, st, ids, depth, logits, pool));
    const auto t0 = Clock::now();
    for (int i = 0; i < n; ++i)
      RETURN_IF_ERROR(m.Forward(ids.subspan(depth + i, 1), st, LogitsMode::kLast, logits, pool));
    if (r) runs.push_back(Ms(t0, Clock::now()) / n);
  }
  return Median(runs);
}

}  // namespace

StatusOr<int64_t> ParseKRange(const std::string& s, int64_t* hi) {
  const size_t dots = s.find("..");
  char* end = nullptr;
  const long a = std::strtol(s.c_str(), &end, 10);
  const long b = dots == std::string::npos ? a : std::strtol(s.c_str() + dots + 2, &end, 10);
  if (*end || a < 1 || b < a || b > 64) return InvalidArgumentError("--verify-k '" + s + "': expected K or A..B with 1 <= A <= B <= 64");
  *hi = b;
  return a;
}

int BenchVerify(const VerifyBenchArgs& a) {
  const Model& m = a.model;
  std::vector<float> logits(static_cast<size_t>((a.k_hi + 1) * m.config().n_vocab));
  std::vector<double> pass_ms(a.k_hi + 1), steps_ms(a.k_hi + 1);
  for (int64_t k = a.k_lo; k <= a.k_hi; ++k) {
    std::vector<double> pass, steps;
    for (int r = 0; r <= a.reps; ++r) {  // run 0 warms up; pass and steps alternate
      if (Status s = Fill(m, a.st, a.ids, a.depth, logits.data(), a.pool); !s.ok()) return ReportError("bench", s);
      auto t0 = Clock::now();
      Status s = m.Forward(a.ids.subspan(a.depth, k), a.st, LogitsMode::kAll, logits.data(), a.pool);
      if (!s.ok()) return ReportError("bench", s);
      const double p = Ms(t0, Clock::now());
      a.st.kv->n_past = a.depth;
      t0 = Clock::now();
      for (int64_t i = 0; i < k; ++i)
        if (s = m.Forward(a.ids.subspan(a.depth + i, 1), a.st, LogitsMode::kLast, logits.data(), a.pool); !s.ok())
          return ReportError("bench", s);
      if (r) {
        pass.push_back(p);
        steps.push_back(Ms(t0, Clock::now()));
      }
    }
    pass_ms[k] = Median(pass);
    steps_ms[k] = Median(steps);
  }
  double draft_ms = 0;
  if (a.draft) {
    auto st = a.draft->NewState(a.depth + 64, std::max<int64_t>(1, std::min<int64_t>(a.depth, 512)), a.kv_type);
    if (!st.ok()) return ReportError("bench", st.status());
    std::vector<float> dl(static_cast<size_t>(a.draft->config().n_vocab));
    auto ms = StepMs(*a.draft, **st, a.ids, a.depth, 16, a.reps, dl.data(), a.pool);
    if (!ms.ok()) return ReportError("bench", ms.status());
    draft_ms = *ms;
  }
  const double step = steps_ms[a.k_lo] / a.k_lo;  // one target step
  nlohmann::json rows = nlohmann::json::array();
  if (!a.json) std::printf("verification after %lld cached ids (median of %d):\n   k   pass ms   k steps ms   pass/step\n",
                           (long long)a.depth, a.reps);
  for (int64_t k = a.k_lo; k <= a.k_hi; ++k) {
    rows.push_back({{"k", k}, {"pass_ms", pass_ms[k]}, {"steps_ms", steps_ms[k]}, {"pass_over_one_step", pass_ms[k] / step}});
    if (!a.json) std::printf("%4lld %9.2f %12.2f %11.2f\n", (long long)k, pass_ms[k], steps_ms[k], pass_ms[k] / step);
  }
  nlohmann::json out = {{"verify", rows}, {"target_step_ms", step}};
  if (a.draft) {
    // A round drafts k ids and verifies pending + k in one pass of k + 1 rows.
    nlohmann::json proj = nlohmann::json::array();
    if (!a.json) std::printf("drafter: %.3f ms per drafted id (%.3f of a target step)\nprojected speed-up:\n", draft_ms, draft_ms / step);
    for (double alpha : {0.6, 0.8}) {
      double best = 0;
      int best_k = 0;
      for (int64_t k = std::max<int64_t>(1, a.k_lo - 1); k + 1 <= a.k_hi; ++k) {
        const double s = ProjectedSpeedup(alpha, static_cast<int>(k), step, draft_ms, pass_ms[k + 1]);
        if (s > best) best = s, best_k = static_cast<int>(k);
      }
      proj.push_back({{"acceptance", alpha}, {"best_k", best_k}, {"speedup", best}});
      if (!a.json) std::printf("  acceptance %.1f: %.2fx (k = %d drafted per pass)\n", alpha, best, best_k);
    }
    out["draft_ms_per_id"] = draft_ms;
    out["projection"] = proj;
  }
  if (a.json) std::printf("%s\n", out.dump().c_str());
  return kExitOk;
}

}  // namespace gemrun::cli
