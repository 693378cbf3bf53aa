#include "server/kommo/retry_policy.h"

#include "gtest/gtest.h"

namespace kommo::rest {
namespace {

http::HttpResult Answer(int status) { return {http::HttpResponse{status, "", {}}, true}; }
http::HttpResult Failure(absl::Status error, bool sent) { return {std::move(error), sent}; }

TEST(RetryPolicyTest, ReadsAndUpdatesRetryOnRateLimitsServerErrorsAndConnectionFailures) {
  for (RequestKind kind : {RequestKind::kRead, RequestKind::kList, RequestKind::kUpdate}) {
    EXPECT_TRUE(RetryPolicy::Retryable(kind, Answer(429)));
    for (int status : {500, 502, 503, 504})
      EXPECT_TRUE(RetryPolicy::Retryable(kind, Answer(status)));
    EXPECT_TRUE(RetryPolicy::Retryable(kind, Failure(absl::UnavailableError("reset"), true)));
    EXPECT_TRUE(RetryPolicy::Retryable(kind, Failure(absl::DeadlineExceededError("slow"), true)));
    for (int status : {200, 204, 400, 401, 403, 404, 501}) {
      EXPECT_FALSE(RetryPolicy::Retryable(kind, Answer(status))) << status;
    }
  }
}

TEST(RetryPolicyTest, ACreateRetriesOnlyWhenKommoCertainlyDidNotAct) {
  EXPECT_TRUE(RetryPolicy::Retryable(RequestKind::kCreate, Answer(429)));
  EXPECT_TRUE(RetryPolicy::Retryable(RequestKind::kCreate,
                                     Failure(absl::UnavailableError("refused"), false)));
  EXPECT_FALSE(RetryPolicy::Retryable(RequestKind::kCreate, Answer(503)));
  EXPECT_FALSE(
      RetryPolicy::Retryable(RequestKind::kCreate, Failure(absl::UnavailableError("reset"), true)));
  EXPECT_FALSE(RetryPolicy::Retryable(RequestKind::kCreate,
                                      Failure(absl::DeadlineExceededError("slow"), true)));
}

TEST(RetryPolicyTest, NeverCancelledOversizedOrUnverifiableAttempts) {
  for (absl::Status error : {absl::CancelledError("x"), absl::ResourceExhaustedError("too big"),
                             absl::FailedPreconditionError("tls")}) {
    EXPECT_FALSE(RetryPolicy::Retryable(RequestKind::kRead, Failure(error, false)));
  }
}

TEST(RetryPolicyTest, BackoffIsBoundedJitterAndNeverUndercutsKommosHint) {
  RetryPolicy policy({/*max_attempts=*/10, absl::Milliseconds(100), absl::Seconds(1), 0.2, 100, 7});
  for (int attempt = 1; attempt < 10; ++attempt) {
    std::optional<absl::Duration> delay = policy.NextDelay(attempt, std::nullopt);
    ASSERT_TRUE(delay.has_value());
    EXPECT_GE(*delay, absl::ZeroDuration());
    EXPECT_LE(*delay, std::min(absl::Milliseconds(100) * (1 << (attempt - 1)), absl::Seconds(1)));
  }
  std::optional<absl::Duration> hinted = policy.NextDelay(1, absl::Seconds(5));
  ASSERT_TRUE(hinted.has_value());
  EXPECT_EQ(*hinted, absl::Seconds(5));
}

TEST(RetryPolicyTest, AttemptsAndTheSharedBudgetBoundRetries) {
  RetryPolicy policy({/*max_attempts=*/3, absl::Milliseconds(1), absl::Milliseconds(1), 0.5, 2, 7});
  EXPECT_FALSE(policy.NextDelay(3, std::nullopt).has_value()) << "attempts used up";
  EXPECT_TRUE(policy.NextDelay(1, std::nullopt).has_value());
  EXPECT_TRUE(policy.NextDelay(1, std::nullopt).has_value());
  EXPECT_FALSE(policy.NextDelay(1, std::nullopt).has_value()) << "budget of 2 spent";
  policy.OnFirstAttempt();
  policy.OnFirstAttempt();  // two first attempts earn one retry
  EXPECT_TRUE(policy.NextDelay(1, std::nullopt).has_value());
  EXPECT_FALSE(policy.NextDelay(1, std::nullopt).has_value());
}

TEST(RetryPolicyTest, AnActionIsRepeatedOnlyWhenKommoCertainlyDidNotAct) {
  EXPECT_TRUE(RetryPolicy::Retryable(RequestKind::kAction, Answer(429)));
  EXPECT_TRUE(RetryPolicy::Retryable(RequestKind::kAction,
                                     Failure(absl::UnavailableError("refused"), false)));
  for (int status : {500, 502, 503, 504}) {
    EXPECT_FALSE(RetryPolicy::Retryable(RequestKind::kAction, Answer(status))) << status;
  }
  EXPECT_FALSE(
      RetryPolicy::Retryable(RequestKind::kAction, Failure(absl::UnavailableError("reset"), true)));
  EXPECT_FALSE(RetryPolicy::Retryable(RequestKind::kAction,
                                      Failure(absl::DeadlineExceededError("slow"), true)));
  EXPECT_FALSE(RetryPolicy::Retryable(RequestKind::kAction, Answer(404)));
}

}  // namespace
}  // namespace kommo::rest
