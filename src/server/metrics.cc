// Prometheus text rendering.
#include "server/metrics.h"

#include <cstdio>

namespace gemrun::server {
namespace {

std::string Num(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

void Header(std::string* out, const char* name, const char* type, const char* help) {
  *out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

void Line(std::string* out, const std::string& name, double v) { *out += name + " " + Num(v) + "\n"; }

// Label values are our own endpoint names, but escape anyway (\\, \", \n).
std::string Escape(const std::string& s) {
  std::string r;
  for (char c : s) {
    if (c == '\\' || c == '"') r += '\\';
    if (c == '\n') { r += "\\n"; continue; }
    r += c;
  }
  return r;
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::Observe(double v) {
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  ++counts_[i];
  sum_ += v;
  ++count_;
}

void Histogram::Render(const std::string& name, std::string* out) const {
  uint64_t cum = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cum += counts_[i];
    *out += name + "_bucket{le=\"" + Num(bounds_[i]) + "\"} " + std::to_string(cum) + "\n";
  }
  cum += counts_.back();
  *out += name + "_bucket{le=\"+Inf\"} " + std::to_string(cum) + "\n";
  Line(out, name + "_sum", sum_);
  *out += name + "_count " + std::to_string(count_) + "\n";
}

Metrics::Metrics()
    : ttft_({0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}),
      token_latency_({0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5}),
      duration_({0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300}),
      image_encode_({0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}) {}

void Metrics::CountRequest(const std::string& endpoint, int status) {
  std::lock_guard<std::mutex> l(mu_);
  ++requests_[{endpoint, status}];
}

void Metrics::AddTokens(int64_t prompt, int64_t cached, int64_t generated) {
  std::lock_guard<std::mutex> l(mu_);
  prompt_tokens_ += static_cast<uint64_t>(prompt);
  cached_tokens_ += static_cast<uint64_t>(cached);
  generated_tokens_ += static_cast<uint64_t>(generated);
}

void Metrics::ObserveTimeToFirstToken(double s) {
  std::lock_guard<std::mutex> l(mu_);
  ttft_.Observe(s);
}

void Metrics::ObserveTokenLatency(double s) {
  std::lock_guard<std::mutex> l(mu_);
  token_latency_.Observe(s);
}

void Metrics::ObserveRequestDuration(double s) {
  std::lock_guard<std::mutex> l(mu_);
  duration_.Observe(s);
}

void Metrics::AddImages(int64_t n) {
  std::lock_guard<std::mutex> l(mu_);
  images_ += static_cast<uint64_t>(n);
}

void Metrics::ObserveImageEncode(double s) {
  std::lock_guard<std::mutex> l(mu_);
  image_encode_.Observe(s);
}

void Metrics::SetGauges(const Gauges& g) {
  std::lock_guard<std::mutex> l(mu_);
  gauges_ = g;
}

void Metrics::SetReady(bool ready) {
  std::lock_guard<std::mutex> l(mu_);
  ready_ = ready;
}

std::string Metrics::Render() const {
  std::lock_guard<std::mutex> l(mu_);
  std::string o;
  Header(&o, "gemrun_requests_total", "counter", "HTTP requests by endpoint and status code.");
  for (const auto& [key, n] : requests_)
    o += "gemrun_requests_total{endpoint=\"" + Escape(key.first) + "\",status=\"" + std::to_string(key.second) + "\"} " +
         std::to_string(n) + "\n";
  Header(&o, "gemrun_prompt_tokens_total", "counter", "Prompt tokens of finished requests (cached ones included).");
  Line(&o, "gemrun_prompt_tokens_total", static_cast<double>(prompt_tokens_));
  Header(&o, "gemrun_prompt_tokens_cached_total", "counter", "Prompt tokens reused from a slot's KV cache.");
  Line(&o, "gemrun_prompt_tokens_cached_total", static_cast<double>(cached_tokens_));
  Header(&o, "gemrun_generated_tokens_total", "counter", "Generated tokens.");
  Line(&o, "gemrun_generated_tokens_total", static_cast<double>(generated_tokens_));
  Header(&o, "gemrun_time_to_first_token_seconds", "histogram", "Request arrival to first generated token.");
  ttft_.Render("gemrun_time_to_first_token_seconds", &o);
  Header(&o, "gemrun_time_per_output_token_seconds", "histogram", "Gap between consecutive generated tokens.");
  token_latency_.Render("gemrun_time_per_output_token_seconds", &o);
  Header(&o, "gemrun_request_duration_seconds", "histogram", "Generation request arrival to completion.");
  duration_.Render("gemrun_request_duration_seconds", &o);
  Header(&o, "gemrun_images_total", "counter", "Images received in well-formed generation requests.");
  Line(&o, "gemrun_images_total", static_cast<double>(images_));
  Header(&o, "gemrun_image_encode_seconds", "histogram", "Decode, preprocess and projector time of one image.");
  image_encode_.Render("gemrun_image_encode_seconds", &o);
  Header(&o, "gemrun_queue_depth", "gauge", "Requests waiting for a free slot.");
  Line(&o, "gemrun_queue_depth", static_cast<double>(gauges_.queue_depth));
  Header(&o, "gemrun_slots_busy", "gauge", "Slots generating or prefilling.");
  Line(&o, "gemrun_slots_busy", static_cast<double>(gauges_.slots_busy));
  Header(&o, "gemrun_slots_total", "gauge", "Parallel sequence slots (--parallel).");
  Line(&o, "gemrun_slots_total", static_cast<double>(gauges_.slots_total));
  Header(&o, "gemrun_kv_cache_used_tokens", "gauge", "Positions held in all slots' KV caches.");
  Line(&o, "gemrun_kv_cache_used_tokens", static_cast<double>(gauges_.kv_used_tokens));
  Header(&o, "gemrun_kv_cache_capacity_tokens", "gauge", "Positions all slots' KV caches can hold.");
  Line(&o, "gemrun_kv_cache_capacity_tokens", static_cast<double>(gauges_.kv_total_tokens));
  Header(&o, "gemrun_kv_cache_usage_ratio", "gauge", "Used / capacity of the KV caches.");
  Line(&o, "gemrun_kv_cache_usage_ratio",
       gauges_.kv_total_tokens > 0 ? static_cast<double>(gauges_.kv_used_tokens) / gauges_.kv_total_tokens : 0.0);
  Header(&o, "gemrun_kv_cache_bytes", "gauge", "Memory of all KV caches.");
  Line(&o, "gemrun_kv_cache_bytes", static_cast<double>(gauges_.kv_bytes));
  Header(&o, "gemrun_ready", "gauge", "1 once the model is loaded and warm.");
  Line(&o, "gemrun_ready", ready_ ? 1 : 0);
  return o;
}

}  // namespace gemrun::server
