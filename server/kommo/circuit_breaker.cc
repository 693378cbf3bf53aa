#include "server/kommo/circuit_breaker.h"

#include <algorithm>

namespace kommo::rest {

CircuitBreaker::Admission CircuitBreaker::Admit(absl::Time now, bool sending) {
  if (state_ == State::kClosed) return Admission::kAdmit;
  if (state_ == State::kOpen && now >= open_until_) {
    if (!sending) return Admission::kAdmit;  // may become the probe when its slot comes
    state_ = State::kProbing;
    return Admission::kProbe;
  }
  return Admission::kReject;
}

bool CircuitBreaker::OnBlocked(absl::Time now) {
  const bool was_closed = state_ == State::kClosed;
  state_ = State::kOpen;
  open_until_ = now + open_duration_;
  return was_closed;
}

bool CircuitBreaker::OpenUntil(absl::Time until) {
  const bool was_closed = state_ == State::kClosed;
  open_until_ = was_closed ? until : std::max(open_until_, until);
  state_ = State::kOpen;
  return was_closed;
}

void CircuitBreaker::OnProbeAnswered() {
  if (state_ == State::kProbing) state_ = State::kClosed;
}

void CircuitBreaker::OnProbeFailed(absl::Time now, bool cut_short) {
  if (state_ != State::kProbing) return;
  state_ = State::kOpen;
  open_until_ = cut_short ? now : now + open_duration_;
}

}  // namespace kommo::rest
