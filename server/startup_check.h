#ifndef KOMMO_SERVER_STARTUP_CHECK_H_
#define KOMMO_SERVER_STARTUP_CHECK_H_

// The start-up check: one GET <api base>/account with the server's token, so that the log says at
// once whether Kommo answers and for which account. It does not hold up serving and does not
// change readiness: when Kommo is unreachable or refuses the token, calls get typed errors
// (KOMMO_CONNECTION_FAILED, KOMMO_UNAUTHORIZED) instead of connection failures.

#include <cstdint>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/time/time.h"
#include "server/http/http_transport.h"

namespace kommo {

struct StartupCheckResult {
  // Kommo answered 200 with an account object.
  bool ok = false;
  int64_t account_id = 0;
  std::string account_name;
  // When !ok: what went wrong, for the log ("Kommo refused the token (HTTP 401)", ...). Never
  // holds the token.
  std::string problem;
};

// Reads Kommo's answer to GET /account: 200 with {"id":..., "name":...}, or anything else.
StartupCheckResult InterpretAccountResponse(const http::HttpResult& result);

// Sends the check through `transport`; `done` runs once with the result, on the transport's
// thread. `api_base_url` is ".../api/v4".
void StartStartupCheck(http::HttpTransport* transport, const std::string& api_base_url,
                       const std::string& access_token, absl::Duration timeout,
                       absl::AnyInvocable<void(const StartupCheckResult&)> done);

// Writes the result to the log: info "Kommo account" with its id and name, or a warning saying
// what failed and that the server keeps serving.
void LogStartupCheck(const StartupCheckResult& result, const std::string& api_base_url);

}  // namespace kommo

#endif  // KOMMO_SERVER_STARTUP_CHECK_H_
