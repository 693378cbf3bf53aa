// kommo-grpc-server: flags and environment → config, wiring, signals; nothing else.

#include <malloc.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <future>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "server/accounts/accounts.h"
#include "server/api/grpc_server.h"
#include "server/api/shared_idempotency.h"
#include "server/common/log.h"
#include "server/config.h"
#include "server/http/curl_transport.h"
#include "server/http/epoll_loop.h"
#include "server/kommo/kommo_client.h"
#include "server/metrics/metrics_server.h"
#include "server/metrics/service_metrics.h"
#include "server/redis/redis_budget.h"
#include "server/redis/redis_client.h"
#include "server/startup_check.h"
#include "server/watch/shared_history.h"
#include "server/watch/watch_hub.h"
#include "server/watch/webhook_receiver.h"

namespace {

// Start-up failures that the operator must fix: one line, exit 2 (like a configuration error).
// Requests to Kommo still under way once every call has ended: writes whose callers left (their
// attempt in flight runs to its end) and their read-backs. Waits up to `limit` for them to settle,
// so each write's outcome, and the id Kommo gave it, is logged rather than cut off.
size_t InFlight(kommo::rest::KommoClient& client) {
  std::promise<size_t> count;
  client.GetStats(
      [&count](kommo::rest::KommoClientStats stats) { count.set_value(stats.in_flight); });
  return count.get_future().get();
}

void DrainWrites(kommo::rest::KommoClient& client, absl::Duration limit) {
  const absl::Time until = absl::Now() + limit;
  size_t in_flight = InFlight(client);
  if (in_flight == 0) return;
  kommo::log::Info(
      "waiting for Kommo requests under way to settle",
      {{"in_flight", static_cast<int64_t>(in_flight)}, {"up_to_s", absl::ToDoubleSeconds(limit)}});
  while (in_flight > 0 && absl::Now() < until) {
    absl::SleepFor(absl::Milliseconds(50));
    in_flight = InFlight(client);
  }
  if (in_flight > 0) {
    kommo::log::Warning(
        "stopping with Kommo requests still under way; writes among them are "
        "logged with an unknown outcome",
        {{"in_flight", static_cast<int64_t>(in_flight)}});
  }
}

int StartupError(absl::string_view setting, const absl::Status& status) {
  std::fprintf(stderr, "kommo-grpc-server: %s: %s\n", std::string(setting).c_str(),
               std::string(status.message()).c_str());
  return 2;
}

// glibc gives each thread that allocates its own malloc arena (up to 8 per core). Here gRPC's
// threads allocate a call and the loop thread frees it (and the other way round), so memory freed
// in one arena is reused only by its own threads: with 2,000 calls in flight that held about 12 MB
// more at the peak than two shared arenas do, at no measured CPU cost (bench/README.md). An
// operator's MALLOC_ARENA_MAX (or glibc.malloc.arena_max tunable) is left as given.
void CapMallocArenas() {
  if (std::getenv("MALLOC_ARENA_MAX") != nullptr || std::getenv("GLIBC_TUNABLES") != nullptr) {
    return;
  }
  mallopt(M_ARENA_MAX, 2);
}

int Run(int argc, char** argv) {
  CapMallocArenas();
  // Debian builds Abseil without NDEBUG, so every absl::Mutex (gRPC's locks among them) keeps a
  // lock-order graph for deadlock detection: a debugging aid that cost about 3% of the server's CPU
  // per call in scenario 1 (perf, bench/README.md). Tests keep it; the server does not need it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  std::vector<std::string> args(argv + 1, argv + argc);
  absl::StatusOr<kommo::Config> config =
      kommo::LoadConfig(args, [](const char* name) { return std::getenv(name); });
  if (absl::IsNotFound(config.status())) {  // --help
    std::fputs(std::string(config.status().message()).c_str(), stdout);
    return 0;
  }
  if (!config.ok()) {
    std::fprintf(stderr, "kommo-grpc-server: configuration error: %s\n",
                 std::string(config.status().message()).c_str());
    return 2;
  }
  kommo::log::Level level = kommo::log::Level::kInfo;
  kommo::log::ParseLevel(config->log_level, &level);
  kommo::log::SetMinLevel(level);
  kommo::api::RouteGrpcLogsToJsonLog();

  // Signals are taken by sigwait() below; block them before any thread starts so that every
  // thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  absl::StatusOr<std::unique_ptr<kommo::http::EpollLoop>> loop = kommo::http::EpollLoop::Create();
  const absl::Status loop_started = loop.ok() ? (*loop)->Start() : loop.status();
  if (!loop_started.ok()) {
    kommo::log::Error("cannot start the event loop", {{"error", loop_started.message()}});
    return 1;
  }
  kommo::http::CurlTransportOptions transport_options;
  transport_options.user_agent = "kommo-grpc/" KOMMO_GRPC_VERSION;
  transport_options.ca_file = config->ca_file;
  absl::StatusOr<std::unique_ptr<kommo::http::CurlTransport>> transport =
      kommo::http::CurlTransport::Create(loop->get(), transport_options);
  if (!transport.ok()) {
    kommo::log::Error("cannot start the HTTP transport", {{"error", transport.status().message()}});
    return 1;
  }

  // What every account's client shares; each account sets its name, URL, token and budget.
  kommo::rest::KommoClientOptions client_options;
  kommo::metrics::Registry registry;
  kommo::metrics::ServiceMetrics metrics(&registry);
  client_options.metrics = &metrics;
  client_options.request_timeout = config->request_timeout;
  client_options.max_queue = config->rate_limit_queue;
  client_options.max_attempts = config->max_attempts;
  client_options.circuit_open_duration = config->circuit_open_duration;
  client_options.catalogue_ttl = config->catalogue_ttl;
  client_options.max_rate_limit_pause = config->max_rate_limit_pause;
  client_options.coalesce_window = config->coalesce_window;
  // REDIS_URL: one rate budget, 429 pause and circuit for every replica (redis_budget.h). The
  // client lives on the loop and is destroyed on it (below, once every user of it is gone).
  std::unique_ptr<kommo::redis::RedisClient> redis;
  if (!config->redis_url.empty()) {
    kommo::redis::RedisOptions redis_options;
    redis_options.url = config->redis_url;
    redis_options.command_timeout = config->redis_timeout;
    redis_options.connect_timeout = std::max(config->redis_timeout, absl::Milliseconds(500));
    // Every replica reconnects within a second of Redis's return, inside the budget's handover.
    redis_options.reconnect_max = absl::Seconds(1);
    redis_options.name = "kommo-grpc";
    absl::StatusOr<std::unique_ptr<kommo::redis::RedisClient>> created;
    (*loop)->RunAndWait([&] {
      created = kommo::redis::RedisClient::Create(loop->get(), redis_options);
      if (created.ok()) {
        (*created)->OnConnectionChange(
            [&metrics](bool up) { metrics.redis_connected.store(up ? 1 : 0); });
      }
    });
    if (!created.ok()) return StartupError("REDIS_URL", created.status());
    redis = std::move(*created);
    kommo::redis::RedisClient* redis_client = redis.get();
    kommo::metrics::ServiceMetrics* service_metrics = &metrics;
    const int fallback_replicas = config->redis_fallback_replicas;
    const absl::Duration redis_timeout = config->redis_timeout;
    const absl::Duration handover = redis_options.reconnect_max + absl::Seconds(1);
    client_options.shared_budget = [redis_client, service_metrics, fallback_replicas, redis_timeout,
                                    handover](const kommo::rest::SharedBudgetParams& params) {
      kommo::redis::RedisBudgetOptions budget;
      budget.account = params.account;
      budget.requests_per_second = params.requests_per_second;
      budget.burst = params.burst;
      budget.fallback_replicas = fallback_replicas;
      budget.timeout = redis_timeout;
      budget.handover_delay = handover;
      budget.metrics = service_metrics;
      return std::make_unique<kommo::redis::RedisBudget>(redis_client, params.loop, budget);
    };
    kommo::log::Info("rate budget shared through Redis",
                     {{"fallback_replicas", fallback_replicas},
                      {"timeout_ms", absl::ToInt64Milliseconds(redis_timeout)}});
  }
  // The state shared with the other replicas (REDIS_URL), on the loop: declared before the
  // cleanup that stops the loop, so that they are destroyed after it stopped.
  // request_ids carry their account in their key (one SharedIdempotency serves every account);
  // each account gets its own change history in Redis (AccountMaker, below).
  std::unique_ptr<kommo::api::SharedIdempotency> shared_idempotency;
  std::function<std::unique_ptr<kommo::watch::SharedHistory>(const std::string&)>
      shared_history_for;
  if (redis != nullptr) {
    kommo::api::SharedIdempotency::Options shared_options;
    shared_options.retention = config->idempotency_retention;
    shared_options.lease = config->redis_lease;
    shared_options.registry = &registry;
    shared_options.redis_errors = metrics.redis_errors;
    shared_options.account = client_options.account;
    shared_idempotency = std::make_unique<kommo::api::SharedIdempotency>(redis.get(), loop->get(),
                                                                         std::move(shared_options));
    shared_history_for = [redis_client = redis.get(), replica = shared_idempotency->replica_id(),
                          lease = config->redis_lease,
                          max_len = config->watch_history_size](const std::string& account) {
      kommo::watch::SharedHistoryOptions history_options;
      history_options.replica_id = replica;
      history_options.lease = lease;
      history_options.max_len = max_len;
      history_options.account = account;
      return std::make_unique<kommo::watch::SharedHistory>(redis_client,
                                                           std::move(history_options));
    };
    kommo::log::Info("replicas share state through Redis",
                     {{"replica", shared_idempotency->replica_id()},
                      {"lease_s", absl::ToDoubleSeconds(config->redis_lease)}});
  }
  kommo::watch::WatchOptions watch_options;
  watch_options.poll_interval = config->watch_poll_interval;
  watch_options.lookback = config->watch_lookback;
  watch_options.history_size = config->watch_history_size;
  watch_options.lease = config->redis_lease;
  // Each account: its client (budget, circuit, catalogues) and its change stream's poller, on
  // the loop. An account replaced or removed by a reload lives on for the calls still on it.
  std::shared_ptr<kommo::accounts::AccountMaker> maker =
      kommo::accounts::AccountMaker::Create({client_options, watch_options, /*with_watch=*/true,
                                             transport->get(), loop->get(), shared_history_for});
  kommo::accounts::AccountRegistryOptions accounts_options;
  accounts_options.accounts_file = config->accounts_file;
  accounts_options.default_rps = config->rate_limit_rps;
  accounts_options.default_burst = config->rate_limit_burst;
  accounts_options.make = [maker](const kommo::AccountConfig& account) {
    return maker->Make(account);
  };
  accounts_options.loop = loop->get();
  std::unique_ptr<kommo::accounts::AccountRegistry> accounts =
      kommo::accounts::AccountRegistry::Create(std::move(accounts_options), config->accounts);
  // Whatever way Run returns from here on, the loop stops before the accounts' clients are
  // destroyed (a start-up step below failing included): nothing may run on the loop once a client
  // is gone; then the accounts go, before the transport their clients use.
  absl::Cleanup stop_loop = [&transport, &loop, &accounts, &maker] {
    (*transport)->Shutdown();
    (*loop)->Shutdown();
    accounts.reset();
    maker->DestroyRetiredNow();
  };

  // 1 once Kommo answered the start-up check (startup_check.h), else 0.
  kommo::metrics::Gauge startup_kommo_ok = registry.AddGauge(
      "kommo_grpc_startup_kommo_ok",
      "1 when Kommo answered GET /account at start-up with the server's token, else 0 "
      "(unreachable, token refused, or no answer yet).");

  // Metrics first: a requested address that is taken stops the start before gRPC listens.
  std::unique_ptr<kommo::metrics::MetricsServer> metrics_server;
  if (config->metrics_listen != "off") {
    absl::StatusOr<std::unique_ptr<kommo::metrics::MetricsServer>> started =
        kommo::metrics::MetricsServer::Start(config->metrics_listen, registry);
    if (!started.ok()) return StartupError("METRICS_LISTEN_ADDRESS", started.status());
    metrics_server = std::move(*started);
    kommo::log::Info("metrics", {{"port", metrics_server->port()}, {"path", "/metrics"}});
  }

  kommo::auth::AuthorizerOptions auth_options;
  auth_options.callers_file = config->callers_file;
  auth_options.known_methods = kommo::api::ServedMethods();
  auth_options.open_methods = kommo::api::OpenMethods(config->auth_open_reflection);
  absl::StatusOr<std::unique_ptr<kommo::auth::Authorizer>> authorizer =
      kommo::auth::Authorizer::Create(std::move(auth_options));
  if (!authorizer.ok()) return StartupError("CALLERS_FILE", authorizer.status());

  kommo::api::GrpcServerOptions server_options;
  server_options.listen = config->listen;
  server_options.service.authorizer = authorizer->get();
  server_options.tls.cert_file = config->tls_cert_file;
  server_options.tls.key_file = config->tls_key_file;
  server_options.tls.client_ca_file = config->tls_client_ca_file;
  server_options.tls.reload_interval = config->tls_reload_interval;
  if (config->health_listen != "off") server_options.health_listen = config->health_listen;
  // Certificates that are missing or do not parse stop the start like a configuration error.
  if (absl::Status tls = kommo::api::CheckServerTlsFiles(server_options.tls); !tls.ok()) {
    std::fprintf(stderr, "kommo-grpc-server: configuration error: %s\n",
                 std::string(tls.message()).c_str());
    return 2;
  }
  server_options.service.default_deadline = config->default_deadline;
  server_options.service.metrics = &metrics;
  kommo::api::IdempotencyStore::Options idempotency_options;
  idempotency_options.retention = config->idempotency_retention;
  idempotency_options.max_entries = config->idempotency_max_entries;
  kommo::api::IdempotencyStore idempotency(idempotency_options);
  server_options.service.idempotency = &idempotency;
  server_options.service.shared_idempotency = shared_idempotency.get();
  server_options.service.loop = loop->get();
  server_options.service.accounts = accounts.get();
  server_options.service.watch_heartbeat_interval = config->watch_heartbeat_interval;
  absl::StatusOr<std::unique_ptr<kommo::api::GrpcServer>> server =
      kommo::api::GrpcServer::Start(server_options);
  if (!server.ok()) return StartupError("GRPC_LISTEN_ADDRESS", server.status());
  // Said once the port is ours: a start that fails says only why.
  if ((*authorizer)->enabled()) {
    kommo::log::Info("calls are authenticated",
                     {{"callers", static_cast<unsigned long>((*authorizer)->caller_count())},
                      {"reflection_open", config->auth_open_reflection}});
  } else {
    kommo::log::Warning(
        "calls are not authenticated: any process that reaches the port may call every method "
        "(set CALLERS_FILE)");
  }
  {
    const kommo::api::TransportSecurity security = kommo::api::SecurityOf(server_options.tls);
    if (security == kommo::api::TransportSecurity::kPlaintext) {
      kommo::log::Info("gRPC transport", {{"security", "plaintext"}});
    } else {
      // Paths only: the files' contents never reach a log line.
      kommo::log::Info("gRPC transport",
                       {{"security", kommo::api::SecurityName(security)},
                        {"cert_file", config->tls_cert_file},
                        {"client_ca_file", config->tls_client_ca_file},
                        {"reload_interval_s", absl::ToDoubleSeconds(config->tls_reload_interval)}});
    }
    if ((*server)->health_port() != 0) {
      kommo::log::Info("health", {{"port", (*server)->health_port()},
                                  {"service", "grpc.health.v1.Health"},
                                  {"security", "plaintext"}});
    }
  }

  // Kommo's webhooks, when configured: each delivery makes the change streams poll now (every
  // account's that has watchers: a delivery does not say which account it is for).
  std::unique_ptr<kommo::watch::WebhookReceiver> webhooks;
  if (config->webhook_listen != "off") {
    kommo::EventLoop* event_loop = loop->get();
    kommo::accounts::AccountRegistry* served = accounts.get();
    absl::StatusOr<std::unique_ptr<kommo::watch::WebhookReceiver>> started =
        kommo::watch::WebhookReceiver::Start(
            {config->webhook_listen, config->webhook_secret},
            [event_loop, served](const kommo::watch::WebhookDelivery&) {
              event_loop->Post([in_force = served->All()] {
                for (const kommo::accounts::AccountPtr& account : in_force) {
                  if (account->watch_hub != nullptr) account->watch_hub->PollSoon();
                }
              });
            });
    if (!started.ok()) return StartupError("WEBHOOK_LISTEN_ADDRESS", started.status());
    webhooks = std::move(*started);
    kommo::log::Info("webhooks", {{"port", webhooks->port()}, {"path", "/kommo/webhook/..."}});
  }

  // Serving does not wait for the answers, and readiness stays SERVING whatever they are. The
  // gauge turns 1 once every account at start-up answered.
  auto unanswered = std::make_shared<std::atomic<size_t>>(config->accounts.accounts.size());
  for (const kommo::AccountConfig& account : config->accounts.accounts) {
    kommo::StartStartupCheck(
        transport->get(), account.api_base_url, account.access_token, config->request_timeout,
        [startup_kommo_ok, unanswered,
         url = account.api_base_url](const kommo::StartupCheckResult& result) mutable {
          if (result.ok && unanswered->fetch_sub(1) == 1) startup_kommo_ok.store(1);
          kommo::LogStartupCheck(result, url);
        });
  }
  if (config->accounts_file.empty()) {
    std::printf(
        "kommo-grpc-server listening on port %d (%s, Kommo API %s, %.3g requests/s)\n",
        (*server)->port(),
        std::string(kommo::api::SecurityName(kommo::api::SecurityOf(server_options.tls))).c_str(),
        config->api_base_url.c_str(), config->rate_limit_rps);
  } else {
    std::string names;
    for (const kommo::AccountConfig& account : config->accounts.accounts) {
      absl::StrAppend(&names, names.empty() ? "" : ",", account.name);
    }
    std::printf(
        "kommo-grpc-server listening on port %d (%s, %zu Kommo accounts from %s: %s; default: "
        "%s)\n",
        (*server)->port(),
        std::string(kommo::api::SecurityName(kommo::api::SecurityOf(server_options.tls))).c_str(),
        config->accounts.accounts.size(), config->accounts_file.c_str(), names.c_str(),
        config->accounts.default_account.empty() ? "none"
                                                 : config->accounts.default_account.c_str());
  }
  std::fflush(stdout);

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  kommo::log::Info("shutting down: health NOT_SERVING, new calls refused, calls in flight finish",
                   {{"signal", signal_number == SIGTERM ? "SIGTERM" : "SIGINT"},
                    {"grace_s", absl::ToDoubleSeconds(config->shutdown_grace)}});
  // Change streams end at once (UNAVAILABLE: their callers resume elsewhere with their tokens);
  // unary calls get the grace period.
  (*loop)->Post([in_force = accounts->All()] {
    for (const kommo::accounts::AccountPtr& account : in_force) {
      if (account->watch_hub != nullptr) account->watch_hub->Shutdown();
    }
  });
  webhooks.reset();
  (*server)->Shutdown(absl::Now() + config->shutdown_grace);
  (*server)->Wait();
  server->reset();
  {
    const absl::Time drain_until = absl::Now() + config->shutdown_grace;
    for (const kommo::accounts::AccountPtr& account : accounts->All()) {
      DrainWrites(*account->client, std::max(drain_until - absl::Now(), absl::ZeroDuration()));
    }
  }
  metrics_server.reset();
  // The loop stops first: work still pending for a Kommo client (a batch whose callers all
  // left, a timer) must not run once the client is gone. Then the accounts go.
  std::move(stop_loop).Invoke();
  shared_idempotency.reset();
  redis.reset();
  transport->reset();
  kommo::log::Info("stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return Run(argc, argv); }
