// The custom-field and tag codec (custom_fields_json.h) through the lead and contact mappings:
// every type read from Kommo's JSON and written back, the legacy `enum` key, nulls, clearing,
// tags, and Kommo validation paths mapped to the request's fields.

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/mapping/kommo_json.h"
#include "tests/server/mapping/mapping_test_util.h"

namespace kommo::mapping {
namespace {

using ::kommo::mapping::test_util::IsBadResponse;
using kommo::v1::CustomFieldValue;
using kommo::v1::CustomFieldValues;
using ::testing::IsEmpty;

// A lead body with the given custom_fields_values JSON and tags.
std::string LeadWith(const std::string& custom_fields_values, const std::string& tags = "[]") {
  return R"({"id":7,"name":"L","custom_fields_values":)" + custom_fields_values +
         R"(,"_embedded":{"tags":)" + tags + "}}";
}

TEST(ReadCustomFieldsTest, ReadsEveryTypeTyped) {
  const std::string body = LeadWith(R"([
    {"field_id":1,"field_name":"Source","field_code":"UTM_SOURCE","field_type":"text",
     "values":[{"value":"google"}]},
    {"field_id":2,"field_type":"textarea","values":[{"value":"line 1\nline 2"}]},
    {"field_id":3,"field_type":"numeric","values":[{"value":"12.5"}]},
    {"field_id":4,"field_type":"numeric","values":[{"value":42}]},
    {"field_id":5,"field_type":"checkbox","values":[{"value":true}]},
    {"field_id":6,"field_type":"select","values":[{"value":"Gold","enum_id":601}]},
    {"field_id":7,"field_type":"multiselect","values":[{"value":"A","enum_id":701},
                                                       {"value":"B","enum_id":702}]},
    {"field_id":8,"field_type":"radiobutton","values":[{"value":"Yes","enum_id":801}]},
    {"field_id":9,"field_type":"date","values":[{"value":1700000000}]},
    {"field_id":10,"field_type":"date_time","values":[{"value":"1700000123"}]},
    {"field_id":11,"field_type":"birthday","values":[{"value":946684800}]},
    {"field_id":12,"field_type":"url","values":[{"value":"https://example.com"}]},
    {"field_id":13,"field_code":"PHONE","field_type":"multitext",
     "values":[{"value":"+100","enum_id":1301,"enum_code":"WORK"},{"value":"+200","enum":"MOB"}]},
    {"field_id":14,"field_type":"smart_address","values":[{"value":"Main st 1"},{"value":{"x":1}}]}
  ])");
  auto lead = ParseLead(body);
  ASSERT_TRUE(lead.ok()) << lead.status();
  const auto& f = lead->custom_fields();
  ASSERT_EQ(f.size(), 14);
  EXPECT_EQ(f[0].field_id(), 1);
  EXPECT_EQ(f[0].field_code(), "UTM_SOURCE");
  EXPECT_EQ(f[0].field_name(), "Source");
  EXPECT_EQ(f[0].field_type(), v1::CUSTOM_FIELD_TYPE_TEXT);
  EXPECT_EQ(f[0].values(0).text(), "google");
  EXPECT_EQ(f[1].field_type(), v1::CUSTOM_FIELD_TYPE_TEXTAREA);
  EXPECT_EQ(f[1].values(0).text(), "line 1\nline 2");
  EXPECT_EQ(f[2].values(0).value_case(), CustomFieldValue::kNumber);
  EXPECT_DOUBLE_EQ(f[2].values(0).number(), 12.5);
  EXPECT_DOUBLE_EQ(f[3].values(0).number(), 42);
  EXPECT_EQ(f[4].values(0).value_case(), CustomFieldValue::kCheckbox);
  EXPECT_TRUE(f[4].values(0).checkbox());
  EXPECT_EQ(f[5].field_type(), v1::CUSTOM_FIELD_TYPE_SELECT);
  EXPECT_EQ(f[5].values(0).text(), "Gold");
  EXPECT_EQ(f[5].values(0).enum_id(), 601);
  ASSERT_EQ(f[6].values_size(), 2);
  EXPECT_EQ(f[6].values(1).enum_id(), 702);
  EXPECT_EQ(f[7].field_type(), v1::CUSTOM_FIELD_TYPE_RADIOBUTTON);
  EXPECT_EQ(f[8].values(0).time().seconds(), 1700000000);
  EXPECT_EQ(f[9].field_type(), v1::CUSTOM_FIELD_TYPE_DATE_TIME);
  EXPECT_EQ(f[9].values(0).time().seconds(), 1700000123);
  EXPECT_EQ(f[10].field_type(), v1::CUSTOM_FIELD_TYPE_BIRTHDAY);
  EXPECT_EQ(f[10].values(0).time().seconds(), 946684800);
  EXPECT_EQ(f[11].values(0).text(), "https://example.com");
  EXPECT_EQ(f[12].field_type(), v1::CUSTOM_FIELD_TYPE_MULTITEXT);
  EXPECT_EQ(f[12].values(0).enum_code(), "WORK");
  EXPECT_EQ(f[12].values(0).enum_id(), 1301);
  EXPECT_EQ(f[12].values(1).enum_code(), "MOB") << "the legacy `enum` key";
  EXPECT_EQ(f[13].field_type(), v1::CUSTOM_FIELD_TYPE_OTHER);
  EXPECT_EQ(f[13].values(0).text(), "Main st 1");
  EXPECT_EQ(f[13].values(1).value_case(), CustomFieldValue::VALUE_NOT_SET)
      << "an object in an unknown type is skipped";
}

TEST(ReadCustomFieldsTest, NullsAreEmpty) {
  auto lead = ParseLead(R"({"id":7,"custom_fields_values":null,"_embedded":{"tags":null}})");
  ASSERT_TRUE(lead.ok()) << lead.status();
  EXPECT_THAT(lead->custom_fields(), IsEmpty());
  EXPECT_THAT(lead->tags(), IsEmpty());

  lead = ParseLead(LeadWith(R"([{"field_id":3,"field_type":"numeric","values":null},
                                {"field_id":4,"field_type":"checkbox","values":[{"value":null}]},
                                {"field_id":5,"field_type":"numeric","values":[{"value":""}]}])"));
  ASSERT_TRUE(lead.ok()) << lead.status();
  ASSERT_EQ(lead->custom_fields_size(), 3);
  EXPECT_THAT(lead->custom_fields(0).values(), IsEmpty());
  EXPECT_EQ(lead->custom_fields(1).values(0).value_case(), CustomFieldValue::VALUE_NOT_SET);
  EXPECT_EQ(lead->custom_fields(2).values(0).value_case(), CustomFieldValue::VALUE_NOT_SET);
}

TEST(ReadCustomFieldsTest, CheckboxAndDateSpellings) {
  auto lead = ParseLead(LeadWith(R"([
    {"field_id":1,"field_type":"checkbox","values":[{"value":"1"},{"value":0},{"value":"false"}]},
    {"field_id":2,"field_type":"date_time","values":[{"value":"2023-11-14T22:13:20+00:00"}]}])"));
  ASSERT_TRUE(lead.ok()) << lead.status();
  EXPECT_TRUE(lead->custom_fields(0).values(0).checkbox());
  EXPECT_FALSE(lead->custom_fields(0).values(1).checkbox());
  EXPECT_EQ(lead->custom_fields(0).values(2).value_case(), CustomFieldValue::kCheckbox);
  EXPECT_EQ(lead->custom_fields(1).values(0).time().seconds(), 1700000000);
}

TEST(ReadCustomFieldsTest, AValueThatDoesNotFitItsTypeIsABadResponse) {
  EXPECT_TRUE(IsBadResponse(
      ParseLead(LeadWith(R"([{"field_id":3,"field_type":"numeric","values":[{"value":"abc"}]}])"))
          .status(),
      "custom_fields_values[0].values[0].value"));
  EXPECT_TRUE(IsBadResponse(
      ParseLead(LeadWith(R"([{"field_id":3,"field_type":"text","values":[{"value":{"a":1}}]}])"))
          .status(),
      "custom_fields_values[0].values[0].value"));
  EXPECT_TRUE(IsBadResponse(
      ParseLead(LeadWith(R"([{"field_id":3,"field_type":"checkbox","values":[{"value":"x"}]}])"))
          .status(),
      "custom_fields_values[0].values[0].value"));
  EXPECT_TRUE(IsBadResponse(ParseLead(LeadWith(R"([{"field_id":"3","values":[]}])")).status(),
                            "custom_fields_values[0].field_id"));
}

TEST(ReadTagsTest, ReadsTagsOfLeadsAndContacts) {
  auto lead =
      ParseLead(LeadWith("[]", R"([{"id":11,"name":"vip","color":null},{"id":12,"name":"b"}])"));
  ASSERT_TRUE(lead.ok()) << lead.status();
  ASSERT_EQ(lead->tags_size(), 2);
  EXPECT_EQ(lead->tags(0).id(), 11);
  EXPECT_EQ(lead->tags(0).name(), "vip");
  auto contact = ParseContact(
      R"({"id":5,"custom_fields_values":[{"field_id":9,"field_code":"EMAIL","field_type":"multitext",)"
      R"("values":[{"value":"a@b.c","enum_code":"WORK"}]}],"_embedded":{"tags":[{"id":1,"name":"x"}]}})");
  ASSERT_TRUE(contact.ok()) << contact.status();
  EXPECT_THAT(contact->emails(), ::testing::ElementsAre("a@b.c"));
  ASSERT_EQ(contact->custom_fields_size(), 1) << "EMAIL is a custom field too";
  EXPECT_EQ(contact->custom_fields(0).field_code(), "EMAIL");
  EXPECT_EQ(contact->custom_fields(0).values(0).enum_code(), "WORK");
  ASSERT_EQ(contact->tags_size(), 1);
  EXPECT_EQ(contact->tags(0).name(), "x");
}

CustomFieldValues Field(int64_t id) {
  CustomFieldValues field;
  field.set_field_id(id);
  return field;
}

TEST(WriteCustomFieldsTest, EveryValueMemberAndClearing) {
  v1::UpdateLeadRequest request;
  request.set_lead_id(7);
  CustomFieldValues* text = request.add_custom_fields();
  text->set_field_code("UTM_SOURCE");
  text->add_values()->set_text("google");
  *request.add_custom_fields() = Field(3);
  request.mutable_custom_fields(1)->add_values()->set_number(12.5);
  *request.add_custom_fields() = Field(4);
  request.mutable_custom_fields(2)->add_values()->set_number(42);
  *request.add_custom_fields() = Field(5);
  request.mutable_custom_fields(3)->add_values()->set_checkbox(false);
  *request.add_custom_fields() = Field(6);
  request.mutable_custom_fields(4)->add_values()->set_enum_id(601);
  request.mutable_custom_fields(4)->add_values()->set_enum_id(602);
  *request.add_custom_fields() = Field(9);
  request.mutable_custom_fields(5)->add_values()->mutable_time()->set_seconds(1700000000);
  *request.add_custom_fields() = Field(13);
  CustomFieldValue* phone = request.mutable_custom_fields(6)->add_values();
  phone->set_text("+100");
  phone->set_enum_code("MOB");
  *request.add_custom_fields() = Field(14);  // no values: cleared
  request.add_tags_to_add("vip");
  request.add_tags_to_remove("cold");
  const LeadUpdateItem items[] = {{"0", &request}};
  EXPECT_EQ(LeadsUpdateBody(items),
            R"([{"id":7,"custom_fields_values":[)"
            R"({"field_code":"UTM_SOURCE","values":[{"value":"google"}]},)"
            R"({"field_id":3,"values":[{"value":12.5}]},)"
            R"({"field_id":4,"values":[{"value":42}]},)"
            R"({"field_id":5,"values":[{"value":false}]},)"
            R"({"field_id":6,"values":[{"enum_id":601},{"enum_id":602}]},)"
            R"({"field_id":9,"values":[{"value":1700000000}]},)"
            R"({"field_id":13,"values":[{"value":"+100","enum_code":"MOB"}]},)"
            R"({"field_id":14,"values":null}],)"
            R"("tags_to_add":[{"name":"vip"}],"tags_to_delete":[{"name":"cold"}],)"
            R"("request_id":"0"}])");
}

TEST(WriteCustomFieldsTest, WrittenValuesReadBackTheSame) {
  v1::CreateLeadRequest request;
  request.set_name("L");
  *request.add_custom_fields() = Field(3);
  request.mutable_custom_fields(0)->add_values()->set_number(-0.25);
  request.add_tags_to_add("a");
  const LeadCreateItem items[] = {{"r", &request}};
  const std::string body = LeadsCreateBody(items);
  EXPECT_EQ(body,
            R"([{"name":"L","custom_fields_values":[{"field_id":3,"values":[{"value":-0.25}]}],)"
            R"("tags_to_add":[{"name":"a"}],"request_id":"r"}])");
  // Kommo answers the value as a string; it reads back as the same number.
  auto lead = ParseLead(
      LeadWith(R"([{"field_id":3,"field_type":"numeric","values":[{"value":"-0.25"}]}])"));
  ASSERT_TRUE(lead.ok());
  EXPECT_DOUBLE_EQ(lead->custom_fields(0).values(0).number(), -0.25);
}

TEST(WriteContactTest, PhonesAndEmailsFirstThenCustomFieldsAndTags) {
  v1::CreateContactRequest request;
  request.set_name("N");
  request.add_phones("+1");
  *request.add_custom_fields() = Field(20);
  request.mutable_custom_fields(0)->add_values()->set_text("x");
  request.add_tags_to_add("t");
  const ContactCreateItem items[] = {{"0", &request}};
  EXPECT_EQ(ContactsCreateBody(items),
            R"([{"name":"N","custom_fields_values":[)"
            R"({"field_code":"PHONE","values":[{"value":"+1","enum_code":"WORK"}]},)"
            R"({"field_id":20,"values":[{"value":"x"}]}],)"
            R"("tags_to_add":[{"name":"t"}],"request_id":"0"}])");
  EXPECT_EQ(ContactFieldFromKommoPath("custom_fields_values.1.values.0.value", request),
            "custom_fields[0].values[0]");
  EXPECT_EQ(ContactFieldFromKommoPath("custom_fields_values.0.values.0.value", request),
            "phones[0]");
}

TEST(ContactsUpdateBodyTest, OnlyWhatIsSetWithPhonesReplacedOrCleared) {
  v1::UpdateContactRequest request;
  request.set_contact_id(5);
  request.set_first_name("");
  request.mutable_phones()->add_values("+1");
  request.mutable_phones()->add_values("+2");
  request.mutable_emails();  // set with no values: removes them all
  *request.add_custom_fields() = Field(20);
  request.add_tags_to_remove("old");
  v1::UpdateContactRequest name_only;
  name_only.set_contact_id(6);
  name_only.set_name("New");
  const ContactUpdateItem items[] = {{"0", &request}, {"1", &name_only}};
  EXPECT_EQ(ContactsUpdateBody(items),
            R"([{"id":5,"first_name":"","custom_fields_values":[)"
            R"({"field_code":"PHONE","values":[{"value":"+1","enum_code":"WORK"},)"
            R"({"value":"+2","enum_code":"WORK"}]},)"
            R"({"field_code":"EMAIL","values":null},{"field_id":20,"values":null}],)"
            R"("tags_to_delete":[{"name":"old"}],"request_id":"0"},)"
            R"({"id":6,"name":"New","request_id":"1"}])");
  EXPECT_EQ(ContactUpdateFieldFromKommoPath("custom_fields_values.0.values.1.value", request),
            "phones.values[1]");
  EXPECT_EQ(ContactUpdateFieldFromKommoPath("custom_fields_values.2.field_id", request),
            "custom_fields[0]");
  EXPECT_EQ(ContactUpdateFieldFromKommoPath("id", request), "contact_id");
  EXPECT_EQ(ContactUpdateFieldFromKommoPath("tags_to_delete.0.name", request), "tags_to_remove[0]");
}

TEST(KommoPathTest, EntriesAfterPhoneAndEmailAreTheRequestsCustomFields) {
  v1::CreateContactRequest phones_only;
  phones_only.add_phones("1");
  // The second entry is the first of custom_fields, since only PHONE was written before it.
  EXPECT_EQ(ContactFieldFromKommoPath("custom_fields_values.1.values.0.value", phones_only),
            "custom_fields[0].values[0]");
  EXPECT_EQ(ContactFieldFromKommoPath("custom_fields_values", phones_only), "custom_fields");
}

TEST(ReadCustomFieldsTest, OddStructureIsSkippedNotFatal) {
  auto lead = ParseLead(R"({"id":1,"custom_fields_values":"none","_embedded":{"tags":"x"}})");
  ASSERT_TRUE(lead.ok()) << lead.status();
  EXPECT_THAT(lead->custom_fields(), IsEmpty());
  lead = ParseLead(LeadWith(
      R"([5,{"field_id":2,"values":{"odd":1}},{"field_id":3,"values":[[1],{"value":"x"}]}])",
      R"([1,{"id":2,"name":"t"}])"));
  ASSERT_TRUE(lead.ok()) << lead.status();
  ASSERT_EQ(lead->custom_fields_size(), 2);
  EXPECT_THAT(lead->custom_fields(0).values(), IsEmpty());
  ASSERT_EQ(lead->custom_fields(1).values_size(), 1);
  EXPECT_EQ(lead->custom_fields(1).values(0).text(), "x");
  ASSERT_EQ(lead->tags_size(), 1);
}

TEST(KommoPathTest, LeadPathsIntoCustomFieldsAndTags) {
  EXPECT_EQ(LeadFieldFromKommoPath("custom_fields_values.1.values.0.enum_id"),
            "custom_fields[1].values[0].enum_id");
  EXPECT_EQ(LeadFieldFromKommoPath("custom_fields_values.1.values.0.enum"),
            "custom_fields[1].values[0].enum_code");
  EXPECT_EQ(LeadFieldFromKommoPath("custom_fields_values.0.field_id"), "custom_fields[0]");
  EXPECT_EQ(LeadFieldFromKommoPath("custom_fields_values.0.values.2"),
            "custom_fields[0].values[2]");
  EXPECT_EQ(LeadFieldFromKommoPath("tags_to_add.3.name"), "tags_to_add[3]");
  EXPECT_EQ(LeadFieldFromKommoPath("tags_to_add.x"), "tags_to_add.x") << "unknown: unchanged";
  EXPECT_EQ(LeadFieldFromKommoPath("custom_fields_values.0.values.0.other"),
            "custom_fields_values.0.values.0.other");
}

}  // namespace
}  // namespace kommo::mapping
