// Request bodies (create/update), write results and validation path mapping.

#include <map>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/mapping/kommo_json.h"
#include "tests/server/mapping/mapping_test_util.h"

namespace kommo::mapping {
namespace {

using ::kommo::mapping::test_util::IsBadResponse;
using ::kommo::mapping::test_util::ReadTestdata;
using ::kommo::v1::CreateContactRequest;
using ::kommo::v1::CreateLeadRequest;
using ::kommo::v1::UpdateLeadRequest;
using ::testing::ElementsAre;
using ::testing::Pair;

// ---- LeadsCreateBody ----------------------------------------------------------------------------

TEST(LeadsCreateBodyTest, FullRequestWithContactsFirstIsMain) {
  CreateLeadRequest request;
  request.set_name("Deal");
  request.set_price(1500);
  request.set_responsible_user_id(8375357);
  request.set_pipeline_id(6950551);
  request.set_status_id(142);
  request.add_contact_ids(5000000001);
  request.add_contact_ids(40401635);
  const LeadCreateItem items[] = {{"req-1", &request}};
  EXPECT_EQ(LeadsCreateBody(items),
            R"([{"name":"Deal","price":1500,"responsible_user_id":8375357,"pipeline_id":6950551,)"
            R"("status_id":142,"_embedded":{"contacts":[{"id":5000000001,"is_main":true},)"
            R"({"id":40401635}]},"request_id":"req-1"}])");
}

TEST(LeadsCreateBodyTest, OmitsZeroAndEmptyFieldsSoKommoAppliesDefaults) {
  CreateLeadRequest minimal;
  minimal.set_name("Only a name");
  CreateLeadRequest empty;
  const LeadCreateItem items[] = {{"0", &minimal}, {"1", &empty}, {"", &minimal}};
  EXPECT_EQ(LeadsCreateBody(items),
            R"([{"name":"Only a name","request_id":"0"},{"request_id":"1"},)"
            R"({"name":"Only a name"}])");
  EXPECT_EQ(LeadsCreateBody({}), "[]");
}

TEST(LeadsCreateBodyTest, NullRequestPointerIsAnEmptyItem) {
  const LeadCreateItem items[] = {{"7", nullptr}};
  EXPECT_EQ(LeadsCreateBody(items), R"([{"request_id":"7"}])");
}

TEST(LeadsCreateBodyTest, EscapesStringsAndKeepsUtf8) {
  CreateLeadRequest request;
  request.set_name(std::string("Quote \" back\\slash \n tab\t nul") + '\0' +
                   " \xD0\x9B\xD0\xB8\xD0\xB4");  // "Лид"
  const LeadCreateItem items[] = {{"a\"b", &request}};
  EXPECT_EQ(LeadsCreateBody(items),
            "[{\"name\":\"Quote \\\" back\\\\slash \\n tab\\t nul\\u0000 "
            "\xD0\x9B\xD0\xB8\xD0\xB4\",\"request_id\":\"a\\\"b\"}]");
}

TEST(LeadsCreateBodyTest, InvalidUtf8IsReplacedSoTheBodyStaysValid) {
  CreateLeadRequest request;
  request.set_name("bad \xFF\xC0 end");  // not UTF-8 (only possible when built in-process)
  const LeadCreateItem items[] = {{"0", &request}};
  EXPECT_EQ(LeadsCreateBody(items),
            "[{\"name\":\"bad \xEF\xBF\xBD\xEF\xBF\xBD end\",\"request_id\":\"0\"}]");
}

// ---- LeadsUpdateBody ----------------------------------------------------------------------------

TEST(LeadsUpdateBodyTest, OnlyPresentFieldsAndZeroIsSent) {
  UpdateLeadRequest request;
  request.set_lead_id(31415926535);
  request.set_price(0);
  const LeadUpdateItem items[] = {{"0", &request}};
  EXPECT_EQ(LeadsUpdateBody(items), R"([{"id":31415926535,"price":0,"request_id":"0"}])");

  request.set_name("");
  request.set_responsible_user_id(1);
  request.set_pipeline_id(2);
  request.set_status_id(143);
  EXPECT_EQ(LeadsUpdateBody(items),
            R"([{"id":31415926535,"name":"","price":0,"responsible_user_id":1,"pipeline_id":2,)"
            R"("status_id":143,"request_id":"0"}])");
}

TEST(LeadsUpdateBodyTest, NothingSetIsOnlyTheIdAndRequestId) {
  UpdateLeadRequest request;
  request.set_lead_id(5);
  const LeadUpdateItem items[] = {{"0", &request}};
  EXPECT_EQ(LeadsUpdateBody(items), R"([{"id":5,"request_id":"0"}])");
}

// ---- ContactsCreateBody -------------------------------------------------------------------------

TEST(ContactsCreateBodyTest, FullRequestPhonesThenEmailsAsWork) {
  CreateContactRequest request;
  request.set_responsible_user_id(504141);
  request.set_created_by(504141);
  request.set_updated_by(7);
  request.set_name("Ivan Petrov");
  request.set_first_name("Ivan");
  request.set_last_name("Petrov");
  request.add_phones("+79123456789");
  request.add_phones("8 (999) 123");
  request.add_emails("ivan@example.com");
  const ContactCreateItem items[] = {{"c1", &request}};
  EXPECT_EQ(
      ContactsCreateBody(items),
      R"([{"responsible_user_id":504141,"created_by":504141,"updated_by":7,"name":"Ivan Petrov",)"
      R"("first_name":"Ivan","last_name":"Petrov","custom_fields_values":[)"
      R"({"field_code":"PHONE","values":[{"value":"+79123456789","enum_code":"WORK"},)"
      R"({"value":"8 (999) 123","enum_code":"WORK"}]},)"
      R"({"field_code":"EMAIL","values":[{"value":"ivan@example.com","enum_code":"WORK"}]}],)"
      R"("request_id":"c1"}])");
}

TEST(ContactsCreateBodyTest, ZeroUpdatedByMeansCreatedByAndEmptyFieldsAreOmitted) {
  CreateContactRequest emails_only;
  emails_only.set_responsible_user_id(1);
  emails_only.set_created_by(2);
  emails_only.add_emails("a@b.c");
  CreateContactRequest bare;
  const ContactCreateItem items[] = {{"0", &emails_only}, {"1", &bare}};
  EXPECT_EQ(ContactsCreateBody(items),
            R"([{"responsible_user_id":1,"created_by":2,"updated_by":2,"custom_fields_values":[)"
            R"({"field_code":"EMAIL","values":[{"value":"a@b.c","enum_code":"WORK"}]}],)"
            R"("request_id":"0"},{"request_id":"1"}])");
}

// ---- ParseCreatedIds ------------------------------------------------------------------------

TEST(ParseCreatedIdsTest, MapsRequestIdToId) {
  auto ids = ParseCreatedIds(ReadTestdata("kommo/leads_created.json"), "leads");
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_THAT(*ids, ElementsAre(Pair("0", 10185151), Pair("lead-b", 31415926535)));
}

TEST(ParseCreatedIdsTest, NumericRequestIdIsKeyedAsDecimalString) {
  auto ids = ParseCreatedIds(ReadTestdata("kommo/contacts_created.json"), "contacts");
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_THAT(*ids, ElementsAre(Pair("0", 40401635)));

  auto mixed = ParseCreatedIds(
      R"({"_embedded":{"leads":[{"id":1,"request_id":12},{"id":2,"request_id":["13"]},
                                {"id":3,"request_id":"14"}]}})",
      "leads");
  ASSERT_TRUE(mixed.ok()) << mixed.status();
  EXPECT_THAT(*mixed, ElementsAre(Pair("12", 1), Pair("13", 2), Pair("14", 3)));
}

TEST(ParseCreatedIdsTest, EmptyBatchIsAnEmptyMap) {
  auto ids = ParseCreatedIds(R"({"_embedded":{"contacts":[]}})", "contacts");
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_TRUE(ids->empty());
}

TEST(ParseCreatedIdsTest, MalformedResultsNameTheField) {
  EXPECT_TRUE(IsBadResponse(ParseCreatedIds(R"({"_links":{}})", "leads").status(), "_embedded"));
  // The contacts of a lead result are not the leads.
  EXPECT_TRUE(
      IsBadResponse(ParseCreatedIds(ReadTestdata("kommo/contacts_created.json"), "leads").status(),
                    "_embedded.leads"));
  EXPECT_TRUE(IsBadResponse(ParseCreatedIds(R"({"_embedded":{"leads":{}}})", "leads").status(),
                            "_embedded.leads"));
  EXPECT_TRUE(IsBadResponse(
      ParseCreatedIds(R"({"_embedded":{"leads":[{"request_id":"0"}]}})", "leads").status(),
      "_embedded.leads[0].id"));
  EXPECT_TRUE(IsBadResponse(
      ParseCreatedIds(R"({"_embedded":{"leads":[{"id":"1","request_id":"0"}]}})", "leads").status(),
      "_embedded.leads[0].id"));
  EXPECT_TRUE(
      IsBadResponse(ParseCreatedIds(R"({"_embedded":{"leads":[{"id":1}]}})", "leads").status(),
                    "_embedded.leads[0].request_id"));
  EXPECT_TRUE(IsBadResponse(
      ParseCreatedIds(R"({"_embedded":{"leads":[{"id":1,"request_id":{}}]}})", "leads").status(),
      "_embedded.leads[0].request_id"));
  EXPECT_TRUE(IsBadResponse(
      ParseCreatedIds(
          R"({"_embedded":{"leads":[{"id":1,"request_id":"0"},{"id":2,"request_id":0}]}})", "leads")
          .status(),
      "_embedded.leads[1].request_id"));
  EXPECT_TRUE(IsBadResponse(ParseCreatedIds("", "leads").status(), ""));
}

// ---- validation paths ---------------------------------------------------------------------------

TEST(LeadFieldFromKommoPathTest, MapsKnownPaths) {
  EXPECT_EQ(LeadFieldFromKommoPath("price"), "price");
  EXPECT_EQ(LeadFieldFromKommoPath("name"), "name");
  EXPECT_EQ(LeadFieldFromKommoPath("status_id"), "status_id");
  EXPECT_EQ(LeadFieldFromKommoPath("pipeline_id"), "pipeline_id");
  EXPECT_EQ(LeadFieldFromKommoPath("responsible_user_id"), "responsible_user_id");
  EXPECT_EQ(LeadFieldFromKommoPath("id"), "lead_id");
  EXPECT_EQ(LeadFieldFromKommoPath("_embedded.contacts.1.id"), "contact_ids[1]");
  EXPECT_EQ(LeadFieldFromKommoPath("_embedded.contacts.0.is_main"), "contact_ids[0]");
  EXPECT_EQ(LeadFieldFromKommoPath("_embedded.contacts.12"), "contact_ids[12]");
  EXPECT_EQ(LeadFieldFromKommoPath("_embedded.contacts"), "contact_ids");
  EXPECT_EQ(LeadFieldFromKommoPath(""), "");
}

TEST(LeadFieldFromKommoPathTest, ReturnsUnknownPathsUnchanged) {
  for (const char* path :
       {"_embedded.contacts.01.id", "_embedded.contacts.-1.id", "_embedded.contacts.x.id",
        "_embedded.contacts.1.name", "_embedded.contacts.1.id.x", "_embedded.companies.0.id",
        "price.value", "Price", "_embedded"}) {
    EXPECT_EQ(LeadFieldFromKommoPath(path), path);
  }
}

TEST(ContactFieldFromKommoPathTest, MapsFieldsAndMultitextIndexes) {
  CreateContactRequest both;
  both.add_phones("1");
  both.add_phones("2");
  both.add_emails("a@b");
  both.add_emails("c@d");
  both.add_emails("e@f");
  EXPECT_EQ(ContactFieldFromKommoPath("responsible_user_id", both), "responsible_user_id");
  EXPECT_EQ(ContactFieldFromKommoPath("created_by", both), "created_by");
  EXPECT_EQ(ContactFieldFromKommoPath("first_name", both), "first_name");
  EXPECT_EQ(ContactFieldFromKommoPath("custom_fields_values.0.values.1.value", both), "phones[1]");
  EXPECT_EQ(ContactFieldFromKommoPath("custom_fields_values.1.values.2.value", both), "emails[2]");
  EXPECT_EQ(ContactFieldFromKommoPath("custom_fields_values.1.values.0.enum_code", both),
            "emails[0]");
  EXPECT_EQ(ContactFieldFromKommoPath("custom_fields_values.1.values.0", both), "emails[0]");
  EXPECT_EQ(ContactFieldFromKommoPath("custom_fields_values.0.values", both), "phones");
  EXPECT_EQ(ContactFieldFromKommoPath("custom_fields_values.1.field_code", both), "emails");
  EXPECT_EQ(ContactFieldFromKommoPath("custom_fields_values.1", both), "emails");

  CreateContactRequest emails_only;
  emails_only.add_emails("a@b");
  EXPECT_EQ(ContactFieldFromKommoPath("custom_fields_values.0.values.0.value", emails_only),
            "emails[0]");
}

TEST(ContactFieldFromKommoPathTest, ReturnsUnknownPathsUnchanged) {
  CreateContactRequest phones_only;
  phones_only.add_phones("1");
  for (const char* path : {"custom_fields_values.0.values.1.value",  // only one phone was sent
                           "custom_fields_values.0.values.0.other", "custom_fields_values.0.other",
                           "custom_fields_values.x", "_embedded.tags.0", "", "nickname"}) {
    EXPECT_EQ(ContactFieldFromKommoPath(path, phones_only), path);
  }
}

}  // namespace
}  // namespace kommo::mapping
