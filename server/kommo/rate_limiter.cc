#include "server/kommo/rate_limiter.h"

#include <algorithm>
#include <cstddef>
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

RateLimiter::Key RateLimiter::KeyFor(Priority priority, const FairShares::Tag& tag) const {
  // Read-backs go first, among themselves in arrival order.
  if (priority == Priority::kFirst) return Key{0, 0.0, next_ticket_};
  return Key{1, tag.finish, next_ticket_};
}

size_t RateLimiter::IndexOf(const Key& key) const {
  return static_cast<size_t>(std::upper_bound(order_.begin(), order_.end(), key) - order_.begin());
}

absl::Time RateLimiter::SlotFor(Priority priority, const Flow& flow) const {
  const size_t index = IndexOf(KeyFor(priority, shares_.Peek(flow.name, flow.weight)));
  return index < slots_.size() ? slots_[index] : NextSlot();
}

absl::Time RateLimiter::SlotOf(Ticket ticket) const {
  auto it = waiting_.find(ticket);
  if (it == waiting_.end()) return absl::InfiniteFuture();
  const size_t index = static_cast<size_t>(
      std::lower_bound(order_.begin(), order_.end(), it->second.key) - order_.begin());
  return slots_[index];
}

void RateLimiter::Settle(const Key& key, const std::string& flow, const FairShares::Tag& tag,
                         bool served) {
  // A read-back's share is spent (its caller's next calls go later), but it went out of the fair
  // order, so it does not move the fair clock: that would put a newcomer behind the backlog of
  // the read-back's caller.
  if (served && key.rank != 0) {
    shares_.Served(flow, tag);
  } else {
    shares_.Left(flow);
  }
}

void RateLimiter::ReserveSlot() {
  const absl::Time slot = NextSlot();
  tat_ = std::max({tat_, loop_->Now(), paused_until_}) + interval_;
  slots_.insert(std::upper_bound(slots_.begin(), slots_.end(), slot), slot);
}

void RateLimiter::ReleaseLastSlot() {
  const absl::Time slot = slots_.back();
  slots_.pop_back();
  // The slot is given back only when it was the last one handed out; an earlier one stays
  // unused, which keeps the limit strict.
  if (slot + interval_ == tat_) tat_ = std::max(tat_ - interval_, paused_until_);
}

RateLimiter::Granted RateLimiter::Remove(size_t index, bool served) {
  const Key key = order_[index];
  order_.erase(order_.begin() + static_cast<std::ptrdiff_t>(index));
  auto it = waiting_.find(key.ticket);
  Granted granted = std::move(it->second.granted);
  if (served) {
    slots_.pop_front();
  } else {
    ReleaseLastSlot();
  }
  Settle(key, it->second.flow, it->second.tag, served);
  waiting_.erase(it);
  return granted;
}

void RateLimiter::RefuseLate(size_t index, std::vector<Granted>& refused) {
  for (size_t i = index; i < order_.size();) {
    if (slots_[i] <= waiting_.at(order_[i].ticket).deadline) {
      ++i;
      continue;
    }
    // The calls after it move back one slot, to where they were.
    refused.push_back(Remove(i, /*served=*/false));
  }
}

void RateLimiter::Arm() {
  if (slots_.empty()) {
    timer_.reset();
    timer_at_ = absl::InfinitePast();
    return;
  }
  if (timer_ != nullptr && timer_at_ == slots_.front()) return;
  timer_at_ = slots_.front();
  timer_ = loop_->RunAt(timer_at_, [this] { OnSlot(); });
}

void RateLimiter::OnSlot() {
  timer_.reset();
  timer_at_ = absl::InfinitePast();
  if (slots_.empty()) return;
  if (slots_.front() > loop_->Now()) return Arm();
  Granted granted = Remove(0, /*served=*/true);
  Arm();
  granted(absl::OkStatus());
}

void RateLimiter::PauseUntil(absl::Time until) {
  paused_until_ = std::max(paused_until_, until);
  tat_ = std::max(tat_, until);
  // The calls holding slots before the pause get new ones after it, in their order.
  size_t dropped = 0;
  while (!slots_.empty() && slots_.front() < paused_until_) {
    slots_.pop_front();
    ++dropped;
  }
  if (dropped == 0) return;
  for (size_t i = 0; i < dropped; ++i) ReserveSlot();
  std::vector<Granted> refused;
  RefuseLate(0, refused);
  Arm();
  for (Granted& each : refused) each(Refusal(NextSlot(), /*queue_full=*/false));
}

RateLimiter::Ticket RateLimiter::Acquire(absl::Time deadline, Granted granted, Priority priority,
                                         const Flow& flow) {
  const absl::Time now = loop_->Now();
  if (waiting_.size() >= options_.max_queue) {
    granted(Refusal(NextSlot(), /*queue_full=*/true));
    return 0;
  }
  // Nothing waits and the budget is free: past shares no longer matter.
  if (waiting_.empty() && NextSlot() <= now) shares_.Idle();
  const Key key = KeyFor(priority, shares_.Peek(flow.name, flow.weight));
  const size_t index = IndexOf(key);
  const absl::Time slot = index < slots_.size() ? slots_[index] : NextSlot();
  if (slot > deadline) {
    granted(Refusal(slot, /*queue_full=*/false));
    return 0;
  }
  if (waiting_.empty() && slot <= now) {
    tat_ = std::max({tat_, now, paused_until_}) + interval_;
    Settle(key, flow.name, shares_.Add(flow.name, flow.weight), /*served=*/true);
    granted(absl::OkStatus());
    return 0;
  }
  const Ticket ticket = next_ticket_++;
  ReserveSlot();
  Waiter& waiter = waiting_[ticket];
  waiter.key = key;
  waiter.deadline = deadline;
  waiter.flow = flow.name;
  waiter.tag = shares_.Add(flow.name, flow.weight);
  waiter.granted = std::move(granted);
  order_.insert(order_.begin() + static_cast<std::ptrdiff_t>(index), key);
  // Every call it went ahead of moved one slot later.
  std::vector<Granted> refused;
  RefuseLate(index + 1, refused);
  Arm();
  for (Granted& each : refused) each(Refusal(NextSlot(), /*queue_full=*/false));
  return ticket;
}

void RateLimiter::ExtendDeadline(Ticket ticket, absl::Time deadline) {
  auto it = waiting_.find(ticket);
  if (it != waiting_.end()) it->second.deadline = std::max(it->second.deadline, deadline);
}

bool RateLimiter::Cancel(Ticket ticket) {
  auto it = waiting_.find(ticket);
  if (it == waiting_.end()) return false;
  const size_t index = static_cast<size_t>(
      std::lower_bound(order_.begin(), order_.end(), it->second.key) - order_.begin());
  Granted dropped = Remove(index, /*served=*/false);
  Arm();
  return true;
}

}  // namespace kommo::rest
