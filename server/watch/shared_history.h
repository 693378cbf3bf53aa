#ifndef KOMMO_SERVER_WATCH_SHARED_HISTORY_H_
#define KOMMO_SERVER_WATCH_SHARED_HISTORY_H_

// The change history of one account in Redis (REDIS_URL; design.md §12, §13): what WatchHub
// keeps in memory, shared by every replica. Three keys with the account's hash tag:
//   kommo:{ACCOUNT}:watch:lease   the replica that polls Kommo's events (SET NX PX, renewed);
//   kommo:{ACCOUNT}:watch:state   a hash: epoch, covered_from, watermark, last_seq;
//   kommo:{ACCOUNT}:watch:stream  the changes, entry id "0-<seq>" (seq 1, 2, ... with no gaps),
//                                 field "c" = EncodeChange, trimmed to about max_len entries.
// The leader appends with one Lua script that checks it still holds the lease and that the
// stream's last seq is the one it read (so a stale mirror never appends twice), then adds the
// entries and moves the watermark: all or nothing. Every replica reads the state and the entries
// after its last seq with another script (short polling; see WatchHub). Loop thread only.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/redis/redis_client.h"
#include "server/watch/change_history.h"

namespace kommo::watch {

// One entry of the stream: a change, or a gap (the events up to `gap_until` could not be read).
struct SharedEntry {
  uint64_t seq = 0;
  bool gap = false;
  int64_t gap_until = 0;
  Change change;  // seq unset
};

// A change as the stream keeps it, and back (nullopt for bytes EncodeEntry did not make).
std::string EncodeEntry(const SharedEntry& entry);
std::optional<SharedEntry> DecodeEntry(absl::string_view bytes);

struct SharedHistoryOptions {
  std::string account = "default";
  std::string replica_id;
  absl::Duration lease = absl::Seconds(5);
  size_t max_len = 50000;
};

class SharedHistory {
 public:
  struct Snapshot {
    bool initialized = false;  // a leader appended at least once
    uint64_t epoch = 0;
    int64_t covered_from = 0;
    int64_t watermark = 0;
    uint64_t last_seq = 0;
    std::vector<SharedEntry> entries;  // after the seq asked for, in order
  };
  // Why an append was refused.
  enum class Refusal { kNone, kNotLeader, kStale };
  struct Appended {
    Refusal refusal = Refusal::kNone;
    uint64_t last_seq = 0;
  };

  SharedHistory(redis::RedisClient* redis, SharedHistoryOptions options);

  // Takes or renews the lease: true when this replica holds it now.
  void Lead(absl::AnyInvocable<void(absl::StatusOr<bool>)> done);
  // Gives the lease up when this replica holds it.
  void Release();
  // The state and up to `max` entries after `after_seq`.
  void Read(uint64_t after_seq, size_t max,
            absl::AnyInvocable<void(absl::StatusOr<Snapshot>)> done);
  // Appends `entries` (their seq unset) after `expected_last_seq` and moves the watermark to
  // `watermark`; a first append also sets the epoch and covered_from given.
  void Append(uint64_t expected_last_seq, uint64_t epoch, int64_t covered_from, int64_t watermark,
              const std::vector<SharedEntry>& entries,
              absl::AnyInvocable<void(absl::StatusOr<Appended>)> done);

  const std::string& replica_id() const { return options_.replica_id; }

 private:
  std::string Key(const char* what) const;

  redis::RedisClient* redis_;
  SharedHistoryOptions options_;
};

}  // namespace kommo::watch

#endif  // KOMMO_SERVER_WATCH_SHARED_HISTORY_H_
