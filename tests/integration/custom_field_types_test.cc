// Every custom-field type and tags, written through the gRPC services and read back from the
// emulator (ctest label `integration`, issue 13): leads carry one field of each type but
// multitext, contacts carry the multitext fields (PHONE, EMAIL, IM) beside a text and a birthday
// field. Each test compares what reads back value by value; refused writes are checked against the
// emulator's request log, which must show no write.
#include <grpcpp/grpcpp.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
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
using ::kommo::testing::EqualsProto;
using ::kommo::testing::Inspect;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// --- values as a request writes them ----------------------------------------------------------

v1::CustomFieldValue Text(std::string text) {
  v1::CustomFieldValue value;
  value.set_text(std::move(text));
  return value;
}
v1::CustomFieldValue Number(double number) {
  v1::CustomFieldValue value;
  value.set_number(number);
  return value;
}
v1::CustomFieldValue Checkbox(bool checked) {
  v1::CustomFieldValue value;
  value.set_checkbox(checked);
  return value;
}
v1::CustomFieldValue Time(absl::Time time) {
  v1::CustomFieldValue value;
  value.mutable_time()->set_seconds(absl::ToUnixSeconds(time));
  return value;
}
v1::CustomFieldValue EnumId(int64_t enum_id) {
  v1::CustomFieldValue value;
  value.set_enum_id(enum_id);
  return value;
}
// A multitext value of the kind `enum_code` ("" for none).
v1::CustomFieldValue KindByCode(std::string text, std::string enum_code) {
  v1::CustomFieldValue value = Text(std::move(text));
  value.set_enum_code(std::move(enum_code));
  return value;
}
v1::CustomFieldValue KindById(std::string text, int64_t enum_id) {
  v1::CustomFieldValue value = Text(std::move(text));
  value.set_enum_id(enum_id);
  return value;
}

v1::CustomFieldValues ById(int64_t field_id, std::vector<v1::CustomFieldValue> values) {
  v1::CustomFieldValues field;
  field.set_field_id(field_id);
  for (v1::CustomFieldValue& value : values) *field.add_values() = std::move(value);
  return field;
}
v1::CustomFieldValues ByCode(std::string code, std::vector<v1::CustomFieldValue> values) {
  v1::CustomFieldValues field;
  field.set_field_code(std::move(code));
  for (v1::CustomFieldValue& value : values) *field.add_values() = std::move(value);
  return field;
}

// --- values as reads show them ----------------------------------------------------------------

// A select, multiselect or radiobutton value: the choice's id and its text.
v1::CustomFieldValue Choice(int64_t enum_id, std::string text) {
  v1::CustomFieldValue value = Text(std::move(text));
  value.set_enum_id(enum_id);
  return value;
}
// A multitext value: the text, its kind's id and code.
v1::CustomFieldValue Kind(std::string text, int64_t enum_id, std::string enum_code) {
  v1::CustomFieldValue value = KindById(std::move(text), enum_id);
  value.set_enum_code(std::move(enum_code));
  return value;
}
v1::CustomFieldValues Read(int64_t field_id, std::string code, std::string name,
                           v1::CustomFieldType type, std::vector<v1::CustomFieldValue> values) {
  v1::CustomFieldValues field = ById(field_id, std::move(values));
  field.set_field_code(std::move(code));
  field.set_field_name(std::move(name));
  field.set_field_type(type);
  return field;
}

absl::Time Utc(int year, int month, int day, int hour = 0, int minute = 0, int second = 0) {
  return absl::FromCivil(absl::CivilSecond(year, month, day, hour, minute, second),
                         absl::UTCTimeZone());
}

std::vector<std::string> TagNames(const google::protobuf::RepeatedPtrField<v1::Tag>& tags) {
  std::vector<std::string> names;
  for (const v1::Tag& tag : tags) names.push_back(tag.name());
  return names;
}

int64_t TagId(const google::protobuf::RepeatedPtrField<v1::Tag>& tags, const std::string& name) {
  for (const v1::Tag& tag : tags) {
    if (tag.name() == name) return tag.id();
  }
  return 0;
}

// A comment for the textarea: longer than a text field may hold, over several lines.
std::string LongComment() {
  std::string comment = "Called twice.\nWants a quote \"by Friday\", in EUR.\n";
  while (comment.size() < 400) comment += "Follow up on the pilot; ";
  return comment;
}

TEST_F(CustomFieldsTest, EveryLeadFieldTypeRoundTrips) {
  const std::string landing = "https://example.com/offer?utm_source=google&lang=de";
  const std::string comment = LongComment();
  v1::CreateLeadRequest request;
  request.set_name("Every type");
  // Listed out of the catalogue's order: reads come back in the fields' sort order.
  *request.add_custom_fields() = ById(emu::kCommentFieldId, {Text(comment)});
  *request.add_custom_fields() = ByCode("UTM_SOURCE", {Text("google")});
  *request.add_custom_fields() = ById(emu::kUnitsFieldId, {Number(12.5)});
  *request.add_custom_fields() = ById(emu::kPaidFieldId, {Checkbox(true)});
  *request.add_custom_fields() = ById(emu::kProductFieldId, {Text("Pro")});  // by the enum's text
  *request.add_custom_fields() = ById(
      emu::kChannelsFieldId, {EnumId(emu::kChannelWhatsAppEnumId), Text("Email")});  // id and text
  *request.add_custom_fields() = ById(emu::kPriorityFieldId, {EnumId(emu::kPriorityHighEnumId)});
  *request.add_custom_fields() = ById(emu::kFollowUpFieldId, {Time(Utc(2025, 6, 16, 15, 30))});
  *request.add_custom_fields() = ById(emu::kMeetingAtFieldId, {Time(Utc(2025, 6, 17, 9, 45, 30))});
  *request.add_custom_fields() = ById(emu::kClientBirthdayFieldId, {Time(Utc(1990, 3, 8))});
  *request.add_custom_fields() = ById(emu::kLandingPageFieldId, {Text(landing)});
  v1::Lead created;
  grpc::Status status = CreateLead(request, &created);
  ASSERT_TRUE(status.ok()) << status.error_message();

  v1::Lead lead;
  status = GetLead(created.id(), &lead);
  ASSERT_TRUE(status.ok()) << status.error_message();
  for (const v1::Lead* read : {&created, &lead}) {
    EXPECT_THAT(
        read->custom_fields(),
        ElementsAre(
            EqualsProto(Read(emu::kUtmSourceFieldId, "UTM_SOURCE", "UTM source",
                             v1::CUSTOM_FIELD_TYPE_TEXT, {Text("google")})),
            EqualsProto(Read(emu::kUnitsFieldId, "", "Units", v1::CUSTOM_FIELD_TYPE_NUMERIC,
                             {Number(12.5)})),
            EqualsProto(Read(emu::kPaidFieldId, "", "Paid", v1::CUSTOM_FIELD_TYPE_CHECKBOX,
                             {Checkbox(true)})),
            EqualsProto(Read(emu::kProductFieldId, "", "Product", v1::CUSTOM_FIELD_TYPE_SELECT,
                             {Choice(emu::kProductProEnumId, "Pro")})),
            EqualsProto(Read(emu::kChannelsFieldId, "", "Channels",
                             v1::CUSTOM_FIELD_TYPE_MULTISELECT,
                             {Choice(emu::kChannelWhatsAppEnumId, "WhatsApp"),
                              Choice(emu::kChannelEmailEnumId, "Email")})),
            EqualsProto(Read(emu::kPriorityFieldId, "", "Priority",
                             v1::CUSTOM_FIELD_TYPE_RADIOBUTTON,
                             {Choice(emu::kPriorityHighEnumId, "High")})),
            // A date keeps its day: midnight in the account's time zone (UTC).
            EqualsProto(Read(emu::kFollowUpFieldId, "", "Follow-up date",
                             v1::CUSTOM_FIELD_TYPE_DATE, {Time(Utc(2025, 6, 16))})),
            EqualsProto(Read(emu::kMeetingAtFieldId, "", "Meeting at",
                             v1::CUSTOM_FIELD_TYPE_DATE_TIME, {Time(Utc(2025, 6, 17, 9, 45, 30))})),
            EqualsProto(Read(emu::kClientBirthdayFieldId, "", "Client birthday",
                             v1::CUSTOM_FIELD_TYPE_BIRTHDAY, {Time(Utc(1990, 3, 8))})),
            EqualsProto(Read(emu::kLandingPageFieldId, "", "Landing page",
                             v1::CUSTOM_FIELD_TYPE_URL, {Text(landing)})),
            EqualsProto(Read(emu::kCommentFieldId, "", "Comment", v1::CUSTOM_FIELD_TYPE_TEXTAREA,
                             {Text(comment)}))))
        << (read == &created ? "CreateLead's answer" : "GetLead");
  }

  // What Kommo was sent: fields by id (the code resolved), choices by id (the text resolved).
  const std::string body = LastBody("POST", "/api/v4/leads");
  EXPECT_THAT(body, HasSubstr(absl::StrCat(R"({"field_id":)", emu::kUtmSourceFieldId,
                                           R"(,"values":[{"value":"google"}]})")));
  EXPECT_THAT(body,
              HasSubstr(absl::StrCat(R"({"field_id":)", emu::kProductFieldId,
                                     R"(,"values":[{"enum_id":)", emu::kProductProEnumId, "}]}")));
  EXPECT_THAT(body, HasSubstr(absl::StrCat(R"({"field_id":)", emu::kChannelsFieldId,
                                           R"(,"values":[{"enum_id":)", emu::kChannelWhatsAppEnumId,
                                           R"(},{"enum_id":)", emu::kChannelEmailEnumId, "}]}")));
  EXPECT_EQ(Requests("POST", "/api/v4/leads"), 1u);
}

TEST_F(CustomFieldsTest, UpdateLeadReplacesListedFieldsKeepsOthersAndClearsEmptyOnes) {
  v1::CreateLeadRequest create;
  create.set_name("To update");
  *create.add_custom_fields() = ByCode("UTM_SOURCE", {Text("google")});
  *create.add_custom_fields() = ById(emu::kUnitsFieldId, {Number(3)});
  *create.add_custom_fields() = ById(emu::kPaidFieldId, {Checkbox(true)});
  *create.add_custom_fields() = ById(emu::kProductFieldId, {EnumId(emu::kProductBasicEnumId)});
  *create.add_custom_fields() = ById(emu::kChannelsFieldId, {EnumId(emu::kChannelWhatsAppEnumId),
                                                             EnumId(emu::kChannelTelegramEnumId)});
  *create.add_custom_fields() = ById(emu::kPriorityFieldId, {Text("Low")});
  *create.add_custom_fields() = ById(emu::kFollowUpFieldId, {Time(Utc(2025, 1, 10))});
  *create.add_custom_fields() = ById(emu::kCommentFieldId, {Text("First call went well")});
  v1::Lead lead;
  grpc::Status status = CreateLead(create, &lead);
  ASSERT_TRUE(status.ok()) << status.error_message();

  v1::UpdateLeadRequest update;
  update.set_lead_id(lead.id());
  *update.add_custom_fields() = ByCode("UTM_SOURCE", {Text("newsletter")});
  *update.add_custom_fields() = ById(emu::kUnitsFieldId, {});  // no values: cleared
  *update.add_custom_fields() = ById(emu::kPaidFieldId, {Checkbox(false)});
  *update.add_custom_fields() = ById(emu::kProductFieldId, {Text("Enterprise")});
  *update.add_custom_fields() = ById(emu::kChannelsFieldId, {Text("Email")});  // all replaced
  *update.add_custom_fields() = ById(emu::kFollowUpFieldId, {Time(Utc(2025, 2, 3, 23, 59, 59))});
  *update.add_custom_fields() = ById(emu::kMeetingAtFieldId, {Time(Utc(2025, 2, 4, 10))});
  v1::Lead updated;
  status = UpdateLead(update, &updated);
  ASSERT_TRUE(status.ok()) << status.error_message();

  v1::Lead read;
  status = GetLead(lead.id(), &read);
  ASSERT_TRUE(status.ok()) << status.error_message();
  for (const v1::Lead* each : {&updated, &read}) {
    EXPECT_THAT(
        each->custom_fields(),
        ElementsAre(
            EqualsProto(Read(emu::kUtmSourceFieldId, "UTM_SOURCE", "UTM source",
                             v1::CUSTOM_FIELD_TYPE_TEXT, {Text("newsletter")})),
            // Units is gone: it was listed with no values.
            EqualsProto(Read(emu::kPaidFieldId, "", "Paid", v1::CUSTOM_FIELD_TYPE_CHECKBOX,
                             {Checkbox(false)})),
            EqualsProto(Read(emu::kProductFieldId, "", "Product", v1::CUSTOM_FIELD_TYPE_SELECT,
                             {Choice(emu::kProductEnterpriseEnumId, "Enterprise")})),
            EqualsProto(Read(emu::kChannelsFieldId, "", "Channels",
                             v1::CUSTOM_FIELD_TYPE_MULTISELECT,
                             {Choice(emu::kChannelEmailEnumId, "Email")})),
            // Priority was not listed: unchanged.
            EqualsProto(Read(emu::kPriorityFieldId, "", "Priority",
                             v1::CUSTOM_FIELD_TYPE_RADIOBUTTON,
                             {Choice(emu::kPriorityLowEnumId, "Low")})),
            EqualsProto(Read(emu::kFollowUpFieldId, "", "Follow-up date",
                             v1::CUSTOM_FIELD_TYPE_DATE, {Time(Utc(2025, 2, 3))})),
            EqualsProto(Read(emu::kMeetingAtFieldId, "", "Meeting at",
                             v1::CUSTOM_FIELD_TYPE_DATE_TIME, {Time(Utc(2025, 2, 4, 10))})),
            // Comment was not listed: unchanged.
            EqualsProto(Read(emu::kCommentFieldId, "", "Comment", v1::CUSTOM_FIELD_TYPE_TEXTAREA,
                             {Text("First call went well")}))))
        << (each == &updated ? "UpdateLead's answer" : "GetLead");
  }
  EXPECT_EQ(read.name(), "To update") << "fields the update does not set are left alone";
  EXPECT_EQ(Requests("PATCH", "/api/v4/leads"), 1u);

  // Every field listed with no values: the lead has none left.
  v1::UpdateLeadRequest clear;
  clear.set_lead_id(lead.id());
  for (const v1::CustomFieldValues& field : read.custom_fields()) {
    *clear.add_custom_fields() = ById(field.field_id(), {});
  }
  status = UpdateLead(clear, &updated);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(updated.custom_fields(), IsEmpty());
  status = GetLead(lead.id(), &read);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(read.custom_fields(), IsEmpty());
}

TEST_F(CustomFieldsTest, LeadTagsAreAddedOnCreateAndAddedOrRemovedOnUpdate) {
  v1::CreateLeadRequest create;
  create.set_name("Tagged");
  create.add_tags_to_add("vip");
  create.add_tags_to_add("from-site");
  *create.add_custom_fields() = ByCode("UTM_SOURCE", {Text("google")});
  v1::Lead lead;
  grpc::Status status = CreateLead(create, &lead);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(TagNames(lead.tags()), ElementsAre("vip", "from-site"));

  v1::Lead read;
  status = GetLead(lead.id(), &read);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(TagNames(read.tags()), ElementsAre("vip", "from-site"));
  const int64_t vip = TagId(read.tags(), "vip");
  EXPECT_GE(vip, emu::kFirstTagId);
  EXPECT_NE(TagId(read.tags(), "from-site"), vip);

  // A second lead with the same tag gets the same tag, not a new one.
  v1::CreateLeadRequest other;
  other.set_name("Also VIP");
  other.add_tags_to_add("vip");
  v1::Lead second;
  status = CreateLead(other, &second);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(TagId(second.tags(), "vip"), vip);

  // Removing a tag the lead does not carry is not an error.
  v1::UpdateLeadRequest update;
  update.set_lead_id(lead.id());
  update.add_tags_to_add("hot");
  update.add_tags_to_remove("from-site");
  update.add_tags_to_remove("never-had");
  v1::Lead updated;
  status = UpdateLead(update, &updated);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(TagNames(updated.tags()), ElementsAre("vip", "hot"));
  status = GetLead(lead.id(), &read);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(TagNames(read.tags()), ElementsAre("vip", "hot"));
  EXPECT_EQ(TagId(read.tags(), "vip"), vip);
  // A tags-only update leaves the custom fields alone.
  EXPECT_THAT(read.custom_fields(),
              ElementsAre(EqualsProto(Read(emu::kUtmSourceFieldId, "UTM_SOURCE", "UTM source",
                                           v1::CUSTOM_FIELD_TYPE_TEXT, {Text("google")}))));
  const std::string body = LastBody("PATCH", "/api/v4/leads");
  EXPECT_THAT(body, HasSubstr(R"("tags_to_add":[{"name":"hot"}])"));
  EXPECT_THAT(body, HasSubstr(R"("tags_to_delete":[{"name":"from-site"},{"name":"never-had"}])"));

  // The other lead keeps its tag.
  status = GetLead(second.id(), &read);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(TagNames(read.tags()), ElementsAre("vip"));
}

TEST_F(CustomFieldsTest, ContactFieldsAndTagsRoundTripThroughUpdateContact) {
  v1::CreateContactRequest create;
  create.set_responsible_user_id(emu::kAdminUserId);
  create.set_created_by(emu::kAdminUserId);
  create.set_name("Dana Roe");
  create.add_phones("+15550123");
  *create.add_custom_fields() = ByCode("POSITION", {Text("Buyer")});
  *create.add_custom_fields() =
      ByCode("IM", {KindByCode("dana.roe", "SKYPE"),
                    KindByCode("dana@jabber.example", "jabber" /* any case */),
                    KindByCode("dana-msn", "")});  // no kind: the field's first, SKYPE
  *create.add_custom_fields() = ById(emu::kContactBirthdayFieldId, {Time(Utc(1985, 11, 2))});
  create.add_tags_to_add("supplier");
  create.add_tags_to_add("emea");
  v1::Contact contact;
  grpc::Status status = CreateContact(create, &contact);
  ASSERT_TRUE(status.ok()) << status.error_message();

  const v1::CustomFieldValues phone =
      Read(emu::kPhoneFieldId, "PHONE", "Phone", v1::CUSTOM_FIELD_TYPE_MULTITEXT,
           {Kind("+15550123", emu::kPhoneWorkEnumId, "WORK")});
  v1::Contact read;
  status = GetContact(contact.id(), &read);
  ASSERT_TRUE(status.ok()) << status.error_message();
  for (const v1::Contact* each : {&contact, &read}) {
    EXPECT_THAT(
        each->custom_fields(),
        ElementsAre(EqualsProto(phone),
                    EqualsProto(Read(emu::kPositionFieldId, "POSITION", "Position",
                                     v1::CUSTOM_FIELD_TYPE_TEXT, {Text("Buyer")})),
                    EqualsProto(Read(emu::kImFieldId, "IM", "Instant messenger",
                                     v1::CUSTOM_FIELD_TYPE_MULTITEXT,
                                     {Kind("dana.roe", emu::kImSkypeEnumId, "SKYPE"),
                                      Kind("dana@jabber.example", emu::kImJabberEnumId, "JABBER"),
                                      Kind("dana-msn", emu::kImSkypeEnumId, "SKYPE")})),
                    EqualsProto(Read(emu::kContactBirthdayFieldId, "", "Birthday",
                                     v1::CUSTOM_FIELD_TYPE_BIRTHDAY, {Time(Utc(1985, 11, 2))}))))
        << (each == &contact ? "CreateContact's answer" : "GetContact");
    EXPECT_THAT(each->phones(), ElementsAre("+15550123")) << "IM values are not phones";
    EXPECT_THAT(TagNames(each->tags()), ElementsAre("supplier", "emea"));
  }

  v1::UpdateContactRequest update;
  update.set_contact_id(contact.id());
  *update.add_custom_fields() = ById(emu::kPositionFieldId, {Text("Head of purchasing")});
  *update.add_custom_fields() = ById(
      emu::kImFieldId, {KindById("dana.work", emu::kImGtalkEnumId), KindByCode("dana.icq", "ICQ")});
  *update.add_custom_fields() = ByCode("EMAIL", {KindByCode("dana@example.com", "PRIV")});
  update.add_tags_to_add("key-account");
  update.add_tags_to_remove("emea");
  v1::Contact updated;
  status = UpdateContact(update, &updated);
  ASSERT_TRUE(status.ok()) << status.error_message();
  status = GetContact(contact.id(), &read);
  ASSERT_TRUE(status.ok()) << status.error_message();
  for (const v1::Contact* each : {&updated, &read}) {
    EXPECT_THAT(
        each->custom_fields(),
        ElementsAre(
            EqualsProto(phone),
            EqualsProto(Read(emu::kEmailFieldId, "EMAIL", "Email", v1::CUSTOM_FIELD_TYPE_MULTITEXT,
                             {Kind("dana@example.com", emu::kEmailPrivEnumId, "PRIV")})),
            EqualsProto(Read(emu::kPositionFieldId, "POSITION", "Position",
                             v1::CUSTOM_FIELD_TYPE_TEXT, {Text("Head of purchasing")})),
            EqualsProto(Read(emu::kImFieldId, "IM", "Instant messenger",
                             v1::CUSTOM_FIELD_TYPE_MULTITEXT,
                             {Kind("dana.work", emu::kImGtalkEnumId, "GTALK"),
                              Kind("dana.icq", emu::kImIcqEnumId, "ICQ")})),
            // The birthday was not listed: unchanged.
            EqualsProto(Read(emu::kContactBirthdayFieldId, "", "Birthday",
                             v1::CUSTOM_FIELD_TYPE_BIRTHDAY, {Time(Utc(1985, 11, 2))}))))
        << (each == &updated ? "UpdateContact's answer" : "GetContact");
    EXPECT_THAT(each->phones(), ElementsAre("+15550123"));
    EXPECT_THAT(each->emails(), ElementsAre("dana@example.com"));
    EXPECT_THAT(TagNames(each->tags()), ElementsAre("supplier", "key-account"));
    EXPECT_EQ(each->name(), "Dana Roe");
  }

  // IM and the birthday listed with no values are cleared; the rest stays.
  v1::UpdateContactRequest clear;
  clear.set_contact_id(contact.id());
  *clear.add_custom_fields() = ByCode("im", {});  // codes compare without regard to case
  *clear.add_custom_fields() = ById(emu::kContactBirthdayFieldId, {});
  status = UpdateContact(clear, &updated);
  ASSERT_TRUE(status.ok()) << status.error_message();
  status = GetContact(contact.id(), &read);
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::vector<int64_t> left;
  for (const v1::CustomFieldValues& field : read.custom_fields()) left.push_back(field.field_id());
  EXPECT_THAT(left, ElementsAre(emu::kPhoneFieldId, emu::kEmailFieldId, emu::kPositionFieldId));
  EXPECT_THAT(TagNames(read.tags()), ElementsAre("supplier", "key-account"));
  EXPECT_EQ(Requests("PATCH", "/api/v4/contacts"), 2u);
}

TEST_F(CustomFieldsTest, ABirthdayBefore1970RoundTrips) {
  v1::CreateContactRequest create;
  create.set_responsible_user_id(emu::kAdminUserId);
  create.set_created_by(emu::kAdminUserId);
  create.set_name("Old Timer");
  *create.add_custom_fields() = ById(emu::kContactBirthdayFieldId, {Time(Utc(1961, 4, 12))});
  v1::Contact contact;
  grpc::Status status = CreateContact(create, &contact);
  ASSERT_TRUE(status.ok()) << status.error_message();
  v1::Contact read;
  status = GetContact(contact.id(), &read);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(
      read.custom_fields(),
      ElementsAre(EqualsProto(Read(emu::kContactBirthdayFieldId, "", "Birthday",
                                   v1::CUSTOM_FIELD_TYPE_BIRTHDAY, {Time(Utc(1961, 4, 12))}))));

  v1::UpdateLeadRequest update;
  v1::Lead lead;
  v1::CreateLeadRequest lead_create;
  lead_create.set_name("Anniversary");
  status = CreateLead(lead_create, &lead);
  ASSERT_TRUE(status.ok()) << status.error_message();
  update.set_lead_id(lead.id());
  *update.add_custom_fields() = ById(emu::kClientBirthdayFieldId, {Time(Utc(1948, 12, 31))});
  status = UpdateLead(update, &lead);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(
      lead.custom_fields(),
      ElementsAre(EqualsProto(Read(emu::kClientBirthdayFieldId, "", "Client birthday",
                                   v1::CUSTOM_FIELD_TYPE_BIRTHDAY, {Time(Utc(1948, 12, 31))}))));
}

TEST_F(CustomFieldsTest, LeadValuesOfTheWrongKindAreRefusedBeforeAnyWrite) {
  v1::CreateLeadRequest create;
  create.set_name("Guarded");
  *create.add_custom_fields() = ById(emu::kPaidFieldId, {Checkbox(true)});
  *create.add_custom_fields() = ById(emu::kPriorityFieldId, {EnumId(emu::kPriorityLowEnumId)});
  v1::Lead lead;
  grpc::Status status = CreateLead(create, &lead);
  ASSERT_TRUE(status.ok()) << status.error_message();
  emulator_->ClearRequests();

  v1::UpdateLeadRequest update;
  update.set_lead_id(lead.id());
  *update.add_custom_fields() = ById(emu::kPaidFieldId, {Text("yes")});          // checkbox
  *update.add_custom_fields() = ById(emu::kUnitsFieldId, {Checkbox(true)});      // numeric
  *update.add_custom_fields() = ById(emu::kFollowUpFieldId, {Number(1.7e9)});    // date
  *update.add_custom_fields() = ById(emu::kProductFieldId, {Text("Platinum")});  // no such choice
  *update.add_custom_fields() =
      ById(emu::kChannelsFieldId, {EnumId(emu::kChannelEmailEnumId),
                                   EnumId(emu::kProductProEnumId)});  // another field's choice
  *update.add_custom_fields() = ById(
      emu::kPriorityFieldId, {EnumId(emu::kPriorityLowEnumId), EnumId(emu::kPriorityHighEnumId)});
  *update.add_custom_fields() = ByCode("UTM_SOURCE", {KindByCode("google", "WORK")});
  *update.add_custom_fields() = ByCode("PHONE", {Text("+15550100")});  // a contacts' field
  *update.add_custom_fields() =
      ById(emu::kIndustryFieldId, {Text("Retail")});  // a companies' field
  update.set_name("Not written either");
  v1::Lead refused;
  CallError error = Inspect(UpdateLead(update, &refused));
  EXPECT_EQ(error.code, grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(error.reason, "INVALID_FIELD");
  EXPECT_THAT(error.fields,
              ElementsAre("custom_fields[0].values[0].text", "custom_fields[1].values[0].checkbox",
                          "custom_fields[2].values[0].number", "custom_fields[3].values[0].text",
                          "custom_fields[4].values[1].enum_id", "custom_fields[5].values",
                          "custom_fields[6].values[0].enum_code", "custom_fields[7].field_code",
                          "custom_fields[8].field_id"));
  EXPECT_THAT(WriteRequests(), IsEmpty()) << "Kommo was not asked to write";

  // Select: enum_id and text naming different choices.
  v1::CreateLeadRequest mixed;
  mixed.set_name("Mixed");
  v1::CustomFieldValue both = EnumId(emu::kProductBasicEnumId);
  both.set_text("Pro");
  *mixed.add_custom_fields() = ById(emu::kProductFieldId, {both});
  error = Inspect(CreateLead(mixed, &refused));
  EXPECT_EQ(error.reason, "INVALID_FIELD");
  EXPECT_THAT(error.fields, ElementsAre("custom_fields[0].values[0]"));
  EXPECT_THAT(WriteRequests(), IsEmpty());

  v1::Lead read;
  status = GetLead(lead.id(), &read);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(read.name(), "Guarded");
  EXPECT_THAT(read.custom_fields(),
              ElementsAre(EqualsProto(Read(emu::kPaidFieldId, "", "Paid",
                                           v1::CUSTOM_FIELD_TYPE_CHECKBOX, {Checkbox(true)})),
                          EqualsProto(Read(emu::kPriorityFieldId, "", "Priority",
                                           v1::CUSTOM_FIELD_TYPE_RADIOBUTTON,
                                           {Choice(emu::kPriorityLowEnumId, "Low")}))));
  EXPECT_EQ(emulator_->lead_count(), 1u);
}

TEST_F(CustomFieldsTest, ContactValuesOfTheWrongKindAreRefusedBeforeAnyWrite) {
  v1::CreateContactRequest create;
  create.set_responsible_user_id(emu::kAdminUserId);
  create.set_created_by(emu::kAdminUserId);
  create.set_name("Eve");
  *create.add_custom_fields() = ByCode("POSITION", {Text("CTO")});
  v1::Contact contact;
  grpc::Status status = CreateContact(create, &contact);
  ASSERT_TRUE(status.ok()) << status.error_message();
  emulator_->ClearRequests();

  v1::UpdateContactRequest update;
  update.set_contact_id(contact.id());
  *update.add_custom_fields() = ByCode("POSITION", {Number(7)});
  *update.add_custom_fields() = ByCode("IM", {KindByCode("eve", "TELEX")});
  *update.add_custom_fields() = ById(emu::kContactBirthdayFieldId, {Text("1980-01-01")});
  *update.add_custom_fields() = ByCode("UTM_SOURCE", {Text("google")});  // a leads' field
  *update.add_custom_fields() = ById(emu::kPhoneFieldId, {KindById("eve", emu::kImMsnEnumId)});
  update.add_tags_to_add("never-written");
  v1::Contact refused;
  CallError error = Inspect(UpdateContact(update, &refused));
  EXPECT_EQ(error.code, grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(error.reason, "INVALID_FIELD");
  EXPECT_THAT(error.fields,
              ElementsAre("custom_fields[0].values[0].number",
                          "custom_fields[1].values[0].enum_code", "custom_fields[2].values[0].text",
                          "custom_fields[3].field_code", "custom_fields[4].values[0].enum_id"));
  EXPECT_THAT(WriteRequests(), IsEmpty()) << "Kommo was not asked to write";

  v1::Contact read;
  status = GetContact(contact.id(), &read);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(read.custom_fields(),
              ElementsAre(EqualsProto(Read(emu::kPositionFieldId, "POSITION", "Position",
                                           v1::CUSTOM_FIELD_TYPE_TEXT, {Text("CTO")}))));
  EXPECT_THAT(read.tags(), IsEmpty());
}

}  // namespace
}  // namespace kommo
