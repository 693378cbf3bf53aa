#ifndef KOMMO_SERVER_AUTH_CALLERS_H_
#define KOMMO_SERVER_AUTH_CALLERS_H_

// Who may call the service (CALLERS_FILE): each caller is named by bearer tokens (kept as SHA-256
// hashes, each with an optional expiry) and/or certificate identities (mTLS), with the methods it
// may call and its weight in the rate limiter's fair order. Thread-safe.
//
// The file is JSON:
//
//   {"callers": [
//     {"name": "chatbot",
//      "tokens": [{"sha256": "<64 hex digits>", "expires": "2027-06-30T00:00:00Z"}],
//      "methods": ["kommo.v1.LeadService/CreateLead", "kommo.v1.ContactService/FindOrCreate*"],
//      "weight": 2},
//     {"name": "analytics", "certificate_identities": ["analytics.internal"],
//      "methods": ["kommo.v1.LeadService/Get*", "kommo.v1.LeadService/Search*"]}]}
//
// A method pattern is "*", "package.Service/*", "package.Service/Method" or a prefix ending in
// "*" ("kommo.v1.LeadService/Get*"); each must match at least one method the server serves.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/common/file_identity.h"

namespace kommo::auth {

struct CallerToken {
  std::string sha256;  // 32 raw bytes
  absl::Time expires = absl::InfiniteFuture();
};

struct CallerEntry {
  std::string name;
  std::vector<CallerToken> tokens;
  std::vector<std::string> certificate_identities;
  std::vector<std::string> methods;  // patterns
  double weight = 1;
};

// The parsed callers file.
class CallerTable {
 public:
  // INVALID_ARGUMENT naming the problem (and the caller, never a token) for a bad file.
  // `known_methods` are the full method names ("kommo.v1.LeadService/GetLead") the server serves.
  static absl::StatusOr<CallerTable> Parse(absl::string_view json,
                                           const std::vector<std::string>& known_methods);

  const std::vector<CallerEntry>& callers() const { return callers_; }

 private:
  std::vector<CallerEntry> callers_;
};

// Whether `pattern` covers `method` ("kommo.v1.LeadService/GetLead").
bool MethodMatches(absl::string_view pattern, absl::string_view method);

// SHA-256 of `text` as 32 raw bytes.
std::string Sha256(absl::string_view text);

// What a call presents, taken from its metadata and its TLS peer.
struct Credentials {
  // The `authorization` metadata values.
  std::vector<std::string> authorization;
  // Other metadata keys that look like a token was put there instead ("x-api-key", ...).
  std::vector<std::string> misplaced_token_keys;
  // The verified client certificate's identities (subject alternative names and common name).
  std::vector<std::string> peer_identities;
};

// The caller a call runs for.
struct Caller {
  std::string name;  // "" when calls are not authenticated and the peer has no certificate
  double weight = 1;
};

// Decides who a call is and whether it may call `method`: UNAUTHENTICATED
// (CALLER_UNAUTHENTICATED, metadata `problem`) or PERMISSION_DENIED (METHOD_NOT_PERMITTED,
// metadata `caller`, `method`). Never puts a token in a message.
absl::StatusOr<Caller> Decide(const CallerTable& table, const Credentials& credentials,
                              absl::string_view method, absl::Time now);

struct AuthorizerOptions {
  // The callers file; empty: calls are not authenticated (the caller is the certificate's
  // identity when there is one, for the audit log and fair shares).
  std::string callers_file;
  std::vector<std::string> known_methods;
  // Methods any call may use without credentials (health, and reflection unless configured).
  std::vector<std::string> open_methods;
  // How often the file is checked for a change (on calls; no thread of its own).
  absl::Duration reload_check_interval = absl::Seconds(1);
};

class Authorizer {
 public:
  // Reads the file once: a bad or unreadable file is an error (the server does not start).
  static absl::StatusOr<std::unique_ptr<Authorizer>> Create(AuthorizerOptions options);

  // The call's caller, or why it may not call `method`. Reloads the file when it changed (a bad
  // new file is logged and the previous one stays in force).
  absl::StatusOr<Caller> Check(const Credentials& credentials, absl::string_view method);

  bool enabled() const { return !options_.callers_file.empty(); }
  // Callers in force now (0 when not enabled).
  size_t caller_count() const;

 private:
  explicit Authorizer(AuthorizerOptions options) : options_(std::move(options)) {}
  void MaybeReload();

  AuthorizerOptions options_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const CallerTable> table_ ABSL_GUARDED_BY(mu_);
  // The file as last read, to notice a change.
  FileIdentity stamp_ ABSL_GUARDED_BY(mu_);
  std::atomic<int64_t> next_check_ns_{0};
  absl::Mutex reload_mu_;
};

}  // namespace kommo::auth

#endif  // KOMMO_SERVER_AUTH_CALLERS_H_
