#ifndef KOMMO_SERVER_API_ACCOUNT_SERVICE_H_
#define KOMMO_SERVER_API_ACCOUNT_SERVICE_H_

// The AccountService handlers: the account's catalogues, answered by the Kommo client from its
// cache (server/kommo/catalogue.h). Raw callback methods, like the other services (services.h).

#include "kommo/v1/account_service.grpc.pb.h"
#include "server/api/services.h"
#include "server/kommo/kommo_client.h"

namespace kommo::api {

using RawAccountService = kommo::v1::AccountService::WithRawCallbackMethod_GetAccount<
    kommo::v1::AccountService::WithRawCallbackMethod_ListPipelines<
        kommo::v1::AccountService::WithRawCallbackMethod_ListUsers<
            kommo::v1::AccountService::WithRawCallbackMethod_ListCustomFields<
                kommo::v1::AccountService::WithRawCallbackMethod_ListLossReasons<
                    kommo::v1::AccountService::Service>>>>>;

class AccountServiceImpl final : public RawAccountService {
 public:
  explicit AccountServiceImpl(ServiceOptions options) : options_(std::move(options)) {}

  grpc::ServerUnaryReactor* GetAccount(grpc::CallbackServerContext* context,
                                       const grpc::ByteBuffer* request,
                                       grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ListPipelines(grpc::CallbackServerContext* context,
                                          const grpc::ByteBuffer* request,
                                          grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ListUsers(grpc::CallbackServerContext* context,
                                      const grpc::ByteBuffer* request,
                                      grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ListCustomFields(grpc::CallbackServerContext* context,
                                             const grpc::ByteBuffer* request,
                                             grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ListLossReasons(grpc::CallbackServerContext* context,
                                            const grpc::ByteBuffer* request,
                                            grpc::ByteBuffer* response) override;

 private:
  ServiceOptions options_;
};

// INVALID_ARGUMENT with a BadRequest violation on entity_type unless it names leads, contacts or
// companies.
absl::Status ValidateListCustomFields(const kommo::v1::ListCustomFieldsRequest& request);

}  // namespace kommo::api

#endif  // KOMMO_SERVER_API_ACCOUNT_SERVICE_H_
