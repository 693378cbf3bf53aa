// Who may call (CALLERS_FILE) end to end (ctest label `integration`): the service in-process
// against the emulator, with a callers file, called the way callers call it. Checks what each
// caller is told, what reached Kommo, and the audit trail.

#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "emulator/emulator.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "gtest/gtest.h"
#include "server/auth/callers.h"
#include "server/common/log.h"
#include "tests/support/service_stack.h"

namespace kommo {
namespace {

namespace emu = ::kommo::emulator;
using ::kommo::testing::CallError;
using ::kommo::testing::Inspect;
using ::kommo::testing::ServiceStack;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kKommoToken[] = "callers-kommo-token";
constexpr char kChatbotToken[] = "chatbot-9f2c41d7e0b3a5c8";
constexpr char kAnalyticsToken[] = "analytics-51be07a4c3d9f6e2";
constexpr char kSyncToken[] = "crm-sync-0d6a93f1b27e4c85";
constexpr char kRetiredToken[] = "retired-3b8e1f0a9c72d654";

std::mutex log_mu;
std::vector<std::string>* log_lines = nullptr;

void CaptureLine(const std::string& line) {
  std::lock_guard<std::mutex> lock(log_mu);
  if (log_lines != nullptr) log_lines->push_back(line);
}

std::string Hex(const char* token) { return absl::BytesToHexString(auth::Sha256(token)); }

class CallersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    {
      std::lock_guard<std::mutex> lock(log_mu);
      log_lines = &lines_;
    }
    log::SetSinkForTesting(CaptureLine);
    char dir[] = "/tmp/callers_it_XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    path_ = dir_ + "/callers.json";
    std::ofstream(path_) << absl::StrCat(
        R"({"callers": [
          {"name": "chatbot", "tokens": [{"sha256": ")",
        Hex(kChatbotToken), R"("}],
           "methods": ["kommo.v1.LeadService/CreateLead"]},
          {"name": "analytics", "tokens": [{"sha256": ")",
        Hex(kAnalyticsToken), R"("}],
           "methods": ["kommo.v1.LeadService/Get*", "kommo.v1.LeadService/Search*",
                       "grpc.reflection.v1alpha.ServerReflection/*"]},
          {"name": "crm-sync", "tokens": [{"sha256": ")",
        Hex(kSyncToken), R"("}], "methods": ["kommo.v1.LeadService/*"]},
          {"name": "retired", "tokens": [{"sha256": ")",
        Hex(kRetiredToken), R"(", "expires": "2026-01-01T00:00:00Z"}],
           "methods": ["kommo.v1.LeadService/*"]}]})");
    emu::EmulatorOptions options;
    options.token = kKommoToken;
    auto emulator = emu::Emulator::Start(options);
    ASSERT_TRUE(emulator.ok()) << emulator.status();
    emulator_ = std::move(*emulator);
  }

  void TearDown() override {
    stack_.reset();
    authorizer_.reset();
    if (emulator_) emulator_->Stop();
    log::SetSinkForTesting(nullptr);
    {
      std::lock_guard<std::mutex> lock(log_mu);
      log_lines = nullptr;
    }
    std::remove(path_.c_str());
    rmdir(dir_.c_str());
  }

  void StartStack(bool reflection_open) {
    auth::AuthorizerOptions options;
    options.callers_file = path_;
    options.known_methods = api::ServedMethods();
    options.open_methods = api::OpenMethods(reflection_open);
    auto authorizer = auth::Authorizer::Create(options);
    ASSERT_TRUE(authorizer.ok()) << authorizer.status();
    authorizer_ = std::move(*authorizer);
    stack_ = std::make_unique<ServiceStack>(
        ServiceStack::FastOptions(emulator_->base_url() + "/api/v4", kKommoToken),
        http::CurlTransportOptions{}, ServiceStack::FastWatchOptions(),
        [this](api::GrpcServerOptions& server) { server.service.authorizer = authorizer_.get(); });
  }

  static void Authorize(grpc::ClientContext& context, const char* token) {
    context.AddMetadata("authorization", absl::StrCat("Bearer ", token));
  }

  grpc::Status CreateLead(grpc::ClientContext& context, v1::CreateLeadResponse* response) {
    v1::CreateLeadRequest request;
    request.set_name("Jane Roe inquiry");
    request.set_request_id("chat-42");
    return stack_->leads->CreateLead(&context, request, response);
  }

  int LeadsInKommo() { return static_cast<int>(emulator_->lead_count()); }

  std::vector<std::string> Lines() {
    std::lock_guard<std::mutex> lock(log_mu);
    return lines_;
  }

  std::vector<std::string> lines_;
  std::string dir_;
  std::string path_;
  std::unique_ptr<emu::Emulator> emulator_;
  std::unique_ptr<auth::Authorizer> authorizer_;
  std::unique_ptr<ServiceStack> stack_;
};

TEST_F(CallersTest, ACallerCallsWhatItMayAndIsAudited) {
  StartStack(true);
  grpc::ClientContext context;
  Authorize(context, kChatbotToken);
  v1::CreateLeadResponse created;
  grpc::Status status = CreateLead(context, &created);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_GT(created.lead().id(), 0);
  // One audit line: the caller, the method, the request ids and the lead, nothing else.
  std::vector<std::string> audit;
  for (const std::string& line : Lines()) {
    if (line.find("\"msg\":\"audit\"") != std::string::npos) audit.push_back(line);
  }
  ASSERT_EQ(audit.size(), 1u) << ::testing::PrintToString(Lines());
  EXPECT_THAT(audit[0], HasSubstr("\"caller\":\"chatbot\""));
  EXPECT_THAT(audit[0], HasSubstr("\"method\":\"kommo.v1.LeadService/CreateLead\""));
  EXPECT_THAT(audit[0], HasSubstr("\"idempotency_key\":\"chat-42\""));
  EXPECT_THAT(audit[0], HasSubstr("\"code\":\"OK\""));
  EXPECT_THAT(audit[0], HasSubstr(absl::StrCat("\"lead_id\":\"", created.lead().id(), "\"")));
  EXPECT_THAT(audit[0], HasSubstr("\"request_id\":\""));
  for (const std::string& line : Lines()) {
    EXPECT_THAT(line, Not(HasSubstr("Jane Roe"))) << "contact data in the log";
    EXPECT_THAT(line, Not(HasSubstr(kChatbotToken))) << "a token in the log";
    EXPECT_THAT(line, Not(HasSubstr(Hex(kChatbotToken)))) << "a token's hash in the log";
  }
}

// A write with a request_id goes on after its caller leaves (repeat the call to learn its outcome);
// when it settles with nobody waiting, the audit trail still gets its outcome and the lead's id.
TEST_F(CallersTest, AnIdempotentWriteThatSettlesAfterItsCallerLeftIsAudited) {
  StartStack(true);
  emu::FaultRule slow;
  slow.method = "POST";
  slow.path_prefix = "/api/v4/leads";
  slow.action = emu::FaultAction::kLatency;
  slow.delay = std::chrono::milliseconds(1500);
  ASSERT_TRUE(emulator_->AddFault(slow).ok());
  grpc::ClientContext context;
  Authorize(context, kChatbotToken);
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(400));
  v1::CreateLeadResponse created;
  CallError error = Inspect(CreateLead(context, &created));
  EXPECT_EQ(error.code, grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_EQ(error.reason, "WRITE_OUTCOME_UNKNOWN");
  std::string settled;
  for (int i = 0; i < 100 && settled.empty(); ++i) {
    for (const std::string& line : Lines()) {
      if (line.find("\"msg\":\"audit\"") != std::string::npos &&
          line.find("\"code\":\"OK\"") != std::string::npos) {
        settled = line;
      }
    }
    if (settled.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(LeadsInKommo(), 1);
  ASSERT_FALSE(settled.empty()) << ::testing::PrintToString(Lines());
  EXPECT_THAT(settled, HasSubstr("\"caller\":\"chatbot\""));
  EXPECT_THAT(settled, HasSubstr("\"idempotency_key\":\"chat-42\""));
  EXPECT_THAT(settled, HasSubstr("\"lead_id\":\""));
  EXPECT_THAT(settled, HasSubstr("\"caller_gone\":true"));
  for (const std::string& line : Lines()) {
    EXPECT_THAT(line, Not(HasSubstr("Jane Roe"))) << "contact data in the log";
  }
}

// request_ids are per caller: the same id from two callers is two requests, and a repeat from
// the same caller is answered from the first.
TEST_F(CallersTest, EachCallerHasItsOwnRequestIds) {
  StartStack(true);
  auto create = [this](const char* token) {
    grpc::ClientContext context;
    Authorize(context, token);
    v1::CreateLeadResponse created;
    grpc::Status status = CreateLead(context, &created);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return created.lead().id();
  };
  const int64_t chatbot = create(kChatbotToken);
  const int64_t sync = create(kSyncToken);
  EXPECT_NE(chatbot, sync);
  EXPECT_EQ(create(kChatbotToken), chatbot);
  EXPECT_EQ(LeadsInKommo(), 2);
}

TEST_F(CallersTest, AMethodOutsideItsPermissionsIsDeniedBeforeKommo) {
  StartStack(true);
  grpc::ClientContext context;
  Authorize(context, kAnalyticsToken);
  v1::CreateLeadResponse created;
  CallError error = Inspect(CreateLead(context, &created));
  EXPECT_EQ(error.code, grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(error.reason, "METHOD_NOT_PERMITTED");
  EXPECT_EQ(error.metadata["caller"], "analytics");
  EXPECT_EQ(LeadsInKommo(), 0);
  // The refused write is in the audit trail too.
  bool audited = false;
  for (const std::string& line : Lines()) {
    audited = audited || (line.find("\"msg\":\"audit\"") != std::string::npos &&
                          line.find("\"caller\":\"analytics\"") != std::string::npos &&
                          line.find("PERMISSION_DENIED") != std::string::npos);
  }
  EXPECT_TRUE(audited);
  // Reads are allowed.
  grpc::ClientContext read;
  Authorize(read, kAnalyticsToken);
  v1::SearchLeadsRequest search;
  search.set_query("x");
  v1::SearchLeadsResponse found;
  grpc::Status status = stack_->leads->SearchLeads(&read, search, &found);
  EXPECT_TRUE(status.ok()) << status.error_message();
}

TEST_F(CallersTest, CallsWithoutValidCredentialsAreUnauthenticated) {
  StartStack(true);
  struct Case {
    std::string key;
    std::string value;
    std::string problem;
  };
  const Case cases[] = {
      {"", "", "missing"},
      {"authorization", kChatbotToken, "malformed"},
      {"x-api-key", kChatbotToken, "wrong_place"},
      {"authorization", "Bearer not-a-token-we-know", "unknown"},
      {"authorization", absl::StrCat("Bearer ", kRetiredToken), "expired"},
  };
  for (const Case& each : cases) {
    grpc::ClientContext context;
    if (!each.key.empty()) context.AddMetadata(each.key, each.value);
    v1::CreateLeadResponse created;
    CallError error = Inspect(CreateLead(context, &created));
    EXPECT_EQ(error.code, grpc::StatusCode::UNAUTHENTICATED) << each.problem;
    EXPECT_EQ(error.reason, "CALLER_UNAUTHENTICATED") << each.problem;
    EXPECT_EQ(error.metadata["problem"], each.problem);
    EXPECT_THAT(error.message, Not(HasSubstr(kChatbotToken)));
  }
  // A change stream is checked the same way.
  grpc::ClientContext watch_context;
  v1::WatchLeadsRequest watch;
  auto reader = stack_->leads->WatchLeads(&watch_context, watch);
  v1::WatchLeadsResponse change;
  EXPECT_FALSE(reader->Read(&change));
  EXPECT_EQ(Inspect(reader->Finish()).code, grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(LeadsInKommo(), 0);
  for (const std::string& line : Lines()) {
    EXPECT_THAT(line, Not(HasSubstr(kChatbotToken))) << "a token in the log";
  }
}

TEST_F(CallersTest, HealthIsOpenAndReflectionFollowsItsSetting) {
  StartStack(false);
  auto health = grpc::health::v1::Health::NewStub(stack_->channel());
  grpc::ClientContext health_context;
  grpc::health::v1::HealthCheckRequest check;
  grpc::health::v1::HealthCheckResponse serving;
  ASSERT_TRUE(health->Check(&health_context, check, &serving).ok());
  EXPECT_EQ(serving.status(), grpc::health::v1::HealthCheckResponse::SERVING);

  auto reflection = grpc::reflection::v1alpha::ServerReflection::NewStub(stack_->channel());
  grpc::reflection::v1alpha::ServerReflectionRequest list;
  list.set_list_services("*");
  grpc::reflection::v1alpha::ServerReflectionResponse services;
  {
    grpc::ClientContext context;  // no credentials: refused
    auto stream = reflection->ServerReflectionInfo(&context);
    stream->Write(list);
    stream->WritesDone();
    EXPECT_FALSE(stream->Read(&services));
    EXPECT_EQ(Inspect(stream->Finish()).code, grpc::StatusCode::UNAUTHENTICATED);
  }
  {
    grpc::ClientContext context;
    Authorize(context, kAnalyticsToken);
    auto stream = reflection->ServerReflectionInfo(&context);
    stream->Write(list);
    stream->WritesDone();
    EXPECT_TRUE(stream->Read(&services));
    EXPECT_TRUE(stream->Finish().ok());
    EXPECT_GT(services.list_services_response().service_size(), 5);
  }
}

TEST_F(CallersTest, ReflectionIsOpenByDefault) {
  StartStack(true);
  auto reflection = grpc::reflection::v1alpha::ServerReflection::NewStub(stack_->channel());
  grpc::ClientContext context;
  auto stream = reflection->ServerReflectionInfo(&context);
  grpc::reflection::v1alpha::ServerReflectionRequest list;
  list.set_list_services("*");
  stream->Write(list);
  stream->WritesDone();
  grpc::reflection::v1alpha::ServerReflectionResponse services;
  EXPECT_TRUE(stream->Read(&services));
  EXPECT_TRUE(stream->Finish().ok());
}

}  // namespace
}  // namespace kommo
