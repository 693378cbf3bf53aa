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
  uint64_t generation = 0;
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
    if (options_.shared != nullptr) {
      shared_mode_ = true;
      redis_ok_at_ = loop_->Now();
      log::Info("change stream: shared through Redis; the replica holding the lease polls",
                {{"replica", options_.shared->replica_id()},
                 {"lease_ms", static_cast<long long>(absl::ToInt64Milliseconds(options_.lease))}});
      Sync();
      Lead();
    } else {
      StartLocal(options_.epoch);
    }
  }
  if (first_done_) {
    started(absl::OkStatus());
  } else {
    waiting_for_first_.push_back(std::move(started));
  }
  return id;
}

void WatchHub::Unsubscribe(WatcherId id) { watchers_.erase(id); }

void WatchHub::StartLocal(uint64_t epoch) {
  history_ = std::make_unique<ChangeHistory>(epoch, options_.history_size,
                                             started_at_ - Seconds(lookback_));
  mirror_ = false;
  seen_.clear();
  seen_by_time_.clear();
  log::Info(
      "change stream: polling Kommo's events",
      {{"interval_ms", static_cast<long long>(absl::ToInt64Milliseconds(options_.poll_interval))},
       {"lookback_s", static_cast<long long>(Seconds(lookback_))}});
  StartPoll();
}

void WatchHub::Shutdown() {
  closing_ = true;
  timer_.reset();
  sync_timer_.reset();
  lease_timer_.reset();
  // The next replica takes over at once instead of after the lease.
  if (leading_ && options_.shared != nullptr) options_.shared->Release();
  leading_ = false;
  *alive_ = false;  // a poll under way appends nothing
  ReleaseWaiting(MakeError(absl::StatusCode::kUnavailable,
                           "the server is shutting down: resume from the last resume_token",
                           reason::kServerShuttingDown));
  NotifyAll();
}

void WatchHub::PollSoon() {
  if (!running_ || closing_) return;
  if (shared_mode_ && !leading_) return;  // the leader polls
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
  poll->generation = generation_;
  poll->started_at = options_.wall_seconds();
  if (shared_mode_ && !mirror_) {
    // Nobody appended yet: the first window, which the first append makes the stream's start.
    poll->from = started_at_ - Seconds(lookback_);
  } else if (shared_mode_) {
    poll->from =
        std::max(history_->watermark() - Seconds(options_.overlap), history_->covered_from());
  } else {
    poll->from = std::max(history_->watermark() - Seconds(options_.overlap),
                          started_at_ - Seconds(lookback_));
  }
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
        if (!*alive || poll->generation != generation_) return;
        if (!page.ok()) return FinishPoll(std::move(poll), page.status());
        for (mapping::KommoEvent& event : page->events) {
          if (event.created_at < poll->from) continue;  // outside the window asked for
          if (!shared_mode_ && seen_.count(event.id) > 0) continue;
          if (poll->fresh_ids.count(event.id) > 0) continue;
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
  if (shared_mode_) {
    if (!mirror_ && lookback_ > absl::Minutes(1)) {
      lookback_ = lookback_ / 2;
      log::Warning("change stream: too many events to read back at start; reading less history",
                   {{"lookback_s", static_cast<long long>(Seconds(lookback_))}});
      polling_ = true;
      StartPoll();
      return;
    }
    log::Error(
        "change stream: more events since the last poll than a poll reads; streams must "
        "re-list",
        {{"pages", static_cast<long long>(poll->page)}});
    polling_ = true;
    const int64_t until = poll->started_at - Seconds(options_.settle);
    CommitShared(std::move(poll), until, 0);
    return;
  }
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
    if (!first_done_ && !shared_mode_) ReleaseWaiting(status);
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
  if (shared_mode_) {
    polling_ = true;  // until the append is answered
    CommitShared(std::move(poll), std::nullopt, 0);
    return;
  }
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
  changed = MoveWatermark(poll->started_at - Seconds(options_.settle)) || changed;
  if (changed) NotifyAll();
  if (poll_again_) {
    poll_again_ = false;
    PollSoon();
    return;
  }
  ScheduleNext();
}

void WatchHub::ForgetSeenBefore(int64_t horizon) {
  while (!seen_by_time_.empty() && seen_by_time_.begin()->first < horizon) {
    seen_.erase(seen_by_time_.begin()->second);
    seen_by_time_.erase(seen_by_time_.begin());
  }
}

void WatchHub::ReleaseWaiting(const absl::Status& status) {
  std::vector<absl::AnyInvocable<void(absl::Status)>> waiting = std::move(waiting_for_first_);
  waiting_for_first_.clear();
  for (auto& started : waiting) started(status);
}

bool WatchHub::MoveWatermark(int64_t watermark) {
  const int64_t before = history_->watermark();
  history_->AdvanceWatermark(watermark);
  // Forget the ids no later poll reads again.
  ForgetSeenBefore(history_->watermark() - Seconds(options_.overlap) - 1);
  if (!first_done_) {
    first_done_ = true;
    ReleaseWaiting(absl::OkStatus());
  }
  return history_->watermark() != before;
}

void WatchHub::ScheduleNext() {
  if (closing_ || (shared_mode_ && !leading_)) return;
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

// ---- The history shared through Redis ----------------------------------------------------------

namespace {
// Entries read per request of the mirror.
constexpr size_t kReadBatch = 1000;
}  // namespace

void WatchHub::Sync() {
  if (closing_) return;
  if (syncing_) {
    sync_again_ = true;
    return;
  }
  syncing_ = true;
  sync_again_ = false;
  sync_timer_.reset();
  const uint64_t after = (shared_mode_ && mirror_) ? history_->last_seq() : 0;
  options_.shared->Read(after, kReadBatch,
                        [this, alive = alive_](absl::StatusOr<SharedHistory::Snapshot> snapshot) {
                          if (!*alive) return;
                          syncing_ = false;
                          Synced(std::move(snapshot));
                        });
}

void WatchHub::ScheduleSync() {
  if (closing_) return;
  if (sync_again_) return Sync();
  sync_timer_ = loop_->RunAt(loop_->Now() + options_.shared_read_interval, [this] {
    sync_timer_.reset();
    Sync();
  });
}

void WatchHub::Synced(absl::StatusOr<SharedHistory::Snapshot> snapshot) {
  if (closing_) return;
  if (!snapshot.ok()) {
    if (shared_mode_ && loop_->Now() - redis_ok_at_ >= options_.lease) {
      SwitchToLocal(snapshot.status());
    }
    return ScheduleSync();
  }
  redis_ok_at_ = loop_->Now();
  if (!shared_mode_) {
    // Redis answers again: mirror the stream (read from its start below), and lead if free.
    log::Info("change stream: Redis answers again; mirroring the shared history");
    shared_mode_ = true;
    mirror_ = false;
    ++generation_;
    timer_.reset();
    polling_ = false;
    poll_again_ = false;
    return Sync();
  }
  bool changed = false;
  if (!snapshot->initialized) {
    // Nobody appended yet (or Redis lost its data): the leader's first poll starts it.
    if (mirror_) {
      mirror_ = false;
      log::Warning("change stream: the shared history is gone from Redis; it starts again");
    }
  } else {
    if (!mirror_ || history_->epoch() != snapshot->epoch) {
      // A first read, or Redis's history was replaced: streams on the old history end and resume
      // by their tokens' keys.
      history_ = std::make_unique<ChangeHistory>(snapshot->epoch, options_.history_size,
                                                 snapshot->covered_from);
      mirror_ = true;
      changed = true;
      seen_.clear();
      seen_by_time_.clear();
    }
    for (SharedEntry& entry : snapshot->entries) {
      if (entry.seq <= history_->last_seq()) continue;
      if (entry.seq != history_->last_seq() + 1) {
        // Trimmed from the stream before this replica read them.
        history_->SkipTo(entry.seq, entry.gap ? EventKey{entry.gap_until, ""} : entry.change.key());
      }
      if (entry.gap) {
        history_->MarkGap(entry.gap_until);
      } else {
        // What the leader deduplicates its next polls against (whoever leads then).
        seen_.insert(entry.change.event.id);
        seen_by_time_.emplace(entry.change.event.created_at, entry.change.event.id);
        std::vector<Change> one;
        one.push_back(std::move(entry.change));
        history_->Append(std::move(one));
      }
      changed = true;
    }
    changed = MoveWatermark(snapshot->watermark) || changed;
  }
  if (changed) NotifyAll();
  if (poll_after_sync_ && leading_ && !polling_) {
    poll_after_sync_ = false;
    StartPoll();
  }
  if (after_sync_) {
    absl::AnyInvocable<void()> next = std::move(after_sync_);
    after_sync_ = nullptr;
    next();
  }
  if (snapshot->initialized && snapshot->entries.size() == kReadBatch) return Sync();
  ScheduleSync();
}

void WatchHub::Lead() {
  if (closing_) return;
  lease_timer_ = loop_->RunAt(loop_->Now() + options_.lease / 3, [this] { Lead(); });
  if (!shared_mode_) return;
  options_.shared->Lead([this, alive = alive_](absl::StatusOr<bool> held) {
    if (!*alive || closing_ || !shared_mode_) return;
    if (!held.ok()) {
      // Without renewal the lease runs out: another replica may lead by then.
      if (leading_ && loop_->Now() - lead_ok_at_ >= options_.lease) StopLeading();
      return;
    }
    if (*held) lead_ok_at_ = loop_->Now();
    if (*held && !leading_) {
      leading_ = true;
      log::Info("change stream: this replica holds the lease and polls Kommo's events",
                {{"replica", options_.shared->replica_id()}});
      if (polling_) return;
      if (mirror_) {
        StartPoll();
      } else {
        poll_after_sync_ = true;  // the first poll after the mirror caught up
        Sync();
      }
    } else if (!*held && leading_) {
      StopLeading();
    }
  });
}

void WatchHub::StopLeading() {
  log::Warning("change stream: this replica lost the lease; another one polls");
  leading_ = false;
  ++generation_;
  timer_.reset();
  polling_ = false;
  poll_again_ = false;
  poll_after_sync_ = false;
  after_sync_ = nullptr;
}

void WatchHub::CommitShared(std::shared_ptr<Poll> poll, std::optional<int64_t> gap_until,
                            int attempt) {
  // What the stream already holds from the window (its mirror is up to date, or the append
  // is refused as stale and this runs again after a read).
  std::vector<SharedEntry> entries;
  for (const mapping::KommoEvent& event : poll->fresh) {
    if (mirror_ && seen_.count(event.id) > 0) continue;
    const v1::ChangeKind kind = mapping::ChangeKindOf(event.type);
    if (kind == v1::CHANGE_KIND_UNSPECIFIED) continue;
    if (event.entity_type != "lead" && event.entity_type != "contact") continue;
    SharedEntry entry;
    entry.change.kind = kind;
    entry.change.event = event;
    entries.push_back(std::move(entry));
  }
  int64_t watermark = poll->started_at - Seconds(options_.settle);
  if (gap_until.has_value()) {
    entries.clear();
    SharedEntry gap;
    gap.gap = true;
    gap.gap_until = *gap_until;
    entries.push_back(gap);
    watermark = *gap_until;
  }
  const uint64_t expected = mirror_ ? history_->last_seq() : 0;
  // The epoch, when this append starts the shared history: never one a local history had.
  options_.shared->Append(
      expected, RandomEpoch(), started_at_ - Seconds(lookback_), watermark, entries,
      [this, alive = alive_, poll, gap_until,
       attempt](absl::StatusOr<SharedHistory::Appended> appended) mutable {
        if (!*alive || closing_ || poll->generation != generation_) return;
        if (appended.ok() && appended->refusal == SharedHistory::Refusal::kStale && attempt < 3) {
          // Another leader appended meanwhile (or the mirror lags): read, then try again.
          after_sync_ = [this, poll, gap_until, attempt]() mutable {
            if (poll->generation == generation_) CommitShared(poll, gap_until, attempt + 1);
          };
          return Sync();
        }
        if (appended.ok() && appended->refusal == SharedHistory::Refusal::kNotLeader) {
          return StopLeading();
        }
        if (!appended.ok() || appended->refusal != SharedHistory::Refusal::kNone) {
          ++failed_polls_;
          log::Warning(
              "change stream: the changes read could not be added to the shared history; the "
              "next poll reads them again",
              {{"code",
                appended.ok() ? "STALE" : absl::StatusCodeToString(appended.status().code())}});
        }
        AfterCommit();
      });
}

void WatchHub::AfterCommit() {
  polling_ = false;
  Sync();  // the mirror gets what was appended
  if (poll_again_) {
    poll_again_ = false;
    PollSoon();
    return;
  }
  ScheduleNext();
}

void WatchHub::SwitchToLocal(const absl::Status& why) {
  log::Warning(
      "change stream: Redis unavailable; this replica polls Kommo's events itself, with a "
      "history of its own, until Redis answers again",
      {{"code", absl::StatusCodeToString(why.code())}});
  shared_mode_ = false;
  leading_ = false;
  ++generation_;
  timer_.reset();
  polling_ = false;
  poll_again_ = false;
  poll_after_sync_ = false;
  after_sync_ = nullptr;
  started_at_ = options_.wall_seconds();
  lookback_ = options_.lookback;
  // A history of its own: an epoch of its own, so tokens of the shared one resume by key.
  // Watchers waiting for the shared history get the local one's first poll instead.
  StartLocal(RandomEpoch());
  NotifyAll();
}

}  // namespace kommo::watch
