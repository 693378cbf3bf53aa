#include "server/api/account_service.h"

#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "server/api/serve.h"
#include "server/common/error_details.h"

namespace kommo::api {
namespace {

using internal::Kind;
using internal::Reply;
using internal::Serve;
using rest::CallOptions;
using rest::Fetched;

template <typename Request>
absl::Status NothingToCheck(const Request&) {
  return absl::OkStatus();
}

void SetFetchTime(absl::Time when, google::protobuf::Timestamp* out) {
  const int64_t seconds = absl::ToUnixSeconds(when);
  out->set_seconds(seconds);
  out->set_nanos(
      static_cast<int32_t>(absl::ToInt64Nanoseconds(when - absl::FromUnixSeconds(seconds))));
}

// Moves a catalogue's items into the response's repeated field `field(out)` and sets its
// fetch_time.
template <typename Response, typename Item, typename Field>
auto PutList(Field field) {
  return [field](Response& out, Fetched<std::vector<Item>> fetched) -> int64_t {
    auto* items = field(out);
    items->Reserve(static_cast<int>(fetched.value.size()));
    for (Item& item : fetched.value) *items->Add() = std::move(item);
    SetFetchTime(fetched.fetch_time, out.mutable_fetch_time());
    return 0;
  };
}

}  // namespace

absl::Status ValidateListCustomFields(const v1::ListCustomFieldsRequest& request) {
  const v1::EntityType type = request.entity_type();
  if (type == v1::ENTITY_TYPE_LEAD || type == v1::ENTITY_TYPE_CONTACT ||
      type == v1::ENTITY_TYPE_COMPANY) {
    return absl::OkStatus();
  }
  constexpr char kWhat[] = "must be ENTITY_TYPE_LEAD, ENTITY_TYPE_CONTACT or ENTITY_TYPE_COMPANY";
  return MakeInvalidArgument(absl::StrCat("invalid ListCustomFieldsRequest: entity_type ", kWhat),
                             {{"entity_type", kWhat}});
}

grpc::ServerUnaryReactor* AccountServiceImpl::GetAccount(grpc::CallbackServerContext* context,
                                                         const grpc::ByteBuffer* request,
                                                         grpc::ByteBuffer* response) {
  return Serve<v1::GetAccountRequest, v1::GetAccountResponse>(
      context, request, response, "kommo.v1.AccountService/GetAccount", Kind::kRead, options_,
      NothingToCheck<v1::GetAccountRequest>,
      [](rest::KommoClient& client, const v1::GetAccountRequest& req, CallOptions call, auto done) {
        client.GetAccount(
            req.refresh(), std::move(call),
            Reply<v1::GetAccountResponse, Fetched<v1::Account>>(
                std::move(done),
                [](v1::GetAccountResponse& out, Fetched<v1::Account> fetched) -> int64_t {
                  *out.mutable_account() = std::move(fetched.value);
                  SetFetchTime(fetched.fetch_time, out.mutable_fetch_time());
                  return 0;
                }));
      });
}

grpc::ServerUnaryReactor* AccountServiceImpl::ListPipelines(grpc::CallbackServerContext* context,
                                                            const grpc::ByteBuffer* request,
                                                            grpc::ByteBuffer* response) {
  using Response = v1::ListPipelinesResponse;
  return Serve<v1::ListPipelinesRequest, Response>(
      context, request, response, "kommo.v1.AccountService/ListPipelines", Kind::kRead, options_,
      NothingToCheck<v1::ListPipelinesRequest>,
      [](rest::KommoClient& client, const v1::ListPipelinesRequest& req, CallOptions call,
         auto done) {
        client.ListPipelines(
            req.refresh(), std::move(call),
            Reply<Response, Fetched<std::vector<v1::Pipeline>>>(
                std::move(done), PutList<Response, v1::Pipeline>(
                                     [](Response& out) { return out.mutable_pipelines(); })));
      });
}

grpc::ServerUnaryReactor* AccountServiceImpl::ListUsers(grpc::CallbackServerContext* context,
                                                        const grpc::ByteBuffer* request,
                                                        grpc::ByteBuffer* response) {
  using Response = v1::ListUsersResponse;
  return Serve<v1::ListUsersRequest, Response>(
      context, request, response, "kommo.v1.AccountService/ListUsers", Kind::kRead, options_,
      NothingToCheck<v1::ListUsersRequest>,
      [](rest::KommoClient& client, const v1::ListUsersRequest& req, CallOptions call, auto done) {
        client.ListUsers(req.refresh(), std::move(call),
                         Reply<Response, Fetched<std::vector<v1::User>>>(
                             std::move(done), PutList<Response, v1::User>([](Response& out) {
                               return out.mutable_users();
                             })));
      });
}

grpc::ServerUnaryReactor* AccountServiceImpl::ListCustomFields(grpc::CallbackServerContext* context,
                                                               const grpc::ByteBuffer* request,
                                                               grpc::ByteBuffer* response) {
  using Response = v1::ListCustomFieldsResponse;
  return Serve<v1::ListCustomFieldsRequest, Response>(
      context, request, response, "kommo.v1.AccountService/ListCustomFields", Kind::kRead, options_,
      ValidateListCustomFields,
      [](rest::KommoClient& client, const v1::ListCustomFieldsRequest& req, CallOptions call,
         auto done) {
        client.ListCustomFields(
            req.entity_type(), req.refresh(), std::move(call),
            Reply<Response, Fetched<std::vector<v1::CustomField>>>(
                std::move(done), PutList<Response, v1::CustomField>(
                                     [](Response& out) { return out.mutable_custom_fields(); })));
      });
}

grpc::ServerUnaryReactor* AccountServiceImpl::ListLossReasons(grpc::CallbackServerContext* context,
                                                              const grpc::ByteBuffer* request,
                                                              grpc::ByteBuffer* response) {
  using Response = v1::ListLossReasonsResponse;
  return Serve<v1::ListLossReasonsRequest, Response>(
      context, request, response, "kommo.v1.AccountService/ListLossReasons", Kind::kRead, options_,
      NothingToCheck<v1::ListLossReasonsRequest>,
      [](rest::KommoClient& client, const v1::ListLossReasonsRequest& req, CallOptions call,
         auto done) {
        client.ListLossReasons(
            req.refresh(), std::move(call),
            Reply<Response, Fetched<std::vector<v1::LossReason>>>(
                std::move(done), PutList<Response, v1::LossReason>(
                                     [](Response& out) { return out.mutable_loss_reasons(); })));
      });
}

}  // namespace kommo::api
