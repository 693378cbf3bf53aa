// The channel's service config, for real: a fake kommo.v1 server in-process on 127.0.0.1:0 fails
// the first attempts as scripted, and the tests count the attempts gRPC makes.
#include "kommo/client/channel.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/validate_service_config.h>
#include <gtest/gtest.h>

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "kommo/client/errors.h"
#include "kommo/v1/account_service.grpc.pb.h"
#include "kommo/v1/company_service.grpc.pb.h"
#include "kommo/v1/contact_service.grpc.pb.h"
#include "kommo/v1/lead_service.grpc.pb.h"
#include "kommo/v1/link_service.grpc.pb.h"
#include "kommo/v1/note_service.grpc.pb.h"
#include "kommo/v1/task_service.grpc.pb.h"

namespace kommo::client {
namespace {

using Clock = std::chrono::steady_clock;

// What the fake answers to one attempt.
struct Reply {
  grpc::StatusCode code = grpc::StatusCode::OK;
  int pushback_ms = -1;  // != -1: send it as the grpc-retry-pushback-ms trailer
  bool hold = false;     // answer only when the client gives up (or after kHoldLimit)
};

constexpr std::chrono::seconds kHoldLimit(10);

// Records every attempt per method and answers from a script (then OK).
class Script {
 public:
  void Add(const std::string& method, Reply reply) {
    std::lock_guard<std::mutex> lock(mu_);
    replies_[method].push_back(reply);
  }
  // One attempt of `method`: records it, returns the scripted reply.
  grpc::Status Attempt(const std::string& method, grpc::ServerContext* context) {
    Reply reply;
    {
      std::lock_guard<std::mutex> lock(mu_);
      attempts_[method].push_back(Clock::now());
      deadlines_[method] = context->deadline();
      if (!replies_[method].empty()) {
        reply = replies_[method].front();
        replies_[method].pop_front();
      }
    }
    // A sync handler has no cancellation callback: poll.
    const auto hold_until = Clock::now() + kHoldLimit;
    while (reply.hold && !context->IsCancelled() && Clock::now() < hold_until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (reply.code == grpc::StatusCode::OK) return grpc::Status::OK;
    if (reply.pushback_ms != -1) {
      context->AddTrailingMetadata("grpc-retry-pushback-ms", std::to_string(reply.pushback_ms));
    }
    return grpc::Status(reply.code, "scripted failure of " + method);
  }
  std::vector<Clock::time_point> Attempts(const std::string& method) {
    std::lock_guard<std::mutex> lock(mu_);
    return attempts_[method];
  }
  std::chrono::system_clock::time_point Deadline(const std::string& method) {
    std::lock_guard<std::mutex> lock(mu_);
    return deadlines_[method];
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::deque<Reply>> replies_;
  std::map<std::string, std::vector<Clock::time_point>> attempts_;
  std::map<std::string, std::chrono::system_clock::time_point> deadlines_;
};

class FakeLeadService final : public kommo::v1::LeadService::Service {
 public:
  explicit FakeLeadService(Script* script) : script_(script) {}
  grpc::Status CreateLead(grpc::ServerContext* context, const kommo::v1::CreateLeadRequest*,
                          kommo::v1::CreateLeadResponse* response) override {
    response->mutable_lead()->set_id(31000000001);
    return script_->Attempt("CreateLead", context);
  }
  grpc::Status UpdateLead(grpc::ServerContext* context, const kommo::v1::UpdateLeadRequest*,
                          kommo::v1::UpdateLeadResponse*) override {
    return script_->Attempt("UpdateLead", context);
  }
  grpc::Status GetLead(grpc::ServerContext* context, const kommo::v1::GetLeadRequest* request,
                       kommo::v1::GetLeadResponse* response) override {
    response->mutable_lead()->set_id(request->lead_id());
    return script_->Attempt("GetLead", context);
  }
  grpc::Status SearchLeads(grpc::ServerContext* context, const kommo::v1::SearchLeadsRequest*,
                           kommo::v1::SearchLeadsResponse*) override {
    return script_->Attempt("SearchLeads", context);
  }
  grpc::Status ListLeads(grpc::ServerContext* context, const kommo::v1::ListLeadsRequest*,
                         kommo::v1::ListLeadsResponse*) override {
    return script_->Attempt("ListLeads", context);
  }

 private:
  Script* script_;
};

class FakeContactService final : public kommo::v1::ContactService::Service {
 public:
  explicit FakeContactService(Script* script) : script_(script) {}
  grpc::Status CreateContact(grpc::ServerContext* context, const kommo::v1::CreateContactRequest*,
                             kommo::v1::CreateContactResponse*) override {
    return script_->Attempt("CreateContact", context);
  }
  grpc::Status GetContact(grpc::ServerContext* context, const kommo::v1::GetContactRequest*,
                          kommo::v1::GetContactResponse*) override {
    return script_->Attempt("GetContact", context);
  }
  grpc::Status SearchContacts(grpc::ServerContext* context, const kommo::v1::SearchContactsRequest*,
                              kommo::v1::SearchContactsResponse*) override {
    return script_->Attempt("SearchContacts", context);
  }

 private:
  Script* script_;
};

class FakeCompanyService final : public kommo::v1::CompanyService::Service {
 public:
  explicit FakeCompanyService(Script* script) : script_(script) {}
  grpc::Status CreateCompany(grpc::ServerContext* context, const kommo::v1::CreateCompanyRequest*,
                             kommo::v1::CreateCompanyResponse*) override {
    return script_->Attempt("CreateCompany", context);
  }
  grpc::Status UpdateCompany(grpc::ServerContext* context, const kommo::v1::UpdateCompanyRequest*,
                             kommo::v1::UpdateCompanyResponse*) override {
    return script_->Attempt("UpdateCompany", context);
  }
  grpc::Status GetCompany(grpc::ServerContext* context, const kommo::v1::GetCompanyRequest*,
                          kommo::v1::GetCompanyResponse*) override {
    return script_->Attempt("GetCompany", context);
  }
  grpc::Status SearchCompanies(grpc::ServerContext* context,
                               const kommo::v1::SearchCompaniesRequest*,
                               kommo::v1::SearchCompaniesResponse*) override {
    return script_->Attempt("SearchCompanies", context);
  }

 private:
  Script* script_;
};

class FakeLinkService final : public kommo::v1::LinkService::Service {
 public:
  explicit FakeLinkService(Script* script) : script_(script) {}
  grpc::Status LinkEntities(grpc::ServerContext* context, const kommo::v1::LinkEntitiesRequest*,
                            kommo::v1::LinkEntitiesResponse*) override {
    return script_->Attempt("LinkEntities", context);
  }
  grpc::Status UnlinkEntities(grpc::ServerContext* context, const kommo::v1::UnlinkEntitiesRequest*,
                              kommo::v1::UnlinkEntitiesResponse*) override {
    return script_->Attempt("UnlinkEntities", context);
  }
  grpc::Status ListLinks(grpc::ServerContext* context, const kommo::v1::ListLinksRequest*,
                         kommo::v1::ListLinksResponse*) override {
    return script_->Attempt("ListLinks", context);
  }

 private:
  Script* script_;
};

// Short backoffs keep the tests fast; the codes retried are the production ones. No retry
// throttling: its token bucket is per server name and process, and a later test may get the same
// port as an earlier one.
ChannelOptions FastRetries() {
  ChannelOptions options;
  options.retry.initial_backoff = std::chrono::milliseconds(10);
  options.retry.max_backoff = std::chrono::milliseconds(20);
  options.retry.throttle_max_tokens = 0;
  return options;
}

class ChannelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&leads_service_);
    builder.RegisterService(&contacts_service_);
    builder.RegisterService(&companies_service_);
    builder.RegisterService(&links_service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port_, 0);
  }
  void TearDown() override { server_->Shutdown(std::chrono::system_clock::now()); }

  std::string Target() const { return "127.0.0.1:" + std::to_string(port_); }

  grpc::Status GetLead(const std::shared_ptr<grpc::Channel>& channel) {
    kommo::v1::LeadService::Stub stub(channel);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    kommo::v1::GetLeadRequest request;
    request.set_lead_id(31000000001);
    kommo::v1::GetLeadResponse response;
    return stub.GetLead(&context, request, &response);
  }
  grpc::Status CreateLead(const std::shared_ptr<grpc::Channel>& channel) {
    kommo::v1::LeadService::Stub stub(channel);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    kommo::v1::CreateLeadRequest request;
    request.set_name("x");
    kommo::v1::CreateLeadResponse response;
    return stub.CreateLead(&context, request, &response);
  }

  Script script_;
  FakeLeadService leads_service_{&script_};
  FakeContactService contacts_service_{&script_};
  FakeCompanyService companies_service_{&script_};
  FakeLinkService links_service_{&script_};
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

TEST(ServiceConfigTest, IsValidForGrpc) {
  EXPECT_EQ(grpc::experimental::ValidateServiceConfigJSON(ServiceConfigJson()), "");
  ChannelOptions no_retries;
  no_retries.retry.max_attempts = 1;
  EXPECT_EQ(grpc::experimental::ValidateServiceConfigJSON(ServiceConfigJson(no_retries)), "");
  EXPECT_EQ(ServiceConfigJson(no_retries).find("retryPolicy"), std::string::npos);
  EXPECT_EQ(ServiceConfigJson(no_retries).find("retryThrottling"), std::string::npos);
}

// The lead-capture RPCs: reads retry like the other reads; every write (creates, accept and
// decline of incoming leads, notes) only on RESOURCE_EXHAUSTED.
TEST(ServiceConfigTest, LeadCaptureMethodsFollowTheSamePolicy) {
  const std::string json = ServiceConfigJson();
  const size_t writes = json.find("\"method\":\"CreateLead\"");
  ASSERT_NE(writes, std::string::npos);
  const std::string reads_entry = json.substr(0, writes);
  const std::string writes_entry = json.substr(writes, json.find("]}", writes) + 2 - writes);
  for (const char* read : {"\"ListIncomingLeads\"", "\"LookupContacts\"", "\"ListNotes\""}) {
    EXPECT_NE(reads_entry.find(read), std::string::npos) << read;
  }
  EXPECT_NE(reads_entry.find("\"service\":\"kommo.v1.NoteService\",\"method\":\"ListNotes\""),
            std::string::npos);
  for (const char* write :
       {"\"CreateLeadWithContact\"", "\"CreateIncomingLead\"", "\"AcceptIncomingLead\"",
        "\"DeclineIncomingLead\"", "\"FindOrCreateContact\"", "\"AddNote\""}) {
    EXPECT_NE(writes_entry.find(write), std::string::npos) << write;
    EXPECT_EQ(reads_entry.find(write), std::string::npos) << write;
  }
  EXPECT_NE(writes_entry.find("\"retryableStatusCodes\":[\"RESOURCE_EXHAUSTED\"]"),
            std::string::npos);
}

// The catalogue reads and the task RPCs: reads and CompleteTask (a PATCH of given values) retry
// like reads; CreateTask only on RESOURCE_EXHAUSTED.
TEST(ServiceConfigTest, AccountAndTaskMethodsFollowTheSamePolicy) {
  const std::string json = ServiceConfigJson();
  const size_t writes = json.find("\"method\":\"CreateLead\"");
  ASSERT_NE(writes, std::string::npos);
  const std::string reads_entry = json.substr(0, writes);
  const std::string writes_entry = json.substr(writes, json.find("]}", writes) + 2 - writes);
  for (const char* read :
       {"\"GetAccount\"", "\"ListPipelines\"", "\"ListUsers\"", "\"ListCustomFields\"",
        "\"ListLossReasons\"", "\"ListTasks\"", "\"CompleteTask\""}) {
    EXPECT_NE(reads_entry.find(read), std::string::npos) << read;
    EXPECT_EQ(writes_entry.find(read), std::string::npos) << read;
  }
  EXPECT_NE(writes_entry.find("\"service\":\"kommo.v1.TaskService\",\"method\":\"CreateTask\""),
            std::string::npos);
  EXPECT_EQ(reads_entry.find("\"CreateTask\""), std::string::npos);
}

// Companies, links and the lead list: reads and UpdateCompany retry like reads; CreateCompany,
// LinkEntities and UnlinkEntities only on RESOURCE_EXHAUSTED.
TEST(ServiceConfigTest, CompanyLinkAndListLeadsMethodsFollowTheSamePolicy) {
  const std::string json = ServiceConfigJson();
  const size_t writes = json.find("\"method\":\"CreateLead\"");
  ASSERT_NE(writes, std::string::npos);
  const std::string reads_entry = json.substr(0, writes);
  const std::string writes_entry = json.substr(writes, json.find("]}", writes) + 2 - writes);
  auto name = [](const std::string& service, const std::string& method) {
    return "{\"service\":\"kommo.v1." + service + "\",\"method\":\"" + method + "\"}";
  };
  for (const auto& [service, method] :
       std::vector<std::pair<std::string, std::string>>{{"LeadService", "ListLeads"},
                                                        {"CompanyService", "GetCompany"},
                                                        {"CompanyService", "SearchCompanies"},
                                                        {"CompanyService", "UpdateCompany"},
                                                        {"LinkService", "ListLinks"}}) {
    EXPECT_NE(reads_entry.find(name(service, method)), std::string::npos) << method;
    EXPECT_EQ(writes_entry.find("\"" + method + "\""), std::string::npos) << method;
  }
  for (const auto& [service, method] :
       std::vector<std::pair<std::string, std::string>>{{"CompanyService", "CreateCompany"},
                                                        {"LinkService", "LinkEntities"},
                                                        {"LinkService", "UnlinkEntities"}}) {
    EXPECT_NE(writes_entry.find(name(service, method)), std::string::npos) << method;
    EXPECT_EQ(reads_entry.find("\"" + method + "\""), std::string::npos) << method;
  }
}

// Every method of every kommo.v1 service is named exactly once: a method left out is never
// retried, which is safe for a write but wrong for a read; the writes are the list below.
TEST(ServiceConfigTest, EveryMethodHasItsPolicy) {
  const std::set<std::string> writes = {"CreateLead",
                                        "CreateLeadWithContact",
                                        "CreateIncomingLead",
                                        "AcceptIncomingLead",
                                        "DeclineIncomingLead",
                                        "CreateContact",
                                        "FindOrCreateContact",
                                        "CreateCompany",
                                        "LinkEntities",
                                        "UnlinkEntities",
                                        "AddNote",
                                        "CreateTask"};
  const std::string json = ServiceConfigJson();
  // The second methodConfig entry, the writes', starts with CreateLead.
  const size_t writes_start =
      json.find("{\"service\":\"kommo.v1.LeadService\",\"method\":\"CreateLead\"}");
  ASSERT_NE(writes_start, std::string::npos);
  ASSERT_NE(json.find("\"retryPolicy\"", writes_start), std::string::npos);
  ASSERT_LT(json.find("\"retryPolicy\""), writes_start) << "the reads' entry comes first";
  int methods = 0;
  // A request type's descriptor() links in the .proto file that declares its service.
  for (const google::protobuf::ServiceDescriptor* service :
       {kommo::v1::GetLeadRequest::descriptor()->file()->service(0),
        kommo::v1::GetContactRequest::descriptor()->file()->service(0),
        kommo::v1::GetCompanyRequest::descriptor()->file()->service(0),
        kommo::v1::ListLinksRequest::descriptor()->file()->service(0),
        kommo::v1::ListNotesRequest::descriptor()->file()->service(0),
        kommo::v1::GetAccountRequest::descriptor()->file()->service(0),
        kommo::v1::ListTasksRequest::descriptor()->file()->service(0)}) {
    ASSERT_NE(service, nullptr);
    for (int i = 0; i < service->method_count(); ++i) {
      ++methods;
      const std::string& method = service->method(i)->name();
      const std::string entry =
          "{\"service\":\"" + service->full_name() + "\",\"method\":\"" + method + "\"}";
      const size_t at = json.find(entry);
      ASSERT_NE(at, std::string::npos) << entry;
      EXPECT_EQ(json.find(entry, at + 1), std::string::npos) << entry << " is named twice";
      EXPECT_EQ(at >= writes_start, writes.count(method) == 1) << entry;
    }
  }
  EXPECT_EQ(methods, 35);
}

TEST(ServiceConfigTest, CreatesRetryOnlyResourceExhausted) {
  const std::string json = ServiceConfigJson();
  const size_t creates = json.find("\"method\":\"CreateLead\"");
  ASSERT_NE(creates, std::string::npos);
  const std::string entry = json.substr(creates, json.find("]}", creates) + 2 - creates);
  EXPECT_NE(entry.find("CreateContact"), std::string::npos);
  EXPECT_NE(entry.find("\"retryableStatusCodes\":[\"RESOURCE_EXHAUSTED\"]"), std::string::npos)
      << entry;
  EXPECT_NE(json.find("\"retryThrottling\":{\"maxTokens\":10,\"tokenRatio\":0.1}"),
            std::string::npos)
      << json;
}

TEST_F(ChannelTest, ReadIsRetriedAfterUnavailable) {
  script_.Add("GetLead", {grpc::StatusCode::UNAVAILABLE});

  const grpc::Status status = GetLead(CreateChannel(Target(), FastRetries()));

  EXPECT_TRUE(status.ok()) << FormatError(status);
  EXPECT_EQ(script_.Attempts("GetLead").size(), 2u);
}

// Debian's gRPC 1.51 enables retries by default: a channel given only the service config (no
// GRPC_ARG_ENABLE_RETRIES) retries too.
TEST_F(ChannelTest, RetriesNeedNoChannelArgumentInGrpc151) {
  script_.Add("GetLead", {grpc::StatusCode::UNAVAILABLE});
  grpc::ChannelArguments args;
  args.SetServiceConfigJSON(ServiceConfigJson(FastRetries()));

  const grpc::Status status =
      GetLead(grpc::CreateCustomChannel(Target(), grpc::InsecureChannelCredentials(), args));

  EXPECT_TRUE(status.ok()) << FormatError(status);
  EXPECT_EQ(script_.Attempts("GetLead").size(), 2u);
}

TEST_F(ChannelTest, WithoutTheServiceConfigNothingIsRetried) {
  script_.Add("GetLead", {grpc::StatusCode::UNAVAILABLE});

  const grpc::Status status =
      GetLead(grpc::CreateChannel(Target(), grpc::InsecureChannelCredentials()));

  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(script_.Attempts("GetLead").size(), 1u);
}

TEST_F(ChannelTest, RetriesStopAfterMaxAttempts) {
  for (int i = 0; i < 6; ++i) script_.Add("GetLead", {grpc::StatusCode::UNAVAILABLE});

  const grpc::Status status = GetLead(CreateChannel(Target(), FastRetries()));

  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(script_.Attempts("GetLead").size(), 4u);
}

TEST_F(ChannelTest, MaxAttemptsOneTurnsRetriesOff) {
  script_.Add("GetLead", {grpc::StatusCode::UNAVAILABLE});
  ChannelOptions options = FastRetries();
  options.retry.max_attempts = 1;

  EXPECT_EQ(GetLead(CreateChannel(Target(), options)).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(script_.Attempts("GetLead").size(), 1u);
}

TEST_F(ChannelTest, OtherCodesAreNotRetried) {
  script_.Add("GetLead", {grpc::StatusCode::NOT_FOUND});
  script_.Add("SearchLeads", {grpc::StatusCode::INVALID_ARGUMENT});
  script_.Add("UpdateLead", {grpc::StatusCode::FAILED_PRECONDITION});
  auto channel = CreateChannel(Target(), FastRetries());

  EXPECT_EQ(GetLead(channel).error_code(), grpc::StatusCode::NOT_FOUND);
  kommo::v1::LeadService::Stub stub(channel);
  {
    grpc::ClientContext context;
    kommo::v1::SearchLeadsResponse response;
    EXPECT_EQ(stub.SearchLeads(&context, {}, &response).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  {
    grpc::ClientContext context;
    kommo::v1::UpdateLeadResponse response;
    EXPECT_EQ(stub.UpdateLead(&context, {}, &response).error_code(),
              grpc::StatusCode::FAILED_PRECONDITION);
  }
  EXPECT_EQ(script_.Attempts("GetLead").size(), 1u);
  EXPECT_EQ(script_.Attempts("SearchLeads").size(), 1u);
  EXPECT_EQ(script_.Attempts("UpdateLead").size(), 1u);
}

TEST_F(ChannelTest, UpdatesAndSearchesRetryBothCodes) {
  script_.Add("UpdateLead", {grpc::StatusCode::UNAVAILABLE});
  script_.Add("UpdateLead", {grpc::StatusCode::RESOURCE_EXHAUSTED});
  script_.Add("SearchContacts", {grpc::StatusCode::RESOURCE_EXHAUSTED});
  script_.Add("GetContact", {grpc::StatusCode::UNAVAILABLE});
  auto channel = CreateChannel(Target(), FastRetries());
  kommo::v1::LeadService::Stub leads(channel);
  kommo::v1::ContactService::Stub contacts(channel);

  grpc::ClientContext update_context;
  kommo::v1::UpdateLeadResponse update_response;
  EXPECT_TRUE(leads.UpdateLead(&update_context, {}, &update_response).ok());
  grpc::ClientContext search_context;
  kommo::v1::SearchContactsResponse search_response;
  EXPECT_TRUE(contacts.SearchContacts(&search_context, {}, &search_response).ok());
  grpc::ClientContext get_context;
  kommo::v1::GetContactResponse get_response;
  EXPECT_TRUE(contacts.GetContact(&get_context, {}, &get_response).ok());

  EXPECT_EQ(script_.Attempts("UpdateLead").size(), 3u);
  EXPECT_EQ(script_.Attempts("SearchContacts").size(), 2u);
  EXPECT_EQ(script_.Attempts("GetContact").size(), 2u);
}

// The companies, links and lead list over the wire: reads and UpdateCompany again after
// UNAVAILABLE; CreateCompany, LinkEntities and UnlinkEntities not, but after RESOURCE_EXHAUSTED.
TEST_F(ChannelTest, CompanyAndLinkMethodsRetryByTheirClass) {
  for (const char* method : {"ListLeads", "GetCompany", "SearchCompanies", "UpdateCompany",
                             "ListLinks", "CreateCompany", "LinkEntities", "UnlinkEntities"}) {
    script_.Add(method, {grpc::StatusCode::UNAVAILABLE});
  }
  script_.Add("CreateCompany", {grpc::StatusCode::RESOURCE_EXHAUSTED});
  script_.Add("LinkEntities", {grpc::StatusCode::RESOURCE_EXHAUSTED});
  script_.Add("UnlinkEntities", {grpc::StatusCode::RESOURCE_EXHAUSTED});
  auto channel = CreateChannel(Target(), FastRetries());
  kommo::v1::LeadService::Stub leads(channel);
  kommo::v1::CompanyService::Stub companies(channel);
  kommo::v1::LinkService::Stub links(channel);
  // Each call with a fresh context and response.
  auto call = [](auto method) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    return method(&context);
  };

  EXPECT_TRUE(call([&](grpc::ClientContext* c) {
                kommo::v1::ListLeadsResponse r;
                return leads.ListLeads(c, {}, &r);
              }).ok());
  EXPECT_TRUE(call([&](grpc::ClientContext* c) {
                kommo::v1::GetCompanyResponse r;
                return companies.GetCompany(c, {}, &r);
              }).ok());
  EXPECT_TRUE(call([&](grpc::ClientContext* c) {
                kommo::v1::SearchCompaniesResponse r;
                return companies.SearchCompanies(c, {}, &r);
              }).ok());
  EXPECT_TRUE(call([&](grpc::ClientContext* c) {
                kommo::v1::UpdateCompanyResponse r;
                return companies.UpdateCompany(c, {}, &r);
              }).ok());
  EXPECT_TRUE(call([&](grpc::ClientContext* c) {
                kommo::v1::ListLinksResponse r;
                return links.ListLinks(c, {}, &r);
              }).ok());
  for (int i = 0; i < 2; ++i) {  // UNAVAILABLE: not repeated; then RESOURCE_EXHAUSTED: repeated
    const grpc::StatusCode want = i == 0 ? grpc::StatusCode::UNAVAILABLE : grpc::StatusCode::OK;
    EXPECT_EQ(call([&](grpc::ClientContext* c) {
                kommo::v1::CreateCompanyResponse r;
                return companies.CreateCompany(c, {}, &r);
              }).error_code(),
              want);
    EXPECT_EQ(call([&](grpc::ClientContext* c) {
                kommo::v1::LinkEntitiesResponse r;
                return links.LinkEntities(c, {}, &r);
              }).error_code(),
              want);
    EXPECT_EQ(call([&](grpc::ClientContext* c) {
                kommo::v1::UnlinkEntitiesResponse r;
                return links.UnlinkEntities(c, {}, &r);
              }).error_code(),
              want);
  }

  for (const char* read :
       {"ListLeads", "GetCompany", "SearchCompanies", "UpdateCompany", "ListLinks"}) {
    EXPECT_EQ(script_.Attempts(read).size(), 2u) << read;
  }
  for (const char* write : {"CreateCompany", "LinkEntities", "UnlinkEntities"}) {
    EXPECT_EQ(script_.Attempts(write).size(), 3u) << write;  // 1, then 2 (RESOURCE_EXHAUSTED, OK)
  }
}

// UNAVAILABLE on a create may mean Kommo created it: never repeated.
TEST_F(ChannelTest, CreatesAreNotRetriedAfterUnavailable) {
  script_.Add("CreateLead", {grpc::StatusCode::UNAVAILABLE});
  script_.Add("CreateContact", {grpc::StatusCode::UNAVAILABLE});
  auto channel = CreateChannel(Target(), FastRetries());

  EXPECT_EQ(CreateLead(channel).error_code(), grpc::StatusCode::UNAVAILABLE);
  kommo::v1::ContactService::Stub contacts(channel);
  grpc::ClientContext context;
  kommo::v1::CreateContactResponse response;
  EXPECT_EQ(contacts.CreateContact(&context, {}, &response).error_code(),
            grpc::StatusCode::UNAVAILABLE);

  EXPECT_EQ(script_.Attempts("CreateLead").size(), 1u);
  EXPECT_EQ(script_.Attempts("CreateContact").size(), 1u);
}

// RESOURCE_EXHAUSTED means Kommo did not act: a create is retried, after the server's pushback
// rather than gRPC's own (10 ms) backoff.
TEST_F(ChannelTest, CreatesRetryResourceExhaustedAfterThePushback) {
  script_.Add("CreateLead", {grpc::StatusCode::RESOURCE_EXHAUSTED, 300});

  const grpc::Status status = CreateLead(CreateChannel(Target(), FastRetries()));

  EXPECT_TRUE(status.ok()) << FormatError(status);
  const std::vector<Clock::time_point> attempts = script_.Attempts("CreateLead");
  ASSERT_EQ(attempts.size(), 2u);
  // gRPC's own backoff here is at most 20 ms; its timers may fire a millisecond early.
  EXPECT_GE(attempts[1] - attempts[0], std::chrono::milliseconds(250));
}

// A negative pushback tells gRPC not to retry: the caller gets RESOURCE_EXHAUSTED (and the
// RetryInfo beside it) at once.
TEST_F(ChannelTest, NegativePushbackStopsRetries) {
  script_.Add("GetLead", {grpc::StatusCode::RESOURCE_EXHAUSTED, /*pushback_ms=*/-2});

  EXPECT_EQ(GetLead(CreateChannel(Target(), FastRetries())).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(script_.Attempts("GetLead").size(), 1u);
}

// gRPC 1.51 waits out a pushback even when it ends after the call's deadline: the caller then gets
// DEADLINE_EXCEEDED at its deadline, not the RESOURCE_EXHAUSTED (README "Client library").
TEST_F(ChannelTest, PushbackBeyondTheDeadlineEndsInDeadlineExceeded) {
  script_.Add("GetLead", {grpc::StatusCode::RESOURCE_EXHAUSTED, /*pushback_ms=*/5000});
  kommo::v1::LeadService::Stub stub(CreateChannel(Target(), FastRetries()));
  std::unique_ptr<grpc::ClientContext> context = NewCallContext(std::chrono::milliseconds(300));
  kommo::v1::GetLeadResponse response;

  EXPECT_EQ(stub.GetLead(context.get(), {}, &response).error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_EQ(script_.Attempts("GetLead").size(), 1u);
}

// NewCallContext's deadline reaches the server (grpc-timeout), so it can stop work nobody waits
// for.
TEST_F(ChannelTest, NewCallContextSendsItsDeadline) {
  kommo::v1::LeadService::Stub stub(CreateChannel(Target(), FastRetries()));
  const auto before = std::chrono::system_clock::now();
  std::unique_ptr<grpc::ClientContext> context = NewCallContext(std::chrono::seconds(7));
  kommo::v1::GetLeadResponse response;

  ASSERT_TRUE(stub.GetLead(context.get(), {}, &response).ok());

  // grpc-timeout is coarse (and rounded up): allow a second either way.
  const auto deadline = script_.Deadline("GetLead");
  EXPECT_GT(deadline, before + std::chrono::seconds(6));
  EXPECT_LT(deadline, std::chrono::system_clock::now() + std::chrono::seconds(8));
  EXPECT_GT(NewCallContext()->deadline(),
            std::chrono::system_clock::now() + std::chrono::seconds(29));
}

TEST_F(ChannelTest, TheDeadlineEndsACallTheServerHolds) {
  script_.Add("GetLead", {grpc::StatusCode::OK, -1, /*hold=*/true});
  kommo::v1::LeadService::Stub stub(CreateChannel(Target(), FastRetries()));
  const auto start = Clock::now();
  std::unique_ptr<grpc::ClientContext> context = NewCallContext(std::chrono::milliseconds(200));
  kommo::v1::GetLeadResponse response;

  EXPECT_EQ(stub.GetLead(context.get(), {}, &response).error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);

  // Ended by the deadline (gRPC's timers may fire a millisecond early), not by the server.
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(150));
  EXPECT_LT(Clock::now() - start, kHoldLimit);
}

}  // namespace
}  // namespace kommo::client

namespace kommo::client {
namespace {

// Answers GetLead with the call's x-kommo-account values, joined by ",", as the lead's name.
class AccountEchoService final : public kommo::v1::LeadService::Service {
 public:
  grpc::Status GetLead(grpc::ServerContext* context, const kommo::v1::GetLeadRequest*,
                       kommo::v1::GetLeadResponse* response) override {
    std::string accounts;
    const auto range = context->client_metadata().equal_range("x-kommo-account");
    for (auto it = range.first; it != range.second; ++it) {
      if (!accounts.empty()) accounts += ",";
      accounts.append(it->second.data(), it->second.size());
    }
    response->mutable_lead()->set_name(accounts);
    return grpc::Status::OK;
  }
};

TEST(AccountTest, TheChannelsAccountUnlessTheCallNamesItsOwn) {
  AccountEchoService service;
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  const std::string target = "127.0.0.1:" + std::to_string(port);
  const auto accounts_seen = [](const std::shared_ptr<grpc::Channel>& channel,
                                const std::string& per_call) {
    kommo::v1::LeadService::Stub stub(channel);
    std::unique_ptr<grpc::ClientContext> context = NewCallContext();
    if (!per_call.empty()) SetAccount(*context, per_call);
    kommo::v1::GetLeadRequest request;
    kommo::v1::GetLeadResponse response;
    const grpc::Status status = stub.GetLead(context.get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.lead().name();
  };
  EXPECT_EQ(accounts_seen(CreateChannel(target), ""), "");
  EXPECT_EQ(accounts_seen(CreateChannel(target), "beta"), "beta");
  ChannelOptions options;
  options.account = "acme";
  std::shared_ptr<grpc::Channel> acme = CreateChannel(target, options);
  EXPECT_EQ(accounts_seen(acme, ""), "acme");
  EXPECT_EQ(accounts_seen(acme, "beta"), "beta") << "the call's own wins, sent once";
  // With a token over plaintext both ride the one interceptor.
  options.bearer_token = "tok";
  EXPECT_EQ(accounts_seen(CreateChannel(target, options), ""), "acme");
  server->Shutdown(std::chrono::system_clock::now());
}

}  // namespace
}  // namespace kommo::client
