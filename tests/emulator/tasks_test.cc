// The emulator's tasks over HTTP: POST /tasks with Kommo's required complete_till and entity
// checks, PATCH /tasks to complete them, GET /tasks with its filters, order and pages, GET
// /tasks/{id}, and faults on the new paths.
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

using testing::At;
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

constexpr char kToken[] = "tasks-token";
constexpr int64_t kStartTime = 1750000000;

std::string Id(int64_t id) { return std::to_string(id); }

class TasksTest : public ::testing::Test {
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

  int64_t CreateLead(const std::string& name) {
    const Reply reply = client_->Post("/api/v4/leads", R"([{"name":")" + name + R"("}])");
    EXPECT_EQ(reply.status, 200) << reply.body;
    return reply.status == 200 ? Int(reply.Json(), "_embedded.leads.0.id") : 0;
  }
  int64_t CreateTask(const std::string& json_object) {
    const Reply reply = client_->Post("/api/v4/tasks", "[" + json_object + "]");
    EXPECT_EQ(reply.status, 200) << reply.body;
    return reply.status == 200 ? Int(reply.Json(), "_embedded.tasks.0.id") : 0;
  }
  std::vector<int64_t> ListedIds(const std::string& query) {
    std::vector<int64_t> ids;
    const Reply reply = client_->Get("/api/v4/tasks" + query);
    if (reply.status != 200) return ids;
    const rapidjson::Document doc = reply.Json();
    for (size_t i = 0; i < Size(doc, "_embedded.tasks"); ++i) {
      ids.push_back(Int(doc, "_embedded.tasks." + std::to_string(i) + ".id"));
    }
    return ids;
  }

  std::atomic<int64_t> now_{kStartTime};
  std::unique_ptr<Emulator> emulator_;
  std::unique_ptr<TestClient> client_;
  std::unique_ptr<TestClient> admin_;
};

TEST_F(TasksTest, CreatedTasksAnswerIdsByRequestIdAndReadBackInKommosShape) {
  const int64_t lead = CreateLead("Deal");
  const Reply created = client_->Post(
      "/api/v4/tasks",
      R"([{"text":"Call back","complete_till":1750003600,"entity_id":)" + Id(lead) +
          R"(,"entity_type":"leads","task_type_id":2,"responsible_user_id":)" + Id(kManagerUserId) +
          R"(,"request_id":"t1"},)"
          R"({"text":"Free-standing","complete_till":1750007200}])");
  ASSERT_EQ(created.status, 200) << created.body;
  EXPECT_EQ(created.Header("content-type"), "application/hal+json");
  const rapidjson::Document ids = created.Json();
  EXPECT_EQ(Str(ids, "_embedded.tasks.0.request_id"), "t1");
  EXPECT_EQ(Str(ids, "_embedded.tasks.1.request_id"), "1");
  EXPECT_TRUE(Has(ids, "_embedded.tasks.0._links.self.href"));
  const int64_t t1 = Int(ids, "_embedded.tasks.0.id");
  const int64_t t2 = Int(ids, "_embedded.tasks.1.id");
  EXPECT_EQ(t1, kFirstTaskId);
  EXPECT_EQ(t2, kFirstTaskId + 1);
  EXPECT_EQ(emulator_->task_count(), 2u);

  const rapidjson::Document task = client_->Get("/api/v4/tasks/" + Id(t1)).Json();
  EXPECT_EQ(Int(task, "id"), t1);
  EXPECT_EQ(Str(task, "text"), "Call back");
  EXPECT_EQ(Int(task, "complete_till"), 1750003600);
  EXPECT_EQ(Int(task, "entity_id"), lead);
  EXPECT_EQ(Str(task, "entity_type"), "leads");
  EXPECT_EQ(Int(task, "task_type_id"), 2);
  EXPECT_EQ(Int(task, "responsible_user_id"), kManagerUserId);
  EXPECT_EQ(Int(task, "created_by"), kAdminUserId);
  EXPECT_EQ(Int(task, "created_at"), kStartTime);
  EXPECT_EQ(Int(task, "updated_at"), kStartTime);
  EXPECT_FALSE(Bool(task, "is_completed"));
  EXPECT_TRUE(At(task, "result").IsArray());  // Kommo's empty array: no result yet
  EXPECT_EQ(Int(task, "account_id"), kAccountId);

  const rapidjson::Document loose = client_->Get("/api/v4/tasks/" + Id(t2)).Json();
  EXPECT_TRUE(IsNull(loose, "entity_id"));
  EXPECT_TRUE(IsNull(loose, "entity_type"));
  EXPECT_EQ(Int(loose, "task_type_id"), kTaskTypeCall);  // the default type
  EXPECT_EQ(Int(loose, "responsible_user_id"), kAdminUserId);
  EXPECT_EQ(client_->Get("/api/v4/tasks/" + Id(t2 + 100)).status, 204);
}

TEST_F(TasksTest, CompleteTillIsRequiredAndEntitiesMustExist) {
  const int64_t lead = CreateLead("Deal");
  const Reply reply = client_->Post(
      "/api/v4/tasks",
      R"([{"text":"No due time"},)"
      R"({"complete_till":1750003600},)"
      R"({"text":"t","complete_till":1750003600,"entity_type":"leads","entity_id":999},)"
      R"({"text":"t","complete_till":1750003600,"entity_type":"deals","entity_id":1},)"
      R"({"text":"t","complete_till":1750003600,"entity_id":)" +
          Id(lead) +
          R"(},)"
          R"({"text":"t","complete_till":1750003600,"task_type_id":77},)"
          R"({"text":"t","complete_till":"tomorrow"},)"
          R"({"text":"t","complete_till":1750003600,"responsible_user_id":42},)"
          R"({"text":"ok","complete_till":1750003600}])");
  ExpectValidationError(reply, "0", "NotBlank", "complete_till");
  ExpectValidationError(reply, "1", "NotBlank", "text");
  ExpectValidationError(reply, "2", "NotFound", "entity_id");
  ExpectValidationError(reply, "3", "NotSupportedChoice", "entity_type");
  ExpectValidationError(reply, "4", "NotBlank", "entity_type");
  ExpectValidationError(reply, "5", "NotSupportedChoice", "task_type_id");
  ExpectValidationError(reply, "6", "InvalidType", "complete_till");
  ExpectValidationError(reply, "7", "NotSupportedChoice", "responsible_user_id");
  EXPECT_EQ(Size(reply.Json(), "validation-errors"), 8u);
  EXPECT_EQ(emulator_->task_count(), 0u);  // all or nothing
  // A lead id is not a contact; the account's own task type is known.
  ExpectValidationError(
      client_->Post("/api/v4/tasks", R"([{"text":"t","complete_till":1,"entity_type":"contacts",)"
                                     R"("entity_id":)" +
                                         Id(lead) + "}]"),
      "0", "NotFound", "entity_id");
  CreateTask(R"({"text":"Offer","complete_till":1,"task_type_id":)" + Id(kCustomTaskTypeId) + "}");
  ExpectProblem(client_->Post("/api/v4/tasks", R"({"text":"t","complete_till":1})"), 400, "");
}

TEST_F(TasksTest, PartialModeSavesTheValidTasks) {
  StartEmulator(false);
  const Reply reply =
      client_->Post("/api/v4/tasks", R"([{"text":"bad"},{"text":"good","complete_till":1}])");
  ExpectValidationError(reply, "0", "NotBlank", "complete_till");
  EXPECT_EQ(emulator_->task_count(), 1u);
}

TEST_F(TasksTest, PatchCompletesTasksWithAResult) {
  const int64_t task = CreateTask(R"({"text":"Call","complete_till":1750003600})");
  now_ = kStartTime + 60;
  const Reply done = client_->Patch(
      "/api/v4/tasks", R"([{"id":)" + Id(task) +
                           R"(,"is_completed":true,"result":{"text":"Reached, sends the offer"},)"
                           R"("request_id":"c1"}])");
  ASSERT_EQ(done.status, 200) << done.body;
  const rapidjson::Document answer = done.Json();
  EXPECT_EQ(Int(answer, "_embedded.tasks.0.id"), task);
  EXPECT_EQ(Str(answer, "_embedded.tasks.0.request_id"), "c1");
  EXPECT_EQ(Int(answer, "_embedded.tasks.0.updated_at"), kStartTime + 60);

  const rapidjson::Document read = client_->Get("/api/v4/tasks/" + Id(task)).Json();
  EXPECT_TRUE(Bool(read, "is_completed"));
  EXPECT_EQ(Str(read, "result.text"), "Reached, sends the offer");
  EXPECT_EQ(Int(read, "updated_at"), kStartTime + 60);
  EXPECT_EQ(Int(read, "complete_till"), 1750003600);  // untouched

  // Completing again without a result keeps the recorded one; a new result replaces it.
  ASSERT_EQ(
      client_->Patch("/api/v4/tasks", R"([{"id":)" + Id(task) + R"(,"is_completed":true}])").status,
      200);
  EXPECT_EQ(Str(client_->Get("/api/v4/tasks/" + Id(task)).Json(), "result.text"),
            "Reached, sends the offer");
  ASSERT_EQ(
      client_->Patch("/api/v4/tasks/" + Id(task), R"({"result":{"text":"Offer sent"}})").status,
      200);
  EXPECT_EQ(Str(client_->Get("/api/v4/tasks/" + Id(task)).Json(), "result.text"), "Offer sent");

  // Unknown ids, missing ids and bad values are validation errors; nothing is applied.
  const Reply bad =
      client_->Patch("/api/v4/tasks", R"([{"id":)" + Id(task + 50) + R"(,"is_completed":true},)" +
                                          R"({"is_completed":true},)" + R"({"id":)" + Id(task) +
                                          R"(,"is_completed":"yes"},)" + R"({"id":)" + Id(task) +
                                          R"(,"complete_till":null}])");
  ExpectValidationError(bad, "0", "NotSupportedChoice", "id");
  ExpectValidationError(bad, "1", "NotBlank", "id");
  ExpectValidationError(bad, "2", "InvalidType", "is_completed");
  ExpectValidationError(bad, "3", "NotBlank", "complete_till");
  EXPECT_EQ(client_->Patch("/api/v4/tasks/" + Id(task + 50), R"({"is_completed":true})").status,
            404);
  EXPECT_EQ(client_->Send("DELETE", "/api/v4/tasks/" + Id(task), nullptr, {}).status, 405);
}

TEST_F(TasksTest, ListFiltersOrdersAndPages) {
  const int64_t lead = CreateLead("Deal");
  const int64_t other = CreateLead("Other");
  const int64_t a = CreateTask(R"({"text":"a","complete_till":300,"entity_type":"leads",)"
                               R"("entity_id":)" +
                               Id(lead) + "}");
  const int64_t b = CreateTask(R"({"text":"b","complete_till":100,"entity_type":"leads",)"
                               R"("entity_id":)" +
                               Id(other) + R"(,"responsible_user_id":)" + Id(kManagerUserId) + "}");
  const int64_t c = CreateTask(R"({"text":"c","complete_till":200})");
  ASSERT_EQ(
      client_->Patch("/api/v4/tasks", R"([{"id":)" + Id(b) + R"(,"is_completed":true}])").status,
      200);

  EXPECT_EQ(ListedIds(""), (std::vector<int64_t>{a, b, c}));
  EXPECT_EQ(ListedIds("?order[complete_till]=desc"), (std::vector<int64_t>{a, c, b}));
  EXPECT_EQ(ListedIds("?order[complete_till]=asc"), (std::vector<int64_t>{b, c, a}));
  EXPECT_EQ(ListedIds("?filter[is_completed]=1"), std::vector<int64_t>{b});
  EXPECT_EQ(ListedIds("?filter[is_completed]=0"), (std::vector<int64_t>{a, c}));
  EXPECT_EQ(ListedIds("?filter[entity_type]=leads"), (std::vector<int64_t>{a, b}));
  EXPECT_EQ(ListedIds("?filter[entity_type]=leads&filter[entity_id][]=" + Id(other)),
            std::vector<int64_t>{b});
  EXPECT_EQ(ListedIds("?filter[entity_id][]=" + Id(lead) + "&filter[entity_id][]=" + Id(other)),
            (std::vector<int64_t>{a, b}));
  EXPECT_EQ(ListedIds("?filter[responsible_user_id][]=" + Id(kManagerUserId)),
            std::vector<int64_t>{b});
  EXPECT_EQ(ListedIds("?filter[id][]=" + Id(c) + "&filter[id][]=" + Id(a)),
            (std::vector<int64_t>{a, c}));
  EXPECT_EQ(ListedIds("?filter[task_type]=1"), (std::vector<int64_t>{a, b, c}));
  EXPECT_EQ(client_->Get("/api/v4/tasks?filter[entity_type]=companies").status, 204);

  const Reply first = client_->Get("/api/v4/tasks?order[complete_till]=asc&limit=2");
  ASSERT_EQ(first.status, 200);
  EXPECT_TRUE(Has(first.Json(), "_links.next.href"));
  EXPECT_EQ(ListedIds("?order[complete_till]=asc&limit=2&page=2"), std::vector<int64_t>{a});
  EXPECT_FALSE(Has(client_->Get("/api/v4/tasks?limit=2&page=2").Json(), "_links.next"));
  EXPECT_EQ(client_->Get("/api/v4/tasks?limit=2&page=3").status, 204);
}

TEST_F(TasksTest, ResetDropsTasksAndFaultRulesMatchTheNewPaths) {
  CreateTask(R"({"text":"x","complete_till":1})");
  const Reply added = admin_->Post(
      "/_emulator/faults", R"({"match":"POST /api/v4/tasks","fault":"status","status":503})");
  ASSERT_EQ(added.status, 200) << added.body;
  const Reply failed = client_->Post("/api/v4/tasks", R"([{"text":"y","complete_till":1}])");
  EXPECT_EQ(failed.status, 503);
  EXPECT_EQ(emulator_->task_count(), 1u);  // not applied
  EXPECT_EQ(client_->Post("/api/v4/tasks", R"([{"text":"y","complete_till":1}])").status, 200);
  ASSERT_EQ(admin_->Post("/_emulator/reset", "").status, 200);
  EXPECT_EQ(emulator_->task_count(), 0u);
  EXPECT_EQ(CreateTask(R"({"text":"z","complete_till":1})"), kFirstTaskId);
}

}  // namespace
}  // namespace kommo::emulator
