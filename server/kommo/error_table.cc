#include "server/kommo/error_table.h"

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "server/common/error_details.h"
#include "server/mapping/kommo_json.h"

namespace kommo::rest {
namespace {

// Longest detail text of Kommo's copied into our messages.
constexpr size_t kMaxDetail = 200;

std::string Shorten(absl::string_view text) {
  if (text.size() <= kMaxDetail) return std::string(text);
  return absl::StrCat(text.substr(0, kMaxDetail), "...");
}

}  // namespace

absl::Duration RetryDelayOf(const http::HttpResponse& response, absl::Duration fallback) {
  int64_t seconds = 0;
  if (absl::SimpleAtoi(absl::StripAsciiWhitespace(response.Header("retry-after")), &seconds) &&
      seconds >= 0) {
    return absl::Seconds(seconds);
  }
  std::optional<mapping::Problem> problem = mapping::ParseProblem(response.body);
  if (problem.has_value() && problem->retry_after_seconds.has_value() &&
      *problem->retry_after_seconds >= 0) {
    return absl::Seconds(*problem->retry_after_seconds);
  }
  return fallback;
}

absl::Status ErrorFromResponse(const http::HttpResponse& response, const ErrorContext& context) {
  const int http_status = response.status;
  std::optional<mapping::Problem> problem = mapping::ParseProblem(response.body);
  const std::string detail = problem.has_value() && !problem->detail.empty()
                                 ? absl::StrCat(": ", Shorten(problem->detail))
                                 : (problem.has_value() && !problem->title.empty()
                                        ? absl::StrCat(": ", Shorten(problem->title))
                                        : std::string());
  const std::string answered = absl::StrCat(context.what, " answered HTTP ", http_status, detail);

  absl::StatusCode code = absl::StatusCode::kInternal;
  absl::string_view reason_text = reason::kKommoUnexpectedStatus;
  std::string message = absl::StrCat("unexpected answer from Kommo: ", answered);
  std::vector<FieldViolation> violations;
  std::optional<absl::Duration> retry;

  if (http_status == 400 && problem.has_value() && !problem->validation_errors.empty()) {
    code = absl::StatusCode::kInvalidArgument;
    reason_text = reason::kKommoValidationFailed;
    message = absl::StrCat("Kommo rejected the request: ", answered);
    for (const mapping::ValidationError& error : problem->validation_errors) {
      std::string field =
          context.field_of_path ? context.field_of_path(error.path) : std::string(error.path);
      std::string description = error.detail.empty() ? error.code : Shorten(error.detail);
      if (!error.code.empty() && !error.detail.empty()) {
        absl::StrAppend(&description, " (", error.code, ")");
      }
      violations.push_back({std::move(field), std::move(description)});
    }
  } else if (http_status == 400 || http_status == 422) {
    code = absl::StatusCode::kInvalidArgument;
    reason_text = reason::kKommoBadRequest;
    message = absl::StrCat("Kommo rejected the request: ", answered);
  } else if (http_status == 401) {
    code = absl::StatusCode::kFailedPrecondition;
    reason_text = reason::kKommoUnauthorized;
    message = absl::StrCat("Kommo refused this service's access token (check KOMMO_ACCESS_TOKEN): ",
                           answered);
  } else if (http_status == 402) {
    code = absl::StatusCode::kFailedPrecondition;
    reason_text = reason::kKommoPaymentRequired;
    message = absl::StrCat("the Kommo account is not paid: ", answered);
  } else if (http_status == 403 && problem.has_value()) {
    code = absl::StatusCode::kFailedPrecondition;
    reason_text = reason::kKommoForbidden;
    message = absl::StrCat("Kommo forbids this to the service's token: ", answered);
  } else if (http_status == 403) {
    code = absl::StatusCode::kUnavailable;
    reason_text = reason::kKommoAccountBlocked;
    message = absl::StrCat(
        "Kommo is blocking this account's API access (an HTML 403, as after rate-limit abuse): ",
        answered);
  } else if (http_status == 404) {
    code = absl::StatusCode::kNotFound;
    reason_text = context.not_found_reason.empty() ? absl::string_view(reason::kNotFound)
                                                   : context.not_found_reason;
    message = absl::StrCat("not found: ", answered);
  } else if (http_status == 429) {
    code = absl::StatusCode::kResourceExhausted;
    reason_text = reason::kKommoRateLimited;
    message = absl::StrCat("Kommo's rate limit was hit; Kommo did not act: ", answered);
    retry = RetryDelayOf(response, absl::Seconds(1));
  } else if (http_status >= 500 && http_status <= 599) {
    code = absl::StatusCode::kUnavailable;
    if (Unrepeatable(context.kind)) {
      reason_text = reason::kWriteOutcomeUnknown;
      message = absl::StrCat(
          context.kind == RequestKind::kCreate
              ? "Kommo failed while creating; the outcome is unknown (search before creating "
                "again): "
              : "Kommo failed while acting; the outcome is unknown (read the entity before "
                "trying again): ",
          answered);
    } else {
      reason_text = reason::kKommoUnavailable;
      message = absl::StrCat("Kommo is unavailable: ", answered);
    }
  }

  absl::Status status(code, message);
  std::map<std::string, std::string> metadata = {{"http_status", absl::StrCat(http_status)}};
  if (!response.Header("x-request-id").empty()) {
    metadata["kommo_request_id"] = std::string(response.Header("x-request-id"));
  }
  if (problem.has_value() && !problem->trace_id.empty()) {
    metadata["trace_id"] = problem->trace_id;
  }
  SetErrorInfo(status, reason_text, metadata);
  AddFieldViolations(status, violations);
  if (retry.has_value()) SetRetryDelay(status, *retry);
  return status;
}

absl::Status EntityNotFound(const ErrorContext& context) {
  const std::string entity = context.entity.empty() ? "entity" : context.entity;
  std::map<std::string, std::string> metadata;
  if (context.entity_id != 0) {
    metadata[absl::StrCat(entity, "_id")] = absl::StrCat(context.entity_id);
  }
  return MakeError(absl::StatusCode::kNotFound,
                   context.entity_id != 0
                       ? absl::StrCat(entity, " ", context.entity_id, " does not exist")
                       : absl::StrCat(context.what, ": not found"),
                   context.not_found_reason.empty() ? absl::string_view(reason::kNotFound)
                                                    : context.not_found_reason,
                   metadata);
}

absl::StatusOr<std::optional<absl::string_view>> AnswerBody(const http::HttpResponse& response,
                                                            const ErrorContext& context) {
  const int status = response.status;
  if (status == 204) {
    switch (context.kind) {
      case RequestKind::kList:
        return std::nullopt;
      case RequestKind::kRead:
        return EntityNotFound(context);
      case RequestKind::kCreate:
        return MakeError(absl::StatusCode::kUnavailable,
                         absl::StrCat(context.what,
                                      " answered HTTP 204 with no result: Kommo may have created "
                                      "it; the outcome is unknown"),
                         reason::kWriteOutcomeUnknown,
                         {{"http_status", "204"}, {"outcome", "unknown"}});
      case RequestKind::kUpdate:
      case RequestKind::kAction:
        return MakeError(absl::StatusCode::kInternal,
                         absl::StrCat(context.what, " answered HTTP 204 with no result"),
                         reason::kKommoUnexpectedStatus, {{"http_status", "204"}});
    }
  }
  if (status >= 200 && status <= 299) return absl::string_view(response.body);
  if (status == 404) {
    std::optional<mapping::Problem> problem = mapping::ParseProblem(response.body);
    // Kommo names an unknown route "Cannot GET https://…": that is our path, not the entity.
    const bool about_entity = problem.has_value() && !absl::StartsWith(problem->detail, "Cannot ");
    if (about_entity &&
        (context.kind == RequestKind::kRead || context.kind == RequestKind::kUpdate ||
         context.kind == RequestKind::kAction)) {
      return EntityNotFound(context);
    }
    absl::Status error = MakeError(
        absl::StatusCode::kInternal,
        absl::StrCat(context.what, " answered HTTP 404",
                     about_entity ? "" : " (not Kommo's answer about an entity)",
                     ": the API path is wrong (check KOMMO_API_URL or KOMMO_BASE_DOMAIN)"),
        reason::kKommoUnexpectedStatus, {{"http_status", "404"}, {"path", context.what}});
    return error;
  }
  return ErrorFromResponse(response, context);
}

absl::Status ErrorFromTransport(const absl::Status& transport_error, bool request_sent,
                                bool call_deadline_passed, const ErrorContext& context) {
  const bool unknown_write = Unrepeatable(context.kind) && request_sent;
  std::map<std::string, std::string> metadata;
  if (unknown_write) metadata["outcome"] = "unknown";
  if (call_deadline_passed || transport_error.code() == absl::StatusCode::kDeadlineExceeded) {
    if (call_deadline_passed) {
      return MakeError(
          absl::StatusCode::kDeadlineExceeded,
          absl::StrCat("deadline exceeded waiting for Kommo (", context.what, ")",
                       unknown_write ? "; the write may or may not have happened" : ""),
          unknown_write ? reason::kWriteOutcomeUnknown : reason::kDeadlineExceeded, metadata);
    }
  }
  if (transport_error.code() == absl::StatusCode::kCancelled) {
    return MakeError(absl::StatusCode::kCancelled,
                     absl::StrCat("call cancelled (", context.what, ")"),
                     unknown_write ? reason::kWriteOutcomeUnknown : reason::kCancelled, metadata);
  }
  if (transport_error.code() == absl::StatusCode::kResourceExhausted) {
    // Larger than the transport reads (max_response_bytes): not a Kommo answer we can use.
    return MakeError(absl::StatusCode::kInternal,
                     absl::StrCat("Kommo's answer to ", context.what,
                                  " is too large to read: ", transport_error.message()),
                     reason::kKommoBadResponse, metadata);
  }
  if (transport_error.code() == absl::StatusCode::kFailedPrecondition) {
    // Nothing was sent: the TLS handshake failed.
    return MakeError(
        absl::StatusCode::kUnavailable,
        absl::StrCat("cannot reach Kommo securely: ", context.what, ": ", transport_error.message(),
                     " (check KOMMO_CA_FILE and the base domain)"),
        reason::kKommoTlsVerificationFailed);
  }
  if (unknown_write) {
    return MakeError(absl::StatusCode::kUnavailable,
                     absl::StrCat(context.kind == RequestKind::kCreate
                                      ? "connection to Kommo failed after the create was sent; "
                                        "the outcome is unknown (search before creating again): "
                                      : "connection to Kommo failed after the action was sent; "
                                        "the outcome is unknown (read the entity before trying "
                                        "again): ",
                                  context.what, ": ", transport_error.message()),
                     reason::kWriteOutcomeUnknown, metadata);
  }
  return MakeError(
      absl::StatusCode::kUnavailable,
      absl::StrCat("cannot reach Kommo: ", context.what, ": ", transport_error.message()),
      reason::kKommoConnectionFailed, metadata);
}

}  // namespace kommo::rest
