#include "server/kommo/rate_limiter.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "server/common/error_details.h"
#include "tests/support/fake_event_loop.h"

namespace kommo::rest {
namespace {

using ::kommo::testing::FakeEventLoop;

class RateLimiterTest : public ::testing::Test {
 protected:
  // Acquires a slot; records the loop time at which it was granted (or the error).
  void Acquire(RateLimiter& limiter, absl::Time deadline) {
    limiter.Acquire(deadline, [this](absl::Status status) {
      if (status.ok()) {
        granted_at_.push_back(loop_.Now());
      } else {
        errors_.push_back(status);
      }
    });
  }

  FakeEventLoop loop_;
  std::vector<absl::Time> granted_at_;
  std::vector<absl::Status> errors_;
};

TEST_F(RateLimiterTest, SpacesRequestsEvenlyAtTheConfiguredRate) {
  RateLimiter limiter(&loop_, {/*requests_per_second=*/4, /*burst=*/1, /*max_queue=*/100});
  const absl::Time start = loop_.Now();
  for (int i = 0; i < 5; ++i) Acquire(limiter, absl::InfiniteFuture());
  ASSERT_EQ(granted_at_.size(), 1u);  // the first goes at once
  EXPECT_EQ(limiter.queue_depth(), 4u);
  loop_.Advance(absl::Seconds(2));
  ASSERT_EQ(granted_at_.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(granted_at_[i] - start, absl::Milliseconds(250) * i) << i;
  }
  EXPECT_TRUE(errors_.empty());
}

TEST_F(RateLimiterTest, BurstGoesAtOnceThenTheRateApplies) {
  RateLimiter limiter(&loop_, {/*requests_per_second=*/2, /*burst=*/3, /*max_queue=*/100});
  const absl::Time start = loop_.Now();
  for (int i = 0; i < 4; ++i) Acquire(limiter, absl::InfiniteFuture());
  EXPECT_EQ(granted_at_.size(), 3u);
  loop_.Advance(absl::Seconds(1));
  ASSERT_EQ(granted_at_.size(), 4u);
  EXPECT_EQ(granted_at_[3] - start, absl::Milliseconds(500));
}

TEST_F(RateLimiterTest, RefusesAtOnceWhenTheSlotIsAfterTheDeadline) {
  RateLimiter limiter(&loop_, {/*requests_per_second=*/1, /*burst=*/1, /*max_queue=*/100});
  Acquire(limiter, absl::InfiniteFuture());
  Acquire(limiter, absl::InfiniteFuture());                  // slot at +1 s
  Acquire(limiter, loop_.Now() + absl::Milliseconds(1500));  // slot would be +2 s
  ASSERT_EQ(errors_.size(), 1u);
  EXPECT_EQ(errors_[0].code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(GetErrorInfo(errors_[0])->reason(), "RATE_LIMIT_QUEUE_TIMEOUT");
  EXPECT_EQ(GetRetryDelay(errors_[0]), absl::Seconds(2));
  // The refused call reserved nothing: the next one still gets the +2 s slot.
  const absl::Time start = loop_.Now();
  Acquire(limiter, absl::InfiniteFuture());
  loop_.Advance(absl::Seconds(3));
  ASSERT_EQ(granted_at_.size(), 3u);
  EXPECT_EQ(granted_at_[2] - start, absl::Seconds(2));
}

TEST_F(RateLimiterTest, RefusesWhenTheQueueIsFull) {
  RateLimiter limiter(&loop_, {/*requests_per_second=*/1, /*burst=*/1, /*max_queue=*/2});
  for (int i = 0; i < 4; ++i) Acquire(limiter, absl::InfiniteFuture());
  EXPECT_EQ(granted_at_.size(), 1u);
  EXPECT_EQ(limiter.queue_depth(), 2u);
  ASSERT_EQ(errors_.size(), 1u);
  EXPECT_EQ(errors_[0].code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(errors_[0].message().find("too many calls"), absl::string_view::npos);
}

TEST_F(RateLimiterTest, CancelledWaiterNeverRunsAndGivesBackTheLastSlot) {
  RateLimiter limiter(&loop_, {/*requests_per_second=*/1, /*burst=*/1, /*max_queue=*/100});
  const absl::Time start = loop_.Now();
  Acquire(limiter, absl::InfiniteFuture());
  bool ran = false;
  const RateLimiter::Ticket ticket =
      limiter.Acquire(absl::InfiniteFuture(), [&ran](absl::Status) { ran = true; });
  ASSERT_NE(ticket, 0u);
  EXPECT_TRUE(limiter.Cancel(ticket));
  EXPECT_FALSE(limiter.Cancel(ticket));
  EXPECT_EQ(loop_.pending_timers(), 0u);
  Acquire(limiter, absl::InfiniteFuture());
  loop_.Advance(absl::Seconds(5));
  EXPECT_FALSE(ran);
  ASSERT_EQ(granted_at_.size(), 2u);
  EXPECT_EQ(granted_at_[1] - start, absl::Seconds(1));
}

TEST_F(RateLimiterTest, APriorityCallGoesBeforeWaitingNormalCalls) {
  RateLimiter limiter(&loop_, {/*requests_per_second=*/1, /*burst=*/1, /*max_queue=*/100});
  const absl::Time start = loop_.Now();
  std::vector<std::pair<std::string, absl::Time>> order;
  auto record = [this, &order](std::string name) {
    return [this, &order, name](absl::Status status) {
      ASSERT_TRUE(status.ok()) << name;
      order.emplace_back(name, loop_.Now());
    };
  };
  limiter.Acquire(absl::InfiniteFuture(), record("a"));  // now
  limiter.Acquire(absl::InfiniteFuture(), record("b"));  // +1 s
  limiter.Acquire(absl::InfiniteFuture(), record("c"));  // +2 s
  loop_.Advance(absl::Milliseconds(500));
  limiter.Acquire(absl::InfiniteFuture(), record("read-back"), RateLimiter::Priority::kFirst);
  limiter.Acquire(absl::InfiniteFuture(), record("d"));  // a normal call after it: the end
  loop_.Advance(absl::Seconds(10));
  ASSERT_EQ(order.size(), 5u);
  EXPECT_EQ(order[1].first, "read-back");
  EXPECT_EQ(order[1].second - start, absl::Seconds(1));
  EXPECT_EQ(order[2].first, "b");
  EXPECT_EQ(order[2].second - start, absl::Seconds(2));
  EXPECT_EQ(order[3].first, "c");
  EXPECT_EQ(order[3].second - start, absl::Seconds(3));
  EXPECT_EQ(order[4].first, "d");
  EXPECT_EQ(order[4].second - start, absl::Seconds(4));
}

TEST_F(RateLimiterTest, ANormalCallPushedPastItsDeadlineIsRefused) {
  RateLimiter limiter(&loop_, {/*requests_per_second=*/1, /*burst=*/1, /*max_queue=*/100});
  Acquire(limiter, absl::InfiniteFuture());                  // now
  Acquire(limiter, loop_.Now() + absl::Milliseconds(1500));  // +1 s, deadline 1.5 s
  bool priority_ran = false;
  limiter.Acquire(
      absl::InfiniteFuture(), [&](absl::Status status) { priority_ran = status.ok(); },
      RateLimiter::Priority::kFirst);
  ASSERT_EQ(errors_.size(), 1u) << "moved to +2 s, past its deadline";
  EXPECT_EQ(errors_[0].code(), absl::StatusCode::kResourceExhausted);
  loop_.Advance(absl::Seconds(3));
  EXPECT_TRUE(priority_ran);
  EXPECT_EQ(granted_at_.size(), 1u);
}

TEST_F(RateLimiterTest, CancellingAPriorityCallNeverDoubleBooksASlot) {
  RateLimiter limiter(&loop_, {/*requests_per_second=*/1, /*burst=*/1, /*max_queue=*/100});
  Acquire(limiter, absl::InfiniteFuture());  // now
  Acquire(limiter, absl::InfiniteFuture());  // +1 s
  const RateLimiter::Ticket priority = limiter.Acquire(
      absl::InfiniteFuture(), [](absl::Status) {}, RateLimiter::Priority::kFirst);  // takes +1 s
  ASSERT_NE(priority, 0u);
  EXPECT_TRUE(limiter.Cancel(priority));
  Acquire(limiter, absl::InfiniteFuture());
  loop_.Advance(absl::Seconds(10));
  ASSERT_EQ(granted_at_.size(), 3u);
  for (size_t i = 1; i < granted_at_.size(); ++i) {
    EXPECT_GE(granted_at_[i] - granted_at_[i - 1], absl::Seconds(1)) << i;
  }
}

// The spacing holds when a pause, read-backs and cancellations mix (cases a review found).
TEST_F(RateLimiterTest, PausePriorityAndCancelNeverBringTwoSlotsCloser) {
  {
    RateLimiter limiter(&loop_, {/*requests_per_second=*/5, /*burst=*/1, /*max_queue=*/100});
    Acquire(limiter, absl::InfiniteFuture());  // A at 0
    Acquire(limiter, absl::InfiniteFuture());  // N1 at 0.2
    limiter.Acquire(
        absl::InfiniteFuture(), [this](absl::Status) { granted_at_.push_back(loop_.Now()); },
        RateLimiter::Priority::kFirst);  // P1 takes 0.2
    limiter.PauseUntil(loop_.Now() + absl::Milliseconds(300));
    loop_.Advance(absl::Milliseconds(250));
    limiter.Acquire(
        absl::InfiniteFuture(), [this](absl::Status) { granted_at_.push_back(loop_.Now()); },
        RateLimiter::Priority::kFirst);  // P2
    loop_.Advance(absl::Seconds(5));
  }
  {
    RateLimiter limiter(&loop_, {/*requests_per_second=*/1, /*burst=*/1, /*max_queue=*/100});
    loop_.Advance(absl::Seconds(10));
    Acquire(limiter, absl::InfiniteFuture());  // A
    Acquire(limiter, absl::InfiniteFuture());  // B at +1
    const RateLimiter::Ticket c = limiter.Acquire(absl::InfiniteFuture(), [](absl::Status) {});
    limiter.PauseUntil(loop_.Now() + absl::Milliseconds(2500));
    EXPECT_TRUE(limiter.Cancel(c));
    Acquire(limiter, absl::InfiniteFuture());  // D
    loop_.Advance(absl::Seconds(10));
  }
  std::vector<absl::Time> first(granted_at_.begin(), granted_at_.begin() + 4);
  std::vector<absl::Time> second(granted_at_.begin() + 4, granted_at_.end());
  ASSERT_EQ(second.size(), 3u);
  std::sort(first.begin(), first.end());
  std::sort(second.begin(), second.end());
  for (size_t i = 1; i < first.size(); ++i) {
    EXPECT_GE(first[i] - first[i - 1], absl::Milliseconds(200)) << i;
  }
  for (size_t i = 1; i < second.size(); ++i) {
    EXPECT_GE(second[i] - second[i - 1], absl::Seconds(1)) << i;
  }
}

TEST_F(RateLimiterTest, NeverExceedsTheRateInAnyWindow) {
  RateLimiter limiter(&loop_, {/*requests_per_second=*/7, /*burst=*/1, /*max_queue=*/1000});
  for (int i = 0; i < 100; ++i) Acquire(limiter, absl::InfiniteFuture());
  loop_.Advance(absl::Seconds(20));
  ASSERT_EQ(granted_at_.size(), 100u);
  for (size_t i = 0; i + 7 < granted_at_.size(); ++i) {
    // Any 8 consecutive grants span at least one second: no window [t, t+1s) holds 8.
    EXPECT_GE(granted_at_[i + 7] - granted_at_[i], absl::Seconds(1)) << i;
  }
}

}  // namespace
}  // namespace kommo::rest
