#ifndef KOMMO_SERVER_METRICS_METRICS_H_
#define KOMMO_SERVER_METRICS_METRICS_H_

// The service's metrics on prometheus-cpp (Debian 12's prometheus-cpp-dev, core library): a
// registry of counters, histograms and gauges, and thin handles over prometheus-cpp's families
// that take label sets as the service builds them ({{"method", m}, {"code", c}}). Everything here
// is thread-safe; handles stay valid as long as their Registry.

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace kommo::metrics {

// Label names and values of one time series, in the order the caller gives them (the exposition
// orders them by name).
using Labels = std::vector<std::pair<std::string, std::string>>;

namespace internal {

// The series of a prometheus-cpp family by label set, remembered so that recording into an
// existing series costs one hash lookup (prometheus::Family::Add builds a metric on every call).
template <typename Metric>
class SeriesCache {
 public:
  explicit SeriesCache(prometheus::Family<Metric>& family) : family_(family) {}

  // The series for `labels`, created on first use with `args` (histogram buckets).
  template <typename... Args>
  Metric& Get(const Labels& labels, const Args&... args) {
    absl::MutexLock lock(&mu_);
    auto it = series_.find(labels);
    if (it != series_.end()) return *it->second;
    Metric& metric = family_.Add(prometheus::Labels(labels.begin(), labels.end()), args...);
    series_.emplace(labels, &metric);
    return metric;
  }

 private:
  prometheus::Family<Metric>& family_;
  absl::Mutex mu_;
  absl::flat_hash_map<Labels, Metric*> series_ ABSL_GUARDED_BY(mu_);
};

}  // namespace internal

// A monotonically increasing count per label set (a prometheus counter family).
class Counter {
 public:
  explicit Counter(prometheus::Family<prometheus::Counter>& family) : series_(family) {}

  // Adds `by` (>= 0) to the series of `labels`.
  void Increment(const Labels& labels, double by = 1) { series_.Get(labels).Increment(by); }

 private:
  internal::SeriesCache<prometheus::Counter> series_;
};

// Observations in cumulative buckets per label set (a prometheus histogram family).
class Histogram {
 public:
  Histogram(prometheus::Family<prometheus::Histogram>& family, std::vector<double> bounds)
      : series_(family), bounds_(std::move(bounds)) {}

  void Observe(const Labels& labels, double value) { series_.Get(labels, bounds_).Observe(value); }

 private:
  internal::SeriesCache<prometheus::Histogram> series_;
  const prometheus::Histogram::BucketBoundaries bounds_;
};

// A value that goes up and down, without labels (one prometheus gauge). A copyable handle.
// store()/load() keep the spelling of the std::atomic fields these gauges once were.
class Gauge {
 public:
  explicit Gauge(prometheus::Gauge& gauge) : gauge_(&gauge) {}

  void Set(double value) { gauge_->Set(value); }
  void Increment(double by = 1) { gauge_->Increment(by); }
  void Decrement(double by = 1) { gauge_->Decrement(by); }
  double Value() const { return gauge_->Value(); }

  void store(double value) { Set(value); }
  double load() const { return Value(); }

 private:
  prometheus::Gauge* gauge_;
};

// Gauges per label set (a prometheus gauge family), e.g. one per Kommo account. Thread-safe.
class GaugeFamily {
 public:
  explicit GaugeFamily(prometheus::Family<prometheus::Gauge>& family) : series_(family) {}

  // The gauge of `labels`, created at 0 on first use.
  Gauge Get(const Labels& labels) { return Gauge(series_.Get(labels)); }

 private:
  internal::SeriesCache<prometheus::Gauge> series_;
};

// Owns the metrics; what a MetricsServer exposes. Names must match [a-zA-Z_:][a-zA-Z0-9_:]*
// (prometheus-cpp throws std::invalid_argument otherwise) and be unique; counters end in _total.
class Registry {
 public:
  Registry();

  Counter* AddCounter(const std::string& name, const std::string& help);
  Histogram* AddHistogram(const std::string& name, const std::string& help,
                          std::vector<double> bounds);
  Gauge AddGauge(const std::string& name, const std::string& help);
  GaugeFamily* AddGaugeFamily(const std::string& name, const std::string& help);

  // Every metric in the Prometheus text format, as a scrape returns it.
  std::string Render() const;

  // The prometheus-cpp registry, for a prometheus::Exposer to serve.
  std::shared_ptr<prometheus::Registry> collectable() const { return registry_; }

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  absl::Mutex mu_;
  std::vector<std::unique_ptr<Counter>> counters_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<Histogram>> histograms_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<GaugeFamily>> gauge_families_ ABSL_GUARDED_BY(mu_);
};

// Buckets for latencies in seconds, 1 ms to 60 s.
std::vector<double> LatencyBuckets();

}  // namespace kommo::metrics

#endif  // KOMMO_SERVER_METRICS_METRICS_H_
