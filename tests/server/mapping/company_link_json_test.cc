// Companies and links: bodies written, answers read, and which side a link is written on.

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/mapping/company_json.h"
#include "server/mapping/link_json.h"

namespace kommo::mapping {
namespace {

using v1::ENTITY_TYPE_COMPANY;
using v1::ENTITY_TYPE_CONTACT;
using v1::ENTITY_TYPE_LEAD;
using v1::ENTITY_TYPE_UNSPECIFIED;

TEST(CompanyJsonTest, CreateAndUpdateBodiesCarryOnlyWhatIsSet) {
  v1::CreateCompanyRequest create;
  create.set_name("Acme");
  v1::CreateCompanyRequest with_user = create;
  with_user.set_responsible_user_id(7);
  const CompanyCreateItem items[] = {{"1", &create}, {"2", &with_user}};
  EXPECT_EQ(CompaniesCreateBody(items),
            R"([{"name":"Acme","request_id":"1"},)"
            R"({"name":"Acme","responsible_user_id":7,"request_id":"2"}])");

  v1::UpdateCompanyRequest update;
  update.set_company_id(9);
  update.set_responsible_user_id(3);
  const CompanyUpdateItem changes[] = {{"5", &update}};
  EXPECT_EQ(CompaniesUpdateBody(changes), R"([{"id":9,"responsible_user_id":3,"request_id":"5"}])");
  EXPECT_EQ(CompanyFieldFromKommoPath("id"), "company_id");
  EXPECT_EQ(CompanyFieldFromKommoPath("name"), "name");
}

TEST(CompanyJsonTest, BodiesCarryCustomFieldsAndTagChanges) {
  v1::CreateCompanyRequest create;
  create.set_name("Acme");
  v1::CustomFieldValues* web = create.add_custom_fields();
  web->set_field_id(920001);
  web->add_values()->set_text("https://acme.test/");
  create.add_tags_to_add("vip");
  const CompanyCreateItem items[] = {{"1", &create}};
  EXPECT_EQ(CompaniesCreateBody(items),
            R"([{"name":"Acme","custom_fields_values":[{"field_id":920001,"values":)"
            R"([{"value":"https://acme.test/"}]}],"tags_to_add":[{"name":"vip"}],)"
            R"("request_id":"1"}])");

  v1::UpdateCompanyRequest update;
  update.set_company_id(9);
  update.add_custom_fields()->set_field_id(920003);  // no values: cleared
  update.add_tags_to_remove("vip");
  const CompanyUpdateItem changes[] = {{"5", &update}};
  EXPECT_EQ(CompaniesUpdateBody(changes),
            R"([{"id":9,"custom_fields_values":[{"field_id":920003,"values":null}],)"
            R"("tags_to_delete":[{"name":"vip"}],"request_id":"5"}])");
  EXPECT_EQ(CompanyFieldFromKommoPath("custom_fields_values.0.values.0.value"),
            "custom_fields[0].values[0]");
}

TEST(CompanyJsonTest, ReadsCustomFieldsAndTags) {
  absl::StatusOr<v1::Company> company = ParseCompany(
      R"({"id":5,"name":"Acme","custom_fields_values":[{"field_id":920003,"field_name":"Industry",)"
      R"("field_code":null,"field_type":"select","values":[{"value":"Software","enum_id":1200032}]}],)"
      R"("_embedded":{"tags":[{"id":3,"name":"vip"}]}})");
  ASSERT_TRUE(company.ok()) << company.status();
  ASSERT_EQ(company->custom_fields_size(), 1);
  EXPECT_EQ(company->custom_fields(0).field_id(), 920003);
  EXPECT_EQ(company->custom_fields(0).values(0).enum_id(), 1200032);
  EXPECT_EQ(company->custom_fields(0).values(0).text(), "Software");
  ASSERT_EQ(company->tags_size(), 1);
  EXPECT_EQ(company->tags(0).name(), "vip");
  EXPECT_EQ(company->tags(0).id(), 3);
}

TEST(CompanyJsonTest, ParsesCompaniesLeniently) {
  absl::StatusOr<v1::Company> company = ParseCompany(
      R"({"id":54000000001,"name":"Acme","responsible_user_id":8,"group_id":0,"created_by":8,)"
      R"("updated_by":null,"created_at":1700000000,"updated_at":0,"is_deleted":false,)"
      R"("account_id":3,"custom_fields_values":null,"is_computed":true,"_links":{}})");
  ASSERT_TRUE(company.ok()) << company.status();
  EXPECT_EQ(company->id(), 54000000001);
  EXPECT_EQ(company->name(), "Acme");
  EXPECT_EQ(company->responsible_user_id(), 8);
  EXPECT_EQ(company->created_at().seconds(), 1700000000);
  EXPECT_FALSE(company->has_updated_at());

  absl::StatusOr<CompanyPage> page = ParseCompanyPage(
      R"({"_links":{"next":{"href":"x"}},"_embedded":{"companies":[{"id":1},{"id":2}]}})");
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->companies.size(), 2u);
  EXPECT_TRUE(page->has_next);

  EXPECT_FALSE(ParseCompany(R"({"id":"1"})").ok());
  EXPECT_FALSE(ParseCompany(R"({"id":1,"name":5})").ok());
}

LinkChange Change(v1::EntityType type, int64_t id, v1::EntityType to_type, int64_t to_id) {
  LinkChange change;
  change.entity_type = type;
  change.entity_id = id;
  change.to_entity_type = to_type;
  change.to_entity_id = to_id;
  return change;
}

TEST(LinkJsonTest, LinksAreWrittenOnTheLeadThenTheContactSide) {
  const std::optional<LinkChange> lead_contact =
      WrittenSide(Change(ENTITY_TYPE_CONTACT, 2, ENTITY_TYPE_LEAD, 1));
  ASSERT_TRUE(lead_contact.has_value());
  EXPECT_EQ(lead_contact->entity_type, ENTITY_TYPE_LEAD);
  EXPECT_EQ(lead_contact->entity_id, 1);
  EXPECT_EQ(lead_contact->to_entity_type, ENTITY_TYPE_CONTACT);
  EXPECT_EQ(lead_contact->to_entity_id, 2);

  const std::optional<LinkChange> lead_company =
      WrittenSide(Change(ENTITY_TYPE_LEAD, 1, ENTITY_TYPE_COMPANY, 3));
  ASSERT_TRUE(lead_company.has_value());
  EXPECT_EQ(lead_company->entity_type, ENTITY_TYPE_LEAD);

  const std::optional<LinkChange> contact_company =
      WrittenSide(Change(ENTITY_TYPE_COMPANY, 3, ENTITY_TYPE_CONTACT, 2));
  ASSERT_TRUE(contact_company.has_value());
  EXPECT_EQ(contact_company->entity_type, ENTITY_TYPE_CONTACT);
  EXPECT_EQ(contact_company->entity_id, 2);
  EXPECT_EQ(contact_company->to_entity_id, 3);

  EXPECT_FALSE(WrittenSide(Change(ENTITY_TYPE_LEAD, 1, ENTITY_TYPE_LEAD, 2)).has_value());
  EXPECT_FALSE(WrittenSide(Change(ENTITY_TYPE_UNSPECIFIED, 1, ENTITY_TYPE_LEAD, 2)).has_value());
}

TEST(LinkJsonTest, BodiesSayIsMainAndAnswersSayMainContact) {
  LinkChange change = Change(ENTITY_TYPE_LEAD, 1, ENTITY_TYPE_CONTACT, 2);
  change.is_main = true;
  EXPECT_EQ(LinkBody(change),
            R"([{"to_entity_id":2,"to_entity_type":"contacts","metadata":{"is_main":true}}])");
  change.unlink = true;
  EXPECT_EQ(LinkBody(change), R"([{"to_entity_id":2,"to_entity_type":"contacts"}])");

  absl::StatusOr<std::vector<v1::Link>> links = ParseLinks(
      R"({"_total_items":3,"_embedded":{"links":[)"
      R"({"entity_id":1,"entity_type":"leads","to_entity_id":2,"to_entity_type":"contacts",)"
      R"("metadata":{"main_contact":true}},)"
      R"({"to_entity_id":3,"to_entity_type":"companies","metadata":null},)"
      R"({"to_entity_id":4,"to_entity_type":"catalog_elements","metadata":{"quantity":1}}]}})",
      ENTITY_TYPE_LEAD, 1);
  ASSERT_TRUE(links.ok()) << links.status();
  ASSERT_EQ(links->size(), 2u);  // the catalog element is left out
  EXPECT_EQ((*links)[0].to_entity_type(), ENTITY_TYPE_CONTACT);
  EXPECT_TRUE((*links)[0].is_main());
  EXPECT_EQ((*links)[1].to_entity_type(), ENTITY_TYPE_COMPANY);
  EXPECT_EQ((*links)[1].to_entity_id(), 3);
  EXPECT_FALSE((*links)[1].is_main());

  // An answer about another entity is malformed.
  EXPECT_FALSE(ParseLinks(R"({"_embedded":{"links":[{"entity_id":9,"to_entity_id":2,)"
                          R"("to_entity_type":"contacts"}]}})",
                          ENTITY_TYPE_LEAD, 1)
                   .ok());
  EXPECT_FALSE(
      ParseLinks(R"({"_embedded":{"links":[{"to_entity_type":"contacts"}]}})", ENTITY_TYPE_LEAD, 1)
          .ok());
}

}  // namespace
}  // namespace kommo::mapping
