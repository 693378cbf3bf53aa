#ifndef KOMMO_SERVER_KOMMO_SHARED_BUDGET_H_
#define KOMMO_SERVER_KOMMO_SHARED_BUDGET_H_

// The account's rate budget shared with the other replicas of the deployment (design.md §13):
// the gate every request to Kommo passes after the replica's own fair rate limiter granted its
// slot and before it is sent. The Redis implementation is server/redis/redis_budget.h; without
// REDIS_URL there is none and the Requester sends as soon as its local slot comes. Loop thread
// only.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "server/common/event_loop.h"

namespace kommo::rest {

class SharedBudget {
 public:
  using Ticket = uint64_t;
  // OK: send now. RESOURCE_EXHAUSTED (RATE_LIMIT_QUEUE_TIMEOUT, RetryInfo): the shared slot
  // cannot come before the deadline; Kommo was not called. UNAVAILABLE: the account is blocked
  // (the blocked listener was told first).
  using Granted = absl::AnyInvocable<void(absl::Status)>;

  virtual ~SharedBudget() = default;

  // Asks for a shared send slot. `priority`: a read-back, which goes before normal requests of
  // every replica. `granted` runs once on the loop, never inside this call. Returns a ticket for
  // Cancel.
  virtual Ticket Acquire(absl::Time deadline, bool priority, Granted granted) = 0;
  // The request gave up: `granted` never runs. A slot it had reserved goes to the next request
  // waiting here.
  virtual void Cancel(Ticket ticket) = 0;
  // A waiting request may now wait until `deadline` (a later caller joined it).
  virtual void ExtendDeadline(Ticket ticket, absl::Time deadline) = 0;

  // Kommo answered 429: every replica pauses until `until` (the loop's clock).
  virtual void OnRateLimited(absl::Time until) = 0;
  // Kommo blocks the account (HTML 403): every replica's circuit opens until `until`.
  virtual void OnBlocked(absl::Time until) = 0;
  // A probe got through: the block is over for every replica.
  virtual void OnUnblocked() = 0;
  // Told when another replica's block reaches this one: the circuit opens until `until`.
  virtual void SetBlockedListener(absl::AnyInvocable<void(absl::Time until)> listener) = 0;
};

// What a budget is made for: one Kommo account of one client.
struct SharedBudgetParams {
  std::string account;
  double requests_per_second = 7;
  int burst = 1;
  EventLoop* loop = nullptr;
};
using SharedBudgetFactory = std::function<std::unique_ptr<SharedBudget>(const SharedBudgetParams&)>;

}  // namespace kommo::rest

#endif  // KOMMO_SERVER_KOMMO_SHARED_BUDGET_H_
