// The emulator's events API over HTTP: what each kind of write records (type, entity, before
// and after as Kommo shows them), ids shaped like Kommo's, the filters, newest-first order,
// paging and the page limit, 204 when nothing matches, the bounded history, and faults on
// /api/v4/events. The clock is fake, so created_at is exact.
#include <algorithm>
#include <atomic>
#include <cctype>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "emulator/emulator.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"
#include "tests/emulator/test_client.h"

namespace kommo::emulator {
namespace {

using testing::At;
using ::testing::ElementsAre;
using testing::ExpectProblem;
using testing::Has;
using ::testing::HasSubstr;
using testing::Int;
using testing::IsNull;
using testing::Reply;
using testing::Size;
using testing::Str;
using testing::TestClient;

constexpr char kToken[] = "events-token";
constexpr int64_t kStartTime = 1750000000;

std::string Id(int64_t id) { return std::to_string(id); }

// One event of a list, the members tests look at.
struct Seen {
  std::string id;
  std::string type;
  std::string entity_type;
  int64_t entity_id = 0;
  int64_t created_at = 0;
  int64_t created_by = 0;
  std::string before;  // value_before, serialized
  std::string after;   // value_after, serialized
};

std::string Serialized(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  value.Accept(w);
  return std::string(buffer.GetString(), buffer.GetSize());
}

class EventsTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(EventHistoryOptions{}); }

  void Start(EventHistoryOptions history) {
    emulator_.reset();
    EmulatorOptions options;
    options.token = kToken;
    options.manager_token = "manager-token";
    options.clock = [this] { return now_.load(); };
    options.events = history;
    options.random_seed = 7;
    auto emulator = Emulator::Start(options);
    ASSERT_TRUE(emulator.ok()) << emulator.status();
    emulator_ = *std::move(emulator);
    client_ = std::make_unique<TestClient>(emulator_->base_url(), kToken);
  }

  int64_t CreateLead(const std::string& item_json) {
    const Reply reply = client_->Post("/api/v4/leads", "[" + item_json + "]");
    EXPECT_EQ(reply.status, 200) << reply.body;
    return reply.status == 200 ? Int(reply.Json(), "_embedded.leads.0.id") : 0;
  }
  int64_t CreateContact(const std::string& item_json) {
    const Reply reply = client_->Post("/api/v4/contacts", "[" + item_json + "]");
    EXPECT_EQ(reply.status, 200) << reply.body;
    return reply.status == 200 ? Int(reply.Json(), "_embedded.contacts.0.id") : 0;
  }

  // GET /api/v4/events<query>: the events of the page, in the order listed.
  std::vector<Seen> Events(const std::string& query = "") {
    std::vector<Seen> seen;
    const Reply reply = client_->Get("/api/v4/events" + query);
    if (reply.status == 204) return seen;
    EXPECT_EQ(reply.status, 200) << query << ": " << reply.body;
    if (reply.status != 200) return seen;
    const rapidjson::Document doc = reply.Json();
    for (size_t i = 0; i < Size(doc, "_embedded.events"); ++i) {
      const rapidjson::Value& e = At(doc, "_embedded.events." + std::to_string(i));
      seen.push_back(Seen{Str(e, "id"), Str(e, "type"), Str(e, "entity_type"), Int(e, "entity_id"),
                          Int(e, "created_at"), Int(e, "created_by"),
                          Serialized(At(e, "value_before")), Serialized(At(e, "value_after"))});
    }
    return seen;
  }
  std::vector<std::string> Types(const std::string& query = "") {
    std::vector<std::string> types;
    for (const Seen& e : Events(query)) types.push_back(e.type);
    return types;
  }

  std::atomic<int64_t> now_{kStartTime};
  std::unique_ptr<Emulator> emulator_;
  std::unique_ptr<TestClient> client_;
};

bool KommoEventId(const std::string& id) {
  return id.size() == 26 && std::all_of(id.begin(), id.end(), [](char c) {
           return std::isdigit(static_cast<unsigned char>(c)) ||
                  (std::islower(static_cast<unsigned char>(c)) && c != 'i' && c != 'l' &&
                   c != 'o' && c != 'u');
         });
}

// --- what writes record ------------------------------------------------------------------------

TEST_F(EventsTest, ALeadCreateRecordsLeadAddedInKommosShape) {
  const int64_t lead = CreateLead(R"({"name":"Deal"})");
  const Reply reply = client_->Get("/api/v4/events");
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(reply.Header("content-type"), "application/hal+json");
  const rapidjson::Document doc = reply.Json();
  EXPECT_EQ(Int(doc, "_page"), 1);
  EXPECT_THAT(Str(doc, "_links.self.href"), HasSubstr("/api/v4/events?page=1&limit=50"));
  EXPECT_FALSE(Has(doc, "_links.next"));
  ASSERT_EQ(Size(doc, "_embedded.events"), 1u);
  const rapidjson::Value& event = At(doc, "_embedded.events.0");
  const std::string id = Str(event, "id");
  EXPECT_TRUE(KommoEventId(id)) << id;
  EXPECT_EQ(Str(event, "type"), "lead_added");
  EXPECT_EQ(Int(event, "entity_id"), lead);
  EXPECT_EQ(Str(event, "entity_type"), "lead");
  EXPECT_EQ(Int(event, "created_by"), kAdminUserId);
  EXPECT_EQ(Int(event, "created_at"), kStartTime);
  EXPECT_EQ(Size(event, "value_before"), 0u);
  EXPECT_GT(Int(event, "value_after.0.note.id"), 0);  // Kommo's "lead created" system note
  EXPECT_EQ(Int(event, "account_id"), kAccountId);
  EXPECT_THAT(Str(event, "_links.self.href"), ::testing::EndsWith("/api/v4/events/" + id));
  EXPECT_EQ(Int(event, "_embedded.entity.id"), lead);
  EXPECT_THAT(Str(event, "_embedded.entity._links.self.href"),
              ::testing::EndsWith("/api/v4/leads/" + Id(lead)));
  EXPECT_FALSE(Has(event, "_embedded.entity.name"));

  // One event by id, and the entity's name on request.
  const Reply one = client_->Get("/api/v4/events/" + id + "?with=lead_name");
  ASSERT_EQ(one.status, 200) << one.body;
  EXPECT_EQ(Str(one.Json(), "id"), id);
  EXPECT_EQ(Str(one.Json(), "_embedded.entity.name"), "Deal");
  EXPECT_EQ(client_->Get("/api/v4/events/01pz58t6p04ymgsgfbmfyfy1mf").status, 204);
}

TEST_F(EventsTest, ALeadUpdateRecordsEachChangeWithBeforeAndAfter) {
  const int64_t lead = CreateLead(R"({"name":"Deal","price":100})");
  now_ += 10;
  const Reply patched = client_->Patch(
      "/api/v4/leads",
      "[{\"id\":" + Id(lead) + ",\"name\":\"Big deal\",\"price\":250,\"status_id\":" +
          Id(kMainPipelineSecondStatusId) + ",\"responsible_user_id\":" + Id(kManagerUserId) +
          ",\"custom_fields_values\":[{\"field_id\":" + Id(kProductFieldId) +
          ",\"values\":[{\"enum_id\":" + Id(kProductProEnumId) +
          "}]}],\"tags_to_add\":[{\"name\":\"vip\"}]}]");
  ASSERT_EQ(patched.status, 200) << patched.body;

  const std::vector<Seen> events = Events("?filter[created_at][from]=" + Id(kStartTime + 10));
  // Newest first: within one second, the last recorded comes first.
  std::vector<std::string> types;
  for (const Seen& e : events) types.push_back(e.type);
  EXPECT_THAT(types, ElementsAre("entity_tag_added", "custom_field_value_changed",
                                 "entity_responsible_changed", "name_field_changed",
                                 "lead_status_changed", "sale_field_changed"));
  for (const Seen& e : events) {
    EXPECT_EQ(e.entity_type, "lead");
    EXPECT_EQ(e.entity_id, lead);
    EXPECT_EQ(e.created_at, kStartTime + 10);
    EXPECT_TRUE(KommoEventId(e.id)) << e.id;
  }
  // Ids are distinct and sort like the events (newest first: descending).
  for (size_t i = 1; i < events.size(); ++i) EXPECT_GT(events[i - 1].id, events[i].id);

  EXPECT_EQ(events[0].before, "[]");
  EXPECT_EQ(events[0].after, R"([{"tag":{"name":"vip"}}])");
  EXPECT_EQ(events[1].before, "[]");
  EXPECT_EQ(events[1].after, "[{\"custom_field_value\":{\"field_id\":" + Id(kProductFieldId) +
                                 ",\"field_type\":4,\"enum_id\":" + Id(kProductProEnumId) +
                                 ",\"text\":\"Pro\"}}]");
  EXPECT_EQ(events[2].before, "[{\"responsible_user\":{\"id\":" + Id(kAdminUserId) + "}}]");
  EXPECT_EQ(events[2].after, "[{\"responsible_user\":{\"id\":" + Id(kManagerUserId) + "}}]");
  EXPECT_EQ(events[3].before, R"([{"name_field_value":{"name":"Deal"}}])");
  EXPECT_EQ(events[3].after, R"([{"name_field_value":{"name":"Big deal"}}])");
  EXPECT_EQ(events[4].before, "[{\"lead_status\":{\"id\":" + Id(kMainPipelineFirstStatusId) +
                                  ",\"pipeline_id\":" + Id(kMainPipelineId) + "}}]");
  EXPECT_EQ(events[4].after, "[{\"lead_status\":{\"id\":" + Id(kMainPipelineSecondStatusId) +
                                 ",\"pipeline_id\":" + Id(kMainPipelineId) + "}}]");
  EXPECT_EQ(events[5].before, R"([{"sale_field_value":{"sale":100}}])");
  EXPECT_EQ(events[5].after, R"([{"sale_field_value":{"sale":250}}])");

  // A second change of the field and a move to another pipeline; removing the tag.
  now_ += 1;
  const Reply again =
      client_->Patch("/api/v4/leads/" + Id(lead),
                     "{\"pipeline_id\":" + Id(kSecondPipelineId) +
                         ",\"custom_fields_values\":[{\"field_id\":" + Id(kProductFieldId) +
                         ",\"values\":null}],\"tags_to_delete\":[{\"name\":\"vip\"}]}");
  ASSERT_EQ(again.status, 200) << again.body;
  const std::vector<Seen> later = Events("?filter[created_at][from]=" + Id(kStartTime + 11));
  ASSERT_EQ(later.size(), 3u);
  EXPECT_EQ(later[0].type, "entity_tag_deleted");
  EXPECT_EQ(later[0].before, R"([{"tag":{"name":"vip"}}])");
  EXPECT_EQ(later[0].after, "[]");
  EXPECT_EQ(later[1].type, "custom_field_value_changed");
  EXPECT_EQ(later[1].after, "[]");
  EXPECT_EQ(later[2].type, "lead_status_changed");
  EXPECT_EQ(later[2].after, "[{\"lead_status\":{\"id\":" + Id(kSecondPipelineFirstStatusId) +
                                ",\"pipeline_id\":" + Id(kSecondPipelineId) + "}}]");

  // A write that changes nothing Kommo records records nothing.
  now_ += 1;
  ASSERT_EQ(client_->Patch("/api/v4/leads/" + Id(lead), R"({"name":"Big deal"})").status, 200);
  EXPECT_TRUE(Events("?filter[created_at][from]=" + Id(kStartTime + 12)).empty());
}

TEST_F(EventsTest, ContactWritesLinksNotesDeletesAndRestoresAreRecorded) {
  const int64_t contact = CreateContact(
      "{\"name\":\"Ann\",\"custom_fields_values\":[{\"field_code\":\"PHONE\",\"values\":[{"
      "\"value\":\"+15550100\"}]}]}");
  const int64_t lead = CreateLead(R"({"name":"Deal"})");
  now_ += 1;
  ASSERT_EQ(client_
                ->Patch("/api/v4/contacts/" + Id(contact),
                        "{\"name\":\"Ann Lee\",\"custom_fields_values\":[{\"field_code\":\"PHONE\","
                        "\"values\":[{\"value\":\"+15550199\",\"enum_code\":\"MOB\"}]}]}")
                .status,
            200);
  const std::vector<Seen> contact_events =
      Events("?filter[entity]=contact&filter[entity_id][]=" + Id(contact));
  ASSERT_EQ(contact_events.size(), 3u);
  EXPECT_EQ(contact_events[0].type, "custom_field_value_changed");
  EXPECT_EQ(contact_events[0].before,
            "[{\"custom_field_value\":{\"field_id\":" + Id(kPhoneFieldId) +
                ",\"field_type\":8,\"enum_id\":" + Id(kPhoneWorkEnumId) +
                ",\"text\":\"+15550100\"}}]");
  EXPECT_EQ(contact_events[0].after, "[{\"custom_field_value\":{\"field_id\":" + Id(kPhoneFieldId) +
                                         ",\"field_type\":8,\"enum_id\":" + Id(kPhoneMobEnumId) +
                                         ",\"text\":\"+15550199\"}}]");
  EXPECT_EQ(contact_events[1].type, "name_field_changed");
  EXPECT_EQ(contact_events[1].after, R"([{"name_field_value":{"name":"Ann Lee"}}])");
  EXPECT_EQ(contact_events[2].type, "contact_added");
  EXPECT_EQ(contact_events[2].entity_type, "contact");

  // A link: entity_linked on both sides; the same link again records nothing; then unlinked.
  now_ += 1;
  const std::string link =
      "[{\"to_entity_id\":" + Id(contact) + ",\"to_entity_type\":\"contacts\"}]";
  ASSERT_EQ(client_->Post("/api/v4/leads/" + Id(lead) + "/link", link).status, 200);
  ASSERT_EQ(client_->Post("/api/v4/leads/" + Id(lead) + "/link", link).status, 200);
  std::vector<Seen> linked = Events("?filter[type]=entity_linked");
  ASSERT_EQ(linked.size(), 2u);
  EXPECT_EQ(linked[0].entity_type, "contact");
  EXPECT_EQ(linked[0].after,
            "[{\"link\":{\"entity\":{\"type\":\"lead\",\"id\":" + Id(lead) + "}}}]");
  EXPECT_EQ(linked[1].entity_type, "lead");
  EXPECT_EQ(linked[1].after,
            "[{\"link\":{\"entity\":{\"type\":\"contact\",\"id\":" + Id(contact) + "}}}]");
  ASSERT_EQ(client_
                ->Post("/api/v4/contacts/" + Id(contact) + "/unlink",
                       "[{\"to_entity_id\":" + Id(lead) + ",\"to_entity_type\":\"leads\"}]")
                .status,
            204);
  EXPECT_THAT(Types("?filter[type][]=entity_unlinked"),
              ElementsAre("entity_unlinked", "entity_unlinked"));

  // Notes: common and service messages, pointing at the note.
  now_ += 1;
  const Reply notes = client_->Post(
      "/api/v4/leads/notes",
      "[{\"entity_id\":" + Id(lead) +
          ",\"note_type\":\"common\",\"params\":{\"text\":\"Called\"}},{\"entity_id\":" + Id(lead) +
          ",\"note_type\":\"service_message\",\"params\":{\"service\":\"Bot\",\"text\":\"Hi\"}}]");
  ASSERT_EQ(notes.status, 200) << notes.body;
  const int64_t note = Int(notes.Json(), "_embedded.notes.0.id");
  const std::vector<Seen> note_events =
      Events("?filter[type]=common_note_added,service_note_added");
  ASSERT_EQ(note_events.size(), 2u);
  EXPECT_EQ(note_events[1].type, "common_note_added");
  EXPECT_EQ(note_events[1].entity_id, lead);
  EXPECT_EQ(note_events[1].after, "[{\"note\":{\"id\":" + Id(note) + "}}]");
  EXPECT_EQ(note_events[0].type, "service_note_added");

  // Deleted (Kommo's UI; the emulator's admin API) and restored.
  now_ += 1;
  ASSERT_TRUE(emulator_->DeleteEntity("leads", lead).ok());
  EXPECT_EQ(client_->Get("/api/v4/leads/" + Id(lead)).status, 204);
  EXPECT_EQ(emulator_->DeleteEntity("leads", lead).code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(emulator_->RestoreEntity("leads", lead).ok());
  EXPECT_EQ(client_->Get("/api/v4/leads/" + Id(lead)).status, 200);
  const std::vector<Seen> trash = Events("?filter[type]=lead_deleted,lead_restored");
  ASSERT_EQ(trash.size(), 2u);
  EXPECT_EQ(trash[0].type, "lead_restored");
  EXPECT_EQ(trash[1].type, "lead_deleted");
  EXPECT_EQ(trash[1].before, "[]");
  EXPECT_EQ(trash[1].after, "[]");

  // The admin API does the same over HTTP.
  TestClient admin(emulator_->base_url(), "");
  const Reply deleted = admin.Post("/_emulator/contacts/" + Id(contact) + "/delete", "");
  ASSERT_EQ(deleted.status, 200) << deleted.body;
  EXPECT_EQ(client_->Get("/api/v4/contacts/" + Id(contact)).status, 204);
  EXPECT_EQ(Types("?filter[type]=contact_deleted").size(), 1u);
  EXPECT_EQ(admin.Post("/_emulator/contacts/" + Id(contact) + "/delete", "").status, 404);
}

TEST_F(EventsTest, LeadCaptureAndIncomingLeadsAreRecorded) {
  const Reply complex = client_->Post(
      "/api/v4/leads/complex",
      R"([{"name":"Form deal","_embedded":{"contacts":[{"first_name":"Bo"}],"companies":[{"name":"Acme"}]}}])");
  ASSERT_EQ(complex.status, 200) << complex.body;
  const int64_t lead = Int(complex.Json(), "0.id");
  EXPECT_THAT(Types("?filter[type]=lead_added,contact_added,company_added"),
              ::testing::UnorderedElementsAre("lead_added", "contact_added", "company_added"));
  EXPECT_EQ(
      Events("?filter[entity]=lead&filter[entity_id]=" + Id(lead) + "&filter[type]=entity_linked")
          .size(),
      2u);  // to its contact and its company

  const Reply form = client_->Post(
      "/api/v4/leads/unsorted/forms",
      "[{\"source_uid\":\"f1\",\"source_name\":\"Site\",\"pipeline_id\":" + Id(kMainPipelineId) +
          ",\"metadata\":{\"form_id\":\"1\",\"form_name\":\"Contact us\",\"form_page\":\"https://"
          "example.com\",\"form_sent_at\":1750000000},\"_embedded\":{\"leads\":[{\"name\":\"In\"}]}"
          "}]");
  ASSERT_EQ(form.status, 200) << form.body;
  const std::string uid = Str(form.Json(), "_embedded.unsorted.0.uid");
  const int64_t incoming = Int(form.Json(), "_embedded.unsorted.0._embedded.leads.0.id");
  now_ += 1;
  ASSERT_EQ(client_->Post("/api/v4/leads/unsorted/" + uid + "/accept", "").status, 200);
  const std::vector<Seen> moved = Events("?filter[type]=lead_status_changed");
  ASSERT_EQ(moved.size(), 1u);
  EXPECT_EQ(moved[0].entity_id, incoming);
  EXPECT_EQ(moved[0].before, "[{\"lead_status\":{\"id\":" + Id(kMainPipelineIncomingStatusId) +
                                 ",\"pipeline_id\":" + Id(kMainPipelineId) + "}}]");
}

// --- filters -------------------------------------------------------------------------------

TEST_F(EventsTest, FiltersSelectByTypeEntityTimeAuthorAndValues) {
  const int64_t first = CreateLead(R"({"name":"A"})");
  now_ += 10;
  const int64_t second = CreateLead(R"({"name":"B"})");
  EXPECT_GT(CreateContact(R"({"name":"C"})"), 0);
  now_ += 10;
  ASSERT_EQ(
      client_
          ->Patch("/api/v4/leads",
                  "[{\"id\":" + Id(first) + ",\"status_id\":" + Id(kMainPipelineSecondStatusId) +
                      "},{\"id\":" + Id(second) + ",\"status_id\":" + Id(kWonStatusId) + "}]")
          .status,
      200);
  TestClient manager(emulator_->base_url(), "manager-token");
  ASSERT_EQ(manager
                .Patch("/api/v4/leads/" + Id(second),
                       "{\"responsible_user_id\":" + Id(kManagerUserId) + "}")
                .status,
            200);

  EXPECT_EQ(Events().size(), 6u);
  // Types: a comma list, an array, and a bare key that repeats (the last one counts, as PHP).
  EXPECT_EQ(Events("?filter[type]=lead_added,contact_added").size(), 3u);
  EXPECT_EQ(Events("?filter[type][]=lead_added&filter[type][]=contact_added").size(), 3u);
  EXPECT_EQ(Events("?filter[type]=lead_added&filter[type]=contact_added").size(), 1u);
  // Entity types, and entity ids with exactly one entity type.
  EXPECT_EQ(Events("?filter[entity][]=contact").size(), 1u);
  EXPECT_EQ(Events("?filter[entity]=lead,contact").size(), 6u);
  EXPECT_EQ(Events("?filter[entity]=lead&filter[entity_id][]=" + Id(second)).size(), 3u);
  EXPECT_EQ(Events("?filter[entity]=lead&filter[entity_id]=" + Id(first) + "," + Id(second)).size(),
            5u);
  EXPECT_EQ(Events("?filter[entity]=task").size(), 0u);
  // Time: a range, a single value (from then on), "from,to".
  EXPECT_EQ(Events("?filter[created_at][from]=" + Id(kStartTime + 10) +
                   "&filter[created_at][to]=" + Id(kStartTime + 10))
                .size(),
            2u);
  EXPECT_EQ(Events("?filter[created_at]=" + Id(kStartTime + 20)).size(), 3u);
  EXPECT_EQ(Events("?filter[created_at]=" + Id(kStartTime) + "," + Id(kStartTime + 10)).size(), 3u);
  // Author.
  EXPECT_EQ(Events("?filter[created_by][]=" + Id(kManagerUserId)).size(), 1u);
  EXPECT_EQ(Events("?filter[created_by]=" + Id(kAdminUserId) + "," + Id(kManagerUserId)).size(),
            6u);
  // Values after and before.
  const std::vector<Seen> won =
      Events("?filter[value_after][leads_statuses][0][pipeline_id]=" + Id(kMainPipelineId) +
             "&filter[value_after][leads_statuses][0][status_id]=" + Id(kWonStatusId));
  ASSERT_EQ(won.size(), 1u);
  EXPECT_EQ(won[0].entity_id, second);
  EXPECT_EQ(Events("?filter[value_after][leads_statuses][0][pipeline_id]=" + Id(kMainPipelineId) +
                   "&filter[value_after][leads_statuses][0][status_id]=" + Id(kWonStatusId) +
                   "&filter[value_after][leads_statuses][1][pipeline_id]=" + Id(kMainPipelineId) +
                   "&filter[value_after][leads_statuses][1][status_id]=" +
                   Id(kMainPipelineSecondStatusId))
                .size(),
            2u);
  EXPECT_EQ(Events("?filter[value_after][leads_statuses][0][pipeline_id]=" + Id(kSecondPipelineId) +
                   "&filter[value_after][leads_statuses][0][status_id]=" + Id(kWonStatusId))
                .size(),
            0u);
  EXPECT_EQ(Events("?filter[value_before][leads_statuses][0][status_id]=" +
                   Id(kMainPipelineFirstStatusId))
                .size(),
            2u);
  EXPECT_EQ(Events("?filter[value_after][responsible_user_id]=" + Id(kManagerUserId)).size(), 1u);
  // Event ids.
  const std::vector<Seen> all = Events();
  EXPECT_EQ(Events("?filter[id]=" + all[0].id + "," + all[5].id).size(), 2u);
  EXPECT_EQ(Events("?filter[id][]=" + all[3].id).size(), 1u);
}

TEST_F(EventsTest, PerFieldTypesValuesAndWithNames) {
  const int64_t lead = CreateLead(R"({"name":"A","price":5})");
  now_ += 1;
  ASSERT_EQ(
      client_
          ->Patch("/api/v4/leads/" + Id(lead),
                  "{\"price\":155,\"custom_fields_values\":[{\"field_id\":" + Id(kProductFieldId) +
                      ",\"values\":[{\"enum_id\":" + Id(kProductBasicEnumId) +
                      "}]},{\"field_id\":" + Id(kUnitsFieldId) + ",\"values\":[{\"value\":7}]}]}")
          .status,
      200);
  EXPECT_EQ(Events("?filter[type]=custom_field_value_changed").size(), 2u);
  const std::vector<Seen> product =
      Events("?filter[type]=custom_field_" + Id(kProductFieldId) + "_value_changed");
  ASSERT_EQ(product.size(), 1u);
  EXPECT_THAT(product[0].after, HasSubstr("\"enum_id\":" + Id(kProductBasicEnumId)));
  EXPECT_EQ(
      Events("?filter[type]=custom_field_" + Id(kProductFieldId) +
             "_value_changed&filter[value_after][custom_field_values]=" + Id(kProductBasicEnumId))
          .size(),
      1u);
  EXPECT_EQ(
      Events("?filter[type]=custom_field_" + Id(kProductFieldId) +
             "_value_changed&filter[value_after][custom_field_values]=" + Id(kProductProEnumId))
          .size(),
      0u);
  EXPECT_EQ(Events("?filter[type]=sale_field_changed&filter[value_after][value]=155").size(), 1u);
  EXPECT_EQ(Events("?filter[type]=sale_field_changed&filter[value_before][value]=5").size(), 1u);
  EXPECT_EQ(Events("?filter[value_after][value]=7").size(), 1u);  // the numeric field's text

  const Reply named = client_->Get("/api/v4/events?filter[type]=lead_added&with=lead_name");
  ASSERT_EQ(named.status, 200);
  EXPECT_EQ(Str(named.Json(), "_embedded.events.0._embedded.entity.name"), "A");
}

TEST_F(EventsTest, BadQueriesAreRefusedWithAClearError) {
  CreateLead(R"({"name":"A"})");
  ExpectProblem(client_->Get("/api/v4/events?limit=101"), 400, "limit must be from 1 to 100");
  ExpectProblem(client_->Get("/api/v4/events?limit=0"), 400, "limit");
  ExpectProblem(client_->Get("/api/v4/events?limit=ten"), 400, "limit");
  ExpectProblem(client_->Get("/api/v4/events?page=0"), 400, "page");
  ExpectProblem(client_->Get("/api/v4/events?filter[entity_id]=1"), 400,
                "filter[entity_id] needs filter[entity] with exactly one entity type");
  ExpectProblem(client_->Get("/api/v4/events?filter[entity]=lead,contact&filter[entity_id]=1"), 400,
                "exactly one entity type");
  ExpectProblem(
      client_->Get("/api/v4/events?filter[entity]=lead&filter[entity_id]=1,2,3,4,5,6,7,8,9,10,11"),
      400, "at most 10");
  ExpectProblem(client_->Get("/api/v4/events?filter[created_by]=1,2,3,4,5,6,7,8,9,10,11"), 400,
                "at most 10");
  ExpectProblem(client_->Get("/api/v4/events?filter[entity]=lead&filter[entity_id]=x"), 400,
                "integers");
  ExpectProblem(client_->Get("/api/v4/events?filter[created_at][from]=yesterday"), 400,
                "Unix timestamp");
  ExpectProblem(client_->Get("/api/v4/events?filter[type]=custom_field_5_value_changed,lead_added"),
                400, "cannot be combined");
  ExpectProblem(
      client_->Get("/api/v4/events?filter[value_after][leads_statuses][0][pipeline_id]=1"), 400,
      "needs [status_id]");
  ExpectProblem(client_->Get("/api/v4/events?filter[value_after][colour]=red"), 400,
                "not a known filter");
  ExpectProblem(client_->Post("/api/v4/events", "[]"), 405, "not allowed");
  // The same auth as every endpoint.
  TestClient anonymous(emulator_->base_url(), "");
  EXPECT_EQ(anonymous.Get("/api/v4/events").status, 401);
  // A limit of 100 is fine.
  EXPECT_EQ(client_->Get("/api/v4/events?limit=100").status, 200);
}

// --- order, pages, 204, bounded history, faults ---------------------------------------------

TEST_F(EventsTest, PagesGoNewestFirstAndEndWith204) {
  for (int i = 0; i < 7; ++i) {
    CreateLead("{\"name\":\"L" + std::to_string(i) + "\"}");
    if (i % 2 == 1) now_ += 1;  // several events share a second
  }
  const Reply first = client_->Get("/api/v4/events?limit=3&filter[type]=lead_added");
  ASSERT_EQ(first.status, 200);
  const rapidjson::Document doc = first.Json();
  EXPECT_EQ(Size(doc, "_embedded.events"), 3u);
  EXPECT_THAT(Str(doc, "_links.next.href"),
              HasSubstr("/api/v4/events?filter%5Btype%5D=lead_added&page=2&limit=3"));
  std::vector<Seen> listed;
  for (int page = 1; page <= 3; ++page) {
    for (Seen& e : Events("?filter[type]=lead_added&limit=3&page=" + std::to_string(page))) {
      listed.push_back(std::move(e));
    }
  }
  ASSERT_EQ(listed.size(), 7u);
  for (size_t i = 1; i < listed.size(); ++i) {
    EXPECT_GE(listed[i - 1].created_at, listed[i].created_at);
    EXPECT_GT(listed[i - 1].entity_id, listed[i].entity_id);  // later leads first
  }
  const Reply last = client_->Get("/api/v4/events?filter[type]=lead_added&limit=3&page=3");
  EXPECT_FALSE(Has(last.Json(), "_links.next"));
  const Reply beyond = client_->Get("/api/v4/events?filter[type]=lead_added&limit=3&page=4");
  EXPECT_EQ(beyond.status, 204);
  EXPECT_TRUE(beyond.body.empty());
  const Reply none = client_->Get("/api/v4/events?filter[type]=lead_deleted");
  EXPECT_EQ(none.status, 204);
  EXPECT_TRUE(none.body.empty());
}

TEST_F(EventsTest, HistoryIsBoundedByCountAndAge) {
  EventHistoryOptions history;
  history.max_events = 3;
  Start(history);
  std::vector<int64_t> leads;
  for (int i = 0; i < 5; ++i) {
    leads.push_back(CreateLead(R"({"name":"L"})"));
    now_ += 30;
  }
  EXPECT_EQ(emulator_->event_count(), 3u);
  std::vector<Seen> kept = Events();
  ASSERT_EQ(kept.size(), 3u);
  EXPECT_EQ(kept.back().entity_id, leads[2]);  // the two oldest are gone for good
  EXPECT_TRUE(Events("?filter[created_at][to]=" + Id(kStartTime + 30)).empty());

  // By age: events older than 60 s (against the clock) drop out, also without new writes.
  history.max_events = 100;
  history.max_age = std::chrono::seconds(60);
  ASSERT_TRUE(emulator_->SetEventHistory(history).ok());
  kept = Events();  // now = start + 150: only events at start + 90 and + 120 remain
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_EQ(kept.back().created_at, kStartTime + 90);
  now_ += 100;
  EXPECT_EQ(client_->Get("/api/v4/events").status, 204);
  EXPECT_EQ(emulator_->event_count(), 0u);

  EXPECT_EQ(emulator_->SetEventHistory(EventHistoryOptions{0, {}}).code(),
            absl::StatusCode::kInvalidArgument);

  // The admin API sets the same bounds and clears the history.
  TestClient admin(emulator_->base_url(), "");
  CreateLead(R"({"name":"L"})");
  CreateLead(R"({"name":"L"})");
  const Reply state = admin.Post("/_emulator/events", R"({"max_events":1})");
  ASSERT_EQ(state.status, 200) << state.body;
  EXPECT_EQ(Int(state.Json(), "count"), 1);
  EXPECT_EQ(Int(state.Json(), "max_events"), 1);
  EXPECT_EQ(Int(state.Json(), "max_age_seconds"), 60);
  EXPECT_EQ(admin.Post("/_emulator/events", R"({"max_events":0})").status, 400);
  EXPECT_EQ(admin.Post("/_emulator/events", R"({"colour":1})").status, 400);
  EXPECT_EQ(Int(admin.Send("DELETE", "/_emulator/events", nullptr, {}).Json(), "count"), 0);
  EXPECT_TRUE(IsNull(admin.Get("/_emulator/events").Json(), "oldest_created_at"));
}

TEST_F(EventsTest, TheEventsPollMeetsFaultsAndTheRateLimit) {
  CreateLead(R"({"name":"A"})");
  FaultRule rule;
  rule.method = "GET";
  rule.path_prefix = "/api/v4/events";
  rule.status = 429;
  rule.times = 2;
  ASSERT_TRUE(emulator_->AddFault(rule).ok());
  const Reply limited = client_->Get("/api/v4/events");
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(Int(limited.Json(), "retry_after"), 1);
  EXPECT_EQ(client_->Get("/api/v4/events?limit=10").status, 429);
  EXPECT_EQ(client_->Get("/api/v4/leads").status, 200);  // other paths are not matched
  EXPECT_EQ(client_->Get("/api/v4/events").status, 200);

  // Over the admin API, as an nginx page; and a 5xx.
  TestClient admin(emulator_->base_url(), "");
  ASSERT_EQ(
      admin
          .Post("/_emulator/faults",
                R"([{"match":"GET /api/v4/events","fault":"status","status":429,"body":"html"},
                          {"match":"GET /api/v4/events","fault":"status","status":503,"after":1}])")
          .status,
      200);
  const Reply html = client_->Get("/api/v4/events");
  EXPECT_EQ(html.status, 429);
  EXPECT_THAT(html.body, HasSubstr("<html>"));
  EXPECT_EQ(client_->Get("/api/v4/events").status, 503);

  // The request log counts the events route like any other.
  bool counted = false;
  for (const RequestCount& count : emulator_->request_counts()) {
    if (count.path == "/api/v4/events" && count.status == 429) counted = count.count == 3;
  }
  EXPECT_TRUE(counted);
}

TEST_F(EventsTest, ResetForgetsEventsAndIdsStartOver) {
  CreateLead(R"({"name":"A"})");
  const std::string first_note = Events()[0].after;
  emulator_->Reset();
  EXPECT_EQ(emulator_->event_count(), 0u);
  CreateLead(R"({"name":"A"})");
  EXPECT_EQ(Events()[0].after, first_note);  // the system note ids start over too
  emulator_->ResetData();
  EXPECT_EQ(client_->Get("/api/v4/events").status, 204);
}

}  // namespace
}  // namespace kommo::emulator
