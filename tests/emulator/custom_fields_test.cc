// Custom-field values and tags of leads, contacts and companies over HTTP: every field type
// written (by field_id and by field_code) and read back in Kommo's shapes, each refusal with its
// validation error (FieldNotExpected among them), PATCH replacing, clearing and leaving fields,
// tags added, deleted and replaced on all three entity types, the same values inside
// /leads/complex and incoming leads, faults on these paths, and the request log of it all.
#include <atomic>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "emulator/emulator.h"
#include "gtest/gtest.h"
#include "tests/emulator/test_client.h"

namespace kommo::emulator {
namespace {

using testing::ExpectValidationError;
using testing::Has;
using testing::Int;
using testing::IsNull;
using testing::Reply;
using testing::Size;
using testing::Str;
using testing::TestClient;

constexpr char kToken[] = "fields-token";
constexpr int64_t kStartTime = 1750000000;

std::string N(int64_t value) { return std::to_string(value); }

// {"field_id":ID,"values":[VALUES]}
std::string ById(int64_t field_id, const std::string& values) {
  return R"({"field_id":)" + N(field_id) + R"(,"values":[)" + values + "]}";
}

class CustomFieldsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    EmulatorOptions options;
    options.token = kToken;
    options.clock = [this] { return now_.load(); };
    auto emulator = Emulator::Start(options);
    ASSERT_TRUE(emulator.ok()) << emulator.status();
    emulator_ = *std::move(emulator);
    client_ = std::make_unique<TestClient>(emulator_->base_url(), kToken);
    admin_ = std::make_unique<TestClient>(emulator_->base_url(), "");
  }

  // POSTs one entity (a JSON object) to /api/v4/<collection>; returns its id, or 0.
  int64_t Create(const std::string& collection, const std::string& json_object) {
    const Reply reply = client_->Post("/api/v4/" + collection, "[" + json_object + "]");
    EXPECT_EQ(reply.status, 200) << reply.body;
    return reply.status == 200 ? Int(reply.Json(), "_embedded." + collection + ".0.id") : 0;
  }
  rapidjson::Document Read(const std::string& collection, int64_t id) {
    const Reply reply = client_->Get("/api/v4/" + collection + "/" + N(id));
    EXPECT_EQ(reply.status, 200) << reply.body;
    return reply.Json();
  }
  void Patch(const std::string& collection, int64_t id, const std::string& json_object) {
    const Reply reply = client_->Patch("/api/v4/" + collection + "/" + N(id), json_object);
    EXPECT_EQ(reply.status, 200) << reply.body;
  }

  std::atomic<int64_t> now_{kStartTime};
  std::unique_ptr<Emulator> emulator_;
  std::unique_ptr<TestClient> client_;
  std::unique_ptr<TestClient> admin_;
};

// The index of the custom_fields_values entry of `field_id`, or -1.
int EntryOf(const rapidjson::Value& entity, int64_t field_id) {
  if (!Has(entity, "custom_fields_values") || IsNull(entity, "custom_fields_values")) return -1;
  for (size_t i = 0; i < Size(entity, "custom_fields_values"); ++i) {
    if (Int(entity, "custom_fields_values." + N(i) + ".field_id") == field_id) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

// "custom_fields_values.<i>." of `field_id`; fails the test when the field has no entry.
std::string EntryPath(const rapidjson::Value& entity, int64_t field_id) {
  const int index = EntryOf(entity, field_id);
  EXPECT_GE(index, 0) << "no values of field " << field_id;
  return "custom_fields_values." + N(index < 0 ? 999 : index) + ".";
}

// --- every type, written and read back -----------------------------------------------------------

TEST_F(CustomFieldsTest, LeadFieldsOfEveryTypeReadBackTypedInKommosShape) {
  const int64_t follow_up = 1750032000 + 5 * 3600;  // 2025-06-16 05:00 UTC
  const int64_t meeting = 1750075200;
  const int64_t id = Create(
      "leads", R"({"name":"Typed","custom_fields_values":[)"
               R"({"field_code":"UTM_SOURCE","values":[{"value":"google"}]},)" +
                   ById(kUnitsFieldId, R"({"value":12.5})") + "," +
                   ById(kPaidFieldId, R"({"value":true})") + "," +
                   ById(kProductFieldId, R"({"enum_id":)" + N(kProductProEnumId) + "}") + "," +
                   ById(kChannelsFieldId,
                        R"({"enum_id":)" + N(kChannelWhatsAppEnumId) + R"(},{"value":"Email"})") +
                   "," + ById(kPriorityFieldId, R"({"value":"High"})") + "," +
                   ById(kFollowUpFieldId, R"({"value":)" + N(follow_up) + "}") + "," +
                   ById(kMeetingAtFieldId, R"({"value":")" + N(meeting) + R"("})") + "," +
                   ById(kClientBirthdayFieldId, R"({"value":-86399})") + "," +
                   ById(kLandingPageFieldId, R"({"value":"https://example.com/a?b=c"})") + "," +
                   ById(kCommentFieldId, R"({"value":"two\nlines"})") + "]}");
  const rapidjson::Document lead = Read("leads", id);
  ASSERT_EQ(Size(lead, "custom_fields_values"), 11u);

  // Ordered by the catalogue; text with its code; fields without a code: field_code null.
  const std::string utm = "custom_fields_values.0.";
  EXPECT_EQ(Int(lead, utm + "field_id"), kUtmSourceFieldId);
  EXPECT_EQ(Str(lead, utm + "field_name"), "UTM source");
  EXPECT_EQ(Str(lead, utm + "field_code"), "UTM_SOURCE");
  EXPECT_EQ(Str(lead, utm + "field_type"), "text");
  EXPECT_EQ(Str(lead, utm + "values.0.value"), "google");
  EXPECT_FALSE(Has(lead, utm + "values.0.enum_id"));

  const std::string units = "custom_fields_values.1.";
  EXPECT_EQ(Int(lead, units + "field_id"), kUnitsFieldId);
  EXPECT_TRUE(IsNull(lead, units + "field_code"));
  EXPECT_EQ(Str(lead, units + "field_type"), "numeric");
  EXPECT_EQ(Str(lead, units + "values.0.value"), "12.5");  // numbers are read as strings

  const std::string paid = "custom_fields_values.2.";
  EXPECT_EQ(Str(lead, paid + "field_type"), "checkbox");
  EXPECT_TRUE(testing::Bool(lead, paid + "values.0.value"));

  const std::string product = "custom_fields_values.3.";
  EXPECT_EQ(Str(lead, product + "field_type"), "select");
  EXPECT_EQ(Str(lead, product + "values.0.value"), "Pro");
  EXPECT_EQ(Int(lead, product + "values.0.enum_id"), kProductProEnumId);
  EXPECT_TRUE(IsNull(lead, product + "values.0.enum_code"));

  const std::string channels = "custom_fields_values.4.";
  EXPECT_EQ(Str(lead, channels + "field_type"), "multiselect");
  ASSERT_EQ(Size(lead, channels + "values"), 2u);
  EXPECT_EQ(Str(lead, channels + "values.0.value"), "WhatsApp");
  EXPECT_EQ(Int(lead, channels + "values.0.enum_id"), kChannelWhatsAppEnumId);
  EXPECT_EQ(Str(lead, channels + "values.1.value"), "Email");
  EXPECT_EQ(Int(lead, channels + "values.1.enum_id"), kChannelEmailEnumId);

  const std::string priority = "custom_fields_values.5.";
  EXPECT_EQ(Str(lead, priority + "field_type"), "radiobutton");
  EXPECT_EQ(Str(lead, priority + "values.0.value"), "High");
  EXPECT_EQ(Int(lead, priority + "values.0.enum_id"), kPriorityHighEnumId);

  // Dates are integers; date and birthday keep the day (midnight UTC), date_time the second.
  const std::string date = "custom_fields_values.6.";
  EXPECT_EQ(Str(lead, date + "field_type"), "date");
  EXPECT_EQ(Int(lead, date + "values.0.value"), 1750032000);
  const std::string date_time = "custom_fields_values.7.";
  EXPECT_EQ(Str(lead, date_time + "field_type"), "date_time");
  EXPECT_EQ(Int(lead, date_time + "values.0.value"), meeting);
  const std::string birthday = "custom_fields_values.8.";
  EXPECT_EQ(Str(lead, birthday + "field_type"), "birthday");
  EXPECT_EQ(Int(lead, birthday + "values.0.value"), -86400);  // 1969-12-31

  EXPECT_EQ(Str(lead, "custom_fields_values.9.field_type"), "url");
  EXPECT_EQ(Str(lead, "custom_fields_values.9.values.0.value"), "https://example.com/a?b=c");
  EXPECT_EQ(Str(lead, "custom_fields_values.10.field_type"), "textarea");
  EXPECT_EQ(Str(lead, "custom_fields_values.10.values.0.value"), "two\nlines");

  // Lists render the same values.
  const rapidjson::Document list = client_->Get("/api/v4/leads").Json();
  EXPECT_EQ(Str(list, "_embedded.leads.0.custom_fields_values.3.values.0.value"), "Pro");
  // A lead without values: null, not [].
  EXPECT_TRUE(
      IsNull(Read("leads", Create("leads", R"({"name":"Plain"})")), "custom_fields_values"));
}

TEST_F(CustomFieldsTest, ValuesTakeKommosOtherSpellings) {
  const int64_t id =
      Create("leads", R"({"custom_fields_values":[)"
                      R"({"field_code":"utm_source","values":[{"value":"lower-case code"}]},)" +
                          ById(kUnitsFieldId, R"({"value":" 42 "})") + "," +
                          ById(kPaidFieldId, R"({"value":false})") + "," +
                          ById(kProductFieldId, R"({"value":"Enterprise"})") + "," +
                          ById(kChannelsFieldId, R"({"value":"Telegram"},{"enum_id":)" +
                                                     N(kChannelTelegramEnumId) + "}") +
                          "," + ById(kFollowUpFieldId, R"({"value":"1750032000"})") + "," +
                          ById(kMeetingAtFieldId, R"({"value":7})") + "]}");
  const rapidjson::Document lead = Read("leads", id);
  EXPECT_EQ(Str(lead, EntryPath(lead, kUtmSourceFieldId) + "values.0.value"), "lower-case code");
  EXPECT_EQ(Str(lead, EntryPath(lead, kUnitsFieldId) + "values.0.value"), "42");
  EXPECT_FALSE(testing::Bool(lead, EntryPath(lead, kPaidFieldId) + "values.0.value"));
  EXPECT_EQ(Int(lead, EntryPath(lead, kProductFieldId) + "values.0.enum_id"),
            kProductEnterpriseEnumId);
  EXPECT_EQ(Size(lead, EntryPath(lead, kChannelsFieldId) + "values"), 1u);  // one option once
  EXPECT_EQ(Int(lead, EntryPath(lead, kFollowUpFieldId) + "values.0.value"), 1750032000);
  EXPECT_EQ(Int(lead, EntryPath(lead, kMeetingAtFieldId) + "values.0.value"), 7);
}

TEST_F(CustomFieldsTest, CompanyAndContactFieldsByIdAndByCode) {
  const int64_t company = Create(
      "companies", R"({"name":"Acme","custom_fields_values":[)"
                   R"({"field_code":"WEB","values":[{"value":"https://acme.example"}]},)"
                   R"({"field_code":"ADDRESS","values":[{"value":"1 Main St"}]},)" +
                       ById(kIndustryFieldId, R"({"value":"Software"})") + "," +
                       R"({"field_code":"PHONE","values":[{"value":"+1 555 0100","enum_id":)" +
                       N(kPhoneMobEnumId) + "}]}]}");
  const rapidjson::Document acme = Read("companies", company);
  ASSERT_EQ(Size(acme, "custom_fields_values"), 4u);
  EXPECT_EQ(Str(acme, "custom_fields_values.0.field_code"), "PHONE");  // by the fields' sort
  EXPECT_EQ(Str(acme, "custom_fields_values.0.values.0.enum_code"), "MOB");
  EXPECT_EQ(Str(acme, EntryPath(acme, kWebFieldId) + "values.0.value"), "https://acme.example");
  EXPECT_EQ(Str(acme, EntryPath(acme, kWebFieldId) + "field_type"), "url");
  EXPECT_EQ(Str(acme, EntryPath(acme, kAddressFieldId) + "values.0.value"), "1 Main St");
  EXPECT_EQ(Int(acme, EntryPath(acme, kIndustryFieldId) + "values.0.enum_id"),
            kIndustrySoftwareEnumId);
  EXPECT_TRUE(IsNull(acme, EntryPath(acme, kIndustryFieldId) + "field_code"));

  const int64_t contact =
      Create("contacts", R"({"name":"Ann","custom_fields_values":[)" +
                             ById(kPhoneFieldId, R"({"value":"+1 555 0101","enum":"HOME"})") + "," +
                             ById(kEmailFieldId, R"({"value":"ann@example.com"})") + "]}");
  const rapidjson::Document ann = Read("contacts", contact);
  EXPECT_EQ(Int(ann, "custom_fields_values.0.values.0.enum_id"), kPhoneHomeEnumId);
  EXPECT_EQ(Str(ann, "custom_fields_values.1.values.0.enum_code"), "WORK");  // the default kind
  // A lead field is not a contact field.
  ExpectValidationError(client_->Post("/api/v4/contacts",
                                      "[{"
                                      R"("custom_fields_values":[)" +
                                          ById(kUnitsFieldId, R"({"value":1})") + "]}]"),
                        "0", "NotSupportedChoice", "custom_fields_values.0.field_id");
}

// --- refusals ------------------------------------------------------------------------------------

TEST_F(CustomFieldsTest, EachKindOfBadValueIsRefusedWithItsCodeAndPath) {
  struct Case {
    std::string entry;  // one custom_fields_values entry
    std::string code;
    std::string path;  // after "custom_fields_values.0."
  };
  const std::string high = N(kPriorityHighEnumId);
  const std::vector<Case> cases = {
      {ById(910999, R"({"value":"x"})"), "NotSupportedChoice", "field_id"},
      {R"({"field_code":"NOPE","values":[{"value":"x"}]})", "NotSupportedChoice", "field_code"},
      {R"({"values":[{"value":"x"}]})", "NotBlank", "field_id"},
      {R"({"field_id":"910001","values":[]})", "InvalidType", "field_id"},
      {ById(kUtmSourceFieldId, R"({"value":5})"), "InvalidType", "values.0.value"},
      {ById(kUtmSourceFieldId, R"({"text":"x"})"), "NotBlank", "values.0.value"},
      {ById(kUtmSourceFieldId, R"({"value":"a"},{"value":"b"})"), "Count", "values"},
      {R"({"field_id":910001,"values":"x"})", "InvalidType", "values"},
      {ById(kUtmSourceFieldId, R"("x")"), "InvalidType", "values.0"},
      {ById(kUnitsFieldId, R"({"value":"ten"})"), "InvalidType", "values.0.value"},
      {ById(kUnitsFieldId, R"({"value":true})"), "InvalidType", "values.0.value"},
      {ById(kPaidFieldId, R"({"value":"yes"})"), "InvalidType", "values.0.value"},
      {ById(kProductFieldId, R"({"enum_id":1200099})"), "NotSupportedChoice", "values.0.enum_id"},
      {ById(kProductFieldId, R"({"value":"Gold"})"), "NotSupportedChoice", "values.0.value"},
      {ById(kProductFieldId, R"({"value":"pro"})"), "NotSupportedChoice", "values.0.value"},
      {ById(kProductFieldId, R"({"value":"Basic"},{"value":"Pro"})"), "Count", "values"},
      {ById(kPriorityFieldId, R"({"value":"Low"},{"enum_id":)" + high + "}"), "Count", "values"},
      {ById(kChannelsFieldId, R"({"value":"Email"},{"enum_id":5})"), "NotSupportedChoice",
       "values.1.enum_id"},
      {ById(kFollowUpFieldId, R"({"value":"tomorrow"})"), "InvalidType", "values.0.value"},
      {ById(kMeetingAtFieldId, R"({"value":1.5})"), "InvalidType", "values.0.value"},
      // Kommo's quirk: an enum where the type takes none.
      {ById(kUtmSourceFieldId, R"({"value":"x","enum_id":1})"), "FieldNotExpected",
       "values.0.enum_id"},
      {ById(kUnitsFieldId, R"({"value":1,"enum_code":"WORK"})"), "FieldNotExpected",
       "values.0.enum_code"},
      {ById(kPaidFieldId, R"({"value":true,"enum":"WORK"})"), "FieldNotExpected", "values.0.enum"},
      {ById(kFollowUpFieldId, R"({"value":1,"enum_id":1})"), "FieldNotExpected",
       "values.0.enum_id"},
      {ById(kClientBirthdayFieldId, R"({"value":1,"enum_code":"X"})"), "FieldNotExpected",
       "values.0.enum_code"},
      {ById(kMeetingAtFieldId, R"({"value":1,"enum_id":1})"), "FieldNotExpected",
       "values.0.enum_id"},
      {ById(kLandingPageFieldId, R"({"value":"https://x","enum_id":1})"), "FieldNotExpected",
       "values.0.enum_id"},
      {ById(kCommentFieldId, R"({"value":"x","enum":"A"})"), "FieldNotExpected", "values.0.enum"},
      // Select types take enum_id, not a code.
      {ById(kProductFieldId, R"({"enum_code":"Pro"})"), "FieldNotExpected", "values.0.enum_code"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.entry);
    ExpectValidationError(
        client_->Post("/api/v4/leads",
                      R"([{"name":"ok"},{"name":"x","request_id":"bad","custom_fields_values":[)" +
                          c.entry + "]}]"),
        "bad", c.code, "custom_fields_values.0." + c.path);
  }
  EXPECT_EQ(emulator_->lead_count(), 0u);  // all-or-nothing: the valid sibling was not saved

  // The same on an update and on the other entity types; nothing changes.
  const int64_t lead = Create("leads", R"({"name":"Kept"})");
  ExpectValidationError(
      client_->Patch("/api/v4/leads",
                     R"([{"id":)" + N(lead) + R"(,"name":"Changed","custom_fields_values":[)" +
                         ById(kPaidFieldId, R"({"value":true,"enum_id":1})") + "]}]"),
      "0", "FieldNotExpected", "custom_fields_values.0.values.0.enum_id");
  EXPECT_EQ(Str(Read("leads", lead), "name"), "Kept");
  const int64_t company = Create("companies", R"({"name":"Acme"})");
  ExpectValidationError(
      client_->Patch("/api/v4/companies/" + N(company),
                     R"({"custom_fields_values":[{"field_code":"WEB","values":[)"
                     R"({"value":"https://acme.example","enum_code":"WORK"}]}]})"),
      "0", "FieldNotExpected", "custom_fields_values.0.values.0.enum_code");
  EXPECT_TRUE(IsNull(Read("companies", company), "custom_fields_values"));
  ExpectValidationError(
      client_->Post("/api/v4/contacts", R"([{"custom_fields_values":[{"field_code":"EMAIL",)"
                                        R"("values":[{"value":"a@b.c","enum_id":)" +
                                            N(kPhoneWorkEnumId) + "}]}]}]"),
      "0", "NotSupportedChoice", "custom_fields_values.0.values.0.enum_id");
  EXPECT_EQ(emulator_->contact_count(), 0u);
}

TEST_F(CustomFieldsTest, RefusalsKeepKommosValidationShapeAndAreInTheRequestLog) {
  const Reply refused = client_->Post(
      "/api/v4/leads", R"([{"request_id":"r7","custom_fields_values":[)" +
                           ById(kUtmSourceFieldId, R"({"value":"x","enum_id":3})") + "]}]");
  ASSERT_EQ(refused.status, 400);
  EXPECT_EQ(refused.Header("content-type"), "application/problem+json");
  const rapidjson::Document doc = refused.Json();
  EXPECT_EQ(Str(doc, "title"), "Bad Request");
  EXPECT_EQ(Str(doc, "type"), "https://httpstatus.es/400");
  EXPECT_EQ(Int(doc, "status"), 400);
  EXPECT_EQ(Str(doc, "detail"), "Request validation failed");
  ASSERT_EQ(Size(doc, "validation-errors"), 1u);
  EXPECT_EQ(Str(doc, "validation-errors.0.request_id"), "r7");
  ASSERT_EQ(Size(doc, "validation-errors.0.errors"), 1u);
  EXPECT_EQ(Str(doc, "validation-errors.0.errors.0.code"), "FieldNotExpected");
  EXPECT_EQ(Str(doc, "validation-errors.0.errors.0.path"),
            "custom_fields_values.0.values.0.enum_id");
  EXPECT_FALSE(Str(doc, "validation-errors.0.errors.0.detail").empty());

  // Every request to the API is in the log, refused ones included, with its status and body.
  client_->Get("/api/v4/leads/custom_fields");
  client_->Get("/api/v4/nothing");
  const Reply log = admin_->Get("/_emulator/requests");
  ASSERT_EQ(log.status, 200);
  const rapidjson::Document entries = log.Json();
  ASSERT_EQ(Size(entries, "requests"), 3u);
  EXPECT_EQ(Str(entries, "requests.0.method"), "POST");
  EXPECT_EQ(Str(entries, "requests.0.path"), "/api/v4/leads");
  EXPECT_EQ(Int(entries, "requests.0.status"), 400);
  EXPECT_NE(Str(entries, "requests.0.body").find("enum_id"), std::string::npos);
  EXPECT_EQ(Int(entries, "requests.1.status"), 200);
  EXPECT_EQ(Int(entries, "requests.2.status"), 404);
  EXPECT_EQ(emulator_->requests().size(), 3u);
  // A test that expects "no Kommo request" sees an empty log.
  ASSERT_EQ(admin_->Send("DELETE", "/_emulator/requests", nullptr, {}).status, 200);
  EXPECT_EQ(Size(admin_->Get("/_emulator/requests").Json(), "requests"), 0u);
}

// --- PATCH: replace, clear, untouched ---------------------------------------------------------

TEST_F(CustomFieldsTest, PatchReplacesListedFieldsClearsEmptyOnesAndLeavesTheRest) {
  const int64_t id =
      Create("leads", R"({"name":"Deal","custom_fields_values":[)" +
                          ById(kUtmSourceFieldId, R"({"value":"google"})") + "," +
                          ById(kUnitsFieldId, R"({"value":3})") + "," +
                          ById(kChannelsFieldId, R"({"value":"WhatsApp"},{"value":"Telegram"})") +
                          "," + ById(kPaidFieldId, R"({"value":true})") + "]}");
  now_ = kStartTime + 60;
  Patch("leads", id,
        R"({"custom_fields_values":[)" + ById(kChannelsFieldId, R"({"value":"Email"})") + "," +
            ById(kUnitsFieldId, "") + "," + R"({"field_id":)" + N(kPaidFieldId) +
            R"(,"values":null}]})");
  rapidjson::Document lead = Read("leads", id);
  EXPECT_EQ(Int(lead, "updated_at"), kStartTime + 60);
  ASSERT_EQ(Size(lead, "custom_fields_values"), 2u);
  EXPECT_EQ(Str(lead, EntryPath(lead, kUtmSourceFieldId) + "values.0.value"), "google");
  const std::string channels = EntryPath(lead, kChannelsFieldId);
  ASSERT_EQ(Size(lead, channels + "values"), 1u);  // replaced, not merged
  EXPECT_EQ(Str(lead, channels + "values.0.value"), "Email");
  EXPECT_EQ(EntryOf(lead, kUnitsFieldId), -1);  // "values": [] cleared it
  EXPECT_EQ(EntryOf(lead, kPaidFieldId), -1);   // "values": null cleared it

  // The batch form; a PATCH without custom_fields_values leaves them all.
  const Reply batch =
      client_->Patch("/api/v4/leads", R"([{"id":)" + N(id) + R"(,"custom_fields_values":[)" +
                                          ById(kProductFieldId, R"({"value":"Basic"})") +
                                          "]},{\"id\":" + N(id) + R"(,"name":"Renamed"}])");
  ASSERT_EQ(batch.status, 200) << batch.body;
  lead = Read("leads", id);
  EXPECT_EQ(Str(lead, "name"), "Renamed");
  ASSERT_EQ(Size(lead, "custom_fields_values"), 3u);
  EXPECT_EQ(Int(lead, EntryPath(lead, kProductFieldId) + "values.0.enum_id"), kProductBasicEnumId);

  // "custom_fields_values": [] changes nothing; null detaches every value.
  Patch("leads", id, R"({"custom_fields_values":[]})");
  EXPECT_EQ(Size(Read("leads", id), "custom_fields_values"), 3u);
  Patch("leads", id, R"({"custom_fields_values":null})");
  EXPECT_TRUE(IsNull(Read("leads", id), "custom_fields_values"));
}

TEST_F(CustomFieldsTest, PatchOfCompaniesAndContactsWorksTheSameWay) {
  const int64_t company =
      Create("companies", R"({"name":"Acme","custom_fields_values":[)"
                          R"({"field_code":"WEB","values":[{"value":"https://old.example"}]},)"
                          R"({"field_code":"ADDRESS","values":[{"value":"Old St"}]}]})");
  const Reply batch = client_->Patch(
      "/api/v4/companies",
      R"([{"id":)" + N(company) +
          R"(,"custom_fields_values":[{"field_code":"WEB","values":[{"value":"https://new.example"}]},)" +
          ById(kIndustryFieldId, R"({"enum_id":)" + N(kIndustryRetailEnumId) + "}") + "]}]");
  ASSERT_EQ(batch.status, 200) << batch.body;
  rapidjson::Document acme = Read("companies", company);
  ASSERT_EQ(Size(acme, "custom_fields_values"), 3u);
  EXPECT_EQ(Str(acme, EntryPath(acme, kWebFieldId) + "values.0.value"), "https://new.example");
  EXPECT_EQ(Str(acme, EntryPath(acme, kAddressFieldId) + "values.0.value"), "Old St");
  EXPECT_EQ(Str(acme, EntryPath(acme, kIndustryFieldId) + "values.0.value"), "Retail");
  Patch("companies", company, R"({"custom_fields_values":[{"field_code":"ADDRESS","values":[]}]})");
  acme = Read("companies", company);
  EXPECT_EQ(EntryOf(acme, kAddressFieldId), -1);
  EXPECT_EQ(Size(acme, "custom_fields_values"), 2u);

  const int64_t contact =
      Create("contacts", R"({"name":"Ann","custom_fields_values":[)"
                         R"({"field_code":"PHONE","values":[{"value":"111"},{"value":"222"}]},)"
                         R"({"field_code":"EMAIL","values":[{"value":"a@example.com"}]}]})");
  Patch("contacts", contact, R"({"custom_fields_values":[{"field_code":"EMAIL","values":null}]})");
  const rapidjson::Document ann = Read("contacts", contact);
  ASSERT_EQ(Size(ann, "custom_fields_values"), 1u);
  EXPECT_EQ(Size(ann, EntryPath(ann, kPhoneFieldId) + "values"), 2u);
}

// --- lead capture ------------------------------------------------------------------------------

TEST_F(CustomFieldsTest, ComplexAndIncomingLeadsCarryCustomFieldsAndTags) {
  const Reply complex = client_->Post(
      "/api/v4/leads/complex",
      R"([{"name":"Deal","custom_fields_values":[)" + ById(kProductFieldId, R"({"value":"Pro"})") +
          "," +
          R"({"field_code":"UTM_SOURCE","values":[{"value":"ads"}]}],"tags_to_add":[{"name":"web"}],)"
          R"("_embedded":{"tags":[{"name":"complex"}],"contacts":[{"name":"Ann","tags_to_add":[{"name":"lead-form"}],)"
          R"("custom_fields_values":[{"field_code":"PHONE","values":[{"value":"+1 555 0100"}]}]}],)"
          R"("companies":[{"name":"Acme","custom_fields_values":[{"field_code":"WEB","values":[{"value":"https://acme.example"}]}]}]}}])");
  ASSERT_EQ(complex.status, 200) << complex.body;
  const rapidjson::Document answer = complex.Json();
  const rapidjson::Document lead = Read("leads", Int(answer, "0.id"));
  EXPECT_EQ(Str(lead, EntryPath(lead, kProductFieldId) + "values.0.value"), "Pro");
  EXPECT_EQ(Str(lead, EntryPath(lead, kUtmSourceFieldId) + "values.0.value"), "ads");
  ASSERT_EQ(Size(lead, "_embedded.tags"), 2u);
  EXPECT_EQ(Str(lead, "_embedded.tags.0.name"), "complex");
  EXPECT_EQ(Str(lead, "_embedded.tags.1.name"), "web");
  const rapidjson::Document contact = Read("contacts", Int(answer, "0.contact_id"));
  EXPECT_EQ(Str(contact, "_embedded.tags.0.name"), "lead-form");
  const rapidjson::Document company = Read("companies", Int(answer, "0.company_id"));
  EXPECT_EQ(Str(company, EntryPath(company, kWebFieldId) + "values.0.value"),
            "https://acme.example");

  ExpectValidationError(
      client_->Post("/api/v4/leads/complex", R"([{"name":"Bad","custom_fields_values":[)" +
                                                 ById(kUnitsFieldId, R"({"value":1,"enum_id":2})") +
                                                 "]}]"),
      "0", "FieldNotExpected", "custom_fields_values.0.values.0.enum_id");

  const Reply form = client_->Post(
      "/api/v4/leads/unsorted/forms",
      R"([{"source_uid":"s1","source_name":"Site","metadata":{"form_id":"f","form_name":"F"},)"
      R"("_embedded":{"leads":[{"name":"Web lead","custom_fields_values":[)" +
          ById(kLandingPageFieldId, R"({"value":"https://example.com/landing"})") +
          R"(],"tags_to_add":[{"name":"form"}]}]}}])");
  ASSERT_EQ(form.status, 200) << form.body;
  const rapidjson::Document web_lead = Read("leads", Int(answer, "0.id") + 1);
  EXPECT_EQ(Str(web_lead, "name"), "Web lead");
  EXPECT_EQ(Str(web_lead, EntryPath(web_lead, kLandingPageFieldId) + "values.0.value"),
            "https://example.com/landing");
  EXPECT_EQ(Str(web_lead, "_embedded.tags.0.name"), "form");
  // An entry that differs only in a custom-field value is not a duplicate; the same again is.
  const auto form_with_page = [&](const std::string& page) {
    return client_->Post(
        "/api/v4/leads/unsorted/forms",
        R"([{"source_uid":"s3","source_name":"Site","metadata":{"form_id":"f","form_name":"F"},)"
        R"("_embedded":{"leads":[{"name":"Same","custom_fields_values":[)" +
            ById(kLandingPageFieldId, R"({"value":")" + page + R"("})") + "]}]}}]");
  };
  EXPECT_EQ(form_with_page("https://example.com/a").status, 200);
  EXPECT_EQ(form_with_page("https://example.com/b").status, 200);
  ExpectValidationError(form_with_page("https://example.com/a"), "0", "Duplicate", "source_uid");
  ExpectValidationError(
      client_->Post(
          "/api/v4/leads/unsorted/forms",
          R"([{"source_uid":"s2","source_name":"Site","metadata":{"form_id":"f","form_name":"F"},)"
          R"("_embedded":{"leads":[{"custom_fields_values":[)" +
              ById(kPaidFieldId, R"({"value":"yes"})") + "]}]}}]"),
      "0", "InvalidType", "_embedded.leads.0.custom_fields_values.0.values.0.value");
}

// --- tags ----------------------------------------------------------------------------------------

class TagsTest : public CustomFieldsTest, public ::testing::WithParamInterface<const char*> {
 protected:
  std::string Collection() const { return GetParam(); }
  // The entity's tag names, in order.
  std::vector<std::string> TagNames(int64_t id) {
    const rapidjson::Document entity = Read(Collection(), id);
    std::vector<std::string> names;
    for (size_t i = 0; i < Size(entity, "_embedded.tags"); ++i) {
      names.push_back(Str(entity, "_embedded.tags." + N(i) + ".name"));
    }
    return names;
  }
};

using Names = std::vector<std::string>;

TEST_P(TagsTest, AddDeleteAndReplaceByNameAndById) {
  const int64_t first = Create(
      Collection(),
      R"({"name":"One","tags_to_add":[{"name":"vip"}],"_embedded":{"tags":[{"name":"hot"},{"name":"vip"}]}})");
  EXPECT_EQ(TagNames(first), (Names{"hot", "vip"}));
  const rapidjson::Document entity = Read(Collection(), first);
  EXPECT_EQ(Int(entity, "_embedded.tags.0.id"), kFirstTagId);
  EXPECT_EQ(Int(entity, "_embedded.tags.1.id"), kFirstTagId + 1);
  EXPECT_TRUE(IsNull(entity, "_embedded.tags.0.color"));
  const int64_t hot = kFirstTagId;
  const int64_t vip = kFirstTagId + 1;

  // By id: the same tag; a new name is a new tag.
  const int64_t second = Create(
      Collection(), R"({"name":"Two","tags_to_add":[{"id":)" + N(vip) + R"(},{"name":"new"}]})");
  const rapidjson::Document two = Read(Collection(), second);
  EXPECT_EQ(Int(two, "_embedded.tags.0.id"), vip);
  EXPECT_EQ(Int(two, "_embedded.tags.1.id"), kFirstTagId + 2);

  // PATCH: add and delete (by name and by id), then _embedded.tags replaces them all.
  Patch(
      Collection(), first,
      R"({"tags_to_add":[{"name":"new"},{"name":"later"}],"tags_to_delete":[{"name":"hot"},{"name":"absent"}]})");
  EXPECT_EQ(TagNames(first), (Names{"vip", "new", "later"}));
  const Reply batch =
      client_->Patch("/api/v4/" + Collection(),
                     R"([{"id":)" + N(first) + R"(,"tags_to_delete":[{"id":)" + N(vip) + "}]}]");
  ASSERT_EQ(batch.status, 200) << batch.body;
  EXPECT_EQ(TagNames(first), (Names{"new", "later"}));
  Patch(Collection(), first,
        R"({"_embedded":{"tags":[{"id":)" + N(hot) + R"(},{"name":"only"}]}})");
  EXPECT_EQ(TagNames(first), (Names{"hot", "only"}));
  Patch(Collection(), first, R"({"name":"Renamed"})");  // no tag members: tags stay
  EXPECT_EQ(TagNames(first), (Names{"hot", "only"}));
  Patch(Collection(), first, R"({"_embedded":{"tags":null}})");
  EXPECT_TRUE(TagNames(first).empty());
  EXPECT_EQ(TagNames(second), (Names{"vip", "new"}));  // the other entity is untouched

  // The catalogue lists every tag made, with query and filter[id].
  const Reply tags = client_->Get("/api/v4/" + Collection() + "/tags");
  ASSERT_EQ(tags.status, 200) << tags.body;
  EXPECT_EQ(Size(tags.Json(), "_embedded.tags"), 5u);  // hot, vip, new, later, only
  const Reply found = client_->Get("/api/v4/" + Collection() + "/tags?query=LAT");
  ASSERT_EQ(found.status, 200) << found.body;
  ASSERT_EQ(Size(found.Json(), "_embedded.tags"), 1u);
  EXPECT_EQ(Str(found.Json(), "_embedded.tags.0.name"), "later");
  EXPECT_EQ(Int(client_->Get("/api/v4/" + Collection() + "/tags?filter[id]=" + N(vip)).Json(),
                "_embedded.tags.0.id"),
            vip);
  EXPECT_EQ(client_->Get("/api/v4/" + Collection() + "/tags?query=zzz").status, 204);
  EXPECT_EQ(client_->Post("/api/v4/" + Collection() + "/tags", "[]").status, 405);
}

TEST_P(TagsTest, UnknownIdsAndBlankNamesAreRefusedAndMakeNoTag) {
  const int64_t id = Create(Collection(), R"({"name":"One","tags_to_add":[{"name":"kept"}]})");
  ExpectValidationError(
      client_->Post("/api/v4/" + Collection(), R"([{"tags_to_add":[{"name":"fresh"},{"id":5}]}])"),
      "0", "NotSupportedChoice", "tags_to_add.1.id");
  ExpectValidationError(
      client_->Post("/api/v4/" + Collection(), R"([{"_embedded":{"tags":[{"name":"  "}]}}])"), "0",
      "NotBlank", "_embedded.tags.0.name");
  ExpectValidationError(
      client_->Patch("/api/v4/" + Collection() + "/" + N(id), R"({"tags_to_delete":[{"id":7}]})"),
      "0", "NotSupportedChoice", "tags_to_delete.0.id");
  ExpectValidationError(
      client_->Patch("/api/v4/" + Collection() + "/" + N(id), R"({"tags_to_add":["plain"]})"), "0",
      "InvalidType", "tags_to_add.0");
  ExpectValidationError(client_->Patch("/api/v4/" + Collection() + "/" + N(id),
                                       R"({"_embedded":{"tags":[{"name":1}]}})"),
                        "0", "InvalidType", "_embedded.tags.0.name");
  EXPECT_EQ(TagNames(id), (Names{"kept"}));
  // "fresh" was in a refused write: it is not a tag.
  EXPECT_EQ(Size(client_->Get("/api/v4/" + Collection() + "/tags").Json(), "_embedded.tags"), 1u);
}

INSTANTIATE_TEST_SUITE_P(EveryEntity, TagsTest,
                         ::testing::Values("leads", "contacts", "companies"));

TEST_F(CustomFieldsTest, EachEntityTypeHasItsOwnTagsAndResetDropsThem) {
  Create("leads", R"({"tags_to_add":[{"name":"shared"}]})");
  ExpectValidationError(
      client_->Post("/api/v4/contacts", R"([{"tags_to_add":[{"id":)" + N(kFirstTagId) + "}]}]"),
      "0", "NotSupportedChoice", "tags_to_add.0.id");
  const int64_t contact = Create("contacts", R"({"tags_to_add":[{"name":"shared"}]})");
  EXPECT_EQ(Int(Read("contacts", contact), "_embedded.tags.0.id"), kFirstTagId + 1);
  EXPECT_EQ(client_->Get("/api/v4/companies/tags").status, 204);

  ASSERT_EQ(admin_->Post("/_emulator/reset", "").status, 200);
  EXPECT_EQ(client_->Get("/api/v4/leads/tags").status, 204);
  const int64_t lead = Create("leads", R"({"tags_to_add":[{"name":"again"}]})");
  EXPECT_EQ(Int(Read("leads", lead), "_embedded.tags.0.id"), kFirstTagId);
}

// --- faults ------------------------------------------------------------------------------------

TEST_F(CustomFieldsTest, FaultsHitTheseWritesLikeAnyOther) {
  const int64_t company = Create("companies", R"({"name":"Acme"})");
  ASSERT_EQ(admin_
                ->Post("/_emulator/faults",
                       R"({"match":"PATCH /api/v4/companies","fault":"status","status":503})")
                .status,
            200);
  const std::string web = R"({"custom_fields_values":[{"field_code":"WEB","values":[)"
                          R"({"value":"https://acme.example"}]}],"tags_to_add":[{"name":"x"}]})";
  EXPECT_EQ(client_->Patch("/api/v4/companies/" + N(company), web).status, 503);
  EXPECT_TRUE(IsNull(Read("companies", company), "custom_fields_values"));  // not applied
  EXPECT_EQ(client_->Get("/api/v4/companies/tags").status, 204);
  Patch("companies", company, web);  // the rule fired once
  EXPECT_EQ(Size(Read("companies", company), "custom_fields_values"), 1u);

  ASSERT_EQ(admin_
                ->Post("/_emulator/faults",
                       R"({"match":"POST /api/v4/leads","fault":"status","status":429,"times":2})")
                .status,
            200);
  const std::string lead = R"([{"name":"Deal","custom_fields_values":[)" +
                           ById(kProductFieldId, R"({"value":"Pro"})") + "]}]";
  const Reply limited = client_->Post("/api/v4/leads", lead);
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(Str(limited.Json(), "title"), "Too Many Requests");
  EXPECT_EQ(client_->Post("/api/v4/leads", lead).status, 429);
  EXPECT_EQ(emulator_->lead_count(), 0u);
  EXPECT_EQ(client_->Post("/api/v4/leads", lead).status, 200);
  EXPECT_EQ(emulator_->lead_count(), 1u);

  // The log shows each faulted request with the fault that answered it.
  const std::vector<LoggedRequest> log = emulator_->requests();
  int faulted = 0;
  for (const LoggedRequest& r : log) {
    if (r.fault == "status") ++faulted;
  }
  EXPECT_EQ(faulted, 3);
}

}  // namespace
}  // namespace kommo::emulator
