#ifndef KOMMO_SERVER_API_SERVE_H_
#define KOMMO_SERVER_API_SERVE_H_

// What every gRPC handler of this service shares (internal to server/api): decoding the raw
// request, the call's options (deadline, cancellation, trace), one log line and the metrics per
// call, request_id idempotency, and the one way out through FinishRpc.

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include "absl/functional/any_invocable.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/field_mask.pb.h"
#include "google/protobuf/message.h"
#include "google/protobuf/util/field_mask_util.h"
#include "server/api/audit.h"
#include "server/api/grpc_status.h"
#include "server/api/idempotency.h"
#include "server/api/services.h"
#include "server/auth/grpc_credentials.h"
#include "server/common/call_trace.h"
#include "server/common/cancellation.h"
#include "server/common/clock.h"
#include "server/common/error_details.h"
#include "server/kommo/kommo_client.h"
#include "server/kommo/waiter.h"

namespace kommo::api::internal {

using rest::CallOptions;

// Whether a request message has an idempotency key (`request_id`).
template <typename T, typename = void>
struct HasRequestId : std::false_type {};
template <typename T>
struct HasRequestId<T, std::void_t<decltype(std::declval<const T&>().request_id())>>
    : std::true_type {};

// Whether a method writes to Kommo (its outcome is logged even when the caller is gone).
enum class Kind { kRead, kWrite };

// The reactor of one call: passes the caller's cancellation down and frees itself when gRPC is
// done with the call.
class CallReactor final : public grpc::ServerUnaryReactor {
 public:
  CallReactor() : token_(std::make_shared<CancellationToken>()) {}

  void OnCancel() override { token_->Cancel(); }
  void OnDone() override { delete this; }

  const std::shared_ptr<CancellationToken>& token() const { return token_; }

 private:
  std::shared_ptr<CancellationToken> token_;
};

// The call's request id: the caller's `x-request-id` metadata when it is a sane token (so a
// caller's own id follows the call into our logs and Kommo's), else 16 random hex digits.
std::string RequestIdFor(const grpc::CallbackServerContext* context);

// Time kept back from a caller's budget to carry the answer back: a tenth of it, between 2 ms
// and 100 ms (a loaded 2-core server finishes hundreds of calls within that).
absl::Duration ReplyMargin(absl::Duration left);

// The call's deadline (the caller's, less the reply margin; the default when it has none), its
// cancellation and its trace, for the Kommo client.
CallOptions OptionsFor(const grpc::CallbackServerContext* context, const ServiceOptions& options,
                       std::shared_ptr<CancellationToken> token, std::shared_ptr<CallTrace> trace);

// Decodes a raw request; INVALID_ARGUMENT (MALFORMED_REQUEST) when it is not one.
absl::Status ParseRequest(const grpc::ByteBuffer& raw, google::protobuf::Message& request);
void WriteResponse(const google::protobuf::Message& response, grpc::ByteBuffer* raw);

// One structured line per call: method, code, reason, latency; ids only, never contact data.
void LogCall(absl::string_view method, Kind kind, const absl::Status& status,
             absl::Duration latency, bool caller_gone, int64_t written_id, const CallTrace& trace);

// What a caller of an idempotent call that is still running is told when it leaves.
absl::Status StillRunning(absl::StatusCode code, absl::string_view method);

// Runs a call with a request_id at most once within the retention window (idempotency.h): the
// first caller starts the operation, detached from its own deadline and cancellation so that
// its outcome is learned and kept even when that caller leaves; every caller (the first one, and
// repeats while it runs or after) gets the kept answer, or leaves at its own deadline. When the
// operation settles after the first caller left, `settled_late` (if set) gets its outcome, on the
// loop: nobody may be there to hear it, and what was written must not go unrecorded.
//
// With a SharedIdempotency (REDIS_URL), this replica's first caller of a key claims it in Redis
// before anything runs: the call runs only when the claim is this replica's (or Redis is
// unavailable); otherwise every caller of the key here gets the answer Redis gives (another
// replica's answer, REQUEST_ID_REUSED, WRITE_OUTCOME_UNKNOWN for an owner that died mid-call).
template <typename Request, typename Response>
using StartFn = std::function<void(rest::KommoClient&, const Request&, CallOptions,
                                   absl::AnyInvocable<void(absl::StatusOr<Response>, int64_t)>)>;

template <typename Request, typename Response, typename Finish>
void ServeOnce(const ServiceOptions& options, absl::string_view method, const Request& request,
               accounts::AccountPtr account, CallOptions call, StartFn<Request, Response> start,
               Finish finish,
               std::function<void(const absl::StatusOr<Response>&)> settled_late = nullptr) {
  using Answer = IdempotencyStore::Answer;
  EventLoop* loop = options.loop;
  IdempotencyStore* store = options.idempotency;
  // A request_id names one call whatever the RPC: the same id on another RPC is another request
  // (REQUEST_ID_REUSED), never a second write. Each account and each caller has its own ids: one
  // caller never gets another's answer, nor is refused for another's id, and the same id sent to
  // two accounts is two requests. (Account names hold no '/'.)
  const IdempotencyKey key{absl::StrCat("kommo.v1/", account->name(), "/",
                                        call.trace != nullptr ? call.trace->caller : std::string()),
                           request.request_id()};
  const uint64_t fingerprint = Fnv1a64(absl::StrCat(method, "\n", Fingerprint(request)));
  const absl::Time caller_deadline = call.deadline;
  std::shared_ptr<CallTrace> trace = call.trace;
  auto waiter = rest::NewWaiter<Answer>(
      call, [finish = std::move(finish)](absl::StatusOr<Answer> answer) mutable {
        if (!answer.ok()) return finish(answer.status(), 0);
        if (!answer->status.ok()) return finish(answer->status, 0);
        Response response;
        if (!response.ParseFromString(answer->response)) {
          return finish(MakeError(absl::StatusCode::kInternal, "a kept answer could not be read",
                                  reason::kInternal),
                        0);
        }
        finish(std::move(response), 0);
      });
  auto ticket = std::make_shared<std::atomic<IdempotencyStore::Ticket>>(0);
  const std::string what(method);
  loop->Post([loop, waiter, store, key, ticket, what] {
    rest::Arm<Answer>(
        loop, waiter, [what](absl::StatusCode code) { return StillRunning(code, what); },
        [store, key, ticket] {
          if (const IdempotencyStore::Ticket held = ticket->load(); held != 0) {
            store->Abandon(key, held);
          }
        });
  });
  absl::StatusOr<IdempotencyStore::Started> started =
      store->Start(key, fingerprint, [loop, waiter](Answer answer) {
        loop->Post([waiter, answer = std::move(answer)]() mutable {
          rest::Complete<Answer>(waiter, std::move(answer));
        });
      });
  if (!started.ok()) {
    return loop->Post(
        [waiter, error = started.status()] { rest::Complete<Answer>(waiter, error); });
  }
  ticket->store(started->ticket);
  if (started->outcome != IdempotencyStore::Outcome::kRun) return;
  // Detached: no cancellation, and at least the default deadline to finish.
  CallOptions detached{std::max(caller_deadline, MonotonicNow() + options.default_deadline),
                       nullptr, std::move(trace)};
  // Runs the call on the account's client; its answer goes to `shared` (the claim in Redis, when
  // there is one) and then to every caller waiting here. The account stays while its operation
  // runs, whoever waits for it.
  auto run = [store, key, waiter, account, settled_late = std::move(settled_late)](
                 const StartFn<Request, Response>& run_start, const Request& run_request,
                 CallOptions run_options, SharedIdempotency* run_shared,
                 std::shared_ptr<SharedIdempotency::Claim> run_claim) mutable {
    run_start(
        *account->client, run_request, std::move(run_options),
        [store, key, waiter, account, settled_late = std::move(settled_late), shared = run_shared,
         claim = std::move(run_claim)](absl::StatusOr<Response> response, int64_t) {
          // The first caller's answer comes through the store (posted); finished now means it
          // left.
          if (waiter->finished && settled_late) settled_late(response);
          Answer answer;
          if (response.ok()) {
            answer.response = response->SerializeAsString();
          } else {
            answer.status = response.status();
          }
          if (shared != nullptr) shared->Finish(claim, answer);
          store->Finish(key, std::move(answer));
        });
  };
  SharedIdempotency* shared = options.shared_idempotency;
  if (shared == nullptr) return run(start, request, std::move(detached), nullptr, nullptr);
  loop->Post([shared, store, key, fingerprint, request, detached = std::move(detached),
              start = std::move(start), run = std::move(run)]() mutable {
    const absl::Time deadline = detached.deadline;
    shared->Acquire(key, fingerprint, deadline,
                    [shared, store, key, request = std::move(request),
                     detached = std::move(detached), start = std::move(start),
                     run = std::move(run)](SharedIdempotency::Acquired acquired) mutable {
                      if (acquired.kind == SharedIdempotency::Acquired::Kind::kRun) {
                        return run(start, request, std::move(detached), shared,
                                   std::move(acquired.claim));
                      }
                      if (acquired.keep) {
                        store->Finish(key, std::move(acquired.answer));
                      } else {
                        store->Release(key, std::move(acquired.answer));
                      }
                    });
  });
}

// Who the call is for, or why it may not call `method` (ServiceOptions::authorizer; null: every
// call is allowed). Fills the trace's caller and weight.
absl::Status Authorize(const grpc::CallbackServerContext* context, const ServiceOptions& options,
                       absl::string_view method, CallTrace& trace);

// The account the call names in its `x-kommo-account` metadata (the default account without
// it), or INVALID_ARGUMENT (UNKNOWN_ACCOUNT). Fills the trace's account.
absl::StatusOr<accounts::AccountPtr> AccountFor(const grpc::CallbackServerContext* context,
                                                const ServiceOptions& options, CallTrace& trace);

// Serves one unary call: check the caller, decode, pick the account, validate, start the Kommo
// operation on the account's client, finish from its callback. `start` gets the client, the
// request, the call options and a callback taking the response (or an error) and the id of what
// was written (0 when nothing); it may be called after Serve returned (a request_id claimed in
// Redis first), so it must not refer to Serve's caller's stack. The call holds its account until
// it finishes. A write leaves one audit line whatever its outcome.
template <typename Request, typename Response>
grpc::ServerUnaryReactor* Serve(grpc::CallbackServerContext* context,
                                const grpc::ByteBuffer* raw_request, grpc::ByteBuffer* raw_response,
                                absl::string_view method, Kind kind, const ServiceOptions& options,
                                absl::FunctionRef<absl::Status(const Request&)> validate,
                                StartFn<Request, Response> start) {
  auto* reactor = new CallReactor();
  const absl::Time started = MonotonicNow();
  metrics::ServiceMetrics* metrics = options.metrics;
  if (metrics != nullptr) metrics->rpcs_in_flight.Increment();
  auto trace = std::make_shared<CallTrace>();
  trace->request_id = RequestIdFor(context);
  // A write's audit record: what the request names, filled once it parses.
  auto audit = std::make_shared<std::pair<std::string, AuditIds>>();
  // Set once the call's account is known; held until the call finishes.
  auto account = std::make_shared<accounts::AccountPtr>();
  auto finish = [context, reactor, raw_response, method, kind, started, metrics, trace, audit,
                 account](absl::StatusOr<Response> response, int64_t written_id) {
    if (response.ok()) WriteResponse(*response, raw_response);
    const absl::Duration latency = MonotonicNow() - started;
    LogCall(method, kind, response.status(), latency, context->IsCancelled(), written_id, *trace);
    if (kind == Kind::kWrite) {
      if (response.ok()) AddResponseIds(*response, &audit->second);
      AddErrorIds(response.status(), &audit->second);
      LogAudit(method, *trace, audit->first, response.status(), audit->second);
    }
    context->AddTrailingMetadata("x-request-id", trace->request_id);
    if (metrics != nullptr) {
      metrics->rpcs->Increment({{"method", std::string(method)},
                                {"code", absl::StatusCodeToString(response.status().code())}});
      metrics->rpc_duration->Observe({{"method", std::string(method)}},
                                     absl::ToDoubleSeconds(latency));
      metrics->rpcs_in_flight.Decrement();
    }
    FinishRpc(context, reactor, response.status());
  };
  Request request;
  absl::Status status = Authorize(context, options, method, *trace);
  // A write a known caller may not make is still read for the audit trail (what it tried to
  // touch); an unauthenticated one is not read at all.
  const bool denied = status.code() == absl::StatusCode::kPermissionDenied;
  if (status.ok()) {
    status = ParseRequest(*raw_request, request);
  } else if (denied && kind == Kind::kWrite && !ParseRequest(*raw_request, request).ok()) {
    request.Clear();
  }
  if ((status.ok() || denied) && kind == Kind::kWrite) {
    if constexpr (HasRequestId<Request>::value) audit->first = request.request_id();
    AddRequestIds(request, &audit->second);
  }
  if (status.ok()) {
    absl::StatusOr<accounts::AccountPtr> found = AccountFor(context, options, *trace);
    if (found.ok()) {
      *account = *std::move(found);
    } else {
      status = found.status();
    }
  }
  if (status.ok()) status = validate(request);
  if (!status.ok()) {
    finish(status, 0);
    return reactor;
  }
  CallOptions call = OptionsFor(context, options, reactor->token(), trace);
  if constexpr (HasRequestId<Request>::value) {
    if (!request.request_id().empty() && options.idempotency != nullptr &&
        options.loop != nullptr) {
      std::function<void(const absl::StatusOr<Response>&)> settled_late;
      if (kind == Kind::kWrite) {
        // The audit trail gets the outcome of a write whose caller left before it settled.
        settled_late = [method, trace, audit](const absl::StatusOr<Response>& response) {
          AuditIds ids = audit->second;
          if (response.ok()) AddResponseIds(*response, &ids);
          AddErrorIds(response.status(), &ids);
          LogAudit(method, *trace, audit->first, response.status(), ids, /*caller_gone=*/true);
        };
      }
      ServeOnce<Request, Response>(options, method, request, *account, std::move(call),
                                   std::move(start), std::move(finish), std::move(settled_late));
      return reactor;
    }
  }
  rest::KommoClient& client = *(*account)->client;
  start(client, request, std::move(call), std::move(finish));
  return reactor;
}

// The callback that turns a Kommo client result into the RPC's response: `put` moves the value
// into the response and returns the id written (0 for reads).
template <typename Response, typename Value, typename Put>
auto Reply(absl::AnyInvocable<void(absl::StatusOr<Response>, int64_t)> done, Put put) {
  return [done = std::move(done), put](absl::StatusOr<Value> value) mutable {
    if (!value.ok()) return done(value.status(), 0);
    Response out;
    const int64_t id = put(out, *std::move(value));
    done(std::move(out), id);
  };
}

// Keeps only the fields a request's read_mask (AIP-157) names; an empty mask keeps everything.
// The mask was validated against the message's type.
inline void TrimToMask(const google::protobuf::FieldMask& mask, google::protobuf::Message* entity) {
  if (mask.paths().empty()) return;
  google::protobuf::util::FieldMaskUtil::TrimMessage(mask, entity);
}

}  // namespace kommo::api::internal

#endif  // KOMMO_SERVER_API_SERVE_H_
