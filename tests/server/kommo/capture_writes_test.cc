// The lead-capture writes through the one write path (write_batcher.h with the descriptions of
// entities.h), against a small model of Kommo's capture endpoints on a fake clock: actions on an
// incoming lead go one per request to their own path, complex creates ride one request and are
// matched by their request_id arrays, and a note batch rejected for one item's unknown entity
// fails that item alone and sends the others again only after the read that rules out a create.

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"
#include "server/common/error_details.h"
#include "server/kommo/kommo_client.h"
#include "tests/support/fake_event_loop.h"
#include "tests/support/matches.h"

namespace kommo::rest {
namespace {

using ::kommo::testing::FakeEventLoop;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kBase[] = "https://acme.kommo.com/api/v4";

// Kommo's leads, contacts, incoming leads and notes, as far as the capture writes need them.
// Requests are applied when they arrive and answered `latency` later.
class CaptureKommo final : public http::HttpTransport {
 public:
  struct Lead {
    std::string name;
    int64_t status_id = 60000002;
  };
  struct Contact {
    std::string phone;
  };
  struct Note {
    int64_t entity_id = 0;
    std::string text;
    int64_t updated_at = 0;
  };
  struct Seen {
    http::Method method;
    std::string path;
    std::string query;
    std::string body;
  };

  explicit CaptureKommo(FakeEventLoop* loop) : loop_(loop) {}

  absl::Duration latency = absl::Milliseconds(100);
  std::map<int64_t, Lead> leads;
  std::map<int64_t, Contact> contacts;
  std::map<std::string, int64_t> unsorted;  // pending incoming leads: uid → their lead
  std::map<int64_t, Note> notes;
  // Accepts answered 503 after they were applied, and accepts refused with 429 (not applied).
  int accept_503s = 0;
  int accept_429s = 0;
  // Whether a note batch rejected for some items keeps its valid ones (Kommo's behaviour is
  // unverified; the batcher must not double a note either way).
  bool notes_partial = false;
  std::vector<Seen> requests;

  RequestId Send(http::HttpRequest request, Callback done) override {
    Seen seen{request.method, "", "", request.body};
    std::string rest = request.url.substr(std::string(kBase).size());
    const size_t question = rest.find('?');
    seen.path = rest.substr(0, question);
    if (question != std::string::npos) seen.query = rest.substr(question + 1);
    requests.push_back(seen);
    http::HttpResponse response = Handle(seen);
    timers_.push_back(
        loop_->RunAt(loop_->Now() + latency, [done = std::move(done), response]() mutable {
          done({response, /*request_sent=*/true});
        }));
    return requests.size();
  }
  void Cancel(RequestId) override {}

  // The requests seen as "METHOD /path".
  std::vector<std::string> Lines() const {
    std::vector<std::string> lines;
    for (const Seen& seen : requests) {
      lines.push_back(
          absl::StrCat(seen.method == http::Method::kGet ? "GET " : "POST ", seen.path));
    }
    return lines;
  }

 private:
  static http::HttpResponse Json(std::string body) { return {200, std::move(body), {}}; }
  static http::HttpResponse NotFound(const std::string& detail) {
    return {
        404, absl::StrCat(R"({"title":"Not Found","status":404,"detail":")", detail, R"("})"), {}};
  }
  static http::HttpResponse List(const std::string& collection,
                                 const std::vector<std::string>& items) {
    if (items.empty()) return {204, "", {}};
    return Json(
        absl::StrCat(R"({"_embedded":{")", collection, R"(":[)", absl::StrJoin(items, ","), "]}}"));
  }

  std::string LeadJson(int64_t id) const {
    const Lead& lead = leads.at(id);
    return absl::StrCat(R"({"id":)", id, R"(,"name":")", lead.name, R"(","status_id":)",
                        lead.status_id, R"(,"pipeline_id":7000001,"created_at":1700000000})");
  }
  std::string ContactJson(int64_t id) const {
    return absl::StrCat(R"({"id":)", id, R"(,"name":"","custom_fields_values":[)",
                        R"({"field_code":"PHONE","values":[{"value":")", contacts.at(id).phone,
                        R"("}]}]})");
  }
  std::string NoteJson(int64_t id) const {
    const Note& note = notes.at(id);
    return absl::StrCat(R"({"id":)", id, R"(,"entity_id":)", note.entity_id,
                        R"(,"note_type":"common","params":{"text":")", note.text,
                        R"("},"updated_at":)", note.updated_at, "}");
  }

  http::HttpResponse Handle(const Seen& seen) {
    const std::vector<std::string> ids =
        ::kommo::testing::AllMatches(seen.query, R"re(filter\[id\]\[\]=(\d+))re");
    if (seen.method == http::Method::kGet) {
      std::vector<std::string> items;
      if (seen.path == "/leads") {
        for (const std::string& id : ids) {
          if (leads.count(std::stoll(id))) items.push_back(LeadJson(std::stoll(id)));
        }
        return List("leads", items);
      }
      if (seen.path == "/contacts") {
        for (const std::string& id : ids) {
          if (contacts.count(std::stoll(id))) items.push_back(ContactJson(std::stoll(id)));
        }
        return List("contacts", items);
      }
      if (seen.path == "/leads/notes") {
        const std::vector<std::string> since =
            ::kommo::testing::AllMatches(seen.query, R"re(filter\[updated_at\]\[from\]=(\d+))re");
        for (const auto& [id, note] : notes) {
          const bool by_id = std::find(ids.begin(), ids.end(), absl::StrCat(id)) != ids.end();
          const bool recent = !since.empty() && note.updated_at >= std::stoll(since[0]);
          if (by_id || recent) items.push_back(NoteJson(id));
        }
        return List("notes", items);
      }
      return NotFound(absl::StrCat("Cannot GET ", seen.path));
    }
    rapidjson::Document body;
    body.Parse(seen.body.c_str());
    if (seen.path == "/leads/complex") return Complex(body);
    if (seen.path == "/leads/notes") return Notes(body);
    const std::vector<std::string> parts = absl::StrSplit(seen.path, '/');
    if (parts.size() == 5 && parts[1] == "leads" && parts[2] == "unsorted" &&
        (parts[4] == "accept" || parts[4] == "decline")) {
      if (accept_429s > 0) {
        --accept_429s;
        return {429, R"({"title":"Too Many Requests","status":429})", {{"retry-after", "1"}}};
      }
      auto it = unsorted.find(parts[3]);
      if (it == unsorted.end()) return NotFound("Unsorted not found");
      const int64_t lead_id = it->second;
      unsorted.erase(it);
      if (parts[4] == "accept" && body.IsObject() && body.HasMember("status_id")) {
        leads[lead_id].status_id = body["status_id"].GetInt64();
      }
      if (parts[4] == "accept" && accept_503s > 0) {
        --accept_503s;
        return {503, "<html>503 Service Unavailable</html>", {}};
      }
      return Json(absl::StrCat(R"({"uid":")", parts[3], R"(","_embedded":{"leads":[{"id":)",
                               lead_id, R"(}],"contacts":[]}})"));
    }
    return NotFound(absl::StrCat("Cannot POST ", seen.path));
  }

  // A bare array, request_id as arrays, in the reverse order of the items; a contact whose phone
  // is known is merged into the existing one.
  http::HttpResponse Complex(const rapidjson::Document& body) {
    std::vector<std::string> answers;
    for (const rapidjson::Value& item : body.GetArray()) {
      const int64_t lead_id = next_id_++;
      leads[lead_id] = Lead{item["name"].GetString()};
      const rapidjson::Value& contact = item["_embedded"]["contacts"][0];
      const std::string phone =
          contact["custom_fields_values"][0]["values"][0]["value"].GetString();
      int64_t contact_id = 0;
      for (const auto& [id, known] : contacts) {
        if (known.phone == phone) contact_id = id;
      }
      const bool merged = contact_id != 0;
      if (!merged) {
        contact_id = next_id_++;
        contacts[contact_id] = Contact{phone};
      }
      answers.insert(
          answers.begin(),
          absl::StrCat(R"({"id":)", lead_id, R"(,"contact_id":)", contact_id,
                       R"(,"company_id":null,"request_id":[")", item["request_id"].GetString(),
                       R"("],"merged":)", merged ? "true" : "false", "}"));
    }
    return Json(absl::StrCat("[", absl::StrJoin(answers, ","), "]"));
  }

  // All or nothing (unless `notes_partial`): a note on an unknown lead rejects the batch.
  http::HttpResponse Notes(const rapidjson::Document& body) {
    std::vector<std::string> invalid;
    for (const rapidjson::Value& item : body.GetArray()) {
      if (leads.count(item["entity_id"].GetInt64()) == 0) {
        invalid.push_back(absl::StrCat(
            R"({"request_id":")", item["request_id"].GetString(),
            R"(","errors":[{"code":"NotFound","path":"entity_id","detail":"Entity not found"}]})"));
      }
    }
    std::vector<std::string> created;
    if (invalid.empty() || notes_partial) {
      for (const rapidjson::Value& item : body.GetArray()) {
        if (leads.count(item["entity_id"].GetInt64()) == 0) continue;
        const int64_t id = next_id_++;
        notes[id] = Note{item["entity_id"].GetInt64(), item["params"]["text"].GetString(),
                         absl::ToUnixSeconds(absl::Now())};
        created.push_back(absl::StrCat(R"({"id":)", id, R"(,"entity_id":)", notes[id].entity_id,
                                       R"(,"request_id":")", item["request_id"].GetString(),
                                       R"("})"));
      }
    }
    if (!invalid.empty()) {
      return {400,
              absl::StrCat(R"({"title":"Bad Request","status":400,"detail":"Request validation )",
                           R"(failed","validation-errors":[)", absl::StrJoin(invalid, ","), "]}"),
              {}};
    }
    return Json(absl::StrCat(R"({"_embedded":{"notes":[)", absl::StrJoin(created, ","), "]}}"));
  }

  FakeEventLoop* loop_;
  int64_t next_id_ = 31000000001;
  std::vector<EventLoop::TimerPtr> timers_;
};

std::string Reason(const absl::Status& status) {
  auto info = GetErrorInfo(status);
  return info.has_value() ? info->reason() : "<none>";
}

template <typename T>
using Result = std::optional<absl::StatusOr<T>>;

template <typename T>
Done<T> Into(Result<T>& out) {
  return [&out](absl::StatusOr<T> result) {
    ASSERT_FALSE(out.has_value()) << "answered twice";
    out = std::move(result);
  };
}

class CaptureWritesTest : public ::testing::Test {
 protected:
  CaptureWritesTest() : kommo_(&loop_) {}

  void Start(absl::Duration window = absl::Milliseconds(2)) {
    KommoClientOptions options;
    options.api_base_url = kBase;
    options.access_token = "t";
    options.rate_limit_rps = 50;
    options.coalesce_window = window;
    options.random_seed = 7;
    client_ = NewKommoClient(options, &kommo_, &loop_);
  }

  CallOptions Patient() { return {loop_.Now() + absl::Seconds(60), nullptr, nullptr}; }

  void Accept(const std::string& uid, int64_t status_id, Result<v1::Lead>& out) {
    v1::AcceptIncomingLeadRequest request;
    request.set_uid(uid);
    request.set_status_id(status_id);
    client_->AcceptIncomingLead(request, Patient(), Into(out));
  }

  void AddNote(int64_t lead_id, const std::string& text, Result<v1::Note>& out) {
    v1::AddNoteRequest request;
    request.set_entity_type(v1::ENTITY_TYPE_LEAD);
    request.set_entity_id(lead_id);
    request.set_text(text);
    client_->AddNote(request, Patient(), Into(out));
  }

  FakeEventLoop loop_;
  CaptureKommo kommo_;
  std::unique_ptr<KommoClient> client_;
};

// ---- actions on incoming leads ------------------------------------------------------------------

TEST_F(CaptureWritesTest, QueuedAcceptsGoOneByOneEachToItsOwnUid) {
  Start(/*window=*/absl::Milliseconds(50));
  const std::vector<std::string> uids = {"uA", "uB", "uC"};
  for (size_t i = 0; i < uids.size(); ++i) {
    kommo_.leads[101 + i] = {absl::StrCat("incoming ", i)};
    kommo_.unsorted[uids[i]] = 101 + i;
  }
  std::vector<Result<v1::Lead>> results(3);
  for (size_t i = 0; i < uids.size(); ++i) Accept(uids[i], 142000 + i, results[i]);
  loop_.Advance(absl::Seconds(30));

  std::vector<std::string> posts;
  for (const CaptureKommo::Seen& seen : kommo_.requests) {
    if (seen.method != http::Method::kPost) continue;
    posts.push_back(absl::StrCat(seen.path, " ", seen.body));
  }
  EXPECT_THAT(posts, ElementsAre(R"(/leads/unsorted/uA/accept {"status_id":142000})",
                                 R"(/leads/unsorted/uB/accept {"status_id":142001})",
                                 R"(/leads/unsorted/uC/accept {"status_id":142002})"));
  for (size_t i = 0; i < uids.size(); ++i) {
    ASSERT_TRUE(results[i].has_value());
    ASSERT_TRUE(results[i]->ok()) << results[i]->status();
    EXPECT_EQ((*results[i])->id(), static_cast<int64_t>(101 + i));
    EXPECT_EQ((*results[i])->status_id(), static_cast<int64_t>(142000 + i)) << "read back";
  }
  EXPECT_TRUE(kommo_.unsorted.empty());
}

TEST_F(CaptureWritesTest, A404OnAnAcceptIsIncomingLeadNotFoundAndIsNotRepeated) {
  Start();
  Result<v1::Lead> result;
  Accept("unknown-uid", 0, result);
  loop_.Advance(absl::Seconds(30));
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Reason(result->status()), "INCOMING_LEAD_NOT_FOUND");
  EXPECT_THAT(kommo_.Lines(), ElementsAre("POST /leads/unsorted/unknown-uid/accept"));
}

TEST_F(CaptureWritesTest, ASecondAcceptOfOneUidWaitsForTheFirstAndIsToldNotFound) {
  Start(/*window=*/absl::Milliseconds(50));
  kommo_.leads[101] = {"incoming"};
  kommo_.unsorted["uA"] = 101;
  Result<v1::Lead> first, second;
  Accept("uA", 0, first);
  Accept("uA", 0, second);
  loop_.Advance(absl::Seconds(30));
  ASSERT_TRUE(first.has_value() && second.has_value());
  ASSERT_TRUE(first->ok()) << first->status();
  EXPECT_EQ((*first)->id(), 101);
  EXPECT_EQ(Reason(second->status()), "INCOMING_LEAD_NOT_FOUND");
  // The first accept's read-back holds while the second (which would need one too) is under way,
  // then goes alone: the second was refused.
  EXPECT_THAT(kommo_.Lines(), ElementsAre("POST /leads/unsorted/uA/accept",
                                          "POST /leads/unsorted/uA/accept", "GET /leads"));
}

TEST_F(CaptureWritesTest, AnAcceptAnswered503HasAnUnknownOutcomeAndIsNotRepeated) {
  Start();
  kommo_.leads[101] = {"incoming"};
  kommo_.unsorted["uA"] = 101;
  kommo_.accept_503s = 1;
  Result<v1::Lead> result;
  Accept("uA", 0, result);
  loop_.Advance(absl::Seconds(30));
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(Reason(result->status()), "WRITE_OUTCOME_UNKNOWN");
  EXPECT_THAT(kommo_.Lines(), ElementsAre("POST /leads/unsorted/uA/accept"));
}

TEST_F(CaptureWritesTest, AnAcceptRefusedWith429IsSentAgainToItsOwnUid) {
  Start();
  kommo_.leads[101] = {"incoming"};
  kommo_.unsorted["uA"] = 101;
  kommo_.accept_429s = 1;
  Result<v1::Lead> result;
  Accept("uA", 142, result);
  loop_.Advance(absl::Seconds(30));
  ASSERT_TRUE(result.has_value());
  ASSERT_TRUE(result->ok()) << result->status();
  EXPECT_EQ((*result)->status_id(), 142);
  EXPECT_THAT(kommo_.Lines(), ElementsAre("POST /leads/unsorted/uA/accept",
                                          "POST /leads/unsorted/uA/accept", "GET /leads"));
  EXPECT_EQ(kommo_.requests[1].body, R"({"status_id":142})");
}

TEST_F(CaptureWritesTest, ADeclineIsAnsweredWithItsUidAndA404IsNotFound) {
  Start(/*window=*/absl::Milliseconds(50));
  kommo_.leads[101] = {"incoming"};
  kommo_.unsorted["uA"] = 101;
  Result<v1::DeclineIncomingLeadResponse> declined, unknown;
  v1::DeclineIncomingLeadRequest request;
  request.set_uid("uA");
  request.set_user_id(504141);
  client_->DeclineIncomingLead(request, Patient(), Into(declined));
  request.set_uid("uZ");
  client_->DeclineIncomingLead(request, Patient(), Into(unknown));
  loop_.Advance(absl::Seconds(30));
  ASSERT_TRUE(declined.has_value() && unknown.has_value());
  ASSERT_TRUE(declined->ok()) << declined->status();
  EXPECT_EQ((*declined)->uid(), "uA");
  EXPECT_EQ(Reason(unknown->status()), "INCOMING_LEAD_NOT_FOUND");
  ASSERT_EQ(kommo_.requests.size(), 2u);
  EXPECT_EQ(kommo_.requests[0].path, "/leads/unsorted/uA/decline");
  EXPECT_EQ(kommo_.requests[0].body, R"({"user_id":504141})");
  EXPECT_EQ(kommo_.requests[1].path, "/leads/unsorted/uZ/decline");
}

// ---- leads with contacts ------------------------------------------------------------------------

TEST_F(CaptureWritesTest, FiftyLeadsWithContactsRideOneComplexPostMatchedByRequestId) {
  Start();
  const auto phone_of = [](int i) { return absl::StrCat("+7999000", 1000 + i); };
  kommo_.contacts[777] = {phone_of(7)};  // Kommo's duplicate control merges into it
  std::vector<Result<v1::CreateLeadWithContactResponse>> results(50);
  for (int i = 0; i < 50; ++i) {
    v1::CreateLeadWithContactRequest request;
    request.set_name(absl::StrCat("lead ", i));
    request.mutable_contact()->add_phones(phone_of(i));
    client_->CreateLeadWithContact(request, Patient(), Into(results[i]));
  }
  loop_.Advance(absl::Seconds(30));

  EXPECT_THAT(kommo_.Lines(), ElementsAre("POST /leads/complex", "GET /leads", "GET /contacts"));
  rapidjson::Document sent;
  sent.Parse(kommo_.requests[0].body.c_str());
  ASSERT_TRUE(sent.IsArray());
  EXPECT_EQ(sent.Size(), 50u);
  std::set<std::string> request_ids;
  for (const rapidjson::Value& item : sent.GetArray()) {
    request_ids.insert(item["request_id"].GetString());
  }
  EXPECT_EQ(request_ids.size(), 50u);
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(results[i].has_value()) << i;
    ASSERT_TRUE(results[i]->ok()) << i << ": " << results[i]->status();
    const v1::CreateLeadWithContactResponse& response = **results[i];
    EXPECT_EQ(response.lead().name(), absl::StrCat("lead ", i));
    EXPECT_THAT(response.contact().phones(), ElementsAre(phone_of(i))) << i;
    EXPECT_EQ(response.contact_merged(), i == 7) << i;
    if (i == 7) {
      EXPECT_EQ(response.contact().id(), 777);
    }
  }
  EXPECT_EQ(kommo_.leads.size(), 50u);
  EXPECT_EQ(kommo_.contacts.size(), 50u) << "49 created, one merged";
}

// ---- notes --------------------------------------------------------------------------------------

TEST_F(CaptureWritesTest, ANoteOnAnUnknownLeadFailsAloneAndTheOthersGoAfterTheRuleOutRead) {
  Start(/*window=*/absl::Milliseconds(20));
  kommo_.leads[1001] = {"one"};
  kommo_.leads[1002] = {"two"};
  Result<v1::Note> a, missing, c;
  AddNote(1001, "first", a);
  AddNote(777, "lost", missing);
  AddNote(1002, "third", c);
  loop_.Advance(absl::Seconds(30));

  ASSERT_TRUE(missing.has_value());
  EXPECT_EQ(missing->status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Reason(missing->status()), "LEAD_NOT_FOUND");
  EXPECT_EQ(GetErrorInfo(missing->status())->metadata().at("lead_id"), "777");
  for (Result<v1::Note>* note : {&a, &c}) {
    ASSERT_TRUE(note->has_value());
    ASSERT_TRUE((*note)->ok()) << (*note)->status();
  }
  EXPECT_EQ((*a)->entity_id(), 1001);
  EXPECT_EQ((*a)->text(), "first");
  EXPECT_EQ((*a)->entity_type(), v1::ENTITY_TYPE_LEAD);
  EXPECT_EQ((*c)->entity_id(), 1002);
  EXPECT_EQ((*c)->text(), "third");

  // Rejected, ruled out, sent again without the unknown lead's note, read back.
  EXPECT_THAT(kommo_.Lines(), ElementsAre("POST /leads/notes", "GET /leads/notes",
                                          "POST /leads/notes", "GET /leads/notes"));
  EXPECT_THAT(kommo_.requests[1].query, HasSubstr("filter[updated_at][from]="));
  EXPECT_THAT(kommo_.requests[0].body, HasSubstr(R"("entity_id":777)"));
  EXPECT_THAT(kommo_.requests[2].body, ::testing::Not(HasSubstr(R"("entity_id":777)")));
  EXPECT_THAT(kommo_.requests[2].body, HasSubstr(R"("entity_id":1001)"));
  EXPECT_THAT(kommo_.requests[2].body, HasSubstr(R"("entity_id":1002)"));
  EXPECT_EQ(kommo_.notes.size(), 2u);
}

TEST_F(CaptureWritesTest, NotesKeptByAPartiallyRejectedBatchAreNeverSentAgain) {
  Start(/*window=*/absl::Milliseconds(20));
  kommo_.notes_partial = true;
  kommo_.leads[1001] = {"one"};
  Result<v1::Note> kept, missing;
  AddNote(1001, "first", kept);
  AddNote(777, "lost", missing);
  loop_.Advance(absl::Seconds(30));
  ASSERT_TRUE(kept.has_value() && missing.has_value());
  EXPECT_EQ(Reason(missing->status()), "LEAD_NOT_FOUND");
  EXPECT_EQ(kept->status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(Reason(kept->status()), "WRITE_OUTCOME_UNKNOWN");
  EXPECT_THAT(kommo_.Lines(), ElementsAre("POST /leads/notes", "GET /leads/notes"));
  EXPECT_EQ(kommo_.notes.size(), 1u) << "the note Kommo kept is not doubled";
}

}  // namespace
}  // namespace kommo::rest
