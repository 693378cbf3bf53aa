#include "server/mapping/task_json.h"

#include <optional>
#include <string>
#include <utility>

#include "server/mapping/kommo_json_internal.h"

namespace kommo::mapping {
namespace {

using internal::BadResponse;
using internal::JsonWriter;
using internal::MemberPath;
using internal::ObjectReader;
using kommo::v1::EntityType;
using kommo::v1::Task;

absl::string_view CollectionName(EntityType type) {
  switch (type) {
    case v1::ENTITY_TYPE_LEAD:
      return "leads";
    case v1::ENTITY_TYPE_CONTACT:
      return "contacts";
    case v1::ENTITY_TYPE_COMPANY:
      return "companies";
    default:
      return "";
  }
}

// Kommo's entity_type of a task: a collection name; "" (null) for none. A type this service does
// not know (Kommo's "customers") reads as unspecified, with its id kept.
EntityType EntityTypeOf(absl::string_view collection) {
  if (collection == "leads") return v1::ENTITY_TYPE_LEAD;
  if (collection == "contacts") return v1::ENTITY_TYPE_CONTACT;
  if (collection == "companies") return v1::ENTITY_TYPE_COMPANY;
  return v1::ENTITY_TYPE_UNSPECIFIED;
}

absl::StatusOr<Task> ReadTask(const ObjectReader& object) {
  Task task;
  ASSIGN_OR_RETURN(const int64_t id, object.RequiredId("id"));
  task.set_id(id);
  ASSIGN_OR_RETURN(const std::string entity_type, object.String("entity_type"));
  ASSIGN_OR_RETURN(const int64_t entity_id, object.Int64("entity_id"));
  task.set_entity_type(EntityTypeOf(entity_type));
  task.set_entity_id(entity_id);
  ASSIGN_OR_RETURN(std::string text, object.String("text"));
  task.set_text(std::move(text));
  ASSIGN_OR_RETURN(const int64_t task_type_id, object.Int64("task_type_id"));
  task.set_task_type_id(task_type_id);
  ASSIGN_OR_RETURN(const int64_t responsible, object.Int64("responsible_user_id"));
  task.set_responsible_user_id(responsible);
  ASSIGN_OR_RETURN(const std::optional<int64_t> due, object.UnixSeconds("complete_till"));
  if (due.has_value()) task.mutable_due_at()->set_seconds(*due);
  ASSIGN_OR_RETURN(const bool completed, object.Bool("is_completed"));
  task.set_completed(completed);
  // `result` is {"text": ...} once recorded; before that Kommo sends an empty array (PHP's empty
  // array) or null.
  const rapidjson::Value* result = object.Find("result");
  if (result != nullptr && result->IsObject()) {
    ASSIGN_OR_RETURN(const std::optional<ObjectReader> result_object, object.Object("result"));
    ASSIGN_OR_RETURN(std::string result_text, result_object->String("text"));
    task.set_result_text(std::move(result_text));
  } else if (result != nullptr && !result->IsNull() && !result->IsArray()) {
    return BadResponse(MemberPath(object.path(), "result"), "is not an object");
  }
  ASSIGN_OR_RETURN(const int64_t created_by, object.Int64("created_by"));
  task.set_created_by(created_by);
  ASSIGN_OR_RETURN(const std::optional<int64_t> created_at, object.UnixSeconds("created_at"));
  if (created_at.has_value()) task.mutable_created_at()->set_seconds(*created_at);
  ASSIGN_OR_RETURN(const std::optional<int64_t> updated_at, object.UnixSeconds("updated_at"));
  if (updated_at.has_value()) task.mutable_updated_at()->set_seconds(*updated_at);
  return task;
}

}  // namespace

std::string TasksCreateBody(absl::Span<const TaskCreateItem> items) {
  JsonWriter json;
  json.StartArray();
  for (const TaskCreateItem& item : items) {
    const v1::CreateTaskRequest& request =
        item.request != nullptr ? *item.request : v1::CreateTaskRequest::default_instance();
    json.StartObject();
    json.Member("text", request.text());
    json.Member("complete_till", request.due_at().seconds());
    const absl::string_view collection = CollectionName(request.entity_type());
    if (!collection.empty()) {
      json.Member("entity_type", collection);
      json.Member("entity_id", request.entity_id());
    }
    if (request.task_type_id() != 0) json.Member("task_type_id", request.task_type_id());
    if (request.responsible_user_id() != 0) {
      json.Member("responsible_user_id", request.responsible_user_id());
    }
    if (!item.request_id.empty()) json.Member("request_id", item.request_id);
    json.EndObject();
  }
  json.EndArray();
  return json.Take();
}

std::string TasksCompleteBody(absl::Span<const TaskCompleteItem> items) {
  JsonWriter json;
  json.StartArray();
  for (const TaskCompleteItem& item : items) {
    const v1::CompleteTaskRequest& request =
        item.request != nullptr ? *item.request : v1::CompleteTaskRequest::default_instance();
    json.StartObject();
    json.Member("id", request.task_id());
    json.Key("is_completed");
    json.Bool(true);
    if (!request.result_text().empty()) {
      json.Key("result");
      json.StartObject();
      json.Member("text", request.result_text());
      json.EndObject();
    }
    if (!item.request_id.empty()) json.Member("request_id", item.request_id);
    json.EndObject();
  }
  json.EndArray();
  return json.Take();
}

absl::StatusOr<Task> ParseTask(absl::string_view body) {
  return internal::GuardJson([&]() -> absl::StatusOr<Task> {
    rapidjson::Document document;
    RETURN_IF_ERROR(internal::ParseBody(body, document));
    ASSIGN_OR_RETURN(const ObjectReader root, ObjectReader::Make(document, ""));
    return ReadTask(root);
  });
}

absl::StatusOr<TaskPage> ParseTaskPage(absl::string_view body) {
  return internal::GuardJson([&]() -> absl::StatusOr<TaskPage> {
    ASSIGN_OR_RETURN(internal::Page<Task> page,
                     internal::ParseListBody<Task>(body, "tasks", ReadTask));
    return TaskPage{std::move(page.items), page.has_next};
  });
}

std::string TaskFieldFromKommoPath(absl::string_view path) {
  if (path == "complete_till") return "due_at";
  if (path == "result.text" || path == "result") return "result_text";
  if (path == "id") return "task_id";
  return std::string(path);
}

}  // namespace kommo::mapping
