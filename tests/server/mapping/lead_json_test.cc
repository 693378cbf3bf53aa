// ParseLead and ParseLeadPage over Kommo-shaped fixtures and malformed variants.

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
using ::testing::Not;

TEST(ParseLeadTest, ReadsEveryFieldOfAFullLeadWithContacts) {
  auto lead = ParseLead(ReadTestdata("kommo/lead_with_contacts.json"));
  ASSERT_TRUE(lead.ok()) << lead.status();
  EXPECT_EQ(lead->id(), 31415926535);  // above 2^31: must survive exactly
  EXPECT_EQ(lead->name(), "Example lead 2");
  EXPECT_EQ(lead->price(), 20000);  // price_with_minor_units is ignored
  EXPECT_EQ(lead->responsible_user_id(), 8375357);
  EXPECT_EQ(lead->group_id(), 0);
  EXPECT_EQ(lead->status_id(), 58141807);
  EXPECT_EQ(lead->pipeline_id(), 6950551);
  EXPECT_EQ(lead->created_by(), 0);
  EXPECT_EQ(lead->updated_by(), 8375357);
  EXPECT_EQ(lead->account_id(), 31361463);
  EXPECT_FALSE(lead->is_deleted());
  ASSERT_TRUE(lead->has_created_at());
  EXPECT_EQ(lead->created_at().seconds(), 1686673337);
  EXPECT_EQ(lead->created_at().nanos(), 0);
  ASSERT_TRUE(lead->has_updated_at());
  EXPECT_EQ(lead->updated_at().seconds(), 1686748504);
  EXPECT_FALSE(lead->has_closed_at());  // "closed_at": null
  EXPECT_THAT(lead->contact_ids(), ElementsAre(5000000001, 40401635));
}

TEST(ParseLeadTest, AcceptsMissingEmbeddedNullCustomFieldsAndRoundsFloatPrice) {
  auto lead = ParseLead(ReadTestdata("kommo/lead_closed_no_embedded.json"));
  ASSERT_TRUE(lead.ok()) << lead.status();
  EXPECT_EQ(lead->id(), 152464);
  EXPECT_EQ(lead->price(), 2000);  // 1999.5 rounds half away from zero
  EXPECT_EQ(lead->group_id(), 382786);
  EXPECT_EQ(lead->status_id(), 142);
  EXPECT_TRUE(lead->is_deleted());
  ASSERT_TRUE(lead->has_closed_at());
  EXPECT_EQ(lead->closed_at().seconds(), 1686748504);
  EXPECT_TRUE(lead->contact_ids().empty());
}

TEST(ParseLeadTest, MinimalLeadLeavesEverythingElseUnset) {
  auto lead = ParseLead(R"({"id": 1})");
  ASSERT_TRUE(lead.ok()) << lead.status();
  EXPECT_EQ(lead->id(), 1);
  EXPECT_EQ(lead->name(), "");
  EXPECT_EQ(lead->price(), 0);
  EXPECT_FALSE(lead->has_created_at());
  EXPECT_FALSE(lead->has_updated_at());
  EXPECT_FALSE(lead->has_closed_at());
}

TEST(ParseLeadTest, NullsReadAsEmptyValues) {
  auto lead = ParseLead(
      R"({"id": 7, "name": null, "price": null, "status_id": null, "is_deleted": null,
          "created_at": null, "updated_at": 0, "_embedded": null})");
  ASSERT_TRUE(lead.ok()) << lead.status();
  EXPECT_EQ(lead->name(), "");
  EXPECT_EQ(lead->price(), 0);
  EXPECT_EQ(lead->status_id(), 0);
  EXPECT_FALSE(lead->is_deleted());
  EXPECT_FALSE(lead->has_created_at());
  EXPECT_FALSE(lead->has_updated_at());  // 0 is "never" in Kommo, not 1970
}

TEST(ParseLeadTest, PriceVariants) {
  const struct {
    const char* body;
    int64_t price;
  } kCases[] = {
      {R"({"id":1,"price":0.4})", 0},
      {R"({"id":1,"price":2.5})", 3},
      {R"({"id":1,"price":-2.5})", -3},
      {R"({"id":1,"price":1e3})", 1000},
      {R"({"id":1,"price":9007199254740993})", 9007199254740993},  // int: no double rounding
  };
  for (const auto& c : kCases) {
    auto lead = ParseLead(c.body);
    ASSERT_TRUE(lead.ok()) << c.body << ": " << lead.status();
    EXPECT_EQ(lead->price(), c.price) << c.body;
  }
  EXPECT_TRUE(IsBadResponse(ParseLead(R"({"id":1,"price":"100"})").status(), "price"));
  EXPECT_TRUE(IsBadResponse(ParseLead(R"({"id":1,"price":1e19})").status(), "price"));
  EXPECT_TRUE(IsBadResponse(ParseLead(R"({"id":1,"price":true})").status(), "price"));
}

TEST(ParseLeadTest, IdsUpToInt64MaxRoundTrip) {
  auto lead = ParseLead(R"({"id": 9223372036854775807, "responsible_user_id": 4294967296})");
  ASSERT_TRUE(lead.ok()) << lead.status();
  EXPECT_EQ(lead->id(), INT64_MAX);
  EXPECT_EQ(lead->responsible_user_id(), 4294967296);
}

TEST(ParseLeadTest, MalformedIdIsBadResponseNamingTheField) {
  EXPECT_TRUE(IsBadResponse(ParseLead(R"({"name": "x"})").status(), "id"));
  EXPECT_TRUE(IsBadResponse(ParseLead(R"({"id": null})").status(), "id"));
  EXPECT_TRUE(IsBadResponse(ParseLead(R"({"id": "152464"})").status(), "id"));
  EXPECT_TRUE(IsBadResponse(ParseLead(R"({"id": 152464.5})").status(), "id"));
  EXPECT_TRUE(IsBadResponse(ParseLead(R"({"id": 152464.0})").status(), "id"));
  EXPECT_TRUE(IsBadResponse(ParseLead(R"({"id": 9223372036854775808})").status(), "id"));
  EXPECT_TRUE(IsBadResponse(ParseLead(R"({"id": 123456789012345678901234})").status(), "id"));
  EXPECT_TRUE(IsBadResponse(ParseLead(R"({"id": 0})").status(), "id"));
  EXPECT_TRUE(IsBadResponse(ParseLead(R"({"id": -5})").status(), "id"));
  EXPECT_THAT(std::string(ParseLead(R"({"id": 9223372036854775808})").status().message()),
              HasSubstr("out of range"));
}

TEST(ParseLeadTest, WrongTypesAreBadResponseNamingTheField) {
  EXPECT_TRUE(IsBadResponse(ParseLead(R"({"id":1,"name":12345})").status(), "name"));
  EXPECT_TRUE(IsBadResponse(ParseLead(R"({"id":1,"status_id":"142"})").status(), "status_id"));
  EXPECT_TRUE(IsBadResponse(ParseLead(R"({"id":1,"is_deleted":0})").status(), "is_deleted"));
  EXPECT_TRUE(
      IsBadResponse(ParseLead(R"({"id":1,"created_at":"2023-06-13"})").status(), "created_at"));
  EXPECT_TRUE(IsBadResponse(ParseLead(R"({"id":1,"closed_at":1e400})").status(), ""));  // not JSON
  EXPECT_TRUE(
      IsBadResponse(ParseLead(R"({"id":1,"updated_at":99999999999999})").status(), "updated_at"));
  EXPECT_TRUE(IsBadResponse(ParseLead(R"({"id":1,"_embedded":[]})").status(), "_embedded"));
  EXPECT_TRUE(IsBadResponse(ParseLead(R"({"id":1,"_embedded":{"contacts":{"id":5}}})").status(),
                            "_embedded.contacts"));
  EXPECT_TRUE(IsBadResponse(ParseLead(R"({"id":1,"_embedded":{"contacts":[5]}})").status(),
                            "_embedded.contacts[0]"));
  EXPECT_TRUE(IsBadResponse(
      ParseLead(R"({"id":1,"_embedded":{"contacts":[{"id":5},{"id":"6"}]}})").status(),
      "_embedded.contacts[1].id"));
}

TEST(ParseLeadTest, UnreadFieldsMayHaveAnyType) {
  // Kommo adds fields over time; only the fields we read are type-checked.
  auto lead = ParseLead(
      R"({"id":1,"score":"high","labor_cost":[1],"loss_reason_id":{"x":1},
          "custom_fields_values":"none","price_with_minor_units":"x","is_price_computed":3,
          "_links":5,"_embedded":{"tags":"x","companies":null}})");
  ASSERT_TRUE(lead.ok()) << lead.status();
  EXPECT_EQ(lead->id(), 1);
}

TEST(ParseLeadTest, ErrorsNeverEchoValues) {
  const absl::Status status = ParseLead(R"({"id":"secret-id-4711","name":"x"})").status();
  ASSERT_TRUE(IsBadResponse(status, "id"));
  EXPECT_THAT(std::string(status.message()), Not(HasSubstr("4711")));
  const absl::Status name_status = ParseLead(R"({"id":1,"name":987654321})").status();
  ASSERT_TRUE(IsBadResponse(name_status, "name"));
  EXPECT_THAT(std::string(name_status.message()), Not(HasSubstr("987654321")));
}

TEST(ParseLeadTest, BodiesThatAreNotAnObjectAreBadResponse) {
  for (const char* body :
       {"", "   ", "null", "[]", "[{\"id\":1}]", "\"lead\"", "42", "<html>502 Bad Gateway</html>",
        "{\"id\":1", "{\"id\":1,}", "{\"id\":1} {\"id\":2}", "{\"id\":1}x", "{'id':1}"}) {
    EXPECT_TRUE(IsBadResponse(ParseLead(body).status(), "")) << body;
  }
}

TEST(ParseLeadTest, InvalidUtf8InANameIsBadResponse) {
  // A lone low surrogate escape decodes to bytes that are not UTF-8; raw invalid bytes too.
  EXPECT_TRUE(IsBadResponse(ParseLead(R"({"id":1,"name":"a\udc00b"})").status(), "name"));
  EXPECT_TRUE(IsBadResponse(ParseLead("{\"id\":1,\"name\":\"\xC0\xAF\"}").status(), "name"));
  auto lead = ParseLead(R"({"id":1,"name":"\u0421\u0434\u0435\u043b\u043a\u0430 \ud83d\ude00"})");
  ASSERT_TRUE(lead.ok()) << lead.status();
  EXPECT_EQ(lead->name(), "\u0421\u0434\u0435\u043b\u043a\u0430 \U0001F600");
}

TEST(ParseLeadPageTest, PageWithNextLink) {
  auto page = ParseLeadPage(ReadTestdata("kommo/leads_page.json"));
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_TRUE(page->has_next);
  ASSERT_EQ(page->leads.size(), 2u);
  EXPECT_EQ(page->leads[0].id(), 19619);
  EXPECT_EQ(page->leads[0].name(), "Deal #1");
  EXPECT_EQ(page->leads[0].price(), 46333);
  EXPECT_EQ(page->leads[0].closed_at().seconds(), 1483005931);
  EXPECT_EQ(page->leads[1].id(), 14460);
  EXPECT_EQ(page->leads[1].price(), 0);  // "price": null
  EXPECT_EQ(page->leads[1].status_id(), 143);
}

TEST(ParseLeadPageTest, LastPageHasNoNext) {
  auto page = ParseLeadPage(ReadTestdata("kommo/leads_last_page.json"));
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_FALSE(page->has_next);
  ASSERT_EQ(page->leads.size(), 1u);
  EXPECT_EQ(page->leads[0].id(), 3000000001);
}

TEST(ParseLeadPageTest, MissingOrNullEmbeddedIsAnEmptyPage) {
  for (const char* body : {R"({})", R"({"_page":1,"_links":{}})", R"({"_embedded":null})",
                           R"({"_embedded":{}})", R"({"_embedded":{"leads":null}})",
                           R"({"_embedded":{"leads":[]},"_links":{"next":null}})"}) {
    auto page = ParseLeadPage(body);
    ASSERT_TRUE(page.ok()) << body << ": " << page.status();
    EXPECT_TRUE(page->leads.empty()) << body;
    EXPECT_FALSE(page->has_next) << body;
  }
}

TEST(ParseLeadPageTest, MalformedPagesNameTheField) {
  EXPECT_TRUE(
      IsBadResponse(ParseLeadPage(R"({"_embedded":{"leads":{}}})").status(), "_embedded.leads"));
  EXPECT_TRUE(IsBadResponse(ParseLeadPage(R"({"_embedded":{"leads":"none"}})").status(),
                            "_embedded.leads"));
  EXPECT_TRUE(IsBadResponse(ParseLeadPage(R"({"_embedded":{"leads":[{"id":1},7]}})").status(),
                            "_embedded.leads[1]"));
  EXPECT_TRUE(IsBadResponse(
      ParseLeadPage(R"({"_embedded":{"leads":[{"id":1},{"id":2,"name":3}]}})").status(),
      "_embedded.leads[1].name"));
  EXPECT_TRUE(
      IsBadResponse(ParseLeadPage(R"({"_links":{"next":"?page=3"}})").status(), "_links.next"));
  EXPECT_TRUE(IsBadResponse(ParseLeadPage(R"({"_embedded":"x"})").status(), "_embedded"));
  EXPECT_TRUE(IsBadResponse(ParseLeadPage(R"([])").status(), ""));
}

TEST(ParseLeadPageTest, TruncatedPageIsBadResponse) {
  const std::string body = ReadTestdata("kommo/leads_page.json");
  EXPECT_TRUE(IsBadResponse(ParseLeadPage(body.substr(0, body.size() / 2)).status(), ""));
}

}  // namespace
}  // namespace kommo::mapping
