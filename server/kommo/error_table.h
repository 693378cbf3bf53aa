#ifndef KOMMO_SERVER_KOMMO_ERROR_TABLE_H_
#define KOMMO_SERVER_KOMMO_ERROR_TABLE_H_

// What Kommo's answers mean, as absl::Status: the table of design.md §4, in one tested place.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/http/http_transport.h"

namespace kommo::rest {

// What the request was, which decides what an unclear outcome means.
enum class RequestKind {
  kRead,    // GET of one entity by id: safe to repeat; 204 means "no such entity"
  kList,    // GET of a list: safe to repeat; 204 means "nothing matches"
  kUpdate,  // PATCH: repeating sets the same values again
  kCreate,  // POST: repeating may create a duplicate
  kAction,  // POST on one existing entity (accept an incoming lead): repeating it after it took
            // effect fails, so it is never repeated blindly; 404 means the entity is unknown
};

// Whether a request of this kind that may have reached Kommo must not be sent again: its
// outcome is then unknown (creates and actions).
inline bool Unrepeatable(RequestKind kind) {
  return kind == RequestKind::kCreate || kind == RequestKind::kAction;
}

struct ErrorContext {
  RequestKind kind = RequestKind::kRead;
  // ErrorInfo reason for an unknown entity (LEAD_NOT_FOUND, CONTACT_NOT_FOUND).
  absl::string_view not_found_reason;
  // What is being done, for messages: "GET /leads/31000000001".
  std::string what;
  // Maps a Kommo validation path to the caller's field name; identity when empty.
  std::function<std::string(absl::string_view)> field_of_path;
  // The entity's name ("lead") and, for one entity, its id: "lead 5 does not exist", with
  // metadata lead_id=5.
  std::string entity = {};
  int64_t entity_id = 0;
};

// The error for a non-2xx HTTP response (classified by status first, body second):
//   400 + validation-errors → INVALID_ARGUMENT KOMMO_VALIDATION_FAILED with BadRequest;
//   400/422 otherwise → INVALID_ARGUMENT KOMMO_BAD_REQUEST;
//   401 → FAILED_PRECONDITION KOMMO_UNAUTHORIZED; 402 → FAILED_PRECONDITION KOMMO_PAYMENT_REQUIRED;
//   403 JSON → FAILED_PRECONDITION KOMMO_FORBIDDEN; 403 not JSON → UNAVAILABLE
//   KOMMO_ACCOUNT_BLOCKED; 404 → NOT_FOUND with context.not_found_reason; 429 → RESOURCE_EXHAUSTED
//   KOMMO_RATE_LIMITED with RetryInfo (Retry-After, else retry_after,
//         else 1 s);
//   5xx → UNAVAILABLE KOMMO_UNAVAILABLE, or WRITE_OUTCOME_UNKNOWN for a create;
//   anything else → INTERNAL KOMMO_UNEXPECTED_STATUS.
// ErrorInfo metadata carries http_status, Kommo's X-Request-Id (kommo_request_id) and trace_id.
absl::Status ErrorFromResponse(const http::HttpResponse& response, const ErrorContext& context);

// What a Kommo HTTP answer means for the request that got it: every status of every request is
// decided here, so no caller inspects a status code itself. Returns the body to parse (a 2xx
// with content); nullopt for "nothing" (204 on a list: no match); or the error:
//   204 on a read by id → NOT_FOUND (context.not_found_reason);
//   204 on a write → UNAVAILABLE WRITE_OUTCOME_UNKNOWN for a create (Kommo acted, but said not
//   on what), INTERNAL KOMMO_UNEXPECTED_STATUS for an update;
//   404 on a read by id or an update, with Kommo's problem+json about the entity → NOT_FOUND;
//   any other 404 (an HTML page, a route Kommo does not know: a wrong KOMMO_API_URL path, or
//   any 404 on a list or a create) → INTERNAL KOMMO_UNEXPECTED_STATUS naming the path;
//   other non-2xx → ErrorFromResponse.
absl::StatusOr<std::optional<absl::string_view>> AnswerBody(const http::HttpResponse& response,
                                                            const ErrorContext& context);

// NOT_FOUND for the entity the context names.
absl::Status EntityNotFound(const ErrorContext& context);

// The error for a failed transport attempt: `call_deadline_passed` turns a timeout into
// DEADLINE_EXCEEDED; a response too large to read is INTERNAL KOMMO_BAD_RESPONSE; other failures
// are UNAVAILABLE (KOMMO_CONNECTION_FAILED), or WRITE_OUTCOME_UNKNOWN for a create whose request
// may have been sent (metadata outcome=unknown on every error about such a create).
absl::Status ErrorFromTransport(const absl::Status& transport_error, bool request_sent,
                                bool call_deadline_passed, const ErrorContext& context);

// The delay Kommo asks for in a 429: the Retry-After header (seconds or an HTTP date is not
// supported: seconds only), else the body's retry_after, else `fallback`.
absl::Duration RetryDelayOf(const http::HttpResponse& response, absl::Duration fallback);

}  // namespace kommo::rest

#endif  // KOMMO_SERVER_KOMMO_ERROR_TABLE_H_
