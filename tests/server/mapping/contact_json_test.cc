// ParseContact and ParseContactPage: PHONE/EMAIL multitext fields, nulls, malformed variants.

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/mapping/kommo_json.h"
#include "tests/server/mapping/mapping_test_util.h"

namespace kommo::mapping {
namespace {

using ::kommo::mapping::test_util::IsBadResponse;
using ::kommo::mapping::test_util::ReadTestdata;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

TEST(ParseContactTest, ReadsFieldsPhonesAndEmails) {
  auto contact = ParseContact(ReadTestdata("kommo/contact_with_phones.json"));
  ASSERT_TRUE(contact.ok()) << contact.status();
  EXPECT_EQ(contact->id(), 5000000001);
  EXPECT_EQ(contact->name(), "Ivan Petrov");
  EXPECT_EQ(contact->first_name(), "Ivan");
  EXPECT_EQ(contact->last_name(), "Petrov");
  EXPECT_EQ(contact->responsible_user_id(), 504141);
  EXPECT_EQ(contact->group_id(), 0);
  EXPECT_EQ(contact->account_id(), 28805383);
  EXPECT_EQ(contact->created_by(), 504141);
  EXPECT_EQ(contact->updated_by(), 0);
  EXPECT_EQ(contact->created_at().seconds(), 1582117331);
  EXPECT_EQ(contact->updated_at().seconds(), 1590943929);
  EXPECT_FALSE(contact->is_deleted());
  // A numeric value becomes its decimal string; enum_code and the legacy "enum" key both parse.
  EXPECT_THAT(contact->phones(), ElementsAre("+7 912 345-67-89", "79123456700"));
  EXPECT_THAT(contact->emails(), ElementsAre("ivan@example.com", "ivan.petrov@example.org"));
}

TEST(ParseContactTest, NullCustomFieldsMeanNoPhones) {
  auto contact = ParseContact(
      R"({"id":3,"name":"Petrov","first_name":"","last_name":"","custom_fields_values":null})");
  ASSERT_TRUE(contact.ok()) << contact.status();
  EXPECT_EQ(contact->name(), "Petrov");
  EXPECT_THAT(contact->phones(), IsEmpty());
  EXPECT_THAT(contact->emails(), IsEmpty());
  EXPECT_FALSE(contact->has_created_at());
}

TEST(ParseContactTest, SkipsNullAndEmptyValuesAndConcatenatesRepeatedFields) {
  auto contact = ParseContact(R"({"id":3,"custom_fields_values":[
      {"field_code":"PHONE","values":[{"value":null},{"value":""},{"enum_code":"WORK"},
                                      {"value":"111"}]},
      {"field_code":"PHONE","values":null},
      {"field_code":"PHONE"},
      {"field_code":"PHONE","values":[{"value":222}]},
      {"field_code":"phone","values":[{"value":"lower-case code is another field"}]},
      {"field_code":"EMAIL","values":[{"value":"a@b.c","enum_id":1}]}]})");
  ASSERT_TRUE(contact.ok()) << contact.status();
  EXPECT_THAT(contact->phones(), ElementsAre("111", "222"));
  EXPECT_THAT(contact->emails(), ElementsAre("a@b.c"));
}

TEST(ParseContactTest, NumericValuesAreWrittenInDecimal) {
  auto contact = ParseContact(R"({"id":3,"custom_fields_values":[{"field_code":"PHONE","values":[
      {"value":89991234567},{"value":18446744073709551615},{"value":7.5},{"value":79991234567.0}]}]})");
  ASSERT_TRUE(contact.ok()) << contact.status();
  EXPECT_THAT(contact->phones(),
              ElementsAre("89991234567", "18446744073709551615", "7.5", "79991234567"));
}

TEST(ParseContactTest, OtherCustomFieldsAreNotRead) {
  // Checkbox, select and tracking fields have values of every shape; they must not fail a read.
  auto contact = ParseContact(R"({"id":3,"custom_fields_values":[
      {"field_code":null,"field_type":"checkbox","values":[{"value":true}]},
      {"field_code":"UTM_REFERRER","values":{"odd":"shape"}},
      {"field_id":5,"values":[[1,2]]}]})");
  ASSERT_TRUE(contact.ok()) << contact.status();
  EXPECT_THAT(contact->phones(), IsEmpty());
}

TEST(ParseContactTest, MalformedFieldsAreBadResponseNamingTheField) {
  EXPECT_TRUE(IsBadResponse(ParseContact(R"({"name":"x"})").status(), "id"));
  EXPECT_TRUE(IsBadResponse(ParseContact(R"({"id":"5"})").status(), "id"));
  EXPECT_TRUE(IsBadResponse(ParseContact(R"({"id":5,"first_name":1})").status(), "first_name"));
  EXPECT_TRUE(IsBadResponse(ParseContact(R"({"id":5,"custom_fields_values":{}})").status(),
                            "custom_fields_values"));
  EXPECT_TRUE(IsBadResponse(ParseContact(R"({"id":5,"custom_fields_values":["PHONE"]})").status(),
                            "custom_fields_values[0]"));
  EXPECT_TRUE(
      IsBadResponse(ParseContact(R"({"id":5,"custom_fields_values":[{"field_code":7}]})").status(),
                    "custom_fields_values[0].field_code"));
  EXPECT_TRUE(IsBadResponse(
      ParseContact(R"({"id":5,"custom_fields_values":[{"field_code":"EMAIL","values":"a@b"}]})")
          .status(),
      "custom_fields_values[0].values"));
  EXPECT_TRUE(IsBadResponse(
      ParseContact(
          R"({"id":5,"custom_fields_values":[{"field_code":"PHONE","values":[{"value":"1"},"2"]}]})")
          .status(),
      "custom_fields_values[0].values[1]"));
  EXPECT_TRUE(IsBadResponse(ParseContact(R"({"id":5,"custom_fields_values":[{},
          {"field_code":"PHONE","values":[{"value":true}]}]})")
                                .status(),
                            "custom_fields_values[1].values[0].value"));
}

TEST(ParseContactTest, PhoneValueIsNeverEchoedInAnError) {
  const absl::Status status =
      ParseContact(
          R"({"id":5,"custom_fields_values":[{"field_code":"PHONE","values":[{"value":"+7999\udc00"}]}]})")
          .status();
  ASSERT_TRUE(IsBadResponse(status, "custom_fields_values[0].values[0].value"));
  EXPECT_THAT(std::string(status.message()), Not(HasSubstr("7999")));
}

TEST(ParseContactPageTest, PageWithNextLink) {
  auto page = ParseContactPage(ReadTestdata("kommo/contacts_page.json"));
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_TRUE(page->has_next);
  ASSERT_EQ(page->contacts.size(), 2u);
  EXPECT_EQ(page->contacts[0].id(), 3);
  EXPECT_EQ(page->contacts[0].first_name(), "");
  EXPECT_THAT(page->contacts[0].phones(), IsEmpty());
  EXPECT_EQ(page->contacts[1].id(), 31415926535);
  EXPECT_THAT(page->contacts[1].phones(), ElementsAre("89991234567"));
}

TEST(ParseContactPageTest, EmptyAndMalformedPages) {
  auto empty = ParseContactPage(R"({"_links":{"self":{"href":"x"}}})");
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_TRUE(empty->contacts.empty());
  EXPECT_FALSE(empty->has_next);
  // A lead list is not a contact list: `_embedded.leads` is not read, so the page is empty.
  auto wrong_collection = ParseContactPage(ReadTestdata("kommo/leads_last_page.json"));
  ASSERT_TRUE(wrong_collection.ok());
  EXPECT_TRUE(wrong_collection->contacts.empty());

  EXPECT_TRUE(IsBadResponse(ParseContactPage(R"({"_embedded":{"contacts":5}})").status(),
                            "_embedded.contacts"));
  EXPECT_TRUE(IsBadResponse(
      ParseContactPage(R"({"_embedded":{"contacts":[{"id":1,"is_deleted":"no"}]}})").status(),
      "_embedded.contacts[0].is_deleted"));
  EXPECT_TRUE(IsBadResponse(ParseContactPage("<html>403 Forbidden</html>").status(), ""));
}

}  // namespace
}  // namespace kommo::mapping
