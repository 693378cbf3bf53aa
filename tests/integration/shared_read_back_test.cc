// Read-backs shared across write batches (ctest label `integration`): the service in-process
// against the emulator, with a rate limit and Kommo latency, so that batches queue behind each
// other. Checked by the emulator's request log: a backlog pays one read-back per 250 items, a
// lone write pays one read-back at once, and every caller gets its own entity.

#include <grpcpp/grpcpp.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "emulator/emulator.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/service_stack.h"

namespace kommo {
namespace {

namespace emu = ::kommo::emulator;
using ::kommo::testing::ServiceStack;
using ::testing::UnorderedElementsAreArray;

constexpr char kToken[] = "shared-read-back-token";

class SharedReadBackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    emu::EmulatorOptions options;
    options.token = kToken;
    auto emulator = emu::Emulator::Start(options);
    ASSERT_TRUE(emulator.ok()) << emulator.status();
    emulator_ = std::move(*emulator);
    emu::FaultRule latency;
    latency.path_prefix = "/api/v4/";
    latency.action = emu::FaultAction::kLatency;
    latency.delay = std::chrono::milliseconds(40);
    ASSERT_TRUE(emulator_->AddFault(latency).ok());
  }

  void TearDown() override {
    stack_.reset();
    if (emulator_) emulator_->Stop();
  }

  void StartStack(double rps, absl::Duration coalesce_window) {
    rest::KommoClientOptions options =
        ServiceStack::FastOptions(emulator_->base_url() + "/api/v4", kToken);
    options.rate_limit_rps = rps;
    options.rate_limit_burst = 1;
    options.coalesce_window = coalesce_window;
    stack_ = std::make_unique<ServiceStack>(std::move(options));
  }

  // Calls in flight at once through the async stub; each keeps its context and response.
  struct Call {
    grpc::ClientContext context;
    v1::CreateLeadRequest create;
    v1::CreateLeadResponse created;
    v1::UpdateLeadRequest update;
    v1::UpdateLeadResponse updated;
    grpc::Status status;
  };
  struct Calls {
    std::vector<std::unique_ptr<Call>> calls;
    std::mutex mutex;
    std::condition_variable all_done;
    size_t done = 0;

    Call* Add() {
      calls.push_back(std::make_unique<Call>());
      Call* call = calls.back().get();
      call->context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
      return call;
    }
    std::function<void(grpc::Status)> Done(Call* call) {
      return [this, call](grpc::Status status) {
        std::lock_guard<std::mutex> lock(mutex);
        call->status = std::move(status);
        if (++done == calls.size()) all_done.notify_all();
      };
    }
    void Wait() {
      std::unique_lock<std::mutex> lock(mutex);
      all_done.wait(lock, [this] { return done == calls.size(); });
    }
  };

  void StartCreate(Calls& calls, const std::string& name) {
    Call* call = calls.Add();
    call->create.set_name(name);
    stack_->leads->async()->CreateLead(&call->context, &call->create, &call->created,
                                       calls.Done(call));
  }

  uint64_t Requests(const std::string& method, const std::string& path) {
    uint64_t total = 0;
    for (const emu::RequestCount& each : emulator_->request_counts()) {
      if (each.method == method && each.path == path) total += each.count;
    }
    return total;
  }

  // The ids each GET /api/v4/leads asked for, in the order they came.
  std::vector<std::vector<std::string>> ReadBackIds() {
    std::vector<std::vector<std::string>> reads;
    for (const emu::LoggedRequest& each : emulator_->requests()) {
      if (each.method != "GET" || each.path != "/api/v4/leads") continue;
      std::vector<std::string> ids;
      for (const auto& [key, value] : each.query) {
        if (key == "filter[id][]") ids.push_back(value);
      }
      reads.push_back(std::move(ids));
    }
    return reads;
  }

  std::unique_ptr<emu::Emulator> emulator_;
  std::unique_ptr<ServiceStack> stack_;
};

TEST_F(SharedReadBackTest, ABacklogPaysOneReadBackPer250Items) {
  StartStack(/*rps=*/40, absl::Milliseconds(2));
  constexpr int kCalls = 500;
  Calls calls;
  for (int i = 0; i < kCalls; ++i) StartCreate(calls, absl::StrCat("Backlog lead ", i));
  calls.Wait();
  std::set<int64_t> ids;
  for (int i = 0; i < kCalls; ++i) {
    const Call& call = *calls.calls[i];
    ASSERT_TRUE(call.status.ok()) << i << ": " << call.status.error_message();
    // Each caller gets its own lead, read back whole.
    EXPECT_EQ(call.created.lead().name(), absl::StrCat("Backlog lead ", i));
    EXPECT_TRUE(call.created.lead().has_created_at());
    ids.insert(call.created.lead().id());
  }
  EXPECT_EQ(ids.size(), static_cast<size_t>(kCalls));
  EXPECT_EQ(emulator_->lead_count(), static_cast<size_t>(kCalls));
  // Batches of at most 50 (the first may hold fewer, as calls were still arriving); their
  // read-backs: two of 250 ids each, not one per batch.
  EXPECT_GE(Requests("POST", "/api/v4/leads"), 10u);
  EXPECT_LE(Requests("POST", "/api/v4/leads"), 11u);
  const std::vector<std::vector<std::string>> reads = ReadBackIds();
  ASSERT_EQ(reads.size(), 2u);
  EXPECT_EQ(reads[0].size(), 250u);
  EXPECT_EQ(reads[1].size(), 250u);
}

TEST_F(SharedReadBackTest, ALoneCreateIsReadBackAtOnce) {
  StartStack(/*rps=*/40, absl::Milliseconds(2));
  Calls calls;
  const absl::Time start = absl::Now();
  StartCreate(calls, "Lone lead");
  calls.Wait();
  const absl::Duration took = absl::Now() - start;
  ASSERT_TRUE(calls.calls[0]->status.ok()) << calls.calls[0]->status.error_message();
  EXPECT_EQ(calls.calls[0]->created.lead().name(), "Lone lead");
  EXPECT_EQ(Requests("POST", "/api/v4/leads"), 1u);
  EXPECT_EQ(Requests("GET", "/api/v4/leads"), 1u);
  // A POST and a GET of 40 ms each, a rate-limit slot (25 ms) apart: nothing held it back.
  EXPECT_LT(took, absl::Milliseconds(600));
}

TEST_F(SharedReadBackTest, CreatesAndUpdatesOfOneEntityShareTheirReadBack) {
  StartStack(/*rps=*/40, absl::Milliseconds(2));
  std::vector<int64_t> existing;
  {
    Calls setup;
    StartCreate(setup, "First");
    StartCreate(setup, "Second");
    setup.Wait();
    for (const auto& call : setup.calls) {
      ASSERT_TRUE(call->status.ok()) << call->status.error_message();
      existing.push_back(call->created.lead().id());
    }
  }
  stack_.reset();
  emulator_->ClearRequests();
  StartStack(/*rps=*/40, absl::Milliseconds(200));  // each batcher gathers its calls
  Calls calls;
  for (int i = 0; i < 2; ++i) {
    Call* call = calls.Add();
    call->update.set_lead_id(existing[i]);
    call->update.set_price(1000 + i);
    stack_->leads->async()->UpdateLead(&call->context, &call->update, &call->updated,
                                       calls.Done(call));
  }
  StartCreate(calls, "Third");
  StartCreate(calls, "Fourth");
  calls.Wait();
  std::vector<std::string> expected;
  for (int i = 0; i < 2; ++i) {
    const Call& call = *calls.calls[i];
    ASSERT_TRUE(call.status.ok()) << call.status.error_message();
    EXPECT_EQ(call.updated.lead().id(), existing[i]);
    EXPECT_EQ(call.updated.lead().price(), 1000 + i);
    expected.push_back(absl::StrCat(existing[i]));
  }
  for (int i = 2; i < 4; ++i) {
    const Call& call = *calls.calls[i];
    ASSERT_TRUE(call.status.ok()) << call.status.error_message();
    EXPECT_EQ(call.created.lead().name(), i == 2 ? "Third" : "Fourth");
    expected.push_back(absl::StrCat(call.created.lead().id()));
  }
  EXPECT_EQ(Requests("PATCH", "/api/v4/leads"), 1u);
  EXPECT_EQ(Requests("POST", "/api/v4/leads"), 1u);
  const std::vector<std::vector<std::string>> reads = ReadBackIds();
  ASSERT_EQ(reads.size(), 1u);
  EXPECT_THAT(reads[0], UnorderedElementsAreArray(expected));
}

}  // namespace
}  // namespace kommo
