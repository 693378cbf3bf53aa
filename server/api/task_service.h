#ifndef KOMMO_SERVER_API_TASK_SERVICE_H_
#define KOMMO_SERVER_API_TASK_SERVICE_H_

// kommo.v1.TaskService: short adapters (decode, validate, call the Kommo client, convert) in the
// raw callback form of services.h.

#include "kommo/v1/task_service.grpc.pb.h"
#include "server/api/services.h"
#include "server/kommo/kommo_client.h"

namespace kommo::api {

using RawTaskService = kommo::v1::TaskService::WithRawCallbackMethod_CreateTask<
    kommo::v1::TaskService::WithRawCallbackMethod_CompleteTask<
        kommo::v1::TaskService::WithRawCallbackMethod_ListTasks<kommo::v1::TaskService::Service>>>;

class TaskServiceImpl final : public RawTaskService {
 public:
  explicit TaskServiceImpl(ServiceOptions options) : options_(std::move(options)) {}

  grpc::ServerUnaryReactor* CreateTask(grpc::CallbackServerContext* context,
                                       const grpc::ByteBuffer* request,
                                       grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* CompleteTask(grpc::CallbackServerContext* context,
                                         const grpc::ByteBuffer* request,
                                         grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ListTasks(grpc::CallbackServerContext* context,
                                      const grpc::ByteBuffer* request,
                                      grpc::ByteBuffer* response) override;

 private:
  ServiceOptions options_;
};

}  // namespace kommo::api

#endif  // KOMMO_SERVER_API_TASK_SERVICE_H_
