#ifndef KOMMO_SERVER_KOMMO_REQUESTER_H_
#define KOMMO_SERVER_KOMMO_REQUESTER_H_

// One Kommo account's outbound discipline: every HTTP request to Kommo goes through a Requester,
// which wires the account's rate limit, the token, the retry policy and the circuit breaker around
// the transport. It decides when and whether to send; what an answer means is the error table's
// (error_table.h). Loop thread only.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/common/event_loop.h"
#include "server/http/http_transport.h"
#include "server/kommo/circuit_breaker.h"
#include "server/kommo/error_table.h"
#include "server/kommo/kommo_client.h"
#include "server/kommo/rate_limiter.h"
#include "server/kommo/retry_policy.h"
#include "server/kommo/shared_budget.h"

namespace kommo::rest {

using ResponseDone = absl::AnyInvocable<void(absl::StatusOr<http::HttpResponse>)>;

// What a request fills in when its rate-limit slot comes: the path (prefilled with the spec's,
// which a batch of one may change: POST /leads/unsorted/{uid}/accept), the body (a write's items),
// and the query string (prefilled with the spec's; a shared read-back's ids).
struct PreparedRequest {
  std::string path;
  std::string body;
  std::string params;
};

struct RequestSpec {
  http::Method method = http::Method::kGet;
  std::string path;    // after the API base URL, e.g. "/leads/5"
  std::string params;  // the query string without "?", already encoded
  std::string body;
  ErrorContext context;
  // When set, runs once right before the first attempt is sent (the rate-limit slot has come):
  // it fills in the body (a batch takes the items that gathered while it waited), may change the
  // path and the query string, and returns the deadline the request serves from then on (its
  // members' latest). nullopt drops the request unsent; `done` then gets CANCELLED.
  absl::AnyInvocable<std::optional<absl::Time>(PreparedRequest&)> prepare;
  // Reading back what was just written: goes before new calls waiting for the rate limit.
  bool priority = false;
  // A write: an attempt in flight runs to the full request timeout even when the deadline passes
  // (its callers have been told its outcome is unknown; its answer is still learned and logged),
  // but no attempt starts after the deadline.
  bool finish_in_flight = false;
};

class Requester {
 public:
  using Handle = uint64_t;

  Requester(const KommoClientOptions& options, http::HttpTransport* transport, EventLoop* loop);
  // Requests still under way are dropped: their timers cancelled, their transfers' answers
  // ignored, their `done` never run.
  ~Requester();

  Requester(const Requester&) = delete;
  Requester& operator=(const Requester&) = delete;

  // Sends one request within the rate limit and `options.deadline`, retrying what the retry
  // policy allows. `done` gets the HTTP response whatever its status, or the error of the last
  // attempt (error_table.h), exactly once, never inside this call's stack for a response.
  // Returns a handle for ExtendDeadline.
  Handle Send(RequestSpec spec, CallOptions options, ResponseDone done);

  // The request may now run until `deadline` if that is later than its own (a caller with more
  // patience joined it). Unknown or finished handles are ignored.
  void ExtendDeadline(Handle handle, absl::Time deadline);

  // A request waiting for its rate-limit slot on behalf of several callers (a batch) is paid for
  // by the caller `payer` names instead when that caller's place in the fair order comes before
  // the request's own: it leaves its place (the share it took stays spent) and takes that one.
  // Returns whether it moved. Unknown, finished, sent and priority requests are ignored.
  bool PayFrom(Handle handle, const CallTrace* payer);

  // When a request asked for now for the caller `trace` names (null: the anonymous flow) would
  // get its rate-limit slot (its place in the fair order), and the spacing of slots.
  absl::Time NextSlot(const CallTrace* trace) const;
  absl::Duration SlotInterval() const;

  KommoClientStats Stats() const;

 private:
  struct Exchange;
  using ExchangePtr = std::shared_ptr<Exchange>;

  void StartAttempt(const ExchangePtr& exchange);
  void AcquireShared(const ExchangePtr& exchange);
  void SendAttempt(const ExchangePtr& exchange);
  void OnAttemptDone(const ExchangePtr& exchange, http::HttpResult result, bool capped_by_deadline);
  void Cancel(const ExchangePtr& exchange);
  void Finish(const ExchangePtr& exchange, absl::StatusOr<http::HttpResponse> result);
  absl::Status Rejected(const Exchange& exchange) const;
  absl::Status Cancelled(const Exchange& exchange) const;
  absl::Status DeadlineBeforeSending(const Exchange& exchange) const;
  void RecordAttempt(const Exchange& exchange, const http::HttpResult& result, absl::Time now);
  void UpdateGauges();

  KommoClientOptions options_;
  http::HttpTransport* transport_;
  EventLoop* loop_;
  RateLimiter limiter_;
  // The budget shared with other replicas (null without Redis): asked after limiter_'s slot.
  std::unique_ptr<SharedBudget> shared_;
  RetryPolicy retry_;
  CircuitBreaker circuit_;
  KommoClientStats stats_;
  Handle next_handle_ = 1;
  // Every request under way. Callbacks hold weak references only, so destroying the Requester
  // ends them all.
  std::map<Handle, ExchangePtr> live_;
};

}  // namespace kommo::rest

#endif  // KOMMO_SERVER_KOMMO_REQUESTER_H_
