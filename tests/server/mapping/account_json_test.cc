// The account catalogues' mapping over Kommo-shaped fixtures and malformed variants.

#include "server/mapping/account_json.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/mapping/mapping_test_util.h"

namespace kommo::mapping {
namespace {

using ::kommo::mapping::test_util::IsBadResponse;
using ::kommo::mapping::test_util::ReadTestdata;

TEST(ParseAccountTest, ReadsTheAccountItsTimeZoneAndGroups) {
  auto account = ParseAccount(ReadTestdata("kommo/account.json"));
  ASSERT_TRUE(account.ok()) << account.status();
  EXPECT_EQ(account->id(), 29085955);
  EXPECT_EQ(account->name(), "Acme Sales");
  EXPECT_EQ(account->subdomain(), "acmesales");
  EXPECT_EQ(account->current_user_id(), 8375357);
  EXPECT_EQ(account->country(), "ES");
  EXPECT_EQ(account->currency(), "EUR");
  EXPECT_EQ(account->currency_symbol(), "€");
  EXPECT_TRUE(account->is_unsorted_on());
  EXPECT_TRUE(account->is_loss_reason_enabled());
  EXPECT_EQ(account->timezone(), "Europe/Madrid");
  EXPECT_EQ(account->timezone_offset(), "+02:00");
  EXPECT_EQ(account->create_time().seconds(), 1585840134);
  ASSERT_EQ(account->user_groups_size(), 2);
  EXPECT_EQ(account->user_groups(0).id(), 0);
  EXPECT_EQ(account->user_groups(0).name(), "Main office");
  EXPECT_EQ(account->user_groups(1).id(), 380931);
}

TEST(ParseAccountTest, WithoutEmbeddedHasNoTimeZone) {
  auto account = ParseAccount(R"({"id":5,"name":"x","created_at":null})");
  ASSERT_TRUE(account.ok()) << account.status();
  EXPECT_EQ(account->id(), 5);
  EXPECT_TRUE(account->timezone().empty());
  EXPECT_FALSE(account->has_create_time());
}

TEST(ParseAccountTest, MalformedAccountsNameTheField) {
  EXPECT_TRUE(IsBadResponse(ParseAccount(R"({"name":"x"})").status(), "id"));
  EXPECT_TRUE(IsBadResponse(ParseAccount(R"({"id":5,"currency":7})").status(), "currency"));
  EXPECT_TRUE(
      IsBadResponse(ParseAccount(R"({"id":5,"_embedded":{"users_groups":[{"id":"a"}]}})").status(),
                    "_embedded.users_groups[0].id"));
  EXPECT_TRUE(IsBadResponse(ParseAccount("[]").status(), ""));
}

TEST(ParsePipelinePageTest, ReadsPipelinesWithStagesInSortOrderAndTheirKinds) {
  auto page = ParsePipelinePage(ReadTestdata("kommo/pipelines.json"));
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_FALSE(page->has_next);
  ASSERT_EQ(page->items.size(), 2u);
  const v1::Pipeline& sales = page->items[0];
  EXPECT_EQ(sales.id(), 6950551);
  EXPECT_EQ(sales.name(), "Sales");
  EXPECT_TRUE(sales.is_main());
  EXPECT_TRUE(sales.is_unsorted_on());
  EXPECT_FALSE(sales.is_archived());
  ASSERT_EQ(sales.stages_size(), 4);
  // Sorted by sort although Kommo's answer had them out of order.
  EXPECT_EQ(sales.stages(0).id(), 58141803);
  EXPECT_EQ(sales.stages(0).kind(), v1::STAGE_KIND_INCOMING);
  EXPECT_EQ(sales.stages(1).id(), 58141807);
  EXPECT_EQ(sales.stages(1).kind(), v1::STAGE_KIND_ORDINARY);
  EXPECT_EQ(sales.stages(1).name(), "First contact");
  EXPECT_EQ(sales.stages(1).sort(), 20);
  EXPECT_EQ(sales.stages(1).color(), "#99ccff");
  EXPECT_TRUE(sales.stages(1).is_editable());
  EXPECT_EQ(sales.stages(1).pipeline_id(), 6950551);
  EXPECT_EQ(sales.stages(2).id(), 142);
  EXPECT_EQ(sales.stages(2).kind(), v1::STAGE_KIND_WON);
  EXPECT_EQ(sales.stages(3).id(), 143);
  EXPECT_EQ(sales.stages(3).kind(), v1::STAGE_KIND_LOST);
  EXPECT_TRUE(page->items[1].is_archived());
  EXPECT_EQ(page->items[1].stages_size(), 0);
}

TEST(ParsePipelinePageTest, AStageWithoutPipelineIdBelongsToItsPipeline) {
  auto page = ParsePipelinePage(
      R"({"_embedded":{"pipelines":[{"id":9,"_embedded":{"statuses":[{"id":3,"type":0}]}}]}})");
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->items[0].stages(0).pipeline_id(), 9);
}

TEST(ParsePipelinePageTest, MalformedStagesNameTheField) {
  EXPECT_TRUE(IsBadResponse(
      ParsePipelinePage(
          R"({"_embedded":{"pipelines":[{"id":9,"_embedded":{"statuses":[{"id":3,"type":"1"}]}}]}})")
          .status(),
      "_embedded.pipelines[0]._embedded.statuses[0].type"));
  EXPECT_TRUE(
      IsBadResponse(ParsePipelinePage(R"({"_embedded":{"pipelines":[{"name":"no id"}]}})").status(),
                    "_embedded.pipelines[0].id"));
}

TEST(StageKindOfTest, ClosedIdsWinOverType) {
  EXPECT_EQ(StageKindOf(142, 1), v1::STAGE_KIND_WON);
  EXPECT_EQ(StageKindOf(143, 0), v1::STAGE_KIND_LOST);
  EXPECT_EQ(StageKindOf(5, 1), v1::STAGE_KIND_INCOMING);
  EXPECT_EQ(StageKindOf(5, 0), v1::STAGE_KIND_ORDINARY);
  EXPECT_EQ(StageKindOf(5, 7), v1::STAGE_KIND_ORDINARY);
}

TEST(ParseUserPageTest, ReadsUsersRightsAndTheNextLink) {
  auto page = ParseUserPage(ReadTestdata("kommo/users_page.json"));
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_TRUE(page->has_next);
  ASSERT_EQ(page->items.size(), 2u);
  EXPECT_EQ(page->items[0].id(), 8375357);
  EXPECT_EQ(page->items[0].name(), "Ana Admin");
  EXPECT_EQ(page->items[0].email(), "ana@acme.example");
  EXPECT_EQ(page->items[0].lang(), "es");
  EXPECT_TRUE(page->items[0].is_admin());
  EXPECT_TRUE(page->items[0].is_active());
  EXPECT_EQ(page->items[0].group_id(), 0);  // null
  EXPECT_FALSE(page->items[1].is_admin());
  EXPECT_FALSE(page->items[1].is_active());
  EXPECT_EQ(page->items[1].group_id(), 380931);
  EXPECT_TRUE(IsBadResponse(
      ParseUserPage(R"({"_embedded":{"users":[{"id":1,"rights":{"is_admin":"yes"}}]}})").status(),
      "_embedded.users[0].rights.is_admin"));
}

TEST(ParseCustomFieldPageTest, ReadsTypesCodesAndEnumsBySort) {
  auto page = ParseCustomFieldPage(ReadTestdata("kommo/lead_custom_fields_page.json"),
                                   v1::ENTITY_TYPE_LEAD);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_FALSE(page->has_next);
  ASSERT_EQ(page->items.size(), 4u);
  const v1::CustomField& utm = page->items[0];
  EXPECT_EQ(utm.id(), 1278898021);  // above 2^30, as in Kommo's own examples
  EXPECT_EQ(utm.code(), "UTM_SOURCE");
  EXPECT_EQ(utm.type(), v1::CUSTOM_FIELD_TYPE_OTHER);
  EXPECT_EQ(utm.kommo_type(), "tracking_data");
  EXPECT_EQ(utm.entity_type(), v1::ENTITY_TYPE_LEAD);
  EXPECT_EQ(utm.enums_size(), 0);
  const v1::CustomField& product = page->items[1];
  EXPECT_EQ(product.name(), "Product");
  EXPECT_TRUE(product.code().empty());
  EXPECT_EQ(product.type(), v1::CUSTOM_FIELD_TYPE_SELECT);
  EXPECT_EQ(product.sort(), 510);
  ASSERT_EQ(product.enums_size(), 2);
  EXPECT_EQ(product.enums(0).id(), 4000);
  EXPECT_EQ(product.enums(0).value(), "Basic");
  EXPECT_EQ(product.enums(0).sort(), 1);
  EXPECT_EQ(product.enums(1).id(), 4001);
  EXPECT_EQ(page->items[2].type(), v1::CUSTOM_FIELD_TYPE_DATE_TIME);
  EXPECT_EQ(page->items[3].type(), v1::CUSTOM_FIELD_TYPE_CHECKBOX);

  auto contacts = ParseCustomFieldPage(R"({"_embedded":{"custom_fields":[{"id":1,"type":"multitext",
      "code":"PHONE","enums":[{"id":2,"value":"WORK","sort":2}]}]}})",
                                       v1::ENTITY_TYPE_CONTACT);
  ASSERT_TRUE(contacts.ok()) << contacts.status();
  EXPECT_EQ(contacts->items[0].entity_type(), v1::ENTITY_TYPE_CONTACT);
  EXPECT_EQ(contacts->items[0].type(), v1::CUSTOM_FIELD_TYPE_MULTITEXT);
  EXPECT_EQ(contacts->items[0].enums(0).value(), "WORK");
}

TEST(ParseCustomFieldPageTest, MalformedEnumsNameTheField) {
  EXPECT_TRUE(IsBadResponse(
      ParseCustomFieldPage(R"({"_embedded":{"custom_fields":[{"id":1,"enums":[{"value":"a"}]}]}})",
                           v1::ENTITY_TYPE_LEAD)
          .status(),
      "_embedded.custom_fields[0].enums[0].id"));
  EXPECT_TRUE(
      IsBadResponse(ParseCustomFieldPage(R"({"_embedded":{"custom_fields":[{"id":1,"enums":{}}]}})",
                                         v1::ENTITY_TYPE_LEAD)
                        .status(),
                    "_embedded.custom_fields[0].enums"));
}

TEST(CustomFieldTypeOfTest, EveryNamedTypeAndOther) {
  EXPECT_EQ(CustomFieldTypeOf("text"), v1::CUSTOM_FIELD_TYPE_TEXT);
  EXPECT_EQ(CustomFieldTypeOf("numeric"), v1::CUSTOM_FIELD_TYPE_NUMERIC);
  EXPECT_EQ(CustomFieldTypeOf("checkbox"), v1::CUSTOM_FIELD_TYPE_CHECKBOX);
  EXPECT_EQ(CustomFieldTypeOf("select"), v1::CUSTOM_FIELD_TYPE_SELECT);
  EXPECT_EQ(CustomFieldTypeOf("multiselect"), v1::CUSTOM_FIELD_TYPE_MULTISELECT);
  EXPECT_EQ(CustomFieldTypeOf("radiobutton"), v1::CUSTOM_FIELD_TYPE_RADIOBUTTON);
  EXPECT_EQ(CustomFieldTypeOf("date"), v1::CUSTOM_FIELD_TYPE_DATE);
  EXPECT_EQ(CustomFieldTypeOf("date_time"), v1::CUSTOM_FIELD_TYPE_DATE_TIME);
  EXPECT_EQ(CustomFieldTypeOf("birthday"), v1::CUSTOM_FIELD_TYPE_BIRTHDAY);
  EXPECT_EQ(CustomFieldTypeOf("url"), v1::CUSTOM_FIELD_TYPE_URL);
  EXPECT_EQ(CustomFieldTypeOf("textarea"), v1::CUSTOM_FIELD_TYPE_TEXTAREA);
  EXPECT_EQ(CustomFieldTypeOf("multitext"), v1::CUSTOM_FIELD_TYPE_MULTITEXT);
  EXPECT_EQ(CustomFieldTypeOf("smart_address"), v1::CUSTOM_FIELD_TYPE_OTHER);
  EXPECT_EQ(CustomFieldTypeOf(""), v1::CUSTOM_FIELD_TYPE_OTHER);
  EXPECT_EQ(CustomFieldTypeOf("SELECT"), v1::CUSTOM_FIELD_TYPE_OTHER);
}

TEST(ParseLossReasonPageTest, ReadsReasons) {
  auto page = ParseLossReasonPage(ReadTestdata("kommo/loss_reasons.json"));
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->items.size(), 2u);
  EXPECT_EQ(page->items[0].id(), 4481);
  EXPECT_EQ(page->items[0].name(), "Too expensive");
  EXPECT_EQ(page->items[1].sort(), 2);
  EXPECT_TRUE(IsBadResponse(
      ParseLossReasonPage(R"({"_embedded":{"loss_reasons":[{"id":1,"name":["x"]}]}})").status(),
      "_embedded.loss_reasons[0].name"));
}

}  // namespace
}  // namespace kommo::mapping
