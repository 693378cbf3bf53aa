#ifndef KOMMO_SERVER_COMMON_CLOCK_H_
#define KOMMO_SERVER_COMMON_CLOCK_H_

#include <chrono>

#include "absl/time/time.h"

namespace kommo {

// CLOCK_MONOTONIC as an absl::Time: the server's event loop runs timers, rate-limit slots and
// backoff on it, so stepping the wall clock moves none of them. Only differences between two
// readings (or with deadlines converted to it at the gRPC boundary) mean anything.
inline absl::Time MonotonicNow() {
  return absl::UnixEpoch() + absl::FromChrono(std::chrono::steady_clock::now().time_since_epoch());
}

}  // namespace kommo

#endif  // KOMMO_SERVER_COMMON_CLOCK_H_
