#include "server/api/task_service.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/api/serve.h"
#include "server/api/validation.h"
#include "server/mapping/page_token.h"

namespace kommo::api {
namespace {

using internal::Kind;
using internal::Reply;
using internal::Serve;
using internal::TrimToMask;
using rest::CallOptions;

constexpr char kTasksScope[] = "tasks";

// The Kommo page a listing asks for: 1, or the one its page_token names.
absl::StatusOr<int64_t> PageOf(absl::string_view token, absl::string_view scope,
                               absl::string_view query, int32_t page_size) {
  if (token.empty()) return 1;
  return mapping::DecodePageToken(token, scope, query, page_size);
}

// A page token's query for ListTasks: every filter of the request, so that a token is only
// valid with the request it came from.
std::string TasksScopeQuery(const v1::ListTasksRequest& request) {
  return absl::StrCat(request.entity_type(), "/", absl::StrJoin(request.entity_ids(), ","), "/",
                      request.completion(), "/", absl::StrJoin(request.responsible_user_ids(), ","),
                      "/", request.has_due_from() ? absl::StrCat(request.due_from().seconds()) : "",
                      "/", request.has_due_to() ? absl::StrCat(request.due_to().seconds()) : "",
                      "/", request.order());
}

}  // namespace

grpc::ServerUnaryReactor* TaskServiceImpl::CreateTask(grpc::CallbackServerContext* context,
                                                      const grpc::ByteBuffer* request,
                                                      grpc::ByteBuffer* response) {
  using Response = v1::CreateTaskResponse;
  return Serve<v1::CreateTaskRequest, Response>(
      context, request, response, "kommo.v1.TaskService/CreateTask", Kind::kWrite, options_,
      ValidateCreateTask,
      [](rest::KommoClient& client, const v1::CreateTaskRequest& req, CallOptions call, auto done) {
        client.CreateTask(
            req, std::move(call),
            Reply<Response, v1::Task>(std::move(done),
                                      [mask = req.read_mask()](Response& out, v1::Task task) {
                                        const int64_t id = task.id();
                                        TrimToMask(mask, &task);
                                        *out.mutable_task() = std::move(task);
                                        return id;
                                      }));
      });
}

grpc::ServerUnaryReactor* TaskServiceImpl::CompleteTask(grpc::CallbackServerContext* context,
                                                        const grpc::ByteBuffer* request,
                                                        grpc::ByteBuffer* response) {
  using Response = v1::CompleteTaskResponse;
  return Serve<v1::CompleteTaskRequest, Response>(
      context, request, response, "kommo.v1.TaskService/CompleteTask", Kind::kWrite, options_,
      ValidateCompleteTask,
      [](rest::KommoClient& client, const v1::CompleteTaskRequest& req, CallOptions call,
         auto done) {
        client.CompleteTask(
            req, std::move(call),
            Reply<Response, v1::Task>(std::move(done),
                                      [mask = req.read_mask()](Response& out, v1::Task task) {
                                        const int64_t id = task.id();
                                        TrimToMask(mask, &task);
                                        *out.mutable_task() = std::move(task);
                                        return id;
                                      }));
      });
}

grpc::ServerUnaryReactor* TaskServiceImpl::ListTasks(grpc::CallbackServerContext* context,
                                                     const grpc::ByteBuffer* request,
                                                     grpc::ByteBuffer* response) {
  return Serve<v1::ListTasksRequest, v1::ListTasksResponse>(
      context, request, response, "kommo.v1.TaskService/ListTasks", Kind::kRead, options_,
      ValidateListTasks,
      [](rest::KommoClient& client, const v1::ListTasksRequest& req, CallOptions call, auto done) {
        const std::string scope = TasksScopeQuery(req);
        absl::StatusOr<int64_t> page =
            PageOf(req.page_token(), kTasksScope, scope, req.page_size());
        if (!page.ok()) return done(page.status(), 0);
        rest::TasksQuery query;
        query.entity_type = req.entity_type();
        query.entity_ids.assign(req.entity_ids().begin(), req.entity_ids().end());
        query.completion = req.completion();
        query.responsible_user_ids.assign(req.responsible_user_ids().begin(),
                                          req.responsible_user_ids().end());
        if (req.has_due_from()) query.due_from = req.due_from().seconds();
        if (req.has_due_to()) query.due_to = req.due_to().seconds();
        query.soonest_first = req.order() == v1::ListTasksRequest::ORDER_DUE_ASC;
        query.page = *page;
        query.limit = req.page_size() == 0 ? kDefaultPageSize : req.page_size();
        client.ListTasks(query, std::move(call),
                         [done = std::move(done), page = *page, scope, page_size = req.page_size()](
                             absl::StatusOr<rest::TaskPageResult> result) mutable {
                           if (!result.ok()) return done(result.status(), 0);
                           v1::ListTasksResponse out;
                           for (v1::Task& task : result->tasks) *out.add_tasks() = std::move(task);
                           if (result->has_next) {
                             out.set_next_page_token(
                                 mapping::EncodePageToken(kTasksScope, page + 1, scope, page_size));
                           }
                           done(std::move(out), 0);
                         });
      });
}

}  // namespace kommo::api
