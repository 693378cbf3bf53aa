#include "server/metrics/metrics_server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <exception>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "prometheus/exposer.h"

namespace kommo::metrics {
namespace {

// Longest a scraper may take to send its request or read the answer before civetweb drops it.
constexpr char kSocketTimeoutMs[] = "2000";

// `host` ("" for every IPv4 interface) as the numeric address civetweb's listening_ports wants:
// "192.0.2.1" or "[2001:db8::1]".
absl::StatusOr<std::string> NumericHost(const std::string& host) {
  if (host.empty()) return std::string("0.0.0.0");
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &found) != 0 || found == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("cannot resolve metrics host \"", host, "\""));
  }
  char text[INET6_ADDRSTRLEN] = {};
  std::string numeric;
  if (found->ai_family == AF_INET6) {
    const auto* address = reinterpret_cast<const sockaddr_in6*>(found->ai_addr);
    if (inet_ntop(AF_INET6, &address->sin6_addr, text, sizeof(text)) != nullptr) {
      numeric = absl::StrCat("[", text, "]");
    }
  } else if (found->ai_family == AF_INET) {
    const auto* address = reinterpret_cast<const sockaddr_in*>(found->ai_addr);
    if (inet_ntop(AF_INET, &address->sin_addr, text, sizeof(text)) != nullptr) numeric = text;
  }
  freeaddrinfo(found);
  if (numeric.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics host \"", host, "\" is neither IPv4 nor IPv6"));
  }
  return numeric;
}

}  // namespace

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(const std::string& listen,
                                                                    const Registry& registry) {
  const size_t colon = listen.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(listen.substr(colon + 1), &port) ||
      port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics address \"", listen, "\" is not host:port"));
  }
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  absl::StatusOr<std::string> numeric = NumericHost(host);
  if (!numeric.ok()) return numeric.status();

  // civetweb options: one listening address (never a list: the port is a number), a short
  // socket timeout so that a stuck scraper cannot hold a thread, two threads.
  std::vector<std::string> options = {"listening_ports",    absl::StrCat(*numeric, ":", port),
                                      "num_threads",        "2",
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
