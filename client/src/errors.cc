#include "kommo/client/errors.h"

#include <cinttypes>
#include <cstdio>
#include <map>
#include <string>

namespace kommo::client {
namespace {

constexpr char kReasonPrefix[] = "ERROR_REASON_";
constexpr size_t kReasonPrefixLength = sizeof(kReasonPrefix) - 1;

template <typename Detail>
std::optional<Detail> FindDetail(const grpc::Status& status) {
  std::optional<google::rpc::Status> rpc_status = GetRpcStatus(status);
  if (!rpc_status) return std::nullopt;
  for (const google::protobuf::Any& any : rpc_status->details()) {
    Detail detail;
    if (any.Is<Detail>() && any.UnpackTo(&detail)) return detail;
  }
  return std::nullopt;
}

// Server-provided text goes to terminals and logs: no control characters (escape sequences).
std::string Printable(const std::string& text) {
  std::string out = text;
  for (char& c : out) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) c = '?';
  }
  return out;
}

// "1.5s", "250ms", "2s".
std::string FormatMillis(std::chrono::milliseconds delay) {
  const int64_t ms = static_cast<int64_t>(delay.count());
  char text[48];
  if (ms < 1000) {
    std::snprintf(text, sizeof(text), "%" PRId64 "ms", ms);
  } else if (ms % 1000 == 0) {
    std::snprintf(text, sizeof(text), "%" PRId64 "s", ms / 1000);
  } else {
    std::snprintf(text, sizeof(text), "%.3gs", static_cast<double>(ms) / 1000.0);
  }
  return text;
}

}  // namespace

std::optional<google::rpc::Status> GetRpcStatus(const grpc::Status& status) {
  if (status.ok() || status.error_details().empty()) return std::nullopt;
  google::rpc::Status rpc_status;
  if (!rpc_status.ParseFromString(status.error_details())) return std::nullopt;
  return rpc_status;
}

std::optional<google::rpc::ErrorInfo> GetErrorInfo(const grpc::Status& status) {
  return FindDetail<google::rpc::ErrorInfo>(status);
}

std::optional<google::rpc::BadRequest> GetBadRequest(const grpc::Status& status) {
  return FindDetail<google::rpc::BadRequest>(status);
}

std::optional<google::rpc::RetryInfo> GetRetryInfo(const grpc::Status& status) {
  return FindDetail<google::rpc::RetryInfo>(status);
}

std::string ErrorReason(const grpc::Status& status) {
  std::optional<google::rpc::ErrorInfo> info = GetErrorInfo(status);
  return info ? info->reason() : std::string();
}

kommo::v1::ErrorReason ReasonOf(const grpc::Status& status) {
  std::optional<google::rpc::ErrorInfo> info = GetErrorInfo(status);
  if (!info || info->domain() != kErrorDomain) return kommo::v1::ERROR_REASON_UNSPECIFIED;
  return ParseReasonName(info->reason());
}

std::string ReasonName(kommo::v1::ErrorReason reason) {
  if (reason == kommo::v1::ERROR_REASON_UNSPECIFIED || !kommo::v1::ErrorReason_IsValid(reason)) {
    return "";
  }
  const std::string& name = kommo::v1::ErrorReason_Name(reason);
  return name.compare(0, kReasonPrefixLength, kReasonPrefix) == 0 ? name.substr(kReasonPrefixLength)
                                                                  : name;
}

kommo::v1::ErrorReason ParseReasonName(const std::string& name) {
  kommo::v1::ErrorReason reason = kommo::v1::ERROR_REASON_UNSPECIFIED;
  // A prefixed name is the enum's spelling, never a reason string.
  if (name.empty() || name.compare(0, kReasonPrefixLength, kReasonPrefix) == 0 ||
      !kommo::v1::ErrorReason_Parse(kReasonPrefix + name, &reason)) {
    return kommo::v1::ERROR_REASON_UNSPECIFIED;
  }
  return reason;
}

std::optional<std::chrono::milliseconds> GetRetryDelay(const grpc::Status& status) {
  std::optional<google::rpc::RetryInfo> retry = GetRetryInfo(status);
  if (!retry || !retry->has_retry_delay()) return std::nullopt;
  const google::protobuf::Duration& delay = retry->retry_delay();
  if (delay.seconds() < 0 || delay.nanos() < 0) return std::chrono::milliseconds(0);
  // Round up: waiting a little longer than asked is fine, shorter is not.
  return std::chrono::milliseconds(delay.seconds() * 1000 + (delay.nanos() + 999999) / 1000000);
}

std::string StatusCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    case grpc::StatusCode::DO_NOT_USE:
      break;
  }
  return "CODE_" + std::to_string(static_cast<int>(code));
}

std::string FormatError(const grpc::Status& status) {
  if (status.ok()) return "OK";
  std::string out = StatusCodeName(status.error_code()) + ": " + Printable(status.error_message());
  if (std::optional<google::rpc::ErrorInfo> info = GetErrorInfo(status)) {
    out += "\n  reason: " + Printable(info->reason());
    if (!info->domain().empty()) out += " (" + Printable(info->domain()) + ")";
    if (!info->metadata().empty()) {
      // Map order is unspecified: sort for output that reads the same every time.
      std::map<std::string, std::string> sorted(info->metadata().begin(), info->metadata().end());
      std::string metadata;
      for (const auto& [key, value] : sorted) {
        metadata += (metadata.empty() ? "" : ", ") + Printable(key) + "=" + Printable(value);
      }
      out += "\n  metadata: " + metadata;
    }
  }
  if (std::optional<google::rpc::BadRequest> bad_request = GetBadRequest(status)) {
    for (const google::rpc::BadRequest::FieldViolation& violation :
         bad_request->field_violations()) {
      out +=
          "\n  field " + Printable(violation.field()) + ": " + Printable(violation.description());
    }
  }
  if (std::optional<std::chrono::milliseconds> delay = GetRetryDelay(status)) {
    out += "\n  retry after: " + FormatMillis(*delay);
  }
  return out;
}

}  // namespace kommo::client
