#ifndef KOMMO_SERVER_WATCH_CHANGE_HISTORY_H_
#define KOMMO_SERVER_WATCH_CHANGE_HISTORY_H_

// The change stream's history (design.md §12): the changes the events poller read from Kommo, in
// the order it read them, bounded, and the resume tokens that name a place in it.
//
// A token names the last change a stream delivered (or the heartbeat it sent) twice over: by this
// history's epoch and sequence number, and by Kommo's own key of the event (created_at, event id).
// A token of this history resumes by sequence number, which is exact. A token of another history
// (the server restarted; the new history was filled from Kommo's events API from before the
// restart) resumes by Kommo's key: the stream skips the changes whose key is not after the
// token's: nothing before the token comes again. An event Kommo shows late (after the poll that
// read a later one), delivered by the old server after the token's change, has a key before it:
// such an event is skipped by a resume across a restart (README: Change streams). A token whose
// place the history no longer holds (evicted, or before the time it was filled from) is
// OUT_OF_RANGE (WATCH_HISTORY_EXPIRED). Loop thread only.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "kommo/v1/change.pb.h"
#include "kommo/v1/contact.pb.h"
#include "kommo/v1/lead.pb.h"
#include "server/mapping/event_json.h"

namespace kommo::watch {

// Kommo's order of events: by created_at, then by id. An empty id sorts before every event of its
// second (a heartbeat at time t covers the events before t).
struct EventKey {
  int64_t time = 0;
  std::string id;
};
bool KeyAfter(const EventKey& a, const EventKey& b);  // a > b

// A place in the stream, as a resume token carries it.
struct Position {
  uint64_t epoch = 0;  // the history the token was issued by
  uint64_t seq = 0;    // the last change delivered (0: none of this history)
  EventKey key;        // Kommo's key of that change, or {heartbeat time, ""}
};

// URL-safe base64 of a versioned text; DecodeToken fails INVALID_ARGUMENT (INVALID_FIELD on
// `resume_token`) for anything it did not make.
std::string EncodeToken(const Position& position);
absl::StatusOr<Position> DecodeToken(absl::string_view token);

// One change: a Kommo event the stream reports, numbered.
struct Change {
  uint64_t seq = 0;
  v1::ChangeKind kind = v1::CHANGE_KIND_UNSPECIFIED;
  mapping::KommoEvent event;
  EventKey key() const { return {event.created_at, event.id}; }
};
using ChangePtr = std::shared_ptr<const Change>;

// Where a stream starts: after `seq`, skipping changes whose key is not after `skip_through`
// (set only when resuming a token of another history).
struct ResumePoint {
  uint64_t after_seq = 0;
  bool skip_by_key = false;
  EventKey skip_through;
};

class ChangeHistory {
 public:
  // `covered_from`: the Kommo time (Unix seconds) from which every event is (or was) in this
  // history; `capacity`: the changes kept (the oldest are evicted first).
  ChangeHistory(uint64_t epoch, size_t capacity, int64_t covered_from);

  uint64_t epoch() const { return epoch_; }
  size_t size() const { return changes_.size(); }
  uint64_t last_seq() const { return next_seq_ - 1; }

  // Appends changes (their seq is assigned here) in the order given.
  void Append(std::vector<Change> changes);
  // Every event Kommo recorded before `time` has been appended (heartbeats may say so).
  void AdvanceWatermark(int64_t time);
  int64_t watermark() const { return watermark_; }

  // The position of "now": after the last change, at the watermark.
  Position Head() const;

  // Kommo's events from the watermark to `until` could not be read (more than a poll reads):
  // every stream and token from before is OUT_OF_RANGE (they must re-list), and the watermark
  // moves to `until`.
  void MarkGap(int64_t until);

  // The entries before `seq` were never appended here (a shared history trimmed them before this
  // replica read them): like MarkGap, every position before is behind a gap (`through`: the key
  // of the first change after it); the next change appended gets `seq`. Nothing when `seq` is not
  // after last_seq() + 1.
  void SkipTo(uint64_t seq, const EventKey& through);
  int64_t covered_from() const { return covered_from_; }

  // Where a stream resumes from `position`. OUT_OF_RANGE (WATCH_HISTORY_EXPIRED, metadata
  // resume_token = Head's token) when this history no longer holds that place; INVALID_ARGUMENT
  // for a sequence number this history never issued.
  absl::StatusOr<ResumePoint> Resume(const Position& position) const;

  // The number of the last change Kommo recorded before `time` (Unix seconds), looking back from
  // the newest: where a stream opened at `time` without a token starts, so that changes made
  // after it opened but read by a poll that ended later are still sent.
  uint64_t LastSeqBefore(int64_t time) const;

  // The changes after `seq`, at most `max`.
  std::vector<ChangePtr> After(uint64_t seq, size_t max) const;

 private:
  absl::Status Expired(absl::string_view why) const;

  const uint64_t epoch_;
  const size_t capacity_;
  const int64_t covered_from_;
  int64_t watermark_;
  uint64_t next_seq_ = 1;
  std::deque<ChangePtr> changes_;
  // The key of the newest change evicted: a token of another history must not be before it.
  bool evicted_ = false;
  EventKey evicted_key_;
};

}  // namespace kommo::watch

#endif  // KOMMO_SERVER_WATCH_CHANGE_HISTORY_H_
