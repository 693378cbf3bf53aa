#include "server/common/error_details.h"

#include <cmath>
#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "server/common/log.h"

namespace kommo {
namespace {

template <typename Message>
std::optional<Message> GetPayload(const absl::Status& status, absl::string_view type_url) {
  absl::optional<absl::Cord> payload = status.GetPayload(type_url);
  if (!payload.has_value()) return std::nullopt;
  Message message;
  if (!message.ParseFromString(std::string(*payload))) return std::nullopt;
  return message;
}

template <typename Message>
void SetPayload(absl::Status& status, absl::string_view type_url, const Message& message) {
  status.SetPayload(type_url, absl::Cord(message.SerializeAsString()));
}

constexpr absl::string_view kValuePrefix = "ERROR_REASON_";

// `reason` when it names a value of the enum other than UNSPECIFIED, else INTERNAL (logged: a
// reason outside the enum is a bug in the service).
Reason Checked(Reason reason) {
  if (!reason.name().empty()) return reason;
  log::Error("an error was made with a reason outside kommo.v1.ErrorReason; sent as INTERNAL",
             {{"reason_value", static_cast<int>(reason.value())}});
  return reason::kInternal;
}

Reason Checked(absl::string_view reason_name) {
  if (std::optional<Reason> reason = ParseReason(reason_name)) return *reason;
  log::Error("an error was made with a reason outside kommo.v1.ErrorReason; sent as INTERNAL",
             {{"reason", reason_name}});
  return reason::kInternal;
}

}  // namespace

absl::string_view Reason::name() const {
  if (value_ == v1::ERROR_REASON_UNSPECIFIED || !v1::ErrorReason_IsValid(value_)) return "";
  // The generated name is a static string that lives as long as the program.
  absl::string_view name = v1::ErrorReason_Name(value_);
  absl::ConsumePrefix(&name, kValuePrefix);
  return name;
}

std::optional<Reason> ParseReason(absl::string_view name) {
  v1::ErrorReason value = v1::ERROR_REASON_UNSPECIFIED;
  if (name.empty() || absl::StartsWith(name, kValuePrefix) ||
      !v1::ErrorReason_Parse(absl::StrCat(kValuePrefix, name), &value) ||
      value == v1::ERROR_REASON_UNSPECIFIED) {
    return std::nullopt;
  }
  return Reason(value);
}

Reason DefaultReason(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kInvalidArgument:
      return reason::kInvalidField;
    case absl::StatusCode::kDeadlineExceeded:
      return reason::kDeadlineExceeded;
    case absl::StatusCode::kCancelled:
      return reason::kCancelled;
    case absl::StatusCode::kUnavailable:
      return reason::kKommoUnavailable;
    case absl::StatusCode::kResourceExhausted:
      return reason::kKommoRateLimited;
    case absl::StatusCode::kUnauthenticated:
      return reason::kCallerUnauthenticated;
    case absl::StatusCode::kPermissionDenied:
      return reason::kMethodNotPermitted;
    default:
      return reason::kInternal;
  }
}

absl::Status MakeError(absl::StatusCode code, absl::string_view message, Reason reason,
                       const std::map<std::string, std::string>& metadata) {
  absl::Status status(code, message);
  SetErrorInfo(status, reason, metadata);
  return status;
}

absl::Status MakeError(absl::StatusCode code, absl::string_view message,
                       absl::string_view reason_name,
                       const std::map<std::string, std::string>& metadata) {
  absl::Status status(code, message);
  SetErrorInfo(status, reason_name, metadata);
  return status;
}

absl::Status MakeInvalidArgument(absl::string_view message, std::vector<FieldViolation> violations,
                                 Reason reason) {
  absl::Status status = MakeError(absl::StatusCode::kInvalidArgument, message, reason);
  AddFieldViolations(status, violations);
  return status;
}

void SetErrorInfo(absl::Status& status, Reason reason,
                  const std::map<std::string, std::string>& metadata) {
  if (status.ok()) return;
  google::rpc::ErrorInfo info;
  info.set_domain(kErrorDomain);
  info.set_reason(std::string(Checked(reason).name()));
  for (const auto& [key, value] : metadata) (*info.mutable_metadata())[key] = value;
  SetPayload(status, kErrorInfoTypeUrl, info);
}

void SetErrorInfo(absl::Status& status, absl::string_view reason_name,
                  const std::map<std::string, std::string>& metadata) {
  if (status.ok()) return;
  SetErrorInfo(status, Checked(reason_name), metadata);
}

void AddErrorMetadata(absl::Status& status, absl::string_view key, absl::string_view value) {
  if (status.ok()) return;
  google::rpc::ErrorInfo info = GetErrorInfo(status).value_or(google::rpc::ErrorInfo());
  if (info.reason().empty()) {
    info.set_domain(kErrorDomain);
    info.set_reason(std::string(DefaultReason(status.code()).name()));
  }
  (*info.mutable_metadata())[std::string(key)] = std::string(value);
  SetPayload(status, kErrorInfoTypeUrl, info);
}

void AddFieldViolations(absl::Status& status, const std::vector<FieldViolation>& violations) {
  if (status.ok() || violations.empty()) return;
  google::rpc::BadRequest bad_request = GetBadRequest(status).value_or(google::rpc::BadRequest());
  for (const FieldViolation& violation : violations) {
    google::rpc::BadRequest::FieldViolation* added = bad_request.add_field_violations();
    added->set_field(violation.field);
    added->set_description(violation.description);
  }
  SetPayload(status, kBadRequestTypeUrl, bad_request);
}

void SetRetryDelay(absl::Status& status, absl::Duration delay) {
  if (status.ok()) return;
  if (delay < absl::ZeroDuration()) delay = absl::ZeroDuration();
  google::rpc::RetryInfo info;
  const int64_t seconds = absl::IDivDuration(delay, absl::Seconds(1), &delay);
  info.mutable_retry_delay()->set_seconds(seconds);
  info.mutable_retry_delay()->set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(delay)));
  SetPayload(status, kRetryInfoTypeUrl, info);
}

std::optional<google::rpc::ErrorInfo> GetErrorInfo(const absl::Status& status) {
  return GetPayload<google::rpc::ErrorInfo>(status, kErrorInfoTypeUrl);
}

std::optional<google::rpc::BadRequest> GetBadRequest(const absl::Status& status) {
  return GetPayload<google::rpc::BadRequest>(status, kBadRequestTypeUrl);
}

std::optional<google::rpc::RetryInfo> GetRetryInfo(const absl::Status& status) {
  return GetPayload<google::rpc::RetryInfo>(status, kRetryInfoTypeUrl);
}

std::optional<absl::Duration> GetRetryDelay(const absl::Status& status) {
  std::optional<google::rpc::RetryInfo> info = GetRetryInfo(status);
  if (!info.has_value()) return std::nullopt;
  return absl::Seconds(info->retry_delay().seconds()) +
         absl::Nanoseconds(info->retry_delay().nanos());
}

}  // namespace kommo
