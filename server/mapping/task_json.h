#ifndef KOMMO_SERVER_MAPPING_TASK_JSON_H_
#define KOMMO_SERVER_MAPPING_TASK_JSON_H_

// JSON ⇄ proto for Kommo's tasks (/api/v4/tasks): the create and complete bodies, the task as
// GET answers show it, and Kommo's validation paths as the caller's field names. Pure functions.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "kommo/v1/task.pb.h"
#include "kommo/v1/task_service.pb.h"

namespace kommo::mapping {

// One task of a POST /tasks batch.
struct TaskCreateItem {
  std::string request_id;
  const kommo::v1::CreateTaskRequest* request = nullptr;
};

// The JSON array body of POST /tasks: text, complete_till (Unix seconds), the entity when one is
// named, task_type_id and responsible_user_id when set, request_id.
std::string TasksCreateBody(absl::Span<const TaskCreateItem> items);

// One completion of a PATCH /tasks batch.
struct TaskCompleteItem {
  std::string request_id;
  const kommo::v1::CompleteTaskRequest* request = nullptr;
};

// The JSON array body of PATCH /tasks: {id, is_completed: true, result: {text}} (result only when
// a text is given), request_id.
std::string TasksCompleteBody(absl::Span<const TaskCompleteItem> items);

// A task object of a GET answer (GET /tasks/{id}). `entity_id` and `entity_type` may be null (a
// task on nothing); `result` is an object with `text`, or Kommo's empty array, or null.
absl::StatusOr<kommo::v1::Task> ParseTask(absl::string_view body);

struct TaskPage {
  std::vector<kommo::v1::Task> tasks;
  bool has_next = false;
};

// A 200 body of GET /api/v4/tasks.
absl::StatusOr<TaskPage> ParseTaskPage(absl::string_view body);

// Kommo's validation path of a task item ("complete_till", "result.text") → the request field it
// came from ("due_at", "result_text").
std::string TaskFieldFromKommoPath(absl::string_view path);

}  // namespace kommo::mapping

#endif  // KOMMO_SERVER_MAPPING_TASK_JSON_H_
