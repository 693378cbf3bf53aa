// Tasks: POST /tasks, PATCH /tasks, PATCH /tasks/{id}, GET /tasks and GET /tasks/{id}.
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "emulator/api_common.h"
#include "emulator/text.h"

namespace kommo::emulator {

namespace {

// `_embedded.tasks[{id, request_id, _links}]` (and `updated_at` for an update), as Kommo answers
// a task write.
void WriteTaskResult(JsonWriter& w, const Hrefs& hrefs, const Task& task,
                     const std::string& request_id, bool update) {
  w.StartObject();
  Key(w, "id");
  w.Int64(task.id);
  if (update) {
    Key(w, "updated_at");
    w.Int64(task.updated_at);
  }
  Key(w, "request_id");
  Str(w, request_id);
  WriteSelfLinks(w, absl::StrCat(hrefs.api_base, "/tasks/", task.id));
  w.EndObject();
}

std::string TaskResults(const Hrefs& hrefs, const std::vector<std::pair<std::string, Task>>& tasks,
                        bool update) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  WriteSelfLinks(w, absl::StrCat(hrefs.api_base, "/tasks"));
  Key(w, "_embedded");
  w.StartObject();
  Key(w, "tasks");
  w.StartArray();
  for (const auto& [request_id, task] : tasks) WriteTaskResult(w, hrefs, task, request_id, update);
  w.EndArray();
  w.EndObject();
  w.EndObject();
  return Finish(buffer);
}

}  // namespace

HttpResponse KommoApi::RouteTasks(const Call& call) {
  const Segments& s = call.segments;
  const std::string& method = call.request.method;
  if (s.size() == 1) {
    if (method == "GET") return ListTasks(call);
    if (method == "POST") return CreateTasks(call);
    if (method == "PATCH") return UpdateTasks(call);
    return MethodNotAllowed(method, "GET, POST, PATCH");
  }
  int64_t id = 0;
  if (s.size() == 2 && ParseId(s[1], &id)) {
    if (method == "GET") return GetTask(call, id);
    if (method == "PATCH") return UpdateTask(call, id);
    return MethodNotAllowed(method, "GET, PATCH");
  }
  return ProblemResponse(404, absl::StrCat("Cannot ", method, " ", call.request.path));
}

HttpResponse KommoApi::CreateTasks(const Call& call) {
  rapidjson::Document doc;
  if (auto error = ParseBatch(call.request.body, &doc)) return *error;
  const WriteContext context{Now(), call.user.id};
  std::vector<std::pair<std::string, Task>> valid;
  std::vector<ItemErrors> invalid;
  for (rapidjson::SizeType i = 0; i < doc.Size(); ++i) {
    const std::string request_id = RequestIdOf(doc[i], absl::StrCat(i));
    Task task;
    std::vector<FieldError> errors =
        doc[i].IsObject() ? BuildNewTask(*store_, doc[i], context, &task) : NotAnObject();
    if (errors.empty()) {
      valid.emplace_back(request_id, std::move(task));
    } else {
      invalid.push_back(ItemErrors{request_id, std::move(errors)});
    }
  }
  if (!invalid.empty() && options_->batch_all_or_nothing) return ValidationFailed(invalid);
  for (auto& [request_id, task] : valid) {
    task.id = store_->NextTaskId();
    store_->tasks().emplace(task.id, task);
  }
  if (!invalid.empty()) return ValidationFailed(invalid);  // partial mode: valid ones were saved
  return Hal(TaskResults(call.hrefs, valid, /*update=*/false));
}

HttpResponse KommoApi::UpdateTasks(const Call& call) {
  rapidjson::Document doc;
  if (auto error = ParseBatch(call.request.body, &doc)) return *error;
  const WriteContext context{Now(), call.user.id};
  std::map<int64_t, Task> staged;  // later items of the batch see earlier items' changes
  std::vector<std::pair<std::string, Task>> results;
  std::vector<ItemErrors> invalid;
  for (rapidjson::SizeType i = 0; i < doc.Size(); ++i) {
    const rapidjson::Value& item = doc[i];
    const std::string request_id = RequestIdOf(item, absl::StrCat(i));
    if (!item.IsObject()) {
      invalid.push_back(ItemErrors{request_id, NotAnObject()});
      continue;
    }
    const auto id_member = item.FindMember("id");
    if (id_member == item.MemberEnd() || !id_member->value.IsInt64()) {
      invalid.push_back(ItemErrors{
          request_id,
          {id_member == item.MemberEnd()
               ? FieldError{kNotBlankCode, "id", kNotBlankDetail}
               : FieldError{kInvalidTypeCode, "id", "This value should be of type int."}}});
      continue;
    }
    const int64_t id = id_member->value.GetInt64();
    Task task;
    if (auto it = staged.find(id); it != staged.end()) {
      task = it->second;
    } else if (auto stored = store_->tasks().find(id); stored != store_->tasks().end()) {
      task = stored->second;
    } else {
      // As for leads and contacts: an unknown id is a choice Kommo does not support.
      invalid.push_back(
          ItemErrors{request_id, {FieldError{kNotSupportedChoiceCode, "id", "Task not found"}}});
      continue;
    }
    std::vector<FieldError> errors = ApplyTaskUpdate(*store_, item, context, &task);
    if (!errors.empty()) {
      invalid.push_back(ItemErrors{request_id, std::move(errors)});
      continue;
    }
    results.emplace_back(request_id, task);
    staged[id] = std::move(task);
  }
  if (!invalid.empty() && options_->batch_all_or_nothing) return ValidationFailed(invalid);
  for (auto& [id, task] : staged) store_->tasks()[id] = std::move(task);
  if (!invalid.empty()) return ValidationFailed(invalid);
  return Hal(TaskResults(call.hrefs, results, /*update=*/true));
}

HttpResponse KommoApi::UpdateTask(const Call& call, int64_t id) {
  rapidjson::Document doc;
  if (auto error = ParseBody(call.request.body, &doc)) return *error;
  if (!doc.IsObject()) return ProblemResponse(400, "Request body must be a JSON object");
  const auto it = store_->tasks().find(id);
  if (it == store_->tasks().end()) return ProblemResponse(404, "Task not found");
  Task task = it->second;
  std::vector<FieldError> errors =
      ApplyTaskUpdate(*store_, doc, WriteContext{Now(), call.user.id}, &task);
  if (!errors.empty()) return ValidationFailed({ItemErrors{"0", std::move(errors)}});
  it->second = task;
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  WriteTaskResult(w, call.hrefs, task, RequestIdOf(doc, "0"), /*update=*/true);
  return Hal(Finish(buffer));
}

HttpResponse KommoApi::ListTasks(const Call& call) {
  const ListParams p = ParseListParams(call.request.query);
  std::vector<const Task*> matches;
  for (const auto& [id, task] : store_->tasks()) {
    if (!p.Filter("id").Matches(id) ||
        !p.Filter("responsible_user_id").Matches(task.responsible_user_id) ||
        !p.Filter("is_completed").Matches(task.is_completed ? 1 : 0) ||
        !p.Filter("task_type").Matches(task.task_type_id) ||
        !p.Filter("created_by").Matches(task.created_by) ||
        !p.TextFilter("entity_type").Matches(task.entity_type) ||
        !p.Range("created_at").Matches(task.created_at) ||
        !p.Range("updated_at").Matches(task.updated_at)) {
      continue;
    }
    // A task on nothing matches no entity_id filter.
    if (p.Filter("entity_id").present &&
        (task.entity_type.empty() || !p.Filter("entity_id").Matches(task.entity_id))) {
      continue;
    }
    matches.push_back(&task);
  }
  SortEntities(&matches, p);
  const PageRange page = PageOf(matches.size(), p);
  if (page.empty()) return NoContent();

  const std::string base = absl::StrCat(call.hrefs.api_base, "/tasks");
  Hrefs task_hrefs = call.hrefs;  // entity self links echo the page, like Kommo's
  task_hrefs.entity_suffix = absl::StrCat("?page=", p.page, "&limit=", p.limit);
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  Key(w, "_page");
  w.Int(p.page);
  WritePageLinks(w, base, p, page.end < matches.size());
  Key(w, "_embedded");
  w.StartObject();
  Key(w, "tasks");
  w.StartArray();
  for (size_t i = page.offset; i < page.end; ++i) WriteTask(w, *matches[i], task_hrefs);
  w.EndArray();
  w.EndObject();
  w.EndObject();
  return Hal(Finish(buffer));
}

HttpResponse KommoApi::GetTask(const Call& call, int64_t id) {
  const auto it = store_->tasks().find(id);
  if (it == store_->tasks().end()) return NoContent();
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  WriteTask(w, it->second, call.hrefs);
  return Hal(Finish(buffer));
}

}  // namespace kommo::emulator
