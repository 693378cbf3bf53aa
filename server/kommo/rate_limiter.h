#ifndef KOMMO_SERVER_KOMMO_RATE_LIMITER_H_
#define KOMMO_SERVER_KOMMO_RATE_LIMITER_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "server/common/event_loop.h"
#include "server/kommo/fair_shares.h"

namespace kommo::rest {

struct RateLimiterOptions {
  // Sustained requests per second to one Kommo account (Kommo documents 7).
  double requests_per_second = 7;
  // Requests that may go at once after a quiet period. 1 spaces every request evenly.
  int burst = 1;
  // Calls allowed to wait for their turn at once; more are refused at once.
  size_t max_queue = 10000;
};

// Whose budget share a request uses: the caller's name ("" for the anonymous flow, which also
// serves requests made for no caller) and its weight (shares are in proportion to weights).
struct FairFlow {
  std::string name;
  double weight = 1;
};

// The outbound budget of one Kommo account, shared by every call: a token bucket in its
// "virtual scheduling" form (GCRA). Every admitted request reserves a send slot at once, so a call
// whose turn would come after its deadline is refused immediately (RESOURCE_EXHAUSTED with
// RetryInfo), never left to wait in vain; waiting costs a queue entry, not a thread (one timer
// serves the whole queue).
//
// The reserved slots are handed out in weighted fair order across callers (fair_shares.h): the
// waiting calls are ordered by (priority, fair finish tag, arrival), and the k-th waiting call in
// that order has the k-th reserved slot. A newcomer caller therefore goes ahead of another
// caller's backlog (each call it passes moves one slot later; the first that then misses its
// deadline is refused, and the calls after it keep their slots), and read-backs (kFirst) go before
// every normal call.
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

  using Flow = FairFlow;

  // Reserves the next send slot. `granted` runs once on the loop: with OK when the slot comes
  // (at once when the budget is free), or with RESOURCE_EXHAUSTED (reason
  // RATE_LIMIT_QUEUE_TIMEOUT, RetryInfo) when the slot would come after `deadline` or the queue is
  // full. Returns 0 when `granted` already ran, else a ticket for Cancel.
  Ticket Acquire(absl::Time deadline, Granted granted, Priority priority = Priority::kNormal,
                 const Flow& flow = Flow());

  // Withdraws a waiting reservation: `granted` never runs, and the calls after it move one slot
  // earlier. Returns false when the ticket is not waiting (already granted or unknown).
  bool Cancel(Ticket ticket);

  // A waiting reservation may now wait until `deadline` (a later caller joined the request it
  // serves). Its place does not move. No-op for a ticket that is not waiting.
  void ExtendDeadline(Ticket ticket, absl::Time deadline);

  // Calls waiting for their slot now.
  size_t queue_depth() const { return waiting_.size(); }

  // The earliest time a request asked for now would be sent, were it last in the queue.
  absl::Time NextSlot() const;
  // When a request of `flow` asked for now would be sent: its place in the fair order.
  absl::Time SlotFor(Priority priority, const Flow& flow) const;
  // The slot a waiting reservation holds now (InfiniteFuture for a ticket that is not waiting).
  absl::Time SlotOf(Ticket ticket) const;
  // The spacing between two requests at the sustained rate.
  absl::Duration interval() const { return interval_; }

  // Sends nothing before `until` (Kommo answered 429 and asked to wait): waiting calls whose
  // slot falls earlier are moved after it, or refused when that passes their deadline.
  void PauseUntil(absl::Time until);

  // Callers with fair-share state now (for tests: it is forgotten when a caller has nothing
  // waiting).
  size_t flows() const { return shares_.flows(); }

 private:
  // The order of the waiting calls.
  struct Key {
    int rank = 0;  // 0: kFirst, 1: normal
    double finish = 0;
    Ticket ticket = 0;
    bool operator<(const Key& other) const {
      if (rank != other.rank) return rank < other.rank;
      if (finish != other.finish) return finish < other.finish;
      return ticket < other.ticket;
    }
  };
  struct Waiter {
    Key key;
    absl::Time deadline;
    std::string flow;
    FairShares::Tag tag;
    Granted granted;
  };

  // Where a request of `flow` asked for now would go in order_.
  Key KeyFor(Priority priority, const FairShares::Tag& tag) const;
  size_t IndexOf(const Key& key) const;
  // RESOURCE_EXHAUSTED for a call whose slot cannot come in time (or the queue is full).
  absl::Status Refusal(absl::Time slot, bool queue_full) const;
  // A waiting (or at once granted) call of `flow` leaves the queue: served, or not.
  void Settle(const Key& key, const std::string& flow, const FairShares::Tag& tag, bool served);
  // Reserves one more slot at the end.
  void ReserveSlot();
  // Drops the last reserved slot (a waiting call left); it is given back to the bucket when it
  // was the last one handed out.
  void ReleaseLastSlot();
  // Removes the waiting call at `index` of order_ (the calls after it move one slot earlier) and
  // returns its callback.
  Granted Remove(size_t index, bool served);
  // Refuses the waiting calls from `index` on whose slot now comes after their deadline.
  void RefuseLate(size_t index, std::vector<Granted>& refused);
  // Keeps the one timer at the first reserved slot.
  void Arm();
  void OnSlot();

  EventLoop* loop_;
  RateLimiterOptions options_;
  absl::Duration interval_;
  absl::Duration burst_tolerance_;
  // Theoretical arrival time: when the bucket would next be empty-handed.
  absl::Time tat_ = absl::InfinitePast();
  absl::Time paused_until_ = absl::InfinitePast();
  Ticket next_ticket_ = 1;
  std::map<Ticket, Waiter> waiting_;
  // The waiting calls in serving order, and the reserved slots in time order: order_[k] is sent
  // at slots_[k].
  std::deque<Key> order_;
  std::deque<absl::Time> slots_;
  EventLoop::TimerPtr timer_;
  absl::Time timer_at_ = absl::InfinitePast();
  FairShares shares_;
};

}  // namespace kommo::rest

#endif  // KOMMO_SERVER_KOMMO_RATE_LIMITER_H_
