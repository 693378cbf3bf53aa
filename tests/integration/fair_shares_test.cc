// Fair shares (issue 16) against the emulator at Kommo's 7 requests a second: one caller's
// backlog (500 queued creates, or 200 reads) does not delay another caller's single call by more
// than its share. The emulator's request log tells what Kommo saw, in arrival order: between the
// newcomer's arrival and its own request, at most two requests of others were sent (two
// rate-limit slots). The emulator enforces Kommo's limit too: no request may be answered 429.

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "emulator/emulator.h"
#include "gtest/gtest.h"
#include "server/auth/callers.h"
#include "server/common/call_trace.h"
#include "server/common/cancellation.h"
#include "tests/support/service_stack.h"

namespace kommo {
namespace {

namespace emu = ::kommo::emulator;
using ::kommo::testing::ServiceStack;

constexpr char kToken[] = "fair-shares-test-token-7c2a";

class FairSharesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    emu::EmulatorOptions options;
    options.token = kToken;
    options.rate_limit.enabled = true;
    options.rate_limit.requests_per_second = 7;
    options.rate_limit.burst = 7;
    auto emulator = emu::Emulator::Start(options);
    ASSERT_TRUE(emulator.ok()) << emulator.status();
    emulator_ = std::move(*emulator);
    rest::KommoClientOptions client =
        ServiceStack::FastOptions(emulator_->base_url() + "/api/v4", kToken);
    client.rate_limit_rps = 7;
    client.request_timeout = absl::Seconds(10);
    stack_ = std::make_unique<ServiceStack>(client);
  }

  void TearDown() override {
    // The backlog's calls still waiting leave (Kommo is not called for them); every call is
    // answered before the stack goes.
    for (const auto& cancel : cancels_) cancel->Cancel();
    {
      absl::MutexLock lock(&mu_);
      EXPECT_TRUE(mu_.AwaitWithTimeout(absl::Condition(
                                           +[](int* open) { return *open == 0; }, &open_calls_),
                                       absl::Seconds(60)))
          << open_calls_ << " calls unanswered";
    }
    stack_.reset();
    if (emulator_) {
      for (const emu::LoggedRequest& each : emulator_->requests()) {
        EXPECT_NE(each.status, 429) << each.method << " " << each.path;
      }
      emulator_->Stop();
    }
  }

  // Options of a call by `caller`, which may wait `patience`.
  rest::CallOptions As(const std::string& caller, absl::Duration patience) {
    auto trace = std::make_shared<CallTrace>();
    trace->caller = caller;
    trace->request_id = caller;
    auto cancel = std::make_shared<CancellationToken>();
    cancels_.push_back(cancel);
    return {stack_->loop()->Now() + patience, cancel, trace};
  }

  // A callback that counts the call as answered.
  template <typename T>
  rest::Done<T> Counted() {
    {
      absl::MutexLock lock(&mu_);
      ++open_calls_;
    }
    return [this](absl::StatusOr<T>) {
      absl::MutexLock lock(&mu_);
      --open_calls_;
    };
  }

  // The importer's backlog: `n` creates (they ride batches of 50, each read back).
  void QueueCreates(int n) {
    for (int i = 0; i < n; ++i) {
      v1::CreateLeadRequest request;
      request.set_name(absl::StrCat("bulk lead ", i));
      stack_->client()->CreateLead(request, As("importer", absl::Seconds(120)),
                                   Counted<v1::Lead>());
    }
  }

  // The analytics caller's backlog: `n` reads of distinct leads (none shared).
  void QueueReads(int n) {
    for (int i = 0; i < n; ++i) {
      stack_->client()->GetLead(31000000001 + i, As("analytics", absl::Seconds(120)),
                                Counted<v1::Lead>());
    }
  }

  // Waits until Kommo has seen `n` requests; returns the sequence number of the last one.
  uint64_t AwaitRequests(size_t n) {
    const absl::Time give_up = absl::Now() + absl::Seconds(20);
    while (absl::Now() < give_up) {
      std::vector<emu::LoggedRequest> seen = emulator_->requests();
      if (seen.size() >= n) return seen.back().sequence;
      absl::SleepFor(absl::Milliseconds(10));
    }
    ADD_FAILURE() << "Kommo did not get " << n << " requests";
    return 0;
  }

  // Requests Kommo got after `arrival` (a sequence number) and before the first that `is`
  // accepts; -1 when none does.
  int OthersBefore(uint64_t arrival, const std::function<bool(const emu::LoggedRequest&)>& is) {
    int others = 0;
    for (const emu::LoggedRequest& each : emulator_->requests()) {
      if (each.sequence <= arrival) continue;
      if (is(each)) return others;
      ++others;
    }
    return -1;
  }

  static bool IsSearch(const emu::LoggedRequest& request, const std::string& query) {
    return request.method == "GET" &&
           std::find(request.query.begin(), request.query.end(),
                     std::make_pair(std::string("query"), query)) != request.query.end();
  }

  // The chatbot's one search, answered; how many requests of others Kommo got between its
  // arrival and the search.
  int ChatbotSearch(uint64_t arrival) {
    std::promise<absl::Status> answered;
    stack_->client()->SearchLeads("chatbot needle", 1, 10, As("chatbot", absl::Seconds(10)),
                                  [&answered](absl::StatusOr<rest::LeadPageResult> result) {
                                    answered.set_value(result.status());
                                  });
    auto done = answered.get_future();
    EXPECT_EQ(done.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    const absl::Status status = done.get();
    EXPECT_TRUE(status.ok()) << status;
    return OthersBefore(
        arrival, [](const emu::LoggedRequest& each) { return IsSearch(each, "chatbot needle"); });
  }

  std::unique_ptr<emu::Emulator> emulator_;
  std::unique_ptr<ServiceStack> stack_;
  std::vector<std::shared_ptr<CancellationToken>> cancels_;
  absl::Mutex mu_;
  int open_calls_ ABSL_GUARDED_BY(mu_) = 0;
};

TEST_F(FairSharesTest, ASearchGoesWithinTwoSlotsOf500QueuedCreates) {
  QueueCreates(500);
  // The importer's batches are under way (a batch and its read-back, then the next batch).
  const uint64_t arrival = AwaitRequests(3);
  const int others = ChatbotSearch(arrival);
  EXPECT_GE(others, 0) << "the search reached Kommo";
  EXPECT_LE(others, 2) << "at most two rate-limit slots went to others first";
}

TEST_F(FairSharesTest, ASearchGoesWithinTwoSlotsOf200WaitingReads) {
  // Kommo's ids of the emulator's seeded leads do not matter: a read of a missing lead is a
  // request all the same.
  QueueReads(200);
  const uint64_t arrival = AwaitRequests(3);
  const int others = ChatbotSearch(arrival);
  EXPECT_GE(others, 0) << "the search reached Kommo";
  EXPECT_LE(others, 2) << "at most two rate-limit slots went to others first";
}

TEST_F(FairSharesTest, ACreateRidesTheNextBatchDespite500QueuedCreates) {
  QueueCreates(500);
  const uint64_t arrival = AwaitRequests(3);
  std::promise<absl::StatusOr<v1::Lead>> answered;
  v1::CreateLeadRequest request;
  request.set_name("chatbot lead");
  stack_->client()->CreateLead(
      request, As("chatbot", absl::Seconds(10)),
      [&answered](absl::StatusOr<v1::Lead> result) { answered.set_value(std::move(result)); });
  auto done = answered.get_future();
  ASSERT_EQ(done.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  const absl::StatusOr<v1::Lead> lead = done.get();
  ASSERT_TRUE(lead.ok()) << lead.status();
  EXPECT_EQ(lead->name(), "chatbot lead");
  const int others = OthersBefore(arrival, [](const emu::LoggedRequest& each) {
    return each.method == "POST" && each.body.find("chatbot lead") != std::string::npos;
  });
  EXPECT_GE(others, 0) << "the create reached Kommo";
  EXPECT_LE(others, 2) << "it rode the next batch, at most two slots later";
}

// The whole chain through gRPC: callers named by their tokens in a callers file, the importer
// with 200 GetLead calls waiting, the chatbot's one search. Without the callers (one anonymous
// flow) the search would wait behind the whole backlog.
TEST_F(FairSharesTest, CallersOfTheCallersFileGetTheirShareThroughGrpc) {
  char dir[] = "/tmp/fair_callers_XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string path = std::string(dir) + "/callers.json";
  const auto hash = [](const char* token) { return absl::BytesToHexString(auth::Sha256(token)); };
  std::ofstream(path) << absl::StrCat(
      R"({"callers": [{"name": "importer", "tokens": [{"sha256": ")", hash("importer-token"),
      R"("}], "methods": ["kommo.v1.LeadService/*"]},
        {"name": "chatbot", "tokens": [{"sha256": ")",
      hash("chatbot-token"), R"("}], "methods": ["kommo.v1.LeadService/SearchLeads"]}]})");
  auth::AuthorizerOptions auth_options;
  auth_options.callers_file = path;
  auth_options.known_methods = api::ServedMethods();
  absl::StatusOr<std::unique_ptr<auth::Authorizer>> authorizer =
      auth::Authorizer::Create(auth_options);
  std::remove(path.c_str());
  rmdir(dir);
  ASSERT_TRUE(authorizer.ok()) << authorizer.status();
  rest::KommoClientOptions client =
      ServiceStack::FastOptions(emulator_->base_url() + "/api/v4", kToken);
  client.rate_limit_rps = 7;
  client.request_timeout = absl::Seconds(10);
  stack_ = std::make_unique<ServiceStack>(client, http::CurlTransportOptions{},
                                          ServiceStack::FastWatchOptions(),
                                          [&authorizer](api::GrpcServerOptions& server) {
                                            server.service.authorizer = authorizer->get();
                                          });

  constexpr int kReads = 200;
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts(kReads);
  std::vector<v1::GetLeadResponse> responses(kReads);
  for (int i = 0; i < kReads; ++i) {
    contexts[i] = std::make_unique<grpc::ClientContext>();
    contexts[i]->AddMetadata("authorization", "Bearer importer-token");
    contexts[i]->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
    v1::GetLeadRequest request;
    request.set_lead_id(31000000001 + i);
    {
      absl::MutexLock lock(&mu_);
      ++open_calls_;
    }
    stack_->leads->async()->GetLead(contexts[i].get(), &request, &responses[i],
                                    [this](grpc::Status) {
                                      absl::MutexLock lock(&mu_);
                                      --open_calls_;
                                    });
  }
  const uint64_t arrival = AwaitRequests(3);
  grpc::ClientContext chatbot;
  chatbot.AddMetadata("authorization", "Bearer chatbot-token");
  chatbot.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::SearchLeadsRequest search;
  search.set_query("chatbot needle");
  v1::SearchLeadsResponse found;
  const grpc::Status status = stack_->leads->SearchLeads(&chatbot, search, &found);
  EXPECT_TRUE(status.ok()) << status.error_message();
  const int others = OthersBefore(
      arrival, [](const emu::LoggedRequest& each) { return IsSearch(each, "chatbot needle"); });
  EXPECT_GE(others, 0) << "the search reached Kommo";
  EXPECT_LE(others, 2) << "at most two rate-limit slots went to the importer first";
  for (auto& context : contexts) context->TryCancel();
  {
    absl::MutexLock lock(&mu_);
    EXPECT_TRUE(mu_.AwaitWithTimeout(absl::Condition(
                                         +[](int* open) { return *open == 0; }, &open_calls_),
                                     absl::Seconds(30)));
  }
  stack_.reset();  // before the authorizer it uses
}

}  // namespace
}  // namespace kommo
