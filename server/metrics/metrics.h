#ifndef KOMMO_SERVER_METRICS_METRICS_H_
#define KOMMO_SERVER_METRICS_METRICS_H_

// A small Prometheus registry: counters and histograms with labels, gauges read at scrape time,
// rendered in the text exposition format (version 0.0.4). Debian 12 packages no Prometheus client
// library for C++; this is the part of one the service needs. Thread-safe.

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace kommo::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Registry;

// A monotonically increasing count per label set.
class Counter {
 public:
  void Increment(const Labels& labels, double by = 1);

 private:
  friend class Registry;
  Counter(std::string name, std::string help) : name_(std::move(name)), help_(std::move(help)) {}
  void Render(std::string& out) const;

  std::string name_;
  std::string help_;
  mutable absl::Mutex mu_;
  std::map<Labels, double> values_ ABSL_GUARDED_BY(mu_);
};

// Observations in cumulative buckets (upper bounds in seconds or units), per label set.
class Histogram {
 public:
  void Observe(const Labels& labels, double value);

 private:
  friend class Registry;
  struct Series {
    std::vector<uint64_t> buckets;
    uint64_t count = 0;
    double sum = 0;
  };
  Histogram(std::string name, std::string help, std::vector<double> bounds)
      : name_(std::move(name)), help_(std::move(help)), bounds_(std::move(bounds)) {}
  void Render(std::string& out) const;

  std::string name_;
  std::string help_;
  std::vector<double> bounds_;
  mutable absl::Mutex mu_;
  std::map<Labels, Series> series_ ABSL_GUARDED_BY(mu_);
};

class Registry {
 public:
  // Names must match [a-zA-Z_:][a-zA-Z0-9_:]*; counters should end in _total.
  Counter* AddCounter(std::string name, std::string help);
  Histogram* AddHistogram(std::string name, std::string help, std::vector<double> bounds);
  // A gauge whose value `read` returns at each scrape (called without registry locks held).
  void AddGauge(std::string name, std::string help, std::function<double()> read);

  // The whole registry in the Prometheus text format.
  std::string Render() const;

 private:
  struct Gauge {
    std::string name;
    std::string help;
    std::function<double()> read;
  };
  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<Counter>> counters_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<Histogram>> histograms_ ABSL_GUARDED_BY(mu_);
  std::vector<Gauge> gauges_ ABSL_GUARDED_BY(mu_);
};

// Label value escaping of the text format (backslash, double quote, newline).
std::string EscapeLabelValue(absl::string_view value);
// A sample value as the text format writes it (+Inf, -Inf, NaN, shortest round-trip decimal).
std::string FormatValue(double value);

// Buckets for latencies in seconds, 1 ms to 60 s.
std::vector<double> LatencyBuckets();

}  // namespace kommo::metrics

#endif  // KOMMO_SERVER_METRICS_METRICS_H_
