#ifndef KOMMO_SERVER_METRICS_METRICS_SERVER_H_
#define KOMMO_SERVER_METRICS_METRICS_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "server/metrics/metrics.h"

namespace prometheus {
class Exposer;
}  // namespace prometheus

namespace kommo::metrics {

// The Prometheus scrape endpoint: prometheus-cpp's Exposer (the pull library, an embedded
// civetweb server) answering `GET /metrics` with the registry in the text format. Besides the
// registry's metrics, the Exposer adds its own (exposer_scrapes_total and friends).
class MetricsServer {
 public:
  // Binds `listen`, "host:port" ("127.0.0.1:9090", "[::1]:9090", "localhost:0"; an empty host is
  // every IPv4 interface; port 0 picks a free port) and starts serving `registry`, which must
  // outlive the server. INVALID_ARGUMENT when `listen` is not host:port or the host does not
  // resolve; UNAVAILABLE, naming the address, when it cannot be bound (in use, not local).
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(const std::string& listen,
                                                              const Registry& registry);
  // Stops serving; a scrape in progress is finished first.
  ~MetricsServer();

  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // The bound port (the one picked when `listen` said 0).
  int port() const { return port_; }

 private:
  MetricsServer(std::unique_ptr<prometheus::Exposer> exposer, int port);

  std::unique_ptr<prometheus::Exposer> exposer_;
  int port_;
};

}  // namespace kommo::metrics

#endif  // KOMMO_SERVER_METRICS_METRICS_SERVER_H_
