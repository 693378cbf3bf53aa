#include "server/watch/watch_hub.h"

#include <algorithm>
#include <random>
#include <utility>

#include "server/common/error_details.h"
#include "server/common/log.h"
#include "server/mapping/event_json.h"

namespace kommo::watch {
namespace {

uint64_t RandomEpoch() {
  std::random_device device;
  uint64_t epoch = 0;
  while (epoch == 0) epoch = (uint64_t{device()} << 32) ^ device();
  return epoch;
}

int64_t Seconds(absl::Duration duration) { return absl::ToInt64Seconds(duration); }

}  // namespace

// One poll: the window it reads and the new events gathered page by page.
struct WatchHub::Poll {
  int64_t started_at = 0;  // wall seconds when the poll began
  int64_t from = 0;        // filter[created_at][from]
  int64_t page = 1;
  std::vector<mapping::KommoEvent> fresh;
  std::set<std::string> fresh_ids;
};

WatchHub::WatchHub(rest::KommoClient* client, EventLoop* loop, WatchOptions options)
    : client_(client),
      loop_(loop),
      options_(std::move(options)),
      alive_(std::make_shared<bool>(true)) {
  if (!options_.wall_seconds) {
    options_.wall_seconds = [] { return absl::ToUnixSeconds(absl::Now()); };
  }
  if (options_.epoch == 0) options_.epoch = RandomEpoch();
  if (options_.max_pages_per_poll < 1) options_.max_pages_per_poll = 1;
}

WatchHub::~WatchHub() { *alive_ = false; }

WatchHub::WatcherId WatchHub::Subscribe(absl::AnyInvocable<void()> notify,
                                        absl::AnyInvocable<void(absl::Status)> started) {
  const WatcherId id = next_id_++;
  if (closing_) {
    started(MakeError(absl::StatusCode::kUnavailable,
                      "the server is shutting down: resume from the last resume_token",
                      reason::kServerShuttingDown));
    return id;
  }
  watchers_.emplace(id, std::move(notify));
  if (!running_) {
    running_ = true;
    started_at_ = options_.wall_seconds();
    lookback_ = options_.lookback;
    history_ = std::make_unique<ChangeHistory>(options_.epoch, options_.history_size,
                                               started_at_ - Seconds(lookback_));
    log::Info(
        "change stream: polling Kommo's events",
        {{"interval_ms", static_cast<long long>(absl::ToInt64Milliseconds(options_.poll_interval))},
         {"lookback_s", static_cast<long long>(Seconds(options_.lookback))}});
    StartPoll();
  }
  if (first_done_) {
    started(absl::OkStatus());
  } else {
    waiting_for_first_.push_back(std::move(started));
  }
  return id;
}

void WatchHub::Unsubscribe(WatcherId id) { watchers_.erase(id); }

void WatchHub::Shutdown() {
  closing_ = true;
  timer_.reset();
  *alive_ = false;  // a poll under way appends nothing
  ReleaseWaiting(MakeError(absl::StatusCode::kUnavailable,
                           "the server is shutting down: resume from the last resume_token",
                           reason::kServerShuttingDown));
  NotifyAll();
}

void WatchHub::PollSoon() {
  if (!running_ || closing_) return;
  if (polling_) {
    poll_again_ = true;
    return;
  }
  const absl::Time when = std::max(loop_->Now(), last_poll_ + options_.min_poll_gap);
  timer_ = loop_->RunAt(when, [this] {
    timer_.reset();
    StartPoll();
  });
}

void WatchHub::StartPoll() {
  polling_ = true;
  last_poll_ = loop_->Now();
  poll_again_ = false;
  auto poll = std::make_shared<Poll>();
  poll->started_at = options_.wall_seconds();
  poll->from =
      std::max(history_->watermark() - Seconds(options_.overlap), started_at_ - Seconds(lookback_));
  ReadPage(std::move(poll));
}

void WatchHub::ReadPage(std::shared_ptr<Poll> poll) {
  rest::EventsQuery query;
  query.entities = {"lead", "contact"};
  query.created_from = poll->from;
  query.page = poll->page;
  rest::CallOptions call;
  call.deadline = loop_->Now() + std::max(options_.poll_interval * 4, absl::Seconds(30));
  client_->ListEvents(
      query, std::move(call),
      [this, alive = alive_, poll](absl::StatusOr<mapping::EventPage> page) mutable {
        // The client answers on its loop, which is this hub's.
        if (!*alive) return;
        if (!page.ok()) return FinishPoll(std::move(poll), page.status());
        for (mapping::KommoEvent& event : page->events) {
          if (event.created_at < poll->from) continue;  // outside the window asked for
          if (seen_.count(event.id) > 0 || poll->fresh_ids.count(event.id) > 0) continue;
          poll->fresh_ids.insert(event.id);
          poll->fresh.push_back(std::move(event));
        }
        if (page->has_next && poll->page < options_.max_pages_per_poll) {
          ++poll->page;
          return ReadPage(std::move(poll));
        }
        if (page->has_next) return TooManyEvents(std::move(poll));
        FinishPoll(std::move(poll), absl::OkStatus());
      });
}

void WatchHub::TooManyEvents(std::shared_ptr<Poll> poll) {
  ++polls_;
  ++failed_polls_;
  polling_ = false;
  if (!first_done_ && lookback_ > absl::Minutes(1)) {
    // The first poll's window holds more events than one poll reads: start from later.
    lookback_ = lookback_ / 2;
    history_ = std::make_unique<ChangeHistory>(options_.epoch, options_.history_size,
                                               started_at_ - Seconds(lookback_));
    log::Warning("change stream: too many events to read back at start; reading less history",
                 {{"lookback_s", static_cast<long long>(Seconds(lookback_))}});
    StartPoll();
    return;
  }
  // More events since the watermark than a poll reads (Kommo was unreachable for long on a busy
  // account): reading the same growing window again would never end. The window becomes a gap:
  // every stream and older token is OUT_OF_RANGE (re-list, then watch from a fresh token), and
  // polling goes on from the poll's start.
  log::Error(
      "change stream: more events since the last poll than a poll reads; streams must "
      "re-list",
      {{"pages", static_cast<long long>(poll->page)}});
  history_->MarkGap(poll->started_at - Seconds(options_.settle));
  seen_.clear();
  seen_by_time_.clear();
  if (!first_done_) {
    first_done_ = true;
    ReleaseWaiting(absl::OkStatus());
  }
  NotifyAll();
  ScheduleNext();
}

void WatchHub::FinishPoll(std::shared_ptr<Poll> poll, const absl::Status& status) {
  ++polls_;
  polling_ = false;
  if (!status.ok()) {
    ++failed_polls_;
    log::Warning("change stream: reading Kommo's events failed; retrying at the next poll",
                 {{"code", absl::StatusCodeToString(status.code())}});
    if (!first_done_) ReleaseWaiting(status);
    if (poll_again_) {
      poll_again_ = false;
      PollSoon();
    } else {
      ScheduleNext();
    }
    return;
  }
  std::sort(poll->fresh.begin(), poll->fresh.end(),
            [](const mapping::KommoEvent& a, const mapping::KommoEvent& b) {
              return KeyAfter({b.created_at, b.id}, {a.created_at, a.id});
            });
  std::vector<Change> changes;
  for (mapping::KommoEvent& event : poll->fresh) {
    seen_.insert(event.id);
    seen_by_time_.emplace(event.created_at, event.id);
    const v1::ChangeKind kind = mapping::ChangeKindOf(event.type);
    if (kind == v1::CHANGE_KIND_UNSPECIFIED) continue;
    if (event.entity_type != "lead" && event.entity_type != "contact") continue;
    Change change;
    change.kind = kind;
    change.event = std::move(event);
    changes.push_back(std::move(change));
  }
  bool changed = !changes.empty();
  if (changed) history_->Append(std::move(changes));
  const int64_t before = history_->watermark();
  history_->AdvanceWatermark(poll->started_at - Seconds(options_.settle));
  changed = changed || history_->watermark() != before;
  // Forget the ids no later poll reads again.
  const int64_t horizon = history_->watermark() - Seconds(options_.overlap) - 1;
  while (!seen_by_time_.empty() && seen_by_time_.begin()->first < horizon) {
    seen_.erase(seen_by_time_.begin()->second);
    seen_by_time_.erase(seen_by_time_.begin());
  }
  if (!first_done_) {
    first_done_ = true;
    ReleaseWaiting(absl::OkStatus());
  }
  if (changed) NotifyAll();
  if (poll_again_) {
    poll_again_ = false;
    PollSoon();
    return;
  }
  ScheduleNext();
}

void WatchHub::ReleaseWaiting(const absl::Status& status) {
  std::vector<absl::AnyInvocable<void(absl::Status)>> waiting = std::move(waiting_for_first_);
  waiting_for_first_.clear();
  for (auto& started : waiting) started(status);
}

void WatchHub::ScheduleNext() {
  if (closing_) return;
  timer_ = loop_->RunAt(loop_->Now() + options_.poll_interval, [this] {
    timer_.reset();
    StartPoll();
  });
}

void WatchHub::NotifyAll() {
  // A watcher may unsubscribe (or subscribe another) while being notified.
  std::vector<WatcherId> ids;
  ids.reserve(watchers_.size());
  for (const auto& [id, notify] : watchers_) ids.push_back(id);
  for (WatcherId id : ids) {
    auto it = watchers_.find(id);
    if (it != watchers_.end()) it->second();
  }
}

}  // namespace kommo::watch
