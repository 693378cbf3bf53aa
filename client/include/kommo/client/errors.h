// Reading kommo-grpc's error details off a grpc::Status.
//
// Every error the server returns carries a google.rpc.Status in grpc::Status::error_details()
// (the `grpc-status-details-bin` trailer) with:
//  - google.rpc.ErrorInfo, always: domain "kommo-grpc", a reason (a kommo.v1.ErrorReason value,
//    proto/kommo/v1/error_reason.proto, named without its "ERROR_REASON_" prefix) and metadata
//    such as Kommo's `http_status` and `kommo_request_id`;
//  - google.rpc.BadRequest when request fields are wrong, named by request field ("name",
//    "contact_ids[1]");
//  - google.rpc.RetryInfo when waiting helps (RESOURCE_EXHAUSTED).
//
//   grpc::Status status = leads.CreateLead(&context, request, &response);
//   if (kommo::client::ReasonOf(status) == kommo::v1::ERROR_REASON_WRITE_OUTCOME_UNKNOWN) {
//     // search before creating again
//   }
//   std::cerr << kommo::client::FormatError(status);
#ifndef KOMMO_CLIENT_ERRORS_H_
#define KOMMO_CLIENT_ERRORS_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <optional>
#include <string>

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "kommo/v1/error_reason.pb.h"

namespace kommo::client {

// ErrorInfo.domain of every kommo-grpc error.
inline constexpr char kErrorDomain[] = "kommo-grpc";

// The google.rpc.Status in status.error_details(); nullopt when there is none (OK, an error made
// by the client library itself such as a local DEADLINE_EXCEEDED, or bytes that do not parse).
std::optional<google::rpc::Status> GetRpcStatus(const grpc::Status& status);

// The first ErrorInfo, BadRequest or RetryInfo among the details; nullopt when absent.
std::optional<google::rpc::ErrorInfo> GetErrorInfo(const grpc::Status& status);
std::optional<google::rpc::BadRequest> GetBadRequest(const grpc::Status& status);
std::optional<google::rpc::RetryInfo> GetRetryInfo(const grpc::Status& status);

// ErrorInfo.reason as sent, or "" when the status has no ErrorInfo.
std::string ErrorReason(const grpc::Status& status);

// The reason of a kommo-grpc error as the enum: ERROR_REASON_UNSPECIFIED when the status is OK,
// has no ErrorInfo, has one of another domain, or a reason this version does not know (a newer
// server's): then act on the status code alone.
kommo::v1::ErrorReason ReasonOf(const grpc::Status& status);

// The ErrorInfo.reason string of `reason`: its value name without the "ERROR_REASON_" prefix
// (ERROR_REASON_LEAD_NOT_FOUND → "LEAD_NOT_FOUND"); "" for ERROR_REASON_UNSPECIFIED and values
// outside the enum.
std::string ReasonName(kommo::v1::ErrorReason reason);

// The inverse of ReasonName: ERROR_REASON_UNSPECIFIED for "" and any string that is not a
// reason's name.
kommo::v1::ErrorReason ParseReasonName(const std::string& name);

// How long the server asks the caller to wait before trying again (RetryInfo.retry_delay, rounded
// up to whole milliseconds); nullopt when it gave no delay.
std::optional<std::chrono::milliseconds> GetRetryDelay(const grpc::Status& status);

// The canonical name of a code: "OK", "INVALID_ARGUMENT", ..., "UNAUTHENTICATED"; "CODE_<n>" for
// a value outside the enum.
std::string StatusCodeName(grpc::StatusCode code);

// A human-readable description for logs and command lines, one fact per line, no trailing
// newline:
//   NOT_FOUND: lead 31000009999 not found
//     reason: LEAD_NOT_FOUND (kommo-grpc)
//     metadata: http_status=204
//     field name: must be 1 to 255 characters
//     retry after: 1.5s
// Control characters in server-provided text are replaced by '?'. "OK" for an OK status.
std::string FormatError(const grpc::Status& status);

}  // namespace kommo::client

#endif  // KOMMO_CLIENT_ERRORS_H_
