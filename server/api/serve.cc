#include "server/api/serve.h"

#include <grpc/slice.h>
#include <grpcpp/support/proto_buffer_reader.h>

#include <algorithm>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "server/common/log.h"

namespace kommo::api::internal {

std::string RequestIdFor(const grpc::CallbackServerContext* context) {
  const auto& metadata = context->client_metadata();
  auto it = metadata.find("x-request-id");
  if (it != metadata.end() && !it->second.empty() && it->second.size() <= 64) {
    const absl::string_view given(it->second.data(), it->second.size());
    bool sane = true;
    for (char c : given) {
      sane &=
          absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
    }
    if (sane) return std::string(given);
  }
  thread_local std::mt19937_64 random(std::random_device{}());
  char id[17];
  std::snprintf(id, sizeof(id), "%016llx", static_cast<unsigned long long>(random()));
  return id;
}

absl::Duration ReplyMargin(absl::Duration left) {
  return std::clamp(left / 10, absl::Milliseconds(2), absl::Milliseconds(100));
}

CallOptions OptionsFor(const grpc::CallbackServerContext* context, const ServiceOptions& options,
                       std::shared_ptr<CancellationToken> token, std::shared_ptr<CallTrace> trace) {
  absl::Duration left = options.default_deadline;
  if (const absl::Duration given = TimeLeft(*context); given <= absl::Hours(24)) left = given;
  // The server answers a little before the caller's deadline, so its reason (for a write,
  // WRITE_OUTCOME_UNKNOWN) reaches the caller before gRPC's own deadline timer fires there.
  left -= ReplyMargin(left);
  // Deadlines below the gRPC boundary are on the monotonic clock (common/clock.h).
  return {MonotonicNow() + left, std::move(token), std::move(trace)};
}

absl::Status ParseRequest(const grpc::ByteBuffer& raw, google::protobuf::Message& request) {
  // Parsed where gRPC received it: a request in one slice (the usual case) straight from that
  // slice, one in several slices (or compressed) through gRPC's own zero-copy reader; the bytes
  // are never gathered into a string first.
  bool parsed = false;
  grpc::Slice slice;
  if (!raw.Valid()) {
    parsed = request.ParseFromArray(nullptr, 0);  // no bytes: the empty message, as before
  } else if (raw.TrySingleSlice(&slice).ok()) {
    parsed = request.ParseFromArray(slice.begin(), static_cast<int>(slice.size()));
  } else {
    grpc::ByteBuffer shared(raw);  // shares the slices (reference counts); the reader needs one
    grpc::ProtoBufferReader reader(&shared);
    parsed = reader.status().ok() && request.ParseFromZeroCopyStream(&reader);
  }
  if (!parsed) {
    return MakeError(absl::StatusCode::kInvalidArgument,
                     absl::StrCat("the request is not a valid ", request.GetTypeName(),
                                  ": malformed protobuf, or a string field that is not UTF-8"),
                     reason::kMalformedRequest);
  }
  return absl::OkStatus();
}

void WriteResponse(const google::protobuf::Message& response, grpc::ByteBuffer* raw) {
  // Serialised once, straight into the slice gRPC sends (no string, no copy into a slice).
  grpc_slice bytes = grpc_slice_malloc(response.ByteSizeLong());
  response.SerializeWithCachedSizesToArray(GRPC_SLICE_START_PTR(bytes));
  grpc::Slice slice(bytes, grpc::Slice::STEAL_REF);
  *raw = grpc::ByteBuffer(&slice, 1);
}

void LogCall(absl::string_view method, Kind kind, const absl::Status& status,
             absl::Duration latency, bool caller_gone, int64_t written_id, const CallTrace& trace) {
  const bool outcome_matters =
      kind == Kind::kWrite && caller_gone;  // the caller will never learn what happened
  const log::Level level = outcome_matters ? log::Level::kWarning : log::Level::kInfo;
  if (!log::Enabled(level)) return;
  std::string reason;
  std::string outcome;
  std::string entity_id;
  std::string kommo_request_id;
  if (!status.ok()) {
    if (auto info = GetErrorInfo(status)) {
      reason = info->reason();
      for (const auto& [key, value] : info->metadata()) {
        if (key == "outcome") outcome = value;
        if (key == "lead_id" || key == "contact_id") entity_id = value;
        if (key == "kommo_request_id") kommo_request_id = value;
      }
    } else {
      reason = std::string(DefaultReason(status.code()).name());
    }
  } else if (kind == Kind::kWrite) {
    outcome = "written";
    entity_id = absl::StrCat(written_id);
  }
  log::Write(level, "rpc",
             {{"method", method},
              {"account", trace.account},
              {"request_id", trace.request_id},
              {"kommo_requests", trace.kommo_requests.load()},
              {"code", absl::StatusCodeToString(status.code())},
              {"reason", reason},
              {"latency_ms", absl::ToDoubleMilliseconds(latency)},
              {"caller_gone", caller_gone},
              {"outcome", outcome},
              {"id", entity_id},
              {"kommo_request_id", kommo_request_id}});
}

absl::Status Authorize(const grpc::CallbackServerContext* context, const ServiceOptions& options,
                       absl::string_view method, CallTrace& trace) {
  if (options.authorizer == nullptr) return absl::OkStatus();
  absl::StatusOr<auth::Caller> caller =
      options.authorizer->Check(auth::CredentialsOf(*context), method);
  if (!caller.ok()) {
    // A known caller refused a method: the audit trail names it.
    if (std::optional<google::rpc::ErrorInfo> info = GetErrorInfo(caller.status());
        info.has_value() && caller.status().code() == absl::StatusCode::kPermissionDenied) {
      auto it = info->metadata().find("caller");
      if (it != info->metadata().end()) trace.caller = it->second;
    }
    return caller.status();
  }
  trace.caller = caller->name;
  trace.weight = caller->weight;
  return absl::OkStatus();
}

absl::StatusOr<accounts::AccountPtr> AccountFor(const grpc::CallbackServerContext* context,
                                                const ServiceOptions& options, CallTrace& trace) {
  if (options.accounts == nullptr) {
    return MakeError(absl::StatusCode::kInternal, "the server has no Kommo account",
                     reason::kInternal);
  }
  const auto& metadata = context->client_metadata();
  auto it = metadata.find(accounts::kAccountMetadata);
  const absl::string_view asked = it == metadata.end()
                                      ? absl::string_view()
                                      : absl::string_view(it->second.data(), it->second.size());
  absl::StatusOr<accounts::AccountPtr> account = options.accounts->Find(asked);
  if (account.ok()) trace.account = (*account)->name();
  return account;
}

absl::Status StillRunning(absl::StatusCode code, absl::string_view method) {
  return MakeError(code,
                   absl::StrCat(code == absl::StatusCode::kDeadlineExceeded ? "deadline exceeded"
                                                                            : "call cancelled",
                                " while ", method,
                                " was still running; it goes on: repeat the call with the same "
                                "request_id to get its outcome"),
                   reason::kWriteOutcomeUnknown, {{"outcome", "unknown"}, {"running", "true"}});
}

}  // namespace kommo::api::internal
