// The emulator's Kommo API v4, driven over HTTP with libcurl like a real client would.
#include <curl/curl.h>

#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "emulator/emulator.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/emulator/test_client.h"
#include "tests/emulator/test_helpers.h"

namespace kommo::emulator {
namespace {

using testing::At;
using testing::Bool;
using testing::CreateLeads;
using testing::ExpectProblem;
using testing::ExpectValidationError;
using testing::Has;
using ::testing::HasSubstr;
using testing::Int;
using testing::IsNull;
using testing::Reply;
using testing::Size;
using testing::Str;
using testing::TestClient;

constexpr char kToken[] = "admin-token";
constexpr char kManagerToken[] = "manager-token";
constexpr int64_t kStartTime = 1750000000;

std::string LeadsPath(int64_t id) { return "/api/v4/leads/" + std::to_string(id); }
std::string ContactsPath(int64_t id) { return "/api/v4/contacts/" + std::to_string(id); }

class EmulatorApiTest : public ::testing::Test {
 protected:
  void SetUp() override { StartEmulator(true); }

  void StartEmulator(bool all_or_nothing) {
    emulator_.reset();
    EmulatorOptions options;
    options.token = kToken;
    options.manager_token = kManagerToken;
    options.batch_all_or_nothing = all_or_nothing;
    options.clock = [this] { return now_.load(); };
    auto emulator = Emulator::Start(options);
    ASSERT_TRUE(emulator.ok()) << emulator.status();
    emulator_ = *std::move(emulator);
    client_ = std::make_unique<TestClient>(emulator_->base_url(), kToken);
  }

  // POST one lead (a JSON object) and return its id, or 0.
  int64_t CreateLead(const std::string& json_object) {
    const Reply reply = client_->Post("/api/v4/leads", "[" + json_object + "]");
    EXPECT_EQ(reply.status, 200) << reply.body;
    if (reply.status != 200) return 0;
    return Int(reply.Json(), "_embedded.leads.0.id");
  }
  int64_t CreateContact(const std::string& json_object) {
    const Reply reply = client_->Post("/api/v4/contacts", "[" + json_object + "]");
    EXPECT_EQ(reply.status, 200) << reply.body;
    if (reply.status != 200) return 0;
    return Int(reply.Json(), "_embedded.contacts.0.id");
  }

  std::atomic<int64_t> now_{kStartTime};
  std::unique_ptr<Emulator> emulator_;
  std::unique_ptr<TestClient> client_;
};

// --- auth, headers, routing ------------------------------------------------------------------

TEST_F(EmulatorApiTest, MissingOrWrongTokenIs401ProblemJson) {
  TestClient anonymous(emulator_->base_url(), "");
  const Reply missing = anonymous.Get("/api/v4/leads");
  ExpectProblem(missing, 401, "");
  EXPECT_EQ(Str(missing.Json(), "title"), "Unauthorized");

  TestClient wrong(emulator_->base_url(), "not-the-token");
  ExpectProblem(wrong.Get("/api/v4/account"), 401, "");
  ExpectProblem(wrong.Post("/api/v4/leads", R"([{"name":"x"}])"), 401, "");
  EXPECT_EQ(emulator_->lead_count(), 0u);
}

TEST_F(EmulatorApiTest, AnyTokenIsAcceptedWhenNoneIsConfigured) {
  auto open = Emulator::Start(EmulatorOptions{});
  ASSERT_TRUE(open.ok());
  TestClient client((*open)->base_url(), "whatever");
  EXPECT_EQ(client.Get("/api/v4/account").status, 200);
  TestClient anonymous((*open)->base_url(), "");
  EXPECT_EQ(anonymous.Get("/api/v4/account").status, 401);
}

TEST_F(EmulatorApiTest, EveryResponseHasAUniqueRequestIdAndTheRightContentType) {
  const Reply ok = client_->Get("/api/v4/account");
  const Reply none = client_->Get(LeadsPath(kFirstLeadId));
  const Reply error = client_->Get("/api/v4/nothing");
  std::set<std::string> ids;
  for (const Reply* reply : {&ok, &none, &error}) {
    EXPECT_FALSE(reply->Header("x-request-id").empty());
    ids.insert(reply->Header("x-request-id"));
  }
  EXPECT_EQ(ids.size(), 3u);
  EXPECT_EQ(ok.Header("content-type"), "application/hal+json");
  EXPECT_EQ(none.status, 204);
  EXPECT_EQ(none.Header("content-type"), "");
  EXPECT_EQ(none.body, "");
  EXPECT_EQ(error.Header("content-type"), "application/problem+json");
}

TEST_F(EmulatorApiTest, UnknownRoutesAre404AndWrongMethodsAre405) {
  ExpectProblem(client_->Get("/api/v4/nothing"), 404, "/api/v4/nothing");
  ExpectProblem(client_->Get("/api/v4/leads/abc"), 404, "");
  ExpectProblem(client_->Get("/not-kommo"), 404, "");

  const Reply del = client_->Send("DELETE", "/api/v4/leads/5", nullptr, {});
  ExpectProblem(del, 405, "DELETE");
  EXPECT_EQ(del.Header("allow"), "GET, PATCH");
  const std::string body = "[]";
  const Reply put = client_->Send("PUT", "/api/v4/contacts", &body, {});
  ExpectProblem(put, 405, "PUT");
  EXPECT_EQ(put.Header("allow"), "GET, POST, PATCH");
  ExpectProblem(client_->Post("/api/v4/account", "{}"), 405, "");
}

TEST_F(EmulatorApiTest, KeepAliveServesManyRequestsOnOneConnection) {
  EXPECT_EQ(client_->Get("/api/v4/account").new_connections, 1);
  for (int i = 0; i < 5; ++i) {
    const Reply reply = client_->Post("/api/v4/leads", R"([{"name":"k"}])");
    EXPECT_EQ(reply.status, 200);
    EXPECT_EQ(reply.new_connections, 0) << "request " << i << " opened a new connection";
  }
  EXPECT_EQ(client_->Get(LeadsPath(kFirstLeadId + 99)).new_connections, 0);  // after a 204
  EXPECT_EQ(client_->Get("/api/v4/nothing").new_connections, 0);             // after a 404
}

TEST_F(EmulatorApiTest, ExpectContinueIsAnswered) {
  const std::string body = R"([{"name":"with expect"}])";
  const Reply reply = client_->Send("POST", "/api/v4/leads", &body, {"Expect: 100-continue"});
  EXPECT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(emulator_->lead_count(), 1u);
}

// --- account, users, pipelines -----------------------------------------------------------------

TEST_F(EmulatorApiTest, AccountHasSeededFieldsAndDatetimeSettings) {
  const Reply plain = client_->Get("/api/v4/account");
  ASSERT_EQ(plain.status, 200);
  const rapidjson::Document account = plain.Json();
  EXPECT_EQ(Int(account, "id"), kAccountId);
  EXPECT_EQ(Str(account, "subdomain"), kAccountSubdomain);
  EXPECT_EQ(Int(account, "current_user_id"), kAdminUserId);
  EXPECT_EQ(Str(account, "currency"), "USD");
  EXPECT_FALSE(Has(account, "_embedded"));

  const rapidjson::Document with =
      client_->Get("/api/v4/account?with=datetime_settings,users_groups").Json();
  EXPECT_EQ(Str(with, "_embedded.datetime_settings.timezone"), "UTC");
  EXPECT_EQ(Size(with, "_embedded.users_groups"), 2u);

  TestClient manager(emulator_->base_url(), kManagerToken);
  EXPECT_EQ(Int(manager.Get("/api/v4/account").Json(), "current_user_id"), kManagerUserId);
}

TEST_F(EmulatorApiTest, UsersAreForAdminsOnly) {
  const Reply reply = client_->Get("/api/v4/users");
  ASSERT_EQ(reply.status, 200);
  const rapidjson::Document doc = reply.Json();
  EXPECT_EQ(Int(doc, "_total_items"), 2);
  EXPECT_EQ(Int(doc, "_page"), 1);
  EXPECT_EQ(Int(doc, "_page_count"), 1);
  EXPECT_EQ(Int(doc, "_embedded.users.0.id"), kAdminUserId);
  EXPECT_TRUE(Bool(doc, "_embedded.users.0.rights.is_admin"));
  EXPECT_EQ(Int(doc, "_embedded.users.1.id"), kManagerUserId);
  EXPECT_FALSE(Bool(doc, "_embedded.users.1.rights.is_admin"));
  EXPECT_EQ(Int(doc, "_embedded.users.1.rights.group_id"), kSalesGroupId);

  const rapidjson::Document paged = client_->Get("/api/v4/users?limit=1&page=2").Json();
  EXPECT_EQ(Int(paged, "_page_count"), 2);
  EXPECT_EQ(Int(paged, "_embedded.users.0.id"), kManagerUserId);
  EXPECT_EQ(client_->Get("/api/v4/users?page=3").status, 204);

  TestClient manager(emulator_->base_url(), kManagerToken);
  ExpectProblem(manager.Get("/api/v4/users"), 403, "administrators");
}

TEST_F(EmulatorApiTest, PipelinesHaveIncomingRegularAndClosedStages) {
  const Reply reply = client_->Get("/api/v4/leads/pipelines");
  ASSERT_EQ(reply.status, 200);
  const rapidjson::Document doc = reply.Json();
  EXPECT_EQ(Int(doc, "_total_items"), 2);
  EXPECT_EQ(Int(doc, "_embedded.pipelines.0.id"), kMainPipelineId);
  EXPECT_TRUE(Bool(doc, "_embedded.pipelines.0.is_main"));
  EXPECT_EQ(Int(doc, "_embedded.pipelines.1.id"), kSecondPipelineId);
  const std::string statuses = "_embedded.pipelines.0._embedded.statuses";
  ASSERT_EQ(Size(doc, statuses), 5u);
  EXPECT_EQ(Int(doc, statuses + ".0.id"), kMainPipelineIncomingStatusId);
  EXPECT_EQ(Int(doc, statuses + ".0.type"), 1);
  EXPECT_EQ(Int(doc, statuses + ".1.id"), kMainPipelineFirstStatusId);
  EXPECT_EQ(Int(doc, statuses + ".1.type"), 0);
  EXPECT_EQ(Int(doc, statuses + ".2.id"), kMainPipelineSecondStatusId);
  EXPECT_EQ(Int(doc, statuses + ".3.id"), kWonStatusId);
  EXPECT_EQ(Int(doc, statuses + ".4.id"), kLostStatusId);
  EXPECT_EQ(Int(doc, statuses + ".4.pipeline_id"), kMainPipelineId);

  const rapidjson::Document second =
      client_->Get("/api/v4/leads/pipelines/" + std::to_string(kSecondPipelineId)).Json();
  EXPECT_EQ(Int(second, "id"), kSecondPipelineId);
  EXPECT_EQ(Int(second, "_embedded.statuses.1.id"), kSecondPipelineFirstStatusId);
  EXPECT_EQ(Int(second, "_embedded.statuses.3.pipeline_id"), kSecondPipelineId);

  const rapidjson::Document listed =
      client_->Get("/api/v4/leads/pipelines/" + std::to_string(kSecondPipelineId) + "/statuses")
          .Json();
  EXPECT_EQ(Int(listed, "_total_items"), 5);
  ExpectProblem(client_->Get("/api/v4/leads/pipelines/123"), 404, "Pipeline not found");
}

// --- leads: create -----------------------------------------------------------------------------

TEST_F(EmulatorApiTest, CreateLeadAnswersOnlyIdsAndAppliesKommoDefaults) {
  const Reply created = client_->Post("/api/v4/leads", R"([{"name":"Deal","price":1500}])");
  ASSERT_EQ(created.status, 200) << created.body;
  EXPECT_EQ(created.Header("content-type"), "application/hal+json");
  const rapidjson::Document doc = created.Json();
  const rapidjson::Value& item = At(doc, "_embedded.leads.0");
  ASSERT_TRUE(item.IsObject());
  EXPECT_EQ(item.MemberCount(), 3u) << created.body;  // id, request_id, _links: nothing else
  const int64_t id = Int(item, "id");
  EXPECT_EQ(id, kFirstLeadId);
  EXPECT_GT(id, int64_t{1} << 31);
  EXPECT_EQ(Str(item, "request_id"), "0");
  EXPECT_THAT(Str(item, "_links.self.href"), HasSubstr("/api/v4/leads/" + std::to_string(id)));
  EXPECT_THAT(Str(doc, "_links.self.href"), HasSubstr("/api/v4/leads"));

  const Reply got = client_->Get(LeadsPath(id));
  ASSERT_EQ(got.status, 200);
  const rapidjson::Document lead = got.Json();
  EXPECT_EQ(Int(lead, "id"), id);
  EXPECT_EQ(Str(lead, "name"), "Deal");
  EXPECT_EQ(Int(lead, "price"), 1500);
  EXPECT_EQ(Int(lead, "pipeline_id"), kMainPipelineId);
  EXPECT_EQ(Int(lead, "status_id"), kMainPipelineFirstStatusId);
  EXPECT_EQ(Int(lead, "responsible_user_id"), kAdminUserId);
  EXPECT_EQ(Int(lead, "group_id"), kDefaultGroupId);
  EXPECT_EQ(Int(lead, "created_by"), kAdminUserId);
  EXPECT_EQ(Int(lead, "updated_by"), kAdminUserId);
  EXPECT_EQ(Int(lead, "created_at"), kStartTime);
  EXPECT_EQ(Int(lead, "updated_at"), kStartTime);
  EXPECT_EQ(Int(lead, "account_id"), kAccountId);
  for (const char* null_field : {"closed_at", "closest_task_at", "loss_reason_id",
                                 "custom_fields_values", "score", "labor_cost"}) {
    EXPECT_TRUE(IsNull(lead, null_field)) << null_field;
  }
  EXPECT_FALSE(Bool(lead, "is_deleted"));
  EXPECT_FALSE(Bool(lead, "is_price_computed"));
  EXPECT_EQ(Size(lead, "_embedded.tags"), 0u);
  EXPECT_EQ(Size(lead, "_embedded.companies"), 0u);
  EXPECT_FALSE(Has(lead, "_embedded.contacts"));  // only with=contacts
  EXPECT_THAT(Str(lead, "_links.self.href"), HasSubstr(LeadsPath(id)));
}

TEST_F(EmulatorApiTest, CreateLeadTakesGivenFieldsAndTheResponsibleUsersGroup) {
  const int64_t id =
      CreateLead(R"({"name":"Partner","pipeline_id":)" + std::to_string(kSecondPipelineId) +
                 R"(,"responsible_user_id":)" + std::to_string(kManagerUserId) + "}");
  const rapidjson::Document lead = client_->Get(LeadsPath(id)).Json();
  EXPECT_EQ(Int(lead, "pipeline_id"), kSecondPipelineId);
  EXPECT_EQ(Int(lead, "status_id"), kSecondPipelineFirstStatusId);  // that pipeline's first
  EXPECT_EQ(Int(lead, "responsible_user_id"), kManagerUserId);
  EXPECT_EQ(Int(lead, "group_id"), kSalesGroupId);
  EXPECT_EQ(Int(lead, "created_by"), kAdminUserId);  // the token's user

  const int64_t won = CreateLead(R"({"name":"Won","status_id":142})");
  const rapidjson::Document won_lead = client_->Get(LeadsPath(won)).Json();
  EXPECT_EQ(Int(won_lead, "status_id"), kWonStatusId);
  EXPECT_EQ(Int(won_lead, "pipeline_id"), kMainPipelineId);
  EXPECT_EQ(Int(won_lead, "closed_at"), kStartTime);
}

TEST_F(EmulatorApiTest, RequestIdsAreEchoedOrPositional) {
  const Reply reply = client_->Post(
      "/api/v4/leads", R"([{"name":"a"},{"name":"b","request_id":"mine"},{"name":"c"}])");
  ASSERT_EQ(reply.status, 200);
  const rapidjson::Document doc = reply.Json();
  EXPECT_EQ(Str(doc, "_embedded.leads.0.request_id"), "0");
  EXPECT_EQ(Str(doc, "_embedded.leads.1.request_id"), "mine");
  EXPECT_EQ(Str(doc, "_embedded.leads.2.request_id"), "2");
  EXPECT_EQ(Int(doc, "_embedded.leads.1.id"), kFirstLeadId + 1);
  EXPECT_EQ(Int(doc, "_embedded.leads.2.id"), kFirstLeadId + 2);
}

TEST_F(EmulatorApiTest, InvalidLeadsGetKommoValidationErrors) {
  const std::string second_stage = std::to_string(kSecondPipelineFirstStatusId);
  struct Case {
    std::string item;
    std::string code;
    std::string path;
  };
  const std::vector<Case> cases = {
      {R"({"name":"x","pipeline_id":1})", "NotSupportedChoice", "pipeline_id"},
      {R"({"name":"x","status_id":)" + second_stage + "}", "NotSupportedChoice", "status_id"},
      {R"({"name":"x","pipeline_id":)" + std::to_string(kMainPipelineId) + R"(,"status_id":)" +
           second_stage + "}",
       "NotSupportedChoice", "status_id"},
      {R"({"name":"x","responsible_user_id":42})", "NotSupportedChoice", "responsible_user_id"},
      {R"({"name":"x","price":"100"})", "InvalidType", "price"},
      {R"({"name":"x","price":10.5})", "InvalidType", "price"},
      {R"({"name":"x","price":null})", "InvalidType", "price"},
      {R"({"name":12})", "InvalidType", "name"},
      {R"({"name":"x","status_id":true})", "InvalidType", "status_id"},
      {R"({"name":"x","_embedded":{"contacts":[{"id":52000000999}]}})", "NotSupportedChoice",
       "_embedded.contacts.0.id"},
      {R"({"name":"x","_embedded":{"contacts":[{"id":"1"}]}})", "InvalidType",
       "_embedded.contacts.0.id"},
      {R"({"name":"x","custom_fields_values":[{"field_id":5,"values":[{"value":"v"}]}]})",
       "NotSupportedChoice", "custom_fields_values.0.field_id"},
      {R"("just a string")", "InvalidType", ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.item);
    const std::string body = c.item[0] == '"' ? "[" + c.item + "]"
                                              : "[" + c.item.substr(0, c.item.size() - 1) +
                                                    R"(,"request_id":"r1"})" + "]";
    const std::string request_id = c.item[0] == '"' ? "0" : "r1";
    ExpectValidationError(client_->Post("/api/v4/leads", body), request_id, c.code, c.path);
  }
  EXPECT_EQ(emulator_->lead_count(), 0u);
  // 142 and 143 belong to every pipeline.
  EXPECT_NE(CreateLead(R"({"name":"lost","pipeline_id":)" + std::to_string(kSecondPipelineId) +
                       R"(,"status_id":143})"),
            0);
}

TEST_F(EmulatorApiTest, BatchWithAnInvalidItemSavesNothing) {
  const Reply reply = client_->Post(
      "/api/v4/leads",
      R"([{"name":"good"},{"name":"bad","price":"x","request_id":"b"},{"name":"good2"}])");
  ExpectValidationError(reply, "b", "InvalidType", "price");
  const rapidjson::Document doc = reply.Json();
  EXPECT_EQ(Size(doc, "validation-errors"), 1u);  // only the invalid item is reported
  EXPECT_EQ(emulator_->lead_count(), 0u);
  EXPECT_EQ(client_->Get("/api/v4/leads").status, 204);
}

TEST_F(EmulatorApiTest, PartialBatchModeSavesTheValidItems) {
  StartEmulator(/*all_or_nothing=*/false);
  const Reply reply = client_->Post(
      "/api/v4/leads", R"([{"name":"good"},{"name":"bad","price":"x","request_id":"b"}])");
  ExpectValidationError(reply, "b", "InvalidType", "price");
  EXPECT_EQ(emulator_->lead_count(), 1u);
}

TEST_F(EmulatorApiTest, MalformedBodiesAreRejected) {
  ExpectProblem(client_->Post("/api/v4/leads", ""), 400, "Request data cannot be blank");
  ExpectProblem(client_->Post("/api/v4/leads", "  \n"), 400, "Request data cannot be blank");
  ExpectProblem(client_->Post("/api/v4/leads", "[]"), 400, "Request data cannot be blank");
  ExpectProblem(client_->Post("/api/v4/leads", R"({"name":"x"})"), 400, "array");
  ExpectProblem(client_->Post("/api/v4/leads", R"([{"name":)"), 400, "not valid JSON");
  ExpectProblem(client_->Patch("/api/v4/leads", R"({"id":1})"), 400, "array");
  ExpectProblem(client_->Post("/api/v4/contacts", "[{]"), 400, "not valid JSON");
  ExpectProblem(client_->Post("/api/v4/leads", std::string(100000, '[')), 400, "not valid JSON");
  ExpectProblem(client_->Post("/api/v4/leads", "[\"\xff\xfe\"]"), 400, "not valid JSON");
  EXPECT_EQ(emulator_->lead_count(), 0u);
}

TEST_F(EmulatorApiTest, MoreThan250ItemsIs422) {
  std::string body = "[";
  for (int i = 0; i < 251; ++i) body += std::string(i ? "," : "") + R"({"name":"n"})";
  body += "]";
  ExpectProblem(client_->Post("/api/v4/leads", body), 422, "250");
  ExpectProblem(client_->Post("/api/v4/contacts", body), 422, "250");
  EXPECT_EQ(emulator_->lead_count(), 0u);
  EXPECT_EQ(CreateLeads(*client_, "ok", 250).size(), 250u);  // exactly 250 is fine
}

// --- leads: update -----------------------------------------------------------------------------

TEST_F(EmulatorApiTest, PatchOneLead) {
  const int64_t id = CreateLead(R"({"name":"before","price":1})");
  now_ = kStartTime + 60;
  TestClient manager(emulator_->base_url(), kManagerToken);
  const Reply reply =
      manager.Patch(LeadsPath(id), R"({"name":"after","price":0,"status_id":)" +
                                       std::to_string(kMainPipelineSecondStatusId) + "}");
  ASSERT_EQ(reply.status, 200) << reply.body;
  const rapidjson::Document doc = reply.Json();
  EXPECT_EQ(Int(doc, "id"), id);
  EXPECT_EQ(Int(doc, "updated_at"), kStartTime + 60);
  EXPECT_TRUE(Has(doc, "_links.self.href"));
  EXPECT_FALSE(Has(doc, "name"));

  const rapidjson::Document lead = client_->Get(LeadsPath(id)).Json();
  EXPECT_EQ(Str(lead, "name"), "after");
  EXPECT_EQ(Int(lead, "price"), 0);
  EXPECT_EQ(Int(lead, "status_id"), kMainPipelineSecondStatusId);
  EXPECT_EQ(Int(lead, "updated_by"), kManagerUserId);
  EXPECT_EQ(Int(lead, "created_at"), kStartTime);
  EXPECT_EQ(Int(lead, "updated_at"), kStartTime + 60);

  ExpectProblem(client_->Patch(LeadsPath(kFirstLeadId + 500), R"({"name":"x"})"), 404,
                "Lead not found");
  ExpectProblem(client_->Patch(LeadsPath(id), R"([{"name":"x"}])"), 400, "object");
  ExpectValidationError(client_->Patch(LeadsPath(id), R"({"price":"free"})"), "0", "InvalidType",
                        "price");
  EXPECT_EQ(Int(client_->Get(LeadsPath(id)).Json(), "price"), 0);
}

TEST_F(EmulatorApiTest, PatchMovesBetweenPipelinesAndClosesLeads) {
  const int64_t id = CreateLead(R"({"name":"mover"})");
  ASSERT_EQ(
      client_->Patch(LeadsPath(id), R"({"pipeline_id":)" + std::to_string(kSecondPipelineId) + "}")
          .status,
      200);
  rapidjson::Document lead = client_->Get(LeadsPath(id)).Json();
  EXPECT_EQ(Int(lead, "pipeline_id"), kSecondPipelineId);
  EXPECT_EQ(Int(lead, "status_id"), kSecondPipelineFirstStatusId);

  // A stage of another pipeline without pipeline_id is invalid.
  ExpectValidationError(
      client_->Patch(LeadsPath(id),
                     R"({"status_id":)" + std::to_string(kMainPipelineFirstStatusId) + "}"),
      "0", "NotSupportedChoice", "status_id");

  now_ = kStartTime + 100;
  ASSERT_EQ(client_->Patch(LeadsPath(id), R"({"status_id":143})").status, 200);
  lead = client_->Get(LeadsPath(id)).Json();
  EXPECT_EQ(Int(lead, "status_id"), kLostStatusId);
  EXPECT_EQ(Int(lead, "closed_at"), kStartTime + 100);

  ASSERT_EQ(client_
                ->Patch(LeadsPath(id),
                        R"({"status_id":)" + std::to_string(kSecondPipelineSecondStatusId) + "}")
                .status,
            200);
  EXPECT_TRUE(IsNull(client_->Get(LeadsPath(id)).Json(), "closed_at"));
}

TEST_F(EmulatorApiTest, PatchLeadsBatch) {
  const std::vector<int64_t> ids = CreateLeads(*client_, "batch", 2);
  ASSERT_EQ(ids.size(), 2u);
  const Reply reply = client_->Patch(
      "/api/v4/leads", R"([{"id":)" + std::to_string(ids[0]) + R"(,"price":10},{"id":)" +
                           std::to_string(ids[1]) + R"(,"price":20,"request_id":"second"}])");
  ASSERT_EQ(reply.status, 200) << reply.body;
  const rapidjson::Document doc = reply.Json();
  EXPECT_EQ(Int(doc, "_embedded.leads.0.id"), ids[0]);
  EXPECT_EQ(Str(doc, "_embedded.leads.0.request_id"), "0");
  EXPECT_EQ(Int(doc, "_embedded.leads.0.updated_at"), kStartTime);
  EXPECT_EQ(Str(doc, "_embedded.leads.1.request_id"), "second");
  EXPECT_EQ(Int(client_->Get(LeadsPath(ids[1])).Json(), "price"), 20);

  // All or nothing: an unknown id or a missing id fails the whole batch.
  const Reply bad = client_->Patch(
      "/api/v4/leads", R"([{"id":)" + std::to_string(ids[0]) +
                           R"(,"price":99},{"id":123,"price":1},{"price":2,"request_id":"noid"}])");
  ExpectValidationError(bad, "1", "NotSupportedChoice", "id");
  ExpectValidationError(bad, "noid", "NotBlank", "id");
  EXPECT_EQ(Int(client_->Get(LeadsPath(ids[0])).Json(), "price"), 10);
}

// --- leads: read -------------------------------------------------------------------------------

TEST_F(EmulatorApiTest, UnknownLeadIs204WithAnEmptyBody) {
  const Reply reply = client_->Get(LeadsPath(kFirstLeadId + 7));
  EXPECT_EQ(reply.status, 204);
  EXPECT_EQ(reply.body, "");
  EXPECT_EQ(reply.Header("content-type"), "");
  EXPECT_EQ(reply.Header("content-length"), "");
  EXPECT_FALSE(reply.Header("x-request-id").empty());
}

TEST_F(EmulatorApiTest, ListPagesFollowLinksNext) {
  const std::vector<int64_t> ids = CreateLeads(*client_, "page", 7);
  ASSERT_EQ(ids.size(), 7u);
  std::vector<int64_t> seen;
  std::string path = "/api/v4/leads?limit=3";
  int pages = 0;
  while (!path.empty() && pages < 10) {
    const Reply reply = client_->Get(path);
    ASSERT_EQ(reply.status, 200) << path;
    const rapidjson::Document doc = reply.Json();
    ++pages;
    EXPECT_EQ(Int(doc, "_page"), pages);
    EXPECT_EQ(Has(doc, "_links.prev"), pages > 1);
    EXPECT_THAT(Str(doc, "_links.first.href"), HasSubstr("page=1"));
    EXPECT_THAT(Str(doc, "_links.self.href"), HasSubstr("page=" + std::to_string(pages)));
    for (size_t i = 0; i < Size(doc, "_embedded.leads"); ++i) {
      seen.push_back(Int(doc, "_embedded.leads." + std::to_string(i) + ".id"));
    }
    path.clear();
    if (Has(doc, "_links.next")) {
      const std::string next = Str(doc, "_links.next.href");
      path = next.substr(emulator_->base_url().size());
      EXPECT_THAT(next, HasSubstr("limit=3"));
    }
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen, ids);

  const Reply past = client_->Get("/api/v4/leads?limit=3&page=4");
  EXPECT_EQ(past.status, 204);
  EXPECT_EQ(past.body, "");
}

TEST_F(EmulatorApiTest, ListLimitDefaultsTo50AndIsCappedAt250) {
  ASSERT_EQ(CreateLeads(*client_, "many", 260).size(), 260u);
  EXPECT_EQ(Size(client_->Get("/api/v4/leads").Json(), "_embedded.leads"), 50u);
  const rapidjson::Document capped = client_->Get("/api/v4/leads?limit=1000").Json();
  EXPECT_EQ(Size(capped, "_embedded.leads"), 250u);
  EXPECT_THAT(Str(capped, "_links.next.href"), HasSubstr("limit=250"));
  EXPECT_EQ(Size(client_->Get("/api/v4/leads?limit=250&page=2").Json(), "_embedded.leads"), 10u);
}

TEST_F(EmulatorApiTest, ListOrderAndFilterById) {
  const std::vector<int64_t> ids = CreateLeads(*client_, "order", 4);
  ASSERT_EQ(ids.size(), 4u);
  const rapidjson::Document desc = client_->Get("/api/v4/leads?order[id]=desc").Json();
  EXPECT_EQ(Int(desc, "_embedded.leads.0.id"), ids[3]);
  EXPECT_EQ(Int(desc, "_embedded.leads.3.id"), ids[0]);

  const rapidjson::Document two =
      client_
          ->Get("/api/v4/leads?filter%5Bid%5D%5B%5D=" + std::to_string(ids[1]) +
                "&filter[id][]=" + std::to_string(ids[3]))
          .Json();
  ASSERT_EQ(Size(two, "_embedded.leads"), 2u);
  EXPECT_EQ(Int(two, "_embedded.leads.0.id"), ids[1]);
  EXPECT_EQ(Int(two, "_embedded.leads.1.id"), ids[3]);
  EXPECT_THAT(Str(two, "_links.self.href"), HasSubstr("filter"));

  const rapidjson::Document indexed =
      client_->Get("/api/v4/leads?filter[id][0]=" + std::to_string(ids[2])).Json();
  ASSERT_EQ(Size(indexed, "_embedded.leads"), 1u);
  EXPECT_EQ(Int(indexed, "_embedded.leads.0.id"), ids[2]);
  EXPECT_EQ(client_->Get("/api/v4/leads?filter[id][]=5").status, 204);
}

TEST_F(EmulatorApiTest, QuerySearchesLeadNamesAndPrices) {
  CreateLead(R"({"name":"Big Deal Corp","price":15000})");
  CreateLead(R"({"name":"small thing","price":99})");
  CreateLead(R"({"name":"Café Olé","price":1})");
  const auto names = [&](const std::string& query) {
    std::vector<std::string> out;
    const Reply reply = client_->Get("/api/v4/leads?query=" + query);
    if (reply.status != 200) return out;
    const rapidjson::Document doc = reply.Json();
    for (size_t i = 0; i < Size(doc, "_embedded.leads"); ++i) {
      out.push_back(Str(doc, "_embedded.leads." + std::to_string(i) + ".name"));
    }
    return out;
  };
  EXPECT_EQ(names("big+deal"), std::vector<std::string>{"Big Deal Corp"});
  EXPECT_EQ(names("BIG%20DEAL"), std::vector<std::string>{"Big Deal Corp"});
  EXPECT_EQ(names("500"), std::vector<std::string>{"Big Deal Corp"});  // price 15000
  EXPECT_EQ(names("caf%C3%A9"), std::vector<std::string>{"Café Olé"});
  EXPECT_EQ(names("THING"), std::vector<std::string>{"small thing"});
  const Reply none = client_->Get("/api/v4/leads?query=nothing-like-this");
  EXPECT_EQ(none.status, 204);
  EXPECT_EQ(none.body, "");
}

TEST_F(EmulatorApiTest, LeadsLinkContactsOnCreate) {
  const int64_t first = CreateContact(R"({"name":"First"})");
  const int64_t second = CreateContact(R"({"name":"Second"})");
  const int64_t lead =
      CreateLead(R"({"name":"linked","_embedded":{"contacts":[{"id":)" + std::to_string(first) +
                 R"(},{"id":)" + std::to_string(second) + R"(,"is_main":true}]}})");
  const rapidjson::Document with = client_->Get(LeadsPath(lead) + "?with=contacts").Json();
  ASSERT_EQ(Size(with, "_embedded.contacts"), 2u);
  EXPECT_EQ(Int(with, "_embedded.contacts.0.id"), first);
  EXPECT_FALSE(Bool(with, "_embedded.contacts.0.is_main"));
  EXPECT_EQ(Int(with, "_embedded.contacts.1.id"), second);
  EXPECT_TRUE(Bool(with, "_embedded.contacts.1.is_main"));
  EXPECT_THAT(Str(with, "_embedded.contacts.1._links.self.href"), HasSubstr(ContactsPath(second)));

  const rapidjson::Document listed = client_->Get("/api/v4/leads?with=contacts").Json();
  EXPECT_EQ(Size(listed, "_embedded.leads.0._embedded.contacts"), 2u);
  const rapidjson::Document contact = client_->Get(ContactsPath(first) + "?with=leads").Json();
  EXPECT_EQ(Int(contact, "_embedded.leads.0.id"), lead);

  const int64_t single = CreateLead(R"({"name":"one","_embedded":{"contacts":[{"id":)" +
                                    std::to_string(first) + "}]}}");
  EXPECT_TRUE(Bool(client_->Get(LeadsPath(single) + "?with=contacts").Json(),
                   "_embedded.contacts.0.is_main"));  // the only contact is the main one
}

// --- links ------------------------------------------------------------------------------------

std::string LinkBody(int64_t contact_id, const std::string& metadata = "") {
  return R"({"to_entity_id":)" + std::to_string(contact_id) + R"(,"to_entity_type":"contacts")" +
         (metadata.empty() ? "" : R"(,"metadata":)" + metadata) + "}";
}

TEST_F(EmulatorApiTest, LinkUnlinkAndListTheContactsOfALead) {
  const int64_t lead = CreateLead(R"({"name":"linked later"})");
  const int64_t c1 = CreateContact(R"({"name":"One"})");
  const int64_t c2 = CreateContact(R"({"name":"Two"})");
  const int64_t c3 = CreateContact(R"({"name":"Three"})");
  EXPECT_EQ(client_->Get(LeadsPath(lead) + "/links").status, 204);  // nothing linked yet

  const Reply linked =
      client_->Post(LeadsPath(lead) + "/link",
                    "[" + LinkBody(c1) + "," + LinkBody(c2, R"({"is_main":true})") + "]");
  ASSERT_EQ(linked.status, 200) << linked.body;
  EXPECT_EQ(linked.Header("content-type"), "application/hal+json");
  const rapidjson::Document doc = linked.Json();
  EXPECT_EQ(Int(doc, "_total_items"), 2);
  EXPECT_EQ(Int(doc, "_embedded.links.0.entity_id"), lead);
  EXPECT_EQ(Str(doc, "_embedded.links.0.entity_type"), "leads");
  EXPECT_EQ(Int(doc, "_embedded.links.0.to_entity_id"), c1);
  EXPECT_EQ(Str(doc, "_embedded.links.0.to_entity_type"), "contacts");
  EXPECT_FALSE(Bool(doc, "_embedded.links.0.metadata.main_contact"));  // not "is_main"
  EXPECT_TRUE(Bool(doc, "_embedded.links.1.metadata.main_contact"));
  EXPECT_FALSE(Has(doc, "_embedded.links.1.metadata.is_main"));

  const rapidjson::Document with = client_->Get(LeadsPath(lead) + "?with=contacts").Json();
  ASSERT_EQ(Size(with, "_embedded.contacts"), 2u);
  EXPECT_TRUE(Bool(with, "_embedded.contacts.1.is_main"));

  // A new main contact takes over; linking again is harmless.
  ASSERT_EQ(client_
                ->Post(LeadsPath(lead) + "/link",
                       "[" + LinkBody(c3, R"({"is_main":true})") + "," + LinkBody(c1) + "]")
                .status,
            200);
  rapidjson::Document links = client_->Get(LeadsPath(lead) + "/links").Json();
  ASSERT_EQ(Size(links, "_embedded.links"), 3u);
  EXPECT_EQ(Int(links, "_total_items"), 3);
  EXPECT_FALSE(Bool(links, "_embedded.links.1.metadata.main_contact"));  // c2
  EXPECT_TRUE(Bool(links, "_embedded.links.2.metadata.main_contact"));   // c3

  // Unlink: 204 with no body; when the main contact goes, the first remaining one is main.
  const Reply unlinked = client_->Post(LeadsPath(lead) + "/unlink", "[" + LinkBody(c3) + "]");
  EXPECT_EQ(unlinked.status, 204);
  EXPECT_EQ(unlinked.body, "");
  links = client_->Get(LeadsPath(lead) + "/links").Json();
  ASSERT_EQ(Size(links, "_embedded.links"), 2u);
  EXPECT_EQ(Int(links, "_embedded.links.0.to_entity_id"), c1);
  EXPECT_TRUE(Bool(links, "_embedded.links.0.metadata.main_contact"));

  const rapidjson::Document filtered =
      client_
          ->Get(LeadsPath(lead) + "/links?filter[to_entity_id]=" + std::to_string(c2) +
                "&filter[to_entity_type]=contacts")
          .Json();
  ASSERT_EQ(Size(filtered, "_embedded.links"), 1u);
  EXPECT_EQ(Int(filtered, "_embedded.links.0.to_entity_id"), c2);
  EXPECT_EQ(client_->Get(LeadsPath(lead) + "/links?filter[to_entity_type]=companies").status, 204);
  EXPECT_EQ(Int(client_->Get(ContactsPath(c1) + "?with=leads").Json(), "_embedded.leads.0.id"),
            lead);

  EXPECT_EQ(client_
                ->Post(LeadsPath(lead) + "/unlink",
                       "[" + LinkBody(c1) + "," + LinkBody(c2) + "," + LinkBody(c3) + "]")
                .status,
            204);
  EXPECT_EQ(client_->Get(LeadsPath(lead) + "/links").status, 204);
  EXPECT_EQ(client_->Get(LeadsPath(kFirstLeadId + 99) + "/links").status, 204);  // unknown lead
}

TEST_F(EmulatorApiTest, InvalidLinksGetValidationErrorsAndChangeNothing) {
  const int64_t lead = CreateLead(R"({"name":"l"})");
  const int64_t contact = CreateContact(R"({"name":"c"})");
  const std::string link = LeadsPath(lead) + "/link";
  ExpectValidationError(
      client_->Post(link, "[" + LinkBody(contact) + "," + LinkBody(kFirstContactId + 99) + "]"),
      "1", "NotSupportedChoice", "to_entity_id");
  EXPECT_EQ(client_->Get(LeadsPath(lead) + "/links").status, 204);  // all or nothing
  ExpectValidationError(
      client_->Post(link, R"([{"to_entity_id":1,"to_entity_type":"leads","request_id":"r"}])"), "r",
      "NotSupportedChoice", "to_entity_type");
  ExpectValidationError(
      client_->Post(link, R"([{"to_entity_id":1,"to_entity_type":"catalog_elements"}])"), "0",
      "NotSupportedChoice", "to_entity_type");
  ExpectValidationError(
      client_->Post(link, R"([{"to_entity_id":"1","to_entity_type":"contacts"}])"), "0",
      "InvalidType", "to_entity_id");
  ExpectValidationError(client_->Post(link, R"([{"to_entity_id":1}])"), "0", "NotBlank",
                        "to_entity_type");
  ExpectValidationError(client_->Post(link, "[" + LinkBody(contact, R"({"is_main":"yes"})") + "]"),
                        "0", "InvalidType", "metadata.is_main");
  ExpectValidationError(client_->Post(link, "[5]"), "0", "InvalidType", "");
  ExpectProblem(client_->Post(link, LinkBody(contact)), 400, "array");
  ExpectProblem(client_->Post(link, ""), 400, "blank");
  ExpectProblem(
      client_->Post(LeadsPath(kFirstLeadId + 99) + "/link", "[" + LinkBody(contact) + "]"), 404,
      "Lead not found");
  EXPECT_EQ(client_->Get(link).status, 405);
  EXPECT_EQ(client_->Post(LeadsPath(lead) + "/links", "[]").status, 405);
  EXPECT_EQ(client_->Post("/api/v4/leads/abc/link", "[]").status, 404);
}

TEST_F(EmulatorApiTest, SinglePatchAnswersCarryARequestIdToo) {
  const int64_t id = CreateLead(R"({"name":"x"})");
  EXPECT_EQ(Str(client_->Patch(LeadsPath(id), R"({"price":3})").Json(), "request_id"), "0");
  EXPECT_EQ(
      Str(client_->Patch(LeadsPath(id), R"({"price":4,"request_id":"mine"})").Json(), "request_id"),
      "mine");
  const int64_t contact = CreateContact(R"({"name":"c"})");
  EXPECT_EQ(Str(client_->Patch(ContactsPath(contact), R"({"name":"d"})").Json(), "request_id"),
            "0");
}

// --- contacts ----------------------------------------------------------------------------------

TEST_F(EmulatorApiTest, ContactsCarryPhonesAndEmailsAsMultitextFields) {
  const Reply created = client_->Post(
      "/api/v4/contacts",
      R"([{"first_name":"Ann","last_name":"Lee","custom_fields_values":[)"
      R"({"field_code":"PHONE","values":[{"value":"+1 555 0100","enum_code":"WORK"},)"
      R"({"value":"+1 555 0199","enum_code":"MOB"}]},)"
      R"({"field_id":)" +
          std::to_string(kEmailFieldId) + R"(,"values":[{"value":"ann@example.com","enum_id":)" +
          std::to_string(kEmailPrivEnumId) + R"(}]}]},{"name":"Plain"}])");
  ASSERT_EQ(created.status, 200) << created.body;
  const rapidjson::Document ids = created.Json();
  const int64_t ann = Int(ids, "_embedded.contacts.0.id");
  EXPECT_EQ(ann, kFirstContactId);
  EXPECT_GT(ann, int64_t{1} << 31);
  EXPECT_EQ(Str(ids, "_embedded.contacts.1.request_id"), "1");
  EXPECT_FALSE(Has(ids, "_embedded.contacts.0.name"));

  const rapidjson::Document contact = client_->Get(ContactsPath(ann)).Json();
  EXPECT_EQ(Str(contact, "name"), "Ann Lee");
  EXPECT_EQ(Str(contact, "first_name"), "Ann");
  EXPECT_EQ(Str(contact, "last_name"), "Lee");
  EXPECT_EQ(Int(contact, "responsible_user_id"), kAdminUserId);
  EXPECT_EQ(Int(contact, "created_at"), kStartTime);
  EXPECT_EQ(Int(contact, "account_id"), kAccountId);
  EXPECT_FALSE(Bool(contact, "is_deleted"));
  EXPECT_FALSE(Bool(contact, "is_unsorted"));
  EXPECT_TRUE(IsNull(contact, "closest_task_at"));
  const std::string phone = "custom_fields_values.0";
  EXPECT_EQ(Int(contact, phone + ".field_id"), kPhoneFieldId);
  EXPECT_EQ(Str(contact, phone + ".field_name"), "Phone");
  EXPECT_EQ(Str(contact, phone + ".field_code"), "PHONE");
  EXPECT_EQ(Str(contact, phone + ".field_type"), "multitext");
  EXPECT_EQ(Str(contact, phone + ".values.0.value"), "+1 555 0100");
  EXPECT_EQ(Int(contact, phone + ".values.0.enum_id"), kPhoneWorkEnumId);
  EXPECT_EQ(Str(contact, phone + ".values.0.enum_code"), "WORK");
  EXPECT_EQ(Str(contact, phone + ".values.1.enum_code"), "MOB");
  EXPECT_EQ(Str(contact, "custom_fields_values.1.field_code"), "EMAIL");
  EXPECT_EQ(Str(contact, "custom_fields_values.1.values.0.value"), "ann@example.com");
  EXPECT_EQ(Str(contact, "custom_fields_values.1.values.0.enum_code"), "PRIV");

  const rapidjson::Document plain =
      client_->Get(ContactsPath(Int(ids, "_embedded.contacts.1.id"))).Json();
  EXPECT_EQ(Str(plain, "name"), "Plain");
  EXPECT_EQ(Str(plain, "first_name"), "");
  EXPECT_TRUE(IsNull(plain, "custom_fields_values"));
  EXPECT_EQ(client_->Get(ContactsPath(kFirstContactId + 50)).status, 204);
}

TEST_F(EmulatorApiTest, InvalidContactsGetValidationErrors) {
  ExpectValidationError(client_->Post("/api/v4/contacts",
                                      R"([{"name":"x","custom_fields_values":[)"
                                      R"({"field_code":"FAX_NUMBER","values":[{"value":"1"}]}]}])"),
                        "0", "NotSupportedChoice", "custom_fields_values.0.field_code");
  ExpectValidationError(
      client_->Post("/api/v4/contacts",
                    R"([{"name":"x","custom_fields_values":[{"field_code":"PHONE",)"
                    R"("values":[{"value":"1","enum_code":"PAGER"}]}]}])"),
      "0", "NotSupportedChoice", "custom_fields_values.0.values.0.enum_code");
  ExpectValidationError(
      client_->Post("/api/v4/contacts", R"([{"name":"x","custom_fields_values":[)"
                                        R"({"field_code":"EMAIL","values":[{"value":5}]}]}])"),
      "0", "InvalidType", "custom_fields_values.0.values.0.value");
  ExpectValidationError(client_->Post("/api/v4/contacts", R"([{"first_name":["A"]}])"), "0",
                        "InvalidType", "first_name");
  ExpectValidationError(client_->Post("/api/v4/contacts", R"([{"responsible_user_id":1}])"), "0",
                        "NotSupportedChoice", "responsible_user_id");
  EXPECT_EQ(emulator_->contact_count(), 0u);
}

TEST_F(EmulatorApiTest, ContactQueryMatchesNamesEmailsAndPhoneDigits) {
  const int64_t ann =
      CreateContact(R"({"name":"Ann Lee","custom_fields_values":[)"
                    R"({"field_code":"PHONE","values":[{"value":"+1 (555) 010-0123"}]},)"
                    R"({"field_code":"EMAIL","values":[{"value":"Ann.Lee@Example.com"}]}]})");
  const int64_t bob = CreateContact(R"({"first_name":"Bob","last_name":"Stone"})");
  const auto found = [&](const std::string& query) {
    std::vector<int64_t> out;
    const Reply reply = client_->Get("/api/v4/contacts?query=" + query);
    if (reply.status != 200) return out;
    const rapidjson::Document doc = reply.Json();
    for (size_t i = 0; i < Size(doc, "_embedded.contacts"); ++i) {
      out.push_back(Int(doc, "_embedded.contacts." + std::to_string(i) + ".id"));
    }
    return out;
  };
  EXPECT_EQ(found("5550100123"), std::vector<int64_t>{ann});
  EXPECT_EQ(found("%2B15550100123"), std::vector<int64_t>{ann});
  EXPECT_EQ(found("555-010"), std::vector<int64_t>{ann});
  EXPECT_EQ(found("ann.lee%40example.COM"), std::vector<int64_t>{ann});
  EXPECT_EQ(found("stone"), std::vector<int64_t>{bob});
  EXPECT_EQ(found("bob+stone"), std::vector<int64_t>{bob});
  EXPECT_EQ(client_->Get("/api/v4/contacts?query=5559999").status, 204);
  const rapidjson::Document all = client_->Get("/api/v4/contacts?limit=1").Json();
  EXPECT_EQ(Size(all, "_embedded.contacts"), 1u);
  EXPECT_TRUE(Has(all, "_links.next"));
}

TEST_F(EmulatorApiTest, PatchContacts) {
  const int64_t id = CreateContact(
      R"({"name":"Old","custom_fields_values":[{"field_code":"PHONE","values":[{"value":"111"}]},)"
      R"({"field_code":"EMAIL","values":[{"value":"old@example.com"}]}]})");
  now_ = kStartTime + 5;
  const Reply one = client_->Patch(
      ContactsPath(id),
      R"({"name":"New","custom_fields_values":[{"field_code":"PHONE","values":[{"value":"222"}]}]})");
  ASSERT_EQ(one.status, 200) << one.body;
  const rapidjson::Document doc = one.Json();
  EXPECT_EQ(Int(doc, "id"), id);
  EXPECT_EQ(Str(doc, "name"), "New");
  EXPECT_EQ(Int(doc, "updated_at"), kStartTime + 5);
  rapidjson::Document contact = client_->Get(ContactsPath(id)).Json();
  EXPECT_EQ(Str(contact, "custom_fields_values.0.values.0.value"), "222");  // phone replaced
  EXPECT_EQ(Size(contact, "custom_fields_values.0.values"), 1u);
  EXPECT_EQ(Str(contact, "custom_fields_values.1.values.0.value"), "old@example.com");  // kept

  const Reply batch = client_->Patch(
      "/api/v4/contacts", R"([{"id":)" + std::to_string(id) + R"(,"last_name":"Smith"}])");
  ASSERT_EQ(batch.status, 200) << batch.body;
  EXPECT_EQ(Str(batch.Json(), "_embedded.contacts.0.name"), "New");
  EXPECT_EQ(Str(client_->Get(ContactsPath(id)).Json(), "last_name"), "Smith");
  ExpectProblem(client_->Patch(ContactsPath(id + 1000), R"({"name":"x"})"), 404,
                "Contact not found");
}

TEST_F(EmulatorApiTest, ContactCustomFieldDefinitions) {
  const rapidjson::Document doc = client_->Get("/api/v4/contacts/custom_fields").Json();
  EXPECT_EQ(Int(doc, "_total_items"), 5);
  EXPECT_EQ(Str(doc, "_embedded.custom_fields.0.code"), "PHONE");
  EXPECT_EQ(Int(doc, "_embedded.custom_fields.0.enums.2.id"), kPhoneMobEnumId);
  EXPECT_EQ(Str(doc, "_embedded.custom_fields.1.code"), "EMAIL");
  EXPECT_EQ(Str(doc, "_embedded.custom_fields.2.code"), "POSITION");
  EXPECT_EQ(Str(doc, "_embedded.custom_fields.2.type"), "text");
  EXPECT_EQ(Str(doc, "_embedded.custom_fields.3.code"), "IM");
  EXPECT_EQ(Str(doc, "_embedded.custom_fields.3.type"), "multitext");
  EXPECT_EQ(Int(doc, "_embedded.custom_fields.3.enums.0.id"), kImSkypeEnumId);
  EXPECT_EQ(Str(doc, "_embedded.custom_fields.3.enums.0.value"), "SKYPE");
  // Made in Kommo's settings: no code.
  EXPECT_TRUE(IsNull(doc, "_embedded.custom_fields.4.code"));
  EXPECT_EQ(Int(doc, "_embedded.custom_fields.4.id"), kContactBirthdayFieldId);
  EXPECT_EQ(Str(doc, "_embedded.custom_fields.4.type"), "birthday");
}

TEST_F(EmulatorApiTest, LeadCustomFieldCatalogueHasEveryTypeWithCodesAndEnums) {
  const Reply reply = client_->Get("/api/v4/leads/custom_fields");
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(reply.Header("content-type"), "application/hal+json");
  const rapidjson::Document doc = reply.Json();
  ASSERT_EQ(Size(doc, "_embedded.custom_fields"), 11u);
  const std::vector<std::string> types = {"text",        "numeric",     "checkbox", "select",
                                          "multiselect", "radiobutton", "date",     "date_time",
                                          "birthday",    "url",         "textarea"};
  for (size_t i = 0; i < types.size(); ++i) {
    const std::string field = "_embedded.custom_fields." + std::to_string(i);
    EXPECT_EQ(Str(doc, field + ".type"), types[i]) << field;
    EXPECT_EQ(Str(doc, field + ".entity_type"), "leads") << field;
  }
  EXPECT_EQ(Int(doc, "_embedded.custom_fields.0.id"), kUtmSourceFieldId);
  EXPECT_EQ(Str(doc, "_embedded.custom_fields.0.code"), "UTM_SOURCE");
  EXPECT_TRUE(IsNull(doc, "_embedded.custom_fields.0.enums"));
  // A field made in Kommo's settings has no code.
  EXPECT_TRUE(IsNull(doc, "_embedded.custom_fields.3.code"));
  EXPECT_EQ(Int(doc, "_embedded.custom_fields.3.id"), kProductFieldId);
  ASSERT_EQ(Size(doc, "_embedded.custom_fields.3.enums"), 3u);
  EXPECT_EQ(Int(doc, "_embedded.custom_fields.3.enums.1.id"), kProductProEnumId);
  EXPECT_EQ(Str(doc, "_embedded.custom_fields.3.enums.1.value"), "Pro");
  EXPECT_EQ(Int(doc, "_embedded.custom_fields.3.enums.1.sort"), 2);
  EXPECT_EQ(Size(doc, "_embedded.custom_fields.4.enums"), 3u);
  EXPECT_EQ(Int(doc, "_embedded.custom_fields.5.enums.1.id"), kPriorityHighEnumId);

  const rapidjson::Document one =
      client_->Get("/api/v4/leads/custom_fields/" + std::to_string(kChannelsFieldId)).Json();
  EXPECT_EQ(Str(one, "type"), "multiselect");
  EXPECT_EQ(Int(one, "enums.0.id"), kChannelWhatsAppEnumId);
  EXPECT_EQ(client_->Get("/api/v4/leads/custom_fields/123").status, 204);
  ExpectProblem(client_->Post("/api/v4/leads/custom_fields", "[]"), 405, "");
}

TEST_F(EmulatorApiTest, CustomFieldCataloguesArePaged) {
  const rapidjson::Document first = client_->Get("/api/v4/leads/custom_fields?limit=4").Json();
  EXPECT_EQ(Int(first, "_total_items"), 11);
  EXPECT_EQ(Int(first, "_page_count"), 3);
  EXPECT_EQ(Size(first, "_embedded.custom_fields"), 4u);
  EXPECT_TRUE(Has(first, "_links.next"));
  const rapidjson::Document last =
      client_->Get("/api/v4/leads/custom_fields?limit=4&page=3").Json();
  EXPECT_EQ(Size(last, "_embedded.custom_fields"), 3u);
  EXPECT_EQ(Int(last, "_embedded.custom_fields.2.id"), kCommentFieldId);
  EXPECT_FALSE(Has(last, "_links.next"));
  EXPECT_EQ(client_->Get("/api/v4/leads/custom_fields?limit=4&page=4").status, 204);
}

TEST_F(EmulatorApiTest, CompanyCustomFieldsShareContactPhoneAndEmail) {
  const rapidjson::Document doc = client_->Get("/api/v4/companies/custom_fields").Json();
  ASSERT_EQ(Size(doc, "_embedded.custom_fields"), 5u);
  EXPECT_EQ(Int(doc, "_embedded.custom_fields.0.id"), kPhoneFieldId);
  EXPECT_EQ(Str(doc, "_embedded.custom_fields.0.type"), "multitext");
  EXPECT_EQ(Str(doc, "_embedded.custom_fields.0.entity_type"), "companies");
  EXPECT_EQ(Str(doc, "_embedded.custom_fields.2.code"), "WEB");
  EXPECT_EQ(Str(doc, "_embedded.custom_fields.2.type"), "url");
  EXPECT_EQ(Str(doc, "_embedded.custom_fields.3.type"), "textarea");
  EXPECT_EQ(Int(doc, "_embedded.custom_fields.4.id"), kIndustryFieldId);
  EXPECT_EQ(Int(doc, "_embedded.custom_fields.4.enums.2.id"), kIndustryOtherEnumId);
  EXPECT_EQ(Str(client_->Get("/api/v4/contacts/custom_fields").Json(),
                "_embedded.custom_fields.0.entity_type"),
            "contacts");
}

TEST_F(EmulatorApiTest, LossReasons) {
  const Reply reply = client_->Get("/api/v4/leads/loss_reasons");
  ASSERT_EQ(reply.status, 200) << reply.body;
  const rapidjson::Document doc = reply.Json();
  EXPECT_EQ(Int(doc, "_total_items"), 3);
  ASSERT_EQ(Size(doc, "_embedded.loss_reasons"), 3u);
  EXPECT_EQ(Int(doc, "_embedded.loss_reasons.0.id"), kLossTooExpensiveId);
  EXPECT_EQ(Str(doc, "_embedded.loss_reasons.0.name"), "Too expensive");
  EXPECT_EQ(Int(doc, "_embedded.loss_reasons.1.sort"), 2);
  EXPECT_EQ(Int(doc, "_embedded.loss_reasons.2.id"), kLossNoAnswerId);

  const rapidjson::Document one =
      client_->Get("/api/v4/leads/loss_reasons/" + std::to_string(kLossCompetitorId)).Json();
  EXPECT_EQ(Str(one, "name"), "Chose a competitor");
  ExpectProblem(client_->Get("/api/v4/leads/loss_reasons/5"), 404, "Loss reason not found");
  ExpectProblem(client_->Post("/api/v4/leads/loss_reasons", "[]"), 405, "");
  EXPECT_EQ(client_->Get("/api/v4/leads/loss_reasons?page=2").status, 204);
}

// --- admin prefix --------------------------------------------------------------------------------

TEST_F(EmulatorApiTest, AdminPrefixResetsAndCountsWithoutAuth) {
  ASSERT_EQ(CreateLeads(*client_, "x", 3).size(), 3u);
  CreateContact(R"({"name":"c"})");
  TestClient anonymous(emulator_->base_url(), "");
  const Reply stats = anonymous.Get("/_emulator/stats");
  ASSERT_EQ(stats.status, 200) << stats.body;
  EXPECT_EQ(stats.Header("content-type"), "application/json");
  EXPECT_EQ(Int(stats.Json(), "leads"), 3);
  EXPECT_EQ(Int(stats.Json(), "contacts"), 1);
  EXPECT_GE(Int(stats.Json(), "requests_total"), 2);
  EXPECT_EQ(Int(anonymous.Get("/_emulator/leads/count").Json(), "count"), 3);
  EXPECT_EQ(Int(anonymous.Get("/_emulator/contacts/count").Json(), "count"), 1);
  EXPECT_EQ(anonymous.Get("/_emulator/reset").status, 405);

  EXPECT_EQ(anonymous.Post("/_emulator/reset", "").status, 200);
  EXPECT_EQ(emulator_->lead_count(), 0u);
  EXPECT_EQ(emulator_->contact_count(), 0u);
  EXPECT_EQ(CreateLead(R"({"name":"again"})"), kFirstLeadId);  // ids restart
  emulator_->Reset();
  EXPECT_EQ(client_->Get("/api/v4/leads").status, 204);
  EXPECT_EQ(anonymous.Get("/_emulator/health").status, 200);
  EXPECT_EQ(anonymous.Get("/_emulator/nope").status, 404);
}

// --- start-up ---------------------------------------------------------------------------------

TEST(EmulatorStartTest, ReportsBadAddressesAndBusyPorts) {
  EmulatorOptions bad;
  bad.listen = "nowhere";
  EXPECT_EQ(Emulator::Start(bad).status().code(), absl::StatusCode::kInvalidArgument);
  bad.listen = "example.com:80";
  EXPECT_EQ(Emulator::Start(bad).status().code(), absl::StatusCode::kInvalidArgument);

  auto first = Emulator::Start(EmulatorOptions{});
  ASSERT_TRUE(first.ok());
  EXPECT_EQ((*first)->base_url(), "http://127.0.0.1:" + std::to_string((*first)->port()));
  EmulatorOptions same;
  same.listen = "127.0.0.1:" + std::to_string((*first)->port());
  EXPECT_EQ(Emulator::Start(same).status().code(), absl::StatusCode::kUnavailable);
  (*first)->Stop();
  (*first)->Stop();                       // idempotent
  EXPECT_EQ((*first)->lead_count(), 0u);  // still answers after Stop
}

// --- scale ---------------------------------------------------------------------------------------

TEST_F(EmulatorApiTest, ServesManyConcurrentConnections) {
  constexpr int kConnections = 500;
  const std::string url = emulator_->base_url() + "/api/v4/leads/pipelines";
  const std::string auth = std::string("Authorization: Bearer ") + kToken;
  const testing::ConcurrentReplies answers =
      testing::GetConcurrently(url, kConnections, {auth}, 30000L);
  int ok = 0;
  long max_connects = 0;
  for (const testing::ConcurrentReply& reply : answers.replies) {
    if (reply.status == 200) ++ok;
    max_connects = std::max(max_connects, reply.connects);
  }
  EXPECT_EQ(ok, kConnections);
  EXPECT_EQ(max_connects, 1);
  for (const testing::ConcurrentReply& reply : answers.replies) {
    EXPECT_THAT(reply.body, HasSubstr("\"_total_items\":2"));
  }
}

}  // namespace
}  // namespace kommo::emulator
