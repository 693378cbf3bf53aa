// Reading kommo-grpc's error details off a grpc::Status.
//
// Every error the server returns carries a google.rpc.Status in grpc::Status::error_details()
// (the `grpc-status-details-bin` trailer) with:
//  - google.rpc.ErrorInfo, always: domain "kommo-grpc", an UPPER_SNAKE reason (the constants
//    below) and metadata such as Kommo's `http_status` and `kommo_request_id`;
//  - google.rpc.BadRequest when request fields are wrong, named by request field ("name",
//    "contact_ids[1]");
//  - google.rpc.RetryInfo when waiting helps (RESOURCE_EXHAUSTED).
//
//   grpc::Status status = leads.CreateLead(&context, request, &response);
//   if (kommo::client::ErrorReason(status) == kommo::client::reason::kWriteOutcomeUnknown) {
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

namespace kommo::client {

// ErrorInfo.domain of every kommo-grpc error.
inline constexpr char kErrorDomain[] = "kommo-grpc";

// ErrorInfo.reason values (README "Errors" has what each means). They never change meaning.
namespace reason {
inline constexpr char kInvalidField[] = "INVALID_FIELD";
inline constexpr char kInvalidPageToken[] = "INVALID_PAGE_TOKEN";
// The request bytes are not a valid message (malformed protobuf, a string that is not UTF-8).
inline constexpr char kMalformedRequest[] = "MALFORMED_REQUEST";
inline constexpr char kKommoValidationFailed[] = "KOMMO_VALIDATION_FAILED";
inline constexpr char kKommoBadRequest[] = "KOMMO_BAD_REQUEST";
inline constexpr char kLeadNotFound[] = "LEAD_NOT_FOUND";
inline constexpr char kContactNotFound[] = "CONTACT_NOT_FOUND";
inline constexpr char kKommoUnauthorized[] = "KOMMO_UNAUTHORIZED";
inline constexpr char kKommoPaymentRequired[] = "KOMMO_PAYMENT_REQUIRED";
inline constexpr char kKommoForbidden[] = "KOMMO_FORBIDDEN";
inline constexpr char kKommoAccountBlocked[] = "KOMMO_ACCOUNT_BLOCKED";
inline constexpr char kKommoRateLimited[] = "KOMMO_RATE_LIMITED";
inline constexpr char kRateLimitQueueTimeout[] = "RATE_LIMIT_QUEUE_TIMEOUT";
inline constexpr char kKommoUnavailable[] = "KOMMO_UNAVAILABLE";
inline constexpr char kKommoConnectionFailed[] = "KOMMO_CONNECTION_FAILED";
// A create was sent but no answer came: the lead or contact may or may not exist.
inline constexpr char kWriteOutcomeUnknown[] = "WRITE_OUTCOME_UNKNOWN";
// The write happened (metadata lead_id or contact_id) but reading it back failed.
inline constexpr char kReadBackFailed[] = "READ_BACK_FAILED";
inline constexpr char kKommoBadResponse[] = "KOMMO_BAD_RESPONSE";
inline constexpr char kKommoUnexpectedStatus[] = "KOMMO_UNEXPECTED_STATUS";
inline constexpr char kDeadlineExceeded[] = "DEADLINE_EXCEEDED";
inline constexpr char kCancelled[] = "CANCELLED";
}  // namespace reason

// The google.rpc.Status in status.error_details(); nullopt when there is none (OK, an error made
// by the client library itself such as a local DEADLINE_EXCEEDED, or bytes that do not parse).
std::optional<google::rpc::Status> GetRpcStatus(const grpc::Status& status);

// The first ErrorInfo, BadRequest or RetryInfo among the details; nullopt when absent.
std::optional<google::rpc::ErrorInfo> GetErrorInfo(const grpc::Status& status);
std::optional<google::rpc::BadRequest> GetBadRequest(const grpc::Status& status);
std::optional<google::rpc::RetryInfo> GetRetryInfo(const grpc::Status& status);

// ErrorInfo.reason, or "" when the status has no ErrorInfo.
std::string ErrorReason(const grpc::Status& status);

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
