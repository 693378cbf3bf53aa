#include "server/kommo/rate_limiter.h"

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
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

// Fair shares (issue 16): the waiting calls are served in weighted fair order across callers.
class FairRateLimiterTest : public ::testing::Test {
 protected:
  // Acquires a slot for `flow`; records the flow's name in `order_` when granted.
  RateLimiter::Ticket Acquire(RateLimiter& limiter, const std::string& flow, double weight = 1,
                              absl::Time deadline = absl::InfiniteFuture(),
                              RateLimiter::Priority priority = RateLimiter::Priority::kNormal) {
    return limiter.Acquire(
        deadline,
        [this, flow](absl::Status status) {
          if (status.ok()) {
            order_.push_back(flow);
            granted_at_.push_back(loop_.Now());
          } else {
            errors_.push_back(status);
          }
        },
        priority, RateLimiter::Flow{flow, weight});
  }

  // The flows granted, as one string ("ABAB").
  std::string Order() const {
    std::string out;
    for (const std::string& each : order_) out += each;
    return out;
  }

  FakeEventLoop loop_;
  std::vector<std::string> order_;
  std::vector<absl::Time> granted_at_;
  std::vector<absl::Status> errors_;
};

TEST_F(FairRateLimiterTest, TwoFlowsOfEqualWeightAlternate) {
  RateLimiter limiter(&loop_, {/*requests_per_second=*/10, /*burst=*/1, /*max_queue=*/100});
  for (int i = 0; i < 6; ++i) Acquire(limiter, "A");
  for (int i = 0; i < 6; ++i) Acquire(limiter, "B");
  loop_.Advance(absl::Seconds(5));
  // A's first went at once; then the two take turns until A's backlog is done.
  EXPECT_EQ(Order(), "ABABABABABAB");
  EXPECT_TRUE(errors_.empty());
}

TEST_F(FairRateLimiterTest, WeightsShareTheBudgetInProportion) {
  RateLimiter limiter(&loop_, {/*requests_per_second=*/10, /*burst=*/1, /*max_queue=*/1000});
  for (int i = 0; i < 40; ++i) Acquire(limiter, "A", /*weight=*/3);
  for (int i = 0; i < 40; ++i) Acquire(limiter, "B", /*weight=*/1);
  loop_.Advance(absl::Seconds(4));  // 41 slots: the first at once, then one per 100 ms
  ASSERT_EQ(order_.size(), 41u);
  const auto a = std::count(order_.begin(), order_.end(), "A");
  const auto b = std::count(order_.begin(), order_.end(), "B");
  EXPECT_NEAR(static_cast<double>(a) / static_cast<double>(b), 3.0, 0.35) << Order();
  // In every window of 8 slots after the first, B gets 2: never starved, never more.
  for (size_t i = 1; i + 8 <= order_.size(); i += 8) {
    EXPECT_EQ(std::count(order_.begin() + i, order_.begin() + i + 8, "B"), 2) << Order();
  }
}

TEST_F(FairRateLimiterTest, ALoneNewcomerGoesWithinTwoSlotsOfABacklog) {
  RateLimiter limiter(&loop_, {/*requests_per_second=*/7, /*burst=*/1, /*max_queue=*/1000});
  for (int i = 0; i < 500; ++i) Acquire(limiter, "A");
  loop_.Advance(absl::Seconds(3));  // A's backlog is being served
  const size_t before = order_.size();
  ASSERT_GT(before, 5u);
  Acquire(limiter, "B", 1, loop_.Now() + absl::Seconds(1));
  EXPECT_TRUE(errors_.empty()) << "B's slot is near: it is not refused";
  loop_.Advance(limiter.interval() * 2);
  ASSERT_LE(order_.size(), before + 2);
  EXPECT_NE(std::find(order_.begin() + static_cast<std::ptrdiff_t>(before), order_.end(), "B"),
            order_.end())
      << "B went within two slots of its arrival";
  // A's calls moved one slot later and none was refused (no deadline); the rate holds.
  loop_.Advance(absl::Seconds(80));
  EXPECT_EQ(order_.size(), 501u);
  EXPECT_TRUE(errors_.empty());
  for (size_t i = 1; i < granted_at_.size(); ++i) {
    EXPECT_GE(granted_at_[i] - granted_at_[i - 1], limiter.interval()) << i;
  }
}

TEST_F(FairRateLimiterTest, ACallerThatJustWentIdleKeepsItsPlaceBehindItsShare) {
  // A's batches come one at a time (each asks when the previous was granted): B's call, arriving
  // while A's next one waits, still goes first, because A's share is spent.
  RateLimiter limiter(&loop_, {/*requests_per_second=*/10, /*burst=*/1, /*max_queue=*/100});
  Acquire(limiter, "A");  // at once
  Acquire(limiter, "A");  // +100 ms
  loop_.Advance(absl::Milliseconds(100));
  Acquire(limiter, "A");  // +200 ms
  loop_.Advance(absl::Milliseconds(50));
  Acquire(limiter, "B");
  loop_.Advance(absl::Seconds(1));
  EXPECT_EQ(Order(), "AABA");
}

TEST_F(FairRateLimiterTest, ReadBacksStillGoFirst) {
  RateLimiter limiter(&loop_, {/*requests_per_second=*/10, /*burst=*/1, /*max_queue=*/100});
  for (int i = 0; i < 4; ++i) Acquire(limiter, "A");
  Acquire(limiter, "B");
  Acquire(limiter, "R", 1, absl::InfiniteFuture(), RateLimiter::Priority::kFirst);
  loop_.Advance(absl::Seconds(2));
  EXPECT_EQ(Order(), "ARBAAA");
}

TEST_F(FairRateLimiterTest, AReadBackOfACallerWithABacklogDoesNotPutANewcomerBehindIt) {
  RateLimiter limiter(&loop_, {/*requests_per_second=*/10, /*burst=*/1, /*max_queue=*/100});
  for (int i = 0; i < 6; ++i) Acquire(limiter, "A");
  // A's read-back, charged to A's share, goes first.
  limiter.Acquire(absl::InfiniteFuture(), [this](absl::Status) { order_.push_back("R"); },
                  RateLimiter::Priority::kFirst, {"A", 1});
  loop_.Advance(absl::Milliseconds(150));
  Acquire(limiter, "B");
  loop_.Advance(absl::Seconds(2));
  EXPECT_EQ(Order(), "ARBAAAAA");
}

TEST_F(FairRateLimiterTest, ACallPushedPastItsDeadlineByANewcomerIsRefusedAndOthersKeepTheirSlots) {
  RateLimiter limiter(&loop_, {/*requests_per_second=*/1, /*burst=*/1, /*max_queue=*/100});
  const absl::Time start = loop_.Now();
  Acquire(limiter, "A");                                       // now
  Acquire(limiter, "A", 1, start + absl::Seconds(1));          // +1 s, no later
  Acquire(limiter, "A");                                       // +2 s
  Acquire(limiter, "A", 1, start + absl::Milliseconds(3500));  // +3 s
  Acquire(limiter, "B");  // takes +1 s: A's second would go at +2 s, after its deadline
  ASSERT_EQ(errors_.size(), 1u);
  EXPECT_EQ(errors_[0].code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(GetErrorInfo(errors_[0])->reason(), "RATE_LIMIT_QUEUE_TIMEOUT");
  loop_.Advance(absl::Seconds(10));
  EXPECT_EQ(Order(), "ABAA");
  ASSERT_EQ(granted_at_.size(), 4u);
  // The calls after the refused one kept their slots: the last (deadline 3.5 s) went at +3 s.
  EXPECT_EQ(granted_at_[2] - start, absl::Seconds(2));
  EXPECT_EQ(granted_at_[3] - start, absl::Seconds(3));
}

TEST_F(FairRateLimiterTest, ANewcomerWhoseFairSlotIsAfterItsDeadlineIsRefusedAtOnce) {
  RateLimiter limiter(&loop_, {/*requests_per_second=*/1, /*burst=*/1, /*max_queue=*/100});
  for (int i = 0; i < 5; ++i) Acquire(limiter, "A");
  // B's fair place is the next slot (+1 s): a deadline before it is refused, with RetryInfo.
  Acquire(limiter, "B", 1, loop_.Now() + absl::Milliseconds(500));
  ASSERT_EQ(errors_.size(), 1u);
  EXPECT_EQ(GetRetryDelay(errors_[0]), absl::Seconds(1));
  EXPECT_EQ(limiter.SlotFor(RateLimiter::Priority::kNormal, {"B", 1}) - loop_.Now(),
            absl::Seconds(1));
  EXPECT_EQ(limiter.SlotFor(RateLimiter::Priority::kNormal, {"A", 1}) - loop_.Now(),
            absl::Seconds(5));
  EXPECT_EQ(limiter.NextSlot() - loop_.Now(), absl::Seconds(5));
}

TEST_F(FairRateLimiterTest, CancelMovesTheOthersUpAndExtendDeadlineKeepsThePlace) {
  RateLimiter limiter(&loop_, {/*requests_per_second=*/1, /*burst=*/1, /*max_queue=*/100});
  const absl::Time start = loop_.Now();
  Acquire(limiter, "A");                                                              // now
  const RateLimiter::Ticket a2 = Acquire(limiter, "A");                               // +1 s
  const RateLimiter::Ticket a3 = Acquire(limiter, "A", 1, start + absl::Seconds(2));  // +2 s
  ASSERT_NE(a2, 0u);
  ASSERT_NE(a3, 0u);
  limiter.ExtendDeadline(a3, start + absl::Seconds(3));
  Acquire(limiter, "B");  // +1 s; A's second +2 s, A's third +3 s (its deadline now)
  EXPECT_TRUE(errors_.empty());
  EXPECT_TRUE(limiter.Cancel(a2));
  EXPECT_FALSE(limiter.Cancel(a2));
  EXPECT_EQ(limiter.queue_depth(), 2u);
  loop_.Advance(absl::Seconds(10));
  EXPECT_EQ(Order(), "ABA");
  ASSERT_EQ(granted_at_.size(), 3u);
  EXPECT_EQ(granted_at_[2] - start, absl::Seconds(2));
}

TEST_F(FairRateLimiterTest, APauseKeepsTheFairOrder) {
  RateLimiter limiter(&loop_, {/*requests_per_second=*/10, /*burst=*/1, /*max_queue=*/100});
  const absl::Time start = loop_.Now();
  for (int i = 0; i < 3; ++i) Acquire(limiter, "A");
  Acquire(limiter, "B");
  limiter.PauseUntil(start + absl::Seconds(1));
  loop_.Advance(absl::Seconds(3));
  EXPECT_EQ(Order(), "ABAA");
  ASSERT_EQ(granted_at_.size(), 4u);
  EXPECT_EQ(granted_at_[1] - start, absl::Seconds(1));
  EXPECT_EQ(granted_at_[3] - start, absl::Milliseconds(1200));
}

TEST_F(FairRateLimiterTest, FlowStateIsForgottenWhenACallerHasNothingWaiting) {
  RateLimiter limiter(&loop_, {/*requests_per_second=*/100, /*burst=*/1, /*max_queue=*/10000});
  for (int i = 0; i < 1000; ++i) Acquire(limiter, absl::StrCat("caller-", i));
  EXPECT_EQ(limiter.flows(), 1000u);
  // Half leave before their slot.
  std::vector<RateLimiter::Ticket> tickets;
  for (int i = 0; i < 500; ++i) tickets.push_back(Acquire(limiter, absl::StrCat("leaver-", i)));
  for (RateLimiter::Ticket ticket : tickets) EXPECT_TRUE(limiter.Cancel(ticket));
  loop_.Advance(absl::Seconds(30));
  EXPECT_EQ(order_.size(), 1000u);
  // Only callers whose share is still ahead of the fair clock are remembered, a bounded few, and
  // the next call after a quiet period starts afresh.
  EXPECT_LE(limiter.flows(), FairShares::kMaxIdleFlows);
  loop_.Advance(absl::Seconds(1));
  Acquire(limiter, "late");
  EXPECT_EQ(limiter.flows(), 1u);
  EXPECT_EQ(limiter.queue_depth(), 0u);
}

// Random calls, cancels, deadline extensions and pauses from several callers and both priorities:
// each call is answered at most once, exactly once unless cancelled; no grant comes after the
// call's deadline; grants are never closer than the interval (burst 1); one caller's normal calls
// go in the order they came; every call is answered once the queue drains.
TEST_F(FairRateLimiterTest, RandomScheduleKeepsEveryPromise) {
  for (uint32_t seed = 1; seed <= 200; ++seed) {
    FakeEventLoop loop;
    RateLimiter limiter(&loop, {/*requests_per_second=*/10, /*burst=*/1, /*max_queue=*/40});
    struct Call {
      std::string flow;
      bool first = false;
      absl::Time deadline;
      int answers = 0;
      bool granted = false;
      absl::Time at;
      bool cancelled = false;
      RateLimiter::Ticket ticket = 0;
    };
    std::vector<std::unique_ptr<Call>> calls;
    std::vector<absl::Time> grants;
    std::map<std::string, size_t> last_granted;  // per flow: index of the last normal grant
    uint32_t state = seed;
    auto next = [&state](uint32_t n) {
      state = state * 1103515245u + 12345u;
      return (state >> 16) % n;
    };
    for (int step = 0; step < 300; ++step) {
      const uint32_t op = next(10);
      if (op < 5) {
        auto call = std::make_unique<Call>();
        Call* raw = call.get();
        const size_t index = calls.size();
        call->flow = std::string(1, static_cast<char>('A' + next(4)));
        call->first = next(6) == 0;
        call->deadline = next(5) == 0 ? absl::InfiniteFuture()
                                      : loop.Now() + absl::Milliseconds(50 + next(3000));
        calls.push_back(std::move(call));
        const double weight = raw->flow == "A" ? 0.01 : raw->flow == "B" ? 1000 : 1;
        raw->ticket = limiter.Acquire(
            raw->deadline,
            [&, raw, index](absl::Status status) {
              ++raw->answers;
              if (!status.ok()) {
                EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
                return;
              }
              raw->granted = true;
              raw->at = loop.Now();
              EXPECT_LE(loop.Now(), raw->deadline) << "seed " << seed << " call " << index;
              if (!grants.empty()) {
                EXPECT_GE(loop.Now() - grants.back(), limiter.interval())
                    << "seed " << seed << " call " << index;
              }
              grants.push_back(loop.Now());
              if (!raw->first) {
                auto it = last_granted.find(raw->flow);
                if (it != last_granted.end()) {
                  EXPECT_GT(index, it->second) << "seed " << seed << " flow " << raw->flow;
                }
                last_granted[raw->flow] = index;
              }
            },
            raw->first ? RateLimiter::Priority::kFirst : RateLimiter::Priority::kNormal,
            RateLimiter::Flow{raw->flow, weight});
      } else if (op == 5 && !calls.empty()) {
        Call& call = *calls[next(static_cast<uint32_t>(calls.size()))];
        if (call.ticket != 0 && call.answers == 0 && limiter.Cancel(call.ticket)) {
          call.cancelled = true;
        }
      } else if (op == 6 && !calls.empty()) {
        Call& call = *calls[next(static_cast<uint32_t>(calls.size()))];
        if (call.ticket != 0 && call.answers == 0) {
          const absl::Time later = call.deadline + absl::Milliseconds(next(2000));
          limiter.ExtendDeadline(call.ticket, later);
          call.deadline = std::max(call.deadline, later);
        }
      } else if (op == 7) {
        limiter.PauseUntil(loop.Now() + absl::Milliseconds(next(1500)));
      } else {
        loop.Advance(absl::Milliseconds(next(400)));
      }
    }
    loop.Advance(absl::Seconds(600));
    EXPECT_EQ(limiter.queue_depth(), 0u) << "seed " << seed;
    EXPECT_LE(limiter.flows(), FairShares::kMaxIdleFlows);
    for (size_t i = 0; i < calls.size(); ++i) {
      EXPECT_EQ(calls[i]->answers, calls[i]->cancelled ? 0 : 1) << "seed " << seed << " call " << i;
    }
    if (::testing::Test::HasFailure()) break;
  }
}

}  // namespace
}  // namespace kommo::rest
