#ifndef KOMMO_SERVER_API_SHARED_IDEMPOTENCY_H_
#define KOMMO_SERVER_API_SHARED_IDEMPOTENCY_H_

// Idempotency keys shared by every replica through Redis (REDIS_URL; design.md §13): a request_id
// is claimed in Redis before the call runs, so that a repeat landing on another replica gets the
// first call's answer, joins it while it runs, and never writes a second time.
//
// It sits behind the in-process IdempotencyStore (idempotency.h), which still joins the callers of
// one replica: only the first caller of a key on a replica asks Redis. One record per key,
// `kommo:{ACCOUNT}:idem:<method>:<request_id>`, a hash holding the request's fingerprint, the
// state (running, done, lost), the owner (replica id and a random claim id), the owner's lease
// end on Redis's clock (TIME) and, once done, the answer. One Lua script claims (atomically):
//   - no record: the caller owns the key (running, lease) and runs the call;
//   - another fingerprint: REQUEST_ID_REUSED;
//   - done: its answer;
//   - running with a live lease: the caller joins: the script is asked again (short polling,
//     on the loop) until the record is done, lost or gone, or the caller's deadline;
//   - running with an expired lease (the owner died mid-call) or lost: WRITE_OUTCOME_UNKNOWN,
//     never a second run: the write may have reached Kommo. The record is marked lost and kept
//     for the retention.
// The owner renews its lease every third of it while the call runs; Finish stores the answer for
// the retention when IdempotencyStore::KeepsAnswer keeps it, else deletes the claim (a repeat
// runs again, as on one replica).
//
// Redis unavailable (not connected, a timeout, an error reply) when a key is claimed: the call
// runs with per-replica idempotency only (the in-process store), logged once per transition and
// exported as metrics. A joiner keeps asking while Redis is away (never running the call itself);
// an owner whose answer cannot be stored retries for a while, then its record is left to expire
// into "lost" (WRITE_OUTCOME_UNKNOWN) on the other replicas.
//
// Loop thread only (the RedisClient's loop).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/api/idempotency.h"
#include "server/common/event_loop.h"
#include "server/metrics/metrics.h"
#include "server/redis/redis_client.h"

namespace kommo::api {

// An absl::Status with its payloads (ErrorInfo, BadRequest, RetryInfo) as bytes (a
// google.rpc.Status), and back. DecodeStatus is nullopt for bytes EncodeStatus did not make.
std::string EncodeStatus(const absl::Status& status);
std::optional<absl::Status> DecodeStatus(absl::string_view bytes);

class SharedIdempotency {
 public:
  struct Options {
    // The Kommo account the keys belong to (the hash tag of every key).
    std::string account = "default";
    // This replica's name in records (logs of other replicas name the owner); random when empty.
    std::string replica_id;
    // How long an answer is kept (IDEMPOTENCY_RETENTION).
    absl::Duration retention = absl::Hours(24);
    // How long a claim stays valid without renewal: a replica that dies mid-call is noticed by
    // the others this long after its last renewal. Renewed every third of it.
    absl::Duration lease = absl::Seconds(10);
    // A joiner asks again after `poll_min`, growing by half each time up to `poll_max`.
    absl::Duration poll_min = absl::Milliseconds(20);
    absl::Duration poll_max = absl::Milliseconds(250);
    // How long an owner keeps trying to store its answer while Redis is unavailable.
    absl::Duration store_retry_for = absl::Seconds(30);
    // Where the metrics go; may be null.
    metrics::Registry* registry = nullptr;
    // The server's count of failed Redis commands (kommo_grpc_redis_errors_total, by operation:
    // claim, renew, finish); may be null.
    metrics::Counter* redis_errors = nullptr;
  };

  // One claim this replica owns: renewed until Finish.
  struct Claim;

  // What Acquire decided.
  struct Acquired {
    enum class Kind {
      // Run the call, then give its answer to Finish(claim, ...). `claim` is null when Redis was
      // unavailable (the key is per replica for this call).
      kRun,
      // The call's answer is known without running it: `answer` (another replica's answer,
      // REQUEST_ID_REUSED, WRITE_OUTCOME_UNKNOWN for a lost owner, or "still running" when the
      // deadline passed while joining). `keep`: whether the in-process store may keep it for
      // repeats (false for "still running": a later repeat must ask again).
      kAnswered,
    };
    Kind kind = Kind::kRun;
    std::shared_ptr<Claim> claim;
    IdempotencyStore::Answer answer;
    bool keep = true;
  };

  struct Stats {
    uint64_t claimed = 0;       // keys this replica ran with a claim in Redis
    uint64_t replayed = 0;      // answers found in Redis
    uint64_t joined = 0;        // keys found running on another replica (waited for)
    uint64_t reused = 0;        // REQUEST_ID_REUSED from Redis
    uint64_t lost = 0;          // WRITE_OUTCOME_UNKNOWN: the owner's lease ran out
    uint64_t local_only = 0;    // calls run per replica because Redis was unavailable
    uint64_t redis_errors = 0;  // commands that failed
    bool shared = true;         // false while the last claim could not reach Redis
  };

  SharedIdempotency(redis::RedisClient* redis, EventLoop* loop, Options options);
  ~SharedIdempotency();
  SharedIdempotency(const SharedIdempotency&) = delete;
  SharedIdempotency& operator=(const SharedIdempotency&) = delete;

  // Claims `key` for a call whose request has `fingerprint`; `done` runs once, on the loop, at
  // the latest shortly after `deadline` (monotonic, the loop's clock).
  void Acquire(const IdempotencyKey& key, uint64_t fingerprint, absl::Time deadline,
               absl::AnyInvocable<void(Acquired)> done);

  // The call of `claim` ended with `answer`: stores it in Redis (kept answers) or deletes the
  // claim, and stops renewing. A null claim (Redis was unavailable) does nothing.
  void Finish(const std::shared_ptr<Claim>& claim, const IdempotencyStore::Answer& answer);

  Stats stats() const { return stats_; }
  const std::string& replica_id() const { return options_.replica_id; }

 private:
  struct Join;

  void Ask(std::shared_ptr<Join> join);
  void Answered(std::shared_ptr<Join> join, absl::StatusOr<redis::Reply> reply);
  void Retry(std::shared_ptr<Join> join);
  void Renew(std::shared_ptr<Claim> claim);
  void Store(std::shared_ptr<Claim> claim, std::string status, std::string response, bool keep,
             absl::Time give_up);
  // Records whether Redis answered; logs and counts a change.
  void SetShared(bool shared, const absl::Status& why);
  // A Redis command failed: counted in stats and in the server's metric.
  void CountError(const char* operation);
  std::string RedisKey(const IdempotencyKey& key) const;

  redis::RedisClient* redis_;
  EventLoop* loop_;
  Options options_;
  Stats stats_;
  // Present when a registry was given.
  struct Metrics;
  std::unique_ptr<Metrics> metrics_;
  std::shared_ptr<bool> alive_;
};

}  // namespace kommo::api

#endif  // KOMMO_SERVER_API_SHARED_IDEMPOTENCY_H_
