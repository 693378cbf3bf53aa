#ifndef KOMMO_SERVER_API_IDEMPOTENCY_H_
#define KOMMO_SERVER_API_IDEMPOTENCY_H_

// Idempotency keys for the creating RPCs (the `request_id` of CreateLeadRequest and its
// siblings): a repeat of a call with the same request_id gets the first call's answer and runs
// nothing, even while the first call is still running or after its caller gave up.
//
// The store keeps, per (method, request_id), a fingerprint of the request and, once the
// operation finished, its answer. It knows nothing of gRPC or Kommo: a handler asks Start, runs
// the operation when told to, and reports its answer with Finish. The store is in memory; the
// interface is kept narrow (and the fingerprint independent of the process) so that a shared
// store can replace it later.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/node_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "google/protobuf/message.h"

namespace kommo::api {

// A stable 64-bit hash of `request` without its `request_id`: the request is copied, a singular
// string field named `request_id` is cleared (messages without one are hashed whole), and the
// copy's deterministic serialization is hashed with 64-bit FNV-1a. Two requests that differ in
// any other field (set or not, value, order of repeated items) get different fingerprints with
// overwhelming probability; the same request gets the same fingerprint in every process built
// from the same .proto files.
uint64_t Fingerprint(const google::protobuf::Message& request);

// 64-bit FNV-1a of `bytes` (offset basis 14695981039346656037, prime 1099511628211).
uint64_t Fnv1a64(absl::string_view bytes);

// Which call a request_id belongs to: the same request_id on two methods names two calls.
struct IdempotencyKey {
  // Where the id lives: "kommo.v1/<caller>" (the callers file's name; "" without one), so that
  // each caller has its own request_ids.
  std::string method;
  // The caller's request_id; never empty (a call without one does not use the store).
  std::string request_id;
};

class IdempotencyStore {
 public:
  // What a call answered: `response` is the serialized response message when `status` is OK,
  // empty otherwise.
  struct Answer {
    absl::Status status;
    std::string response;
  };
  // Receives the answer of the call a caller started, joined or repeated. Called at most once,
  // never while the store's lock is held, on the thread that calls Start (a replay) or Finish.
  using Deliver = absl::AnyInvocable<void(Answer)>;
  // Identifies one waiting caller of one key, for Abandon. Never 0.
  using Ticket = uint64_t;

  struct Options {
    // How long a finished call's answer is kept for repeats (IDEMPOTENCY_RETENTION).
    absl::Duration retention = absl::Hours(24);
    // Most keys kept (IDEMPOTENCY_MAX_ENTRIES). To admit a new key beyond it, the answers that
    // finished first are dropped first; calls in flight are never dropped, so while more calls
    // than this are in flight at once the store holds more (they are bounded by the server's
    // own limits on calls waiting for Kommo).
    size_t max_entries = 100000;
    // Time source for retention; must not go backwards. Default: MonotonicNow
    // (server/common/clock.h).
    std::function<absl::Time()> clock;
  };

  enum class Outcome {
    // The key is new: the caller must run the operation and report its answer with Finish
    // (exactly once, whatever happens, even after every caller abandoned it). `deliver` is
    // called by that Finish, unless the caller abandons first.
    kRun,
    // The same request is in flight under this key: `deliver` is called by its Finish, unless
    // the caller abandons first. The caller runs nothing.
    kJoined,
    // The same request already finished under this key: `deliver` was called with its answer,
    // synchronously, before Start returned. The caller runs nothing.
    kReplayed,
  };
  struct Started {
    Outcome outcome;
    // For kRun and kJoined: what to give Abandon. 0 for kReplayed.
    Ticket ticket = 0;
  };

  struct Stats {
    size_t size = 0;               // keys held, in flight or finished
    size_t in_flight = 0;          // keys whose operation has not finished
    uint64_t started = 0;          // Start calls answered kRun
    uint64_t replayed = 0;         // Start calls answered kReplayed
    uint64_t joined = 0;           // Start calls answered kJoined
    uint64_t reused_rejected = 0;  // Start calls refused with REQUEST_ID_REUSED
    uint64_t forgotten = 0;        // finished with an error Kommo certainly did not act on
    uint64_t expired = 0;          // answers dropped after `retention`
    uint64_t evicted = 0;          // answers dropped to stay within `max_entries`
  };

  IdempotencyStore() : IdempotencyStore(Options()) {}
  explicit IdempotencyStore(Options options);
  IdempotencyStore(const IdempotencyStore&) = delete;
  IdempotencyStore& operator=(const IdempotencyStore&) = delete;

  // Registers a caller of `key` whose request has `fingerprint` (see Fingerprint()). Returns
  // what the caller must do (Outcome), or INVALID_ARGUMENT with ErrorInfo reason
  // REQUEST_ID_REUSED when the key is held for a request with another fingerprint; then
  // `deliver` is destroyed without being called. An answer older than `retention` no longer
  // holds its key: its key is new again.
  absl::StatusOr<Started> Start(const IdempotencyKey& key, uint64_t fingerprint, Deliver deliver);

  // The caller holding `ticket` left (its deadline passed or it was cancelled): its `deliver`
  // is destroyed without being called. The operation is not cancelled: its answer is still kept
  // for repeats. Returns true when the caller was still waiting; false when its `deliver` has
  // been or is being called (by Finish on another thread), or the ticket is unknown.
  bool Abandon(const IdempotencyKey& key, Ticket ticket);

  // Reports the answer of the operation of `key` (after Start answered kRun): every caller
  // still waiting gets it. The answer is kept for `retention` when Kommo acted or may have
  // acted: OK, or an error whose ErrorInfo has reason WRITE_OUTCOME_UNKNOWN or
  // READ_BACK_FAILED, metadata `written` = "true", or an `outcome` metadata key. Any other error
  // means Kommo did not act (a rate-limit refusal, an invalid request, a refused batch): the key
  // is forgotten, so a repeat runs the operation again. Returns false (and does nothing) when
  // `key` is not in flight, which is a bug in the caller.
  bool Finish(const IdempotencyKey& key, Answer answer);

  // Like Finish, but the key is forgotten whatever the answer: every caller still waiting gets
  // `answer`, and a later repeat starts again. For an answer that is not the call's outcome (the
  // call still runs on another replica: server/api/shared_idempotency.h).
  bool Release(const IdempotencyKey& key, Answer answer);

  // Drops the answers whose retention has passed at `now` (Start also drops them as it goes).
  void Sweep(absl::Time now);

  size_t size() const;
  Stats stats() const;

  // Whether an answer with `status` is kept for repeats (the rule of Finish).
  static bool KeepsAnswer(const absl::Status& status);

 private:
  struct Waiter {
    Ticket ticket;
    Deliver deliver;
  };
  struct Entry {
    uint64_t fingerprint = 0;
    bool finished = false;
    // In flight: the callers waiting for the answer.
    std::vector<Waiter> waiters;
    // Finished: the answer, when it expires, and its place in finished_order_.
    Answer answer;
    absl::Time expires_at;
    std::list<const std::string*>::iterator order;
  };

  // Finish (keep: KeepsAnswer) and Release (keep: false).
  bool Settle(const IdempotencyKey& key, Answer answer, bool keep);
  // Erases finished entries from the front of finished_order_ while they expired at `now`.
  void DropExpiredLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Erases the finished entry named by `order_position`.
  void EraseFinishedLocked(std::list<const std::string*>::iterator order_position)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const absl::Duration retention_;
  const size_t max_entries_;
  const std::function<absl::Time()> clock_;

  mutable absl::Mutex mu_;
  // By the encoded key (EncodeKey in the .cc). Nodes are stable, so finished_order_ points at
  // their keys.
  absl::node_hash_map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  // Keys of finished entries, in the order they finished (so by expiry: the clock does not go
  // back and retention is one value).
  std::list<const std::string*> finished_order_ ABSL_GUARDED_BY(mu_);
  Ticket next_ticket_ ABSL_GUARDED_BY(mu_) = 1;
  Stats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kommo::api

#endif  // KOMMO_SERVER_API_IDEMPOTENCY_H_
