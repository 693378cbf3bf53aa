#include "server/kommo/requester.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/common/error_details.h"
#include "server/common/log.h"
#include "server/mapping/kommo_json.h"

namespace kommo::rest {

using http::HttpResponse;

class Requester::Impl {
 public:
  Impl(const KommoClientOptions& options, http::HttpTransport* transport, EventLoop* loop)
      : options_(options),
        transport_(transport),
        loop_(loop),
        limiter_(loop, RateLimiterOptions{options_.rate_limit_rps, options_.rate_limit_burst,
                                          options_.max_queue}),
        random_(options_.random_seed != 0 ? options_.random_seed : std::random_device()()),
        retry_budget_(options_.retry_budget_max) {}

  absl::Time NextSlot() const { return limiter_.NextSlot(); }

  KommoClientStats Stats() const {
    KommoClientStats stats = stats_;
    stats.queue_depth = limiter_.queue_depth();
    stats.circuit_open = circuit_ != Circuit::kClosed;
    return stats;
  }

  // One logical request to Kommo and its attempts. Owned by the callbacks that refer to it; all
  // fields are touched on the loop thread only.
  struct Exchange {
    enum class Phase { kIdle, kWaitingSlot, kInFlight, kBackingOff, kDone };

    http::HttpRequest request;
    ErrorContext context;
    CallOptions options;
    ResponseDone done;
    Phase phase = Phase::kIdle;
    int attempts = 0;
    bool probe = false;  // this attempt tests whether Kommo still blocks the account
    RateLimiter::Ticket ticket = 0;
    http::HttpTransport::RequestId transfer = 0;
    EventLoop::TimerPtr timer;
    absl::Time queued_at;  // when the current attempt asked for its rate-limit slot
    absl::Time sent_at;    // when the current attempt was handed to the transport
    absl::AnyInvocable<bool(std::string& body)> prepare;  // runs before the first attempt
    bool priority = false;
  };
  using ExchangePtr = std::shared_ptr<Exchange>;

  // Sends one request within the account's rate limit and the call's deadline, retrying what is
  // safe to retry. `done` gets the HTTP response whatever its status, or the error of the last
  // attempt. Loop thread only.
  void Send(RequestSpec spec, CallOptions options, ResponseDone done) {
    auto exchange = std::make_shared<Exchange>();
    exchange->request.method = spec.method;
    exchange->request.url =
        absl::StrCat(options_.api_base_url, spec.path, spec.params.empty() ? "" : "?", spec.params);
    exchange->request.body = std::move(spec.body);
    exchange->prepare = std::move(spec.prepare);
    exchange->priority = spec.priority;
    exchange->context = std::move(spec.context);
    exchange->options = std::move(options);
    exchange->done = std::move(done);
    if (exchange->options.cancel != nullptr &&
        !exchange->options.cancel->SetHook(loop_, [this, exchange] { Cancel(exchange); })) {
      return Finish(exchange, Cancelled(*exchange));
    }
    StartAttempt(exchange);
  }

  absl::Status Cancelled(const Exchange& exchange) const {
    // Only an attempt in flight can have reached Kommo; Cancel() handles that case through the
    // transport, so here nothing was sent.
    return ErrorFromTransport(absl::CancelledError("cancelled"), /*request_sent=*/false,
                              /*call_deadline_passed=*/false, exchange.context);
  }

  absl::Status DeadlineBeforeSending(const Exchange& exchange) const {
    return MakeError(absl::StatusCode::kDeadlineExceeded,
                     absl::StrCat("deadline exceeded before ", exchange.context.what,
                                  exchange.attempts == 0 ? " was sent" : " could be retried"),
                     reason::kDeadlineExceeded);
  }

  // Fails fast while Kommo blocks the account; lets one probe through when the block may be over.
  absl::Status CircuitAdmits(Exchange& exchange, bool sending) {
    const absl::Time now = loop_->Now();
    if (circuit_ == Circuit::kClosed) return absl::OkStatus();
    if (circuit_ == Circuit::kOpen && now >= circuit_open_until_) {
      if (!sending) return absl::OkStatus();  // may become the probe when its slot comes
      circuit_ = Circuit::kProbing;
      exchange.probe = true;
      return absl::OkStatus();
    }
    ++stats_.circuit_rejections;
    absl::Status status = MakeError(
        absl::StatusCode::kUnavailable,
        absl::StrCat("Kommo is blocking this account's API access (HTML 403 after rate-limit "
                     "abuse); calls fail fast until a probe gets through. ",
                     exchange.context.what, " was not sent"),
        reason::kKommoAccountBlocked, {{"circuit", "open"}});
    SetRetryDelay(status, std::max(circuit_open_until_ - now, absl::Seconds(1)));
    return status;
  }

  void OpenCircuit() {
    const bool was_closed = circuit_ == Circuit::kClosed;
    circuit_ = Circuit::kOpen;
    circuit_open_until_ = loop_->Now() + options_.circuit_open_duration;
    if (options_.metrics != nullptr) options_.metrics->circuit_open.store(1);
    if (was_closed) {
      ++stats_.circuit_opened;
      log::Error("Kommo blocks this account (HTML 403): failing calls fast, probing again later",
                 {{"probe_after_s", absl::ToDoubleSeconds(options_.circuit_open_duration)}});
    }
  }

  void StartAttempt(const ExchangePtr& exchange) {
    if (exchange->phase == Exchange::Phase::kDone) return;
    if (loop_->Now() >= exchange->options.deadline) {
      return Finish(exchange, DeadlineBeforeSending(*exchange));
    }
    if (absl::Status admitted = CircuitAdmits(*exchange, /*sending=*/false); !admitted.ok()) {
      return Finish(exchange, admitted);
    }
    exchange->phase = Exchange::Phase::kWaitingSlot;
    exchange->queued_at = loop_->Now();
    const RateLimiter::Ticket ticket = limiter_.Acquire(
        exchange->options.deadline,
        [this, exchange](absl::Status granted) {
          exchange->ticket = 0;
          if (exchange->phase != Exchange::Phase::kWaitingSlot) return;
          if (options_.metrics != nullptr && granted.ok()) {
            options_.metrics->rate_limit_wait->Observe(
                {}, absl::ToDoubleSeconds(loop_->Now() - exchange->queued_at));
          }
          UpdateGauges();
          if (!granted.ok()) return Finish(exchange, std::move(granted));
          SendAttempt(exchange);
        },
        exchange->priority ? RateLimiter::Priority::kFirst : RateLimiter::Priority::kNormal);
    if (ticket != 0) exchange->ticket = ticket;
    UpdateGauges();
  }

  void SendAttempt(const ExchangePtr& exchange) {
    const absl::Duration left = exchange->options.deadline - loop_->Now();
    if (left <= absl::ZeroDuration()) return Finish(exchange, DeadlineBeforeSending(*exchange));
    if (absl::Status admitted = CircuitAdmits(*exchange, /*sending=*/true); !admitted.ok()) {
      return Finish(exchange, admitted);
    }
    if (exchange->attempts == 0 && exchange->prepare) {
      auto prepare = std::move(exchange->prepare);
      exchange->prepare = nullptr;
      if (!prepare(exchange->request.body)) return Finish(exchange, Cancelled(*exchange));
    }
    const bool capped_by_deadline = left < options_.request_timeout;
    http::HttpRequest request = exchange->request;
    request.timeout = capped_by_deadline ? left : options_.request_timeout;
    // Asked at every attempt, so a rotated token is used from the next request on.
    if (exchange->options.trace != nullptr) {
      exchange->options.trace->kommo_requests.fetch_add(1);
      request.headers.emplace_back("X-Request-Id", exchange->options.trace->request_id);
    }
    request.headers.emplace_back(
        "Authorization",
        absl::StrCat("Bearer ", options_.token_source != nullptr ? options_.token_source->Token()
                                                                 : options_.access_token));
    exchange->phase = Exchange::Phase::kInFlight;
    ++exchange->attempts;
    ++stats_.requests;
    if (exchange->attempts == 1) {
      retry_budget_ =
          std::min(options_.retry_budget_max, retry_budget_ + options_.retry_budget_ratio);
    } else {
      ++stats_.retries;
      if (options_.metrics != nullptr) {
        options_.metrics->retries->Increment({{"endpoint", exchange->context.what}});
      }
    }
    exchange->sent_at = loop_->Now();
    exchange->transfer = transport_->Send(
        std::move(request), [this, exchange, capped_by_deadline](http::HttpResult result) {
          OnAttemptDone(exchange, std::move(result), capped_by_deadline);
        });
  }

  // Whether an attempt may be repeated, by what happened and what kind of request it was.
  bool Retryable(const Exchange& exchange, const http::HttpResult& result) const {
    const bool create = exchange.context.kind == RequestKind::kCreate;
    if (!result.response.ok()) {
      const absl::StatusCode code = result.response.status().code();
      if (code == absl::StatusCode::kCancelled || code == absl::StatusCode::kResourceExhausted ||
          code == absl::StatusCode::kFailedPrecondition) {
        return false;
      }
      return !create || !result.request_sent;  // a sent POST may have acted
    }
    const int status = result.response->status;
    if (status == 429) return true;  // Kommo did not act
    return !create && (status == 500 || status == 502 || status == 503 || status == 504);
  }

  void OnAttemptDone(const ExchangePtr& exchange, http::HttpResult result,
                     bool capped_by_deadline) {
    exchange->transfer = 0;
    if (exchange->phase != Exchange::Phase::kInFlight) return;
    const absl::Time now = loop_->Now();
    RecordAttempt(*exchange, result, now);
    std::optional<absl::Duration> hint;
    if (result.response.ok()) {
      const http::HttpResponse& response = *result.response;
      const bool blocked = response.status == 403 && !mapping::ParseProblem(response.body);
      if (blocked) {
        OpenCircuit();
      } else if (exchange->probe) {
        circuit_ = Circuit::kClosed;
        log::Info("Kommo answers again: circuit closed", {{"http_status", response.status}});
      }
      if (response.status == 429) {
        ++stats_.rate_limited;
        hint = RetryDelayOf(response, absl::Seconds(1));
        // The whole account is over its budget: every call waits, not only this one.
        limiter_.PauseUntil(now + *hint);
      }
    } else if (exchange->probe && circuit_ == Circuit::kProbing) {
      circuit_ = Circuit::kOpen;
      const absl::StatusCode code = result.response.status().code();
      const bool cut_short = code == absl::StatusCode::kCancelled ||
                             (code == absl::StatusCode::kDeadlineExceeded && capped_by_deadline);
      // A probe its caller cut short learned nothing: the next call probes. One that could not
      // connect waits a full period.
      circuit_open_until_ = cut_short ? now : now + options_.circuit_open_duration;
    }
    exchange->probe = false;

    const bool cancelled =
        exchange->options.cancel != nullptr && exchange->options.cancel->cancelled();
    if (!cancelled && Retryable(*exchange, result) && exchange->attempts < options_.max_attempts &&
        retry_budget_ >= 1) {
      const absl::Duration backoff = Backoff(exchange->attempts);
      const absl::Duration delay = hint.has_value() ? std::max(*hint, backoff) : backoff;
      if (now + delay < exchange->options.deadline) {
        retry_budget_ -= 1;
        exchange->phase = Exchange::Phase::kBackingOff;
        exchange->timer = loop_->RunAt(now + delay, [this, exchange] {
          if (exchange->phase != Exchange::Phase::kBackingOff) return;
          StartAttempt(exchange);
        });
        return;
      }
    }
    if (result.response.ok()) return Finish(exchange, std::move(result.response));
    const bool deadline_passed = now >= exchange->options.deadline ||
                                 (capped_by_deadline && result.response.status().code() ==
                                                            absl::StatusCode::kDeadlineExceeded);
    Finish(exchange, ErrorFromTransport(result.response.status(), result.request_sent,
                                        deadline_passed, exchange->context));
  }

  // Full jitter: uniform in [0, min(max_backoff, initial × 2^(attempt-1))].
  absl::Duration Backoff(int attempt) {
    absl::Duration cap = options_.initial_backoff;
    for (int i = 1; i < attempt && cap < options_.max_backoff; ++i) cap *= 2;
    cap = std::min(cap, options_.max_backoff);
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    return cap * uniform(random_);
  }

  void RecordAttempt(const Exchange& exchange, const http::HttpResult& result, absl::Time now) {
    if (options_.metrics == nullptr) return;
    std::string status;
    if (result.response.ok()) {
      status = absl::StrCat(result.response->status);
    } else {
      switch (result.response.status().code()) {
        case absl::StatusCode::kDeadlineExceeded:
          status = "timeout";
          break;
        case absl::StatusCode::kCancelled:
          status = "cancelled";
          break;
        default:
          status = "connection_error";
      }
    }
    options_.metrics->kommo_requests->Increment(
        {{"endpoint", exchange.context.what}, {"status", status}});
    options_.metrics->kommo_duration->Observe({{"endpoint", exchange.context.what}},
                                              absl::ToDoubleSeconds(now - exchange.sent_at));
    UpdateGauges();
  }

  void UpdateGauges() {
    if (options_.metrics == nullptr) return;
    options_.metrics->rate_limit_queue_depth.store(static_cast<int64_t>(limiter_.queue_depth()));
    options_.metrics->circuit_open.store(circuit_ != Circuit::kClosed ? 1 : 0);
  }

  void Cancel(const ExchangePtr& exchange) {
    switch (exchange->phase) {
      case Exchange::Phase::kWaitingSlot:
        limiter_.Cancel(exchange->ticket);
        return Finish(exchange, Cancelled(*exchange));
      case Exchange::Phase::kBackingOff:
        exchange->timer.reset();
        return Finish(exchange, Cancelled(*exchange));
      case Exchange::Phase::kInFlight:
        // The transport answers CANCELLED, telling whether the request was sent.
        transport_->Cancel(exchange->transfer);
        return;
      case Exchange::Phase::kIdle:
      case Exchange::Phase::kDone:
        return;
    }
  }

  void Finish(const ExchangePtr& exchange, absl::StatusOr<HttpResponse> result) {
    if (exchange->phase == Exchange::Phase::kDone) return;
    exchange->phase = Exchange::Phase::kDone;
    if (exchange->probe && circuit_ == Circuit::kProbing) {
      circuit_ = Circuit::kOpen;  // the probe never reached Kommo: the next call probes
      circuit_open_until_ = loop_->Now();
    }
    if (exchange->options.cancel != nullptr) exchange->options.cancel->ClearHook();
    UpdateGauges();
    ResponseDone done = std::move(exchange->done);
    done(std::move(result));
  }

  enum class Circuit { kClosed, kOpen, kProbing };

  KommoClientOptions options_;
  http::HttpTransport* transport_;
  EventLoop* loop_;
  RateLimiter limiter_;
  std::mt19937_64 random_;
  double retry_budget_ = 0;
  Circuit circuit_ = Circuit::kClosed;
  absl::Time circuit_open_until_ = absl::InfinitePast();
  KommoClientStats stats_;
};

Requester::Requester(const KommoClientOptions& options, http::HttpTransport* transport,
                     EventLoop* loop)
    : impl_(std::make_unique<Impl>(options, transport, loop)) {}

Requester::~Requester() = default;

void Requester::Send(RequestSpec spec, CallOptions options, ResponseDone done) {
  impl_->Send(std::move(spec), std::move(options), std::move(done));
}

absl::Time Requester::NextSlot() const { return impl_->NextSlot(); }

KommoClientStats Requester::Stats() const { return impl_->Stats(); }

}  // namespace kommo::rest
