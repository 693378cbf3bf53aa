#include "server/metrics/metrics.h"

#include <cmath>
#include <cstdio>
#include <utility>

#include "absl/strings/str_cat.h"

namespace kommo::metrics {
namespace {

std::string LabelText(const Labels& labels, const std::pair<std::string, std::string>* extra) {
  if (labels.empty() && extra == nullptr) return "";
  std::string out = "{";
  bool first = true;
  for (const auto& [key, value] : labels) {
    absl::StrAppend(&out, first ? "" : ",", key, "=\"", EscapeLabelValue(value), "\"");
    first = false;
  }
  if (extra != nullptr) {
    absl::StrAppend(&out, first ? "" : ",", extra->first, "=\"", extra->second, "\"");
  }
  out += "}";
  return out;
}

void Header(std::string& out, const std::string& name, const std::string& help,
            absl::string_view type) {
  std::string escaped_help;
  for (char c : help) {
    if (c == '\\') {
      escaped_help += "\\\\";
    } else if (c == '\n') {
      escaped_help += "\\n";
    } else {
      escaped_help += c;
    }
  }
  absl::StrAppend(&out, "# HELP ", name, " ", escaped_help, "\n# TYPE ", name, " ", type, "\n");
}

}  // namespace

std::string EscapeLabelValue(absl::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    return absl::StrCat(static_cast<int64_t>(value));
  }
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.17g", value);
  return buffer;
}

std::vector<double> LatencyBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

void Counter::Increment(const Labels& labels, double by) {
  absl::MutexLock lock(&mu_);
  values_[labels] += by;
}

void Counter::Render(std::string& out) const {
  Header(out, name_, help_, "counter");
  absl::MutexLock lock(&mu_);
  for (const auto& [labels, value] : values_) {
    absl::StrAppend(&out, name_, LabelText(labels, nullptr), " ", FormatValue(value), "\n");
  }
}

void Histogram::Observe(const Labels& labels, double value) {
  absl::MutexLock lock(&mu_);
  Series& series = series_[labels];
  if (series.buckets.empty()) series.buckets.assign(bounds_.size(), 0);
  for (size_t i = 0; i < bounds_.size(); ++i) {
    if (value <= bounds_[i]) ++series.buckets[i];
  }
  ++series.count;
  series.sum += value;
}

void Histogram::Render(std::string& out) const {
  Header(out, name_, help_, "histogram");
  absl::MutexLock lock(&mu_);
  for (const auto& [labels, series] : series_) {
    for (size_t i = 0; i < bounds_.size(); ++i) {
      const std::pair<std::string, std::string> le{"le", FormatValue(bounds_[i])};
      absl::StrAppend(&out, name_, "_bucket", LabelText(labels, &le), " ", series.buckets[i], "\n");
    }
    const std::pair<std::string, std::string> inf{"le", "+Inf"};
    absl::StrAppend(&out, name_, "_bucket", LabelText(labels, &inf), " ", series.count, "\n");
    absl::StrAppend(&out, name_, "_sum", LabelText(labels, nullptr), " ", FormatValue(series.sum),
                    "\n");
    absl::StrAppend(&out, name_, "_count", LabelText(labels, nullptr), " ", series.count, "\n");
  }
}

Counter* Registry::AddCounter(std::string name, std::string help) {
  absl::MutexLock lock(&mu_);
  counters_.push_back(std::unique_ptr<Counter>(new Counter(std::move(name), std::move(help))));
  return counters_.back().get();
}

Histogram* Registry::AddHistogram(std::string name, std::string help, std::vector<double> bounds) {
  absl::MutexLock lock(&mu_);
  histograms_.push_back(std::unique_ptr<Histogram>(
      new Histogram(std::move(name), std::move(help), std::move(bounds))));
  return histograms_.back().get();
}

void Registry::AddGauge(std::string name, std::string help, std::function<double()> read) {
  absl::MutexLock lock(&mu_);
  gauges_.push_back({std::move(name), std::move(help), std::move(read)});
}

std::string Registry::Render() const {
  std::vector<const Counter*> counters;
  std::vector<const Histogram*> histograms;
  std::vector<Gauge> gauges;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& counter : counters_) counters.push_back(counter.get());
    for (const auto& histogram : histograms_) histograms.push_back(histogram.get());
    gauges = gauges_;
  }
  std::string out;
  for (const Counter* counter : counters) counter->Render(out);
  for (const Histogram* histogram : histograms) histogram->Render(out);
  for (const Gauge& gauge : gauges) {
    Header(out, gauge.name, gauge.help, "gauge");
    absl::StrAppend(&out, gauge.name, " ", FormatValue(gauge.read()), "\n");
  }
  return out;
}

}  // namespace kommo::metrics
