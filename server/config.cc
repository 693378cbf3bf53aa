#include "server/config.h"

#include <netdb.h>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <sys/socket.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace kommo {
namespace {

struct Setting {
  const char* flag;  // without the leading "--"; nullptr for environment-only settings
  const char* env;
  const char* help;
};

// Order is the order of --help and of the README's configuration table.
const Setting kSettings[] = {
    {"listen", "GRPC_LISTEN_ADDRESS", "host:port to serve gRPC on (default 0.0.0.0:50051)"},
    {"kommo_base_domain", "KOMMO_BASE_DOMAIN",
     "the account's host, e.g. mycompany.kommo.com (*.kommo.com, *.amocrm.com, *.amocrm.ru); "
     "the API is https://HOST/api/v4"},
    {"kommo_api_url", "KOMMO_API_URL",
     "full base URL instead of the domain, e.g. http://127.0.0.1:8080 for the emulator or a "
     "proxy; /api/v4 is appended unless the URL already ends with it"},
    {nullptr, "KOMMO_ACCESS_TOKEN", "the long-lived token (environment only)"},
    {"kommo_access_token_file", "KOMMO_ACCESS_TOKEN_FILE",
     "file holding the token (e.g. a mounted Kubernetes secret)"},
    {"kommo_accounts_file", "KOMMO_ACCOUNTS_FILE",
     "JSON file naming several Kommo accounts (each: base_domain or api_url, token_file, "
     "rate_limit_rps, rate_limit_burst, default), chosen per call by the x-kommo-account "
     "metadata; checked for changes every second. Instead of KOMMO_BASE_DOMAIN / KOMMO_API_URL "
     "and the token (default unset: one account, \"default\", from those settings)"},
    {"kommo_rate_limit_rps", "KOMMO_RATE_LIMIT_RPS",
     "requests per second to Kommo, shared by all calls (default 7); with KOMMO_ACCOUNTS_FILE, "
     "the budget of each account that sets none"},
    {"kommo_rate_limit_burst", "KOMMO_RATE_LIMIT_BURST",
     "requests that may go at once after a quiet period (default 1)"},
    {"kommo_rate_limit_queue", "KOMMO_RATE_LIMIT_QUEUE",
     "calls that may wait for a rate-limit slot at once; more get RESOURCE_EXHAUSTED (default "
     "10000)"},
    {"kommo_max_attempts", "KOMMO_MAX_ATTEMPTS",
     "attempts per Kommo request, retries included (default 4; 1 turns retries off)"},
    {"kommo_circuit_open_duration", "KOMMO_CIRCUIT_OPEN_DURATION",
     "after Kommo blocks the account (HTML 403), how long calls fail fast before one probe "
     "(default 60s)"},
    {"kommo_max_429_pause", "KOMMO_MAX_429_PAUSE",
     "longest pause one 429 from Kommo may impose on all calls; a longer Retry-After is cut to "
     "it and the cut logged (default 60s)"},
    {"kommo_coalesce_window", "KOMMO_COALESCE_WINDOW",
     "how long a batch of writes waits for more calls to ride with it; 0 sends one request per "
     "call (default 2ms)"},
    {"kommo_catalogue_ttl", "KOMMO_CATALOGUE_TTL",
     "how long the account's pipelines, users, custom fields, loss reasons and the account "
     "itself are kept before AccountService reads them from Kommo again; 0 keeps nothing "
     "(default 5m, at most 24h)"},
    {"watch_poll_interval", "WATCH_POLL_INTERVAL",
     "while anybody watches (WatchLeads, WatchContacts), how often Kommo's events are read: one "
     "request each time (default 5s, 1s to 10m)"},
    {"watch_lookback", "WATCH_LOOKBACK",
     "how far back the first read of Kommo's events goes, so that resume tokens from before a "
     "restart still resume (default 1h, 1m to 24h)"},
    {"watch_history_size", "WATCH_HISTORY_SIZE",
     "changes kept for change streams to resume from (default 50000, 100 to 10000000)"},
    {"watch_heartbeat_interval", "WATCH_HEARTBEAT_INTERVAL",
     "longest a change stream stays silent: a heartbeat with a fresh resume token is sent "
     "(default 20s, 1s to 30s)"},
    {"kommo_request_timeout", "KOMMO_REQUEST_TIMEOUT",
     "longest single HTTP request to Kommo (default 20s)"},
    {"default_deadline", "GRPC_DEFAULT_DEADLINE",
     "deadline of calls that arrive without one (default 30s)"},
    {"shutdown_grace", "SHUTDOWN_GRACE_PERIOD",
     "on SIGTERM, how long calls in flight may take to finish (default 10s)"},
    {"idempotency_retention", "IDEMPOTENCY_RETENTION",
     "how long the answer of a create with a request_id is kept, so that a repeat gets it "
     "instead of writing again (default 24h)"},
    {"idempotency_max_entries", "IDEMPOTENCY_MAX_ENTRIES",
     "most request_ids remembered at once; beyond it the oldest answers are dropped first "
     "(default 100000)"},
    {"redis_lease", "REDIS_LEASE",
     "with REDIS_URL: how long a replica's claim in Redis (a call with a request_id it runs, "
     "the change stream's poller) holds without renewal; a replica that dies is noticed this "
     "long after (default 5s, 1s to 60s)"},
    {"tls_cert_file", "TLS_CERT_FILE",
     "PEM certificate chain (leaf first) for TLS on the gRPC port, e.g. a mounted tls.crt; with "
     "TLS_KEY_FILE (default: plaintext)"},
    {"tls_key_file", "TLS_KEY_FILE", "PEM private key of TLS_CERT_FILE, e.g. a mounted tls.key"},
    {"tls_client_ca_file", "TLS_CLIENT_CA_FILE",
     "PEM CA bundle for mTLS: every caller must present a certificate signed by one of these CAs "
     "(default: callers are not asked for a certificate)"},
    {"tls_reload_interval", "TLS_RELOAD_INTERVAL",
     "how often the three TLS files are read again, so that rotated certificates serve new "
     "connections without a restart (default 60s, 1s to 24h)"},
    {"health_listen", "HEALTH_LISTEN_ADDRESS",
     "host:port of a second, plaintext gRPC port that serves only grpc.health.v1, for probes "
     "that cannot speak TLS (the kubelet's gRPC probe), e.g. 0.0.0.0:50052; or \"off\" "
     "(default off)"},
    {"kommo_ca_file", "KOMMO_CA_FILE",
     "PEM CA bundle to verify Kommo's certificate with (default: the system's)"},
    {"log_level", "LOG_LEVEL", "debug, info, warning or error (default info)"},
    {"metrics_listen", "METRICS_LISTEN_ADDRESS",
     "host:port of the Prometheus /metrics endpoint (e.g. 0.0.0.0:9090), or \"off\" (default "
     "off; the container image sets 0.0.0.0:9090)"},
    {"webhook_listen", "WEBHOOK_LISTEN_ADDRESS",
     "host:port to receive Kommo's webhooks on (POST /kommo/webhook/SECRET): a delivery makes the "
     "change stream read Kommo's events at once; or \"off\" (default off)"},
    {nullptr, "KOMMO_WEBHOOK_SECRET",
     "the last path segment of the webhook URL given to Kommo: 16 to 128 letters, digits, '-' "
     "or '_' (environment only; required with WEBHOOK_LISTEN_ADDRESS)"},
    {"kommo_webhook_secret_file", "KOMMO_WEBHOOK_SECRET_FILE",
     "file holding the webhook secret instead (e.g. a mounted Kubernetes secret)"},
    {"callers_file", "CALLERS_FILE",
     "JSON file naming who may call (bearer token hashes, client certificate identities), the "
     "methods each may call and its weight in the rate limit's fair order; checked for changes "
     "every second. Unset: calls are not authenticated (default unset)"},
    {"auth_open_reflection", "AUTH_OPEN_REFLECTION",
     "with CALLERS_FILE: true lets calls without credentials use reflection, false makes it a "
     "method callers need permission for; health is always open (default true)"},
    {nullptr, "REDIS_URL",
     "redis://[[user]:password@]host[:port][/db] of a Redis shared by the replicas: one rate "
     "budget, 429 pause and circuit, request_ids and the change stream for all of them "
     "(environment only: it may hold a password; "
     "rediss:// is not supported). Unset: each replica keeps its own (default unset)"},
    {"redis_fallback_replicas", "REDIS_FALLBACK_REPLICAS",
     "with REDIS_URL: while Redis is unavailable, each replica sends at most the account's rate "
     "divided by this (default 1, 1 to 1000)"},
    {"redis_timeout", "REDIS_TIMEOUT",
     "with REDIS_URL: each Redis command's timeout; a request never waits on Redis longer, then "
     "falls back to the replica's share (default 250ms, 1ms to 10s)"},
};

const char* const kAllowedSuffixes[] = {".kommo.com", ".amocrm.com", ".amocrm.ru"};

absl::Status Invalid(absl::string_view setting, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(setting, ": ", problem));
}

absl::StatusOr<absl::Duration> ParsePositiveDuration(absl::string_view name,
                                                     const std::string& text) {
  absl::Duration duration;
  if (!absl::ParseDuration(text, &duration) || duration <= absl::ZeroDuration()) {
    return Invalid(name, absl::StrCat("\"", text, "\" is not a positive duration such as 30s"));
  }
  return duration;
}

absl::Status CheckBaseDomain(absl::string_view kName, const std::string& domain) {
  if (absl::StrContains(domain, "://")) {
    return Invalid(kName, "give the host only, without a scheme (e.g. mycompany.kommo.com)");
  }
  if (absl::StrContains(domain, "/")) return Invalid(kName, "give the host only, without a path");
  if (absl::StrContains(domain, ":")) return Invalid(kName, "give the host only, without a port");
  for (char c : domain) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.') {
      return Invalid(kName, "is not a host name");
    }
  }
  const std::string lower = absl::AsciiStrToLower(domain);
  for (const char* suffix : kAllowedSuffixes) {
    if (absl::EndsWith(lower, suffix) && lower.size() > std::char_traits<char>::length(suffix)) {
      return absl::OkStatus();
    }
  }
  return Invalid(kName, absl::StrCat("must be a Kommo account host (*.kommo.com, *.amocrm.com or "
                                     "*.amocrm.ru); set ",
                                     kName == "KOMMO_BASE_DOMAIN" ? "KOMMO_API_URL" : "api_url",
                                     " to use another server"));
}

absl::Status CheckApiUrl(absl::string_view kName, const std::string& url) {
  if (!absl::StartsWith(url, "http://") && !absl::StartsWith(url, "https://")) {
    return Invalid(kName, "must start with http:// or https://");
  }
  const absl::string_view rest = absl::string_view(url).substr(url.find("://") + 3);
  if (rest.empty() || rest[0] == '/') return Invalid(kName, "has no host");
  if (absl::StrContains(url, "?") || absl::StrContains(url, "#")) {
    return Invalid(kName, "must not hold a query or fragment");
  }
  if (absl::StrContains(rest, "@")) return Invalid(kName, "must not hold credentials");
  return absl::OkStatus();
}

// The API's base URL from a base domain or an API URL (exactly one of them set), checked; the
// settings are named `domain_name` and `url_name` in messages.
absl::StatusOr<std::string> ApiBaseUrlOf(absl::string_view domain_name, const std::string& domain,
                                         absl::string_view url_name, std::string api_url) {
  if (!domain.empty()) {
    if (absl::Status status = CheckBaseDomain(domain_name, domain); !status.ok()) return status;
    return absl::StrCat("https://", absl::AsciiStrToLower(domain), "/api/v4");
  }
  if (absl::Status status = CheckApiUrl(url_name, api_url); !status.ok()) return status;
  while (absl::EndsWith(api_url, "/")) api_url.pop_back();
  // A URL copied with Kommo's own path ("http://127.0.0.1:8080/api/v4") would otherwise
  // become .../api/v4/api/v4, where every lookup answers an HTML 404.
  if (absl::EndsWith(api_url, "/api/v4")) api_url.resize(api_url.size() - 7);
  while (absl::EndsWith(api_url, "/")) api_url.pop_back();
  if (absl::Status status = CheckApiUrl(url_name, api_url); !status.ok()) return status;
  return absl::StrCat(api_url, "/api/v4");
}

// The token in the file at `path` (surrounding white space dropped), checked like
// KOMMO_ACCESS_TOKEN_FILE's; the setting is named `name` in messages, the token never.
absl::StatusOr<std::string> ReadTokenFile(absl::string_view name, const std::string& path) {
  std::ifstream file(path);
  if (!file) return Invalid(name, absl::StrCat("cannot read ", path));
  std::stringstream contents;
  contents << file.rdbuf();
  std::string token(absl::StripAsciiWhitespace(contents.str()));
  if (token.empty()) return Invalid(name, absl::StrCat(path, " is empty"));
  for (char c : token) {
    if (c <= 0x20 || c == 0x7F) {
      // Not echoed: it is a secret.
      return Invalid(name,
                     absl::StrCat("the token in ", path, " holds spaces or control characters"));
    }
  }
  return token;
}

// KOMMO_RATE_LIMIT_RPS's rule, for `name`.
bool ValidRps(double rps) { return rps > 0 && rps <= 10000; }
bool ValidBurst(int64_t burst) { return burst >= 1 && burst <= 1000; }

absl::StatusOr<AccountConfig> ParseAccount(const std::string& name, const rapidjson::Value& value,
                                           double default_rps, int default_burst,
                                           bool* is_default) {
  const std::string where = absl::StrCat("account \"", name, "\"");
  if (!value.IsObject()) return Invalid(where, "must be an object");
  AccountConfig account;
  account.name = name;
  account.rate_limit_rps = default_rps;
  account.rate_limit_burst = default_burst;
  std::string domain;
  std::string api_url;
  std::string token_file;
  for (auto member = value.MemberBegin(); member != value.MemberEnd(); ++member) {
    const absl::string_view key(member->name.GetString(), member->name.GetStringLength());
    const rapidjson::Value& field = member->value;
    const std::string at = absl::StrCat(where, ": ", key);
    if (key == "base_domain" || key == "api_url" || key == "token_file") {
      if (!field.IsString() || field.GetStringLength() == 0) {
        return Invalid(at, "must be a non-empty string");
      }
      std::string text(field.GetString(), field.GetStringLength());
      if (key == "base_domain") domain = std::move(text);
      if (key == "api_url") api_url = std::move(text);
      if (key == "token_file") token_file = std::move(text);
    } else if (key == "rate_limit_rps") {
      if (!field.IsNumber() || !ValidRps(field.GetDouble())) {
        return Invalid(at, "must be a number above 0 and at most 10000 (Kommo allows 7)");
      }
      account.rate_limit_rps = field.GetDouble();
    } else if (key == "rate_limit_burst") {
      if (!field.IsInt64() || !ValidBurst(field.GetInt64())) {
        return Invalid(at, "must be a whole number from 1 to 1000");
      }
      account.rate_limit_burst = static_cast<int>(field.GetInt64());
    } else if (key == "default") {
      if (!field.IsBool()) return Invalid(at, "must be true or false");
      *is_default = field.GetBool();
    } else if (key == "access_token" || key == "token") {
      return Invalid(at,
                     "tokens are not written in the accounts file: put the token in a file of "
                     "its own and name it in \"token_file\"");
    } else {
      return Invalid(where, absl::StrCat("unknown member \"", key,
                                         "\" (base_domain, api_url, token_file, rate_limit_rps, "
                                         "rate_limit_burst, default)"));
    }
  }
  if (domain.empty() == api_url.empty()) {
    return Invalid(where, "give exactly one of \"base_domain\" and \"api_url\"");
  }
  absl::StatusOr<std::string> base_url = ApiBaseUrlOf(absl::StrCat(where, ": base_domain"), domain,
                                                      absl::StrCat(where, ": api_url"), api_url);
  if (!base_url.ok()) return base_url.status();
  account.api_base_url = *std::move(base_url);
  if (token_file.empty()) return Invalid(where, "\"token_file\" is missing");
  absl::StatusOr<std::string> token =
      ReadTokenFile(absl::StrCat(where, ": token_file"), token_file);
  if (!token.ok()) return token.status();
  account.access_token = *std::move(token);
  account.access_token_file = token_file;
  return account;
}

}  // namespace

bool ValidAccountName(absl::string_view name) {
  return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
}

absl::StatusOr<AccountsConfig> ParseAccounts(absl::string_view json, double default_rps,
                                             int default_burst) {
  rapidjson::Document document;
  document.Parse(json.data(), json.size());
  if (document.HasParseError()) {
    return absl::InvalidArgumentError(
        absl::StrCat("offset ", document.GetErrorOffset(),
                     ": not valid JSON: ", rapidjson::GetParseError_En(document.GetParseError())));
  }
  if (!document.IsObject()) {
    return absl::InvalidArgumentError("must be an object {\"accounts\": {NAME: {...}, ...}}");
  }
  for (auto member = document.MemberBegin(); member != document.MemberEnd(); ++member) {
    const absl::string_view key(member->name.GetString(), member->name.GetStringLength());
    if (key != "accounts") {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown member \"", key, "\" (the file holds \"accounts\")"));
    }
  }
  auto accounts = document.FindMember("accounts");
  if (accounts == document.MemberEnd() || !accounts->value.IsObject() ||
      accounts->value.MemberCount() == 0) {
    return absl::InvalidArgumentError(
        "\"accounts\" must be an object naming at least one account: {NAME: {...}, ...}");
  }
  if (accounts->value.MemberCount() > kMaxAccounts) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"accounts\" names more than ", kMaxAccounts, " accounts"));
  }
  AccountsConfig config;
  std::set<std::string> names;
  std::vector<std::string> marked;
  for (auto member = accounts->value.MemberBegin(); member != accounts->value.MemberEnd();
       ++member) {
    const std::string name(member->name.GetString(), member->name.GetStringLength());
    if (!ValidAccountName(name)) {
      // Echoed only when short: the name is not secret, but the file may hold anything.
      return absl::InvalidArgumentError(
          absl::StrCat("account name ", name.size() <= 64 ? absl::StrCat("\"", name, "\" ") : "",
                       "must be 1 to 64 letters, digits, '-' or '_'"));
    }
    if (!names.insert(name).second) {
      return absl::InvalidArgumentError(absl::StrCat("account \"", name, "\" is named twice"));
    }
    bool is_default = false;
    absl::StatusOr<AccountConfig> account =
        ParseAccount(name, member->value, default_rps, default_burst, &is_default);
    if (!account.ok()) return account.status();
    if (is_default) marked.push_back(name);
    config.accounts.push_back(*std::move(account));
  }
  if (marked.size() > 1) {
    return absl::InvalidArgumentError(absl::StrCat("accounts \"", marked[0], "\" and \"", marked[1],
                                                   "\" are both marked \"default\": true"));
  }
  // The marked account; else one named "default"; else the only one; else none (calls must
  // name their account).
  if (!marked.empty()) {
    config.default_account = marked[0];
  } else if (names.count("default") != 0) {
    config.default_account = "default";
  } else if (config.accounts.size() == 1) {
    config.default_account = config.accounts[0].name;
  }
  return config;
}

absl::StatusOr<AccountsConfig> LoadAccountsFile(const std::string& path, double default_rps,
                                                int default_burst) {
  const std::string where = absl::StrCat("KOMMO_ACCOUNTS_FILE ", path);
  std::ifstream file(path);
  if (!file) return Invalid(where, "cannot read the file");
  std::stringstream contents;
  contents << file.rdbuf();
  absl::StatusOr<AccountsConfig> accounts =
      ParseAccounts(contents.str(), default_rps, default_burst);
  if (!accounts.ok()) return Invalid(where, accounts.status().message());
  return accounts;
}

absl::Status CheckListenAddress(absl::string_view setting, const std::string& address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) {
    return Invalid(setting, absl::StrCat("\"", address, "\" is not host:port"));
  }
  std::string host = address.substr(0, colon);
  const std::string port_text = address.substr(colon + 1);
  int port = -1;
  if (port_text.empty() || port_text.find_first_not_of("0123456789") != std::string::npos ||
      !absl::SimpleAtoi(port_text, &port)) {
    return Invalid(setting,
                   absl::StrCat("port \"", port_text, "\" of \"", address, "\" is not a number"));
  }
  if (port > 65535) {
    return Invalid(setting, absl::StrCat("port ", port_text, " of \"", address,
                                         "\" is out of range (0 to 65535; 0 picks a free port)"));
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (absl::StrContains(host, ":")) {
    return Invalid(setting, absl::StrCat("\"", address,
                                         "\": write an IPv6 host in brackets, e.g. [::]:50051"));
  }
  if (host.empty()) {
    return Invalid(setting,
                   absl::StrCat("\"", address, "\" has no host (e.g. 0.0.0.0:", port_text, ")"));
  }
  addrinfo hints = {};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  const int error = getaddrinfo(host.c_str(), nullptr, &hints, &found);
  if (found != nullptr) freeaddrinfo(found);
  if (error != 0) {
    return Invalid(setting, absl::StrCat("host \"", host, "\" of \"", address,
                                         "\" does not resolve (", gai_strerror(error), ")"));
  }
  return absl::OkStatus();
}

std::string Usage() {
  std::string usage =
      "kommo-grpc-server: Kommo CRM leads and contacts as gRPC services.\n\n"
      "Settings (environment variable, or the flag, which wins):\n";
  for (const Setting& setting : kSettings) {
    absl::StrAppend(&usage, "  ", setting.env,
                    setting.flag ? absl::StrCat(" / --", setting.flag, "=VALUE") : "", "\n      ",
                    setting.help, "\n");
  }
  absl::StrAppend(&usage,
                  "\nExactly one of KOMMO_BASE_DOMAIN and KOMMO_API_URL, and exactly one of "
                  "KOMMO_ACCESS_TOKEN and KOMMO_ACCESS_TOKEN_FILE, must be set; or "
                  "KOMMO_ACCOUNTS_FILE instead of all four.\n");
  return usage;
}

absl::StatusOr<Config> LoadConfig(const std::vector<std::string>& args,
                                  const std::function<const char*(const char*)>& getenv) {
  std::map<std::string, std::string> values;  // by environment variable name
  for (const Setting& setting : kSettings) {
    const char* value = getenv(setting.env);
    if (value != nullptr && *value != '\0') values[setting.env] = value;
  }
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") return absl::NotFoundError(Usage());
    if (!absl::StartsWith(arg, "--")) {
      return absl::InvalidArgumentError(
          absl::StrCat("unexpected argument \"", arg, "\"; see --help"));
    }
    std::string name = arg.substr(2);
    std::string value;
    const size_t equals = name.find('=');
    if (equals != std::string::npos) {
      value = name.substr(equals + 1);
      name = name.substr(0, equals);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return absl::InvalidArgumentError(absl::StrCat("--", name, " needs a value"));
    }
    const Setting* found = nullptr;
    for (const Setting& setting : kSettings) {
      if (setting.flag != nullptr && name == setting.flag) found = &setting;
    }
    if (found == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name, "; see --help"));
    }
    values[found->env] = value;
  }
  auto get = [&values](const char* env) -> std::string {
    auto it = values.find(env);
    return it == values.end() ? std::string() : it->second;
  };

  Config config;
  if (std::string listen = get("GRPC_LISTEN_ADDRESS"); !listen.empty()) config.listen = listen;
  if (absl::Status status = CheckListenAddress("GRPC_LISTEN_ADDRESS", config.listen);
      !status.ok()) {
    return status;
  }
  if (std::string metrics = get("METRICS_LISTEN_ADDRESS"); !metrics.empty()) {
    config.metrics_listen = metrics;
  }
  if (config.metrics_listen != "off") {
    if (absl::Status status = CheckListenAddress("METRICS_LISTEN_ADDRESS", config.metrics_listen);
        !status.ok()) {
      return status;
    }
  }

  if (std::string health = get("HEALTH_LISTEN_ADDRESS"); !health.empty()) {
    config.health_listen = health;
  }
  if (config.health_listen != "off") {
    if (absl::Status status = CheckListenAddress("HEALTH_LISTEN_ADDRESS", config.health_listen);
        !status.ok()) {
      return status;
    }
  }

  if (std::string webhook = get("WEBHOOK_LISTEN_ADDRESS"); !webhook.empty()) {
    config.webhook_listen = webhook;
  }
  if (config.webhook_listen != "off") {
    if (absl::Status status = CheckListenAddress("WEBHOOK_LISTEN_ADDRESS", config.webhook_listen);
        !status.ok()) {
      return status;
    }
    const std::string secret = get("KOMMO_WEBHOOK_SECRET");
    const std::string secret_file = get("KOMMO_WEBHOOK_SECRET_FILE");
    if (!secret.empty() && !secret_file.empty()) {
      return absl::InvalidArgumentError(
          "set only one of KOMMO_WEBHOOK_SECRET and KOMMO_WEBHOOK_SECRET_FILE");
    }
    if (!secret_file.empty()) {
      std::ifstream file(secret_file);
      if (!file) {
        return Invalid("KOMMO_WEBHOOK_SECRET_FILE", absl::StrCat("cannot read ", secret_file));
      }
      std::stringstream contents;
      contents << file.rdbuf();
      config.webhook_secret = std::string(absl::StripAsciiWhitespace(contents.str()));
    } else {
      config.webhook_secret = secret;
    }
    const bool sane =
        std::all_of(config.webhook_secret.begin(), config.webhook_secret.end(),
                    [](char c) { return absl::ascii_isalnum(c) || c == '-' || c == '_'; });
    if (config.webhook_secret.size() < 16 || config.webhook_secret.size() > 128 || !sane) {
      // The secret itself is never echoed.
      return absl::InvalidArgumentError(
          "WEBHOOK_LISTEN_ADDRESS is set: KOMMO_WEBHOOK_SECRET (or KOMMO_WEBHOOK_SECRET_FILE) must "
          "hold 16 to 128 letters, digits, '-' or '_'");
    }
  }

  config.callers_file = get("CALLERS_FILE");
  if (std::string open = get("AUTH_OPEN_REFLECTION"); !open.empty()) {
    if (open != "true" && open != "false") {
      return Invalid("AUTH_OPEN_REFLECTION", absl::StrCat("\"", open, "\" is not true or false"));
    }
    config.auth_open_reflection = open == "true";
  }

  const std::string domain = get("KOMMO_BASE_DOMAIN");
  std::string api_url = get("KOMMO_API_URL");
  const std::string token = get("KOMMO_ACCESS_TOKEN");
  const std::string token_file = get("KOMMO_ACCESS_TOKEN_FILE");
  config.accounts_file = get("KOMMO_ACCOUNTS_FILE");
  if (!config.accounts_file.empty()) {
    for (const char* single :
         {"KOMMO_BASE_DOMAIN", "KOMMO_API_URL", "KOMMO_ACCESS_TOKEN", "KOMMO_ACCESS_TOKEN_FILE"}) {
      if (!get(single).empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("KOMMO_ACCOUNTS_FILE is set: the accounts come from it, so ", single,
                         " must not be set (name the account in the file instead)"));
      }
    }
  } else {
    if (domain.empty() && api_url.empty()) {
      return absl::InvalidArgumentError(
          "KOMMO_BASE_DOMAIN is not set: give the Kommo account's host (e.g. "
          "mycompany.kommo.com), or KOMMO_API_URL for the emulator, or KOMMO_ACCOUNTS_FILE "
          "(see --help)");
    }
    if (!domain.empty() && !api_url.empty()) {
      return absl::InvalidArgumentError("set only one of KOMMO_BASE_DOMAIN and KOMMO_API_URL");
    }
    absl::StatusOr<std::string> base_url =
        ApiBaseUrlOf("KOMMO_BASE_DOMAIN", domain, "KOMMO_API_URL", api_url);
    if (!base_url.ok()) return base_url.status();
    config.api_base_url = *std::move(base_url);

    if (!token.empty() && !token_file.empty()) {
      return absl::InvalidArgumentError(
          "set only one of KOMMO_ACCESS_TOKEN and KOMMO_ACCESS_TOKEN_FILE");
    }
    if (!token_file.empty()) {
      absl::StatusOr<std::string> read = ReadTokenFile("KOMMO_ACCESS_TOKEN_FILE", token_file);
      if (!read.ok()) return read.status();
      config.access_token = *std::move(read);
      config.access_token_file = token_file;
    } else {
      config.access_token = std::string(absl::StripAsciiWhitespace(token));
    }
    if (config.access_token.empty()) {
      return absl::InvalidArgumentError(
          "no Kommo access token: set KOMMO_ACCESS_TOKEN or KOMMO_ACCESS_TOKEN_FILE");
    }
    for (char c : config.access_token) {
      if (c <= 0x20 || c == 0x7F) {
        // Not echoed: it is a secret.
        return absl::InvalidArgumentError(
            "the Kommo access token holds spaces or control characters");
      }
    }
  }

  if (std::string rps = get("KOMMO_RATE_LIMIT_RPS"); !rps.empty()) {
    if (!absl::SimpleAtod(rps, &config.rate_limit_rps) || !ValidRps(config.rate_limit_rps)) {
      return Invalid("KOMMO_RATE_LIMIT_RPS",
                     absl::StrCat("\"", rps, "\" is not a number between 0 and 10000"));
    }
  }
  if (std::string burst = get("KOMMO_RATE_LIMIT_BURST"); !burst.empty()) {
    if (!absl::SimpleAtoi(burst, &config.rate_limit_burst) ||
        !ValidBurst(config.rate_limit_burst)) {
      return Invalid("KOMMO_RATE_LIMIT_BURST",
                     absl::StrCat("\"", burst, "\" is not a whole number from 1 to 1000"));
    }
  }
  if (std::string queue = get("KOMMO_RATE_LIMIT_QUEUE"); !queue.empty()) {
    if (!absl::SimpleAtoi(queue, &config.rate_limit_queue) || config.rate_limit_queue < 1 ||
        config.rate_limit_queue > 1000000) {
      return Invalid("KOMMO_RATE_LIMIT_QUEUE",
                     absl::StrCat("\"", queue, "\" is not a whole number from 1 to 1000000"));
    }
  }
  config.redis_url = get("REDIS_URL");
  if (std::string replicas = get("REDIS_FALLBACK_REPLICAS"); !replicas.empty()) {
    if (!absl::SimpleAtoi(replicas, &config.redis_fallback_replicas) ||
        config.redis_fallback_replicas < 1 || config.redis_fallback_replicas > 1000) {
      return Invalid("REDIS_FALLBACK_REPLICAS",
                     absl::StrCat("\"", replicas, "\" is not a whole number from 1 to 1000"));
    }
  }
  if (std::string timeout = get("REDIS_TIMEOUT"); !timeout.empty()) {
    if (!absl::ParseDuration(timeout, &config.redis_timeout) ||
        config.redis_timeout < absl::Milliseconds(1) || config.redis_timeout > absl::Seconds(10)) {
      return Invalid(
          "REDIS_TIMEOUT",
          absl::StrCat("\"", timeout, "\" is not a duration from 1ms to 10s, such as 250ms"));
    }
  }
  if (std::string attempts = get("KOMMO_MAX_ATTEMPTS"); !attempts.empty()) {
    if (!absl::SimpleAtoi(attempts, &config.max_attempts) || config.max_attempts < 1 ||
        config.max_attempts > 10) {
      return Invalid("KOMMO_MAX_ATTEMPTS",
                     absl::StrCat("\"", attempts, "\" is not a whole number from 1 to 10"));
    }
  }
  if (std::string entries = get("IDEMPOTENCY_MAX_ENTRIES"); !entries.empty()) {
    if (!absl::SimpleAtoi(entries, &config.idempotency_max_entries) ||
        config.idempotency_max_entries < 1) {
      return Invalid("IDEMPOTENCY_MAX_ENTRIES",
                     absl::StrCat("\"", entries, "\" is not a whole number greater than 0"));
    }
  }
  if (std::string level = get("LOG_LEVEL"); !level.empty()) {
    const std::string lower = absl::AsciiStrToLower(level);
    if (lower != "debug" && lower != "info" && lower != "warning" && lower != "warn" &&
        lower != "error") {
      return Invalid("LOG_LEVEL",
                     absl::StrCat("\"", level, "\" is not debug, info, warning or error"));
    }
    config.log_level = lower;
  }
  if (std::string window = get("KOMMO_COALESCE_WINDOW"); !window.empty()) {
    if (!absl::ParseDuration(window, &config.coalesce_window) ||
        config.coalesce_window < absl::ZeroDuration() ||
        config.coalesce_window > absl::Seconds(1)) {
      return Invalid("KOMMO_COALESCE_WINDOW",
                     absl::StrCat("\"", window, "\" is not a duration from 0 to 1s, such as 2ms"));
    }
  }
  if (std::string ttl = get("KOMMO_CATALOGUE_TTL"); !ttl.empty()) {
    if (!absl::ParseDuration(ttl, &config.catalogue_ttl) ||
        config.catalogue_ttl < absl::ZeroDuration() || config.catalogue_ttl > absl::Hours(24)) {
      return Invalid("KOMMO_CATALOGUE_TTL",
                     absl::StrCat("\"", ttl, "\" is not a duration from 0 to 24h, such as 5m"));
    }
  }
  struct BoundedDuration {
    const char* env;
    absl::Duration* target;
    absl::Duration least, most;
    const char* example;
  };
  for (const BoundedDuration& setting :
       {BoundedDuration{"TLS_RELOAD_INTERVAL", &config.tls_reload_interval, absl::Seconds(1),
                        absl::Hours(24), "60s"},
        BoundedDuration{"WATCH_POLL_INTERVAL", &config.watch_poll_interval, absl::Seconds(1),
                        absl::Minutes(10), "5s"},
        BoundedDuration{"WATCH_LOOKBACK", &config.watch_lookback, absl::Minutes(1), absl::Hours(24),
                        "1h"},
        BoundedDuration{"WATCH_HEARTBEAT_INTERVAL", &config.watch_heartbeat_interval,
                        absl::Seconds(1), absl::Seconds(30), "20s"},
        BoundedDuration{"REDIS_LEASE", &config.redis_lease, absl::Seconds(1), absl::Seconds(60),
                        "5s"}}) {
    if (std::string text = get(setting.env); !text.empty()) {
      if (!absl::ParseDuration(text, setting.target) || *setting.target < setting.least ||
          *setting.target > setting.most) {
        return Invalid(setting.env, absl::StrCat("\"", text, "\" is not a duration from ",
                                                 absl::FormatDuration(setting.least), " to ",
                                                 absl::FormatDuration(setting.most), ", such as ",
                                                 setting.example));
      }
    }
  }
  if (std::string size = get("WATCH_HISTORY_SIZE"); !size.empty()) {
    if (!absl::SimpleAtoi(size, &config.watch_history_size) || config.watch_history_size < 100 ||
        config.watch_history_size > 10000000) {
      return Invalid("WATCH_HISTORY_SIZE",
                     absl::StrCat("\"", size, "\" is not a whole number from 100 to 10000000"));
    }
  }
  struct DurationSetting {
    const char* env;
    absl::Duration* target;
  };
  for (const DurationSetting& setting :
       {DurationSetting{"KOMMO_REQUEST_TIMEOUT", &config.request_timeout},
        DurationSetting{"GRPC_DEFAULT_DEADLINE", &config.default_deadline},
        DurationSetting{"SHUTDOWN_GRACE_PERIOD", &config.shutdown_grace},
        DurationSetting{"KOMMO_CIRCUIT_OPEN_DURATION", &config.circuit_open_duration},
        DurationSetting{"KOMMO_MAX_429_PAUSE", &config.max_rate_limit_pause},
        DurationSetting{"IDEMPOTENCY_RETENTION", &config.idempotency_retention}}) {
    if (std::string text = get(setting.env); !text.empty()) {
      absl::StatusOr<absl::Duration> duration = ParsePositiveDuration(setting.env, text);
      if (!duration.ok()) return duration.status();
      *setting.target = *duration;
    }
  }
  config.tls_cert_file = get("TLS_CERT_FILE");
  config.tls_key_file = get("TLS_KEY_FILE");
  config.tls_client_ca_file = get("TLS_CLIENT_CA_FILE");
  if (config.tls_cert_file.empty() != config.tls_key_file.empty()) {
    return absl::InvalidArgumentError(
        config.tls_cert_file.empty()
            ? "TLS_KEY_FILE is set without TLS_CERT_FILE: give both (TLS) or neither (plaintext)"
            : "TLS_CERT_FILE is set without TLS_KEY_FILE: give both (TLS) or neither (plaintext)");
  }
  if (!config.tls_client_ca_file.empty() && config.tls_cert_file.empty()) {
    return absl::InvalidArgumentError(
        "TLS_CLIENT_CA_FILE needs TLS_CERT_FILE and TLS_KEY_FILE (mTLS is TLS with client "
        "certificates)");
  }
  config.ca_file = get("KOMMO_CA_FILE");
  if (!config.ca_file.empty() && !std::ifstream(config.ca_file)) {
    return Invalid("KOMMO_CA_FILE", absl::StrCat("cannot read ", config.ca_file));
  }
  // The accounts: read last, so that the file's budgets default to KOMMO_RATE_LIMIT_*.
  if (!config.accounts_file.empty()) {
    absl::StatusOr<AccountsConfig> accounts =
        LoadAccountsFile(config.accounts_file, config.rate_limit_rps, config.rate_limit_burst);
    if (!accounts.ok()) return accounts.status();
    config.accounts = *std::move(accounts);
  } else {
    AccountConfig single;
    single.api_base_url = config.api_base_url;
    single.access_token = config.access_token;
    single.access_token_file = config.access_token_file;
    single.rate_limit_rps = config.rate_limit_rps;
    single.rate_limit_burst = config.rate_limit_burst;
    config.accounts.accounts.push_back(std::move(single));
    config.accounts.default_account = "default";
  }
  return config;
}

}  // namespace kommo
