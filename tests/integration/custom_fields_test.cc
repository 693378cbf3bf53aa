// Custom fields, tags and UpdateContact end to end (ctest label `integration`): the service
// in-process against the emulator. Refused values are checked against the emulator's request log:
// no Kommo write is made for them.
#include <grpcpp/grpcpp.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "emulator/emulator.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/custom_fields_fixture.h"
#include "tests/support/service_stack.h"

namespace kommo {
namespace {

namespace emu = ::kommo::emulator;
using ::kommo::testing::CallError;
using ::kommo::testing::CustomFieldsTest;
using ::kommo::testing::Inspect;
using ::testing::ElementsAre;

TEST_F(CustomFieldsTest, ARefusedValueMakesNoKommoWrite) {
  v1::CreateLeadRequest request;
  request.set_name("Refused");
  v1::CustomFieldValues* product = request.add_custom_fields();
  product->set_field_id(emu::kProductFieldId);
  product->add_values()->set_enum_id(emu::kChannelWhatsAppEnumId);  // another field's choice
  v1::CustomFieldValues* units = request.add_custom_fields();
  units->set_field_id(emu::kUnitsFieldId);
  units->add_values()->set_text("twelve");  // numeric field: needs number
  request.add_custom_fields()->set_field_code("NO_SUCH_CODE");
  v1::Lead lead;
  CallError error = Inspect(CreateLead(request, &lead));
  EXPECT_EQ(error.code, grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(error.reason, "INVALID_FIELD");
  EXPECT_THAT(error.fields,
              ElementsAre("custom_fields[0].values[0].enum_id", "custom_fields[1].values[0].text",
                          "custom_fields[2].field_code"));
  EXPECT_EQ(Requests("GET", "/api/v4/leads/custom_fields"), 1u);
  EXPECT_EQ(Requests("POST", "/api/v4/leads"), 0u) << "Kommo was not asked to write";
  EXPECT_EQ(emulator_->lead_count(), 0u);
}

TEST_F(CustomFieldsTest, UnknownStageAndUserAreRefusedBeforeKommo) {
  v1::CreateLeadRequest request;
  request.set_name("Wrong refs");
  request.set_pipeline_id(emu::kSecondPipelineId);
  request.set_status_id(emu::kMainPipelineFirstStatusId);  // the main pipeline's stage
  request.set_responsible_user_id(12345);
  v1::Lead lead;
  CallError error = Inspect(CreateLead(request, &lead));
  EXPECT_EQ(error.reason, "INVALID_FIELD");
  EXPECT_THAT(error.fields, ElementsAre("status_id", "responsible_user_id"));
  EXPECT_EQ(Requests("POST", "/api/v4/leads"), 0u);

  // Within the catalogues' time to live a second write reads them from the cache.
  request.set_status_id(emu::kSecondPipelineFirstStatusId);
  request.set_responsible_user_id(emu::kAdminUserId);
  grpc::Status status = CreateLead(request, &lead);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(lead.status_id(), emu::kSecondPipelineFirstStatusId);
  EXPECT_EQ(Requests("GET", "/api/v4/leads/pipelines"), 1u);
  EXPECT_EQ(Requests("GET", "/api/v4/users"), 1u);
}

TEST_F(CustomFieldsTest, UpdateContactReplacesPhonesAndChangesOnlyWhatIsSet) {
  v1::CreateContactRequest create;
  create.set_responsible_user_id(emu::kAdminUserId);
  create.set_created_by(emu::kAdminUserId);
  create.set_name("Ann Lee");
  create.add_phones("+15550100");
  create.add_emails("ann@example.com");
  v1::Contact contact;
  grpc::Status status = CreateContact(create, &contact);
  ASSERT_TRUE(status.ok()) << status.error_message();

  v1::UpdateContactRequest update;
  update.set_contact_id(contact.id());
  update.set_first_name("Ann");
  update.mutable_phones()->add_values("+15550199");
  update.mutable_phones()->add_values("+15550198");
  v1::Contact updated;
  status = UpdateContact(update, &updated);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(updated.id(), contact.id());
  EXPECT_EQ(updated.name(), "Ann Lee") << "unset fields are left alone";
  EXPECT_EQ(updated.first_name(), "Ann");
  EXPECT_THAT(updated.phones(), ElementsAre("+15550199", "+15550198"));
  EXPECT_THAT(updated.emails(), ElementsAre("ann@example.com"));
  EXPECT_EQ(Requests("PATCH", "/api/v4/contacts"), 1u);

  // Nothing set: the contact as it is, without a write.
  v1::UpdateContactRequest nothing;
  nothing.set_contact_id(contact.id());
  status = UpdateContact(nothing, &updated);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(updated.phones(), ElementsAre("+15550199", "+15550198"));
  EXPECT_EQ(Requests("PATCH", "/api/v4/contacts"), 1u);
}

TEST_F(CustomFieldsTest, UpdateContactOfAnUnknownContactIsNotFound) {
  v1::UpdateContactRequest update;
  update.set_contact_id(emu::kFirstContactId + 999);
  update.set_name("Nobody");
  v1::Contact contact;
  CallError error = Inspect(UpdateContact(update, &contact));
  EXPECT_EQ(error.code, grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(error.reason, "CONTACT_NOT_FOUND");
}

TEST_F(CustomFieldsTest, PhoneAsACustomFieldRoundTripsWithItsKindAndIsCleared) {
  v1::CreateContactRequest create;
  create.set_responsible_user_id(emu::kAdminUserId);
  create.set_created_by(emu::kAdminUserId);
  create.set_name("Bo");
  create.add_emails("bo@example.com");
  v1::CustomFieldValues* phone = create.add_custom_fields();
  phone->set_field_code("PHONE");
  v1::CustomFieldValue* mobile = phone->add_values();
  mobile->set_text("+15550111");
  mobile->set_enum_code("MOB");
  v1::Contact contact;
  grpc::Status status = CreateContact(create, &contact);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(contact.phones(), ElementsAre("+15550111"));
  EXPECT_THAT(contact.emails(), ElementsAre("bo@example.com"));
  const v1::CustomFieldValues* read = nullptr;
  for (const auto& field : contact.custom_fields()) {
    if (field.field_id() == emu::kPhoneFieldId) read = &field;
  }
  ASSERT_NE(read, nullptr) << "PHONE is among the custom fields";
  EXPECT_EQ(read->field_code(), "PHONE");
  EXPECT_EQ(read->field_type(), v1::CUSTOM_FIELD_TYPE_MULTITEXT);
  ASSERT_EQ(read->values_size(), 1);
  EXPECT_EQ(read->values(0).text(), "+15550111");
  EXPECT_EQ(read->values(0).enum_code(), "MOB");
  EXPECT_EQ(read->values(0).enum_id(), emu::kPhoneMobEnumId);

  // PHONE listed with no values clears it; the emails are left alone.
  v1::UpdateContactRequest clear;
  clear.set_contact_id(contact.id());
  clear.add_custom_fields()->set_field_id(emu::kPhoneFieldId);
  v1::Contact updated;
  status = UpdateContact(clear, &updated);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(updated.phones().empty());
  EXPECT_THAT(updated.emails(), ElementsAre("bo@example.com"));

  // An unknown kind is refused before Kommo.
  v1::UpdateContactRequest fax;
  fax.set_contact_id(contact.id());
  fax.add_custom_fields()->set_field_code("PHONE");
  v1::CustomFieldValue* value = fax.mutable_custom_fields(0)->add_values();
  value->set_text("+15550112");
  value->set_enum_code("PAGER");
  CallError error = Inspect(UpdateContact(fax, &updated));
  EXPECT_EQ(error.reason, "INVALID_FIELD");
  EXPECT_THAT(error.fields, ElementsAre("custom_fields[0].values[0].enum_code"));
  EXPECT_EQ(Requests("PATCH", "/api/v4/contacts"), 1u);
}

}  // namespace
}  // namespace kommo
