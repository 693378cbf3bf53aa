#ifndef KOMMO_SERVER_KOMMO_RETRY_POLICY_H_
#define KOMMO_SERVER_KOMMO_RETRY_POLICY_H_

// When a request to Kommo may be sent again, and how long to wait first (design.md §5). A plain
// class with no I/O: the Requester asks it after every attempt.

#include <cstdint>
#include <optional>
#include <random>

#include "absl/time/time.h"
#include "server/http/http_transport.h"
#include "server/kommo/error_table.h"

namespace kommo::rest {

struct RetryPolicyOptions {
  // Attempts per request, the first included.
  int max_attempts = 4;
  // Exponential backoff with full jitter: uniform in [0, min(max, initial × 2^(attempt-1))].
  absl::Duration initial_backoff = absl::Milliseconds(250);
  absl::Duration max_backoff = absl::Seconds(10);
  // Retry budget shared by all requests: each first attempt earns `budget_ratio` of a retry, up
  // to `budget_max` banked, so a failing Kommo sees at most about ratio × traffic + max extra
  // requests instead of a retry storm.
  double budget_ratio = 0.2;
  double budget_max = 20;
  // Seeds the jitter (0: from the system's entropy).
  uint64_t seed = 0;
};

class RetryPolicy {
 public:
  explicit RetryPolicy(RetryPolicyOptions options);

  // Whether what `result` says about an attempt of a `kind` request allows sending it again:
  // reads and PATCH on 429, 5xx (500/502/503/504), connection failures and timeouts; a POST only
  // when Kommo certainly did not act on it (429, or a failure before the request was sent).
  // Never a cancelled attempt, a response too large, or a TLS verification failure.
  static bool Retryable(RequestKind kind, const http::HttpResult& result);

  // Called once per first attempt: earns budget.
  void OnFirstAttempt();

  // The wait before attempt `attempts + 1`, or nullopt when no retry may be made (attempts used
  // up, budget spent). `hint` is what Kommo asked for (Retry-After), which the wait never
  // undercuts. A returned delay has taken one retry from the budget.
  std::optional<absl::Duration> NextDelay(int attempts, std::optional<absl::Duration> hint);

  double budget() const { return budget_; }

 private:
  absl::Duration Backoff(int attempt);

  RetryPolicyOptions options_;
  std::mt19937_64 random_;
  double budget_;
};

}  // namespace kommo::rest

#endif  // KOMMO_SERVER_KOMMO_RETRY_POLICY_H_
