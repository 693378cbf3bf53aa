#include "server/redis/redis_budget.h"

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/common/error_details.h"
#include "server/common/log.h"

namespace kommo::redis {
namespace {

// Reserves the next shared slot. KEYS: tat, pause, circuit, handover. ARGV: interval, burst
// tolerance, horizon (how far ahead this request may reserve), latest (the longest it may wait),
// all in microseconds. Answers {code, wait}: 0 reserved, send in `wait`; 1 the slot is beyond the
// horizon, ask again later; 2 the account is blocked for `wait` more; 3 the slot would come after
// the request's deadline. Nothing is written unless a slot is reserved.
constexpr char kTakeScript[] = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local circuit = tonumber(redis.call('GET', KEYS[3]) or '0')
if circuit > now then return {2, circuit - now} end
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local horizon = tonumber(ARGV[3])
local latest = tonumber(ARGV[4])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local pause = tonumber(redis.call('GET', KEYS[2]) or '0')
local handover = tonumber(redis.call('GET', KEYS[4]) or '0')
local slot = math.max(now, tat - tolerance, pause, handover)
local wait = slot - now
if wait > latest then return {3, wait} end
if wait > horizon then return {1, wait} end
local next_tat = math.max(tat, slot) + interval
redis.call('SET', KEYS[1], string.format('%.0f', next_tat), 'PX',
           math.floor((next_tat - now) / 1000) + 1000)
return {0, wait}
)lua";

// Moves an end time (a pause, a block) to now + ARGV[1] µs unless it is later already.
constexpr char kExtendScript[] = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local wanted = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if wanted > current then
  redis.call('SET', KEYS[1], string.format('%.0f', wanted), 'PX',
             math.floor(tonumber(ARGV[1]) / 1000) + 1000)
end
return 1
)lua";

// The handover time after an outage: answers the µs left until it. When none is set and ARGV[2]
// is '1' (this replica lost Redis, or sent under its fallback share), sets it to now + ARGV[1] µs.
constexpr char kHandoverScript[] = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local handover = tonumber(redis.call('GET', KEYS[1]) or '0')
if handover > now then return handover - now end
if ARGV[2] == '1' then
  redis.call('SET', KEYS[1], string.format('%.0f', now + tonumber(ARGV[1])), 'PX',
             math.floor(tonumber(ARGV[1]) / 1000) + 1000)
  return tonumber(ARGV[1])
end
return 0
)lua";

std::string Micros(absl::Duration duration) {
  return absl::StrCat(std::max<int64_t>(0, absl::ToInt64Microseconds(duration)));
}

absl::Duration Spacing(double per_second) {
  return absl::Ceil(absl::Seconds(1) / per_second, absl::Microseconds(1));
}

}  // namespace

RedisBudget::RedisBudget(RedisClient* client, EventLoop* loop, RedisBudgetOptions options)
    : client_(client),
      loop_(loop),
      options_(std::move(options)),
      take_(RedisClient::MakeScript(kTakeScript)),
      extend_(RedisClient::MakeScript(kExtendScript)),
      handover_(RedisClient::MakeScript(kHandoverScript)),
      alive_(std::make_shared<RedisBudget*>(this)) {
  const double rps = std::max(options_.requests_per_second, 1e-3);
  const int replicas = std::max(options_.fallback_replicas, 1);
  interval_ = Spacing(rps) + kSpacingMargin;
  tolerance_ = interval_ * std::max(options_.burst - 1, 0);
  // Each replica's share, as whole requests per 1-second window when it is at least one (so that
  // the replicas' windows add up to at most the account's), else one request per replicas ÷ rps.
  const double share = rps / replicas;
  fallback_interval_ = (share >= 1 ? Spacing(std::floor(share)) : Spacing(share)) + kSpacingMargin;
  // The budget may be made on another thread than the loop's (a client is built in main): it
  // touches the Redis client from the loop only.
  std::weak_ptr<RedisBudget*> alive = alive_;
  loop_->Post([alive] {
    std::shared_ptr<RedisBudget*> self = alive.lock();
    if (!self) return;
    (*self)->client_->OnConnectionChange([alive](bool up) {
      if (std::shared_ptr<RedisBudget*> locked = alive.lock()) (*locked)->OnConnection(up);
    });
    if ((*self)->client_->connected()) (*self)->StartHandover();
  });
}

RedisBudget::~RedisBudget() = default;

std::string RedisBudget::KeyName(absl::string_view suffix) const {
  return absl::StrCat("kommo:{", options_.account, "}:", suffix);
}

void RedisBudget::CountError(const char* operation) {
  if (options_.metrics != nullptr) {
    options_.metrics->redis_errors->Increment({{"operation", operation}});
  }
}

RedisBudget::Ticket RedisBudget::Acquire(absl::Time deadline, bool priority, Granted granted) {
  const Ticket ticket = next_ticket_++;
  const Key key{priority ? 0 : 1, ticket};
  Waiter& waiter = waiters_[key];
  waiter.deadline = deadline;
  waiter.granted = std::move(granted);
  keys_[ticket] = key;
  ArmDeadline(ticket, waiter);
  // A read-back does not wait for a normal request's next try.
  if (priority && retry_timer_ != nullptr) retry_timer_.reset();
  Pump();
  return ticket;
}

void RedisBudget::ArmDeadline(Ticket ticket, Waiter& waiter) {
  if (waiter.deadline == absl::InfiniteFuture()) {
    waiter.deadline_timer.reset();
    return;
  }
  waiter.deadline_timer = loop_->RunAt(waiter.deadline, [this, ticket] {
    auto key = keys_.find(ticket);
    if (key == keys_.end()) return;
    auto it = waiters_.find(key->second);
    it->second.deadline_timer.reset();
    Refuse(it, Late(loop_->Now()));
    Pump();
  });
}

void RedisBudget::Cancel(Ticket ticket) {
  auto key = keys_.find(ticket);
  if (key == keys_.end()) return;
  waiters_.erase(key->second);
  keys_.erase(key);
  // Its slot, if it had one, now belongs to the next waiter (the k-th waiter has the k-th slot).
  Pump();
}

void RedisBudget::ExtendDeadline(Ticket ticket, absl::Time deadline) {
  auto key = keys_.find(ticket);
  if (key == keys_.end()) return;
  Waiter& waiter = waiters_[key->second];
  if (deadline <= waiter.deadline) return;
  waiter.deadline = deadline;
  ArmDeadline(ticket, waiter);
}

absl::Status RedisBudget::Late(absl::Time slot) const {
  absl::Status status =
      MakeError(absl::StatusCode::kResourceExhausted,
                absl::StrCat("Kommo's rate limit (", options_.requests_per_second,
                             " requests/s, shared by every replica) cannot admit this call before "
                             "its deadline; Kommo was not called"),
                reason::kRateLimitQueueTimeout,
                {{"requests_per_second", absl::StrCat(options_.requests_per_second)},
                 {"budget", mode_ == Mode::kShared ? "shared" : "fallback"}});
  SetRetryDelay(status, std::max(slot - loop_->Now(), absl::ZeroDuration()));
  return status;
}

absl::Status RedisBudget::BlockedStatus(absl::Time until) const {
  absl::Status status =
      MakeError(absl::StatusCode::kUnavailable,
                "Kommo is blocking this account's API access (HTML 403 seen by a replica); calls "
                "fail fast until a probe gets through. The request was not sent",
                reason::kKommoAccountBlocked, {{"circuit", "open"}});
  SetRetryDelay(status, std::max(until - loop_->Now(), absl::Seconds(1)));
  return status;
}

void RedisBudget::Refuse(std::map<Key, Waiter>::iterator it, absl::Status status) {
  Granted granted = std::move(it->second.granted);
  keys_.erase(it->first.ticket);
  waiters_.erase(it);
  loop_->Post([granted = std::move(granted), status = std::move(status)]() mutable {
    granted(std::move(status));
  });
}

void RedisBudget::RefuseLate() {
  const absl::Time now = loop_->Now();
  bool again = true;
  while (again) {
    again = false;
    size_t index = 0;
    for (auto it = waiters_.begin(); it != waiters_.end(); ++it, ++index) {
      absl::Time earliest;
      if (index < slots_.size()) {
        earliest = slots_[index];
      } else {
        const int64_t behind = static_cast<int64_t>(index - slots_.size());
        switch (mode_) {
          case Mode::kFallback:
            earliest = std::max({now, fallback_tat_, fallback_not_before_, local_pause_until_}) +
                       fallback_interval_ * behind;
            break;
          case Mode::kHandover:
            earliest = std::max(now, handover_until_) + interval_ * behind;
            break;
          case Mode::kShared:
            earliest = std::max(now, shared_earliest_) + interval_ * behind;
            break;
        }
      }
      if (earliest > it->second.deadline) {
        Refuse(it, Late(earliest));
        again = true;
        break;
      }
    }
  }
}

void RedisBudget::Pump() {
  RefuseLate();
  const bool unslotted = waiters_.size() > slots_.size();
  switch (mode_) {
    case Mode::kShared:
      if (unslotted && !asking_ && retry_timer_ == nullptr) Ask();
      break;
    case Mode::kFallback:
      ArmFallbackTimer();
      break;
    case Mode::kHandover:
      break;
  }
  ArmSlotTimer();
}

void RedisBudget::Ask() {
  auto first = waiters_.begin();
  std::advance(first, static_cast<long>(slots_.size()));
  const bool priority = first->first.rank == 0;
  const absl::Time now = loop_->Now();
  asked_horizon_ = priority ? kPriorityHorizon : interval_ * kNormalHorizonIntervals;
  const absl::Duration latest = first->second.deadline == absl::InfiniteFuture()
                                    ? absl::Hours(24)
                                    : first->second.deadline - now;
  asking_ = true;
  asked_ticket_ = first->first.ticket;
  std::weak_ptr<RedisBudget*> alive = alive_;
  client_->Eval(
      take_, {KeyName("tat"), KeyName("pause"), KeyName("circuit"), KeyName("handover")},
      {Micros(interval_), Micros(tolerance_), Micros(asked_horizon_), Micros(latest)},
      [alive](absl::StatusOr<Reply> reply) {
        if (std::shared_ptr<RedisBudget*> self = alive.lock()) {
          (*self)->OnTakeReply(std::move(reply));
        }
      },
      options_.timeout);
}

void RedisBudget::OnTakeReply(absl::StatusOr<Reply> reply) {
  asking_ = false;
  if (reply.ok() && (reply->type != Reply::Type::kArray || reply->elements.size() != 2 ||
                     reply->elements[0].type != Reply::Type::kInteger ||
                     reply->elements[1].type != Reply::Type::kInteger)) {
    reply = absl::InternalError("unexpected reply from the rate budget script");
  }
  if (!reply.ok()) {
    CountError("take");
    EnterFallback(reply.status().message());
    Pump();
    return;
  }
  const absl::Time now = loop_->Now();
  const int64_t code = reply->elements[0].integer;
  const absl::Duration wait = absl::Microseconds(std::max<int64_t>(0, reply->elements[1].integer));
  switch (code) {
    case 0: {
      // The reply left Redis `wait` before the slot; counting from its arrival is later, never
      // earlier.
      const absl::Time slot = now + wait;
      slots_.insert(std::upper_bound(slots_.begin(), slots_.end(), slot), slot);
      shared_earliest_ = std::max(shared_earliest_, slot);
      break;
    }
    case 1: {
      shared_earliest_ = now + wait;
      std::weak_ptr<RedisBudget*> alive = alive_;
      retry_timer_ =
          loop_->RunAt(now + std::max(wait - asked_horizon_, absl::Milliseconds(1)), [alive] {
            if (std::shared_ptr<RedisBudget*> self = alive.lock()) {
              (*self)->retry_timer_.reset();
              (*self)->Pump();
            }
          });
      break;
    }
    case 2: {
      const absl::Time until = now + wait;
      if (blocked_listener_) blocked_listener_(until);
      // Every request here without a slot fails fast; those with one meet the open circuit when
      // they are sent.
      while (waiters_.size() > slots_.size()) {
        auto last = std::prev(waiters_.end());
        Refuse(last, BlockedStatus(until));
      }
      break;
    }
    case 3: {
      // The request asked for cannot make it, if it is still waiting without a slot (a read-back
      // that came meanwhile may have gone ahead of it: it is asked for next).
      auto key = keys_.find(asked_ticket_);
      if (key != keys_.end()) {
        auto it = waiters_.find(key->second);
        if (static_cast<size_t>(std::distance(waiters_.begin(), it)) >= slots_.size()) {
          Refuse(it, Late(now + wait));
        }
      }
      break;
    }
    default:
      CountError("take");
      break;
  }
  Pump();
}

void RedisBudget::ArmSlotTimer() {
  if (slots_.empty()) {
    slot_timer_.reset();
    return;
  }
  if (slot_timer_ != nullptr && slot_timer_at_ == slots_.front()) return;
  slot_timer_at_ = slots_.front();
  slot_timer_ = loop_->RunAt(slot_timer_at_, [this] { OnSlotTimer(); });
}

void RedisBudget::OnSlotTimer() {
  slot_timer_.reset();
  const absl::Time now = loop_->Now();
  while (!slots_.empty() && slots_.front() <= now) {
    slots_.pop_front();
    // A slot nobody waits for any more is lost (see the header).
    if (!waiters_.empty()) Grant("shared");
  }
  Pump();
}

void RedisBudget::ArmFallbackTimer() {
  if (waiters_.size() <= slots_.size()) {
    fallback_timer_.reset();
    return;
  }
  const absl::Time at =
      std::max({loop_->Now(), fallback_tat_, fallback_not_before_, local_pause_until_});
  if (fallback_timer_ != nullptr && fallback_timer_at_ == at) return;
  fallback_timer_at_ = at;
  fallback_timer_ = loop_->RunAt(at, [this] { OnFallbackTimer(); });
}

void RedisBudget::OnFallbackTimer() {
  fallback_timer_.reset();
  const absl::Time now = loop_->Now();
  if (mode_ == Mode::kFallback && waiters_.size() > slots_.size() &&
      now >= std::max({fallback_tat_, fallback_not_before_, local_pause_until_})) {
    fallback_tat_ = now + fallback_interval_;
    sent_under_fallback_ = true;
    if (!reported_fallback_) {
      reported_fallback_ = true;
      log::Warning("rate budget: Redis unavailable, sending under this replica's share",
                   {{"account", options_.account},
                    {"requests_per_second", absl::ToDoubleSeconds(absl::Seconds(1)) /
                                                absl::ToDoubleSeconds(fallback_interval_)},
                    {"fallback_replicas", options_.fallback_replicas}});
    }
    Grant("fallback");
  }
  Pump();
}

void RedisBudget::Grant(const char* source) {
  auto it = waiters_.begin();
  Granted granted = std::move(it->second.granted);
  keys_.erase(it->first.ticket);
  waiters_.erase(it);
  if (options_.metrics != nullptr)
    options_.metrics->budget_requests->Increment(
        {{"account", options_.account}, {"source", source}});
  granted(absl::OkStatus());
}

void RedisBudget::OnConnection(bool up) {
  if (up) {
    StartHandover();
  } else {
    EnterFallback("Redis connection lost");
    Pump();
  }
}

void RedisBudget::EnterFallback(absl::string_view why) {
  if (mode_ != Mode::kFallback) {
    const absl::Time now = loop_->Now();
    mode_ = Mode::kFallback;
    handover_timer_.reset();
    retry_timer_.reset();
    // Whether or not this replica sends under its share, others may: the handover is needed.
    sent_under_fallback_ = true;
    // Reservations made before the loss reach at most kPriorityHorizon ahead; one more second
    // keeps every 1-second window either shared or local.
    fallback_not_before_ =
        std::max(fallback_not_before_, now + kPriorityHorizon + absl::Seconds(1));
    reported_fallback_ = true;
    log::Warning("rate budget: Redis unavailable, falling back to this replica's share",
                 {{"account", options_.account},
                  {"reason", std::string(why)},
                  {"requests_per_second", 1.0 / absl::ToDoubleSeconds(fallback_interval_)},
                  {"fallback_replicas", options_.fallback_replicas},
                  {"first_local_slot_in_s", absl::ToDoubleSeconds(fallback_not_before_ - now)}});
  }
  // Redis answered but failed (the connection stays): try the shared budget again in a second.
  if (client_->connected() && rejoin_timer_ == nullptr) {
    std::weak_ptr<RedisBudget*> alive = alive_;
    rejoin_timer_ = loop_->RunAt(loop_->Now() + absl::Seconds(1), [alive] {
      if (std::shared_ptr<RedisBudget*> self = alive.lock()) {
        (*self)->rejoin_timer_.reset();
        if ((*self)->client_->connected()) (*self)->StartHandover();
      }
    });
  }
}

void RedisBudget::StartHandover() {
  if (mode_ == Mode::kShared || handover_asked_) return;
  handover_asked_ = true;
  std::weak_ptr<RedisBudget*> alive = alive_;
  client_->Eval(
      handover_, {KeyName("handover")},
      {Micros(options_.handover_delay), sent_under_fallback_ ? "1" : "0"},
      [alive](absl::StatusOr<Reply> reply) {
        std::shared_ptr<RedisBudget*> locked = alive.lock();
        if (!locked) return;
        RedisBudget* self = *locked;
        self->handover_asked_ = false;
        if (!reply.ok() || reply->type != Reply::Type::kInteger) {
          self->CountError("handover");
          self->EnterFallback(reply.ok() ? "unexpected handover reply" : reply.status().message());
          self->Pump();
          return;
        }
        if (self->mode_ == Mode::kShared) return;
        const absl::Duration left = absl::Microseconds(std::max<int64_t>(0, reply->integer));
        auto shared = [self] {
          self->handover_timer_.reset();
          self->mode_ = Mode::kShared;
          self->sent_under_fallback_ = false;
          self->fallback_timer_.reset();
          if (self->reported_fallback_) {
            self->reported_fallback_ = false;
            log::Info("rate budget: shared through Redis again",
                      {{"account", self->options_.account}});
          }
          self->Pump();
        };
        if (left <= absl::ZeroDuration()) {
          shared();
          return;
        }
        // No more requests under the fallback budget; the shared one starts at the handover.
        self->mode_ = Mode::kHandover;
        self->fallback_timer_.reset();
        self->handover_until_ = self->loop_->Now() + left;
        self->handover_timer_ = self->loop_->RunAt(self->handover_until_, shared);
        self->Pump();
      },
      options_.timeout);
}

void RedisBudget::Extend(const std::string& key, absl::Duration duration, const char* operation) {
  if (!client_->connected() || duration <= absl::ZeroDuration()) return;
  std::weak_ptr<RedisBudget*> alive = alive_;
  client_->Eval(
      extend_, {key}, {Micros(duration)},
      [alive, operation](absl::StatusOr<Reply> reply) {
        std::shared_ptr<RedisBudget*> self = alive.lock();
        if (self && !reply.ok()) (*self)->CountError(operation);
      },
      options_.timeout);
}

void RedisBudget::OnRateLimited(absl::Time until) {
  local_pause_until_ = std::max(local_pause_until_, until);
  Extend(KeyName("pause"), until - loop_->Now(), "pause");
  Pump();
}

void RedisBudget::OnBlocked(absl::Time until) {
  Extend(KeyName("circuit"), until - loop_->Now(), "block");
}

void RedisBudget::OnUnblocked() {
  if (!client_->connected()) return;
  std::weak_ptr<RedisBudget*> alive = alive_;
  client_->Command(
      {"DEL", KeyName("circuit")},
      [alive](absl::StatusOr<Reply> reply) {
        std::shared_ptr<RedisBudget*> self = alive.lock();
        if (self && !reply.ok()) (*self)->CountError("unblock");
      },
      options_.timeout);
}

void RedisBudget::SetBlockedListener(absl::AnyInvocable<void(absl::Time until)> listener) {
  blocked_listener_ = std::move(listener);
}

}  // namespace kommo::redis
