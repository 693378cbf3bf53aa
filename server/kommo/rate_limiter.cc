#include "server/kommo/rate_limiter.h"

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/common/error_details.h"

namespace kommo::rest {

RateLimiter::RateLimiter(EventLoop* loop, RateLimiterOptions options)
    : loop_(loop),
      options_(options),
      // Rounded up to whole microseconds so that N intervals never add up to less than N/rate.
      interval_(absl::Ceil(absl::Seconds(1) / std::max(options.requests_per_second, 1e-3),
                           absl::Microseconds(1))),
      burst_tolerance_(interval_ * std::max(options.burst - 1, 0)) {}

RateLimiter::~RateLimiter() = default;

absl::Time RateLimiter::NextSlot() const {
  return std::max({loop_->Now(), tat_ - burst_tolerance_, paused_until_});
}

absl::Status RateLimiter::Refusal(absl::Time slot, bool queue_full) const {
  absl::Status status = MakeError(
      absl::StatusCode::kResourceExhausted,
      queue_full ? absl::StrCat("too many calls are waiting for Kommo's rate limit (",
                                options_.max_queue, "); Kommo was not called")
                 : absl::StrCat("Kommo's rate limit (", options_.requests_per_second,
                                " requests/s) cannot admit this call before its deadline; Kommo "
                                "was not called"),
      reason::kRateLimitQueueTimeout,
      {{"queue_depth", absl::StrCat(waiting_.size())},
       {"requests_per_second", absl::StrCat(options_.requests_per_second)}});
  SetRetryDelay(status, slot - loop_->Now());
  return status;
}

void RateLimiter::PauseUntil(absl::Time until) {
  paused_until_ = std::max(paused_until_, until);
  tat_ = std::max(tat_, until);
}

void RateLimiter::Schedule(Ticket ticket, absl::Time slot) {
  Waiter& waiter = waiting_.at(ticket);
  waiter.slot = slot;
  waiter.timer = loop_->RunAt(slot, [this, ticket] { Grant(ticket); });
}

RateLimiter::Ticket RateLimiter::Acquire(absl::Time deadline, Granted granted, Priority priority) {
  const absl::Time now = loop_->Now();
  absl::Time slot = NextSlot();
  const bool queue_full = waiting_.size() >= options_.max_queue;
  if (queue_full) {
    granted(Refusal(slot, queue_full));
    return 0;
  }
  std::vector<Granted> refused;
  if (priority == Priority::kFirst && slot > now) {
    // Take the earliest slot a normal call is waiting for; every normal call from there on
    // moves one slot later.
    std::optional<absl::Time> earliest;
    for (const auto& [ticket, waiter] : waiting_) {
      if (waiter.priority == Priority::kNormal && (!earliest || waiter.slot < *earliest)) {
        earliest = waiter.slot;
      }
    }
    if (earliest.has_value() && *earliest <= deadline) {
      slot = *earliest;
      for (auto it = waiting_.begin(); it != waiting_.end();) {
        Waiter& waiter = it->second;
        // Everything from the chosen slot on moves one slot later, read-backs included (a pause
        // can leave a read-back behind normal calls), so no two slots ever coincide.
        if (waiter.slot < slot) {
          ++it;
          continue;
        }
        waiter.timer.reset();
        const absl::Time moved = waiter.slot + interval_;
        if (moved > waiter.deadline) {
          refused.push_back(std::move(waiter.granted));
          it = waiting_.erase(it);
          continue;
        }
        Schedule(it->first, moved);
        ++it;
      }
    }
  }
  if (slot > deadline) {
    granted(Refusal(slot, /*queue_full=*/false));
    return 0;
  }
  tat_ = std::max({tat_, now, paused_until_}) + interval_;
  Ticket ticket = 0;
  if (slot <= now) {
    granted(absl::OkStatus());
  } else {
    ticket = next_ticket_++;
    Waiter& waiter = waiting_[ticket];
    waiter.deadline = deadline;
    waiter.priority = priority;
    waiter.granted = std::move(granted);
    Schedule(ticket, slot);
  }
  for (Granted& each : refused) each(Refusal(NextSlot(), /*queue_full=*/false));
  return ticket;
}

void RateLimiter::Grant(Ticket ticket) {
  auto it = waiting_.find(ticket);
  if (it == waiting_.end()) return;
  const absl::Time now = loop_->Now();
  if (now < paused_until_) {
    // Kommo asked for a pause after this slot was given: take a new one after the pause.
    const absl::Time slot = NextSlot();
    if (slot > it->second.deadline) {
      Granted granted = std::move(it->second.granted);
      waiting_.erase(it);
      granted(Refusal(slot, /*queue_full=*/false));
      return;
    }
    tat_ = std::max({tat_, now, paused_until_}) + interval_;
    Schedule(ticket, slot);
    return;
  }
  Granted granted = std::move(it->second.granted);
  waiting_.erase(it);
  granted(absl::OkStatus());
}

void RateLimiter::ExtendDeadline(Ticket ticket, absl::Time deadline) {
  auto it = waiting_.find(ticket);
  if (it != waiting_.end()) it->second.deadline = std::max(it->second.deadline, deadline);
}

bool RateLimiter::Cancel(Ticket ticket) {
  auto it = waiting_.find(ticket);
  if (it == waiting_.end()) return false;
  const absl::Time slot = it->second.slot;
  waiting_.erase(it);
  // The reserved slot is given back only when it was the last one handed out; an earlier gap
  // stays unused, which keeps the limit strict.
  if (slot + interval_ == tat_) tat_ = std::max(tat_ - interval_, paused_until_);
  return true;
}

}  // namespace kommo::rest
