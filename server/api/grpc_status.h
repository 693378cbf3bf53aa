#ifndef KOMMO_SERVER_API_GRPC_STATUS_H_
#define KOMMO_SERVER_API_GRPC_STATUS_H_

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace kommo::api {

// The one place where an absl::Status becomes a grpc::Status: same code and message, and a
// google.rpc.Status in the details with ErrorInfo (always; reason from the status code when the
// status carries none), BadRequest and RetryInfo when the status carries them.
grpc::Status ToGrpcStatus(const absl::Status& status);

// The time left until the caller's deadline (InfiniteDuration when it set none), read on the clock
// gRPC keeps the deadline on. Never compare context->deadline() with absl::Now(): the two read the
// wall clock differently (absl's is extrapolated and can lag a step by about 2 s), so right after
// a wall-clock step they disagree by the size of the step.
absl::Duration TimeLeft(const grpc::ServerContextBase& context);

// Finishes a unary callback RPC with `status`. When the status carries a RetryInfo, also sends the
// `grpc-retry-pushback-ms` trailer that gRPC's own retry policies honour.
void FinishRpc(grpc::CallbackServerContext* context, grpc::ServerUnaryReactor* reactor,
               const absl::Status& status);

}  // namespace kommo::api

#endif  // KOMMO_SERVER_API_GRPC_STATUS_H_
