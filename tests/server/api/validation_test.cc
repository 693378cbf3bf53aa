#include "server/api/validation.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/common/error_details.h"

namespace kommo::api {
namespace {

using ::testing::ElementsAre;

// The fields named by the violations of `status`, in order.
std::vector<std::string> Fields(const absl::Status& status) {
  std::vector<std::string> fields;
  if (auto bad_request = GetBadRequest(status)) {
    for (const auto& violation : bad_request->field_violations()) {
      fields.push_back(violation.field());
    }
  }
  return fields;
}

TEST(ValidateCreateLeadTest, AcceptsAMinimalLead) {
  v1::CreateLeadRequest request;
  request.set_name("Website inquiry");
  EXPECT_TRUE(ValidateCreateLead(request).ok());
}

TEST(ValidateCreateLeadTest, ReportsEveryProblemAtOnce) {
  v1::CreateLeadRequest request;
  request.set_price(-1);
  request.set_pipeline_id(-5);
  request.add_contact_ids(7);
  request.add_contact_ids(0);
  request.add_contact_ids(7);
  absl::Status status = ValidateCreateLead(request);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(GetErrorInfo(status)->reason(), "INVALID_FIELD");
  EXPECT_THAT(Fields(status),
              ElementsAre("name", "price", "pipeline_id", "contact_ids[1]", "contact_ids[2]"));
  EXPECT_THAT(std::string(status.message()), ::testing::HasSubstr("name is required"));
}

TEST(ValidateCreateLeadTest, NameLengthCountsCharactersNotBytes) {
  v1::CreateLeadRequest request;
  std::string name;
  for (int i = 0; i < 255; ++i) name += "\xc3\xbc";  // "ü": 2 bytes, 1 character
  request.set_name(name);
  EXPECT_TRUE(ValidateCreateLead(request).ok());
  request.set_name(name + "x");
  EXPECT_THAT(Fields(ValidateCreateLead(request)), ElementsAre("name"));
  request.set_name("   ");
  EXPECT_THAT(Fields(ValidateCreateLead(request)), ElementsAre("name"));
  request.set_name("tab\tinside");
  EXPECT_THAT(Fields(ValidateCreateLead(request)), ElementsAre("name"));
}

TEST(ValidateUpdateLeadTest, PresenceDecidesWhatIsChecked) {
  v1::UpdateLeadRequest request;
  EXPECT_THAT(Fields(ValidateUpdateLead(request)), ElementsAre("lead_id"));
  request.set_lead_id(31000000001);
  request.set_price(0);  // setting a price of 0 is allowed
  EXPECT_TRUE(ValidateUpdateLead(request).ok());
  request.set_status_id(0);  // but a present stage must be a real id
  request.set_name("");
  EXPECT_THAT(Fields(ValidateUpdateLead(request)), ElementsAre("name", "status_id"));
}

TEST(ValidateSearchTest, PageSizeBounds) {
  v1::SearchLeadsRequest request;
  request.set_page_size(250);
  EXPECT_TRUE(ValidateSearchLeads(request).ok());
  request.set_page_size(251);
  EXPECT_THAT(Fields(ValidateSearchLeads(request)), ElementsAre("page_size"));
  request.set_page_size(-1);
  EXPECT_THAT(Fields(ValidateSearchLeads(request)), ElementsAre("page_size"));
  v1::SearchContactsRequest contacts;
  contacts.set_query(std::string(256, 'a'));
  EXPECT_THAT(Fields(ValidateSearchContacts(contacts)), ElementsAre("query"));
}

TEST(ValidateGetTest, IdsMustBePositive) {
  v1::GetLeadRequest lead;
  lead.set_lead_id(-3);
  EXPECT_THAT(Fields(ValidateGetLead(lead)), ElementsAre("lead_id"));
  v1::GetContactRequest contact;
  EXPECT_THAT(Fields(ValidateGetContact(contact)), ElementsAre("contact_id"));
  contact.set_contact_id(52000000001);
  EXPECT_TRUE(ValidateGetContact(contact).ok());
}

TEST(ValidateCreateContactTest, RequiredOwnersAndWellFormedEmails) {
  v1::CreateContactRequest request;
  request.add_emails("not-an-email");
  request.add_emails("ann@example.com");
  request.add_emails("@example.com");
  request.add_phones("");
  EXPECT_THAT(
      Fields(ValidateCreateContact(request)),
      ElementsAre("responsible_user_id", "created_by", "phones[0]", "emails[0]", "emails[2]"));
  v1::CreateContactRequest good;
  good.set_responsible_user_id(8000001);
  good.set_created_by(8000001);
  good.set_name("Ann Lee");
  good.add_phones("+1 555 0100");
  good.add_emails("ann@example.com");
  EXPECT_TRUE(ValidateCreateContact(good).ok());
}

TEST(ValidateCreateTaskTest, ATaskOnNothingOrOnAnEntity) {
  v1::CreateTaskRequest request;
  request.set_text("Call back");
  request.mutable_due_at()->set_seconds(1750003600);
  EXPECT_TRUE(ValidateCreateTask(request).ok());
  request.set_entity_type(v1::ENTITY_TYPE_CONTACT);
  request.set_entity_id(52000000001);
  request.set_task_type_id(2);
  request.set_responsible_user_id(8000002);
  request.set_request_id("crm-task-17");
  EXPECT_TRUE(ValidateCreateTask(request).ok());
}

TEST(ValidateCreateTaskTest, ReportsEveryProblemAtOnce) {
  v1::CreateTaskRequest request;
  request.set_request_id("has space");
  request.set_entity_id(5);  // without entity_type
  request.set_text("  ");
  request.set_task_type_id(-1);
  request.set_responsible_user_id(-2);
  absl::Status status = ValidateCreateTask(request);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Fields(status), ElementsAre("request_id", "entity_id", "text", "due_at",
                                          "task_type_id", "responsible_user_id"));
  v1::CreateTaskRequest typed;
  typed.set_entity_type(v1::ENTITY_TYPE_LEAD);
  typed.set_text(std::string(65001, 'x'));
  typed.mutable_due_at()->set_seconds(-5);
  EXPECT_THAT(Fields(ValidateCreateTask(typed)), ElementsAre("entity_id", "text", "due_at"));
  typed.set_entity_type(static_cast<v1::EntityType>(9));
  typed.set_entity_id(1);
  typed.set_text("ok");
  typed.mutable_due_at()->set_seconds(1750003600);
  typed.mutable_due_at()->set_nanos(-1);
  EXPECT_THAT(Fields(ValidateCreateTask(typed)), ElementsAre("entity_type", "due_at"));
}

TEST(ValidateCompleteTaskTest, NeedsATaskAndAResultOfBoundedLength) {
  v1::CompleteTaskRequest request;
  request.set_result_text(std::string(65001, 'r'));
  EXPECT_THAT(Fields(ValidateCompleteTask(request)), ElementsAre("task_id", "result_text"));
  request.set_task_id(78000000001);
  request.set_result_text("");
  EXPECT_TRUE(ValidateCompleteTask(request).ok());
}

TEST(ValidateListTasksTest, FiltersMustBeConsistent) {
  v1::ListTasksRequest request;
  EXPECT_TRUE(ValidateListTasks(request).ok());
  request.add_entity_ids(31000000001);
  request.add_entity_ids(0);
  request.set_completion(static_cast<v1::ListTasksRequest::Completion>(7));
  request.add_responsible_user_ids(-1);
  request.mutable_due_from()->set_seconds(2000);
  request.mutable_due_to()->set_seconds(1000);
  request.set_order(static_cast<v1::ListTasksRequest::Order>(5));
  request.set_page_size(251);
  EXPECT_THAT(Fields(ValidateListTasks(request)),
              ElementsAre("entity_ids", "entity_ids[1]", "completion", "responsible_user_ids[0]",
                          "due_to", "order", "page_size"));
  v1::ListTasksRequest many;
  many.set_entity_type(v1::ENTITY_TYPE_LEAD);
  for (int i = 1; i <= 51; ++i) many.add_entity_ids(i);
  EXPECT_THAT(Fields(ValidateListTasks(many)), ElementsAre("entity_ids"));
}

}  // namespace
}  // namespace kommo::api
