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
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/rpc/error_details.pb.h"
#include "kommo/v1/error_reason.pb.h"

namespace kommo {

// ErrorInfo.domain of every error this service returns.
inline constexpr char kErrorDomain[] = "kommo-grpc";

inline constexpr char kErrorInfoTypeUrl[] = "type.googleapis.com/google.rpc.ErrorInfo";
inline constexpr char kBadRequestTypeUrl[] = "type.googleapis.com/google.rpc.BadRequest";
inline constexpr char kRetryInfoTypeUrl[] = "type.googleapis.com/google.rpc.RetryInfo";

// One ErrorInfo.reason: a value of kommo.v1.ErrorReason (proto/kommo/v1/error_reason.proto, the one
// list of reasons). Its string, the one callers see, is the value's name without the
// "ERROR_REASON_" prefix: Reason(v1::ERROR_REASON_LEAD_NOT_FOUND).name() == "LEAD_NOT_FOUND".
// Converts to absl::string_view and compares with strings, so it can be used wherever the reason
// string is wanted.
class Reason {
 public:
  constexpr Reason(v1::ErrorReason value) : value_(value) {}  // NOLINT: implicit by design

  constexpr v1::ErrorReason value() const { return value_; }
  // The ErrorInfo.reason string; "" for ERROR_REASON_UNSPECIFIED and values outside the enum.
  absl::string_view name() const;
  operator absl::string_view() const { return name(); }  // NOLINT: implicit by design
  explicit operator std::string() const { return std::string(name()); }

  friend bool operator==(Reason a, Reason b) { return a.value_ == b.value_; }
  friend bool operator!=(Reason a, Reason b) { return a.value_ != b.value_; }
  friend bool operator==(Reason a, absl::string_view b) { return a.name() == b; }
  friend bool operator==(absl::string_view a, Reason b) { return a == b.name(); }
  friend bool operator!=(Reason a, absl::string_view b) { return a.name() != b; }
  friend bool operator!=(absl::string_view a, Reason b) { return a != b.name(); }
  friend std::ostream& operator<<(std::ostream& out, Reason reason) { return out << reason.name(); }

 private:
  v1::ErrorReason value_;
};

// The Reason whose name() is `name` ("LEAD_NOT_FOUND"); nullopt for any other string, including
// "", "UNSPECIFIED" and the prefixed value name.
std::optional<Reason> ParseReason(absl::string_view name);

// The reasons by their C++ names; callers branch on these, so they never change meaning. Each is
// a kommo.v1.ErrorReason value (README "Errors" says when each is returned).
namespace reason {
inline constexpr Reason kInvalidField = v1::ERROR_REASON_INVALID_FIELD;
inline constexpr Reason kInvalidPageToken = v1::ERROR_REASON_INVALID_PAGE_TOKEN;
inline constexpr Reason kMalformedRequest = v1::ERROR_REASON_MALFORMED_REQUEST;
inline constexpr Reason kKommoValidationFailed = v1::ERROR_REASON_KOMMO_VALIDATION_FAILED;
inline constexpr Reason kKommoBadRequest = v1::ERROR_REASON_KOMMO_BAD_REQUEST;
inline constexpr Reason kLeadNotFound = v1::ERROR_REASON_LEAD_NOT_FOUND;
inline constexpr Reason kContactNotFound = v1::ERROR_REASON_CONTACT_NOT_FOUND;
inline constexpr Reason kNotFound = v1::ERROR_REASON_NOT_FOUND;
inline constexpr Reason kKommoUnauthorized = v1::ERROR_REASON_KOMMO_UNAUTHORIZED;
inline constexpr Reason kKommoPaymentRequired = v1::ERROR_REASON_KOMMO_PAYMENT_REQUIRED;
inline constexpr Reason kKommoForbidden = v1::ERROR_REASON_KOMMO_FORBIDDEN;
inline constexpr Reason kKommoAccountBlocked = v1::ERROR_REASON_KOMMO_ACCOUNT_BLOCKED;
inline constexpr Reason kKommoRateLimited = v1::ERROR_REASON_KOMMO_RATE_LIMITED;
inline constexpr Reason kRateLimitQueueTimeout = v1::ERROR_REASON_RATE_LIMIT_QUEUE_TIMEOUT;
inline constexpr Reason kKommoUnavailable = v1::ERROR_REASON_KOMMO_UNAVAILABLE;
inline constexpr Reason kKommoConnectionFailed = v1::ERROR_REASON_KOMMO_CONNECTION_FAILED;
inline constexpr Reason kKommoTlsVerificationFailed =
    v1::ERROR_REASON_KOMMO_TLS_VERIFICATION_FAILED;
inline constexpr Reason kWriteOutcomeUnknown = v1::ERROR_REASON_WRITE_OUTCOME_UNKNOWN;
inline constexpr Reason kReadBackFailed = v1::ERROR_REASON_READ_BACK_FAILED;
inline constexpr Reason kBatchRejected = v1::ERROR_REASON_BATCH_REJECTED;
inline constexpr Reason kKommoBadResponse = v1::ERROR_REASON_KOMMO_BAD_RESPONSE;
inline constexpr Reason kKommoUnexpectedStatus = v1::ERROR_REASON_KOMMO_UNEXPECTED_STATUS;
inline constexpr Reason kDeadlineExceeded = v1::ERROR_REASON_DEADLINE_EXCEEDED;
inline constexpr Reason kCancelled = v1::ERROR_REASON_CANCELLED;
inline constexpr Reason kInternal = v1::ERROR_REASON_INTERNAL;
inline constexpr Reason kContactAmbiguous = v1::ERROR_REASON_CONTACT_AMBIGUOUS;
inline constexpr Reason kRequestIdReused = v1::ERROR_REASON_REQUEST_ID_REUSED;
inline constexpr Reason kIncomingLeadNotFound = v1::ERROR_REASON_INCOMING_LEAD_NOT_FOUND;
inline constexpr Reason kLookupTooBroad = v1::ERROR_REASON_LOOKUP_TOO_BROAD;
inline constexpr Reason kTaskNotFound = v1::ERROR_REASON_TASK_NOT_FOUND;
inline constexpr Reason kCompanyNotFound = v1::ERROR_REASON_COMPANY_NOT_FOUND;
inline constexpr Reason kWatchHistoryExpired = v1::ERROR_REASON_WATCH_HISTORY_EXPIRED;
inline constexpr Reason kServerShuttingDown = v1::ERROR_REASON_SERVER_SHUTTING_DOWN;
inline constexpr Reason kCallerUnauthenticated = v1::ERROR_REASON_CALLER_UNAUTHENTICATED;
inline constexpr Reason kMethodNotPermitted = v1::ERROR_REASON_METHOD_NOT_PERMITTED;
inline constexpr Reason kUnknownAccount = v1::ERROR_REASON_UNKNOWN_ACCOUNT;
}  // namespace reason

// One field problem: `field` is a path in the caller's request message ("name", "contact_ids[1]").
struct FieldViolation {
  std::string field;
  std::string description;
};

// Returns an error with `code` and `message` carrying ErrorInfo{kErrorDomain, reason, metadata}.
absl::Status MakeError(absl::StatusCode code, absl::string_view message, Reason reason,
                       const std::map<std::string, std::string>& metadata = {});
// The same with the reason given by its string, for a reason copied from another status. A string
// that is not the name of a kommo.v1.ErrorReason value is a bug: it is logged as an error and the
// error carries reason INTERNAL instead, so no caller ever sees a reason outside the enum.
absl::Status MakeError(absl::StatusCode code, absl::string_view message,
                       absl::string_view reason_name,
                       const std::map<std::string, std::string>& metadata = {});

// Returns INVALID_ARGUMENT with ErrorInfo{reason} and a BadRequest holding `violations`.
absl::Status MakeInvalidArgument(absl::string_view message, std::vector<FieldViolation> violations,
                                 Reason reason = reason::kInvalidField);

// Replaces the ErrorInfo of `status` (adding one if there is none); no-op on OK. The string form
// treats a name outside kommo.v1.ErrorReason as MakeError's does.
void SetErrorInfo(absl::Status& status, Reason reason,
                  const std::map<std::string, std::string>& metadata);
void SetErrorInfo(absl::Status& status, absl::string_view reason_name,
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
Reason DefaultReason(absl::StatusCode code);

}  // namespace kommo

#endif  // KOMMO_SERVER_COMMON_ERROR_DETAILS_H_
