#include "server/common/listen_address.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace kommo {
namespace {

absl::StatusOr<std::string> NumericHost(absl::string_view what, const std::string& host) {
  if (host.empty()) return std::string("0.0.0.0");
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &found) != 0 || found == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot resolve ", what, " host \"", host, "\""));
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
        absl::StrCat(what, " host \"", host, "\" is neither IPv4 nor IPv6"));
  }
  return numeric;
}

}  // namespace

absl::StatusOr<std::string> CivetwebListeningPort(absl::string_view what,
                                                  const std::string& listen) {
  const size_t colon = listen.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(listen.substr(colon + 1), &port) ||
      port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " address \"", listen, "\" is not host:port"));
  }
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  absl::StatusOr<std::string> numeric = NumericHost(what, host);
  if (!numeric.ok()) return numeric.status();
  return absl::StrCat(*numeric, ":", port);
}

}  // namespace kommo
