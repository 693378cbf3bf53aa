#ifndef KOMMO_SERVER_METRICS_SERVICE_METRICS_H_
#define KOMMO_SERVER_METRICS_SERVICE_METRICS_H_

#include "server/metrics/metrics.h"

namespace kommo::metrics {

// Every metric the service exports (README "Metrics and logs"); the layers record into the fields
// they own.
struct ServiceMetrics {
  explicit ServiceMetrics(Registry* registry)
      : rpcs(registry->AddCounter("kommo_grpc_rpcs_total",
                                  "RPCs finished, by method and gRPC status code.")),
        rpc_duration(registry->AddHistogram("kommo_grpc_rpc_duration_seconds",
                                            "Time from receiving an RPC to finishing it.",
                                            LatencyBuckets())),
        kommo_requests(registry->AddCounter(
            "kommo_grpc_kommo_requests_total",
            "HTTP requests sent to Kommo, by endpoint and HTTP status (or transport error).")),
        kommo_duration(registry->AddHistogram("kommo_grpc_kommo_request_duration_seconds",
                                              "Duration of HTTP requests to Kommo, by endpoint.",
                                              LatencyBuckets())),
        retries(registry->AddCounter("kommo_grpc_kommo_retries_total",
                                     "Requests to Kommo sent again after a failed attempt.")),
        rate_limit_wait(registry->AddHistogram(
            "kommo_grpc_rate_limit_wait_seconds",
            "Time calls waited for their slot in the account's rate limit.", LatencyBuckets())),
        rpcs_in_flight(registry->AddGauge("kommo_grpc_rpcs_in_flight", "RPCs being served now.")),
        rate_limit_queue_depth(registry->AddGaugeFamily(
            "kommo_grpc_rate_limit_queue_depth",
            "Calls waiting for a slot in the account's rate limit now, by account.")),
        circuit_open(registry->AddGaugeFamily(
            "kommo_grpc_circuit_open",
            "1 while Kommo blocks the account and calls fail fast, else 0; by account.")),
        redis_connected(registry->AddGauge(
            "kommo_grpc_redis_connected",
            "1 while the connection to Redis (REDIS_URL) is up, else 0; 0 without REDIS_URL.")),
        budget_requests(registry->AddCounter(
            "kommo_grpc_rate_budget_requests_total",
            "Requests to Kommo let through by the rate budget shared on Redis, by account and "
            "source: shared (Redis's bucket) or fallback (this replica's share while Redis is "
            "unavailable).")),
        redis_errors(registry->AddCounter(
            "kommo_grpc_redis_errors_total",
            "Redis commands that failed or timed out, by operation (take, pause, block, "
            "unblock, handover; claim, renew, finish).")) {}

  Counter* rpcs;            // labels: method, code
  Histogram* rpc_duration;  // labels: method
  // What is per Kommo account carries the label `account` (the accounts file's names, so the
  // number of series stays bounded by that file).
  Counter* kommo_requests;     // labels: account, endpoint, status
  Histogram* kommo_duration;   // labels: account, endpoint
  Counter* retries;            // labels: account, endpoint
  Histogram* rate_limit_wait;  // labels: account
  Gauge rpcs_in_flight;
  GaugeFamily* rate_limit_queue_depth;  // labels: account
  GaugeFamily* circuit_open;            // labels: account; 0 or 1
  Gauge redis_connected;                // 0 or 1
  Counter* budget_requests;             // labels: account, source
  Counter* redis_errors;                // labels: operation
};

}  // namespace kommo::metrics

#endif  // KOMMO_SERVER_METRICS_SERVICE_METRICS_H_
