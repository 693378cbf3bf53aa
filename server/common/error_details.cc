#include "server/common/error_details.h"

#include <cmath>
#include <utility>

#include "absl/strings/cord.h"

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

}  // namespace

absl::string_view DefaultReason(absl::StatusCode code) {
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
    default:
      return reason::kInternal;
  }
}

absl::Status MakeError(absl::StatusCode code, absl::string_view message, absl::string_view reason,
                       const std::map<std::string, std::string>& metadata) {
  absl::Status status(code, message);
  SetErrorInfo(status, reason, metadata);
  return status;
}

absl::Status MakeInvalidArgument(absl::string_view message, std::vector<FieldViolation> violations,
                                 absl::string_view reason) {
  absl::Status status = MakeError(absl::StatusCode::kInvalidArgument, message, reason);
  AddFieldViolations(status, violations);
  return status;
}

void SetErrorInfo(absl::Status& status, absl::string_view reason,
                  const std::map<std::string, std::string>& metadata) {
  if (status.ok()) return;
  google::rpc::ErrorInfo info;
  info.set_domain(kErrorDomain);
  info.set_reason(std::string(reason));
  for (const auto& [key, value] : metadata) (*info.mutable_metadata())[key] = value;
  SetPayload(status, kErrorInfoTypeUrl, info);
}

void AddErrorMetadata(absl::Status& status, absl::string_view key, absl::string_view value) {
  if (status.ok()) return;
  google::rpc::ErrorInfo info = GetErrorInfo(status).value_or(google::rpc::ErrorInfo());
  if (info.reason().empty()) {
    info.set_domain(kErrorDomain);
    info.set_reason(std::string(DefaultReason(status.code())));
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
