#ifndef KOMMO_SERVER_HTTP_HTTP_TRANSPORT_H_
#define KOMMO_SERVER_HTTP_HTTP_TRANSPORT_H_

// The HTTP seam between the Kommo client and the network: bytes and statuses, no Kommo knowledge.
// Any HTTP status is a successful transport call; only failures to get a response are errors.

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace kommo::http {

enum class Method { kGet, kPost, kPatch };

absl::string_view MethodName(Method method);

struct HttpRequest {
  Method method = Method::kGet;
  std::string url;
  // Extra request headers, in order ("Authorization", "Bearer ...").
  std::vector<std::pair<std::string, std::string>> headers;
  // Sent as the body with Content-Type: application/json when non-empty.
  std::string body;
  // Whole-transfer timeout of this attempt (connect included).
  absl::Duration timeout = absl::Seconds(20);
};

struct HttpResponse {
  int status = 0;
  std::string body;
  // Response headers with lower-cased names; the last value wins.
  std::map<std::string, std::string> headers;

  // The value of a header (name in lower case), or "" when absent.
  absl::string_view Header(absl::string_view lower_name) const;
};

// What one attempt produced. `response` holds the HTTP response, or the transport error:
// UNAVAILABLE (connect/send/receive failure, malformed HTTP), DEADLINE_EXCEEDED (the attempt's
// timeout), CANCELLED (Cancel() or transport shutdown), RESOURCE_EXHAUSTED (response too large),
// FAILED_PRECONDITION (the peer's TLS certificate does not verify; retrying cannot help).
// `request_sent` says whether any byte of the request may have reached the peer: when false,
// the server certainly did not act on it (safe to retry even a POST).
struct HttpResult {
  absl::StatusOr<HttpResponse> response;
  bool request_sent = false;
};

class HttpTransport {
 public:
  using Callback = absl::AnyInvocable<void(HttpResult)>;
  using RequestId = uint64_t;

  virtual ~HttpTransport() = default;

  // Starts `request`; `done` runs exactly once, on the transport's loop thread, without holding
  // any transport lock (it may call Send again). Safe from any thread.
  virtual RequestId Send(HttpRequest request, Callback done) = 0;
  // Aborts a request that has not completed; its callback then runs with CANCELLED. Unknown or
  // completed ids are ignored. Safe from any thread.
  virtual void Cancel(RequestId id) = 0;
};

}  // namespace kommo::http

#endif  // KOMMO_SERVER_HTTP_HTTP_TRANSPORT_H_
