#ifndef KOMMO_SERVER_COMMON_LISTEN_ADDRESS_H_
#define KOMMO_SERVER_COMMON_LISTEN_ADDRESS_H_

// "host:port" as civetweb's `listening_ports` option wants it (the metrics endpoint and the
// webhook receiver are both served by civetweb): the host resolved to a numeric address
// ("192.0.2.1", "[2001:db8::1]"; an empty host is every IPv4 interface) and the port 0 to 65535.

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kommo {

// INVALID_ARGUMENT naming `what` ("metrics", "webhook") when `listen` is not host:port or the host
// does not resolve.
absl::StatusOr<std::string> CivetwebListeningPort(absl::string_view what,
                                                  const std::string& listen);

}  // namespace kommo

#endif  // KOMMO_SERVER_COMMON_LISTEN_ADDRESS_H_
