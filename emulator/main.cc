// kommo-emulator: serves a local Kommo API v4 until SIGINT or SIGTERM (then exits 0).
// The first line on stdout is "kommo-emulator listening on http://HOST:PORT" (https with TLS).
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "emulator/emulator.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:8080",
          "HOST:PORT to listen on; port 0 picks a free port (printed on the first line)");
ABSL_FLAG(std::string, token, "",
          "Bearer token of the admin user; empty: any non-empty Bearer token is accepted");
ABSL_FLAG(std::string, manager_token, "",
          "Bearer token of a non-admin user (GET /api/v4/users answers 403 for it)");
ABSL_FLAG(bool, batch_all_or_nothing, true,
          "A batch write with an invalid item saves nothing; false saves the valid items");
ABSL_FLAG(bool, access_log, false,
          "Log one line per request on stderr (method, path, status; never headers or bodies)");

// Faults at start-up (the admin API can change them at run time; POST /_emulator/reset re-arms
// these).
ABSL_FLAG(std::string, faults, "",
          "Fault rules as JSON, the body POST /_emulator/faults takes (an object or an array), "
          "e.g. '[{\"match\":\"GET /api/v4/leads\",\"fault\":\"status\",\"status\":503}]'");
ABSL_FLAG(std::string, faults_file, "", "A file holding fault rules as JSON (like --faults)");
ABSL_FLAG(int64_t, latency_ms, 0, "Delay every matching request by this many ms (0: none)");
ABSL_FLAG(int64_t, latency_jitter_ms, 0, "Plus a uniform random extra delay of 0..this many ms");
ABSL_FLAG(std::string, latency_match, "*",
          "Which requests --latency_ms delays: \"METHOD /path/prefix\", \"/path/prefix\" or \"*\"");

// Kommo's rate limit and block.
ABSL_FLAG(double, rate_limit_rps, 0,
          "Token-bucket rate limit in requests per second (Kommo: 7); 0: no limit");
ABSL_FLAG(double, rate_limit_burst, 0, "Bucket size; 0: the same as --rate_limit_rps (>= 1)");
ABSL_FLAG(std::string, rate_limit_response, "json",
          "The 429 body: json (problem+json with retry_after) or html (nginx page, no header)");
ABSL_FLAG(int, rate_limit_retry_after, 1, "retry_after seconds in a JSON 429");
ABSL_FLAG(int, block_after_429s, 0,
          "Block the account (every request: 403 HTML) after this many consecutive 429s; 0: never");
ABSL_FLAG(double, block_seconds, 0,
          "Lift a block after this many seconds; 0: only POST /_emulator/unblock or reset");

// Events (GET /api/v4/events) and webhook delivery.
ABSL_FLAG(int64_t, events_max, 100000, "Events kept in the history (the newest; >= 1)");
ABSL_FLAG(int64_t, events_max_age_seconds, 0,
          "Drop events older than this many seconds; 0: no age limit");
ABSL_FLAG(double, webhook_time_scale, 1.0,
          "Multiplies Kommo's webhook retry delays (+5 min, +15 min, +15 min, +1 h): 0.001 makes "
          "+5 min 300 ms");
ABSL_FLAG(int64_t, webhook_timeout_ms, 2000,
          "A webhook receiver must answer within this many ms (Kommo: 2000)");
ABSL_FLAG(std::string, webhook_faults, "",
          "Webhook fault rules as JSON, the body POST /_emulator/webhooks/faults takes, e.g. "
          "'{\"fault\":\"duplicate\",\"times\":0}'");

ABSL_FLAG(int64_t, request_log_limit, 10000,
          "Requests kept in the log of GET /_emulator/requests (newest); 0: no log");
ABSL_FLAG(uint64_t, seed, 0, "Seed for latency jitter and trace ids; 0: random");
ABSL_FLAG(std::string, tls_cert, "", "PEM certificate (chain): serve HTTPS (with --tls_key)");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert");

namespace {

// The flags → EmulatorOptions; errors name the flag.
absl::StatusOr<kommo::emulator::EmulatorOptions> OptionsFromFlags() {
  using kommo::emulator::FaultAction;
  using kommo::emulator::FaultRule;
  kommo::emulator::EmulatorOptions options;
  options.listen = absl::GetFlag(FLAGS_listen);
  options.token = absl::GetFlag(FLAGS_token);
  options.manager_token = absl::GetFlag(FLAGS_manager_token);
  options.batch_all_or_nothing = absl::GetFlag(FLAGS_batch_all_or_nothing);
  options.access_log = absl::GetFlag(FLAGS_access_log);

  for (const bool from_file : {false, true}) {
    std::string json = from_file ? "" : absl::GetFlag(FLAGS_faults);
    const std::string path = absl::GetFlag(FLAGS_faults_file);
    if (from_file && !path.empty()) {
      std::ifstream in(path);
      if (!in) return absl::InvalidArgumentError("--faults_file: cannot read " + path);
      std::stringstream content;
      content << in.rdbuf();
      json = content.str();
    }
    if (json.empty()) continue;
    auto rules = kommo::emulator::ParseFaultRules(json);
    if (!rules.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(from_file ? "--faults_file: " : "--faults: ", rules.status().message()));
    }
    for (FaultRule& rule : *rules) options.faults.push_back(std::move(rule));
  }
  const int64_t latency_ms = absl::GetFlag(FLAGS_latency_ms);
  const int64_t jitter_ms = absl::GetFlag(FLAGS_latency_jitter_ms);
  if (latency_ms != 0 || jitter_ms != 0) {
    const std::string match = absl::GetFlag(FLAGS_latency_match);
    if (match.find_first_of("\"\\") != std::string::npos) {
      return absl::InvalidArgumentError("--latency_match must not contain quotes or backslashes");
    }
    const std::string json =
        absl::StrCat(R"({"fault":"latency","delay_ms":)", latency_ms, R"(,"jitter_ms":)", jitter_ms,
                     R"(,"match":")", match, R"("})");
    auto rules = kommo::emulator::ParseFaultRules(json);
    if (!rules.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--latency_ms/--latency_jitter_ms/--latency_match: ", rules.status().message()));
    }
    options.faults.push_back((*rules)[0]);
  }

  const double rps = absl::GetFlag(FLAGS_rate_limit_rps);
  if (rps != 0) {
    kommo::emulator::RateLimitOptions& limit = options.rate_limit;
    limit.enabled = true;
    limit.requests_per_second = rps;
    const double burst = absl::GetFlag(FLAGS_rate_limit_burst);
    limit.burst = burst > 0 ? burst : std::max(1.0, std::ceil(rps));
    const std::string response = absl::GetFlag(FLAGS_rate_limit_response);
    if (response != "json" && response != "html") {
      return absl::InvalidArgumentError("--rate_limit_response must be json or html");
    }
    limit.html = response == "html";
    limit.retry_after_seconds = absl::GetFlag(FLAGS_rate_limit_retry_after);
    limit.block_after = absl::GetFlag(FLAGS_block_after_429s);
    limit.block_duration = std::chrono::milliseconds(
        static_cast<int64_t>(std::llround(absl::GetFlag(FLAGS_block_seconds) * 1000)));
  }
  const int64_t log_limit = absl::GetFlag(FLAGS_request_log_limit);
  if (log_limit < 0) return absl::InvalidArgumentError("--request_log_limit must be >= 0");
  options.request_log_limit = static_cast<size_t>(log_limit);
  const int64_t events_max = absl::GetFlag(FLAGS_events_max);
  if (events_max < 1) return absl::InvalidArgumentError("--events_max must be >= 1");
  options.events.max_events = static_cast<size_t>(events_max);
  const int64_t events_max_age = absl::GetFlag(FLAGS_events_max_age_seconds);
  if (events_max_age < 0) {
    return absl::InvalidArgumentError("--events_max_age_seconds must be >= 0");
  }
  options.events.max_age = std::chrono::seconds(events_max_age);
  options.webhooks.time_scale = absl::GetFlag(FLAGS_webhook_time_scale);
  options.webhooks.timeout = std::chrono::milliseconds(absl::GetFlag(FLAGS_webhook_timeout_ms));
  if (const std::string json = absl::GetFlag(FLAGS_webhook_faults); !json.empty()) {
    auto rules = kommo::emulator::ParseWebhookFaultRules(json);
    if (!rules.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--webhook_faults: ", rules.status().message()));
    }
    options.webhook_faults = *std::move(rules);
  }
  options.random_seed = absl::GetFlag(FLAGS_seed);
  options.tls_cert_file = absl::GetFlag(FLAGS_tls_cert);
  options.tls_key_file = absl::GetFlag(FLAGS_tls_key);
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "A local Kommo (amoCRM) REST API v4 for tests, with faults, Kommo's rate limit and a "
      "request log (emulator/README.md).\n"
      "Usage: kommo-emulator [--listen=127.0.0.1:8080] [--token=TOKEN] [--faults=JSON] "
      "[--rate_limit_rps=7] [--tls_cert=PEM --tls_key=PEM] ...");
  absl::FlagsUsageConfig usage_config;
  // --help lists the flags of this file (Abseil's default filter guesses by file name).
  usage_config.contains_help_flags = [](absl::string_view file) {
    return absl::EndsWith(file, "emulator/main.cc");
  };
  usage_config.contains_helpshort_flags = usage_config.contains_help_flags;
  absl::SetFlagsUsageConfig(usage_config);
  absl::ParseCommandLine(argc, argv);

  // Block the stop signals before any thread starts, so every thread inherits the mask and
  // sigwait() below is the only receiver.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  absl::StatusOr<kommo::emulator::EmulatorOptions> options = OptionsFromFlags();
  if (!options.ok()) {
    std::fprintf(stderr, "kommo-emulator: %s\n", std::string(options.status().message()).c_str());
    return 1;
  }
  auto emulator = kommo::emulator::Emulator::Start(*std::move(options));
  if (!emulator.ok()) {
    std::fprintf(stderr, "kommo-emulator: %s\n", emulator.status().ToString().c_str());
    return 1;
  }
  std::printf("kommo-emulator listening on %s\n", (*emulator)->base_url().c_str());
  std::fflush(stdout);

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  (*emulator)->Stop();
  std::fprintf(stderr, "kommo-emulator: stopped by signal %d\n", signal_number);
  return 0;
}
