// Idempotency keys shared by replicas through a real redis-server (ctest label `redis`): two
// service stacks on one Redis and the emulator; a real server process for the replica that dies.

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "emulator/emulator.h"
#include "gtest/gtest.h"
#include "tests/support/redis_server.h"
#include "tests/support/server_process.h"
#include "tests/support/service_stack.h"

namespace kommo {
namespace {

namespace emu = ::kommo::emulator;
using ::kommo::testing::CallError;
using ::kommo::testing::Inspect;
using ::kommo::testing::RedisServer;
using ::kommo::testing::ServerProcess;
using ::kommo::testing::ServiceStack;
using ::kommo::testing::StackRedis;

constexpr char kToken[] = "shared-idempotency-token";

class SharedIdempotencyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    emu::EmulatorOptions options;
    options.token = kToken;
    auto emulator = emu::Emulator::Start(options);
    ASSERT_TRUE(emulator.ok()) << emulator.status();
    emulator_ = std::move(*emulator);
    auto redis = RedisServer::Start();
    ASSERT_TRUE(redis.ok()) << redis.status();
    redis_ = std::move(*redis);
    a_ = NewStack();
    b_ = NewStack();
  }

  void TearDown() override {
    a_.reset();
    b_.reset();
    if (emulator_) emulator_->Stop();
  }

  std::unique_ptr<ServiceStack> NewStack() {
    StackRedis shared;
    shared.url = redis_->url();
    shared.idempotency.lease = absl::Seconds(1);
    return std::make_unique<ServiceStack>(
        ServiceStack::FastOptions(emulator_->base_url() + "/api/v4", kToken),
        http::CurlTransportOptions{}, ServiceStack::FastWatchOptions(), nullptr, &shared);
  }

  static v1::CreateLeadRequest Lead(const std::string& request_id, const std::string& name) {
    v1::CreateLeadRequest request;
    request.set_request_id(request_id);
    request.set_name(name);
    request.set_price(100);
    return request;
  }

  static grpc::Status Create(ServiceStack& stack, const v1::CreateLeadRequest& request,
                             v1::Lead* lead, absl::Duration deadline = absl::Seconds(10)) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
    v1::CreateLeadResponse response;
    grpc::Status status = stack.leads->CreateLead(&context, request, &response);
    if (lead != nullptr) *lead = response.lead();
    return status;
  }

  // POST /api/v4/leads requests the emulator received (arrived, answered or not).
  size_t LeadPosts() {
    size_t posts = 0;
    for (const emu::LoggedRequest& request : emulator_->requests()) {
      if (request.method == "POST" && request.path == "/api/v4/leads") ++posts;
    }
    return posts;
  }

  // Waits up to `limit` for `condition`.
  template <typename Condition>
  static bool WaitFor(Condition condition, absl::Duration limit = absl::Seconds(5)) {
    const absl::Time until = absl::Now() + limit;
    while (absl::Now() < until) {
      if (condition()) return true;
      absl::SleepFor(absl::Milliseconds(10));
    }
    return condition();
  }

  static api::SharedIdempotency::Stats StatsOf(ServiceStack& stack) {
    api::SharedIdempotency::Stats stats;
    stack.epoll_loop()->RunAndWait([&] { stats = stack.shared_idempotency()->stats(); });
    return stats;
  }

  void AddLatency(absl::Duration delay) {
    emu::FaultRule rule;
    rule.method = "POST";
    rule.path_prefix = "/api/v4/leads";
    rule.action = emu::FaultAction::kLatency;
    rule.delay = absl::ToChronoMilliseconds(delay);
    ASSERT_TRUE(emulator_->AddFault(rule).ok());
  }

  std::unique_ptr<emu::Emulator> emulator_;
  std::unique_ptr<RedisServer> redis_;
  std::unique_ptr<ServiceStack> a_;
  std::unique_ptr<ServiceStack> b_;
};

TEST_F(SharedIdempotencyTest, ARepeatOnAnotherReplicaGetsTheSameLeadAndWritesNothing) {
  v1::Lead first;
  ASSERT_TRUE(Create(*a_, Lead("form-1", "Deal"), &first).ok());
  ASSERT_NE(first.id(), 0);
  v1::Lead again;
  grpc::Status status = Create(*b_, Lead("form-1", "Deal"), &again);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(again.id(), first.id());
  EXPECT_EQ(again.name(), "Deal");
  EXPECT_EQ(LeadPosts(), 1u);
  EXPECT_EQ(StatsOf(*a_).claimed, 1u);
  EXPECT_EQ(StatsOf(*b_).replayed, 1u);
  EXPECT_EQ(StatsOf(*b_).claimed, 0u);

  // Another request_id is another call.
  v1::Lead other;
  ASSERT_TRUE(Create(*b_, Lead("form-2", "Deal"), &other).ok());
  EXPECT_NE(other.id(), first.id());
  EXPECT_EQ(LeadPosts(), 2u);
}

TEST_F(SharedIdempotencyTest, ARepeatWhileTheFirstRunsOnAnotherReplicaJoinsIt) {
  AddLatency(absl::Milliseconds(800));
  v1::Lead first;
  grpc::Status first_status;
  std::thread caller([&] { first_status = Create(*a_, Lead("chat-7", "Joined"), &first); });
  // A claimed the key and its create reached Kommo.
  ASSERT_TRUE(WaitFor([&] { return LeadPosts() == 1; }));
  v1::Lead second;
  grpc::Status second_status = Create(*b_, Lead("chat-7", "Joined"), &second);
  caller.join();
  ASSERT_TRUE(first_status.ok()) << first_status.error_message();
  ASSERT_TRUE(second_status.ok()) << second_status.error_message();
  EXPECT_EQ(second.id(), first.id());
  EXPECT_EQ(LeadPosts(), 1u);
  EXPECT_EQ(StatsOf(*b_).joined, 1u);
  EXPECT_EQ(StatsOf(*b_).claimed, 0u);
}

TEST_F(SharedIdempotencyTest, AJoinerWhoseDeadlinePassesIsToldItStillRunsAndCanRepeat) {
  AddLatency(absl::Milliseconds(1500));
  v1::Lead first;
  grpc::Status first_status;
  std::thread caller([&] { first_status = Create(*a_, Lead("chat-8", "Slow"), &first); });
  ASSERT_TRUE(WaitFor([&] { return LeadPosts() == 1; }));
  grpc::Status early = Create(*b_, Lead("chat-8", "Slow"), nullptr, absl::Milliseconds(300));
  CallError error = Inspect(early);
  EXPECT_EQ(error.code, grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_EQ(error.reason, "WRITE_OUTCOME_UNKNOWN");
  EXPECT_EQ(error.metadata["running"], "true");
  caller.join();
  ASSERT_TRUE(first_status.ok()) << first_status.error_message();
  // The repeat on B asks Redis again and gets the answer.
  v1::Lead later;
  ASSERT_TRUE(Create(*b_, Lead("chat-8", "Slow"), &later).ok());
  EXPECT_EQ(later.id(), first.id());
  EXPECT_EQ(LeadPosts(), 1u);
}

TEST_F(SharedIdempotencyTest, TheSameRequestIdWithAnotherRequestOnAnotherReplicaIsRefused) {
  v1::Lead first;
  ASSERT_TRUE(Create(*a_, Lead("form-9", "One"), &first).ok());
  grpc::Status status = Create(*b_, Lead("form-9", "Another"), nullptr);
  CallError error = Inspect(status);
  EXPECT_EQ(error.code, grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(error.reason, "REQUEST_ID_REUSED");
  EXPECT_EQ(LeadPosts(), 1u);
  EXPECT_EQ(StatsOf(*b_).reused, 1u);
  // The first request still gets its answer there.
  v1::Lead again;
  ASSERT_TRUE(Create(*b_, Lead("form-9", "One"), &again).ok());
  EXPECT_EQ(again.id(), first.id());
}

TEST_F(SharedIdempotencyTest, AnAnswerKommoDidNotActOnIsNotSharedSoARepeatRunsAgain) {
  emu::FaultRule rule;
  rule.method = "POST";
  rule.path_prefix = "/api/v4/leads";
  rule.action = emu::FaultAction::kStatus;
  rule.status = 400;
  rule.times = 1;
  ASSERT_TRUE(emulator_->AddFault(rule).ok());
  grpc::Status refused = Create(*a_, Lead("form-400", "Refused"), nullptr);
  ASSERT_FALSE(refused.ok());
  v1::Lead lead;
  grpc::Status status = Create(*b_, Lead("form-400", "Refused"), &lead);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_NE(lead.id(), 0);
  EXPECT_EQ(LeadPosts(), 2u);
  EXPECT_EQ(StatsOf(*b_).claimed, 1u);
}

TEST_F(SharedIdempotencyTest, WithRedisDownCallsAreServedPerReplicaAndSharedAgainWhenItReturns) {
  redis_->Kill();
  v1::Lead lead;
  grpc::Status status = Create(*a_, Lead("down-1", "Down"), &lead);
  ASSERT_TRUE(status.ok()) << status.error_message();
  // Within the replica the key still holds.
  v1::Lead again;
  ASSERT_TRUE(Create(*a_, Lead("down-1", "Down"), &again).ok());
  EXPECT_EQ(again.id(), lead.id());
  EXPECT_EQ(LeadPosts(), 1u);
  EXPECT_FALSE(StatsOf(*a_).shared);
  EXPECT_GE(StatsOf(*a_).local_only, 1u);

  ASSERT_TRUE(redis_->Restart().ok());
  ASSERT_TRUE(WaitFor([&] {
    bool connected = false;
    a_->epoll_loop()->RunAndWait([&] { connected = a_->redis()->connected(); });
    bool connected_b = false;
    b_->epoll_loop()->RunAndWait([&] { connected_b = b_->redis()->connected(); });
    return connected && connected_b;
  }));
  v1::Lead shared;
  ASSERT_TRUE(Create(*a_, Lead("up-1", "Up"), &shared).ok());
  EXPECT_TRUE(StatsOf(*a_).shared);
  v1::Lead repeat;
  ASSERT_TRUE(Create(*b_, Lead("up-1", "Up"), &repeat).ok());
  EXPECT_EQ(repeat.id(), shared.id());
  EXPECT_EQ(LeadPosts(), 2u);
}

// A real server process that claims a key and is killed (SIGKILL) while its create is at Kommo:
// the other replica must not create again; it reports WRITE_OUTCOME_UNKNOWN once the dead
// owner's lease ran out.
TEST_F(SharedIdempotencyTest, AReplicaKilledMidWriteLeavesItsRepeatsUnknownNeverWrittenTwice) {
  AddLatency(absl::Seconds(3));
  auto process = ServerProcess::Start(
      KOMMO_SERVER_BINARY, {"KOMMO_API_URL=" + emulator_->base_url(),
                            std::string("KOMMO_ACCESS_TOKEN=") + kToken, "KOMMO_RATE_LIMIT_RPS=100",
                            "REDIS_URL=" + redis_->url(), "REDIS_LEASE=1s", "LOG_LEVEL=error"});
  ASSERT_TRUE(process.ok()) << process.status();
  auto replica = v1::LeadService::NewStub(
      grpc::CreateChannel((*process)->address(), grpc::InsecureChannelCredentials()));

  std::thread caller([&] {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    v1::CreateLeadResponse response;
    replica->CreateLead(&context, Lead("crash-1", "Crash"), &response);
  });
  ASSERT_TRUE(WaitFor([&] { return LeadPosts() == 1; }));
  // While the owner lives, B is told the call still runs elsewhere.
  CallError running =
      Inspect(Create(*b_, Lead("crash-1", "Crash"), nullptr, absl::Milliseconds(400)));
  EXPECT_EQ(running.reason, "WRITE_OUTCOME_UNKNOWN");
  EXPECT_EQ(running.metadata["running"], "true");

  (*process)->Kill();
  caller.join();

  grpc::Status status = Create(*b_, Lead("crash-1", "Crash"), nullptr, absl::Seconds(10));
  CallError error = Inspect(status);
  EXPECT_EQ(error.code, grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_EQ(error.reason, "WRITE_OUTCOME_UNKNOWN");
  EXPECT_EQ(error.metadata["owner_lost"], "true");
  EXPECT_EQ(error.metadata["outcome"], "unknown");
  // A later repeat, on either stack, gets the same: never a second create.
  CallError later = Inspect(Create(*a_, Lead("crash-1", "Crash"), nullptr));
  EXPECT_EQ(later.reason, "WRITE_OUTCOME_UNKNOWN");
  EXPECT_EQ(later.metadata["owner_lost"], "true");
  EXPECT_EQ(LeadPosts(), 1u);
  EXPECT_EQ(StatsOf(*b_).claimed, 0u);
  EXPECT_EQ(StatsOf(*a_).claimed, 0u);
}

}  // namespace
}  // namespace kommo
