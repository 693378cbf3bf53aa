#ifndef KOMMO_SERVER_KOMMO_RATE_LIMITER_H_
#define KOMMO_SERVER_KOMMO_RATE_LIMITER_H_

#include <cstddef>
#include <cstdint>
#include <map>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "server/common/event_loop.h"

namespace kommo::rest {

struct RateLimiterOptions {
  // Sustained requests per second to one Kommo account (Kommo documents 7).
  double requests_per_second = 7;
  // Requests that may go at once after a quiet period. 1 spaces every request evenly.
  int burst = 1;
  // Calls allowed to wait for their turn at once; more are refused at once.
  size_t max_queue = 10000;
};

// The outbound budget of one Kommo account, shared by every call: a token bucket in its
// "virtual scheduling" form (GCRA). Each admitted request is given its send time at once, so a call
// whose turn would come after its deadline is refused immediately (RESOURCE_EXHAUSTED with
// RetryInfo), never left to wait in vain; waiting costs a timer on the event loop, not a thread.
//
// Not thread-safe: use it from its event loop's thread only.
class RateLimiter {
 public:
  using Ticket = uint64_t;
  using Granted = absl::AnyInvocable<void(absl::Status)>;

  RateLimiter(EventLoop* loop, RateLimiterOptions options);
  ~RateLimiter();

  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  enum class Priority {
    kNormal,
    // Goes before every normal call still waiting (they each move one slot later, and one that
    // then misses its deadline is refused): for reading back what was just written, so that a
    // write that reached Kommo is answered even when many new calls queue behind it.
    kFirst,
  };

  // Reserves the next send slot. `granted` runs once on the loop: with OK when the slot comes
  // (at once when the budget is free), or with RESOURCE_EXHAUSTED (reason
  // RATE_LIMIT_QUEUE_TIMEOUT, RetryInfo) when the slot would come after `deadline` or the queue is
  // full. Returns 0 when `granted` already ran, else a ticket for Cancel.
  Ticket Acquire(absl::Time deadline, Granted granted, Priority priority = Priority::kNormal);

  // Withdraws a waiting reservation: `granted` never runs. Returns false when the ticket is not
  // waiting (already granted or unknown).
  bool Cancel(Ticket ticket);

  // A waiting reservation may now wait until `deadline` (a later caller joined the request it
  // serves). Its slot does not move. No-op for a ticket that is not waiting.
  void ExtendDeadline(Ticket ticket, absl::Time deadline);

  // Calls waiting for their slot now.
  size_t queue_depth() const { return waiting_.size(); }

  // The earliest time a request asked for now would be sent.
  absl::Time NextSlot() const;
  // The spacing between two requests at the sustained rate.
  absl::Duration interval() const { return interval_; }

  // Sends nothing before `until` (Kommo answered 429 and asked to wait): waiting calls whose
  // slot falls earlier are moved after it, or refused when that passes their deadline.
  void PauseUntil(absl::Time until);

 private:
  struct Waiter {
    EventLoop::TimerPtr timer;
    absl::Time slot;
    absl::Time deadline;
    Priority priority = Priority::kNormal;
    Granted granted;
  };

  // Schedules `ticket` (in waiting_) to be granted at `slot`.
  void Schedule(Ticket ticket, absl::Time slot);

  // RESOURCE_EXHAUSTED for a call whose slot cannot come in time (or the queue is full).
  absl::Status Refusal(absl::Time slot, bool queue_full) const;
  void Grant(Ticket ticket);

  EventLoop* loop_;
  RateLimiterOptions options_;
  absl::Duration interval_;
  absl::Duration burst_tolerance_;
  // Theoretical arrival time: when the bucket would next be empty-handed.
  absl::Time tat_ = absl::InfinitePast();
  absl::Time paused_until_ = absl::InfinitePast();
  Ticket next_ticket_ = 1;
  std::map<Ticket, Waiter> waiting_;
};

}  // namespace kommo::rest

#endif  // KOMMO_SERVER_KOMMO_RATE_LIMITER_H_
