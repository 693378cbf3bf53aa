#include "server/metrics/metrics_server.h"

#include <exception>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "prometheus/exposer.h"
#include "server/common/listen_address.h"

namespace kommo::metrics {
namespace {

// Longest a scraper may take to send its request or read the answer before civetweb drops it.
constexpr char kSocketTimeoutMs[] = "2000";

}  // namespace

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(const std::string& listen,
                                                                    const Registry& registry) {
  absl::StatusOr<std::string> listening = CivetwebListeningPort("metrics", listen);
  if (!listening.ok()) return listening.status();
  int port = 0;
  absl::SimpleAtoi(listen.substr(listen.rfind(':') + 1), &port);

  // civetweb options: one listening address (never a list: the port is a number), a short
  // socket timeout so that a stuck scraper cannot hold a thread, two threads.
  std::vector<std::string> options = {"listening_ports",    *listening,      "num_threads", "2",
                                      "request_timeout_ms", kSocketTimeoutMs};
  std::unique_ptr<prometheus::Exposer> exposer;
  try {
    exposer = std::make_unique<prometheus::Exposer>(std::move(options));
  } catch (const std::exception& error) {
    // civetweb cannot bind (address in use, not a local address): prometheus-cpp throws.
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", listen, " for metrics: ", error.what()));
  }
  exposer->RegisterCollectable(registry.collectable());
  const std::vector<int> ports = exposer->GetListeningPorts();
  const int bound_port = ports.empty() ? port : ports.front();
  return std::unique_ptr<MetricsServer>(new MetricsServer(std::move(exposer), bound_port));
}

MetricsServer::MetricsServer(std::unique_ptr<prometheus::Exposer> exposer, int port)
    : exposer_(std::move(exposer)), port_(port) {}

MetricsServer::~MetricsServer() = default;

}  // namespace kommo::metrics
