#ifndef KOMMO_SERVER_COMMON_ERROR_DETAILS_H_
#define KOMMO_SERVER_COMMON_ERROR_DETAILS_H_

// Error details carried on absl::Status below the gRPC boundary.
//
// Every layer attaches what it knows as absl::Status payloads keyed by the standard google.rpc type
// URLs (ErrorInfo, BadRequest, RetryInfo). The one conversion function in server/api turns them
// into the google.rpc.Status details a gRPC caller decodes. Keeping them on the Status means no
// layer needs gRPC types to say what went wrong.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/rpc/error_details.pb.h"

namespace kommo {

// ErrorInfo.domain of every error this service returns.
inline constexpr char kErrorDomain[] = "kommo-grpc";

inline constexpr char kErrorInfoTypeUrl[] = "type.googleapis.com/google.rpc.ErrorInfo";
inline constexpr char kBadRequestTypeUrl[] = "type.googleapis.com/google.rpc.BadRequest";
inline constexpr char kRetryInfoTypeUrl[] = "type.googleapis.com/google.rpc.RetryInfo";

// ErrorInfo.reason values. Callers branch on these, so they never change meaning.
namespace reason {
inline constexpr char kInvalidField[] = "INVALID_FIELD";
inline constexpr char kInvalidPageToken[] = "INVALID_PAGE_TOKEN";
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
inline constexpr char kKommoTlsVerificationFailed[] = "KOMMO_TLS_VERIFICATION_FAILED";
inline constexpr char kWriteOutcomeUnknown[] = "WRITE_OUTCOME_UNKNOWN";
inline constexpr char kKommoBadResponse[] = "KOMMO_BAD_RESPONSE";
inline constexpr char kKommoUnexpectedStatus[] = "KOMMO_UNEXPECTED_STATUS";
inline constexpr char kDeadlineExceeded[] = "DEADLINE_EXCEEDED";
inline constexpr char kCancelled[] = "CANCELLED";
inline constexpr char kInternal[] = "INTERNAL";
}  // namespace reason

// One field problem: `field` is a path in the caller's request message ("name", "contact_ids[1]").
struct FieldViolation {
  std::string field;
  std::string description;
};

// Returns an error with `code` and `message` carrying ErrorInfo{kErrorDomain, reason, metadata}.
absl::Status MakeError(absl::StatusCode code, absl::string_view message, absl::string_view reason,
                       const std::map<std::string, std::string>& metadata = {});

// Returns INVALID_ARGUMENT with ErrorInfo{reason} and a BadRequest holding `violations`.
absl::Status MakeInvalidArgument(absl::string_view message, std::vector<FieldViolation> violations,
                                 absl::string_view reason = reason::kInvalidField);

// Replaces the ErrorInfo of `status` (adding one if there is none); no-op on OK.
void SetErrorInfo(absl::Status& status, absl::string_view reason,
                  const std::map<std::string, std::string>& metadata);
// Adds one metadata entry to the ErrorInfo of `status` (creating an ErrorInfo with a reason taken
// from the status code when there is none); no-op on OK.
void AddErrorMetadata(absl::Status& status, absl::string_view key, absl::string_view value);
// Appends field violations to the BadRequest of `status`; no-op on OK.
void AddFieldViolations(absl::Status& status, const std::vector<FieldViolation>& violations);
// Sets the RetryInfo of `status` to `delay`; no-op on OK.
void SetRetryDelay(absl::Status& status, absl::Duration delay);

std::optional<google::rpc::ErrorInfo> GetErrorInfo(const absl::Status& status);
std::optional<google::rpc::BadRequest> GetBadRequest(const absl::Status& status);
std::optional<google::rpc::RetryInfo> GetRetryInfo(const absl::Status& status);
std::optional<absl::Duration> GetRetryDelay(const absl::Status& status);

// The reason used when a status carries no ErrorInfo of its own ("INVALID_ARGUMENT" →
// INVALID_FIELD, and so on): every error leaving the service has one.
absl::string_view DefaultReason(absl::StatusCode code);

}  // namespace kommo

#endif  // KOMMO_SERVER_COMMON_ERROR_DETAILS_H_
