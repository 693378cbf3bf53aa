#ifndef KOMMO_SERVER_WATCH_WATCH_HUB_H_
#define KOMMO_SERVER_WATCH_WATCH_HUB_H_

// One account's change stream source (design.md §12): a single poller of Kommo's events API for
// every watcher, filling one ChangeHistory that all streams read. Loop thread only.
//
// The poller starts with the first watcher and then keeps polling, so that a watcher that
// reconnects finds the changes it missed. When it starts it reads the events of the last
// `lookback`, so a resume token issued before a restart still resumes. Each poll asks for the
// events created from `overlap` before the watermark on, in as many pages as it takes (each page
// one rate-limited Kommo request), drops the ones it has already seen, orders the new ones by
// Kommo's key (created_at, id) and appends them; events of a kind the stream does not report are
// skipped. The watermark then moves to the poll's start less `settle` (an event Kommo records a
// little late is still read by a later poll, thanks to the overlap). A failed poll is logged and
// retried at the next interval; nothing is appended and the watermark stays.
//
// Shared (WatchOptions::shared, with REDIS_URL): one replica per account holds the lease and
// polls as above, but appends what it read to the Redis stream (shared_history.h) instead of its
// own history, deduplicating against the stream (its mirror, checked by the append script);
// every replica, the leader included, mirrors the stream into its history by reading it every
// `shared_read_interval` (short polling on the shared connection rather than XREAD BLOCK, which
// would hold a connection of its own per replica: a change waits at most that long more, against
// the poll interval of seconds). The lease is taken or renewed every third of `lease`; a leader
// that stops renewing (dies) is replaced by another replica within about `lease`, which goes on
// from the stream's watermark with the overlap: at-least-once, nothing lost. While Redis does
// not answer for `lease`, the replica falls back to polling by itself into a history of its own
// (as without Redis); when Redis answers again it mirrors the stream again. Streams opened on
// the previous history end (UNAVAILABLE) and resume with their tokens, by Kommo's key.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "server/common/event_loop.h"
#include "server/kommo/kommo_client.h"
#include "server/watch/change_history.h"
#include "server/watch/shared_history.h"

namespace kommo::watch {

struct WatchOptions {
  // How often Kommo's events are read while the poller runs.
  absl::Duration poll_interval = absl::Seconds(5);
  // How far back the first poll reads (tokens issued before a restart resume within it).
  absl::Duration lookback = absl::Hours(1);
  // Each poll re-reads this much before the watermark, for events Kommo shows late.
  absl::Duration overlap = absl::Seconds(60);
  // The watermark stays this far behind the start of the last successful poll.
  absl::Duration settle = absl::Seconds(2);
  // PollSoon waits until this long after the last poll began (webhook floods cost at most one
  // events request per this interval).
  absl::Duration min_poll_gap = absl::Seconds(1);
  // Changes kept in the history.
  size_t history_size = 50000;
  // Pages read by one poll at most (100 events each). A window with more fails the poll (it is
  // tried again); at start the lookback is halved until the window fits.
  int max_pages_per_poll = 200;
  // Kommo's time (wall clock, Unix seconds); tests give their own.
  std::function<int64_t()> wall_seconds;
  // The history's epoch; 0: random.
  uint64_t epoch = 0;
  // The history shared by the replicas through Redis; null: in process only. Lives longer than
  // the hub, on its loop.
  SharedHistory* shared = nullptr;
  // With `shared`: how often the stream is read, and the leader's lease (renewed every third).
  absl::Duration shared_read_interval = absl::Milliseconds(200);
  absl::Duration lease = absl::Seconds(5);
};

class WatchHub {
 public:
  using WatcherId = uint64_t;

  WatchHub(rest::KommoClient* client, EventLoop* loop, WatchOptions options);
  ~WatchHub();

  WatchHub(const WatchHub&) = delete;
  WatchHub& operator=(const WatchHub&) = delete;

  // Registers a watcher: `notify` runs (on the loop) after each poll that appended changes or
  // moved the watermark. Starts the poller when it is not running yet; `started` runs once the
  // first poll has finished (at once when the poller already ran one), so that a watcher that
  // resumes after a restart sees the history the lookback filled. When that first poll fails,
  // `started` gets its error (the watcher should end its stream with it and unsubscribe; the
  // poller keeps trying).
  WatcherId Subscribe(absl::AnyInvocable<void()> notify,
                      absl::AnyInvocable<void(absl::Status)> started);
  void Unsubscribe(WatcherId id);

  // Asks for a poll now (a webhook said something changed): at once, or `min_poll_gap` after the
  // last poll began; a poll under way is followed by one more. Nothing before the first watcher.
  void PollSoon();

  // Server shutdown: the poller stops and every watcher is notified once more; watchers end
  // their streams when they see closing() (UNAVAILABLE: their callers resume elsewhere).
  void Shutdown();
  bool closing() const { return closing_; }

  const ChangeHistory& history() const { return *history_; }
  size_t watchers() const { return watchers_.size(); }
  uint64_t polls() const { return polls_; }
  // With a shared history: this replica holds the lease (polls Kommo), and it mirrors Redis (false
  // while it fell back to a history of its own).
  bool leading() const { return leading_; }
  bool mirroring() const { return shared_mode_; }
  uint64_t failed_polls() const { return failed_polls_; }

 private:
  struct Poll;

  void StartPoll();
  void ReadPage(std::shared_ptr<Poll> poll);
  void FinishPoll(std::shared_ptr<Poll> poll, const absl::Status& status);
  void TooManyEvents(std::shared_ptr<Poll> poll);
  // Moves the watermark to `watermark` (never back), forgets the event ids no later poll reads
  // again and releases the watchers waiting for the first poll. Returns whether it moved.
  bool MoveWatermark(int64_t watermark);
  void ScheduleNext();
  void ReleaseWaiting(const absl::Status& status);
  // Forgets the ids seen with created_at before `horizon` (no later poll reads them again).
  void ForgetSeenBefore(int64_t horizon);
  void NotifyAll();
  // Shared history: the mirror, the lease, the leader's append, the fallback.
  void Sync();
  void ScheduleSync();
  void Synced(absl::StatusOr<SharedHistory::Snapshot> snapshot);
  void Lead();
  void StopLeading();
  void CommitShared(std::shared_ptr<Poll> poll, std::optional<int64_t> gap_until, int attempt);
  void AfterCommit();
  void SwitchToLocal(const absl::Status& why);
  void StartLocal(uint64_t epoch);

  rest::KommoClient* client_;
  EventLoop* loop_;
  WatchOptions options_;
  std::unique_ptr<ChangeHistory> history_;
  bool running_ = false;     // the poller has started
  bool polling_ = false;     // a poll is under way
  bool poll_again_ = false;  // PollSoon during a poll
  bool first_done_ = false;
  bool closing_ = false;
  int64_t started_at_ = 0;                       // wall seconds of the first poll
  absl::Time last_poll_ = absl::InfinitePast();  // loop time the last poll began
  absl::Duration lookback_;
  EventLoop::TimerPtr timer_;
  WatcherId next_id_ = 1;
  std::map<WatcherId, absl::AnyInvocable<void()>> watchers_;
  std::vector<absl::AnyInvocable<void(absl::Status)>> waiting_for_first_;
  // Ids of the events seen with created_at at or after the window's start, by created_at (with a
  // shared history: the ids of the mirror's changes, which the leader's polls are checked against).
  std::multimap<int64_t, std::string> seen_by_time_;
  std::set<std::string> seen_;
  uint64_t polls_ = 0;
  uint64_t failed_polls_ = 0;
  // Shared history.
  bool shared_mode_ = false;  // mirroring Redis (else: own history, own poller)
  bool mirror_ = false;       // history_ is the mirror of the stream
  bool leading_ = false;
  bool syncing_ = false;
  bool sync_again_ = false;
  bool poll_after_sync_ = false;
  uint64_t generation_ = 0;  // a poll of an older generation is dropped
  absl::Time redis_ok_at_;   // the last time Redis answered a read
  absl::Time lead_ok_at_;    // the last time the lease was renewed
  EventLoop::TimerPtr sync_timer_;
  EventLoop::TimerPtr lease_timer_;
  absl::AnyInvocable<void()> after_sync_;
  std::shared_ptr<bool> alive_;
};

}  // namespace kommo::watch

#endif  // KOMMO_SERVER_WATCH_WATCH_HUB_H_
