#ifndef KOMMO_SERVER_METRICS_METRICS_SERVER_H_
#define KOMMO_SERVER_METRICS_METRICS_SERVER_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"

namespace kommo::metrics {

// A minimal HTTP/1.1 server for Prometheus scrapes: `GET /metrics` answers `render()` as
// text/plain version 0.0.4; anything else is 404. One connection at a time on its own thread,
// `Connection: close`, short socket timeouts so that a stuck scraper cannot hold it.
class MetricsServer {
 public:
  // Binds "host:port" (port 0 picks a free port) and starts serving.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(const std::string& listen,
                                                              std::function<std::string()> render);
  ~MetricsServer();

  int port() const { return port_; }

 private:
  MetricsServer(int fd, int port, std::function<std::string()> render);
  void Run();
  void Serve(int client);

  int fd_;
  int port_;
  std::function<std::string()> render_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace kommo::metrics

#endif  // KOMMO_SERVER_METRICS_METRICS_SERVER_H_
