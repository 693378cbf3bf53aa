// read_mask on creates and updates (ctest label `integration`): the service in-process against
// the emulator. A mask of only what the write determines ("id"; for the wrapper RPCs the ids and
// flags their write's answer names) is answered from Kommo's answer to the write, so the
// emulator's request log holds no read-back; any other mask reads back as before and the answer
// holds only the fields named.

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "emulator/emulator.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/service_stack.h"

namespace kommo {
namespace {

namespace emu = ::kommo::emulator;
using ::kommo::testing::Inspect;
using ::kommo::testing::ServiceStack;
using ::testing::ElementsAre;
using ::testing::UnorderedElementsAreArray;

constexpr char kToken[] = "read-mask-token";

class ReadMaskTest : public ::testing::Test {
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

  static std::unique_ptr<grpc::ClientContext> Context() {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    return context;
  }

  static v1::CreateLeadRequest Lead(const std::string& name, std::vector<std::string> paths) {
    v1::CreateLeadRequest request;
    request.set_name(name);
    request.set_price(1200);
    for (std::string& path : paths) request.mutable_read_mask()->add_paths(std::move(path));
    return request;
  }

  grpc::Status CreateLead(const v1::CreateLeadRequest& request, v1::Lead* lead) {
    v1::CreateLeadResponse response;
    grpc::Status status = stack_->leads->CreateLead(Context().get(), request, &response);
    *lead = response.lead();
    return status;
  }

  // Requests the emulator answered with this method and route ("/api/v4/leads").
  uint64_t Requests(const std::string& method, const std::string& path) {
    uint64_t total = 0;
    for (const emu::RequestCount& each : emulator_->request_counts()) {
      if (each.method == method && each.path == path) total += each.count;
    }
    return total;
  }

  // The ids each GET /api/v4/leads (a read-back) asked for.
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

  // GETs of this path whose query has `key` (a read-back's "filter[id][]", a search's "query").
  uint64_t GetsWith(const std::string& path, const std::string& key) {
    uint64_t total = 0;
    for (const emu::LoggedRequest& each : emulator_->requests()) {
      if (each.method != "GET" || each.path != path) continue;
      for (const auto& [name, value] : each.query) {
        if (name == key) {
          ++total;
          break;
        }
      }
    }
    return total;
  }

  // The methods and paths of every request the emulator saw, in order ("POST /api/v4/leads").
  std::vector<std::string> RequestLines() {
    std::vector<std::string> lines;
    for (const emu::LoggedRequest& each : emulator_->requests()) {
      lines.push_back(absl::StrCat(each.method, " ", each.path));
    }
    return lines;
  }

  static v1::CreateLeadWithContactRequest LeadWithContact(const std::string& name,
                                                          const std::string& phone,
                                                          std::vector<std::string> paths) {
    v1::CreateLeadWithContactRequest request;
    request.set_name(name);
    request.set_price(700);
    request.mutable_contact()->set_name(absl::StrCat(name, " contact"));
    request.mutable_contact()->add_phones(phone);
    for (std::string& path : paths) request.mutable_read_mask()->add_paths(std::move(path));
    return request;
  }

  static v1::CreateIncomingLeadRequest Incoming(const std::string& source_uid,
                                                std::vector<std::string> paths) {
    v1::CreateIncomingLeadRequest request;
    request.set_source_uid(source_uid);
    request.set_source_name("Website");
    request.mutable_form()->set_form_id("contact-form");
    request.mutable_form()->set_form_name("Contact us");
    request.set_lead_name(absl::StrCat("Form ", source_uid));
    request.mutable_contact()->set_name("Form sender");
    request.mutable_contact()->add_emails(absl::StrCat(source_uid, "@example.com"));
    for (std::string& path : paths) request.mutable_read_mask()->add_paths(std::move(path));
    return request;
  }

  static v1::FindOrCreateContactRequest Person(const std::string& phone, bool add_missing,
                                               std::vector<std::string> paths) {
    v1::FindOrCreateContactRequest request;
    request.mutable_contact()->set_name("Chat visitor");
    request.mutable_contact()->add_phones(phone);
    request.set_add_missing(add_missing);
    for (std::string& path : paths) request.mutable_read_mask()->add_paths(std::move(path));
    return request;
  }

  grpc::Status FindOrCreate(const v1::FindOrCreateContactRequest& request,
                            v1::FindOrCreateContactResponse* response) {
    return stack_->contacts->FindOrCreateContact(Context().get(), request, response);
  }

  std::unique_ptr<emu::Emulator> emulator_;
  std::unique_ptr<ServiceStack> stack_;
};

TEST_F(ReadMaskTest, AnIdMaskCostsNoReadBack) {
  v1::Lead lead;
  grpc::Status status = CreateLead(Lead("Website inquiry", {"id"}), &lead);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_GT(lead.id(), 0);
  EXPECT_EQ(lead.name(), "");  // not asked for
  EXPECT_FALSE(lead.has_created_at());
  EXPECT_EQ(Requests("POST", "/api/v4/leads"), 1u);
  EXPECT_EQ(Requests("GET", "/api/v4/leads"), 0u);
  EXPECT_EQ(emulator_->requests().size(), 1u);

  // The lead was written as asked.
  v1::GetLeadRequest get;
  get.set_lead_id(lead.id());
  v1::GetLeadResponse got;
  ASSERT_TRUE(stack_->leads->GetLead(Context().get(), get, &got).ok());
  EXPECT_EQ(got.lead().name(), "Website inquiry");
  EXPECT_EQ(got.lead().price(), 1200);
}

TEST_F(ReadMaskTest, NoMaskReadsTheWholeLeadBack) {
  v1::Lead lead;
  grpc::Status status = CreateLead(Lead("Website inquiry", {}), &lead);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_GT(lead.id(), 0);
  EXPECT_EQ(lead.name(), "Website inquiry");
  EXPECT_EQ(lead.price(), 1200);
  EXPECT_TRUE(lead.has_created_at());
  EXPECT_GT(lead.pipeline_id(), 0);  // Kommo's default, known only from the read-back
  EXPECT_EQ(Requests("POST", "/api/v4/leads"), 1u);
  EXPECT_EQ(Requests("GET", "/api/v4/leads"), 1u);
}

TEST_F(ReadMaskTest, OtherMasksReadBackAndTrimTheAnswer) {
  v1::Lead lead;
  grpc::Status status = CreateLead(Lead("Website inquiry", {"name", "pipeline_id"}), &lead);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(lead.id(), 0);  // not asked for
  EXPECT_EQ(lead.name(), "Website inquiry");
  EXPECT_GT(lead.pipeline_id(), 0);
  EXPECT_EQ(lead.price(), 0);
  EXPECT_FALSE(lead.has_created_at());
  EXPECT_EQ(Requests("GET", "/api/v4/leads"), 1u);
}

TEST_F(ReadMaskTest, ABatchReadsBackOnlyItsItemsWithoutAnIdMask) {
  StartStack(absl::Milliseconds(300));  // the six calls ride one batch
  std::vector<v1::Lead> leads(6);
  std::vector<grpc::Status> statuses(6);
  std::vector<std::thread> callers;
  for (int i = 0; i < 6; ++i) {
    callers.emplace_back([this, i, &leads, &statuses] {
      statuses[i] =
          CreateLead(Lead(absl::StrCat("Lead ", i),
                          i % 2 == 0 ? std::vector<std::string>{"id"} : std::vector<std::string>{}),
                     &leads[i]);
    });
  }
  for (std::thread& caller : callers) caller.join();
  std::vector<std::string> read_back;
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(statuses[i].ok()) << statuses[i].error_message();
    EXPECT_GT(leads[i].id(), 0);
    if (i % 2 == 0) {
      EXPECT_EQ(leads[i].name(), "");
    } else {
      EXPECT_EQ(leads[i].name(), absl::StrCat("Lead ", i));  // its own, matched by id
      read_back.push_back(absl::StrCat(leads[i].id()));
    }
  }
  EXPECT_EQ(Requests("POST", "/api/v4/leads"), 1u);
  const std::vector<std::vector<std::string>> reads = ReadBackIds();
  ASSERT_EQ(reads.size(), 1u);
  EXPECT_THAT(reads[0], UnorderedElementsAreArray(read_back));
}

TEST_F(ReadMaskTest, UpdatesAndOtherEntitiesWithAnIdMask) {
  v1::Lead lead;
  ASSERT_TRUE(CreateLead(Lead("Deal", {"id"}), &lead).ok());
  v1::UpdateLeadRequest update;
  update.set_lead_id(lead.id());
  update.set_price(5000);
  update.mutable_read_mask()->add_paths("id");
  v1::UpdateLeadResponse updated;
  grpc::Status status = stack_->leads->UpdateLead(Context().get(), update, &updated);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(updated.lead().id(), lead.id());
  EXPECT_EQ(updated.lead().price(), 0);
  EXPECT_EQ(Requests("PATCH", "/api/v4/leads"), 1u);

  v1::CreateTaskRequest task;
  task.set_text("Call back");
  task.mutable_due_at()->set_seconds(1893456000);
  task.mutable_read_mask()->add_paths("id");
  v1::CreateTaskResponse created_task;
  status = stack_->tasks->CreateTask(Context().get(), task, &created_task);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_GT(created_task.task().id(), 0);
  v1::CompleteTaskRequest complete;
  complete.set_task_id(created_task.task().id());
  complete.mutable_read_mask()->add_paths("id");
  v1::CompleteTaskResponse completed;
  status = stack_->tasks->CompleteTask(Context().get(), complete, &completed);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(completed.task().id(), created_task.task().id());

  v1::AddNoteRequest note;
  note.set_entity_type(v1::ENTITY_TYPE_LEAD);
  note.set_entity_id(lead.id());
  note.set_text("Called, no answer");
  note.mutable_read_mask()->add_paths("id");
  v1::AddNoteResponse added;
  status = stack_->notes->AddNote(Context().get(), note, &added);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_GT(added.note().id(), 0);

  v1::CreateCompanyRequest company;
  company.set_name("Acme");
  company.mutable_read_mask()->add_paths("id");
  v1::CreateCompanyResponse created_company;
  status = stack_->companies->CreateCompany(Context().get(), company, &created_company);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_GT(created_company.company().id(), 0);
  v1::UpdateCompanyRequest rename;
  rename.set_company_id(created_company.company().id());
  rename.set_name("Acme Ltd");
  rename.mutable_read_mask()->add_paths("id");
  v1::UpdateCompanyResponse renamed;
  status = stack_->companies->UpdateCompany(Context().get(), rename, &renamed);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(renamed.company().id(), created_company.company().id());

  v1::CreateContactRequest contact;
  contact.set_name("Ann");
  contact.set_responsible_user_id(emu::kAdminUserId);
  contact.set_created_by(emu::kAdminUserId);
  contact.mutable_read_mask()->add_paths("id");
  v1::CreateContactResponse created_contact;
  status = stack_->contacts->CreateContact(Context().get(), contact, &created_contact);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_GT(created_contact.contact().id(), 0);
  v1::UpdateContactRequest change;
  change.set_contact_id(created_contact.contact().id());
  change.set_name("Ann Lee");
  change.mutable_read_mask()->add_paths("id");
  v1::UpdateContactResponse changed;
  status = stack_->contacts->UpdateContact(Context().get(), change, &changed);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(changed.contact().id(), created_contact.contact().id());

  // Not one read-back of any of them.
  for (const char* path : {"/api/v4/leads", "/api/v4/tasks", "/api/v4/leads/notes",
                           "/api/v4/companies", "/api/v4/contacts"}) {
    EXPECT_EQ(Requests("GET", path), 0u) << path;
  }
  // Everything was written.
  v1::GetContactRequest get_contact;
  get_contact.set_contact_id(created_contact.contact().id());
  v1::GetContactResponse got_contact;
  ASSERT_TRUE(stack_->contacts->GetContact(Context().get(), get_contact, &got_contact).ok());
  EXPECT_EQ(got_contact.contact().name(), "Ann Lee");
  v1::GetLeadRequest get_lead;
  get_lead.set_lead_id(lead.id());
  v1::GetLeadResponse got_lead;
  ASSERT_TRUE(stack_->leads->GetLead(Context().get(), get_lead, &got_lead).ok());
  EXPECT_EQ(got_lead.lead().price(), 5000);
}

TEST_F(ReadMaskTest, AnUnknownPathIsRefusedBeforeKommo) {
  v1::Lead lead;
  grpc::Status status = CreateLead(Lead("Website inquiry", {"id", "nmae"}), &lead);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  testing::CallError error = Inspect(status);
  EXPECT_EQ(error.reason, "INVALID_FIELD");
  EXPECT_THAT(error.fields, ElementsAre("read_mask.paths[1]"));
  EXPECT_TRUE(emulator_->requests().empty());
}

// ---- The wrapper RPCs: what their write's answer names is answered without a read-back ----

TEST_F(ReadMaskTest, LeadWithContactIdsAndMergeCostNoReadBack) {
  v1::CreateContactRequest known;
  known.set_name("Known");
  known.set_responsible_user_id(emu::kAdminUserId);
  known.set_created_by(emu::kAdminUserId);
  known.add_phones("+7 916 111 22 33");
  v1::CreateContactResponse existing;
  ASSERT_TRUE(stack_->contacts->CreateContact(Context().get(), known, &existing).ok());
  ASSERT_TRUE(emulator_->SetDuplicateControl(emu::kMainPipelineId, true).ok());
  emulator_->ClearRequests();

  const std::vector<std::string> determined = {"lead.id", "contact.id", "contact_merged"};
  v1::CreateLeadWithContactResponse merged;
  grpc::Status status = stack_->leads->CreateLeadWithContact(
      Context().get(), LeadWithContact("Deal A", "8 916 111-22-33", determined), &merged);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_GT(merged.lead().id(), 0);
  EXPECT_EQ(merged.lead().name(), "");  // not asked for
  EXPECT_EQ(merged.contact().id(), existing.contact().id());
  EXPECT_EQ(merged.contact().name(), "");
  EXPECT_TRUE(merged.contact_merged());

  v1::CreateLeadWithContactResponse created;
  status = stack_->leads->CreateLeadWithContact(
      Context().get(), LeadWithContact("Deal B", "+1 555 0142", {"contact.id"}), &created);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(created.lead().id(), 0);  // not asked for
  EXPECT_GT(created.contact().id(), 0);
  EXPECT_NE(created.contact().id(), existing.contact().id());
  EXPECT_FALSE(created.contact_merged());
  // Only the two writes.
  EXPECT_THAT(RequestLines(),
              ElementsAre("POST /api/v4/leads/complex", "POST /api/v4/leads/complex"));

  // Both were written as asked.
  v1::GetLeadRequest get;
  get.set_lead_id(merged.lead().id());
  v1::GetLeadResponse got;
  ASSERT_TRUE(stack_->leads->GetLead(Context().get(), get, &got).ok());
  EXPECT_EQ(got.lead().name(), "Deal A");
  EXPECT_EQ(got.lead().price(), 700);
  EXPECT_THAT(got.lead().contact_ids(), ElementsAre(existing.contact().id()));
}

TEST_F(ReadMaskTest, LeadWithContactOtherMasksReadBackAndTrim) {
  v1::CreateLeadWithContactResponse response;
  grpc::Status status = stack_->leads->CreateLeadWithContact(
      Context().get(),
      LeadWithContact("Deal C", "+1 555 0143", {"lead.id", "lead.pipeline_id", "contact.phones"}),
      &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_GT(response.lead().id(), 0);
  EXPECT_EQ(response.lead().pipeline_id(), emu::kMainPipelineId);  // Kommo's default: read back
  EXPECT_EQ(response.lead().name(), "");
  EXPECT_EQ(response.lead().price(), 0);
  EXPECT_EQ(response.contact().id(), 0);
  EXPECT_EQ(response.contact().name(), "");
  EXPECT_EQ(response.contact().phones_size(), 1);
  EXPECT_EQ(Requests("POST", "/api/v4/leads/complex"), 1u);
  EXPECT_EQ(GetsWith("/api/v4/leads", "filter[id][]"), 1u);
  EXPECT_EQ(GetsWith("/api/v4/contacts", "filter[id][]"), 1u);
}

TEST_F(ReadMaskTest, IncomingLeadUidAndIdsCostNoReadBack) {
  v1::CreateIncomingLeadResponse created;
  grpc::Status status = stack_->leads->CreateIncomingLead(
      Context().get(), Incoming("sub-1", {"uid", "lead_id", "contact_id"}), &created);
  ASSERT_TRUE(status.ok()) << status.error_message();
  const v1::IncomingLead& incoming = created.incoming_lead();
  EXPECT_FALSE(incoming.uid().empty());
  EXPECT_GT(incoming.lead_id(), 0);
  EXPECT_GT(incoming.contact_id(), 0);
  EXPECT_EQ(incoming.category(), "");  // not asked for
  EXPECT_FALSE(incoming.has_form());
  EXPECT_THAT(RequestLines(), ElementsAre("POST /api/v4/leads/unsorted/forms"));

  // The uid answered is the incoming lead Kommo holds.
  v1::ListIncomingLeadsResponse listed;
  ASSERT_TRUE(
      stack_->leads->ListIncomingLeads(Context().get(), v1::ListIncomingLeadsRequest(), &listed)
          .ok());
  ASSERT_EQ(listed.incoming_leads_size(), 1);
  EXPECT_EQ(listed.incoming_leads(0).uid(), incoming.uid());
  EXPECT_EQ(listed.incoming_leads(0).lead_id(), incoming.lead_id());
  EXPECT_EQ(listed.incoming_leads(0).contact_id(), incoming.contact_id());

  // Another mask reads back and trims.
  emulator_->ClearRequests();
  status = stack_->leads->CreateIncomingLead(
      Context().get(), Incoming("sub-2", {"category", "form.form_name"}), &created);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(created.incoming_lead().uid(), "");
  EXPECT_EQ(created.incoming_lead().lead_id(), 0);
  EXPECT_EQ(created.incoming_lead().category(), "forms");
  EXPECT_EQ(created.incoming_lead().form().form_name(), "Contact us");
  EXPECT_EQ(created.incoming_lead().form().form_id(), "");
  EXPECT_EQ(Requests("POST", "/api/v4/leads/unsorted/forms"), 1u);
  EXPECT_EQ(GetsWith("/api/v4/leads/unsorted", "filter[uid][]"), 1u);
}

TEST_F(ReadMaskTest, AcceptWithAnIdMaskCostsNoReadBack) {
  v1::CreateIncomingLeadResponse first;
  v1::CreateIncomingLeadResponse second;
  ASSERT_TRUE(stack_->leads
                  ->CreateIncomingLead(Context().get(), Incoming("a-1", {"uid", "lead_id"}), &first)
                  .ok());
  ASSERT_TRUE(
      stack_->leads
          ->CreateIncomingLead(Context().get(), Incoming("a-2", {"uid", "lead_id"}), &second)
          .ok());
  emulator_->ClearRequests();

  v1::AcceptIncomingLeadRequest accept;
  accept.set_uid(first.incoming_lead().uid());
  accept.set_status_id(emu::kMainPipelineSecondStatusId);
  accept.mutable_read_mask()->add_paths("id");
  v1::AcceptIncomingLeadResponse accepted;
  grpc::Status status = stack_->leads->AcceptIncomingLead(Context().get(), accept, &accepted);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(accepted.lead().id(), first.incoming_lead().lead_id());
  EXPECT_EQ(accepted.lead().status_id(), 0);  // not asked for
  ASSERT_EQ(emulator_->requests().size(), 1u);
  EXPECT_EQ(emulator_->requests()[0].method, "POST");
  EXPECT_EQ(emulator_->requests()[0].path,
            absl::StrCat("/api/v4/leads/unsorted/", first.incoming_lead().uid(), "/accept"));

  // The stage it moved to is known only from the read-back.
  accept.set_uid(second.incoming_lead().uid());
  accept.mutable_read_mask()->Clear();
  accept.mutable_read_mask()->add_paths("status_id");
  status = stack_->leads->AcceptIncomingLead(Context().get(), accept, &accepted);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(accepted.lead().id(), 0);
  EXPECT_EQ(accepted.lead().status_id(), emu::kMainPipelineSecondStatusId);
  EXPECT_EQ(GetsWith("/api/v4/leads", "filter[id][]"), 1u);

  v1::GetLeadRequest get;
  get.set_lead_id(first.incoming_lead().lead_id());
  v1::GetLeadResponse got;
  ASSERT_TRUE(stack_->leads->GetLead(Context().get(), get, &got).ok());
  EXPECT_EQ(got.lead().status_id(), emu::kMainPipelineSecondStatusId);
}

TEST_F(ReadMaskTest, FindOrCreateWritesWithoutReadBackForTheIdAndOutcome) {
  const std::vector<std::string> determined = {"contact.id", "outcome"};
  v1::FindOrCreateContactResponse created;
  grpc::Status status = FindOrCreate(Person("+7 912 555 01 50", false, determined), &created);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(created.outcome(), v1::FindOrCreateContactResponse::OUTCOME_CREATED);
  EXPECT_GT(created.contact().id(), 0);
  EXPECT_EQ(created.contact().name(), "");  // not asked for
  EXPECT_EQ(Requests("POST", "/api/v4/contacts"), 1u);
  EXPECT_EQ(GetsWith("/api/v4/contacts", "query"), 1u);  // the lookup
  EXPECT_EQ(emulator_->requests().size(), 2u);           // and no read-back

  // A match comes from the lookup: no read-back with any mask, and the mask trims it.
  emulator_->ClearRequests();
  v1::FindOrCreateContactResponse matched;
  status = FindOrCreate(Person("8 912 555 01 50", false, {"contact.name", "outcome"}), &matched);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(matched.outcome(), v1::FindOrCreateContactResponse::OUTCOME_MATCHED);
  EXPECT_EQ(matched.contact().id(), 0);  // not asked for
  EXPECT_EQ(matched.contact().name(), "Chat visitor");
  EXPECT_EQ(matched.contact().phones_size(), 0);
  EXPECT_EQ(GetsWith("/api/v4/contacts", "query"), 1u);
  EXPECT_EQ(emulator_->requests().size(), 1u);

  // A match that gains a phone is a write: with the id mask, not read back either.
  emulator_->ClearRequests();
  v1::FindOrCreateContactRequest more = Person("8 912 555 01 50", true, determined);
  more.mutable_contact()->add_phones("+7 912 555 01 51");
  status = FindOrCreate(more, &matched);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(matched.outcome(), v1::FindOrCreateContactResponse::OUTCOME_MATCHED);
  EXPECT_EQ(matched.contact().id(), created.contact().id());
  EXPECT_EQ(matched.contact().phones_size(), 0);
  EXPECT_EQ(Requests("PATCH", "/api/v4/contacts"), 1u);
  EXPECT_EQ(GetsWith("/api/v4/contacts", "filter[id][]"), 0u);
  EXPECT_EQ(emulator_->requests().size(), 3u);  // two lookups (one per phone) and the PATCH

  v1::GetContactRequest get;
  get.set_contact_id(created.contact().id());
  v1::GetContactResponse got;
  ASSERT_TRUE(stack_->contacts->GetContact(Context().get(), get, &got).ok());
  EXPECT_EQ(got.contact().name(), "Chat visitor");
  EXPECT_EQ(got.contact().phones_size(), 2);
  EXPECT_EQ(emulator_->contact_count(), 1u);
}

TEST_F(ReadMaskTest, FindOrCreateWithOtherMasksStillReadsBack) {
  v1::FindOrCreateContactResponse created;
  grpc::Status status =
      FindOrCreate(Person("+7 912 555 02 60", false, {"contact.name", "outcome"}), &created);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(created.outcome(), v1::FindOrCreateContactResponse::OUTCOME_CREATED);
  EXPECT_EQ(created.contact().id(), 0);
  EXPECT_EQ(created.contact().name(), "Chat visitor");
  EXPECT_EQ(Requests("POST", "/api/v4/contacts"), 1u);
  EXPECT_EQ(GetsWith("/api/v4/contacts", "filter[id][]"), 1u);
}

// A call waiting behind one for the same person takes that call's contact; when that contact was
// written without a read-back and the waiting call asks for more, it reads the contact by id (a
// search might not show it yet), and nothing is created twice.
TEST_F(ReadMaskTest, ACallServedFromAContactWrittenWithoutReadBackReadsItById) {
  emu::FaultRule slow;
  slow.method = "POST";
  slow.path_prefix = "/api/v4/contacts";
  slow.action = emu::FaultAction::kLatency;
  slow.delay = std::chrono::milliseconds(400);
  ASSERT_TRUE(emulator_->AddFault(slow).ok());

  v1::FindOrCreateContactResponse first;
  grpc::Status first_status;
  std::thread writer([&] {
    first_status =
        FindOrCreate(Person("+7 912 555 03 70", false, {"contact.id", "outcome"}), &first);
  });
  // The first call holds the person once its lookup is answered (its POST is then held 400 ms).
  const absl::Time give_up = absl::Now() + absl::Seconds(5);
  while (GetsWith("/api/v4/contacts", "query") == 0 && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(2));
  }
  ASSERT_EQ(GetsWith("/api/v4/contacts", "query"), 1u);
  v1::FindOrCreateContactResponse second;
  grpc::Status second_status = FindOrCreate(Person("8 912 555 03 70", false, {}), &second);
  writer.join();
  ASSERT_TRUE(first_status.ok()) << first_status.error_message();
  ASSERT_TRUE(second_status.ok()) << second_status.error_message();
  EXPECT_EQ(first.outcome(), v1::FindOrCreateContactResponse::OUTCOME_CREATED);
  EXPECT_EQ(first.contact().name(), "");
  EXPECT_EQ(second.outcome(), v1::FindOrCreateContactResponse::OUTCOME_MATCHED);
  EXPECT_EQ(second.contact().id(), first.contact().id());
  EXPECT_EQ(second.contact().name(), "Chat visitor");
  EXPECT_EQ(second.contact().phones_size(), 1);
  EXPECT_EQ(emulator_->contact_count(), 1u);
  EXPECT_EQ(GetsWith("/api/v4/contacts", "query"), 1u);  // the second call searched nothing
  EXPECT_EQ(Requests("GET", "/api/v4/contacts/{id}"), 1u);
}

TEST_F(ReadMaskTest, WrapperRpcsRefuseUnknownPathsBeforeKommo) {
  v1::CreateLeadWithContactResponse complex;
  grpc::Status status = stack_->leads->CreateLeadWithContact(
      Context().get(), LeadWithContact("Deal", "+1 555 0144", {"lead.id", "id"}), &complex);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Inspect(status).reason, "INVALID_FIELD");
  EXPECT_THAT(Inspect(status).fields, ElementsAre("read_mask.paths[1]"));

  v1::CreateIncomingLeadResponse incoming;
  status = stack_->leads->CreateIncomingLead(Context().get(), Incoming("x-1", {"id"}), &incoming);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(Inspect(status).fields, ElementsAre("read_mask.paths[0]"));

  v1::AcceptIncomingLeadRequest accept;
  accept.set_uid("abc123");
  accept.mutable_read_mask()->add_paths("uid");
  v1::AcceptIncomingLeadResponse accepted;
  status = stack_->leads->AcceptIncomingLead(Context().get(), accept, &accepted);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(Inspect(status).fields, ElementsAre("read_mask.paths[0]"));

  v1::FindOrCreateContactResponse found;
  status = FindOrCreate(Person("+7 912 555 04 80", false, {"outcome", "contact.nmae"}), &found);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Inspect(status).reason, "INVALID_FIELD");
  EXPECT_THAT(Inspect(status).fields, ElementsAre("read_mask.paths[1]"));

  EXPECT_TRUE(emulator_->requests().empty());
}

}  // namespace
}  // namespace kommo
