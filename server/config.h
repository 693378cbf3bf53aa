#ifndef KOMMO_SERVER_CONFIG_H_
#define KOMMO_SERVER_CONFIG_H_

// The server's configuration: environment variables, each overridden by a flag of the same
// meaning. Secrets (the access token) come from the environment or a file, never from a flag.

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace kommo {

// One Kommo account the server serves: from KOMMO_ACCOUNTS_FILE, or the single account of the
// KOMMO_* settings (named "default").
struct AccountConfig {
  // Letters, digits, '-' and '_', 1 to 64 of them: what `x-kommo-account` names.
  std::string name = "default";
  // As Config::api_base_url.
  std::string api_base_url;
  std::string access_token;
  // Set when the token came from a file: the file is watched for rotation.
  std::string access_token_file;
  // The account's own budget of requests to Kommo.
  double rate_limit_rps = 7;
  int rate_limit_burst = 1;

  bool operator==(const AccountConfig& other) const {
    return name == other.name && api_base_url == other.api_base_url &&
           access_token == other.access_token && access_token_file == other.access_token_file &&
           rate_limit_rps == other.rate_limit_rps && rate_limit_burst == other.rate_limit_burst;
  }
  bool operator!=(const AccountConfig& other) const { return !(*this == other); }
};

// The accounts in force.
struct AccountsConfig {
  std::vector<AccountConfig> accounts;  // in the file's order
  // The account of calls without `x-kommo-account`; "" when there is none (such calls fail).
  std::string default_account;
};

// Most accounts one file may name.
inline constexpr size_t kMaxAccounts = 1000;

// Whether `name` is a valid account name (letters, digits, '-', '_'; 1 to 64).
bool ValidAccountName(absl::string_view name);

// Parses the accounts file's JSON (README "Several Kommo accounts"): each account's base_domain or
// api_url, token_file (read now), budget and the optional default marker. Accounts that set no
// budget get `default_rps` and `default_burst`. INVALID_ARGUMENT naming the account and the field
// (never a token) for anything wrong.
absl::StatusOr<AccountsConfig> ParseAccounts(absl::string_view json, double default_rps,
                                             int default_burst);
// Reads and parses the file at `path`; its messages start with "KOMMO_ACCOUNTS_FILE <path>: ".
absl::StatusOr<AccountsConfig> LoadAccountsFile(const std::string& path, double default_rps,
                                                int default_burst);

struct Config {
  std::string listen = "0.0.0.0:50051";
  // "https://acme.kommo.com/api/v4" or "<KOMMO_API_URL>/api/v4" (a KOMMO_API_URL that already
  // ends in /api/v4 is taken as is).
  std::string api_base_url;
  std::string access_token;
  // Set when the token came from a file: the file is watched for rotation.
  std::string access_token_file;
  // Several Kommo accounts (KOMMO_ACCOUNTS_FILE; reloaded when it changes), or "" for the one
  // account of the settings above.
  std::string accounts_file;
  // The accounts at start-up: the file's, or one named "default" from the settings above.
  AccountsConfig accounts;
  // host:port of the Prometheus endpoint, or "off" (the default: any number of servers can
  // start on one host with the required settings only; the container image asks for 0.0.0.0:9090).
  std::string metrics_listen = "off";
  // Kommo's webhooks (WEBHOOK_LISTEN_ADDRESS, "off" or host:port) and the secret of their path.
  std::string webhook_listen = "off";
  std::string webhook_secret;
  // Who may call (empty: calls are not authenticated), and whether reflection stays open then.
  std::string callers_file;
  bool auth_open_reflection = true;
  double rate_limit_rps = 7;
  int rate_limit_burst = 1;
  absl::Duration request_timeout = absl::Seconds(20);
  absl::Duration default_deadline = absl::Seconds(30);
  absl::Duration shutdown_grace = absl::Seconds(10);
  std::string ca_file;
  size_t rate_limit_queue = 10000;
  int max_attempts = 4;
  absl::Duration circuit_open_duration = absl::Seconds(60);
  // Longest pause a 429's Retry-After may impose on the whole account.
  absl::Duration max_rate_limit_pause = absl::Seconds(60);
  absl::Duration coalesce_window = absl::Milliseconds(2);
  // How long the answer of a create with a request_id is kept for its repeats.
  absl::Duration idempotency_retention = absl::Hours(24);
  // Most request_ids remembered at once; beyond it the oldest answers are dropped first.
  size_t idempotency_max_entries = 100000;
  // With Redis: how long a replica's claim (a call with a request_id it runs, the change stream's
  // poller) holds without renewal; renewed every third of it.
  absl::Duration redis_lease = absl::Seconds(5);
  std::string log_level = "info";
  // How long the account's catalogues (pipelines, users, custom fields, ...) are kept before they
  // are read from Kommo again; zero keeps nothing.
  absl::Duration catalogue_ttl = absl::Minutes(5);
  // The change stream (WatchLeads, WatchContacts): how often Kommo's events are read while
  // anybody watches, how far back the first read goes, how many changes are kept, and the
  // longest a stream stays silent.
  absl::Duration watch_poll_interval = absl::Seconds(5);
  absl::Duration watch_lookback = absl::Hours(1);
  size_t watch_history_size = 50000;
  absl::Duration watch_heartbeat_interval = absl::Seconds(20);
  // Inbound TLS: the server's certificate chain and key (both or neither; neither is plaintext),
  // the CA bundle of callers' certificates (mTLS), and how often the files are read again.
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_client_ca_file;
  absl::Duration tls_reload_interval = absl::Seconds(60);
  // host:port of a plaintext port serving grpc.health.v1 only (probes that cannot speak TLS), or
  // "off" (the default).
  std::string health_listen = "off";
  // Shared state of several replicas (issue 15): redis://[[user]:password@]host[:port][/db]
  // (environment only: it may hold a password). Empty: everything stays in this process.
  std::string redis_url;
  // While Redis is unavailable, each replica sends at most the account's rate ÷ this.
  int redis_fallback_replicas = 1;
  // Each Redis command's timeout: no request waits on Redis longer.
  absl::Duration redis_timeout = absl::Milliseconds(250);
};

// Reads the configuration from `args` (argv without the program name) and `getenv`. Returns
// INVALID_ARGUMENT with one clear message for a bad or missing setting (never echoing the
// token), or NOT_FOUND with the usage text when --help is given.
absl::StatusOr<Config> LoadConfig(const std::vector<std::string>& args,
                                  const std::function<const char*(const char*)>& getenv);

// Checks a listen address "host:port" of `setting`: the port a number from 0 to 65535, the host
// (a name, an IPv4 address or a bracketed IPv6 address) resolvable. INVALID_ARGUMENT naming the
// setting otherwise.
absl::Status CheckListenAddress(absl::string_view setting, const std::string& address);

// The --help text: every setting, its environment variable, flag and default.
std::string Usage();

}  // namespace kommo

#endif  // KOMMO_SERVER_CONFIG_H_
