#include "server/metrics/metrics.h"

#include "prometheus/text_serializer.h"

namespace kommo::metrics {

Registry::Registry() : registry_(std::make_shared<prometheus::Registry>()) {}

Counter* Registry::AddCounter(const std::string& name, const std::string& help) {
  prometheus::Family<prometheus::Counter>& family =
      prometheus::BuildCounter().Name(name).Help(help).Register(*registry_);
  absl::MutexLock lock(&mu_);
  counters_.push_back(std::make_unique<Counter>(family));
  return counters_.back().get();
}

Histogram* Registry::AddHistogram(const std::string& name, const std::string& help,
                                  std::vector<double> bounds) {
  prometheus::Family<prometheus::Histogram>& family =
      prometheus::BuildHistogram().Name(name).Help(help).Register(*registry_);
  absl::MutexLock lock(&mu_);
  histograms_.push_back(std::make_unique<Histogram>(family, std::move(bounds)));
  return histograms_.back().get();
}

Gauge Registry::AddGauge(const std::string& name, const std::string& help) {
  prometheus::Family<prometheus::Gauge>& family =
      prometheus::BuildGauge().Name(name).Help(help).Register(*registry_);
  return Gauge(family.Add({}));
}

GaugeFamily* Registry::AddGaugeFamily(const std::string& name, const std::string& help) {
  prometheus::Family<prometheus::Gauge>& family =
      prometheus::BuildGauge().Name(name).Help(help).Register(*registry_);
  absl::MutexLock lock(&mu_);
  gauge_families_.push_back(std::make_unique<GaugeFamily>(family));
  return gauge_families_.back().get();
}

std::string Registry::Render() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

std::vector<double> LatencyBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

}  // namespace kommo::metrics
