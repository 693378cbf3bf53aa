#ifndef KOMMO_SERVER_KOMMO_CIRCUIT_BREAKER_H_
#define KOMMO_SERVER_KOMMO_CIRCUIT_BREAKER_H_

// Kommo blocks an account's API access after rate-limit abuse (an HTML 403). While it does, the
// circuit is open: calls fail fast instead of hammering the account. After `open_duration` one
// request is let through as a probe; the circuit closes as soon as Kommo answers anything but the
// block page. A plain state machine on a caller-given clock; no I/O.

#include "absl/time/time.h"

namespace kommo::rest {

class CircuitBreaker {
 public:
  enum class State { kClosed, kOpen, kProbing };
  enum class Admission {
    kAdmit,   // send it
    kProbe,   // send it as the probe: report its outcome with OnProbe*
    kReject,  // fail fast (the circuit is open)
  };

  explicit CircuitBreaker(absl::Duration open_duration) : open_duration_(open_duration) {}

  // Whether a request may go now. `sending`: it is about to be sent (only then does it become the
  // probe); before that (waiting for a rate-limit slot) an open circuit past its period admits it.
  Admission Admit(absl::Time now, bool sending);

  // Kommo answered with the block page. Returns true when this opened a closed circuit.
  bool OnBlocked(absl::Time now);
  // Another replica saw the block page (the shared budget told us): open until `until` (or
  // later, when already open longer). Returns true when this opened a closed circuit.
  bool OpenUntil(absl::Time until);
  // The probe got an answer other than the block page: closed again.
  void OnProbeAnswered();
  // The probe failed without an answer. `cut_short`: its caller cut it short (cancelled, or its
  // deadline rather than Kommo's silence ended it), so it proved nothing: the next call probes.
  // Otherwise the circuit stays open a full period.
  void OnProbeFailed(absl::Time now, bool cut_short);

  State state() const { return state_; }
  bool open() const { return state_ != State::kClosed; }
  // When the open circuit will let a probe through.
  absl::Time open_until() const { return open_until_; }

 private:
  absl::Duration open_duration_;
  State state_ = State::kClosed;
  absl::Time open_until_ = absl::InfinitePast();
};

}  // namespace kommo::rest

#endif  // KOMMO_SERVER_KOMMO_CIRCUIT_BREAKER_H_
