#include "server/api/grpc_status.h"

#include <grpc/support/time.h>

#include <chrono>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "google/rpc/status.pb.h"
#include "server/common/error_details.h"

namespace kommo::api {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  const auto code = static_cast<grpc::StatusCode>(status.code());
  const std::string message(status.message());

  google::rpc::Status details;
  details.set_code(static_cast<int>(status.code()));
  details.set_message(message);
  google::rpc::ErrorInfo info = GetErrorInfo(status).value_or(google::rpc::ErrorInfo());
  if (info.reason().empty()) {
    info.set_domain(kErrorDomain);
    info.set_reason(std::string(DefaultReason(status.code()).name()));
  }
  details.add_details()->PackFrom(info);
  if (std::optional<google::rpc::BadRequest> bad_request = GetBadRequest(status)) {
    details.add_details()->PackFrom(*bad_request);
  }
  if (std::optional<google::rpc::RetryInfo> retry = GetRetryInfo(status)) {
    details.add_details()->PackFrom(*retry);
  }
  return grpc::Status(code, message, details.SerializeAsString());
}

absl::Duration TimeLeft(const grpc::ServerContextBase& context) {
  const gpr_timespec deadline = context.raw_deadline();
  if (gpr_time_cmp(deadline, gpr_inf_future(deadline.clock_type)) == 0) {
    return absl::InfiniteDuration();
  }
  const gpr_timespec left = gpr_time_sub(deadline, gpr_now(deadline.clock_type));
  return absl::Seconds(left.tv_sec) + absl::Nanoseconds(left.tv_nsec);
}

void FinishRpc(grpc::CallbackServerContext* context, grpc::ServerUnaryReactor* reactor,
               const absl::Status& status) {
  if (std::optional<absl::Duration> delay = GetRetryDelay(status)) {
    // gRPC's retry waits out a pushback even past the call's deadline; when the wait cannot fit,
    // -1 tells it not to retry, so the caller sees this error instead of DEADLINE_EXCEEDED.
    const bool fits = *delay < TimeLeft(*context);
    context->AddTrailingMetadata("grpc-retry-pushback-ms",
                                 fits ? absl::StrCat(absl::ToInt64Milliseconds(*delay)) : "-1");
  }
  reactor->Finish(ToGrpcStatus(status));
}

}  // namespace kommo::api
