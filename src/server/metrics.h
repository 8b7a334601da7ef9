// Server metrics in Prometheus text exposition format (version 0.0.4): request counts by
// endpoint and status, token counters, time-to-first-token and per-token latency histograms,
// and gauges for queue depth, busy slots and KV cache use. Thread-safe (one mutex; updates are
// a few per token, far below contention).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "engine/batcher.h"

namespace gemrun::server {

// Cumulative histogram with fixed upper bounds (seconds), "+Inf" implied.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double v);
  // Appends the _bucket / _sum / _count lines of metric `name`.
  void Render(const std::string& name, std::string* out) const;
  uint64_t count() const { return count_; }

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // [bounds_.size() + 1], non-cumulative
  double sum_ = 0;
  uint64_t count_ = 0;
};

using Gauges = BatchGauges;

class Metrics : public BatchObserver {
 public:
  Metrics();

  void CountRequest(const std::string& endpoint, int status);
  void AddTokens(int64_t prompt, int64_t cached, int64_t generated) override;
  void ObserveTimeToFirstToken(double seconds) override;
  void ObserveTokenLatency(double seconds) override;  // gap between consecutive tokens of one request
  void ObserveRequestDuration(double seconds) override;
  void AddImages(int64_t n);                // images in requests (counted once parsed)
  void ObserveImageEncode(double seconds);  // one image decoded, preprocessed and encoded
  void SetGauges(const Gauges& g) override;
  void SetReady(bool ready);

  // The whole exposition text.
  std::string Render() const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;  // (endpoint, status) -> count
  uint64_t prompt_tokens_ = 0, cached_tokens_ = 0, generated_tokens_ = 0, images_ = 0;
  Histogram ttft_, token_latency_, duration_, image_encode_;
  Gauges gauges_;
  bool ready_ = false;
};

}  // namespace gemrun::server
