// The real server in-process on 127.0.0.1:0, calling the Kommo emulator on loopback through the
// libcurl transport: every RPC, the documented fields, paging, not found, validation from both
// sides and a wrong token, as a gRPC caller sees them.

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "emulator/emulator.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "kommo/v1/contact_service.grpc.pb.h"
#include "kommo/v1/lead_service.grpc.pb.h"
#include "server/api/grpc_server.h"
#include "server/http/curl_transport.h"
#include "server/kommo/kommo_client.h"
#include "server/kommo/token_source.h"
#include "tests/support/service_stack.h"
#include "tests/support/test_cert.h"

namespace kommo {
namespace {

namespace emu = ::kommo::emulator;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

constexpr char kToken[] = "integration-token";
constexpr int64_t k2Pow31 = int64_t{1} << 31;

using ::kommo::testing::CallError;
using ::kommo::testing::Inspect;
using Stack = ::kommo::testing::ServiceStack;

class ServerIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    emu::EmulatorOptions options;
    options.token = kToken;
    absl::StatusOr<std::unique_ptr<emu::Emulator>> emulator = emu::Emulator::Start(options);
    ASSERT_TRUE(emulator.ok()) << emulator.status();
    emulator_ = std::move(*emulator);
    stack_ = std::make_unique<Stack>(emulator_->base_url() + "/api/v4", kToken);
  }
  void TearDown() override {
    stack_.reset();
    if (emulator_) emulator_->Stop();
  }

  static void WithDeadline(grpc::ClientContext& context, absl::Duration timeout) {
    context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  }

  grpc::Status CreateLead(const v1::CreateLeadRequest& request, v1::Lead* lead) {
    grpc::ClientContext context;
    WithDeadline(context, absl::Seconds(10));
    v1::CreateLeadResponse response;
    grpc::Status status = stack_->leads->CreateLead(&context, request, &response);
    if (lead != nullptr) *lead = response.lead();
    return status;
  }

  v1::Lead MustCreateLead(const std::string& name, int64_t price = 0) {
    v1::CreateLeadRequest request;
    request.set_name(name);
    request.set_price(price);
    v1::Lead lead;
    grpc::Status status = CreateLead(request, &lead);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return lead;
  }

  grpc::Status GetLead(int64_t id, v1::Lead* lead) {
    grpc::ClientContext context;
    WithDeadline(context, absl::Seconds(10));
    v1::GetLeadRequest request;
    request.set_lead_id(id);
    v1::GetLeadResponse response;
    grpc::Status status = stack_->leads->GetLead(&context, request, &response);
    if (lead != nullptr) *lead = response.lead();
    return status;
  }

  grpc::Status SearchLeads(const std::string& query, int32_t page_size, const std::string& token,
                           v1::SearchLeadsResponse* response) {
    grpc::ClientContext context;
    WithDeadline(context, absl::Seconds(10));
    v1::SearchLeadsRequest request;
    request.set_query(query);
    request.set_page_size(page_size);
    request.set_page_token(token);
    return stack_->leads->SearchLeads(&context, request, response);
  }

  grpc::Status CreateContact(const v1::CreateContactRequest& request, v1::Contact* contact) {
    grpc::ClientContext context;
    WithDeadline(context, absl::Seconds(10));
    v1::CreateContactResponse response;
    grpc::Status status = stack_->contacts->CreateContact(&context, request, &response);
    if (contact != nullptr) *contact = response.contact();
    return status;
  }

  v1::Contact MustCreateContact(const std::string& name, const std::string& phone,
                                const std::string& email) {
    v1::CreateContactRequest request;
    request.set_responsible_user_id(emu::kAdminUserId);
    request.set_created_by(emu::kAdminUserId);
    request.set_name(name);
    if (!phone.empty()) request.add_phones(phone);
    if (!email.empty()) request.add_emails(email);
    v1::Contact contact;
    grpc::Status status = CreateContact(request, &contact);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return contact;
  }

  grpc::Status SearchContacts(const std::string& query, v1::SearchContactsResponse* response) {
    grpc::ClientContext context;
    WithDeadline(context, absl::Seconds(10));
    v1::SearchContactsRequest request;
    request.set_query(query);
    return stack_->contacts->SearchContacts(&context, request, response);
  }

  std::unique_ptr<emu::Emulator> emulator_;
  std::unique_ptr<Stack> stack_;
};

TEST_F(ServerIntegrationTest, CreateLeadReturnsTheLeadWithKommosDefaults) {
  const absl::Time before = absl::Now() - absl::Seconds(2);
  v1::CreateLeadRequest request;
  request.set_name("Website inquiry");
  request.set_price(1500);
  v1::Lead lead;
  grpc::Status status = CreateLead(request, &lead);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_GT(lead.id(), k2Pow31);
  EXPECT_EQ(lead.name(), "Website inquiry");
  EXPECT_EQ(lead.price(), 1500);
  EXPECT_EQ(lead.pipeline_id(), emu::kMainPipelineId);
  EXPECT_EQ(lead.status_id(), emu::kMainPipelineFirstStatusId);
  EXPECT_EQ(lead.responsible_user_id(), emu::kAdminUserId);
  EXPECT_EQ(lead.created_by(), emu::kAdminUserId);
  EXPECT_EQ(lead.updated_by(), emu::kAdminUserId);
  EXPECT_EQ(lead.account_id(), emu::kAccountId);
  EXPECT_FALSE(lead.is_deleted());
  EXPECT_FALSE(lead.has_closed_at());
  EXPECT_GE(lead.created_at().seconds(), absl::ToUnixSeconds(before));
  EXPECT_GE(lead.updated_at().seconds(), lead.created_at().seconds());
  EXPECT_EQ(emulator_->lead_count(), 1u);

  v1::Lead fetched;
  ASSERT_TRUE(GetLead(lead.id(), &fetched).ok());
  EXPECT_EQ(fetched.SerializeAsString(), lead.SerializeAsString());
}

TEST_F(ServerIntegrationTest, TheCallersRequestIdComesBackAndAFreshOneIsMadeOtherwise) {
  grpc::ClientContext with_id;
  with_id.AddMetadata("x-request-id", "chatbot-7f3a");
  v1::SearchLeadsRequest request;
  v1::SearchLeadsResponse response;
  ASSERT_TRUE(stack_->leads->SearchLeads(&with_id, request, &response).ok());
  auto given = with_id.GetServerTrailingMetadata().find("x-request-id");
  ASSERT_NE(given, with_id.GetServerTrailingMetadata().end());
  EXPECT_EQ(std::string(given->second.data(), given->second.size()), "chatbot-7f3a");

  grpc::ClientContext without_id;
  ASSERT_TRUE(stack_->leads->SearchLeads(&without_id, request, &response).ok());
  auto made = without_id.GetServerTrailingMetadata().find("x-request-id");
  ASSERT_NE(made, without_id.GetServerTrailingMetadata().end());
  EXPECT_EQ(made->second.size(), 16u);
}

TEST_F(ServerIntegrationTest, CreateLeadInAChosenStageLinkedToContacts) {
  v1::Contact ann = MustCreateContact("Ann Lee", "+1 555 0100", "ann@example.com");
  v1::Contact bob = MustCreateContact("Bob Roe", "", "bob@example.com");
  v1::CreateLeadRequest request;
  request.set_name("Follow-up");
  request.set_pipeline_id(emu::kSecondPipelineId);
  request.set_status_id(emu::kSecondPipelineSecondStatusId);
  request.set_responsible_user_id(emu::kManagerUserId);
  request.add_contact_ids(ann.id());
  request.add_contact_ids(bob.id());
  v1::Lead lead;
  grpc::Status status = CreateLead(request, &lead);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(lead.pipeline_id(), emu::kSecondPipelineId);
  EXPECT_EQ(lead.status_id(), emu::kSecondPipelineSecondStatusId);
  EXPECT_EQ(lead.responsible_user_id(), emu::kManagerUserId);
  EXPECT_EQ(lead.group_id(), emu::kSalesGroupId);
  EXPECT_THAT(lead.contact_ids(), UnorderedElementsAre(ann.id(), bob.id()));
}

TEST_F(ServerIntegrationTest, UpdateLeadSendsOnlyWhatIsSetAndZeroIsAValue) {
  v1::Lead lead = MustCreateLead("Deal", 900);
  grpc::ClientContext context;
  WithDeadline(context, absl::Seconds(10));
  v1::UpdateLeadRequest request;
  request.set_lead_id(lead.id());
  request.set_price(0);
  v1::UpdateLeadResponse response;
  grpc::Status status = stack_->leads->UpdateLead(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.lead().id(), lead.id());
  EXPECT_EQ(response.lead().price(), 0);
  EXPECT_EQ(response.lead().name(), "Deal");  // untouched
  EXPECT_EQ(response.lead().status_id(), lead.status_id());
}

TEST_F(ServerIntegrationTest, MovingALeadToWonClosesIt) {
  v1::Lead lead = MustCreateLead("Deal", 900);
  grpc::ClientContext context;
  WithDeadline(context, absl::Seconds(10));
  v1::UpdateLeadRequest request;
  request.set_lead_id(lead.id());
  request.set_pipeline_id(emu::kMainPipelineId);
  request.set_status_id(emu::kWonStatusId);
  request.set_name("Deal (won)");
  v1::UpdateLeadResponse response;
  grpc::Status status = stack_->leads->UpdateLead(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.lead().status_id(), emu::kWonStatusId);
  EXPECT_EQ(response.lead().name(), "Deal (won)");
  EXPECT_TRUE(response.lead().has_closed_at());
}

TEST_F(ServerIntegrationTest, UnknownIdsAreNotFound) {
  CallError lead = Inspect(GetLead(emu::kFirstLeadId + 999, nullptr));
  EXPECT_EQ(lead.code, grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(lead.reason, "LEAD_NOT_FOUND");
  EXPECT_EQ(lead.metadata["lead_id"], absl::StrCat(emu::kFirstLeadId + 999));

  grpc::ClientContext context;
  WithDeadline(context, absl::Seconds(10));
  v1::UpdateLeadRequest update;
  update.set_lead_id(emu::kFirstLeadId + 999);
  update.set_price(5);
  v1::UpdateLeadResponse updated;
  CallError update_error = Inspect(stack_->leads->UpdateLead(&context, update, &updated));
  EXPECT_EQ(update_error.code, grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(update_error.reason, "LEAD_NOT_FOUND");

  grpc::ClientContext contact_context;
  WithDeadline(contact_context, absl::Seconds(10));
  v1::GetContactRequest get_contact;
  get_contact.set_contact_id(emu::kFirstContactId + 5);
  v1::GetContactResponse contact;
  CallError contact_error =
      Inspect(stack_->contacts->GetContact(&contact_context, get_contact, &contact));
  EXPECT_EQ(contact_error.code, grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(contact_error.reason, "CONTACT_NOT_FOUND");
}

TEST_F(ServerIntegrationTest, EmptySearchIsAnEmptyListNotAnError) {
  MustCreateLead("Alpha");
  v1::SearchLeadsResponse response;
  grpc::Status status = SearchLeads("no such thing", 0, "", &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.leads_size(), 0);
  EXPECT_EQ(response.next_page_token(), "");
}

TEST_F(ServerIntegrationTest, SearchPagesThroughEveryMatchOnce) {
  std::vector<int64_t> created;
  for (int i = 0; i < 5; ++i) created.push_back(MustCreateLead(absl::StrCat("Paged ", i)).id());
  MustCreateLead("Other");
  std::vector<int64_t> seen;
  std::string token;
  int pages = 0;
  do {
    v1::SearchLeadsResponse response;
    grpc::Status status = SearchLeads("paged", 2, token, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    for (const v1::Lead& lead : response.leads()) seen.push_back(lead.id());
    token = response.next_page_token();
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  EXPECT_THAT(seen,
              UnorderedElementsAre(created[0], created[1], created[2], created[3], created[4]));
}

TEST_F(ServerIntegrationTest, PageTokensAreBoundToTheirQuery) {
  for (int i = 0; i < 3; ++i) MustCreateLead(absl::StrCat("Token ", i));
  v1::SearchLeadsResponse first;
  ASSERT_TRUE(SearchLeads("token", 1, "", &first).ok());
  ASSERT_FALSE(first.next_page_token().empty());
  v1::SearchLeadsResponse other;
  CallError reused = Inspect(SearchLeads("other", 1, first.next_page_token(), &other));
  EXPECT_EQ(reused.code, grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(reused.reason, "INVALID_PAGE_TOKEN");
  EXPECT_THAT(reused.fields, ElementsAre("page_token"));
  CallError forged = Inspect(SearchLeads("token", 1, "Zm9yZ2Vk", &other));
  EXPECT_EQ(forged.code, grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(forged.reason, "INVALID_PAGE_TOKEN");
}

TEST_F(ServerIntegrationTest, InvalidRequestsNeverReachKommo) {
  v1::CreateLeadRequest request;
  request.set_price(-5);
  CallError error = Inspect(CreateLead(request, nullptr));
  EXPECT_EQ(error.code, grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(error.reason, "INVALID_FIELD");
  EXPECT_THAT(error.fields, ElementsAre("name", "price"));
  EXPECT_EQ(emulator_->lead_count(), 0u);
}

TEST_F(ServerIntegrationTest, AStageOfAnotherPipelineIsRefusedBeforeKommo) {
  v1::CreateLeadRequest request;
  request.set_name("Wrong stage");
  request.set_pipeline_id(emu::kMainPipelineId);
  request.set_status_id(emu::kSecondPipelineFirstStatusId);  // a stage of the other pipeline
  CallError error = Inspect(CreateLead(request, nullptr));
  EXPECT_EQ(error.code, grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(error.reason, "INVALID_FIELD");
  EXPECT_THAT(error.fields, ElementsAre("status_id"));
  EXPECT_EQ(emulator_->lead_count(), 0u);
}

TEST_F(ServerIntegrationTest, KommosValidationErrorsNameOurFields) {
  v1::CreateLeadRequest request;
  request.set_name("Unknown contact");
  request.add_contact_ids(emu::kFirstContactId + 77);  // no such contact: only Kommo knows
  CallError error = Inspect(CreateLead(request, nullptr));
  EXPECT_EQ(error.code, grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(error.reason, "KOMMO_VALIDATION_FAILED");
  EXPECT_THAT(error.fields, ElementsAre("contact_ids[0]"));
  EXPECT_EQ(error.metadata["http_status"], "400");
  EXPECT_FALSE(error.metadata["kommo_request_id"].empty());
  EXPECT_EQ(emulator_->lead_count(), 0u);
}

TEST_F(ServerIntegrationTest, ContactsRoundTripAndAreFoundByEmailAndPhone) {
  v1::CreateContactRequest request;
  request.set_responsible_user_id(emu::kAdminUserId);
  request.set_created_by(emu::kAdminUserId);
  request.set_first_name("Ann");
  request.set_last_name("Lee");
  request.add_phones("+1 (555) 010-0199");
  request.add_phones("+44 20 7946 0000");
  request.add_emails("ann.lee@example.com");
  v1::Contact contact;
  grpc::Status status = CreateContact(request, &contact);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_GT(contact.id(), k2Pow31);
  EXPECT_EQ(contact.first_name(), "Ann");
  EXPECT_EQ(contact.last_name(), "Lee");
  EXPECT_EQ(contact.name(), "Ann Lee");
  EXPECT_EQ(contact.responsible_user_id(), emu::kAdminUserId);
  EXPECT_EQ(contact.created_by(), emu::kAdminUserId);
  EXPECT_EQ(contact.account_id(), emu::kAccountId);
  EXPECT_THAT(contact.phones(), ElementsAre("+1 (555) 010-0199", "+44 20 7946 0000"));
  EXPECT_THAT(contact.emails(), ElementsAre("ann.lee@example.com"));
  EXPECT_TRUE(contact.has_created_at());
  MustCreateContact("Someone Else", "+1 555 0000", "else@example.org");

  v1::SearchContactsResponse by_email;
  ASSERT_TRUE(SearchContacts("ANN.LEE@example.com", &by_email).ok());
  ASSERT_EQ(by_email.contacts_size(), 1);
  EXPECT_EQ(by_email.contacts(0).id(), contact.id());

  v1::SearchContactsResponse by_phone;
  ASSERT_TRUE(SearchContacts("5550100199", &by_phone).ok());
  ASSERT_EQ(by_phone.contacts_size(), 1);
  EXPECT_EQ(by_phone.contacts(0).id(), contact.id());

  v1::SearchContactsResponse none;
  ASSERT_TRUE(SearchContacts("nobody@nowhere.test", &none).ok());
  EXPECT_EQ(none.contacts_size(), 0);

  grpc::ClientContext context;
  WithDeadline(context, absl::Seconds(10));
  v1::GetContactRequest get;
  get.set_contact_id(contact.id());
  v1::GetContactResponse fetched;
  ASSERT_TRUE(stack_->contacts->GetContact(&context, get, &fetched).ok());
  EXPECT_EQ(fetched.contact().SerializeAsString(), contact.SerializeAsString());
}

TEST_F(ServerIntegrationTest, CreateContactWithUnknownUserIsRefusedBeforeKommo) {
  v1::CreateContactRequest request;
  request.set_responsible_user_id(999);
  request.set_created_by(emu::kAdminUserId);
  request.set_name("Nobody's");
  CallError error = Inspect(CreateContact(request, nullptr));
  EXPECT_EQ(error.code, grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(error.reason, "INVALID_FIELD");
  EXPECT_THAT(error.fields, ElementsAre("responsible_user_id"));
  EXPECT_EQ(emulator_->contact_count(), 0u);
}

TEST_F(ServerIntegrationTest, WrongTokenIsFailedPreconditionAndNeverEchoed) {
  Stack wrong(emulator_->base_url() + "/api/v4", "not-the-token");
  grpc::ClientContext context;
  WithDeadline(context, absl::Seconds(10));
  v1::GetLeadRequest request;
  request.set_lead_id(emu::kFirstLeadId);
  v1::GetLeadResponse response;
  CallError error = Inspect(wrong.leads->GetLead(&context, request, &response));
  EXPECT_EQ(error.code, grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(error.reason, "KOMMO_UNAUTHORIZED");
  EXPECT_EQ(error.metadata["http_status"], "401");
  EXPECT_THAT(error.message, ::testing::Not(HasSubstr("not-the-token")));
}

TEST_F(ServerIntegrationTest, UnreachableKommoIsUnavailable) {
  const std::string base = emulator_->base_url() + "/api/v4";
  emulator_->Stop();  // nothing listens there any more
  Stack stack(base, kToken);
  grpc::ClientContext context;
  WithDeadline(context, absl::Seconds(10));
  v1::SearchLeadsRequest request;
  v1::SearchLeadsResponse response;
  CallError error = Inspect(stack.leads->SearchLeads(&context, request, &response));
  EXPECT_EQ(error.code, grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(error.reason, "KOMMO_CONNECTION_FAILED");
}

// Sends `bytes` as the request of `method` without any client-side encoding, as a hostile or
// broken client could.
grpc::Status RawCall(std::shared_ptr<grpc::Channel> channel, const std::string& method,
                     const std::string& bytes) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  grpc::Slice slice(bytes);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, method, grpc::StubOptions(), &request, &response,
                 [&done](grpc::Status status) { done.set_value(status); });
  return done.get_future().get();
}

TEST_F(ServerIntegrationTest, HostileRequestsAreRejectedWithoutCallingKommo) {
  // name (field 1) holding bytes that are not UTF-8.
  const std::string invalid_utf8 = std::string("\x0a\x03\xff\xfe", 4) + "x";
  CallError utf8 =
      Inspect(RawCall(stack_->channel(), "/kommo.v1.LeadService/CreateLead", invalid_utf8));
  EXPECT_EQ(utf8.code, grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(utf8.reason, "MALFORMED_REQUEST");

  // Truncated wire data and garbage.
  CallError truncated = Inspect(RawCall(stack_->channel(), "/kommo.v1.LeadService/CreateLead",
                                        std::string("\x0a\x10") + "ab"));
  EXPECT_EQ(truncated.code, grpc::StatusCode::INVALID_ARGUMENT);
  CallError garbage = Inspect(
      RawCall(stack_->channel(), "/kommo.v1.ContactService/CreateContact", "\xff\xff\xff\xff"));
  EXPECT_EQ(garbage.code, grpc::StatusCode::INVALID_ARGUMENT);

  // A request above gRPC's 4 MiB message limit.
  v1::CreateLeadRequest huge;
  huge.set_name(std::string(5 << 20, 'a'));
  CallError too_big = Inspect(CreateLead(huge, nullptr));
  EXPECT_EQ(too_big.code, grpc::StatusCode::RESOURCE_EXHAUSTED);

  // Long and odd strings, zero and negative ids, huge page sizes, forged tokens.
  v1::CreateLeadRequest long_name;
  long_name.set_name(std::string(100000, 'a'));
  EXPECT_EQ(Inspect(CreateLead(long_name, nullptr)).code, grpc::StatusCode::INVALID_ARGUMENT);
  v1::CreateLeadRequest nul_name;
  nul_name.set_name(std::string("a\0b", 3));
  EXPECT_EQ(Inspect(CreateLead(nul_name, nullptr)).code, grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Inspect(GetLead(0, nullptr)).code, grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Inspect(GetLead(-31000000001, nullptr)).code, grpc::StatusCode::INVALID_ARGUMENT);
  v1::SearchLeadsResponse page;
  EXPECT_EQ(Inspect(SearchLeads("", 1 << 30, "", &page)).code, grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Inspect(SearchLeads("", 10, std::string(10000, 'A'), &page)).reason,
            "INVALID_PAGE_TOKEN");

  EXPECT_EQ(emulator_->lead_count(), 0u);
  EXPECT_EQ(emulator_->contact_count(), 0u);
  // And the server is still healthy.
  MustCreateLead("still serving");
}

TEST_F(ServerIntegrationTest, ARotatedTokenFileIsUsedWithoutARestart) {
  const std::string path = ::testing::TempDir() + "/rotated-token-" + std::to_string(getpid());
  std::ofstream(path) << "old-token\n";
  rest::KommoClientOptions options =
      Stack::FastOptions(emulator_->base_url() + "/api/v4", "old-token");
  options.token_source =
      std::make_shared<rest::FileTokenSource>(path, "old-token", absl::ZeroDuration());
  Stack stack(options);
  auto get = [&stack] {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    v1::SearchLeadsRequest request;
    v1::SearchLeadsResponse response;
    return stack.leads->SearchLeads(&context, request, &response);
  };
  EXPECT_EQ(Inspect(get()).reason, "KOMMO_UNAUTHORIZED");  // the emulator wants kToken
  // The secret is rotated the way Kubernetes does it: a new file swapped into place.
  std::ofstream(path + ".new") << kToken << "\n";
  ASSERT_EQ(std::rename((path + ".new").c_str(), path.c_str()), 0);
  grpc::Status after = get();
  EXPECT_TRUE(after.ok()) << after.error_message();
  std::remove(path.c_str());
}

TEST(ServerTlsTest, KommosCertificateIsAlwaysVerified) {
  const ::kommo::testing::CertFiles cert =
      ::kommo::testing::MakeSelfSignedCert(::testing::TempDir(), "kommo-tls");
  ASSERT_FALSE(cert.cert.empty());
  emu::EmulatorOptions options;
  options.token = kToken;
  options.tls_cert_file = cert.cert;
  options.tls_key_file = cert.key;
  auto emulator = emu::Emulator::Start(options);
  ASSERT_TRUE(emulator.ok()) << emulator.status();
  ASSERT_EQ((*emulator)->base_url().rfind("https://", 0), 0u);
  auto search = [](Stack& stack) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    v1::SearchLeadsRequest request;
    v1::SearchLeadsResponse response;
    return stack.leads->SearchLeads(&context, request, &response);
  };
  {
    // Without the CA the self-signed certificate is refused: no request reaches the emulator.
    Stack untrusting(Stack::FastOptions((*emulator)->base_url() + "/api/v4", kToken));
    const absl::Time start = absl::Now();
    CallError error = Inspect(search(untrusting));
    EXPECT_EQ(error.code, grpc::StatusCode::UNAVAILABLE);
    EXPECT_EQ(error.reason, "KOMMO_TLS_VERIFICATION_FAILED");
    EXPECT_THAT(error.message, HasSubstr("KOMMO_CA_FILE"));
    EXPECT_LT(absl::Now() - start, absl::Seconds(2)) << "not retried: it cannot help";
    EXPECT_TRUE((*emulator)->requests().empty());
  }
  {
    http::CurlTransportOptions transport;
    transport.ca_file = cert.cert;  // KOMMO_CA_FILE
    Stack trusting(Stack::FastOptions((*emulator)->base_url() + "/api/v4", kToken), transport);
    grpc::Status status = search(trusting);
    EXPECT_TRUE(status.ok()) << status.error_message();
  }
  (*emulator)->Stop();
}

TEST_F(ServerIntegrationTest, HealthIsServing) {
  auto health = grpc::health::v1::Health::NewStub(stack_->channel());
  for (const char* service : {"", "kommo.v1.LeadService", "kommo.v1.ContactService"}) {
    grpc::ClientContext context;
    WithDeadline(context, absl::Seconds(5));
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(service);
    grpc::health::v1::HealthCheckResponse response;
    ASSERT_TRUE(health->Check(&context, request, &response).ok()) << service;
    EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING) << service;
  }
}

}  // namespace
}  // namespace kommo
