#include "server/kommo/retry_policy.h"

#include <algorithm>

namespace kommo::rest {

RetryPolicy::RetryPolicy(RetryPolicyOptions options)
    : options_(options),
      random_(options.seed != 0 ? options.seed : std::random_device()()),
      budget_(options.budget_max) {}

bool RetryPolicy::Retryable(RequestKind kind, const http::HttpResult& result) {
  const bool create = Unrepeatable(kind);
  if (!result.response.ok()) {
    const absl::StatusCode code = result.response.status().code();
    if (code == absl::StatusCode::kCancelled || code == absl::StatusCode::kResourceExhausted ||
        code == absl::StatusCode::kFailedPrecondition) {
      return false;
    }
    return !create || !result.request_sent;  // a sent POST may have acted
  }
  const int status = result.response->status;
  if (status == 429) return true;  // Kommo did not act
  return !create && (status == 500 || status == 502 || status == 503 || status == 504);
}

void RetryPolicy::OnFirstAttempt() {
  budget_ = std::min(options_.budget_max, budget_ + options_.budget_ratio);
}

std::optional<absl::Duration> RetryPolicy::NextDelay(int attempts,
                                                     std::optional<absl::Duration> hint) {
  if (attempts >= options_.max_attempts || budget_ < 1) return std::nullopt;
  budget_ -= 1;
  const absl::Duration backoff = Backoff(attempts);
  return hint.has_value() ? std::max(*hint, backoff) : backoff;
}

absl::Duration RetryPolicy::Backoff(int attempt) {
  absl::Duration cap = options_.initial_backoff;
  for (int i = 1; i < attempt && cap < options_.max_backoff; ++i) cap *= 2;
  cap = std::min(cap, options_.max_backoff);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  return cap * uniform(random_);
}

}  // namespace kommo::rest
