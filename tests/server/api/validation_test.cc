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

}  // namespace
}  // namespace kommo::api
