// Issue 15's proof of "one budget for all replicas" (ctest -L redis): three real server processes
// sharing a real redis-server, against the emulator enforcing Kommo's 7 requests a second.
// 1,000 concurrent CreateLead spread over the three all succeed exactly once, the emulator
// answers no 429, and no 1-second window of its request log holds more than 7 requests. Then the
// same with Redis killed in the middle: still no window above the budget, and the calls keep
// working (a call that fails says why; nothing is written twice).

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "emulator/emulator.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kommo/v1/lead_service.grpc.pb.h"
#include "tests/support/redis_server.h"
#include "tests/support/server_process.h"
#include "tests/support/service_stack.h"

namespace kommo {
namespace {

namespace emu = ::kommo::emulator;
using ::kommo::testing::Inspect;
using ::kommo::testing::ServerProcess;

constexpr char kToken[] = "shared-budget-test-token";

// The results of a wave of concurrent CreateLead calls.
struct Wave {
  absl::Mutex mu;
  int pending ABSL_GUARDED_BY(mu) = 0;
  int ok ABSL_GUARDED_BY(mu) = 0;
  std::vector<int64_t> ids ABSL_GUARDED_BY(mu);
  std::map<std::string, int> failures ABSL_GUARDED_BY(mu);  // "CODE REASON" → count
  int unknown_outcome ABSL_GUARDED_BY(mu) = 0;
};

class SharedBudgetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto redis = testing::RedisServer::Start();
    ASSERT_TRUE(redis.ok()) << redis.status();
    redis_ = *std::move(redis);
    emu::EmulatorOptions options;
    options.token = kToken;
    options.rate_limit.enabled = true;  // Kommo's 7 requests a second, burst 7
    options.rate_limit.requests_per_second = 7;
    options.rate_limit.burst = 7;
    auto emulator = emu::Emulator::Start(options);
    ASSERT_TRUE(emulator.ok()) << emulator.status();
    emulator_ = *std::move(emulator);
    for (int i = 0; i < 3; ++i) {
      auto server = ServerProcess::Start(
          KOMMO_SERVER_BINARY,
          {"KOMMO_API_URL=" + emulator_->base_url(), std::string("KOMMO_ACCESS_TOKEN=") + kToken,
           "REDIS_URL=" + redis_->url(), "REDIS_FALLBACK_REPLICAS=3", "LOG_LEVEL=warning"});
      ASSERT_TRUE(server.ok()) << server.status();
      auto channel = grpc::CreateChannel((*server)->address(), grpc::InsecureChannelCredentials());
      stubs_.push_back(v1::LeadService::NewStub(channel));
      servers_.push_back(*std::move(server));
    }
    // Each server's start-up check (one GET /account, outside the budget: README "Several
    // replicas") is over before the window of the calls begins.
    absl::SleepFor(absl::Milliseconds(1100));
    emulator_->ClearRequests();
  }

  void TearDown() override {
    if (HasFailure()) {
      for (auto& server : servers_) std::printf("--- server log ---\n%s", server->log().c_str());
    }
    stubs_.clear();
    servers_.clear();
    if (emulator_) emulator_->Stop();
  }

  // Starts `count` CreateLead calls spread over the three servers, each with a 60 s deadline.
  void StartWave(Wave* wave, int count, const std::string& prefix) {
    {
      absl::MutexLock lock(&wave->mu);
      wave->pending += count;
    }
    for (int i = 0; i < count; ++i) {
      struct Call {
        grpc::ClientContext context;
        v1::CreateLeadRequest request;
        v1::CreateLeadResponse response;
      };
      auto call = std::make_shared<Call>();
      call->context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
      call->request.set_name(absl::StrCat(prefix, " ", i));
      stubs_[i % 3]->async()->CreateLead(
          &call->context, &call->request, &call->response, [wave, call](grpc::Status status) {
            absl::MutexLock lock(&wave->mu);
            --wave->pending;
            if (status.ok()) {
              ++wave->ok;
              wave->ids.push_back(call->response.lead().id());
              return;
            }
            testing::CallError error = Inspect(status);
            ++wave->failures[absl::StrCat(status.error_code(), " ", error.reason)];
            if (error.reason == "WRITE_OUTCOME_UNKNOWN") ++wave->unknown_outcome;
          });
    }
  }

  static bool WaitWave(Wave* wave, absl::Duration within) {
    absl::MutexLock lock(&wave->mu);
    auto done = [wave]() ABSL_SHARED_LOCKS_REQUIRED(wave->mu) { return wave->pending == 0; };
    return wave->mu.AwaitWithTimeout(absl::Condition(&done), within);
  }

  // The most requests the emulator received in any 1-second window, and its 429s.
  std::pair<size_t, int> Busiest() {
    std::vector<std::chrono::system_clock::time_point> times;
    int rate_limited = 0;
    for (const emu::LoggedRequest& request : emulator_->requests()) {
      times.push_back(request.time);
      rate_limited += request.status == 429;
    }
    std::sort(times.begin(), times.end());
    size_t busiest = 0;
    for (size_t i = 0, j = 0; i < times.size(); ++i) {
      while (times[i] - times[j] >= std::chrono::seconds(1)) ++j;
      busiest = std::max(busiest, i - j + 1);
    }
    return {busiest, rate_limited};
  }

  std::unique_ptr<testing::RedisServer> redis_;
  std::unique_ptr<emu::Emulator> emulator_;
  std::vector<std::unique_ptr<ServerProcess>> servers_;
  std::vector<std::unique_ptr<v1::LeadService::Stub>> stubs_;
};

TEST_F(SharedBudgetTest, ThreeReplicasOneBudgetAndRedisKilledMidway) {
  // Wave 1: Redis up.
  const absl::Time start = absl::Now();
  Wave wave;
  StartWave(&wave, 1000, "shared");
  ASSERT_TRUE(WaitWave(&wave, absl::Seconds(70)));
  const absl::Duration took = absl::Now() - start;
  const auto [busiest, rate_limited] = Busiest();
  const size_t requests = emulator_->requests().size();
  {
    absl::MutexLock lock(&wave.mu);
    EXPECT_EQ(wave.ok, 1000);
    EXPECT_TRUE(wave.failures.empty());
    std::vector<int64_t> ids = wave.ids;
    std::sort(ids.begin(), ids.end());
    EXPECT_EQ(std::unique(ids.begin(), ids.end()), ids.end()) << "every call its own lead";
  }
  EXPECT_EQ(emulator_->lead_count(), 1000u) << "none lost, none doubled";
  EXPECT_EQ(rate_limited, 0);
  EXPECT_LE(busiest, 7u);
  std::printf(
      "[shared budget] 1000 CreateLead over 3 replicas: %zu requests to Kommo, busiest 1-second "
      "window %zu, %d answered 429, %.1f s\n",
      requests, busiest, rate_limited, absl::ToDoubleSeconds(took));

  // Wave 2: Redis killed while the calls run.
  emulator_->ClearRequests();
  const size_t leads_before = emulator_->lead_count();
  Wave killed;
  StartWave(&killed, 600, "killed");
  absl::SleepFor(absl::Milliseconds(600));
  redis_->Kill();
  const auto killed_at = std::chrono::system_clock::now();
  ASSERT_TRUE(WaitWave(&killed, absl::Seconds(70)));
  size_t after_kill = 0;
  for (const emu::LoggedRequest& request : emulator_->requests()) {
    after_kill += request.time > killed_at;
  }
  EXPECT_GE(after_kill, 3u) << "the calls went on under the replicas' fallback shares";
  const auto [busiest_killed, rate_limited_killed] = Busiest();
  const size_t written = emulator_->lead_count() - leads_before;
  absl::MutexLock lock(&killed.mu);
  std::string failures;
  for (const auto& [what, count] : killed.failures)
    absl::StrAppend(&failures, what, " ×", count, "; ");
  // Calls keep working; one that fails says why (a reason), and nothing is written twice: the
  // leads written are the successes plus at most the calls told their outcome is unknown.
  EXPECT_GT(killed.ok, 500) << failures;
  for (const auto& [what, count] : killed.failures) {
    EXPECT_THAT(what, ::testing::Not(::testing::EndsWith(" "))) << "a failure without a reason";
  }
  EXPECT_GE(written, static_cast<size_t>(killed.ok));
  EXPECT_LE(written, static_cast<size_t>(killed.ok + killed.unknown_outcome));
  EXPECT_EQ(rate_limited_killed, 0);
  EXPECT_LE(busiest_killed, 7u);
  std::printf(
      "[shared budget] Redis killed 0.6 s into 600 CreateLead: %d OK (%s), %zu leads written, "
      "%zu Kommo requests after the kill, busiest 1-second window %zu, %d answered 429\n",
      killed.ok, failures.empty() ? "no failures" : failures.c_str(), written, after_kill,
      busiest_killed, rate_limited_killed);
  bool fell_back = false;
  for (auto& server : servers_) {
    fell_back = fell_back || server->log().find("falling back") != std::string::npos;
  }
  EXPECT_TRUE(fell_back) << "the replicas said they fell back";
}

}  // namespace
}  // namespace kommo
