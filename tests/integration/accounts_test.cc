// Several Kommo accounts in one server (issue 15): each call goes to the account its
// x-kommo-account metadata names, each account has its own budget and circuit, and one account
// blocked by Kommo does not slow another. Two emulators, one per account; the server in-process.

#include "server/accounts/accounts.h"

#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "emulator/emulator.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/common/log.h"
#include "server/metrics/service_metrics.h"
#include "tests/support/service_stack.h"

namespace kommo {
namespace {

namespace emu = ::kommo::emulator;
using ::kommo::testing::CallError;
using ::kommo::testing::Inspect;
using ::kommo::testing::ServiceStack;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kTokenAlpha[] = "alpha-secret-token-91c2";
constexpr char kTokenBeta[] = "beta-secret-token-3d7a";

absl::Mutex log_mu;
std::vector<std::string>* log_lines = new std::vector<std::string>();
void CaptureLine(const std::string& line) {
  absl::MutexLock lock(&log_mu);
  log_lines->push_back(line);
}

class AccountsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    log::SetSinkForTesting(&CaptureLine);
    for (auto [slot, token] :
         {std::pair<std::unique_ptr<emu::Emulator>*, const char*>{&alpha_, kTokenAlpha},
          {&beta_, kTokenBeta}}) {
      emu::EmulatorOptions options;
      options.token = token;  // the other account's token is refused
      auto started = emu::Emulator::Start(options);
      ASSERT_TRUE(started.ok()) << started.status();
      *slot = std::move(*started);
    }
    dir_ = ::testing::TempDir() + "/accounts-" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    ASSERT_EQ(system(("mkdir -p '" + dir_ + "'").c_str()), 0);
    std::ofstream(dir_ + "/alpha.token") << kTokenAlpha << "\n";
    std::ofstream(dir_ + "/beta.token") << kTokenBeta << "\n";
    WriteAccounts(
        {{"alpha", alpha_->base_url(), "alpha", true}, {"beta", beta_->base_url(), "beta", false}});

    loop_ = *http::EpollLoop::Create();
    ASSERT_TRUE(loop_->Start().ok());
    transport_ = *http::CurlTransport::Create(loop_.get(), {});
    rest::KommoClientOptions client;
    client.request_timeout = absl::Seconds(5);
    client.circuit_open_duration = absl::Seconds(30);
    client.initial_backoff = absl::Milliseconds(50);
    client.metrics = &metrics_;
    maker_ = accounts::AccountMaker::Create({client, ServiceStack::FastWatchOptions(), true,
                                             transport_.get(), loop_.get(),
                                             /*shared_history=*/nullptr});
    absl::StatusOr<AccountsConfig> initial = LoadAccountsFile(path(), 50, 1);
    ASSERT_TRUE(initial.ok()) << initial.status();
    accounts::AccountRegistryOptions options;
    options.accounts_file = path();
    options.default_rps = 50;
    options.make = [maker = maker_](const AccountConfig& config) { return maker->Make(config); };
    options.loop = loop_.get();
    registry_ = accounts::AccountRegistry::Create(std::move(options), *initial);

    api::GrpcServerOptions server;
    server.listen = "127.0.0.1:0";
    server.service.idempotency = &idempotency_;
    server.service.loop = loop_.get();
    server.service.accounts = registry_.get();
    server.service.metrics = &metrics_;
    server.service.watch_heartbeat_interval = absl::Milliseconds(500);
    server_ = *api::GrpcServer::Start(server);
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                   grpc::InsecureChannelCredentials());
    leads_ = v1::LeadService::NewStub(channel_);
  }

  void TearDown() override {
    loop_->Post([in_force = registry_->All()] {
      for (const accounts::AccountPtr& account : in_force) account->watch_hub->Shutdown();
    });
    server_->Shutdown(absl::Now() + absl::Seconds(1));
    server_.reset();
    transport_->Shutdown();
    loop_->Shutdown();
    registry_.reset();
    maker_->DestroyRetiredNow();
    transport_.reset();
    loop_.reset();
    alpha_->Stop();
    beta_->Stop();
    log::SetSinkForTesting(nullptr);
    absl::MutexLock lock(&log_mu);
    for (const std::string& line : *log_lines) {
      EXPECT_THAT(line, Not(HasSubstr(kTokenAlpha)));
      EXPECT_THAT(line, Not(HasSubstr(kTokenBeta)));
    }
    log_lines->clear();
  }

  struct Entry {
    std::string name, url, token;
    bool is_default;
  };
  std::string path() const { return dir_ + "/accounts.json"; }
  void WriteAccounts(const std::vector<Entry>& entries) {
    std::string json = "{\"accounts\": {";
    for (const Entry& entry : entries) {
      absl::StrAppend(&json, json.back() == '{' ? "" : ", ", "\"", entry.name,
                      "\": {\"api_url\": \"", entry.url, "\", \"token_file\": \"", dir_, "/",
                      entry.token, ".token\", \"rate_limit_rps\": 50",
                      entry.is_default ? ", \"default\": true" : "", "}");
    }
    json += "}}";
    const std::string next = path() + ".next";
    std::ofstream(next) << json;
    ASSERT_EQ(::rename(next.c_str(), path().c_str()), 0);
  }

  grpc::Status CreateLead(const std::string& account, const std::string& name,
                          v1::Lead* lead = nullptr) {
    grpc::ClientContext context;
    if (!account.empty()) context.AddMetadata("x-kommo-account", account);
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    v1::CreateLeadRequest request;
    request.set_name(name);
    v1::CreateLeadResponse response;
    grpc::Status status = leads_->CreateLead(&context, request, &response);
    if (lead != nullptr) *lead = response.lead();
    return status;
  }
  grpc::Status GetLead(const std::string& account, int64_t id, v1::Lead* lead = nullptr) {
    grpc::ClientContext context;
    if (!account.empty()) context.AddMetadata("x-kommo-account", account);
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    v1::GetLeadRequest request;
    request.set_lead_id(id);
    v1::GetLeadResponse response;
    grpc::Status status = leads_->GetLead(&context, request, &response);
    if (lead != nullptr) *lead = response.lead();
    return status;
  }

  std::unique_ptr<emu::Emulator> alpha_;
  std::unique_ptr<emu::Emulator> beta_;
  std::string dir_;
  metrics::Registry metrics_registry_;
  metrics::ServiceMetrics metrics_{&metrics_registry_};
  api::IdempotencyStore idempotency_;
  std::unique_ptr<http::EpollLoop> loop_;
  std::unique_ptr<http::CurlTransport> transport_;
  std::shared_ptr<accounts::AccountMaker> maker_;
  std::unique_ptr<accounts::AccountRegistry> registry_;
  std::unique_ptr<api::GrpcServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::LeadService::Stub> leads_;
};

TEST_F(AccountsTest, CallsLandOnTheAccountTheirMetadataNames) {
  v1::Lead lead;
  ASSERT_TRUE(CreateLead("beta", "for beta", &lead).ok());
  EXPECT_EQ(beta_->lead_count(), 1u);
  EXPECT_EQ(alpha_->lead_count(), 0u);
  ASSERT_TRUE(CreateLead("alpha", "for alpha").ok());
  ASSERT_TRUE(CreateLead("", "for the default account").ok());
  EXPECT_EQ(alpha_->lead_count(), 2u);
  EXPECT_EQ(beta_->lead_count(), 1u);
  // The same id names another lead in each account.
  v1::Lead read;
  ASSERT_TRUE(GetLead("beta", lead.id(), &read).ok());
  EXPECT_EQ(read.name(), "for beta");
  ASSERT_TRUE(GetLead("alpha", lead.id(), &read).ok());
  EXPECT_EQ(read.name(), "for alpha");
  // Each emulator saw only its own account's token (it refuses any other).
  for (const emu::LoggedRequest& request : beta_->requests()) EXPECT_EQ(request.status / 100, 2);
  for (const emu::LoggedRequest& request : alpha_->requests()) EXPECT_EQ(request.status / 100, 2);
}

TEST_F(AccountsTest, AnUnknownAccountIsInvalidArgumentAndReachesNoKommo) {
  CallError error = Inspect(CreateLead("gamma", "nowhere"));
  EXPECT_EQ(error.code, grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(error.reason, "UNKNOWN_ACCOUNT");
  EXPECT_EQ(error.metadata["account"], "gamma");
  EXPECT_EQ(error.metadata["known_accounts"], "alpha,beta");
  EXPECT_THAT(error.message, HasSubstr("x-kommo-account"));
  CallError junk = Inspect(GetLead(std::string(300, 'q'), 1));
  EXPECT_EQ(junk.reason, "UNKNOWN_ACCOUNT");
  EXPECT_THAT(junk.message, Not(HasSubstr("qqqq")));
  EXPECT_TRUE(alpha_->requests().empty());
  EXPECT_TRUE(beta_->requests().empty());
}

TEST_F(AccountsTest, IdempotencyKeysAreKeptPerAccount) {
  const auto create = [this](const std::string& account, v1::Lead* lead) {
    grpc::ClientContext context;
    context.AddMetadata("x-kommo-account", account);
    v1::CreateLeadRequest request;
    request.set_name("once per account");
    request.set_request_id("same-request-id-1");
    v1::CreateLeadResponse response;
    grpc::Status status = leads_->CreateLead(&context, request, &response);
    *lead = response.lead();
    return status;
  };
  v1::Lead first, again, other;
  ASSERT_TRUE(create("alpha", &first).ok());
  ASSERT_TRUE(create("alpha", &again).ok());
  EXPECT_EQ(again.id(), first.id());
  EXPECT_EQ(alpha_->lead_count(), 1u) << "a repeat on one account writes once";
  ASSERT_TRUE(create("beta", &other).ok());
  EXPECT_EQ(beta_->lead_count(), 1u) << "the same id on another account is another request";
}

TEST_F(AccountsTest, WatchStreamsReadTheirOwnAccountsChanges) {
  grpc::ClientContext context;
  context.AddMetadata("x-kommo-account", "beta");
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(15)));
  v1::WatchLeadsRequest request;
  auto reader = leads_->WatchLeads(&context, request);
  v1::WatchLeadsResponse response;
  // The first answer is a heartbeat with a token: the stream is open.
  ASSERT_TRUE(reader->Read(&response));
  ASSERT_TRUE(CreateLead("alpha", "alpha's change").ok());
  v1::Lead beta_lead;
  ASSERT_TRUE(CreateLead("beta", "beta's change", &beta_lead).ok());
  bool seen = false;
  while (!seen && reader->Read(&response)) {
    if (!response.has_change()) continue;
    EXPECT_EQ(response.change().lead_id(), beta_lead.id());
    seen = true;
  }
  EXPECT_TRUE(seen);
  context.TryCancel();
  while (reader->Read(&response)) {
  }
  reader->Finish();
  // Only beta's emulator was asked for events.
  bool alpha_events = false;
  for (const emu::LoggedRequest& logged : alpha_->requests()) {
    alpha_events |= logged.path == "/api/v4/events";
  }
  EXPECT_FALSE(alpha_events);
}

TEST_F(AccountsTest, TheFileIsReloadedWhileServing) {
  // gamma is added; beta now points at alpha's emulator (with alpha's token).
  WriteAccounts({{"alpha", alpha_->base_url(), "alpha", true},
                 {"beta", alpha_->base_url(), "alpha", false},
                 {"gamma", beta_->base_url(), "beta", false}});
  const absl::Time until = absl::Now() + absl::Seconds(5);
  while (absl::Now() < until && Inspect(GetLead("gamma", 1)).reason == "UNKNOWN_ACCOUNT") {
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_TRUE(CreateLead("gamma", "to gamma").ok());
  EXPECT_EQ(beta_->lead_count(), 1u);
  ASSERT_TRUE(CreateLead("beta", "beta, now at alpha's").ok());
  EXPECT_EQ(alpha_->lead_count(), 1u);
  EXPECT_EQ(beta_->lead_count(), 1u);

  // A bad edit: the accounts in force stay.
  {
    const std::string next = path() + ".next";
    std::ofstream(next) << "{\"accounts\": {\"alpha\": {\"api_url\": \"nope\"}}}";
    ASSERT_EQ(::rename(next.c_str(), path().c_str()), 0);
  }
  absl::SleepFor(absl::Milliseconds(2500));
  EXPECT_TRUE(CreateLead("gamma", "still there").ok());
  absl::MutexLock lock(&log_mu);
  bool refused = false;
  for (const std::string& line : *log_lines) {
    refused |= line.find("accounts file not reloaded") != std::string::npos &&
               line.find("api_url") != std::string::npos;
  }
  EXPECT_TRUE(refused);
}

TEST_F(AccountsTest, AReplacedAccountFinishesTheCallsUnderWayOnIt) {
  v1::Lead seeded;
  ASSERT_TRUE(CreateLead("beta", "beta's own", &seeded).ok());
  // beta's reads take 1.5 s now.
  emu::FaultRule slow;
  slow.method = "GET";
  slow.path_prefix = "/api/v4/leads/";
  slow.action = emu::FaultAction::kLatency;
  slow.delay = std::chrono::milliseconds(1500);
  slow.times = 1;
  ASSERT_TRUE(beta_->AddFault(slow).ok());
  grpc::Status slow_status;
  v1::Lead slow_lead;
  std::thread under_way([&] { slow_status = GetLead("beta", seeded.id(), &slow_lead); });
  absl::SleepFor(absl::Milliseconds(300));

  // beta moves to alpha's Kommo while its call is under way.
  WriteAccounts(
      {{"alpha", alpha_->base_url(), "alpha", true}, {"beta", alpha_->base_url(), "alpha", false}});
  const absl::Time until = absl::Now() + absl::Seconds(5);
  while (absl::Now() < until && alpha_->lead_count() == 0) {
    CreateLead("beta", "probe for the reload");
    if (alpha_->lead_count() == 0) absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_EQ(alpha_->lead_count(), 1u) << "new calls to beta go to its new Kommo";
  under_way.join();
  // The call under way finished on the old account, against the old Kommo.
  EXPECT_TRUE(slow_status.ok()) << slow_status.error_message();
  EXPECT_EQ(slow_lead.name(), "beta's own");
  // Once its last call ended, the old account is let go on the loop.
  const auto retired = [] {
    absl::MutexLock lock(&log_mu);
    for (const std::string& line : *log_lines) {
      if (line.find("account retired") != std::string::npos &&
          line.find("\"account\":\"beta\"") != std::string::npos) {
        return true;
      }
    }
    return false;
  };
  const absl::Time retired_by = absl::Now() + absl::Seconds(5);
  while (absl::Now() < retired_by && !retired()) absl::SleepFor(absl::Milliseconds(50));
  EXPECT_TRUE(retired());
  EXPECT_EQ(maker_->retired(), 0u);
}

// THE proof: Kommo blocks one account (its HTML 403 page). That account's circuit opens and its
// calls fail fast; the other account's calls keep succeeding at their normal latency.
TEST_F(AccountsTest, OneBlockedAccountDoesNotSlowTheOther) {
  std::vector<int64_t> ids;
  for (const char* account : {"alpha", "beta"}) {
    v1::Lead lead;
    ASSERT_TRUE(CreateLead(account, "seed", &lead).ok());
    ids.push_back(lead.id());
  }
  // Beta's normal latency, before anything is blocked.
  const auto beta_latencies = [&](int calls) {
    std::vector<absl::Duration> latencies;
    for (int i = 0; i < calls; ++i) {
      const absl::Time start = absl::Now();
      EXPECT_TRUE(GetLead("beta", ids[1]).ok());
      latencies.push_back(absl::Now() - start);
    }
    std::sort(latencies.begin(), latencies.end());
    return latencies;
  };
  const std::vector<absl::Duration> before = beta_latencies(20);

  alpha_->Block();
  CallError first = Inspect(GetLead("alpha", ids[0]));
  EXPECT_EQ(first.code, grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(first.reason, "KOMMO_ACCOUNT_BLOCKED");

  // Alpha is hammered from 8 threads while beta is measured.
  std::atomic<bool> stop{false};
  std::atomic<int> alpha_calls{0}, alpha_blocked{0}, alpha_slow{0};
  std::vector<std::thread> hammer;
  for (int t = 0; t < 8; ++t) {
    hammer.emplace_back([&] {
      while (!stop.load()) {
        const absl::Time start = absl::Now();
        CallError error = Inspect(GetLead("alpha", ids[0]));
        ++alpha_calls;
        if (error.code == grpc::StatusCode::UNAVAILABLE &&
            error.reason == "KOMMO_ACCOUNT_BLOCKED") {
          ++alpha_blocked;
        }
        if (absl::Now() - start > absl::Milliseconds(500)) ++alpha_slow;
        // Hundreds of calls a second per thread, without starving beta's of the CPU.
        absl::SleepFor(absl::Milliseconds(2));
      }
    });
  }
  const std::vector<absl::Duration> during = beta_latencies(40);
  stop = true;
  for (std::thread& thread : hammer) thread.join();

  EXPECT_GT(alpha_calls.load(), 40);
  EXPECT_EQ(alpha_blocked.load(), alpha_calls.load()) << "every alpha call: blocked, at once";
  EXPECT_EQ(alpha_slow.load(), 0) << "alpha's calls fail fast";
  // Kommo saw alpha's first blocked request only: the open circuit sent nothing more.
  int alpha_blocked_requests = 0;
  for (const emu::LoggedRequest& request : alpha_->requests()) {
    alpha_blocked_requests += request.fault == "blocked";
  }
  EXPECT_EQ(alpha_blocked_requests, 1);
  // Beta: every call succeeded (checked above), at its normal latency: the median within a few
  // milliseconds of before (generous for a loaded 2-core machine running 8 hammering threads).
  const absl::Duration median_before = before[before.size() / 2];
  const absl::Duration median_during = during[during.size() / 2];
  EXPECT_LT(median_during, median_before * 3 + absl::Milliseconds(20))
      << "before " << median_before << ", during " << median_during;
  for (const emu::LoggedRequest& request : beta_->requests()) EXPECT_EQ(request.status / 100, 2);
  // The metrics say which account is blocked.
  const std::string text = metrics_registry_.Render();
  EXPECT_THAT(text, HasSubstr("\nkommo_grpc_circuit_open{account=\"alpha\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("\nkommo_grpc_circuit_open{account=\"beta\"} 0\n"));
  std::printf("[accounts] alpha blocked: %d calls failed fast; beta median %s before, %s during\n",
              alpha_calls.load(), absl::FormatDuration(median_before).c_str(),
              absl::FormatDuration(median_during).c_str());
  // The log line of the block names the account.
  absl::MutexLock lock(&log_mu);
  bool named = false;
  for (const std::string& line : *log_lines) {
    named |= line.find("Kommo blocks this account") != std::string::npos &&
             line.find("\"account\":\"alpha\"") != std::string::npos;
  }
  EXPECT_TRUE(named);
}

}  // namespace
}  // namespace kommo
