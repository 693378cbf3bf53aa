#include "bench/load_generator.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace kommo::bench {

size_t LoadResult::ok() const {
  return static_cast<size_t>(std::count_if(calls.begin(), calls.end(), [](const CallRecord& c) {
    return c.code == grpc::StatusCode::OK;
  }));
}

std::string LoadResult::Breakdown() const {
  std::map<std::string, size_t> counts;
  for (const CallRecord& call : calls) {
    std::string key = CodeName(call.code);
    if (!call.reason.empty()) absl::StrAppend(&key, "/", call.reason);
    ++counts[key];
  }
  std::vector<std::string> parts;
  for (const auto& [key, count] : counts) parts.push_back(absl::StrCat(key, " x", count));
  return absl::StrJoin(parts, ", ");
}

Percentiles::Percentiles(std::vector<int64_t> samples) : sorted_(std::move(samples)) {
  std::sort(sorted_.begin(), sorted_.end());
}

int64_t Percentiles::At(double q) const {
  if (sorted_.empty()) return 0;
  // Nearest rank: the smallest sample with at least q of the samples at or below it.
  const double rank = std::ceil(q * static_cast<double>(sorted_.size()));
  size_t index = rank < 1 ? 0 : static_cast<size_t>(rank) - 1;
  if (index >= sorted_.size()) index = sorted_.size() - 1;
  return sorted_[index];
}

Percentiles OkLatencies(const LoadResult& result) {
  std::vector<int64_t> samples;
  samples.reserve(result.calls.size());
  for (const CallRecord& call : result.calls) {
    if (call.code == grpc::StatusCode::OK) samples.push_back(call.latency_ns);
  }
  return Percentiles(std::move(samples));
}

}  // namespace kommo::bench
