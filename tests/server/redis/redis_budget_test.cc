// RedisBudget (the rate budget shared by replicas) against a real redis-server.
#include "server/redis/redis_budget.h"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/common/error_details.h"
#include "server/http/epoll_loop.h"
#include "tests/support/redis_server.h"

namespace kommo::redis {
namespace {

// One replica: its own loop, Redis connection and budget.
struct Replica {
  std::unique_ptr<http::EpollLoop> loop;
  std::unique_ptr<RedisClient> client;
  std::unique_ptr<RedisBudget> budget;
};

// What happened to the requests a test sent: when each was granted, or why not.
struct Outcomes {
  absl::Mutex mu;
  std::vector<absl::Time> granted ABSL_GUARDED_BY(mu);
  std::vector<absl::Status> refused ABSL_GUARDED_BY(mu);
  int done ABSL_GUARDED_BY(mu) = 0;

  void Record(absl::Status status) {
    absl::MutexLock lock(&mu);
    if (status.ok()) {
      granted.push_back(absl::Now());
    } else {
      refused.push_back(status);
    }
    ++done;
  }
  bool WaitDone(int count, absl::Duration within) {
    absl::MutexLock lock(&mu);
    auto enough = [this, count]() ABSL_SHARED_LOCKS_REQUIRED(mu) { return done >= count; };
    return mu.AwaitWithTimeout(absl::Condition(&enough), within);
  }
  // The most grants in any 1-second window.
  size_t Busiest() {
    absl::MutexLock lock(&mu);
    std::vector<absl::Time> times = granted;
    std::sort(times.begin(), times.end());
    size_t busiest = 0;
    for (size_t i = 0, j = 0; i < times.size(); ++i) {
      while (times[i] - times[j] >= absl::Seconds(1)) ++j;
      busiest = std::max(busiest, i - j + 1);
    }
    return busiest;
  }
};

class RedisBudgetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = testing::RedisServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  void TearDown() override {
    for (auto& replica : replicas_) {
      replica->loop->RunAndWait([&] {
        replica->budget.reset();
        replica->client.reset();
      });
      replica->loop->Shutdown();
    }
  }

  Replica* AddReplica(RedisBudgetOptions options, const std::string& url = "") {
    auto replica = std::make_unique<Replica>();
    auto loop = http::EpollLoop::Create();
    EXPECT_TRUE(loop.ok());
    replica->loop = *std::move(loop);
    EXPECT_TRUE(replica->loop->Start().ok());
    RedisOptions redis;
    redis.url = url.empty() ? server_->url() : url;
    redis.reconnect_min = absl::Milliseconds(20);
    redis.reconnect_max = absl::Milliseconds(200);
    options.handover_delay = absl::Milliseconds(500);
    Replica* raw = replica.get();
    raw->loop->RunAndWait([&] {
      auto client = RedisClient::Create(raw->loop.get(), redis);
      ASSERT_TRUE(client.ok()) << client.status();
      raw->client = *std::move(client);
      raw->budget = std::make_unique<RedisBudget>(raw->client.get(), raw->loop.get(), options);
    });
    replicas_.push_back(std::move(replica));
    return raw;
  }

  static bool WaitShared(Replica* replica, absl::Duration within = absl::Seconds(5)) {
    const absl::Time until = absl::Now() + within;
    while (absl::Now() < until) {
      bool shared = false;
      replica->loop->RunAndWait([&] { shared = replica->budget->shared(); });
      if (shared) return true;
      absl::SleepFor(absl::Milliseconds(10));
    }
    return false;
  }

  static void Acquire(Replica* replica, Outcomes* outcomes, int count, bool priority = false,
                      absl::Duration deadline = absl::Seconds(60)) {
    replica->loop->RunAndWait([&] {
      for (int i = 0; i < count; ++i) {
        replica->budget->Acquire(replica->loop->Now() + deadline, priority,
                                 [outcomes](absl::Status status) { outcomes->Record(status); });
      }
    });
  }

  static RedisBudgetOptions Options(double rps) {
    RedisBudgetOptions options;
    options.account = "acme";
    options.requests_per_second = rps;
    // Generous: a loaded test machine must not turn a slow answer into a fallback here.
    options.timeout = absl::Seconds(2);
    return options;
  }

  std::unique_ptr<testing::RedisServer> server_;
  std::vector<std::unique_ptr<Replica>> replicas_;
};

TEST_F(RedisBudgetTest, TwoReplicasShareOneBudget) {
  Replica* a = AddReplica(Options(7));
  Replica* b = AddReplica(Options(7));
  ASSERT_TRUE(WaitShared(a));
  ASSERT_TRUE(WaitShared(b));
  Outcomes outcomes_a;
  Outcomes outcomes_b;
  const absl::Time start = absl::Now();
  Acquire(a, &outcomes_a, 10);
  Acquire(b, &outcomes_b, 10);
  ASSERT_TRUE(outcomes_a.WaitDone(10, absl::Seconds(10)));
  ASSERT_TRUE(outcomes_b.WaitDone(10, absl::Seconds(10)));
  const absl::Duration took = absl::Now() - start;
  Outcomes all;
  {
    absl::MutexLock la(&outcomes_a.mu);
    absl::MutexLock lb(&outcomes_b.mu);
    EXPECT_EQ(outcomes_a.granted.size(), 10u);
    EXPECT_EQ(outcomes_b.granted.size(), 10u);
    absl::MutexLock lock(&all.mu);
    all.granted = outcomes_a.granted;
    all.granted.insert(all.granted.end(), outcomes_b.granted.begin(), outcomes_b.granted.end());
  }
  // 20 requests at 7/s: 19 intervals at least, and never 8 in one second.
  EXPECT_LE(all.Busiest(), 7u);
  EXPECT_GE(took, absl::Milliseconds(19 * 1000 / 7));
  // Redis holds the bucket of the account named, under its hash tag.
  EXPECT_NE(*server_->Call({"EXISTS", "kommo:{acme}:tat"}), "0");
}

TEST_F(RedisBudgetTest, ReadBacksGoBeforeEveryReplicasNormalRequests) {
  Replica* a = AddReplica(Options(7));
  Replica* b = AddReplica(Options(7));
  ASSERT_TRUE(WaitShared(a));
  ASSERT_TRUE(WaitShared(b));
  Outcomes normal;
  Outcomes read_back;
  Acquire(a, &normal, 14);  // two seconds of normal requests on replica A
  absl::SleepFor(absl::Milliseconds(300));
  const absl::Time asked = absl::Now();
  Acquire(b, &read_back, 1, /*priority=*/true);
  ASSERT_TRUE(read_back.WaitDone(1, absl::Seconds(5)));
  absl::Time granted_at;
  {
    absl::MutexLock lock(&read_back.mu);
    ASSERT_EQ(read_back.granted.size(), 1u);
    granted_at = read_back.granted[0];
  }
  // Behind at most the normal slots already reserved (two intervals' horizon) and the current one.
  EXPECT_LT(granted_at - asked, absl::Milliseconds(4 * 150));
  ASSERT_TRUE(normal.WaitDone(14, absl::Seconds(10)));
  absl::MutexLock lock(&normal.mu);
  const long after = std::count_if(normal.granted.begin(), normal.granted.end(),
                                   [&](absl::Time t) { return t > granted_at; });
  EXPECT_GE(after, 8) << "the read-back went before most of A's waiting requests";
}

TEST_F(RedisBudgetTest, A429PausesEveryReplica) {
  Replica* a = AddReplica(Options(7));
  Replica* b = AddReplica(Options(7));
  ASSERT_TRUE(WaitShared(a));
  ASSERT_TRUE(WaitShared(b));
  const absl::Time start = absl::Now();
  a->loop->RunAndWait([&] { a->budget->OnRateLimited(a->loop->Now() + absl::Seconds(1)); });
  absl::SleepFor(absl::Milliseconds(50));  // the pause reaches Redis
  Outcomes outcomes;
  Acquire(b, &outcomes, 1);
  ASSERT_TRUE(outcomes.WaitDone(1, absl::Seconds(5)));
  absl::MutexLock lock(&outcomes.mu);
  ASSERT_EQ(outcomes.granted.size(), 1u);
  EXPECT_GE(outcomes.granted[0] - start, absl::Milliseconds(950));
}

TEST_F(RedisBudgetTest, ABlockOpensEveryReplicasCircuit) {
  Replica* a = AddReplica(Options(7));
  Replica* b = AddReplica(Options(7));
  ASSERT_TRUE(WaitShared(a));
  ASSERT_TRUE(WaitShared(b));
  absl::Mutex mu;
  absl::Duration told_for = absl::ZeroDuration();
  b->loop->RunAndWait([&] {
    b->budget->SetBlockedListener([&, loop = b->loop.get()](absl::Time until) {
      absl::MutexLock lock(&mu);
      told_for = until - loop->Now();
    });
  });
  a->loop->RunAndWait([&] { a->budget->OnBlocked(a->loop->Now() + absl::Seconds(30)); });
  absl::SleepFor(absl::Milliseconds(50));
  Outcomes outcomes;
  Acquire(b, &outcomes, 1);
  ASSERT_TRUE(outcomes.WaitDone(1, absl::Seconds(5)));
  {
    absl::MutexLock lock(&outcomes.mu);
    ASSERT_EQ(outcomes.refused.size(), 1u);
    EXPECT_TRUE(absl::IsUnavailable(outcomes.refused[0])) << outcomes.refused[0];
  }
  {
    absl::MutexLock lock(&mu);
    EXPECT_GT(told_for, absl::Seconds(28));
    EXPECT_LE(told_for, absl::Seconds(30));
  }
  // The probe that gets through ends it for everybody.
  a->loop->RunAndWait([&] { a->budget->OnUnblocked(); });
  absl::SleepFor(absl::Milliseconds(50));
  Outcomes after;
  Acquire(b, &after, 1);
  ASSERT_TRUE(after.WaitDone(1, absl::Seconds(5)));
  absl::MutexLock lock(&after.mu);
  EXPECT_EQ(after.granted.size(), 1u);
}

TEST_F(RedisBudgetTest, ASlotThatCannotComeBeforeTheDeadlineIsRefusedAtOnce) {
  Replica* a = AddReplica(Options(2));
  ASSERT_TRUE(WaitShared(a));
  Outcomes outcomes;
  const absl::Time start = absl::Now();
  Acquire(a, &outcomes, 3, false, absl::Milliseconds(700));  // slots at 0, 0.5 s, 1 s
  ASSERT_TRUE(outcomes.WaitDone(3, absl::Seconds(5)));
  absl::MutexLock lock(&outcomes.mu);
  EXPECT_EQ(outcomes.granted.size(), 2u);
  ASSERT_EQ(outcomes.refused.size(), 1u);
  EXPECT_TRUE(absl::IsResourceExhausted(outcomes.refused[0])) << outcomes.refused[0];
  std::optional<google::rpc::ErrorInfo> info = GetErrorInfo(outcomes.refused[0]);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->reason(), "RATE_LIMIT_QUEUE_TIMEOUT");
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(700));
}

TEST_F(RedisBudgetTest, WithoutRedisEachReplicaSendsItsShare) {
  const std::string url = server_->url();
  server_->Kill();
  RedisBudgetOptions options = Options(7);
  options.fallback_replicas = 3;  // 7 / 3: two requests a second per replica
  Replica* a = AddReplica(options, url);
  Outcomes outcomes;
  const absl::Time start = absl::Now();
  Acquire(a, &outcomes, 5);
  ASSERT_TRUE(outcomes.WaitDone(5, absl::Seconds(10)));
  const absl::Duration took = absl::Now() - start;
  EXPECT_LE(outcomes.Busiest(), 2u);
  EXPECT_GE(took, absl::Seconds(2));
  EXPECT_LT(took, absl::Seconds(3));
}

TEST_F(RedisBudgetTest, RedisKilledMidwayFallsBackWithNoWindowAboveTheBudget) {
  RedisBudgetOptions options = Options(7);
  options.fallback_replicas = 2;
  Replica* a = AddReplica(options);
  Replica* b = AddReplica(options);
  ASSERT_TRUE(WaitShared(a));
  ASSERT_TRUE(WaitShared(b));
  Outcomes outcomes;
  Acquire(a, &outcomes, 12);
  Acquire(b, &outcomes, 12);
  absl::SleepFor(absl::Milliseconds(1200));
  server_->Kill();
  ASSERT_TRUE(outcomes.WaitDone(24, absl::Seconds(20)));
  {
    absl::MutexLock lock(&outcomes.mu);
    EXPECT_EQ(outcomes.granted.size(), 24u);
  }
  EXPECT_LE(outcomes.Busiest(), 7u);
  bool shared = true;
  a->loop->RunAndWait([&] { shared = a->budget->shared(); });
  EXPECT_FALSE(shared);

  // Redis returns: both hand over to the shared budget again, with no window above it.
  ASSERT_TRUE(server_->Restart().ok());
  ASSERT_TRUE(WaitShared(a));
  ASSERT_TRUE(WaitShared(b));
  Acquire(a, &outcomes, 7);
  Acquire(b, &outcomes, 7);
  ASSERT_TRUE(outcomes.WaitDone(38, absl::Seconds(10)));
  EXPECT_LE(outcomes.Busiest(), 7u);
}

}  // namespace
}  // namespace kommo::redis
