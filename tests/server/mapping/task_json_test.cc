// Tasks: the create and complete bodies, tasks as Kommo sends them (with its nulls and empty
// arrays), malformed tasks, and validation paths.

#include "server/mapping/task_json.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/mapping/mapping_test_util.h"

namespace kommo::mapping {
namespace {

using ::kommo::mapping::test_util::IsBadResponse;
using ::kommo::mapping::test_util::ReadTestdata;
using ::kommo::v1::CompleteTaskRequest;
using ::kommo::v1::CreateTaskRequest;

TEST(TasksCreateBodyTest, TaskOnALeadWithTypeAndUser) {
  CreateTaskRequest request;
  request.set_text("Call \"back\"");
  request.mutable_due_at()->set_seconds(1750003600);
  request.mutable_due_at()->set_nanos(999000000);  // dropped: Kommo keeps seconds
  request.set_entity_type(v1::ENTITY_TYPE_LEAD);
  request.set_entity_id(31000000042);
  request.set_task_type_id(2);
  request.set_responsible_user_id(8375360);
  const TaskCreateItem items[] = {{"7", &request}};
  EXPECT_EQ(TasksCreateBody(items),
            R"([{"text":"Call \"back\"","complete_till":1750003600,"entity_type":"leads",)"
            R"("entity_id":31000000042,"task_type_id":2,"responsible_user_id":8375360,)"
            R"("request_id":"7"}])");
}

TEST(TasksCreateBodyTest, TaskOnNothingLeavesKommosDefaults) {
  CreateTaskRequest on_nothing;
  on_nothing.set_text("Plan the week");
  on_nothing.mutable_due_at()->set_seconds(1750090000);
  CreateTaskRequest on_company;
  on_company.set_text("Visit");
  on_company.mutable_due_at()->set_seconds(1750090001);
  on_company.set_entity_type(v1::ENTITY_TYPE_COMPANY);
  on_company.set_entity_id(54000000001);
  const TaskCreateItem items[] = {{"0", &on_nothing}, {"1", &on_company}};
  EXPECT_EQ(TasksCreateBody(items),
            R"([{"text":"Plan the week","complete_till":1750090000,"request_id":"0"},)"
            R"({"text":"Visit","complete_till":1750090001,"entity_type":"companies",)"
            R"("entity_id":54000000001,"request_id":"1"}])");
}

TEST(TasksCompleteBodyTest, ResultOnlyWhenGiven) {
  CompleteTaskRequest with_result;
  with_result.set_task_id(7345678901);
  with_result.set_result_text("Reached; sends the offer");
  CompleteTaskRequest bare;
  bare.set_task_id(7345678902);
  const TaskCompleteItem items[] = {{"3", &with_result}, {"4", &bare}};
  EXPECT_EQ(TasksCompleteBody(items),
            R"([{"id":7345678901,"is_completed":true,"result":{"text":"Reached; sends the offer"},)"
            R"("request_id":"3"},{"id":7345678902,"is_completed":true,"request_id":"4"}])");
}

TEST(ParseTaskPageTest, ReadsTasksWithNullEntitiesAndEmptyResults) {
  absl::StatusOr<TaskPage> page = ParseTaskPage(ReadTestdata("kommo/tasks_page.json"));
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_TRUE(page->has_next);
  ASSERT_EQ(page->tasks.size(), 2u);
  const v1::Task& done = page->tasks[0];
  EXPECT_EQ(done.id(), 7345678901);
  EXPECT_EQ(done.entity_type(), v1::ENTITY_TYPE_LEAD);
  EXPECT_EQ(done.entity_id(), 31000000042);
  EXPECT_EQ(done.text(), "Meet at the office");
  EXPECT_EQ(done.task_type_id(), 2);
  EXPECT_EQ(done.responsible_user_id(), 8375360);
  EXPECT_EQ(done.due_at().seconds(), 1750086399);
  EXPECT_TRUE(done.completed());
  EXPECT_EQ(done.result_text(), "Signed");
  EXPECT_EQ(done.created_by(), 8375357);
  EXPECT_EQ(done.created_at().seconds(), 1750000000);
  EXPECT_EQ(done.updated_at().seconds(), 1750000600);

  const v1::Task& open = page->tasks[1];
  EXPECT_EQ(open.entity_type(), v1::ENTITY_TYPE_UNSPECIFIED);
  EXPECT_EQ(open.entity_id(), 0);
  EXPECT_FALSE(open.completed());
  EXPECT_EQ(open.result_text(), "");
  EXPECT_EQ(open.task_type_id(), 2960001);
  EXPECT_EQ(open.created_by(), 0);
}

TEST(ParseTaskTest, OneTaskWithANullResultAndAnUnknownEntityType) {
  absl::StatusOr<v1::Task> task =
      ParseTask(R"({"id":5,"entity_type":"customers","entity_id":12,"text":"t","result":null,)"
                R"("complete_till":1750000000,"is_completed":false,"new_field":{"x":1}})");
  ASSERT_TRUE(task.ok()) << task.status();
  EXPECT_EQ(task->entity_type(), v1::ENTITY_TYPE_UNSPECIFIED);  // a kind this API does not name
  EXPECT_EQ(task->entity_id(), 12);
  EXPECT_EQ(task->result_text(), "");
}

TEST(ParseTaskTest, MalformedTasksAreBadResponses) {
  EXPECT_TRUE(IsBadResponse(ParseTask(R"({"text":"no id"})").status(), "id"));
  EXPECT_TRUE(IsBadResponse(ParseTask(R"({"id":5,"result":"done"})").status(), "result"));
  EXPECT_TRUE(IsBadResponse(ParseTask(R"({"id":5,"result":{"text":7}})").status(), "result.text"));
  EXPECT_TRUE(
      IsBadResponse(ParseTask(R"({"id":5,"is_completed":"yes"})").status(), "is_completed"));
  EXPECT_TRUE(
      IsBadResponse(ParseTask(R"({"id":5,"complete_till":"tomorrow"})").status(), "complete_till"));
  EXPECT_TRUE(
      IsBadResponse(ParseTaskPage(R"({"_embedded":{"tasks":{}}})").status(), "_embedded.tasks"));
  EXPECT_TRUE(IsBadResponse(ParseTask("[").status(), ""));
}

TEST(TaskFieldFromKommoPathTest, KommoPathsAreRequestFields) {
  EXPECT_EQ(TaskFieldFromKommoPath("complete_till"), "due_at");
  EXPECT_EQ(TaskFieldFromKommoPath("result.text"), "result_text");
  EXPECT_EQ(TaskFieldFromKommoPath("id"), "task_id");
  EXPECT_EQ(TaskFieldFromKommoPath("entity_id"), "entity_id");
  EXPECT_EQ(TaskFieldFromKommoPath("task_type_id"), "task_type_id");
  EXPECT_EQ(TaskFieldFromKommoPath("responsible_user_id"), "responsible_user_id");
}

}  // namespace
}  // namespace kommo::mapping
