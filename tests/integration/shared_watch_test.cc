// The change stream shared by replicas through a real redis-server (ctest label `redis`): one
// replica polls Kommo's events into a Redis stream, every replica serves its watchers from it,
// tokens resume on any replica, and a replica that dies is replaced without losing changes.

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "emulator/emulator.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/redis_server.h"
#include "tests/support/server_process.h"
#include "tests/support/service_stack.h"

namespace kommo {
namespace {

namespace emu = ::kommo::emulator;
using ::kommo::testing::RedisServer;
using ::kommo::testing::ServerProcess;
using ::kommo::testing::ServiceStack;
using ::kommo::testing::StackRedis;
using ::testing::ElementsAre;

constexpr char kToken[] = "shared-watch-token";

// A stream's reader with its context.
struct Stream {
  std::unique_ptr<grpc::ClientContext> context;
  std::unique_ptr<grpc::ClientReader<v1::WatchLeadsResponse>> reader;
  std::string last_token;
};

class SharedWatchTest : public ::testing::Test {
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
    shared.watch.lease = absl::Seconds(1);
    return std::make_unique<ServiceStack>(
        ServiceStack::FastOptions(emulator_->base_url() + "/api/v4", kToken),
        http::CurlTransportOptions{}, ServiceStack::FastWatchOptions(), nullptr, &shared);
  }

  int64_t NewLead(const std::string& name) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    v1::CreateLeadRequest request;
    request.set_name(name);
    v1::CreateLeadResponse response;
    grpc::Status status = a_->leads->CreateLead(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.lead().id();
  }

  // Opens WatchLeads on `stub` (from `token` when given) and reads its first heartbeat when
  // opened without one.
  static Stream Open(v1::LeadService::Stub& stub, const std::string& token = "") {
    Stream stream;
    stream.context = std::make_unique<grpc::ClientContext>();
    stream.context->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    v1::WatchLeadsRequest request;
    request.add_kinds(v1::CHANGE_KIND_CREATED);
    request.set_resume_token(token);
    stream.reader = stub.WatchLeads(stream.context.get(), request);
    if (token.empty()) {
      v1::WatchLeadsResponse first;
      EXPECT_TRUE(stream.reader->Read(&first));
      EXPECT_TRUE(first.has_heartbeat());
      stream.last_token = first.resume_token();
    }
    return stream;
  }

  // The next `count` changes: "CREATED:<lead id>" each, with the token of each.
  static std::vector<std::string> Changes(Stream& stream, size_t count,
                                          std::vector<std::string>* tokens = nullptr) {
    std::vector<std::string> changes;
    v1::WatchLeadsResponse response;
    while (changes.size() < count && stream.reader->Read(&response)) {
      stream.last_token = response.resume_token();
      if (response.has_heartbeat()) continue;
      changes.push_back(absl::StrCat(v1::ChangeKind_Name(response.change().kind()).substr(12), ":",
                                     response.change().lead_id()));
      if (tokens != nullptr) tokens->push_back(response.resume_token());
    }
    return changes;
  }

  static void Close(Stream& stream) {
    stream.context->TryCancel();
    stream.reader->Finish();
  }

  template <typename T>
  static T OnLoop(ServiceStack& stack, const std::function<T()>& read) {
    T value{};
    stack.epoll_loop()->RunAndWait([&] { value = read(); });
    return value;
  }
  static bool Leading(ServiceStack& stack) {
    return OnLoop<bool>(stack, [&] { return stack.watch_hub()->leading(); });
  }
  static uint64_t Polls(ServiceStack& stack) {
    return OnLoop<uint64_t>(stack, [&] { return stack.watch_hub()->polls(); });
  }
  uint64_t EventRequests() {
    uint64_t count = 0;
    for (const emu::RequestCount& each : emulator_->request_counts()) {
      if (each.method == "GET" && each.path == "/api/v4/events") count += each.count;
    }
    return count;
  }

  template <typename Condition>
  static bool WaitFor(Condition condition, absl::Duration limit = absl::Seconds(10)) {
    const absl::Time until = absl::Now() + limit;
    while (absl::Now() < until) {
      if (condition()) return true;
      absl::SleepFor(absl::Milliseconds(20));
    }
    return condition();
  }

  std::unique_ptr<emu::Emulator> emulator_;
  std::unique_ptr<RedisServer> redis_;
  std::unique_ptr<ServiceStack> a_;
  std::unique_ptr<ServiceStack> b_;
};

TEST_F(SharedWatchTest, OneReplicaPollsKommoAndBothDeliverTheSameChanges) {
  Stream on_a = Open(*a_->leads);
  Stream on_b = Open(*b_->leads);
  const int64_t first = NewLead("first");
  const int64_t second = NewLead("second");
  const int64_t third = NewLead("third");
  std::vector<std::string> tokens_a;
  std::vector<std::string> tokens_b;
  const std::vector<std::string> expected = {absl::StrCat("CREATED:", first),
                                             absl::StrCat("CREATED:", second),
                                             absl::StrCat("CREATED:", third)};
  EXPECT_EQ(Changes(on_a, 3, &tokens_a), expected);
  EXPECT_EQ(Changes(on_b, 3, &tokens_b), expected);
  // The same places in the same history: the same tokens on both replicas.
  EXPECT_EQ(tokens_a, tokens_b);
  Close(on_a);
  Close(on_b);

  // Exactly one leads, and every events request Kommo got was its.
  const bool a_leads = Leading(*a_);
  EXPECT_NE(a_leads, Leading(*b_));
  ServiceStack& leader = a_leads ? *a_ : *b_;
  ServiceStack& follower = a_leads ? *b_ : *a_;
  EXPECT_EQ(Polls(follower), 0u);
  const uint64_t polls = Polls(leader);
  const uint64_t requests = EventRequests();
  EXPECT_GT(polls, 0u);
  // A poll may be under way between the two reads (one page each).
  EXPECT_GE(requests, polls);
  EXPECT_LE(requests, polls + 1);
}

TEST_F(SharedWatchTest, ATokenFromOneReplicaResumesOnTheOther) {
  Stream on_a = Open(*a_->leads);
  const int64_t first = NewLead("first");
  const int64_t second = NewLead("second");
  std::vector<std::string> tokens;
  ASSERT_THAT(Changes(on_a, 2, &tokens),
              ElementsAre(absl::StrCat("CREATED:", first), absl::StrCat("CREATED:", second)));
  Close(on_a);
  const int64_t third = NewLead("third");
  // Resumed after the first change, on B: the second and the third, nothing before.
  Stream on_b = Open(*b_->leads, tokens[0]);
  EXPECT_THAT(Changes(on_b, 2),
              ElementsAre(absl::StrCat("CREATED:", second), absl::StrCat("CREATED:", third)));
  Close(on_b);
}

TEST_F(SharedWatchTest, WhenTheLeaderDiesAnotherTakesOverAndAResumedWatcherMissesNothing) {
  // The leader is a real server process, killed (SIGKILL: its lease is not released).
  auto leader = ServerProcess::Start(
      KOMMO_SERVER_BINARY,
      {"KOMMO_API_URL=" + emulator_->base_url(), std::string("KOMMO_ACCESS_TOKEN=") + kToken,
       "KOMMO_RATE_LIMIT_RPS=100", "REDIS_URL=" + redis_->url(), "REDIS_LEASE=1s",
       "WATCH_POLL_INTERVAL=1s", "LOG_LEVEL=error"});
  ASSERT_TRUE(leader.ok()) << leader.status();
  auto stub = v1::LeadService::NewStub(
      grpc::CreateChannel((*leader)->address(), grpc::InsecureChannelCredentials()));
  Stream on_leader = Open(*stub);
  // B starts after the process led: it follows.
  Stream on_b = Open(*b_->leads);
  const int64_t first = NewLead("first");
  std::vector<std::string> tokens;
  ASSERT_THAT(Changes(on_leader, 1, &tokens), ElementsAre(absl::StrCat("CREATED:", first)));
  // By now B asked for the lease several times and was refused: the process leads.
  EXPECT_FALSE(Leading(*b_));
  EXPECT_EQ(Polls(*b_), 0u);

  const absl::Time killed = absl::Now();
  (*leader)->Kill();
  on_leader.context->TryCancel();
  on_leader.reader->Finish();
  const int64_t second = NewLead("second");
  const int64_t third = NewLead("third");
  ASSERT_TRUE(WaitFor([&] { return Leading(*b_); }));
  // A lease of 1 s, renewed every third of it: taken over within a few seconds.
  EXPECT_LT(absl::Now() - killed, absl::Seconds(4));

  // B's own watcher saw everything, once.
  EXPECT_THAT(Changes(on_b, 3),
              ElementsAre(absl::StrCat("CREATED:", first), absl::StrCat("CREATED:", second),
                          absl::StrCat("CREATED:", third)));
  Close(on_b);
  // The dead replica's watcher resumes on B with its last token: nothing missed, nothing again.
  Stream resumed = Open(*b_->leads, tokens[0]);
  EXPECT_THAT(Changes(resumed, 2),
              ElementsAre(absl::StrCat("CREATED:", second), absl::StrCat("CREATED:", third)));
  Close(resumed);
}

TEST_F(SharedWatchTest, WithRedisDownEachReplicaPollsItselfAndMirrorsAgainWhenItReturns) {
  Stream on_a = Open(*a_->leads);
  const int64_t first = NewLead("first");
  ASSERT_THAT(Changes(on_a, 1), ElementsAre(absl::StrCat("CREATED:", first)));
  redis_->Kill();
  // The stream on the shared history ends (UNAVAILABLE); its caller resumes with its token.
  v1::WatchLeadsResponse response;
  while (on_a.reader->Read(&response)) on_a.last_token = response.resume_token();
  EXPECT_EQ(on_a.reader->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
  ASSERT_TRUE(
      WaitFor([&] { return !OnLoop<bool>(*a_, [&] { return a_->watch_hub()->mirroring(); }); }));
  const int64_t second = NewLead("second");
  Stream resumed = Open(*a_->leads, on_a.last_token);
  EXPECT_THAT(Changes(resumed, 1), ElementsAre(absl::StrCat("CREATED:", second)));

  ASSERT_TRUE(redis_->Restart().ok());
  ASSERT_TRUE(
      WaitFor([&] { return OnLoop<bool>(*a_, [&] { return a_->watch_hub()->mirroring(); }); }));
  // Redis lost everything (no persistence): the history starts again from the lookback, and a
  // resumed stream goes on by its token's key.
  v1::WatchLeadsResponse last;
  while (resumed.reader->Read(&last)) resumed.last_token = last.resume_token();
  const int64_t third = NewLead("third");
  Stream again = Open(*a_->leads, resumed.last_token);
  EXPECT_THAT(Changes(again, 1), ElementsAre(absl::StrCat("CREATED:", third)));
  Close(again);
}

}  // namespace
}  // namespace kommo
