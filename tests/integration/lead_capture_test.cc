// Lead capture end to end (ctest label `integration`): the service in-process against the
// emulator. Each test checks what the caller got and what Kommo (the emulator) holds or was asked.

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "emulator/emulator.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/service_stack.h"

namespace kommo {
namespace {

namespace emu = ::kommo::emulator;
using ::kommo::testing::CallError;
using ::kommo::testing::Inspect;
using ::kommo::testing::ServiceStack;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

constexpr char kToken[] = "lead-capture-token";

class LeadCaptureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    emu::EmulatorOptions options;
    options.token = kToken;
    auto emulator = emu::Emulator::Start(options);
    ASSERT_TRUE(emulator.ok()) << emulator.status();
    emulator_ = std::move(*emulator);
    StartStack(absl::Milliseconds(2));
  }

  void TearDown() override {
    stack_.reset();
    if (emulator_) emulator_->Stop();
  }

  void StartStack(absl::Duration coalesce_window) {
    stack_.reset();
    rest::KommoClientOptions options =
        ServiceStack::FastOptions(emulator_->base_url() + "/api/v4", kToken);
    options.coalesce_window = coalesce_window;
    stack_ = std::make_unique<ServiceStack>(std::move(options));
  }

  static void SetDeadline(grpc::ClientContext& context, absl::Duration deadline) {
    context.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
  }

  v1::Contact CreateContact(const std::string& name, std::vector<std::string> phones,
                            std::vector<std::string> emails = {}) {
    grpc::ClientContext context;
    SetDeadline(context, absl::Seconds(10));
    v1::CreateContactRequest request;
    request.set_responsible_user_id(emu::kAdminUserId);
    request.set_created_by(emu::kAdminUserId);
    request.set_name(name);
    for (const std::string& phone : phones) request.add_phones(phone);
    for (const std::string& email : emails) request.add_emails(email);
    v1::CreateContactResponse response;
    grpc::Status status = stack_->contacts->CreateContact(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.contact();
  }

  grpc::Status Lookup(std::vector<std::string> phones, std::vector<std::string> emails,
                      std::vector<int64_t>* ids) {
    grpc::ClientContext context;
    SetDeadline(context, absl::Seconds(10));
    v1::LookupContactsRequest request;
    for (const std::string& phone : phones) request.add_phones(phone);
    for (const std::string& email : emails) request.add_emails(email);
    v1::LookupContactsResponse response;
    grpc::Status status = stack_->contacts->LookupContacts(&context, request, &response);
    ids->clear();
    for (const v1::Contact& contact : response.contacts()) ids->push_back(contact.id());
    return status;
  }

  grpc::Status FindOrCreate(const v1::FindOrCreateContactRequest& request,
                            v1::FindOrCreateContactResponse* response,
                            absl::Duration deadline = absl::Seconds(20)) {
    grpc::ClientContext context;
    SetDeadline(context, deadline);
    return stack_->contacts->FindOrCreateContact(&context, request, response);
  }

  grpc::Status CreateLead(const v1::CreateLeadRequest& request, v1::Lead* lead,
                          absl::Duration deadline) {
    grpc::ClientContext context;
    SetDeadline(context, deadline);
    v1::CreateLeadResponse response;
    grpc::Status status = stack_->leads->CreateLead(&context, request, &response);
    *lead = response.lead();
    return status;
  }

  // Completed requests with this method and route ("/api/v4/leads/{id}").
  uint64_t Requests(const std::string& method, const std::string& path) {
    uint64_t total = 0;
    for (const emu::RequestCount& each : emulator_->request_counts()) {
      if (each.method == method && each.path == path) total += each.count;
    }
    return total;
  }
  uint64_t Writes() {
    uint64_t total = 0;
    for (const emu::RequestCount& each : emulator_->request_counts()) {
      if (each.method != "GET") total += each.count;
    }
    return total;
  }

  void AddLatency(const std::string& method, const std::string& path, absl::Duration delay) {
    emu::FaultRule rule;
    rule.method = method;
    rule.path_prefix = path;
    rule.action = emu::FaultAction::kLatency;
    rule.delay = absl::ToChronoMilliseconds(delay);
    ASSERT_TRUE(emulator_->AddFault(rule).ok());
  }

  std::unique_ptr<emu::Emulator> emulator_;
  std::unique_ptr<ServiceStack> stack_;
};

TEST_F(LeadCaptureTest, LookupMatchesPhonesByDigitsAndEmailsCaseFoldedAndNothingLoosely) {
  const v1::Contact anna = CreateContact("Anna", {"+7 (999) 123-45-67"}, {"Anna@Example.com"});
  const v1::Contact neighbour = CreateContact("Neighbour", {"+7 999 123 45 68"});
  const v1::Contact national = CreateContact("National", {"9991234567"});
  CreateContact("Other", {"+44 20 7946 0958"}, {"annabel@example.com"});

  std::vector<int64_t> ids;
  ASSERT_TRUE(Lookup({"8 999 123 45 67"}, {}, &ids).ok());
  EXPECT_THAT(ids, ElementsAre(anna.id()));
  ASSERT_TRUE(Lookup({"00 7 999 123 4567"}, {}, &ids).ok());
  EXPECT_THAT(ids, ElementsAre(anna.id()));
  // Kommo's loose search finds "Neighbour" and "National" too; neither is the same number.
  ASSERT_TRUE(Lookup({"+79991234567"}, {}, &ids).ok());
  EXPECT_THAT(ids, ElementsAre(anna.id()));
  ASSERT_TRUE(Lookup({"9991234567"}, {}, &ids).ok());
  EXPECT_THAT(ids, ElementsAre(national.id()));
  ASSERT_TRUE(Lookup({}, {"  ANNA@example.COM "}, &ids).ok());
  EXPECT_THAT(ids, ElementsAre(anna.id()));
  ASSERT_TRUE(Lookup({"+7 999 123 45 68"}, {"anna@example.com"}, &ids).ok());
  EXPECT_THAT(ids, ElementsAre(anna.id(), neighbour.id()));
  ASSERT_TRUE(Lookup({"+1 555 0100"}, {"nobody@example.com"}, &ids).ok());
  EXPECT_TRUE(ids.empty());

  grpc::Status none = Lookup({}, {}, &ids);
  EXPECT_EQ(none.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Inspect(none).reason, "INVALID_FIELD");
}

TEST_F(LeadCaptureTest, AnAmbiguousFindOrCreateWritesNothingAndNamesTheCandidates) {
  const v1::Contact first = CreateContact("Twin A", {"+49 30 1234567"});
  const v1::Contact second = CreateContact("Twin B", {"030 1234567"});
  emulator_->ClearRequests();

  v1::FindOrCreateContactRequest request;
  request.mutable_contact()->set_name("Twin");
  request.mutable_contact()->add_phones("+49 (30) 123-4567");
  request.set_add_missing(true);
  v1::FindOrCreateContactResponse response;
  grpc::Status status = FindOrCreate(request, &response);
  ASSERT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << status.error_message();
  const CallError error = Inspect(status);
  EXPECT_EQ(error.reason, "CONTACT_AMBIGUOUS");
  EXPECT_EQ(error.metadata.at("candidate_ids"), absl::StrCat(first.id(), ",", second.id()));
  EXPECT_EQ(Writes(), 0u) << "an ambiguous match must not write";
  EXPECT_EQ(emulator_->contact_count(), 2u);
}

TEST_F(LeadCaptureTest, FiftyConcurrentFindOrCreateForOnePersonCreateOneContact) {
  const std::vector<std::string> formats = {"+7 (912) 555-01-02", "8 912 555 01 02", "+79125550102",
                                            "007 912 5550102"};
  std::vector<std::thread> threads;
  std::vector<int64_t> ids(50, 0);
  std::atomic<int> created{0};
  std::atomic<int> matched{0};
  for (int i = 0; i < 50; ++i) {
    threads.emplace_back([&, i] {
      v1::FindOrCreateContactRequest request;
      request.mutable_contact()->set_name("Chat visitor");
      request.mutable_contact()->add_phones(formats[i % formats.size()]);
      v1::FindOrCreateContactResponse response;
      grpc::Status status = FindOrCreate(request, &response, absl::Seconds(30));
      ASSERT_TRUE(status.ok()) << status.error_message();
      ids[i] = response.contact().id();
      (response.outcome() == v1::FindOrCreateContactResponse::OUTCOME_CREATED ? created : matched)
          .fetch_add(1);
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(emulator_->contact_count(), 1u);
  EXPECT_EQ(created.load(), 1);
  EXPECT_EQ(matched.load(), 49);
  EXPECT_EQ(std::set<int64_t>(ids.begin(), ids.end()).size(), 1u);
  EXPECT_EQ(Requests("POST", "/api/v4/contacts"), 1u);
}

TEST_F(LeadCaptureTest, FindOrCreateMatchesOneAndAddsWhatItLacksOnlyWhenAsked) {
  const v1::Contact anna = CreateContact("Anna", {"+7 999 000 11 22"});
  v1::FindOrCreateContactRequest request;
  request.mutable_contact()->set_name("Anna K.");
  request.mutable_contact()->add_phones("8 999 000 11 22");
  request.mutable_contact()->add_phones("+7 999 000 33 44");
  request.mutable_contact()->add_emails("anna@example.com");
  v1::FindOrCreateContactResponse response;
  ASSERT_TRUE(FindOrCreate(request, &response).ok());
  EXPECT_EQ(response.outcome(), v1::FindOrCreateContactResponse::OUTCOME_MATCHED);
  EXPECT_EQ(response.contact().id(), anna.id());
  EXPECT_THAT(response.contact().phones(), ElementsAre("+7 999 000 11 22"));
  EXPECT_EQ(Requests("PATCH", "/api/v4/contacts"), 0u);

  request.set_add_missing(true);
  ASSERT_TRUE(FindOrCreate(request, &response).ok());
  EXPECT_EQ(response.outcome(), v1::FindOrCreateContactResponse::OUTCOME_MATCHED);
  EXPECT_EQ(response.contact().id(), anna.id());
  EXPECT_THAT(response.contact().phones(), ElementsAre("+7 999 000 11 22", "+7 999 000 33 44"));
  EXPECT_THAT(response.contact().emails(), ElementsAre("anna@example.com"));
  EXPECT_EQ(Requests("PATCH", "/api/v4/contacts"), 1u);
  EXPECT_EQ(emulator_->contact_count(), 1u);

  // Nothing is missing now: no write.
  ASSERT_TRUE(FindOrCreate(request, &response).ok());
  EXPECT_EQ(Requests("PATCH", "/api/v4/contacts"), 1u);
}

TEST_F(LeadCaptureTest, ACreateLeadRepeatedAfterItsCallerGaveUpReturnsTheSameLead) {
  AddLatency("POST", "/api/v4/leads", absl::Milliseconds(1500));
  v1::CreateLeadRequest request;
  request.set_name("Order 42");
  request.set_price(4200);
  request.set_request_id("order-42");
  v1::Lead lead;
  grpc::Status first = CreateLead(request, &lead, absl::Milliseconds(400));
  ASSERT_EQ(first.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << first.error_message();
  EXPECT_EQ(Inspect(first).reason, "WRITE_OUTCOME_UNKNOWN");
  EXPECT_THAT(first.error_message(), HasSubstr("same request_id"));

  // The repeat joins the first call, still running, and gets its lead.
  grpc::Status again = CreateLead(request, &lead, absl::Seconds(10));
  ASSERT_TRUE(again.ok()) << again.error_message();
  EXPECT_GT(lead.id(), 0);
  EXPECT_EQ(lead.name(), "Order 42");
  // And later repeats are answered without Kommo.
  v1::Lead replayed;
  ASSERT_TRUE(CreateLead(request, &replayed, absl::Seconds(10)).ok());
  EXPECT_EQ(replayed.id(), lead.id());
  EXPECT_EQ(emulator_->lead_count(), 1u);
  EXPECT_EQ(Requests("POST", "/api/v4/leads"), 1u);

  // The same request_id with another request is refused, and writes nothing.
  request.set_price(1);
  grpc::Status reused = CreateLead(request, &replayed, absl::Seconds(10));
  EXPECT_EQ(reused.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Inspect(reused).reason, "REQUEST_ID_REUSED");
  // A request_id names one call whatever the RPC.
  grpc::ClientContext context;
  SetDeadline(context, absl::Seconds(10));
  v1::CreateContactRequest contact;
  contact.set_request_id("order-42");
  contact.set_responsible_user_id(emu::kAdminUserId);
  contact.set_created_by(emu::kAdminUserId);
  contact.set_name("Someone");
  v1::CreateContactResponse created;
  grpc::Status other_rpc = stack_->contacts->CreateContact(&context, contact, &created);
  EXPECT_EQ(other_rpc.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Inspect(other_rpc).reason, "REQUEST_ID_REUSED");
  EXPECT_EQ(emulator_->lead_count(), 1u);
  EXPECT_EQ(emulator_->contact_count(), 0u);
}

TEST_F(LeadCaptureTest, AnUnknownOutcomeIsRepeatedToRepeatsWithoutWritingAgain) {
  emu::FaultRule rule;
  rule.method = "POST";
  rule.path_prefix = "/api/v4/leads/complex";
  rule.action = emu::FaultAction::kStatus;
  rule.status = 503;
  rule.apply = true;  // Kommo saved it, then failed to answer
  ASSERT_TRUE(emulator_->AddFault(rule).ok());
  v1::CreateLeadWithContactRequest request;
  request.set_request_id("chat-7");
  request.set_name("From chat");
  request.mutable_contact()->set_name("Visitor");
  request.mutable_contact()->add_emails("visitor@example.com");
  for (int attempt = 0; attempt < 2; ++attempt) {
    grpc::ClientContext context;
    SetDeadline(context, absl::Seconds(10));
    v1::CreateLeadWithContactResponse response;
    grpc::Status status = stack_->leads->CreateLeadWithContact(&context, request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
    EXPECT_EQ(Inspect(status).reason, "WRITE_OUTCOME_UNKNOWN");
  }
  EXPECT_EQ(Requests("POST", "/api/v4/leads/complex"), 1u);
  EXPECT_EQ(emulator_->lead_count(), 1u);
}

TEST_F(LeadCaptureTest, LeadsWithContactsRideOneComplexRequestAndReportMerges) {
  StartStack(absl::Milliseconds(200));
  const v1::Contact existing = CreateContact("Known", {"+7 916 111 22 33"});
  ASSERT_TRUE(emulator_->SetDuplicateControl(emu::kMainPipelineId, true).ok());
  emulator_->ClearRequests();

  constexpr int kCalls = 20;
  std::vector<std::thread> threads;
  std::vector<v1::CreateLeadWithContactResponse> responses(kCalls);
  for (int i = 0; i < kCalls; ++i) {
    threads.emplace_back([&, i] {
      v1::CreateLeadWithContactRequest request;
      request.set_name(absl::StrCat("Lead ", i));
      request.set_price(100 * i);
      request.mutable_contact()->set_name(absl::StrCat("Person ", i));
      // The first one is the known person, in another format.
      request.mutable_contact()->add_phones(i == 0 ? "8 916 111-22-33"
                                                   : absl::StrCat("+1 555 01", 10 + i));
      grpc::ClientContext context;
      SetDeadline(context, absl::Seconds(20));
      grpc::Status status = stack_->leads->CreateLeadWithContact(&context, request, &responses[i]);
      ASSERT_TRUE(status.ok()) << status.error_message();
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_LE(Requests("POST", "/api/v4/leads/complex"), 2u) << "20 calls, one window";
  for (int i = 0; i < kCalls; ++i) {
    const v1::CreateLeadWithContactResponse& response = responses[i];
    EXPECT_EQ(response.lead().name(), absl::StrCat("Lead ", i));
    EXPECT_EQ(response.lead().price(), 100 * i);
    EXPECT_THAT(response.lead().contact_ids(), ElementsAre(response.contact().id()));
    EXPECT_EQ(response.contact_merged(), i == 0);
    if (i == 0) {
      EXPECT_EQ(response.contact().id(), existing.id());
    } else {
      EXPECT_EQ(response.contact().name(), absl::StrCat("Person ", i));
    }
  }
  EXPECT_EQ(emulator_->lead_count(), static_cast<size_t>(kCalls));
  EXPECT_EQ(emulator_->contact_count(), static_cast<size_t>(kCalls));  // one merged
}

TEST_F(LeadCaptureTest, IncomingLeadsAreCreatedListedAcceptedAndDeclined) {
  auto create = [&](const std::string& source_uid) {
    v1::CreateIncomingLeadRequest request;
    request.set_source_uid(source_uid);
    request.set_source_name("Website");
    request.mutable_form()->set_form_id("contact-form");
    request.mutable_form()->set_form_name("Contact us");
    request.mutable_form()->set_form_page("https://example.com/contact");
    request.mutable_form()->set_ip("192.0.2.10");
    request.set_lead_name(absl::StrCat("Form ", source_uid));
    request.mutable_contact()->set_name("Form sender");
    request.mutable_contact()->add_emails(absl::StrCat(source_uid, "@example.com"));
    grpc::ClientContext context;
    SetDeadline(context, absl::Seconds(10));
    v1::CreateIncomingLeadResponse response;
    grpc::Status status = stack_->leads->CreateIncomingLead(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.incoming_lead();
  };
  const v1::IncomingLead first = create("sub-1");
  const v1::IncomingLead second = create("sub-2");
  EXPECT_FALSE(first.uid().empty());
  EXPECT_EQ(first.category(), "forms");
  EXPECT_EQ(first.form().form_name(), "Contact us");
  EXPECT_EQ(first.form().ip(), "192.0.2.10");
  EXPECT_GT(first.lead_id(), 0);
  EXPECT_GT(first.contact_id(), 0);

  {
    grpc::ClientContext context;
    SetDeadline(context, absl::Seconds(10));
    v1::ListIncomingLeadsResponse response;
    ASSERT_TRUE(
        stack_->leads->ListIncomingLeads(&context, v1::ListIncomingLeadsRequest(), &response).ok());
    std::vector<std::string> uids;
    for (const v1::IncomingLead& each : response.incoming_leads()) uids.push_back(each.uid());
    EXPECT_THAT(uids, UnorderedElementsAre(first.uid(), second.uid()));
  }
  {
    grpc::ClientContext context;
    SetDeadline(context, absl::Seconds(10));
    v1::AcceptIncomingLeadRequest request;
    request.set_uid(first.uid());
    request.set_status_id(emu::kMainPipelineSecondStatusId);
    v1::AcceptIncomingLeadResponse response;
    grpc::Status status = stack_->leads->AcceptIncomingLead(&context, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(response.lead().id(), first.lead_id());
    EXPECT_EQ(response.lead().status_id(), emu::kMainPipelineSecondStatusId);
  }
  {
    grpc::ClientContext context;
    SetDeadline(context, absl::Seconds(10));
    v1::AcceptIncomingLeadRequest request;
    request.set_uid(first.uid());
    v1::AcceptIncomingLeadResponse response;
    grpc::Status status = stack_->leads->AcceptIncomingLead(&context, request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
    EXPECT_EQ(Inspect(status).reason, "INCOMING_LEAD_NOT_FOUND");
  }
  {
    grpc::ClientContext context;
    SetDeadline(context, absl::Seconds(10));
    v1::DeclineIncomingLeadRequest request;
    request.set_uid(second.uid());
    v1::DeclineIncomingLeadResponse response;
    grpc::Status status = stack_->leads->DeclineIncomingLead(&context, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(response.uid(), second.uid());
  }
  EXPECT_EQ(emulator_->unsorted_count(), 0u);
  grpc::ClientContext context;
  SetDeadline(context, absl::Seconds(10));
  v1::GetLeadRequest get;
  get.set_lead_id(second.lead_id());
  v1::GetLeadResponse declined;
  ASSERT_TRUE(stack_->leads->GetLead(&context, get, &declined).ok());
  EXPECT_EQ(declined.lead().status_id(), emu::kLostStatusId);
}

TEST_F(LeadCaptureTest, AChatTranscriptIsOneNoteAndNotesListNewestFirst) {
  v1::CreateLeadRequest create;
  create.set_name("Chat lead");
  v1::Lead lead;
  ASSERT_TRUE(CreateLead(create, &lead, absl::Seconds(10)).ok());

  std::string transcript;
  while (transcript.size() < 20000) transcript += "Visitor: hello, I need a quote. Bot: sure! ";
  v1::AddNoteRequest note;
  note.set_request_id("transcript-1");
  note.set_entity_type(v1::ENTITY_TYPE_LEAD);
  note.set_entity_id(lead.id());
  note.set_text(transcript);
  int64_t first_id = 0;
  for (int repeat = 0; repeat < 2; ++repeat) {
    grpc::ClientContext context;
    SetDeadline(context, absl::Seconds(10));
    v1::AddNoteResponse response;
    grpc::Status status = stack_->notes->AddNote(&context, note, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(response.note().text(), transcript);
    EXPECT_EQ(response.note().kind(), v1::Note::KIND_COMMON);
    if (repeat == 0) first_id = response.note().id();
    EXPECT_EQ(response.note().id(), first_id);
  }
  EXPECT_EQ(emulator_->note_count(), 1u);

  v1::AddNoteRequest service;
  service.set_entity_type(v1::ENTITY_TYPE_LEAD);
  service.set_entity_id(lead.id());
  service.set_text("Lead qualified by the bot");
  service.set_service("Chatbot");
  {
    grpc::ClientContext context;
    SetDeadline(context, absl::Seconds(10));
    v1::AddNoteResponse response;
    ASSERT_TRUE(stack_->notes->AddNote(&context, service, &response).ok());
    EXPECT_EQ(response.note().kind(), v1::Note::KIND_SERVICE_MESSAGE);
    EXPECT_EQ(response.note().service(), "Chatbot");
  }
  {
    grpc::ClientContext context;
    SetDeadline(context, absl::Seconds(10));
    v1::ListNotesRequest list;
    list.set_entity_type(v1::ENTITY_TYPE_LEAD);
    list.set_entity_id(lead.id());
    v1::ListNotesResponse response;
    ASSERT_TRUE(stack_->notes->ListNotes(&context, list, &response).ok());
    ASSERT_EQ(response.notes_size(), 2);
    EXPECT_EQ(response.notes(0).text(), "Lead qualified by the bot");
    EXPECT_EQ(response.notes(1).id(), first_id);
  }
  {
    grpc::ClientContext context;
    SetDeadline(context, absl::Seconds(10));
    v1::AddNoteRequest missing = service;
    missing.set_entity_id(lead.id() + 1000);
    v1::AddNoteResponse response;
    grpc::Status status = stack_->notes->AddNote(&context, missing, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND) << status.error_message();
    EXPECT_EQ(Inspect(status).reason, "LEAD_NOT_FOUND");
  }
}

}  // namespace
}  // namespace kommo
