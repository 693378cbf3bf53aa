// CompanyService, LinkService and LeadService.ListLeads end to end (ctest label `integration`):
// the service in-process against the emulator. Each test checks what the caller got and what
// Kommo (the emulator) was asked.

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
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
using ::testing::UnorderedElementsAre;

constexpr char kToken[] = "crm-token";

class CrmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    emu::EmulatorOptions options;
    options.token = kToken;
    // Kommo's clock in whole seconds, moved by the tests (created_at and updated_at ranges).
    options.clock = [this] { return now_.load(); };
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

  grpc::Status CreateCompany(const v1::CreateCompanyRequest& request, v1::Company* company,
                             absl::Duration deadline = absl::Seconds(10)) {
    grpc::ClientContext context;
    SetDeadline(context, deadline);
    v1::CreateCompanyResponse response;
    grpc::Status status = stack_->companies->CreateCompany(&context, request, &response);
    *company = response.company();
    return status;
  }

  int64_t NewCompany(const std::string& name) {
    v1::CreateCompanyRequest request;
    request.set_name(name);
    v1::Company company;
    grpc::Status status = CreateCompany(request, &company);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return company.id();
  }

  int64_t NewLead(const std::string& name, int64_t pipeline_id = 0, int64_t status_id = 0) {
    grpc::ClientContext context;
    SetDeadline(context, absl::Seconds(10));
    v1::CreateLeadRequest request;
    request.set_name(name);
    request.set_pipeline_id(pipeline_id);
    request.set_status_id(status_id);
    v1::CreateLeadResponse response;
    grpc::Status status = stack_->leads->CreateLead(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.lead().id();
  }

  int64_t NewContact(const std::string& name) {
    grpc::ClientContext context;
    SetDeadline(context, absl::Seconds(10));
    v1::CreateContactRequest request;
    request.set_name(name);
    request.set_responsible_user_id(emu::kAdminUserId);
    request.set_created_by(emu::kAdminUserId);
    v1::CreateContactResponse response;
    grpc::Status status = stack_->contacts->CreateContact(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.contact().id();
  }

  grpc::Status Link(v1::EntityType type, int64_t id, v1::EntityType to_type, int64_t to_id,
                    bool is_main = false, v1::Link* link = nullptr) {
    grpc::ClientContext context;
    SetDeadline(context, absl::Seconds(10));
    v1::LinkEntitiesRequest request;
    request.set_entity_type(type);
    request.set_entity_id(id);
    request.set_to_entity_type(to_type);
    request.set_to_entity_id(to_id);
    request.set_is_main(is_main);
    v1::LinkEntitiesResponse response;
    grpc::Status status = stack_->links->LinkEntities(&context, request, &response);
    if (link != nullptr) *link = response.link();
    return status;
  }

  grpc::Status Unlink(v1::EntityType type, int64_t id, v1::EntityType to_type, int64_t to_id) {
    grpc::ClientContext context;
    SetDeadline(context, absl::Seconds(10));
    v1::UnlinkEntitiesRequest request;
    request.set_entity_type(type);
    request.set_entity_id(id);
    request.set_to_entity_type(to_type);
    request.set_to_entity_id(to_id);
    v1::UnlinkEntitiesResponse response;
    return stack_->links->UnlinkEntities(&context, request, &response);
  }

  // "type:id" (with "*" for the main contact) of each listed link.
  std::vector<std::string> Links(v1::EntityType type, int64_t id,
                                 v1::EntityType to_type = v1::ENTITY_TYPE_UNSPECIFIED) {
    grpc::ClientContext context;
    SetDeadline(context, absl::Seconds(10));
    v1::ListLinksRequest request;
    request.set_entity_type(type);
    request.set_entity_id(id);
    request.set_to_entity_type(to_type);
    v1::ListLinksResponse response;
    grpc::Status status = stack_->links->ListLinks(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    std::vector<std::string> out;
    for (const v1::Link& link : response.links()) {
      EXPECT_EQ(link.entity_type(), type);
      EXPECT_EQ(link.entity_id(), id);
      out.push_back(absl::StrCat(v1::EntityType_Name(link.to_entity_type()).substr(12), ":",
                                 link.to_entity_id(), link.is_main() ? "*" : ""));
    }
    return out;
  }

  grpc::Status ListLeads(const v1::ListLeadsRequest& request, v1::ListLeadsResponse* response) {
    grpc::ClientContext context;
    SetDeadline(context, absl::Seconds(10));
    return stack_->leads->ListLeads(&context, request, response);
  }

  // The names of the leads listed, page after page, and the pages it took.
  std::vector<std::string> ListedNames(v1::ListLeadsRequest request, int* pages = nullptr) {
    std::vector<std::string> names;
    int count = 0;
    for (; count < 50; ++count) {
      v1::ListLeadsResponse response;
      grpc::Status status = ListLeads(request, &response);
      EXPECT_TRUE(status.ok()) << status.error_message();
      for (const v1::Lead& lead : response.leads()) names.push_back(lead.name());
      if (response.next_page_token().empty()) break;
      request.set_page_token(response.next_page_token());
    }
    if (pages != nullptr) *pages = count + 1;
    return names;
  }

  uint64_t Requests(const std::string& method, absl::string_view path_part) {
    uint64_t total = 0;
    for (const emu::RequestCount& each : emulator_->request_counts()) {
      if (each.method == method && absl::StrContains(each.path, path_part)) total += each.count;
    }
    return total;
  }
  uint64_t AllRequests() {
    uint64_t total = 0;
    for (const emu::RequestCount& each : emulator_->request_counts()) total += each.count;
    return total;
  }

  std::atomic<int64_t> now_{1700000000};
  std::unique_ptr<emu::Emulator> emulator_;
  std::unique_ptr<ServiceStack> stack_;
};

// ---- companies ----------------------------------------------------------------------------------

TEST_F(CrmTest, CreateGetUpdateAndSearchCompanies) {
  v1::CreateCompanyRequest create;
  create.set_name("Acme Trading");
  create.set_responsible_user_id(emu::kManagerUserId);
  v1::Company company;
  grpc::Status status = CreateCompany(create, &company);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_GT(company.id(), 0);
  EXPECT_EQ(company.name(), "Acme Trading");
  EXPECT_EQ(company.responsible_user_id(), emu::kManagerUserId);
  EXPECT_EQ(company.created_at().seconds(), now_.load());  // read back from Kommo
  EXPECT_EQ(emulator_->company_count(), 1u);

  {
    grpc::ClientContext context;
    SetDeadline(context, absl::Seconds(10));
    v1::GetCompanyRequest get;
    get.set_company_id(company.id());
    v1::GetCompanyResponse got;
    ASSERT_TRUE(stack_->companies->GetCompany(&context, get, &got).ok());
    EXPECT_EQ(got.company().name(), "Acme Trading");
  }
  {
    now_ += 60;
    grpc::ClientContext context;
    SetDeadline(context, absl::Seconds(10));
    v1::UpdateCompanyRequest update;
    update.set_company_id(company.id());
    update.set_name("Acme Trading Ltd");
    v1::UpdateCompanyResponse updated;
    status = stack_->companies->UpdateCompany(&context, update, &updated);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(updated.company().name(), "Acme Trading Ltd");
    EXPECT_EQ(updated.company().responsible_user_id(), emu::kManagerUserId);  // left alone
    EXPECT_EQ(updated.company().updated_at().seconds(), now_.load());
  }
  for (int i = 0; i < 5; ++i) NewCompany(absl::StrCat("Beta ", i));
  std::vector<std::string> found;
  v1::SearchCompaniesRequest search;
  search.set_query("beta");
  search.set_page_size(2);
  for (int pages = 0; pages < 10; ++pages) {
    grpc::ClientContext context;
    SetDeadline(context, absl::Seconds(10));
    v1::SearchCompaniesResponse page;
    status = stack_->companies->SearchCompanies(&context, search, &page);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_LE(page.companies_size(), 2);
    for (const v1::Company& each : page.companies()) found.push_back(each.name());
    if (page.next_page_token().empty()) break;
    search.set_page_token(page.next_page_token());
  }
  EXPECT_THAT(found, ElementsAre("Beta 0", "Beta 1", "Beta 2", "Beta 3", "Beta 4"));

  // No match: an empty page (Kommo's 204), not an error.
  grpc::ClientContext context;
  SetDeadline(context, absl::Seconds(10));
  v1::SearchCompaniesRequest none;
  none.set_query("no such company");
  v1::SearchCompaniesResponse empty;
  ASSERT_TRUE(stack_->companies->SearchCompanies(&context, none, &empty).ok());
  EXPECT_EQ(empty.companies_size(), 0);
  EXPECT_TRUE(empty.next_page_token().empty());
}

TEST_F(CrmTest, CompanyErrorsAndRequestId) {
  emulator_->ClearRequests();
  v1::CreateCompanyRequest blank;
  blank.set_name("  ");
  v1::Company company;
  grpc::Status status = CreateCompany(blank, &company);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(Inspect(status).fields, ElementsAre("name"));
  EXPECT_EQ(AllRequests(), 0u) << "Kommo was not asked";

  for (bool update : {false, true}) {
    grpc::ClientContext context;
    SetDeadline(context, absl::Seconds(10));
    if (update) {
      v1::UpdateCompanyRequest request;
      request.set_company_id(emu::kFirstCompanyId + 77);
      request.set_name("x");
      v1::UpdateCompanyResponse response;
      status = stack_->companies->UpdateCompany(&context, request, &response);
    } else {
      v1::GetCompanyRequest request;
      request.set_company_id(emu::kFirstCompanyId + 77);
      v1::GetCompanyResponse response;
      status = stack_->companies->GetCompany(&context, request, &response);
    }
    EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND) << update;
    EXPECT_EQ(Inspect(status).reason, "COMPANY_NOT_FOUND") << update;
  }

  // The same request_id twice: one company, the same answer.
  v1::CreateCompanyRequest keyed;
  keyed.set_name("Once Inc");
  keyed.set_request_id("company-once-1");
  v1::Company first;
  v1::Company second;
  ASSERT_TRUE(CreateCompany(keyed, &first).ok());
  ASSERT_TRUE(CreateCompany(keyed, &second).ok());
  EXPECT_EQ(first.id(), second.id());
  EXPECT_EQ(emulator_->company_count(), 1u);
}

// Custom fields (by code and by id, a select by its text) and tags on a company: written, read back
// typed, replaced field by field, cleared, and refused before Kommo when the catalogue says no.
TEST_F(CrmTest, CompanyCustomFieldsAndTags) {
  auto value_of = [](const v1::Company& company, int64_t field_id) -> const v1::CustomFieldValues* {
    for (const v1::CustomFieldValues& field : company.custom_fields()) {
      if (field.field_id() == field_id) return &field;
    }
    return nullptr;
  };
  auto tag_names = [](const v1::Company& company) {
    std::vector<std::string> names;
    for (const v1::Tag& tag : company.tags()) names.push_back(tag.name());
    return names;
  };

  v1::CreateCompanyRequest create;
  create.set_name("Acme Fields");
  v1::CustomFieldValues* web = create.add_custom_fields();
  web->set_field_code("WEB");
  web->add_values()->set_text("https://acme.test/");
  v1::CustomFieldValues* industry = create.add_custom_fields();
  industry->set_field_id(emu::kIndustryFieldId);
  industry->add_values()->set_text("Software");
  create.add_tags_to_add("vip");
  create.add_tags_to_add("partner");
  v1::Company company;
  grpc::Status status = CreateCompany(create, &company);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_NE(value_of(company, emu::kWebFieldId), nullptr);
  EXPECT_EQ(value_of(company, emu::kWebFieldId)->values(0).text(), "https://acme.test/");
  EXPECT_EQ(value_of(company, emu::kWebFieldId)->field_code(), "WEB");
  ASSERT_NE(value_of(company, emu::kIndustryFieldId), nullptr);
  ASSERT_EQ(value_of(company, emu::kIndustryFieldId)->values_size(), 1);
  EXPECT_EQ(value_of(company, emu::kIndustryFieldId)->values(0).enum_id(),
            emu::kIndustrySoftwareEnumId);
  EXPECT_EQ(value_of(company, emu::kIndustryFieldId)->values(0).text(), "Software");
  EXPECT_THAT(tag_names(company), UnorderedElementsAre("vip", "partner"));

  // The industry cleared, the address set, one tag swapped; WEB is not listed and stays.
  v1::UpdateCompanyRequest update;
  update.set_company_id(company.id());
  update.add_custom_fields()->set_field_id(emu::kIndustryFieldId);
  v1::CustomFieldValues* address = update.add_custom_fields();
  address->set_field_code("ADDRESS");
  address->add_values()->set_text("1 Main St\nSpringfield");
  update.add_tags_to_remove("vip");
  update.add_tags_to_add("b2b");
  {
    grpc::ClientContext context;
    SetDeadline(context, absl::Seconds(10));
    v1::UpdateCompanyResponse updated;
    status = stack_->companies->UpdateCompany(&context, update, &updated);
    ASSERT_TRUE(status.ok()) << status.error_message();
    company = updated.company();
  }
  EXPECT_EQ(value_of(company, emu::kIndustryFieldId), nullptr);
  ASSERT_NE(value_of(company, emu::kAddressFieldId), nullptr);
  EXPECT_EQ(value_of(company, emu::kAddressFieldId)->values(0).text(), "1 Main St\nSpringfield");
  ASSERT_NE(value_of(company, emu::kWebFieldId), nullptr);
  EXPECT_EQ(value_of(company, emu::kWebFieldId)->values(0).text(), "https://acme.test/");
  EXPECT_THAT(tag_names(company), UnorderedElementsAre("partner", "b2b"));

  // An industry the catalogue does not have and an unknown code: refused with the fields named,
  // and Kommo is not asked to write.
  const uint64_t writes_before = Requests("POST", "/companies") + Requests("PATCH", "/companies");
  v1::UpdateCompanyRequest bad;
  bad.set_company_id(company.id());
  v1::CustomFieldValues* farming = bad.add_custom_fields();
  farming->set_field_id(emu::kIndustryFieldId);
  farming->add_values()->set_text("Farming");
  v1::CustomFieldValues* unknown = bad.add_custom_fields();
  unknown->set_field_code("NO_SUCH_FIELD");
  unknown->add_values()->set_text("x");
  {
    grpc::ClientContext context;
    SetDeadline(context, absl::Seconds(10));
    v1::UpdateCompanyResponse response;
    status = stack_->companies->UpdateCompany(&context, bad, &response);
  }
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Inspect(status).reason, "INVALID_FIELD");
  EXPECT_THAT(Inspect(status).fields,
              ElementsAre("custom_fields[0].values[0].text", "custom_fields[1].field_code"));
  EXPECT_EQ(Requests("POST", "/companies") + Requests("PATCH", "/companies"), writes_before);
}

// N concurrent creates cost at most ceil(N/50) writes and as many read-backs (500 ms window, as in
// the tasks test: threads of a loaded 2-core machine do not all arrive within 2 ms).
TEST_F(CrmTest, ConcurrentCreatesAreCoalesced) {
  StartStack(absl::Milliseconds(500));
  emulator_->ClearRequests();
  constexpr int kCalls = 120;
  std::vector<v1::Company> companies(kCalls);
  std::vector<grpc::Status> statuses(kCalls);
  std::mutex mutex;
  std::condition_variable go;
  bool started = false;
  std::vector<std::thread> threads;
  for (int i = 0; i < kCalls; ++i) {
    threads.emplace_back([&, i] {
      {
        std::unique_lock<std::mutex> lock(mutex);
        go.wait(lock, [&] { return started; });
      }
      v1::CreateCompanyRequest request;
      request.set_name(absl::StrCat("Company ", i));
      statuses[i] = CreateCompany(request, &companies[i], absl::Seconds(30));
    });
  }
  {
    std::lock_guard<std::mutex> lock(mutex);
    started = true;
  }
  go.notify_all();
  for (std::thread& thread : threads) thread.join();
  std::set<int64_t> ids;
  for (int i = 0; i < kCalls; ++i) {
    ASSERT_TRUE(statuses[i].ok()) << i << ": " << statuses[i].error_message();
    EXPECT_EQ(companies[i].name(), absl::StrCat("Company ", i));
    ids.insert(companies[i].id());
  }
  EXPECT_EQ(ids.size(), static_cast<size_t>(kCalls));
  EXPECT_LE(Requests("POST", "/companies"), 3u);  // ceil(120 / 50)
  EXPECT_LE(Requests("GET", "/companies"), 3u);
}

// ---- links --------------------------------------------------------------------------------------

TEST_F(CrmTest, LinksFromEitherSide) {
  const int64_t lead = NewLead("Deal");
  const int64_t anna = NewContact("Anna");
  const int64_t boris = NewContact("Boris");
  const int64_t acme = NewCompany("Acme");
  emulator_->ClearRequests();

  v1::Link link;
  ASSERT_TRUE(Link(v1::ENTITY_TYPE_LEAD, lead, v1::ENTITY_TYPE_CONTACT, anna, false, &link).ok());
  EXPECT_TRUE(link.is_main());  // the first contact becomes the main one
  // A contact–lead link is the lead's link, answered from the caller's side.
  grpc::Status status =
      Link(v1::ENTITY_TYPE_CONTACT, boris, v1::ENTITY_TYPE_LEAD, lead, true, &link);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(link.entity_type(), v1::ENTITY_TYPE_CONTACT);
  EXPECT_EQ(link.entity_id(), boris);
  EXPECT_EQ(link.to_entity_id(), lead);
  EXPECT_TRUE(link.is_main());
  ASSERT_TRUE(Link(v1::ENTITY_TYPE_COMPANY, acme, v1::ENTITY_TYPE_LEAD, lead).ok());
  ASSERT_TRUE(Link(v1::ENTITY_TYPE_CONTACT, anna, v1::ENTITY_TYPE_COMPANY, acme).ok());
  EXPECT_EQ(Requests("POST", "/leads/"), 3u);
  EXPECT_EQ(Requests("POST", "/contacts/"), 1u);

  EXPECT_THAT(Links(v1::ENTITY_TYPE_LEAD, lead),
              ElementsAre(absl::StrCat("CONTACT:", boris, "*"), absl::StrCat("CONTACT:", anna),
                          absl::StrCat("COMPANY:", acme)));
  EXPECT_THAT(Links(v1::ENTITY_TYPE_LEAD, lead, v1::ENTITY_TYPE_COMPANY),
              ElementsAre(absl::StrCat("COMPANY:", acme)));
  EXPECT_THAT(Links(v1::ENTITY_TYPE_COMPANY, acme),
              UnorderedElementsAre(absl::StrCat("LEAD:", lead), absl::StrCat("CONTACT:", anna)));
  EXPECT_THAT(Links(v1::ENTITY_TYPE_CONTACT, anna),
              UnorderedElementsAre(absl::StrCat("LEAD:", lead), absl::StrCat("COMPANY:", acme)));

  // Unlinking (204 from Kommo) is idempotent.
  ASSERT_TRUE(Unlink(v1::ENTITY_TYPE_LEAD, lead, v1::ENTITY_TYPE_CONTACT, boris).ok());
  status = Unlink(v1::ENTITY_TYPE_CONTACT, boris, v1::ENTITY_TYPE_LEAD, lead);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(Links(v1::ENTITY_TYPE_LEAD, lead, v1::ENTITY_TYPE_CONTACT),
              ElementsAre(absl::StrCat("CONTACT:", anna, "*")));
  EXPECT_THAT(Links(v1::ENTITY_TYPE_CONTACT, boris), ElementsAre());
}

TEST_F(CrmTest, LinkErrors) {
  const int64_t lead = NewLead("Deal");
  const int64_t contact = NewContact("Anna");
  emulator_->ClearRequests();

  // Pairs Kommo does not link, and is_main off a lead–contact link: refused locally.
  grpc::Status status = Link(v1::ENTITY_TYPE_LEAD, lead, v1::ENTITY_TYPE_LEAD, lead + 1);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(Inspect(status).fields, ElementsAre("to_entity_type"));
  status = Link(v1::ENTITY_TYPE_LEAD, lead, v1::ENTITY_TYPE_COMPANY, 5, /*is_main=*/true);
  EXPECT_THAT(Inspect(status).fields, ElementsAre("is_main"));
  status = Unlink(v1::ENTITY_TYPE_UNSPECIFIED, 0, v1::ENTITY_TYPE_CONTACT, contact);
  EXPECT_THAT(Inspect(status).fields, ElementsAre("entity_type", "entity_id"));
  EXPECT_EQ(AllRequests(), 0u) << "Kommo was not asked";

  // The missing entity's reason, whichever side it is on.
  status = Link(v1::ENTITY_TYPE_LEAD, lead + 500, v1::ENTITY_TYPE_CONTACT, contact);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Inspect(status).reason, "LEAD_NOT_FOUND");
  status = Link(v1::ENTITY_TYPE_LEAD, lead, v1::ENTITY_TYPE_CONTACT, contact + 500);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  CallError error = Inspect(status);
  EXPECT_EQ(error.reason, "CONTACT_NOT_FOUND");
  EXPECT_EQ(error.metadata["contact_id"], absl::StrCat(contact + 500));
  status =
      Link(v1::ENTITY_TYPE_COMPANY, emu::kFirstCompanyId + 9, v1::ENTITY_TYPE_CONTACT, contact);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Inspect(status).reason, "COMPANY_NOT_FOUND");
}

// ---- ListLeads ----------------------------------------------------------------------------------

TEST_F(CrmTest, ListLeadsFiltersOrdersAndPages) {
  const int64_t pipeline = emu::kMainPipelineId;
  const int64_t first_stage = emu::kMainPipelineFirstStatusId;
  const int64_t second_stage = emu::kMainPipelineSecondStatusId;
  std::vector<int64_t> ids;
  for (int i = 0; i < 7; ++i) {
    now_ += 100;
    ids.push_back(NewLead(absl::StrCat("L", i), pipeline, i % 2 == 0 ? first_stage : second_stage));
  }
  const int64_t t0 = now_.load() - 600;  // L0's created_at
  // L1 changes last.
  now_ += 1000;
  {
    grpc::ClientContext context;
    SetDeadline(context, absl::Seconds(10));
    v1::UpdateLeadRequest update;
    update.set_lead_id(ids[1]);
    update.set_price(10);
    v1::UpdateLeadResponse response;
    ASSERT_TRUE(stack_->leads->UpdateLead(&context, update, &response).ok());
  }

  // Everything by id, 3 a page.
  v1::ListLeadsRequest all;
  all.set_page_size(3);
  int pages = 0;
  EXPECT_THAT(ListedNames(all, &pages), ElementsAre("L0", "L1", "L2", "L3", "L4", "L5", "L6"));
  EXPECT_EQ(pages, 3);

  v1::ListLeadsRequest desc = all;
  desc.set_order_by(v1::ListLeadsRequest::ORDER_BY_CREATED_AT);
  desc.set_descending(true);
  EXPECT_THAT(ListedNames(desc), ElementsAre("L6", "L5", "L4", "L3", "L2", "L1", "L0"));

  v1::ListLeadsRequest by_update = all;
  by_update.set_order_by(v1::ListLeadsRequest::ORDER_BY_UPDATED_AT);
  EXPECT_THAT(ListedNames(by_update), ElementsAre("L0", "L2", "L3", "L4", "L5", "L6", "L1"));

  v1::ListLeadsRequest by_ids = all;
  by_ids.add_ids(ids[5]);
  by_ids.add_ids(ids[2]);
  EXPECT_THAT(ListedNames(by_ids), ElementsAre("L2", "L5"));

  v1::ListLeadsRequest by_stage = all;
  v1::PipelineStage* stage = by_stage.add_stages();
  stage->set_pipeline_id(pipeline);
  stage->set_status_id(second_stage);
  EXPECT_THAT(ListedNames(by_stage), ElementsAre("L1", "L3", "L5"));
  v1::ListLeadsRequest by_pipeline = all;
  by_pipeline.add_stages()->set_pipeline_id(pipeline);
  EXPECT_EQ(ListedNames(by_pipeline).size(), 7u);

  v1::ListLeadsRequest created = all;
  created.mutable_created()->mutable_from()->set_seconds(t0 + 200);
  created.mutable_created()->mutable_to()->set_seconds(t0 + 400);
  EXPECT_THAT(ListedNames(created), ElementsAre("L2", "L3", "L4"));

  v1::ListLeadsRequest updated = all;
  updated.mutable_updated()->mutable_from()->set_seconds(now_.load());
  EXPECT_THAT(ListedNames(updated), ElementsAre("L1"));

  v1::ListLeadsRequest responsible = all;
  responsible.add_responsible_user_ids(emu::kManagerUserId);
  EXPECT_THAT(ListedNames(responsible), ElementsAre());

  v1::ListLeadsRequest query = all;
  query.set_query("L6");
  EXPECT_THAT(ListedNames(query), ElementsAre("L6"));

  // What Kommo was asked for.
  emulator_->ClearRequests();
  v1::ListLeadsResponse response;
  ASSERT_TRUE(ListLeads(by_stage, &response).ok());
  std::vector<emu::LoggedRequest> requests = emulator_->requests();
  ASSERT_EQ(requests.size(), 1u);
  std::set<std::string> params;
  for (const auto& [key, value] : requests[0].query) params.insert(key + "=" + value);
  EXPECT_TRUE(params.count(absl::StrCat("filter[statuses][0][pipeline_id]=", pipeline)));
  EXPECT_TRUE(params.count(absl::StrCat("filter[statuses][0][status_id]=", second_stage)));
  EXPECT_TRUE(params.count("order[id]=asc"));
  EXPECT_TRUE(params.count("limit=3"));
}

TEST_F(CrmTest, ListLeadsRefusesBadRequestsLocally) {
  emulator_->ClearRequests();
  v1::ListLeadsRequest bad;
  bad.add_ids(-1);
  bad.add_stages()->set_status_id(5);
  bad.mutable_created()->mutable_from()->set_seconds(2000000000);
  bad.mutable_created()->mutable_to()->set_seconds(1900000000);
  bad.set_page_size(251);
  v1::ListLeadsResponse response;
  grpc::Status status = ListLeads(bad, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(Inspect(status).fields,
              ElementsAre("ids[0]", "stages[0].pipeline_id", "created.to", "page_size"));

  v1::ListLeadsRequest mixed;
  mixed.add_stages()->set_pipeline_id(emu::kMainPipelineId);
  v1::PipelineStage* other = mixed.add_stages();
  other->set_pipeline_id(emu::kMainPipelineId + 1);
  other->set_status_id(7);
  EXPECT_EQ(ListLeads(mixed, &response).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // A token from another filter.
  v1::ListLeadsRequest first;
  first.set_page_size(1);
  NewLead("a");
  NewLead("b");
  emulator_->ClearRequests();
  ASSERT_TRUE(ListLeads(first, &response).ok());
  v1::ListLeadsRequest other_filter = first;
  other_filter.set_query("a");
  other_filter.set_page_token(response.next_page_token());
  status = ListLeads(other_filter, &response);
  EXPECT_EQ(Inspect(status).reason, "INVALID_PAGE_TOKEN");
  EXPECT_EQ(AllRequests(), 1u);
}

}  // namespace
}  // namespace kommo
