// The emulator's lead-capture endpoints over HTTP: POST /leads/complex with duplicate control,
// incoming leads (/leads/unsorted/...), notes, companies, contact updates and the digit search, and
// faults on the new paths.
#include <atomic>
#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "emulator/emulator.h"
#include "gtest/gtest.h"
#include "tests/emulator/test_client.h"

namespace kommo::emulator {
namespace {

using testing::Bool;
using testing::ExpectProblem;
using testing::ExpectValidationError;
using testing::Has;
using testing::Int;
using testing::IsNull;
using testing::Reply;
using testing::Size;
using testing::Str;
using testing::TestClient;

constexpr char kToken[] = "capture-token";
constexpr int64_t kStartTime = 1750000000;

std::string Id(int64_t id) { return std::to_string(id); }

// A contact object with one phone and/or one email (empty: none).
std::string ContactJson(const std::string& name, const std::string& phone,
                        const std::string& email) {
  std::string fields;
  if (!phone.empty()) {
    fields +=
        R"({"field_code":"PHONE","values":[{"value":")" + phone + R"(","enum_code":"WORK"}]})";
  }
  if (!email.empty()) {
    if (!fields.empty()) fields += ",";
    fields += R"({"field_code":"EMAIL","values":[{"value":")" + email + R"("}]})";
  }
  return R"({"name":")" + name + R"(","custom_fields_values":[)" + fields + "]}";
}

// The values of a contact's field (by code) as GET /contacts/{id} shows them.
std::vector<std::string> FieldValues(const rapidjson::Value& contact, const std::string& code) {
  std::vector<std::string> values;
  if (!Has(contact, "custom_fields_values") || IsNull(contact, "custom_fields_values")) {
    return values;
  }
  for (size_t i = 0; i < Size(contact, "custom_fields_values"); ++i) {
    const std::string field = "custom_fields_values." + std::to_string(i);
    if (Str(contact, field + ".field_code") != code) continue;
    for (size_t j = 0; j < Size(contact, field + ".values"); ++j) {
      values.push_back(Str(contact, field + ".values." + std::to_string(j) + ".value"));
    }
  }
  return values;
}

class LeadCaptureTest : public ::testing::Test {
 protected:
  void SetUp() override { StartEmulator(true); }

  void StartEmulator(bool all_or_nothing) {
    emulator_.reset();
    EmulatorOptions options;
    options.token = kToken;
    options.batch_all_or_nothing = all_or_nothing;
    options.clock = [this] { return now_.load(); };
    auto emulator = Emulator::Start(options);
    ASSERT_TRUE(emulator.ok()) << emulator.status();
    emulator_ = *std::move(emulator);
    client_ = std::make_unique<TestClient>(emulator_->base_url(), kToken);
    admin_ = std::make_unique<TestClient>(emulator_->base_url(), "");
  }

  int64_t CreateContact(const std::string& json_object) {
    const Reply reply = client_->Post("/api/v4/contacts", "[" + json_object + "]");
    EXPECT_EQ(reply.status, 200) << reply.body;
    return reply.status == 200 ? Int(reply.Json(), "_embedded.contacts.0.id") : 0;
  }
  int64_t CreateLead(const std::string& json_object) {
    const Reply reply = client_->Post("/api/v4/leads", "[" + json_object + "]");
    EXPECT_EQ(reply.status, 200) << reply.body;
    return reply.status == 200 ? Int(reply.Json(), "_embedded.leads.0.id") : 0;
  }
  void SetDuplicateControl(int64_t pipeline_id, bool enabled) {
    const Reply reply = admin_->Post("/_emulator/duplicate_control",
                                     R"({"pipeline_id":)" + Id(pipeline_id) + R"(,"enabled":)" +
                                         (enabled ? "true" : "false") + "}");
    ASSERT_EQ(reply.status, 200) << reply.body;
  }
  // One complex item with a contact; returns the answer's first element.
  rapidjson::Document ComplexWithContact(const std::string& contact_json,
                                         const std::string& lead_members = R"("name":"Deal")") {
    const Reply reply = client_->Post(
        "/api/v4/leads/complex",
        "[{" + lead_members + R"(,"_embedded":{"contacts":[)" + contact_json + "]}}]");
    EXPECT_EQ(reply.status, 200) << reply.body;
    rapidjson::Document doc = reply.Json();
    return doc;
  }
  // POST /leads/unsorted/forms with one entry; returns the answer.
  Reply CreateForm(const std::string& source_uid, const std::string& extra_members = "") {
    return client_->Post(
        "/api/v4/leads/unsorted/forms",
        R"([{"source_uid":")" + source_uid +
            R"(","source_name":"Site","metadata":{"form_id":"contact-us","form_name":"Contact us",)"
            R"("form_page":"https://example.com/contact","ip":"192.0.2.1","form_sent_at":1750000000,)"
            R"("referer":"https://example.com/"},"_embedded":{"leads":[{"name":"Web lead )" +
            source_uid + R"(","price":100}],"contacts":[)" +
            ContactJson("Visitor " + source_uid, "+1 555 0100", "") + "]}" + extra_members + "}]");
  }
  std::string FormUid(const Reply& reply) {
    EXPECT_EQ(reply.status, 200) << reply.body;
    return Str(reply.Json(), "_embedded.unsorted.0.uid");
  }
  std::vector<std::string> ListedUids(const std::string& query) {
    std::vector<std::string> uids;
    const Reply reply = client_->Get("/api/v4/leads/unsorted" + query);
    if (reply.status != 200) return uids;
    const rapidjson::Document doc = reply.Json();
    for (size_t i = 0; i < Size(doc, "_embedded.unsorted"); ++i) {
      uids.push_back(Str(doc, "_embedded.unsorted." + std::to_string(i) + ".uid"));
    }
    return uids;
  }
  std::vector<int64_t> ListedNoteIds(const std::string& path) {
    std::vector<int64_t> ids;
    const Reply reply = client_->Get(path);
    if (reply.status != 200) return ids;
    const rapidjson::Document doc = reply.Json();
    for (size_t i = 0; i < Size(doc, "_embedded.notes"); ++i) {
      ids.push_back(Int(doc, "_embedded.notes." + std::to_string(i) + ".id"));
    }
    return ids;
  }

  std::atomic<int64_t> now_{kStartTime};
  std::unique_ptr<Emulator> emulator_;
  std::unique_ptr<TestClient> client_;
  std::unique_ptr<TestClient> admin_;
};

// --- POST /leads/complex -------------------------------------------------------------------------

TEST_F(LeadCaptureTest, ComplexAnswersABareArrayWithRequestIdArrays) {
  const Reply reply = client_->Post(
      "/api/v4/leads/complex",
      R"([{"name":"First","price":300,"request_id":"form-1","_embedded":{"contacts":[)" +
          ContactJson("Ann", "+1 555 0100", "ann@example.com") +
          R"(],"metadata":{"category":"forms"},"source":{"external_id":"x","type":"y"}}},)"
          R"({"name":"Second","_embedded":{"companies":[{"name":"Acme"}]}}])");
  ASSERT_EQ(reply.status, 200) << reply.body;
  const rapidjson::Document doc = reply.Json();
  ASSERT_TRUE(doc.IsArray()) << reply.body;
  ASSERT_EQ(doc.Size(), 2u);
  EXPECT_FALSE(reply.body.find("_embedded") != std::string::npos) << "not HAL: " << reply.body;
  EXPECT_EQ(Str(doc, "0.request_id.0"), "form-1");
  EXPECT_EQ(Size(doc, "0.request_id"), 1u);
  EXPECT_EQ(Str(doc, "1.request_id.0"), "1");  // positional when absent
  EXPECT_FALSE(Bool(doc, "0.merged"));
  EXPECT_TRUE(IsNull(doc, "0.company_id"));
  EXPECT_TRUE(IsNull(doc, "1.contact_id"));
  EXPECT_EQ(Int(doc, "1.company_id"), kFirstCompanyId);

  const int64_t lead = Int(doc, "0.id");
  const int64_t contact = Int(doc, "0.contact_id");
  EXPECT_EQ(lead, kFirstLeadId);
  EXPECT_EQ(contact, kFirstContactId);
  const rapidjson::Document stored =
      client_->Get("/api/v4/leads/" + Id(lead) + "?with=contacts").Json();
  EXPECT_EQ(Str(stored, "name"), "First");
  EXPECT_EQ(Int(stored, "price"), 300);
  EXPECT_EQ(Int(stored, "status_id"), kMainPipelineFirstStatusId);
  ASSERT_EQ(Size(stored, "_embedded.contacts"), 1u);
  EXPECT_EQ(Int(stored, "_embedded.contacts.0.id"), contact);
  EXPECT_TRUE(Bool(stored, "_embedded.contacts.0.is_main"));
  const rapidjson::Document person = client_->Get("/api/v4/contacts/" + Id(contact)).Json();
  EXPECT_EQ(FieldValues(person, "PHONE"), std::vector<std::string>{"+1 555 0100"});
  EXPECT_EQ(FieldValues(person, "EMAIL"), std::vector<std::string>{"ann@example.com"});
  const rapidjson::Document second = client_->Get("/api/v4/leads/" + Id(Int(doc, "1.id"))).Json();
  EXPECT_EQ(Int(second, "_embedded.companies.0.id"), kFirstCompanyId);
  EXPECT_EQ(emulator_->company_count(), 1u);
}

TEST_F(LeadCaptureTest, ComplexValidatesItemsLikePostLeads) {
  std::string many = "[";
  for (int i = 0; i <= kMaxComplexItems; ++i) many += std::string(i ? "," : "") + R"({"name":"x"})";
  many += "]";
  ExpectProblem(client_->Post("/api/v4/leads/complex", many), 400, "50");
  ExpectProblem(client_->Post("/api/v4/leads/complex", "{}"), 400, "array");
  ExpectProblem(client_->Post("/api/v4/leads/complex", "[]"), 400, "blank");

  const std::string two_contacts =
      R"([{"name":"ok","request_id":"a"},)"
      R"({"request_id":"b","_embedded":{"contacts":[{"name":"x"},{"name":"y"}]}},)"
      R"({"status_id":1,"_embedded":{"contacts":[{"name":"z",)"
      R"("custom_fields_values":[{"field_code":"FAX9","values":[{"value":"1"}]}]}]}}])";
  const Reply reply = client_->Post("/api/v4/leads/complex", two_contacts);
  ExpectValidationError(reply, "b", "Count", "_embedded.contacts");
  ExpectValidationError(reply, "2", "NotSupportedChoice", "status_id");
  ExpectValidationError(reply, "2", "NotSupportedChoice",
                        "_embedded.contacts.0.custom_fields_values.0.field_code");
  EXPECT_EQ(Size(reply.Json(), "validation-errors"), 2u);  // the valid item is not listed
  EXPECT_EQ(emulator_->lead_count(), 0u);                  // all or nothing
  EXPECT_EQ(emulator_->contact_count(), 0u);

  ExpectValidationError(
      client_->Post("/api/v4/leads/complex",
                    R"([{"_embedded":{"companies":[{"name":"A"},{"name":"B"}]}}])"),
      "0", "Count", "_embedded.companies");
}

TEST_F(LeadCaptureTest, ComplexPartialModeSavesTheValidItems) {
  StartEmulator(false);
  const Reply reply =
      client_->Post("/api/v4/leads/complex",
                    R"([{"name":"ok","_embedded":{"contacts":[{"name":"c"}]}},{"price":"free"}])");
  ExpectValidationError(reply, "1", "InvalidType", "price");
  EXPECT_EQ(emulator_->lead_count(), 1u);
  EXPECT_EQ(emulator_->contact_count(), 1u);
}

TEST_F(LeadCaptureTest, DuplicateControlMergesIntoTheOldestMatchingContact) {
  const int64_t oldest = CreateContact(ContactJson("Old", "8 (999) 123-45-67", ""));
  now_ = kStartTime + 10;
  const int64_t newer = CreateContact(ContactJson("Newer", "+7 999 123 45 67", ""));
  const int64_t by_email = CreateContact(ContactJson("Mail", "", "Ann@Example.com"));
  SetDuplicateControl(kMainPipelineId, true);

  now_ = kStartTime + 20;
  const rapidjson::Document merged =
      ComplexWithContact(ContactJson("Caller", "79991234567", "caller@example.com"));
  EXPECT_TRUE(Bool(merged, "0.merged"));
  EXPECT_EQ(Int(merged, "0.contact_id"), oldest);
  const rapidjson::Document target = client_->Get("/api/v4/contacts/" + Id(oldest)).Json();
  EXPECT_EQ(FieldValues(target, "PHONE"), std::vector<std::string>{"8 (999) 123-45-67"});
  EXPECT_EQ(FieldValues(target, "EMAIL"), std::vector<std::string>{"caller@example.com"});
  EXPECT_EQ(Int(target, "updated_at"), kStartTime + 20);
  EXPECT_EQ(Str(target, "name"), "Old");
  EXPECT_EQ(FieldValues(client_->Get("/api/v4/contacts/" + Id(newer)).Json(), "EMAIL").size(), 0u);
  EXPECT_EQ(emulator_->contact_count(), 3u);  // no new contact
  const rapidjson::Document lead =
      client_->Get("/api/v4/leads/" + Id(Int(merged, "0.id")) + "?with=contacts").Json();
  EXPECT_EQ(Int(lead, "_embedded.contacts.0.id"), oldest);
  EXPECT_TRUE(Bool(lead, "_embedded.contacts.0.is_main"));

  const rapidjson::Document email = ComplexWithContact(ContactJson("Ann", "", "ann@EXAMPLE.com"));
  EXPECT_TRUE(Bool(email, "0.merged"));
  EXPECT_EQ(Int(email, "0.contact_id"), by_email);

  const rapidjson::Document other =
      ComplexWithContact(ContactJson("Other", "+7 999 000 00 00", ""));
  EXPECT_FALSE(Bool(other, "0.merged"));
  EXPECT_EQ(emulator_->contact_count(), 4u);
}

TEST_F(LeadCaptureTest, DuplicateControlIsOffUntilSwitchedOnForTheLeadsPipeline) {
  const int64_t existing = CreateContact(ContactJson("Old", "+1 555 0100", ""));
  const rapidjson::Document off = ComplexWithContact(ContactJson("New", "15550100", ""));
  EXPECT_FALSE(Bool(off, "0.merged"));
  EXPECT_NE(Int(off, "0.contact_id"), existing);

  SetDuplicateControl(kSecondPipelineId, true);
  const Reply state = admin_->Get("/_emulator/duplicate_control");
  EXPECT_EQ(Int(state.Json(), "enabled_pipelines.0"), kSecondPipelineId);
  // The lead goes to the main pipeline (no pipeline_id): no duplicate control there.
  EXPECT_FALSE(Bool(ComplexWithContact(ContactJson("New", "15550100", "")), "0.merged"));
  const rapidjson::Document on = ComplexWithContact(ContactJson("New", "1 555 0100", ""),
                                                    R"("pipeline_id":)" + Id(kSecondPipelineId));
  EXPECT_TRUE(Bool(on, "0.merged"));
  EXPECT_EQ(Int(on, "0.contact_id"), existing);

  SetDuplicateControl(kSecondPipelineId, false);
  EXPECT_FALSE(Bool(ComplexWithContact(ContactJson("New", "15550100", ""),
                                       R"("pipeline_id":)" + Id(kSecondPipelineId)),
                    "0.merged"));

  SetDuplicateControl(kMainPipelineId, true);
  ASSERT_EQ(admin_->Post("/_emulator/reset", "").status, 200);
  EXPECT_EQ(admin_->Get("/_emulator/duplicate_control").body, R"({"enabled_pipelines":[]})");
  EXPECT_TRUE(emulator_->SetDuplicateControl(kMainPipelineId, true).ok());
  emulator_->Reset();
  EXPECT_EQ(admin_->Get("/_emulator/duplicate_control").body, R"({"enabled_pipelines":[]})");

  EXPECT_EQ(
      admin_->Post("/_emulator/duplicate_control", R"({"pipeline_id":1,"enabled":true})").status,
      400);
  EXPECT_EQ(admin_->Post("/_emulator/duplicate_control", R"({"pipeline_id":7000001})").status, 400);
  EXPECT_EQ(admin_
                ->Post("/_emulator/duplicate_control",
                       R"({"pipeline_id":7000001,"enabled":true,"typo":1})")
                .status,
            400);
  EXPECT_FALSE(emulator_->SetDuplicateControl(1, true).ok());
}

TEST_F(LeadCaptureTest, DuplicateControlDoesNotCompareItemsOfOneBatch) {
  SetDuplicateControl(kMainPipelineId, true);
  const Reply reply = client_->Post(
      "/api/v4/leads/complex",
      R"([{"_embedded":{"contacts":[)" + ContactJson("A", "+7 999 111 22 33", "") +
          R"(]}},{"_embedded":{"contacts":[)" + ContactJson("B", "89991112233", "") + "]}}]");
  ASSERT_EQ(reply.status, 200) << reply.body;
  const rapidjson::Document doc = reply.Json();
  EXPECT_FALSE(Bool(doc, "0.merged"));
  EXPECT_FALSE(Bool(doc, "1.merged"));
  EXPECT_NE(Int(doc, "0.contact_id"), Int(doc, "1.contact_id"));
  EXPECT_EQ(emulator_->contact_count(), 2u);
  // A later request sees them: two matches, merged into the older.
  const rapidjson::Document later = ComplexWithContact(ContactJson("C", "+79991112233", ""));
  EXPECT_TRUE(Bool(later, "0.merged"));
  EXPECT_EQ(Int(later, "0.contact_id"), Int(doc, "0.contact_id"));
}

TEST_F(LeadCaptureTest, DuplicateControlDoesNotMergeMoreThanThreeMatches) {
  SetDuplicateControl(kMainPipelineId, true);
  std::vector<int64_t> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(CreateContact(ContactJson("Same", "+1 555 0199", "")));
  const rapidjson::Document three = ComplexWithContact(ContactJson("X", "15550199", ""));
  EXPECT_TRUE(Bool(three, "0.merged"));
  EXPECT_EQ(Int(three, "0.contact_id"), ids[0]);

  CreateContact(ContactJson("Fourth", "1-555-0199", ""));
  const size_t before = emulator_->contact_count();
  const rapidjson::Document four = ComplexWithContact(ContactJson("X", "15550199", ""));
  EXPECT_FALSE(Bool(four, "0.merged"));
  EXPECT_EQ(emulator_->contact_count(), before + 1);
}

// --- incoming leads
// --------------------------------------------------------------------------------

TEST_F(LeadCaptureTest, FormsCreateIncomingLeadsInTheIncomingStage) {
  const Reply reply = client_->Post(
      "/api/v4/leads/unsorted/forms",
      R"([{"request_id":"web-1","source_uid":"s-1","source_name":"Site","created_at":1749999000,)"
      R"("metadata":{"form_id":"f1","form_name":"Contact us","ip":"192.0.2.1","form_sent_at":1749999000},)"
      R"("_embedded":{"leads":[{"name":"From the site","price":50}],"contacts":[)" +
          ContactJson("Visitor", "+1 555 0100", "v@example.com") +
          R"(]},"unknown_member":{"dropped":true}},)"
          R"({"source_uid":"s-2","source_name":"Site","pipeline_id":)" +
          Id(kSecondPipelineId) + R"(,"metadata":{"form_id":7,"form_name":"Other"}}])");
  ASSERT_EQ(reply.status, 200) << reply.body;
  const rapidjson::Document doc = reply.Json();
  EXPECT_EQ(Int(doc, "_total_items"), 2);
  EXPECT_EQ(Str(doc, "_embedded.unsorted.0.request_id"), "web-1");
  EXPECT_EQ(Str(doc, "_embedded.unsorted.1.request_id"), "1");
  EXPECT_EQ(Int(doc, "_embedded.unsorted.0.account_id"), kAccountId);
  const std::string uid = Str(doc, "_embedded.unsorted.0.uid");
  ASSERT_EQ(uid.size(), 40u);
  EXPECT_EQ(uid.find_first_not_of("0123456789abcdef"), std::string::npos) << uid;
  EXPECT_NE(uid, Str(doc, "_embedded.unsorted.1.uid"));
  const int64_t lead = Int(doc, "_embedded.unsorted.0._embedded.leads.0.id");
  const int64_t contact = Int(doc, "_embedded.unsorted.0._embedded.contacts.0.id");
  EXPECT_EQ(Size(doc, "_embedded.unsorted.0._embedded.companies"), 0u);
  EXPECT_EQ(Size(doc, "_embedded.unsorted.1._embedded.contacts"), 0u);

  const rapidjson::Document stored =
      client_->Get("/api/v4/leads/" + Id(lead) + "?with=contacts").Json();
  EXPECT_EQ(Str(stored, "name"), "From the site");
  EXPECT_EQ(Int(stored, "status_id"), kMainPipelineIncomingStatusId);
  EXPECT_EQ(Int(stored, "_embedded.contacts.0.id"), contact);
  const int64_t second_lead = Int(doc, "_embedded.unsorted.1._embedded.leads.0.id");
  EXPECT_EQ(Int(client_->Get("/api/v4/leads/" + Id(second_lead)).Json(), "status_id"),
            kSecondPipelineIncomingStatusId);

  const Reply list = client_->Get("/api/v4/leads/unsorted?filter[uid][]=" + uid);
  ASSERT_EQ(list.status, 200) << list.body;
  const rapidjson::Document entry = list.Json();
  const std::string e = "_embedded.unsorted.0.";
  EXPECT_EQ(Size(entry, "_embedded.unsorted"), 1u);
  EXPECT_EQ(Int(entry, "_page"), 1);
  EXPECT_TRUE(Has(entry, "_links.self.href"));
  EXPECT_EQ(Str(entry, e + "uid"), uid);
  EXPECT_EQ(Str(entry, e + "source_uid"), "s-1");
  EXPECT_EQ(Str(entry, e + "source_name"), "Site");
  EXPECT_EQ(Str(entry, e + "category"), "forms");
  EXPECT_EQ(Int(entry, e + "pipeline_id"), kMainPipelineId);
  EXPECT_EQ(Int(entry, e + "created_at"), 1749999000);
  EXPECT_EQ(Int(entry, e + "account_id"), kAccountId);
  EXPECT_EQ(Str(entry, e + "metadata.form_id"), "f1");
  EXPECT_EQ(Str(entry, e + "metadata.form_name"), "Contact us");
  EXPECT_EQ(Str(entry, e + "metadata.ip"), "192.0.2.1");
  EXPECT_EQ(Int(entry, e + "metadata.form_sent_at"), 1749999000);
  EXPECT_TRUE(IsNull(entry, e + "metadata.referer"));
  EXPECT_TRUE(IsNull(entry, e + "metadata.form_page"));
  EXPECT_EQ(Int(entry, e + "_embedded.leads.0.id"), lead);
  EXPECT_EQ(Str(entry, e + "_embedded.leads.0.name"), "From the site");
  EXPECT_EQ(Int(entry, e + "_embedded.leads.0.price"), 50);
  EXPECT_EQ(Int(entry, e + "_embedded.contacts.0.id"), contact);
  EXPECT_EQ(Str(entry, e + "_embedded.contacts.0.name"), "Visitor");
  EXPECT_EQ(list.body.find("unknown_member"), std::string::npos);
  EXPECT_EQ(
      Str(client_
              ->Get("/api/v4/leads/unsorted?filter[uid][]=" + Str(doc, "_embedded.unsorted.1.uid"))
              .Json(),
          "_embedded.unsorted.0.metadata.form_id"),
      "7");  // a numeric form_id is kept as text
}

TEST_F(LeadCaptureTest, FormsValidationAndIdenticalEntries) {
  const Reply missing = client_->Post(
      "/api/v4/leads/unsorted/forms",
      R"([{"request_id":"a","source_name":"Site","metadata":{"form_name":"F"}},)"
      R"({"request_id":"b","source_uid":"x","source_name":"Site"},)"
      R"({"source_uid":"y","source_name":"Site","pipeline_id":1,"metadata":{"form_id":"f","form_name":"F"},)"
      R"("_embedded":{"leads":[{"name":"1"},{"name":"2"}],"contacts":[{"name":"c","responsible_user_id":5}]}}])");
  ExpectValidationError(missing, "a", "NotBlank", "source_uid");
  ExpectValidationError(missing, "a", "NotBlank", "metadata.form_id");
  ExpectValidationError(missing, "b", "NotBlank", "metadata");
  ExpectValidationError(missing, "2", "NotSupportedChoice", "pipeline_id");
  ExpectValidationError(missing, "2", "Count", "_embedded.leads");
  ExpectValidationError(missing, "2", "NotSupportedChoice",
                        "_embedded.contacts.0.responsible_user_id");
  EXPECT_EQ(emulator_->lead_count(), 0u);

  ASSERT_EQ(CreateForm("same").status, 200);
  const Reply again = CreateForm("same", R"(,"request_id":"retry","ignored":1)");
  ExpectValidationError(again, "retry", "Duplicate", "source_uid");
  EXPECT_EQ(emulator_->unsorted_count(), 1u);
  // The same source_uid with other content is a new entry.
  EXPECT_EQ(CreateForm("same", R"(,"created_at":1749000000)").status, 200);
  EXPECT_EQ(emulator_->unsorted_count(), 2u);
  // Identical entries within one batch: the second is refused.
  const std::string item =
      R"({"source_uid":"batch","source_name":"S","metadata":{"form_id":"f","form_name":"F"}})";
  ExpectValidationError(
      client_->Post("/api/v4/leads/unsorted/forms", "[" + item + "," + item + "]"), "1",
      "Duplicate", "source_uid");
}

TEST_F(LeadCaptureTest, UnsortedListOrdersFiltersAndPages) {
  const std::string first = FormUid(CreateForm("one"));
  now_ = kStartTime + 60;
  const std::string second = FormUid(CreateForm("two"));
  now_ = kStartTime + 120;
  const std::string third =
      FormUid(CreateForm("three", R"(,"pipeline_id":)" + Id(kSecondPipelineId)));

  EXPECT_EQ(ListedUids(""), (std::vector<std::string>{third, second, first}));  // newest first
  EXPECT_EQ(ListedUids("?order[created_at]=asc"), (std::vector<std::string>{first, second, third}));
  EXPECT_EQ(ListedUids("?order[created_at]=desc&filter[pipeline_id]=" + Id(kMainPipelineId)),
            (std::vector<std::string>{second, first}));
  EXPECT_EQ(ListedUids("?filter[uid][]=" + first + "&filter[uid][]=" + third),
            (std::vector<std::string>{third, first}));
  EXPECT_EQ(ListedUids("?filter[uid]=" + second), std::vector<std::string>{second});
  EXPECT_EQ(ListedUids("?filter[category][]=forms").size(), 3u);
  EXPECT_EQ(client_->Get("/api/v4/leads/unsorted?filter[category][]=sip").status, 204);

  const Reply page = client_->Get("/api/v4/leads/unsorted?limit=2");
  ASSERT_EQ(page.status, 200);
  EXPECT_TRUE(Has(page.Json(), "_links.next.href"));
  EXPECT_EQ(ListedUids("?limit=2&page=2"), std::vector<std::string>{first});
  EXPECT_EQ(client_->Get("/api/v4/leads/unsorted?limit=2&page=3").status, 204);
  ExpectProblem(client_->Get("/api/v4/leads/unsorted?limit=0"), 400, "limit");
  ExpectProblem(client_->Get("/api/v4/leads/unsorted?limit=251"), 400, "limit");
  ExpectProblem(client_->Get("/api/v4/leads/unsorted?limit=abc"), 400, "limit");
  EXPECT_EQ(client_->Get("/api/v4/leads/unsorted?limit=250").status, 200);
}

TEST_F(LeadCaptureTest, AcceptMovesTheLeadOnAndDeclineLosesIt) {
  const std::string accepted = FormUid(CreateForm("a"));
  const std::string declined = FormUid(CreateForm("d"));
  const std::string plain = FormUid(CreateForm("p"));
  const int64_t lead = kFirstLeadId;  // the first form's lead

  // Invalid input changes nothing.
  ExpectValidationError(client_->Post("/api/v4/leads/unsorted/" + accepted + "/accept",
                                      R"({"status_id":)" + Id(kSecondPipelineFirstStatusId) + "}"),
                        "0", "NotSupportedChoice", "status_id");
  ExpectValidationError(client_->Post("/api/v4/leads/unsorted/" + accepted + "/accept",
                                      R"({"status_id":)" + Id(kMainPipelineIncomingStatusId) + "}"),
                        "0", "NotSupportedChoice", "status_id");
  ExpectValidationError(
      client_->Post("/api/v4/leads/unsorted/" + accepted + "/accept", R"({"user_id":123})"), "0",
      "NotSupportedChoice", "user_id");
  ExpectProblem(client_->Post("/api/v4/leads/unsorted/" + accepted + "/accept", "[1]"), 400,
                "object");
  EXPECT_EQ(emulator_->unsorted_count(), 3u);

  now_ = kStartTime + 30;
  const Reply accept = client_->Post("/api/v4/leads/unsorted/" + accepted + "/accept",
                                     R"({"user_id":)" + Id(kManagerUserId) + R"(,"status_id":)" +
                                         Id(kMainPipelineSecondStatusId) + "}");
  ASSERT_EQ(accept.status, 200) << accept.body;
  const rapidjson::Document answer = accept.Json();
  EXPECT_EQ(Str(answer, "uid"), accepted);
  EXPECT_EQ(Int(answer, "account_id"), kAccountId);
  EXPECT_EQ(Int(answer, "_embedded.leads.0.id"), lead);
  EXPECT_TRUE(Has(answer, "_embedded.leads.0._links.self.href"));
  EXPECT_EQ(Int(answer, "_embedded.contacts.0.id"), kFirstContactId);
  EXPECT_EQ(Size(answer, "_embedded.companies"), 0u);
  const rapidjson::Document moved = client_->Get("/api/v4/leads/" + Id(lead)).Json();
  EXPECT_EQ(Int(moved, "status_id"), kMainPipelineSecondStatusId);
  EXPECT_EQ(Int(moved, "responsible_user_id"), kManagerUserId);
  EXPECT_EQ(Int(moved, "group_id"), kSalesGroupId);
  EXPECT_EQ(Int(moved, "updated_at"), kStartTime + 30);

  // An empty body: the first regular stage.
  const Reply empty = client_->Post("/api/v4/leads/unsorted/" + plain + "/accept", "");
  ASSERT_EQ(empty.status, 200) << empty.body;
  EXPECT_EQ(Int(client_->Get("/api/v4/leads/" + Id(kFirstLeadId + 2)).Json(), "status_id"),
            kMainPipelineFirstStatusId);

  const Reply decline = client_->Post("/api/v4/leads/unsorted/" + declined + "/decline", "{}");
  ASSERT_EQ(decline.status, 200) << decline.body;
  EXPECT_EQ(Str(decline.Json(), "uid"), declined);
  EXPECT_EQ(Int(decline.Json(), "_embedded.leads.0.id"), kFirstLeadId + 1);
  const rapidjson::Document lost = client_->Get("/api/v4/leads/" + Id(kFirstLeadId + 1)).Json();
  EXPECT_EQ(Int(lost, "status_id"), kLostStatusId);
  EXPECT_EQ(Int(lost, "closed_at"), kStartTime + 30);

  // Processed entries leave the list and cannot be processed again.
  EXPECT_EQ(client_->Get("/api/v4/leads/unsorted").status, 204);
  for (const std::string& uid : {accepted, declined}) {
    ExpectProblem(client_->Post("/api/v4/leads/unsorted/" + uid + "/accept", ""), 404, "not found");
    ExpectProblem(client_->Post("/api/v4/leads/unsorted/" + uid + "/decline", ""), 404,
                  "not found");
  }
  ExpectProblem(client_->Post("/api/v4/leads/unsorted/" + std::string(40, 'a') + "/accept", ""),
                404, "not found");

  const Reply summary = client_->Get("/api/v4/leads/unsorted/summary");
  ASSERT_EQ(summary.status, 200) << summary.body;
  const rapidjson::Document sums = summary.Json();
  EXPECT_EQ(Int(sums, "total"), 3);
  EXPECT_EQ(Int(sums, "accepted"), 2);
  EXPECT_EQ(Int(sums, "declined"), 1);
  EXPECT_EQ(Int(sums, "average_sort_time"), 30);  // each was processed 30 s after it came
  EXPECT_EQ(Int(sums, "categories.forms"), 3);
}

TEST_F(LeadCaptureTest, UnsortedPathsSentWrongAre405) {
  const std::string uid = FormUid(CreateForm("x"));
  const std::string body = "{}";
  const std::vector<std::pair<std::string, std::string>> wrong = {
      {"GET", "/api/v4/leads/unsorted/forms"},
      {"GET", "/api/v4/leads/unsorted/" + uid + "/accept"},
      {"GET", "/api/v4/leads/unsorted/" + uid + "/decline"},
      {"PATCH", "/api/v4/leads/unsorted"},
      {"POST", "/api/v4/leads/unsorted"},
      {"DELETE", "/api/v4/leads/unsorted/" + uid},
      {"PATCH", "/api/v4/leads/unsorted/forms"},
      {"POST", "/api/v4/leads/unsorted/summary"},
      {"POST", "/api/v4/leads/unsorted/mail"},
      {"POST", "/api/v4/leads/unsorted/sip"},
  };
  for (const auto& [method, path] : wrong) {
    const Reply reply = client_->Send(method, path, &body, {});
    EXPECT_EQ(reply.status, 405) << method << " " << path;
    EXPECT_EQ(reply.Header("content-type"), "text/html") << method << " " << path;
  }
  EXPECT_EQ(emulator_->unsorted_count(), 1u);
  // GET of one entry works; an unknown uid is 204.
  EXPECT_EQ(Str(client_->Get("/api/v4/leads/unsorted/" + uid).Json(), "uid"), uid);
  EXPECT_EQ(client_->Get("/api/v4/leads/unsorted/" + std::string(40, 'b')).status, 204);
}

// --- notes
// -----------------------------------------------------------------------------------------

TEST_F(LeadCaptureTest, NotesAreCreatedAndListedWithFiltersAndOrder) {
  const int64_t lead = CreateLead(R"({"name":"Deal"})");
  const int64_t other = CreateLead(R"({"name":"Other"})");
  const Reply created = client_->Post(
      "/api/v4/leads/notes",
      R"([{"entity_id":)" + Id(lead) +
          R"(,"note_type":"common","params":{"text":"First"},"request_id":"n1"},)"
          R"({"entity_id":)" +
          Id(lead) +
          R"(,"note_type":"service_message","params":{"service":"Bot","text":"Hi"}},)"
          R"({"entity_id":)" +
          Id(other) + R"(,"note_type":"call_in","params":{"uniq":"u1","duration":42}}])");
  ASSERT_EQ(created.status, 200) << created.body;
  const rapidjson::Document ids = created.Json();
  EXPECT_EQ(Str(ids, "_embedded.notes.0.request_id"), "n1");
  EXPECT_EQ(Str(ids, "_embedded.notes.1.request_id"), "1");
  EXPECT_EQ(Int(ids, "_embedded.notes.0.entity_id"), lead);
  EXPECT_TRUE(Has(ids, "_embedded.notes.0._links.self.href"));
  const int64_t n1 = Int(ids, "_embedded.notes.0.id");
  const int64_t n2 = Int(ids, "_embedded.notes.1.id");
  const int64_t n3 = Int(ids, "_embedded.notes.2.id");
  EXPECT_EQ(n1, kFirstNoteId);

  now_ = kStartTime + 100;
  const Reply later = client_->Post(
      "/api/v4/leads/notes",
      R"([{"entity_id":)" + Id(lead) + R"(,"note_type":"common","params":{"text":"Later"}}])");
  const int64_t n4 = Int(later.Json(), "_embedded.notes.0.id");

  EXPECT_EQ(ListedNoteIds("/api/v4/leads/notes"), (std::vector<int64_t>{n1, n2, n3, n4}));
  EXPECT_EQ(ListedNoteIds("/api/v4/leads/notes?order[id]=desc"),
            (std::vector<int64_t>{n4, n3, n2, n1}));
  EXPECT_EQ(ListedNoteIds("/api/v4/leads/notes?order[updated_at]=desc&limit=1"),
            std::vector<int64_t>{n4});
  EXPECT_EQ(ListedNoteIds("/api/v4/leads/notes?filter[entity_id][]=" + Id(other)),
            std::vector<int64_t>{n3});
  EXPECT_EQ(ListedNoteIds("/api/v4/leads/notes?filter[entity_id]=" + Id(lead) +
                          "&filter[note_type][]=common"),
            (std::vector<int64_t>{n1, n4}));
  EXPECT_EQ(ListedNoteIds("/api/v4/leads/notes?filter[id][]=" + Id(n2) + "&filter[id][]=" + Id(n3)),
            (std::vector<int64_t>{n2, n3}));
  EXPECT_EQ(ListedNoteIds("/api/v4/leads/notes?filter[updated_at][from]=" + Id(kStartTime + 50)),
            std::vector<int64_t>{n4});
  EXPECT_EQ(ListedNoteIds("/api/v4/leads/" + Id(lead) + "/notes?order[id]=desc"),
            (std::vector<int64_t>{n4, n2, n1}));
  EXPECT_EQ(
      ListedNoteIds("/api/v4/leads/" + Id(lead) + "/notes?filter[note_type][]=service_message"),
      std::vector<int64_t>{n2});
  EXPECT_EQ(client_->Get("/api/v4/leads/" + Id(lead + 100) + "/notes").status, 204);
  EXPECT_EQ(client_->Get("/api/v4/contacts/notes").status, 204);  // notes stay with their entity
  EXPECT_EQ(client_->Get("/api/v4/leads/notes?filter[note_type][]=sms_in").status, 204);

  const Reply page = client_->Get("/api/v4/leads/" + Id(lead) + "/notes?limit=1");
  EXPECT_TRUE(Has(page.Json(), "_links.next.href"));
  const rapidjson::Document note =
      client_->Get("/api/v4/leads/notes?filter[id][]=" + Id(n2)).Json();
  const std::string e = "_embedded.notes.0.";
  EXPECT_EQ(Int(note, e + "entity_id"), lead);
  EXPECT_EQ(Str(note, e + "note_type"), "service_message");
  EXPECT_EQ(Str(note, e + "params.service"), "Bot");
  EXPECT_EQ(Str(note, e + "params.text"), "Hi");
  EXPECT_EQ(Int(note, e + "created_by"), kAdminUserId);
  EXPECT_EQ(Int(note, e + "updated_by"), kAdminUserId);
  EXPECT_EQ(Int(note, e + "responsible_user_id"), kAdminUserId);
  EXPECT_EQ(Int(note, e + "group_id"), kDefaultGroupId);
  EXPECT_EQ(Int(note, e + "created_at"), kStartTime);
  EXPECT_EQ(Int(note, e + "updated_at"), kStartTime);
  EXPECT_EQ(Int(note, e + "account_id"), kAccountId);
  EXPECT_TRUE(Has(note, e + "_links.self.href"));
  const rapidjson::Document call =
      client_->Get("/api/v4/leads/" + Id(other) + "/notes/" + Id(n3)).Json();
  EXPECT_EQ(Int(call, "params.duration"), 42);  // other types are stored as sent
  EXPECT_EQ(client_->Get("/api/v4/leads/" + Id(lead) + "/notes/" + Id(n3)).status, 204);
  EXPECT_EQ(emulator_->note_count(), 4u);
}

TEST_F(LeadCaptureTest, InvalidNotesGetValidationErrors) {
  const int64_t lead = CreateLead(R"({"name":"Deal"})");
  const Reply reply = client_->Post(
      "/api/v4/leads/notes", R"([{"entity_id":)" + Id(lead) +
                                 R"(,"note_type":"common","params":{}},)"
                                 R"({"entity_id":)" +
                                 Id(lead) +
                                 R"(,"note_type":"service_message","params":{"text":"t"}},)"
                                 R"({"entity_id":999,"note_type":"common","params":{"text":"t"}},)"
                                 R"({"note_type":"common","params":{"text":"t"}},)"
                                 R"({"entity_id":)" +
                                 Id(lead) +
                                 R"(,"params":{"text":"t"}},)"
                                 R"({"entity_id":)" +
                                 Id(lead) + R"(,"note_type":"common","params":{"text":"ok"}}])");
  ExpectValidationError(reply, "0", "NotBlank", "params.text");
  ExpectValidationError(reply, "1", "NotBlank", "params.service");
  ExpectValidationError(reply, "2", "NotFound", "entity_id");
  ExpectValidationError(reply, "3", "NotBlank", "entity_id");
  ExpectValidationError(reply, "4", "NotBlank", "note_type");
  EXPECT_EQ(Size(reply.Json(), "validation-errors"), 5u);
  EXPECT_EQ(emulator_->note_count(), 0u);
  // A lead id is not a contact.
  ExpectValidationError(client_->Post("/api/v4/contacts/notes",
                                      R"([{"entity_id":)" + Id(lead) +
                                          R"(,"note_type":"common","params":{"text":"t"}}])"),
                        "0", "NotFound", "entity_id");
}

TEST_F(LeadCaptureTest, LongNotesAndLargeBodiesWork) {
  const int64_t contact = CreateContact(R"({"name":"Chatty"})");
  std::string transcript;
  for (int i = 0; transcript.size() < 60000; ++i) {
    transcript += "Клиент " + std::to_string(i) + ": здравствуйте, \\\"quote\\\"\\n";
  }
  const Reply reply =
      client_->Post("/api/v4/contacts/notes", R"([{"entity_id":)" + Id(contact) +
                                                  R"(,"note_type":"common","params":{"text":")" +
                                                  transcript + R"("}}])");
  ASSERT_EQ(reply.status, 200) << reply.body.substr(0, 300);
  const rapidjson::Document note =
      client_->Get("/api/v4/contacts/" + Id(contact) + "/notes").Json();
  const std::string text = Str(note, "_embedded.notes.0.params.text");
  EXPECT_GT(text.size(), 20000u * 2);  // more than 20,000 characters, mostly two-byte
  EXPECT_EQ(text.find("Клиент 0: здравствуйте, \"quote\"\n"), 0u);
  EXPECT_EQ(text.back(), '\n');

  // A batch above the old 1 MiB limit is taken.
  std::string batch = "[";
  const std::string item = R"({"entity_id":)" + Id(contact) +
                           R"(,"note_type":"common","params":{"text":")" + std::string(30000, 'x') +
                           R"("}})";
  for (int i = 0; i < 50; ++i) batch += (i ? "," : "") + item;
  batch += "]";
  ASSERT_GT(batch.size(), 1024u * 1024u);
  const Reply large = client_->Post("/api/v4/contacts/notes", batch);
  EXPECT_EQ(large.status, 200) << large.body.substr(0, 300);
  EXPECT_EQ(emulator_->note_count(), 51u);
}

// --- companies, contacts ------------------------------------------------------------------------

TEST_F(LeadCaptureTest, CompaniesAreContactShaped) {
  const Reply created = client_->Post("/api/v4/companies",
                                      R"([{"name":"Acme Corp","request_id":"c1"},{"name":"Globex",)"
                                      R"("responsible_user_id":8000002}])");
  ASSERT_EQ(created.status, 200) << created.body;
  const rapidjson::Document ids = created.Json();
  EXPECT_EQ(Str(ids, "_embedded.companies.0.request_id"), "c1");
  const int64_t acme = Int(ids, "_embedded.companies.0.id");
  const int64_t globex = Int(ids, "_embedded.companies.1.id");
  EXPECT_EQ(acme, kFirstCompanyId);

  const rapidjson::Document one = client_->Get("/api/v4/companies/" + Id(acme)).Json();
  EXPECT_EQ(Str(one, "name"), "Acme Corp");
  EXPECT_EQ(Int(one, "responsible_user_id"), kAdminUserId);
  EXPECT_TRUE(IsNull(one, "custom_fields_values"));
  EXPECT_EQ(client_->Get("/api/v4/companies/" + Id(globex + 10)).status, 204);

  const rapidjson::Document found = client_->Get("/api/v4/companies?query=glob").Json();
  ASSERT_EQ(Size(found, "_embedded.companies"), 1u);
  EXPECT_EQ(Int(found, "_embedded.companies.0.id"), globex);
  EXPECT_EQ(Int(found, "_embedded.companies.0.group_id"), kSalesGroupId);
  EXPECT_EQ(Size(client_->Get("/api/v4/companies?filter[id][]=" + Id(acme)).Json(),
                 "_embedded.companies"),
            1u);
  EXPECT_EQ(client_->Get("/api/v4/companies?query=nothing").status, 204);
  EXPECT_EQ(
      Int(client_->Get("/api/v4/companies?limit=1&page=2").Json(), "_embedded.companies.0.id"),
      globex);

  const Reply note = client_->Post(
      "/api/v4/companies/notes",
      R"([{"entity_id":)" + Id(acme) + R"(,"note_type":"common","params":{"text":"Big client"}}])");
  ASSERT_EQ(note.status, 200) << note.body;
  EXPECT_EQ(Str(client_->Get("/api/v4/companies/" + Id(acme) + "/notes").Json(),
                "_embedded.notes.0.params.text"),
            "Big client");
}

TEST_F(LeadCaptureTest, PatchContactsReplacesAFieldsValues) {
  const int64_t id = CreateContact(
      R"({"name":"Ann","custom_fields_values":[{"field_code":"PHONE","values":[)"
      R"({"value":"+1 555 0100","enum_code":"WORK"},{"value":"+1 555 0101","enum_code":"MOB"}]},)"
      R"({"field_code":"EMAIL","values":[{"value":"ann@example.com"}]}]})");
  now_ = kStartTime + 7;
  const Reply batch = client_->Patch(
      "/api/v4/contacts",
      R"([{"id":)" + Id(id) + R"(,"request_id":"p1","custom_fields_values":[{"field_id":)" +
          Id(kPhoneFieldId) + R"(,"values":[{"value":"+1 555 0199","enum_code":"MOB"}]}]}])");
  ASSERT_EQ(batch.status, 200) << batch.body;
  const rapidjson::Document answer = batch.Json();
  EXPECT_EQ(Int(answer, "_embedded.contacts.0.id"), id);
  EXPECT_EQ(Str(answer, "_embedded.contacts.0.name"), "Ann");
  EXPECT_EQ(Int(answer, "_embedded.contacts.0.updated_at"), kStartTime + 7);
  EXPECT_EQ(Str(answer, "_embedded.contacts.0.request_id"), "p1");
  const rapidjson::Document contact = client_->Get("/api/v4/contacts/" + Id(id)).Json();
  EXPECT_EQ(FieldValues(contact, "PHONE"), std::vector<std::string>{"+1 555 0199"});
  EXPECT_EQ(FieldValues(contact, "EMAIL"), std::vector<std::string>{"ann@example.com"});

  const Reply single = client_->Patch(
      "/api/v4/contacts/" + Id(id),
      R"({"custom_fields_values":[{"field_code":"EMAIL","values":[{"value":"a@x.io"},{"value":"b@x.io"}]}]})");
  ASSERT_EQ(single.status, 200) << single.body;
  EXPECT_EQ(Str(single.Json(), "request_id"), "0");
  EXPECT_EQ(FieldValues(client_->Get("/api/v4/contacts/" + Id(id)).Json(), "EMAIL"),
            (std::vector<std::string>{"a@x.io", "b@x.io"}));
}

TEST_F(LeadCaptureTest, ContactQueryOfDigitsFindsFormattedPhones) {
  const int64_t id = CreateContact(ContactJson("Ivan", "+7 (999) 123-45-67", ""));
  CreateContact(ContactJson("Someone", "+1 555 0100", ""));
  const Reply reply = client_->Get("/api/v4/contacts?query=9991234567");
  ASSERT_EQ(reply.status, 200) << reply.body;
  ASSERT_EQ(Size(reply.Json(), "_embedded.contacts"), 1u);
  EXPECT_EQ(Int(reply.Json(), "_embedded.contacts.0.id"), id);
  EXPECT_EQ(client_->Get("/api/v4/contacts?query=9991234568").status, 204);
}

// --- faults on the new paths ---------------------------------------------------------------------

TEST_F(LeadCaptureTest, FaultRulesMatchTheNewPaths) {
  const Reply added =
      admin_->Post("/_emulator/faults",
                   R"({"match":"POST /api/v4/leads/complex","fault":"status","status":503})");
  ASSERT_EQ(added.status, 200) << added.body;
  const Reply failed = client_->Post("/api/v4/leads/complex", R"([{"name":"x"}])");
  EXPECT_EQ(failed.status, 503);
  EXPECT_EQ(failed.Header("content-type"), "text/html");
  EXPECT_EQ(emulator_->lead_count(), 0u);  // not applied
  EXPECT_EQ(client_->Post("/api/v4/leads/complex", R"([{"name":"x"}])").status, 200);  // once

  FaultRule slow;
  slow.method = "GET";
  slow.path_prefix = "/api/v4/leads/unsorted";
  slow.action = FaultAction::kLatency;
  slow.delay = std::chrono::milliseconds(30);
  ASSERT_TRUE(emulator_->AddFault(slow).ok());
  EXPECT_EQ(client_->Get("/api/v4/leads/unsorted").status, 204);
  bool delayed = false;
  for (const LoggedRequest& request : emulator_->requests()) {
    if (request.path == "/api/v4/leads/unsorted") {
      delayed = request.delay == std::chrono::milliseconds(30) && request.status == 204;
    }
  }
  EXPECT_TRUE(delayed);
  const std::vector<FaultRuleState> rules = emulator_->faults();
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_EQ(rules[0].fired, 1u);
  EXPECT_EQ(rules[1].fired, 1u);
}

}  // namespace
}  // namespace kommo::emulator
