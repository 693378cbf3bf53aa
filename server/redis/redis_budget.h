#ifndef KOMMO_SERVER_REDIS_REDIS_BUDGET_H_
#define KOMMO_SERVER_REDIS_REDIS_BUDGET_H_

// One Kommo account's rate budget shared by every replica through Redis (issue 15, design.md §13).
//
// The budget is a GCRA bucket in Redis, kept by one Lua script (atomic, one round trip, Redis's
// TIME as the clock, so the replicas' clocks do not matter). A request whose local slot came asks
// for a shared slot; the script reserves the next free one and answers how long to wait for it.
// Keys, per account with a hash tag (one Redis Cluster slot): kommo:{ACCOUNT}:tat (the bucket),
// kommo:{ACCOUNT}:pause (end of a 429's pause), kommo:{ACCOUNT}:circuit (end of a block),
// kommo:{ACCOUNT}:handover (see below). Times are Redis's, in microseconds.
//
// Priority: a normal request reserves only a slot within a short horizon (two intervals) and,
// told to wait longer, asks again when its slot would enter the horizon; a read-back reserves up
// to one second ahead. So a read-back asked for on any replica goes before the normal requests
// every replica has waiting. Deadlines: a request whose slot would come after its deadline is
// refused at once (RESOURCE_EXHAUSTED, RATE_LIMIT_QUEUE_TIMEOUT), also while it waits.
//
// No slot wasted: a slot belongs to the replica, not to the request. When a request gives up, its
// slot goes to the next request waiting here (or arriving before the slot's time). It is lost only
// when none does: Redis cannot take a slot back, since later ones may already be another
// replica's.
//
// Redis unavailable or slow (a command fails or exceeds REDIS_TIMEOUT): the replica falls back to
// a local budget of requests_per_second ÷ fallback_replicas (never above the account's), spaced so
// that no 1-second window holds more than floor(rps ÷ fallback_replicas) of them. Its first
// fallback slot is 2 s after the loss (the longest a reservation made before the loss may reach,
// 1 s, plus a 1-second window), so no window mixes shared and fallback requests. The 429 pause and
// the circuit are then local, as without Redis.
//
// Handover back: the first replica that reconnects sets kommo:{ACCOUNT}:handover to Redis's time
// + handover_delay (longer than the reconnect backoff, so every replica has reconnected by then);
// every replica that reconnects stops sending under its fallback budget, and the shared bucket
// gives no slot before the handover time. So fallback requests end at least 1 s before shared
// ones start: no burst.
//
// Loop thread only.

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "server/common/event_loop.h"
#include "server/kommo/shared_budget.h"
#include "server/metrics/service_metrics.h"
#include "server/redis/redis_client.h"

namespace kommo::redis {

struct RedisBudgetOptions {
  std::string account = "default";
  double requests_per_second = 7;
  int burst = 1;
  // Replicas the account's budget is split between while Redis is unavailable (≥ 1).
  int fallback_replicas = 1;
  // Each Redis command's own timeout (REDIS_TIMEOUT).
  absl::Duration timeout = absl::Milliseconds(250);
  // How long after the first replica reconnects every replica switches back to the shared budget:
  // more than the client's reconnect_max.
  absl::Duration handover_delay = absl::Seconds(2);
  // Where to count requests by budget source and Redis errors; may be null.
  metrics::ServiceMetrics* metrics = nullptr;
};

class RedisBudget final : public rest::SharedBudget {
 public:
  // How much later than the bucket's nominal spacing shared and fallback slots are: the requests
  // of different replicas leave through different loops and sockets, after a round trip to Redis,
  // so one may leave later than its slot and the next on time. 20 ms per interval absorb 140 ms of
  // that over Kommo's 7-request window, for 12% of the throughput. (3 ms, absorbing 21 ms, let an
  // 8th request into one second under ASan's slowdown: shared_budget_test.)
  static constexpr absl::Duration kSpacingMargin = absl::Milliseconds(20);
  // How far ahead a normal request and a read-back may reserve.
  static constexpr int kNormalHorizonIntervals = 2;
  static constexpr absl::Duration kPriorityHorizon = absl::Seconds(1);

  // `client` and `loop` (the client's) outlive the budget. May be made on any thread; the rest is
  // for the loop thread (or any one thread once the loop has stopped).
  RedisBudget(RedisClient* client, EventLoop* loop, RedisBudgetOptions options);
  ~RedisBudget() override;

  Ticket Acquire(absl::Time deadline, bool priority, Granted granted) override;
  void Cancel(Ticket ticket) override;
  void ExtendDeadline(Ticket ticket, absl::Time deadline) override;
  void OnRateLimited(absl::Time until) override;
  void OnBlocked(absl::Time until) override;
  void OnUnblocked() override;
  void SetBlockedListener(absl::AnyInvocable<void(absl::Time until)> listener) override;

  // For tests and logs.
  bool shared() const { return mode_ == Mode::kShared; }
  absl::Duration shared_interval() const { return interval_; }
  absl::Duration fallback_interval() const { return fallback_interval_; }
  size_t waiting() const { return waiters_.size(); }

 private:
  enum class Mode { kFallback, kHandover, kShared };
  struct Key {
    int rank = 0;  // 0: read-back, 1: normal
    Ticket ticket = 0;
    bool operator<(const Key& other) const {
      return rank != other.rank ? rank < other.rank : ticket < other.ticket;
    }
  };
  struct Waiter {
    absl::Time deadline;
    Granted granted;
    EventLoop::TimerPtr deadline_timer;
  };

  void Pump();
  void Ask();
  void OnTakeReply(absl::StatusOr<Reply> reply);
  void ArmSlotTimer();
  void OnSlotTimer();
  void ArmFallbackTimer();
  void OnFallbackTimer();
  void Grant(const char* source);
  void Refuse(std::map<Key, Waiter>::iterator it, absl::Status status);
  void RefuseLate();
  absl::Status Late(absl::Time slot) const;
  absl::Status BlockedStatus(absl::Time until) const;
  void ArmDeadline(Ticket ticket, Waiter& waiter);
  void OnConnection(bool up);
  void EnterFallback(absl::string_view why);
  void StartHandover();
  void Extend(const std::string& key, absl::Duration duration, const char* operation);
  void CountError(const char* operation);
  std::string KeyName(absl::string_view suffix) const;

  RedisClient* client_;
  EventLoop* loop_;
  RedisBudgetOptions options_;
  absl::Duration interval_;
  absl::Duration tolerance_;
  absl::Duration fallback_interval_;
  RedisClient::Script take_;
  RedisClient::Script extend_;
  RedisClient::Script handover_;

  Mode mode_ = Mode::kFallback;
  bool reported_fallback_ = false;
  // Sent under the fallback share, or lost Redis (others may have): a handover is due.
  bool sent_under_fallback_ = false;
  bool handover_asked_ = false;
  Ticket next_ticket_ = 1;
  std::map<Key, Waiter> waiters_;
  std::map<Ticket, Key> keys_;
  // Shared slots this replica reserved, in time order (loop clock); the k-th goes to the k-th
  // waiter in order when it comes.
  std::deque<absl::Time> slots_;
  bool asking_ = false;
  Ticket asked_ticket_ = 0;  // whose slot the TAKE in flight asks for
  absl::Duration asked_horizon_;
  // The earliest a shared slot can come for the next request without one (the script's last
  // answer; the bucket only moves forward).
  absl::Time shared_earliest_ = absl::InfinitePast();
  absl::Time handover_until_ = absl::InfinitePast();
  EventLoop::TimerPtr retry_timer_;
  EventLoop::TimerPtr slot_timer_;
  absl::Time slot_timer_at_ = absl::InfinitePast();
  EventLoop::TimerPtr handover_timer_;
  EventLoop::TimerPtr rejoin_timer_;
  // The local fallback bucket.
  absl::Time fallback_tat_ = absl::InfinitePast();
  absl::Time fallback_not_before_ = absl::InfinitePast();
  absl::Time local_pause_until_ = absl::InfinitePast();
  EventLoop::TimerPtr fallback_timer_;
  absl::Time fallback_timer_at_ = absl::InfinitePast();
  absl::AnyInvocable<void(absl::Time)> blocked_listener_;
  std::shared_ptr<RedisBudget*> alive_;
};

}  // namespace kommo::redis

#endif  // KOMMO_SERVER_REDIS_REDIS_BUDGET_H_
