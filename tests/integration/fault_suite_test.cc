// The fault suite (ctest label `faults`): the real service in-process against the emulator with
// Kommo's faults switched on. Each scenario asserts what the caller saw and what Kommo (the
// emulator's request log) saw. Every log line the service writes is captured, and no scenario may
// let the token appear in one, nor in any error message.

#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "emulator/emulator.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/common/log.h"
#include "tests/support/service_stack.h"

extern char** environ;

namespace kommo {
namespace {

namespace emu = ::kommo::emulator;
using ::kommo::testing::CallError;
using ::kommo::testing::Inspect;
using ::kommo::testing::ServiceStack;
using ::testing::AnyOf;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kToken[] = "fault-suite-secret-token-5f1e";

// Every log line of the service during the suite.
absl::Mutex log_mu;
std::vector<std::string>* log_lines = new std::vector<std::string>();
void CaptureLine(const std::string& line) {
  absl::MutexLock lock(&log_mu);
  log_lines->push_back(line);
}

class FaultSuiteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    log::SetSinkForTesting(&CaptureLine);
    emu::EmulatorOptions options;
    options.token = kToken;
    auto emulator = emu::Emulator::Start(options);
    ASSERT_TRUE(emulator.ok()) << emulator.status();
    emulator_ = std::move(*emulator);
  }

  void TearDown() override {
    stack_.reset();
    if (emulator_) emulator_->Stop();
    log::SetSinkForTesting(nullptr);
    // The token never appears in a log line or an error message.
    absl::MutexLock lock(&log_mu);
    for (const std::string& line : *log_lines) EXPECT_THAT(line, Not(HasSubstr(kToken)));
    absl::MutexLock messages_lock(&messages_mu_);
    for (const std::string& message : messages_) EXPECT_THAT(message, Not(HasSubstr(kToken)));
  }

  // Remembers an error message (checked for the token in TearDown). Calls run on many threads.
  void Remember(const grpc::Status& status) {
    absl::MutexLock lock(&messages_mu_);
    messages_.push_back(status.error_message());
  }

  rest::KommoClientOptions Options() {
    rest::KommoClientOptions options;
    options.api_base_url = emulator_->base_url() + "/api/v4";
    options.access_token = kToken;
    options.rate_limit_rps = 50;
    options.request_timeout = absl::Seconds(5);
    options.initial_backoff = absl::Milliseconds(50);
    options.circuit_open_duration = absl::Seconds(1);
    return options;
  }

  void Start(rest::KommoClientOptions options) {
    stack_ = std::make_unique<ServiceStack>(std::move(options));
  }

  void AddFault(const std::string& method, const std::string& path, emu::FaultAction action,
                std::function<void(emu::FaultRule&)> tweak = nullptr) {
    emu::FaultRule rule;
    rule.method = method;
    rule.path_prefix = path;
    rule.action = action;
    if (tweak) tweak(rule);
    ASSERT_TRUE(emulator_->AddFault(rule).ok());
  }

  // Calls GetLead and remembers the error message (checked for the token in TearDown).
  grpc::Status GetLead(int64_t id, absl::Duration deadline = absl::Seconds(10),
                       v1::Lead* lead = nullptr) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
    v1::GetLeadRequest request;
    request.set_lead_id(id);
    v1::GetLeadResponse response;
    grpc::Status status = stack_->leads->GetLead(&context, request, &response);
    Remember(status);
    if (lead != nullptr) *lead = response.lead();
    return status;
  }

  grpc::Status CreateLead(const std::string& name, absl::Duration deadline = absl::Seconds(10),
                          v1::Lead* lead = nullptr) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
    v1::CreateLeadRequest request;
    request.set_name(name);
    v1::CreateLeadResponse response;
    grpc::Status status = stack_->leads->CreateLead(&context, request, &response);
    Remember(status);
    if (lead != nullptr) *lead = response.lead();
    return status;
  }

  // The real server binary against the emulator, spawned with its stdout and stderr piped;
  // stopped by its PID (Wait).
  struct SpawnedServer {
    pid_t pid = 0;
    int port = 0;
    int out = -1;
    std::string err;
    std::thread err_reader;
    int Wait() {
      int wstatus = 0;
      waitpid(pid, &wstatus, 0);
      close(out);
      if (err_reader.joinable()) err_reader.join();
      return wstatus;
    }
  };
  SpawnedServer Spawn(const std::string& grace) {
    SpawnedServer server;
    int out_pipe[2];
    int err_pipe[2];
    if (pipe(out_pipe) != 0 || pipe(err_pipe) != 0) return server;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
    posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
    std::vector<std::string> env = {"KOMMO_API_URL=" + emulator_->base_url(),
                                    std::string("KOMMO_ACCESS_TOKEN=") + kToken,
                                    "KOMMO_RATE_LIMIT_RPS=1000",
                                    "KOMMO_RATE_LIMIT_BURST=100",
                                    "METRICS_LISTEN_ADDRESS=off",
                                    "SHUTDOWN_GRACE_PERIOD=" + grace,
                                    "LOG_LEVEL=info"};
    std::vector<char*> envp;
    for (std::string& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    std::string binary = KOMMO_SERVER_BINARY;
    std::string listen = "--listen=127.0.0.1:0";
    char* argv[] = {binary.data(), listen.data(), nullptr};
    const int spawned =
        posix_spawn(&server.pid, binary.c_str(), &actions, nullptr, argv, envp.data());
    posix_spawn_file_actions_destroy(&actions);
    close(out_pipe[1]);
    close(err_pipe[1]);
    server.out = out_pipe[0];
    // Drain stderr in the background (its lines are checked for the token and the outcomes).
    server.err_reader = std::thread([&err = server.err, fd = err_pipe[0]] {
      char buffer[4096];
      ssize_t n;
      while ((n = read(fd, buffer, sizeof(buffer))) > 0) err.append(buffer, n);
      close(fd);
    });
    if (spawned != 0) return server;
    std::string first_line;
    char c;
    while (read(server.out, &c, 1) == 1 && c != '\n') first_line += c;
    if (std::sscanf(first_line.c_str(), "kommo-grpc-server listening on port %d", &server.port) !=
        1) {
      server.port = 0;
    }
    return server;
  }

  // A lead that exists, made with the fault-free emulator before faults are switched on.
  int64_t SeedLead() {
    v1::Lead lead;
    EXPECT_TRUE(CreateLead("seed", absl::Seconds(10), &lead).ok());
    emulator_->ClearRequests();
    return lead.id();
  }

  // Requests the emulator received for `method` + path prefix.
  std::vector<emu::LoggedRequest> Seen(const std::string& method, const std::string& prefix) {
    std::vector<emu::LoggedRequest> seen;
    for (emu::LoggedRequest& request : emulator_->requests()) {
      if (request.method == method && request.path.rfind(prefix, 0) == 0) {
        seen.push_back(std::move(request));
      }
    }
    return seen;
  }

  // Proves the service is healthy: a read and a write go through.
  void ExpectHealthy(int64_t lead_id) {
    emulator_->ClearFaults();
    EXPECT_TRUE(GetLead(lead_id).ok());
    EXPECT_TRUE(CreateLead("after the fault").ok());
  }

  std::unique_ptr<emu::Emulator> emulator_;
  std::unique_ptr<ServiceStack> stack_;
  absl::Mutex messages_mu_;
  std::vector<std::string> messages_ ABSL_GUARDED_BY(messages_mu_);
};

TEST_F(FaultSuiteTest, TwoHundredConcurrentCreatesUnderKommosLimitWith429s) {
  rest::KommoClientOptions options = Options();
  options.rate_limit_rps = 7;
  options.rate_limit_burst = 1;
  Start(options);
  emu::RateLimitOptions limit;
  limit.enabled = true;
  limit.requests_per_second = 7;
  limit.burst = 7;
  limit.block_after = 5;
  ASSERT_TRUE(emulator_->SetRateLimit(limit).ok());
  // Kommo also throws in a few 429s of its own (JSON with retry_after, then HTML without).
  AddFault("POST", "/api/v4/leads", emu::FaultAction::kStatus, [](emu::FaultRule& rule) {
    rule.status = 429;
    rule.body = emu::FaultBody::kJson;
    rule.retry_after_seconds = 1;
    rule.times = 1;
  });
  // The read-backs of the 200 share one GET (up to 250 ids): its first attempt gets the 429.
  AddFault("GET", "/api/v4/leads", emu::FaultAction::kStatus, [](emu::FaultRule& rule) {
    rule.status = 429;
    rule.body = emu::FaultBody::kHtml;
    rule.times = 1;
  });

  const absl::Time start = absl::Now();
  constexpr int kCalls = 200;
  std::vector<std::future<grpc::Status>> calls;
  for (int i = 0; i < kCalls; ++i) {
    calls.push_back(std::async(std::launch::async, [this, i] {
      return CreateLead(absl::StrCat("bulk ", i), absl::Seconds(30));
    }));
  }
  int ok = 0;
  for (auto& call : calls) {
    grpc::Status status = call.get();
    ok += status.ok();
    EXPECT_TRUE(status.ok()) << status.error_code() << " " << status.error_message();
  }
  const absl::Duration took = absl::Now() - start;
  EXPECT_EQ(ok, kCalls);
  EXPECT_EQ(emulator_->lead_count(), static_cast<size_t>(kCalls)) << "none lost, none doubled";
  EXPECT_FALSE(emulator_->blocked());

  // No 1-second window carried more than the configured budget (7 requests).
  std::vector<std::chrono::system_clock::time_point> times;
  int rate_limited = 0;
  int retries_seen = 0;
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
  EXPECT_LE(busiest, 7u);
  rest::KommoClientStats stats;
  std::promise<void> got;
  stack_->client()->GetStats([&](rest::KommoClientStats s) {
    stats = s;
    got.set_value();
  });
  got.get_future().wait();
  retries_seen = static_cast<int>(stats.retries);
  EXPECT_GE(rate_limited, 2);
  EXPECT_GE(retries_seen, 2);
  std::printf(
      "[fault suite] %d concurrent CreateLead: %d OK, %zu leads stored, %zu requests to Kommo "
      "(%d answered 429, %d retries), busiest 1-second window %zu requests, %.1f s\n",
      kCalls, ok, emulator_->lead_count(), times.size(), rate_limited, retries_seen, busiest,
      absl::ToDoubleSeconds(took));
}

TEST_F(FaultSuiteTest, ReadsSurviveRateLimitsServerErrorsResetsAndBadBodies) {
  Start(Options());
  const int64_t id = SeedLead();
  struct Case {
    std::string name;
    emu::FaultAction action;
    std::function<void(emu::FaultRule&)> tweak;
  };
  const std::vector<Case> recovered = {
      {"429 HTML without Retry-After", emu::FaultAction::kStatus,
       [](emu::FaultRule& r) {
         r.status = 429;
         r.body = emu::FaultBody::kHtml;
         r.times = 2;
       }},
      {"429 JSON with retry_after", emu::FaultAction::kStatus,
       [](emu::FaultRule& r) {
         r.status = 429;
         r.body = emu::FaultBody::kJson;
         r.retry_after_seconds = 1;
         r.times = 1;
       }},
      {"500 problem+json", emu::FaultAction::kStatus,
       [](emu::FaultRule& r) {
         r.status = 500;
         r.times = 2;
       }},
      {"503 HTML", emu::FaultAction::kStatus,
       [](emu::FaultRule& r) {
         r.status = 503;
         r.times = 2;
       }},
      {"connection reset", emu::FaultAction::kReset, [](emu::FaultRule& r) { r.times = 2; }},
      {"body cut short", emu::FaultAction::kCutBody, [](emu::FaultRule& r) { r.times = 1; }},
      {"slow body", emu::FaultAction::kSlowBody,
       [](emu::FaultRule& r) {
         r.times = 1;
         r.chunk_bytes = 64;
         r.chunk_interval = std::chrono::milliseconds(10);
       }},
  };
  for (const Case& c : recovered) {
    SCOPED_TRACE(c.name);
    emulator_->ClearFaults();
    emulator_->ClearRequests();
    AddFault("GET", "/api/v4/leads/", c.action, c.tweak);
    v1::Lead lead;
    grpc::Status status = GetLead(id, absl::Seconds(10), &lead);
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(lead.id(), id);
    EXPECT_GE(Seen("GET", "/api/v4/leads/").size(), 1u);
  }

  // Past the retry budget of one call (4 attempts): the documented code.
  emulator_->ClearFaults();
  emulator_->ClearRequests();
  AddFault("GET", "/api/v4/leads/", emu::FaultAction::kStatus, [](emu::FaultRule& r) {
    r.status = 503;
    r.times = 0;  // every request
  });
  CallError unavailable = Inspect(GetLead(id));
  EXPECT_EQ(unavailable.code, grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(unavailable.reason, "KOMMO_UNAVAILABLE");
  EXPECT_EQ(Seen("GET", "/api/v4/leads/").size(), 4u);

  emulator_->ClearFaults();
  AddFault("GET", "/api/v4/leads/", emu::FaultAction::kStatus, [](emu::FaultRule& r) {
    r.status = 429;
    r.body = emu::FaultBody::kJson;
    r.retry_after_seconds = 30;
    r.times = 0;
  });
  CallError limited = Inspect(GetLead(id, absl::Seconds(3)));
  EXPECT_EQ(limited.code, grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(limited.reason, "KOMMO_RATE_LIMITED");
  EXPECT_TRUE(limited.has_retry_info);
  // Kommo asked for 30 s: the whole account waits, so the next call is refused at once.
  CallError paused = Inspect(GetLead(id, absl::Seconds(2)));
  EXPECT_EQ(paused.code, grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(paused.reason, "RATE_LIMIT_QUEUE_TIMEOUT");

  // Malformed JSON is not retried: INTERNAL, KOMMO_BAD_RESPONSE.
  stack_.reset();
  Start(Options());
  emulator_->ClearFaults();
  AddFault("GET", "/api/v4/leads/", emu::FaultAction::kMalformedJson,
           [](emu::FaultRule& r) { r.times = 1; });
  CallError malformed = Inspect(GetLead(id));
  EXPECT_EQ(malformed.code, grpc::StatusCode::INTERNAL);
  EXPECT_EQ(malformed.reason, "KOMMO_BAD_RESPONSE");
  ExpectHealthy(id);
}

TEST_F(FaultSuiteTest, ACreateWhoseOutcomeIsUnknownIsReportedNotRepeated) {
  Start(Options());
  const int64_t id = SeedLead();
  const size_t before = emulator_->lead_count();
  // Kommo saves the lead, then the connection drops before the answer.
  AddFault("POST", "/api/v4/leads", emu::FaultAction::kReset, [](emu::FaultRule& r) {
    r.apply = true;
    r.times = 1;
  });
  CallError error = Inspect(CreateLead("maybe"));
  EXPECT_EQ(error.code, grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(error.reason, "WRITE_OUTCOME_UNKNOWN");
  EXPECT_THAT(error.message, HasSubstr("outcome is unknown"));
  EXPECT_EQ(Seen("POST", "/api/v4/leads").size(), 1u) << "never silently repeated";
  EXPECT_EQ(emulator_->lead_count(), before + 1);

  // A 500 on create: also unknown, also not repeated.
  emulator_->ClearRequests();
  AddFault("POST", "/api/v4/leads", emu::FaultAction::kStatus, [](emu::FaultRule& r) {
    r.status = 500;
    r.times = 1;
  });
  EXPECT_EQ(Inspect(CreateLead("maybe again")).reason, "WRITE_OUTCOME_UNKNOWN");
  EXPECT_EQ(Seen("POST", "/api/v4/leads").size(), 1u);

  // A 429 on create: Kommo did not act, so it is safely sent again and succeeds once.
  emulator_->ClearRequests();
  AddFault("POST", "/api/v4/leads", emu::FaultAction::kStatus, [](emu::FaultRule& r) {
    r.status = 429;
    r.body = emu::FaultBody::kHtml;
    r.times = 1;
  });
  const size_t count = emulator_->lead_count();
  EXPECT_TRUE(CreateLead("after a 429").ok());
  EXPECT_EQ(Seen("POST", "/api/v4/leads").size(), 2u);
  EXPECT_EQ(emulator_->lead_count(), count + 1);
  ExpectHealthy(id);
}

TEST_F(FaultSuiteTest, AnAccountBlockFailsCallsFastAndOnlyProbesReachKommo) {
  Start(Options());  // circuit open for 1 s
  const int64_t id = SeedLead();
  emulator_->Block();
  CallError first = Inspect(GetLead(id));
  EXPECT_EQ(first.code, grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(first.reason, "KOMMO_ACCOUNT_BLOCKED");

  const absl::Time start = absl::Now();
  int calls = 0;
  while (absl::Now() - start < absl::Milliseconds(2500)) {
    const absl::Time call_start = absl::Now();
    CallError error = Inspect(GetLead(id));
    EXPECT_EQ(error.code, grpc::StatusCode::UNAVAILABLE);
    EXPECT_EQ(error.reason, "KOMMO_ACCOUNT_BLOCKED");
    EXPECT_LT(absl::Now() - call_start, absl::Milliseconds(500)) << "fails fast";
    ++calls;
    absl::SleepFor(absl::Milliseconds(20));
  }
  // The first request plus at most one probe per second of block.
  const size_t seen = emulator_->requests().size();
  EXPECT_LE(seen, 1u + 3u);
  std::printf("[fault suite] account block: %d calls in 2.5 s failed fast, Kommo saw %zu\n", calls,
              seen);

  // The block is lifted: the next probe gets through and calls flow again.
  emulator_->Unblock();
  absl::SleepFor(absl::Milliseconds(1100));
  EXPECT_TRUE(GetLead(id).ok());
  EXPECT_TRUE(GetLead(id).ok());
}

TEST_F(FaultSuiteTest, DeadlinesEndCallsLongBeforeKommoAnswers) {
  Start(Options());
  const int64_t id = SeedLead();
  AddFault("GET", "/api/v4/leads/", emu::FaultAction::kLatency,
           [](emu::FaultRule& r) { r.delay = std::chrono::milliseconds(2000); });
  const absl::Time start = absl::Now();
  CallError error = Inspect(GetLead(id, absl::Milliseconds(200)));
  const absl::Duration took = absl::Now() - start;
  EXPECT_EQ(error.code, grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_LT(took, absl::Seconds(1));
  std::printf(
      "[fault suite] 200 ms deadline against 2 s of latency: DEADLINE_EXCEEDED after %.0f ms\n",
      absl::ToDoubleMilliseconds(took));
  ExpectHealthy(id);
}

// Issue 10, rule 3: creates whose deadline passes after they were sent are told so, with the
// reason, every time: the server answers a little before the caller's deadline, so its answer is
// not lost to gRPC's own deadline timer (which says only "Deadline Exceeded").
TEST_F(FaultSuiteTest, CreatesWhoseDeadlinePassesAfterSendingAreToldTheOutcomeIsUnknown) {
  Start(Options());
  SeedLead();
  const size_t before = emulator_->lead_count();
  AddFault("POST", "/api/v4/leads", emu::FaultAction::kLatency,
           [](emu::FaultRule& r) { r.delay = std::chrono::milliseconds(2000); });
  constexpr int kCalls = 5;
  std::vector<CallError> errors(kCalls);
  std::vector<std::thread> threads;
  for (int i = 0; i < kCalls; ++i) {
    threads.emplace_back([this, i, &errors] {
      errors[i] = Inspect(CreateLead(absl::StrCat("late ", i), absl::Milliseconds(600)));
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (const CallError& error : errors) {
    EXPECT_EQ(error.code, grpc::StatusCode::DEADLINE_EXCEEDED);
    EXPECT_EQ(error.reason, "WRITE_OUTCOME_UNKNOWN") << error.message;
  }
  // Kommo finishes the creates after their callers left: each exactly once, never resent.
  absl::SleepFor(absl::Milliseconds(2500));
  EXPECT_EQ(emulator_->lead_count(), before + kCalls);
}

TEST_F(FaultSuiteTest, ACancelledCallThatWasStillQueuedNeverReachesKommo) {
  rest::KommoClientOptions options = Options();
  options.rate_limit_rps = 0.5;  // the second call waits 2 s for its slot
  Start(options);
  const int64_t id = SeedLead();
  absl::SleepFor(absl::Seconds(2));  // let the seed's requests' slots pass
  emulator_->ClearRequests();
  EXPECT_TRUE(GetLead(id).ok());  // takes the slot
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  v1::GetLeadRequest request;
  request.set_lead_id(id + 1);  // another id: not shared with anything
  v1::GetLeadResponse response;
  std::promise<grpc::Status> done;
  stack_->leads->async()->GetLead(&context, &request, &response,
                                  [&done](grpc::Status status) { done.set_value(status); });
  absl::SleepFor(absl::Milliseconds(300));
  context.TryCancel();
  grpc::Status status = done.get_future().get();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::CANCELLED);
  absl::SleepFor(absl::Seconds(3));  // past the slot it had
  EXPECT_EQ(Seen("GET", "/api/v4/leads/").size(), 1u) << "only the first call reached Kommo";
}

// SIGTERM with 50 calls in flight against the built server binary: every call is answered and
// the process exits 0.
TEST_F(FaultSuiteTest, ShutdownUnderLoadAnswersEveryCallAndExitsZero) {
  const int64_t id = [this] {
    Start(Options());
    int64_t seeded = SeedLead();
    stack_.reset();
    return seeded;
  }();
  AddFault("GET", "/api/v4/leads", emu::FaultAction::kLatency,
           [](emu::FaultRule& r) { r.delay = std::chrono::milliseconds(700); });

  SpawnedServer server = Spawn("10s");
  ASSERT_GT(server.port, 0);
  const pid_t pid = server.pid;
  const int port = server.port;
  auto channel =
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
  auto stub = v1::LeadService::NewStub(channel);
  constexpr int kCalls = 50;
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<v1::GetLeadRequest> requests(kCalls);
  std::vector<v1::GetLeadResponse> responses(kCalls);
  std::vector<std::promise<grpc::Status>> done(kCalls);
  for (int i = 0; i < kCalls; ++i) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    contexts.back()->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
    requests[i].set_lead_id(id + i);  // distinct: no two calls share a request
    stub->async()->GetLead(contexts[i].get(), &requests[i], &responses[i],
                           [&done, i](grpc::Status status) { done[i].set_value(status); });
  }
  // Wait until the calls have reached Kommo (they sit in its 700 ms latency), then SIGTERM.
  for (int i = 0; i < 100 && Seen("GET", "/api/v4/leads").size() < 20; ++i) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  kill(pid, SIGTERM);
  int answered = 0;
  int ok = 0;
  for (int i = 0; i < kCalls; ++i) {
    grpc::Status status = done[i].get_future().get();
    ++answered;
    // The seeded id answers OK, the others NOT_FOUND: either way a real answer, not a cut-off.
    ok += status.ok() || status.error_code() == grpc::StatusCode::NOT_FOUND;
    Remember(status);
  }
  const int wstatus = server.Wait();
  const std::string& server_err = server.err;
  EXPECT_EQ(answered, kCalls);
  EXPECT_EQ(ok, kCalls);
  EXPECT_TRUE(WIFEXITED(wstatus));
  EXPECT_EQ(WEXITSTATUS(wstatus), 0);
  EXPECT_THAT(server_err, HasSubstr("shutting down"));
  EXPECT_THAT(server_err, Not(HasSubstr(kToken)));
  std::printf("[fault suite] SIGTERM with %d calls in flight: %d answered, exit %d\n", kCalls,
              answered, WEXITSTATUS(wstatus));
}

// Issue 10, rule 9: a create still under way when the shutdown grace ends is not cut off: the
// server waits for Kommo's answer and logs the outcome with the id Kommo gave it.
TEST_F(FaultSuiteTest, ACreateCutOffByShutdownIsLoggedWithTheIdKommoGaveIt) {
  [this] {
    Start(Options());
    SeedLead();
    stack_.reset();
  }();
  AddFault("POST", "/api/v4/leads", emu::FaultAction::kLatency,
           [](emu::FaultRule& r) { r.delay = std::chrono::milliseconds(1500); });
  const size_t before = emulator_->lead_count();
  // The grace (1 s) ends before Kommo answers (1.5 s); the server then waits up to the grace
  // again for writes under way.
  SpawnedServer server = Spawn("1s");
  ASSERT_GT(server.port, 0);
  auto stub = v1::LeadService::NewStub(grpc::CreateChannel(absl::StrCat("127.0.0.1:", server.port),
                                                           grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(20)));
  v1::CreateLeadRequest request;
  request.set_name("cut off by shutdown");
  v1::CreateLeadResponse response;
  std::promise<grpc::Status> done;
  stub->async()->CreateLead(&context, &request, &response,
                            [&done](grpc::Status status) { done.set_value(status); });
  for (int i = 0; i < 100 && Seen("POST", "/api/v4/leads").empty(); ++i) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  kill(server.pid, SIGTERM);
  const grpc::Status status = done.get_future().get();
  EXPECT_FALSE(status.ok()) << "cut off by the end of the grace";
  const int wstatus = server.Wait();
  EXPECT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
  ASSERT_EQ(emulator_->lead_count(), before + 1) << server.err;
  EXPECT_THAT(server.err, HasSubstr("a write settled after its caller left"));
  EXPECT_THAT(server.err, HasSubstr("\"outcome\":\"written\""));
  EXPECT_THAT(server.err, HasSubstr("\"lead_id\":3"));
}

}  // namespace
}  // namespace kommo
