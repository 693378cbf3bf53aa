// read_mask on creates and updates (ctest label `integration`): the service in-process against
// the emulator. A mask of only "id" is answered from Kommo's answer to the write, so the
// emulator's request log holds no read-back; any other mask reads back as before and the answer
// holds only the fields named.

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <thread>
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

}  // namespace
}  // namespace kommo
