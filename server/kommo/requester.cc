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

// One logical request to Kommo and its attempts. Owned by `live_`; callbacks hold weak
// references. Loop thread only.
struct Requester::Exchange {
  // kWaitingShared: the local slot came; waiting for the budget shared with other replicas.
  enum class Phase { kIdle, kWaitingSlot, kWaitingShared, kInFlight, kBackingOff, kDone };

  Handle handle = 0;
  http::HttpRequest request;
  ErrorContext context;
  CallOptions options;
  ResponseDone done;
  Phase phase = Phase::kIdle;
  int attempts = 0;
  bool probe = false;  // this attempt tests whether Kommo still blocks the account
  RateLimiter::Ticket ticket = 0;
  SharedBudget::Ticket shared_ticket = 0;
  http::HttpTransport::RequestId transfer = 0;
  EventLoop::TimerPtr timer;  // the backoff before the next attempt
  absl::Time queued_at;       // when the current attempt asked for its rate-limit slot
  absl::Time sent_at;         // when the current attempt was handed to the transport
  absl::AnyInvocable<std::optional<absl::Time>(PreparedRequest&)> prepare;
  std::string path;  // kept for `prepare`, which may change it
  std::string params;
  bool priority = false;
  bool finish_in_flight = false;
  // Whose fair share pays for the request when not its trace's caller (PayFrom).
  std::optional<RateLimiter::Flow> payer;
};

Requester::Requester(const KommoClientOptions& options, http::HttpTransport* transport,
                     EventLoop* loop)
    : options_(options),
      transport_(transport),
      loop_(loop),
      limiter_(loop, RateLimiterOptions{options_.rate_limit_rps, options_.rate_limit_burst,
                                        options_.max_queue}),
      retry_(RetryPolicyOptions{options_.max_attempts, options_.initial_backoff,
                                options_.max_backoff, options_.retry_budget_ratio,
                                options_.retry_budget_max, options_.random_seed}),
      circuit_(options_.circuit_open_duration) {
  if (options_.shared_budget) {
    shared_ = options_.shared_budget(SharedBudgetParams{options_.account, options_.rate_limit_rps,
                                                        options_.rate_limit_burst, loop_});
  }
  if (shared_ != nullptr) {
    // Another replica saw the block page: this one's circuit opens too.
    shared_->SetBlockedListener([this](absl::Time until) {
      if (circuit_.OpenUntil(until)) {
        ++stats_.circuit_opened;
        log::Error(
            "Kommo blocks this account (HTML 403 seen by another replica): failing calls "
            "fast, probing again later",
            {{"account", options_.account},
             {"probe_after_s", absl::ToDoubleSeconds(until - loop_->Now())}});
      }
      UpdateGauges();
    });
  }
  // The account's gauges exist (at 0) from the start, so that a scrape shows every account.
  UpdateGauges();
}

Requester::~Requester() {
  for (auto& [handle, exchange] : live_) {
    if (exchange->phase == Exchange::Phase::kInFlight) transport_->Cancel(exchange->transfer);
    if (exchange->options.cancel != nullptr) exchange->options.cancel->ClearHook();
  }
}

namespace {

// Whose fair share of the rate limit pays for a request: the caller's; the anonymous flow's for a
// request made for no caller.
RateLimiter::Flow FlowOf(const CallTrace* trace) {
  RateLimiter::Flow flow;
  if (trace != nullptr) {
    flow.name = trace->caller;
    flow.weight = trace->weight;
  }
  return flow;
}

}  // namespace

absl::Time Requester::NextSlot(const CallTrace* trace) const {
  return limiter_.SlotFor(RateLimiter::Priority::kNormal, FlowOf(trace));
}
absl::Duration Requester::SlotInterval() const { return limiter_.interval(); }

bool Requester::PayFrom(Handle handle, const CallTrace* payer) {
  auto it = live_.find(handle);
  if (it == live_.end() || payer == nullptr) return false;
  ExchangePtr exchange = it->second;
  if (exchange->phase != Exchange::Phase::kWaitingSlot || exchange->ticket == 0 ||
      exchange->priority) {
    return false;
  }
  const RateLimiter::Flow flow = FlowOf(payer);
  if (limiter_.SlotFor(RateLimiter::Priority::kNormal, flow) >= limiter_.SlotOf(exchange->ticket)) {
    return false;
  }
  limiter_.Cancel(exchange->ticket);
  exchange->ticket = 0;
  exchange->payer = flow;
  StartAttempt(exchange);
  return true;
}

KommoClientStats Requester::Stats() const {
  KommoClientStats stats = stats_;
  stats.queue_depth = limiter_.queue_depth();
  stats.circuit_open = circuit_.open();
  stats.in_flight = live_.size();
  return stats;
}

Requester::Handle Requester::Send(RequestSpec spec, CallOptions options, ResponseDone done) {
  auto exchange = std::make_shared<Exchange>();
  exchange->handle = next_handle_++;
  exchange->request.method = spec.method;
  exchange->request.url =
      absl::StrCat(options_.api_base_url, spec.path, spec.params.empty() ? "" : "?", spec.params);
  exchange->request.body = std::move(spec.body);
  exchange->prepare = std::move(spec.prepare);
  if (exchange->prepare) {
    exchange->path = spec.path;
    exchange->params = spec.params;
  }
  exchange->priority = spec.priority;
  exchange->finish_in_flight = spec.finish_in_flight;
  exchange->context = std::move(spec.context);
  exchange->options = std::move(options);
  exchange->done = std::move(done);
  live_[exchange->handle] = exchange;
  std::weak_ptr<Exchange> weak = exchange;
  if (exchange->options.cancel != nullptr &&
      !exchange->options.cancel->SetHook(loop_, [this, weak] {
        if (ExchangePtr alive = weak.lock()) Cancel(alive);
      })) {
    Finish(exchange, Cancelled(*exchange));
    return exchange->handle;
  }
  StartAttempt(exchange);
  return exchange->handle;
}

void Requester::ExtendDeadline(Handle handle, absl::Time deadline) {
  auto it = live_.find(handle);
  if (it == live_.end()) return;
  Exchange& exchange = *it->second;
  if (deadline <= exchange.options.deadline) return;
  exchange.options.deadline = deadline;
  if (exchange.phase == Exchange::Phase::kWaitingSlot)
    limiter_.ExtendDeadline(exchange.ticket, deadline);
  if (exchange.phase == Exchange::Phase::kWaitingShared)
    shared_->ExtendDeadline(exchange.shared_ticket, deadline);
}

absl::Status Requester::Cancelled(const Exchange& exchange) const {
  // Only an attempt in flight can have reached Kommo; Cancel() handles that case through the
  // transport, so here nothing was sent.
  return ErrorFromTransport(absl::CancelledError("cancelled"), /*request_sent=*/false,
                            /*call_deadline_passed=*/false, exchange.context);
}

absl::Status Requester::DeadlineBeforeSending(const Exchange& exchange) const {
  return MakeError(absl::StatusCode::kDeadlineExceeded,
                   absl::StrCat("deadline exceeded before ", exchange.context.what,
                                exchange.attempts == 0 ? " was sent" : " could be retried"),
                   reason::kDeadlineExceeded);
}

absl::Status Requester::Rejected(const Exchange& exchange) const {
  absl::Status status = MakeError(
      absl::StatusCode::kUnavailable,
      absl::StrCat("Kommo is blocking this account's API access (HTML 403 after rate-limit "
                   "abuse); calls fail fast until a probe gets through. ",
                   exchange.context.what, " was not sent"),
      reason::kKommoAccountBlocked, {{"circuit", "open"}});
  SetRetryDelay(status, std::max(circuit_.open_until() - loop_->Now(), absl::Seconds(1)));
  return status;
}

void Requester::StartAttempt(const ExchangePtr& exchange) {
  if (exchange->phase == Exchange::Phase::kDone) return;
  if (loop_->Now() >= exchange->options.deadline) {
    return Finish(exchange, DeadlineBeforeSending(*exchange));
  }
  if (circuit_.Admit(loop_->Now(), /*sending=*/false) == CircuitBreaker::Admission::kReject) {
    ++stats_.circuit_rejections;
    return Finish(exchange, Rejected(*exchange));
  }
  exchange->phase = Exchange::Phase::kWaitingSlot;
  exchange->queued_at = loop_->Now();
  std::weak_ptr<Exchange> weak = exchange;
  const RateLimiter::Ticket ticket = limiter_.Acquire(
      exchange->options.deadline,
      [this, weak](absl::Status granted) {
        ExchangePtr alive = weak.lock();
        if (alive == nullptr) return;
        alive->ticket = 0;
        if (alive->phase != Exchange::Phase::kWaitingSlot) return;
        if (options_.metrics != nullptr && granted.ok()) {
          options_.metrics->rate_limit_wait->Observe(
              {{"account", options_.account}},
              absl::ToDoubleSeconds(loop_->Now() - alive->queued_at));
        }
        UpdateGauges();
        if (!granted.ok()) return Finish(alive, std::move(granted));
        if (shared_ != nullptr) return AcquireShared(alive);
        SendAttempt(alive);
      },
      exchange->priority ? RateLimiter::Priority::kFirst : RateLimiter::Priority::kNormal,
      exchange->payer.has_value() ? *exchange->payer : FlowOf(exchange->options.trace.get()));
  if (ticket != 0) exchange->ticket = ticket;
  UpdateGauges();
}

void Requester::AcquireShared(const ExchangePtr& exchange) {
  exchange->phase = Exchange::Phase::kWaitingShared;
  std::weak_ptr<Exchange> weak = exchange;
  exchange->shared_ticket = shared_->Acquire(
      exchange->options.deadline, exchange->priority, [this, weak](absl::Status granted) {
        ExchangePtr alive = weak.lock();
        if (alive == nullptr || alive->phase != Exchange::Phase::kWaitingShared) return;
        alive->shared_ticket = 0;
        if (granted.ok()) return SendAttempt(alive);
        // A block another replica saw has opened the circuit: this request fails as any would.
        if (circuit_.Admit(loop_->Now(), /*sending=*/false) == CircuitBreaker::Admission::kReject) {
          ++stats_.circuit_rejections;
          return Finish(alive, Rejected(*alive));
        }
        Finish(alive, std::move(granted));
      });
}

void Requester::SendAttempt(const ExchangePtr& exchange) {
  absl::Duration left = exchange->options.deadline - loop_->Now();
  if (left <= absl::ZeroDuration()) return Finish(exchange, DeadlineBeforeSending(*exchange));
  const CircuitBreaker::Admission admission = circuit_.Admit(loop_->Now(), /*sending=*/true);
  if (admission == CircuitBreaker::Admission::kReject) {
    ++stats_.circuit_rejections;
    return Finish(exchange, Rejected(*exchange));
  }
  exchange->probe = admission == CircuitBreaker::Admission::kProbe;
  if (exchange->attempts == 0 && exchange->prepare) {
    auto prepare = std::move(exchange->prepare);
    exchange->prepare = nullptr;
    PreparedRequest prepared{std::move(exchange->path), std::move(exchange->request.body),
                             std::move(exchange->params)};
    std::optional<absl::Time> deadline = prepare(prepared);
    if (!deadline.has_value()) return Finish(exchange, Cancelled(*exchange));
    exchange->request.body = std::move(prepared.body);
    exchange->request.url = absl::StrCat(options_.api_base_url, prepared.path,
                                         prepared.params.empty() ? "" : "?", prepared.params);
    // The request now serves the members it carries: their latest deadline is its own.
    exchange->options.deadline = *deadline;
    left = exchange->options.deadline - loop_->Now();
    if (left <= absl::ZeroDuration()) return Finish(exchange, DeadlineBeforeSending(*exchange));
  }
  const bool capped_by_deadline = !exchange->finish_in_flight && left < options_.request_timeout;
  http::HttpRequest request = exchange->request;
  request.timeout = capped_by_deadline ? left : options_.request_timeout;
  if (exchange->options.trace != nullptr) {
    exchange->options.trace->kommo_requests.fetch_add(1);
    request.headers.emplace_back("X-Request-Id", exchange->options.trace->request_id);
  }
  // Asked at every attempt, so a rotated token is used from the next request on.
  request.headers.emplace_back(
      "Authorization",
      absl::StrCat("Bearer ", options_.token_source != nullptr ? options_.token_source->Token()
                                                               : options_.access_token));
  exchange->phase = Exchange::Phase::kInFlight;
  ++exchange->attempts;
  ++stats_.requests;
  if (exchange->attempts == 1) {
    retry_.OnFirstAttempt();
  } else {
    ++stats_.retries;
    if (options_.metrics != nullptr) {
      options_.metrics->retries->Increment(
          {{"account", options_.account}, {"endpoint", exchange->context.what}});
    }
  }
  exchange->sent_at = loop_->Now();
  std::weak_ptr<Exchange> weak = exchange;
  exchange->transfer = transport_->Send(
      std::move(request), [this, weak, capped_by_deadline](http::HttpResult result) {
        if (ExchangePtr alive = weak.lock()) {
          OnAttemptDone(alive, std::move(result), capped_by_deadline);
        }
      });
}

void Requester::OnAttemptDone(const ExchangePtr& exchange, http::HttpResult result,
                              bool capped_by_deadline) {
  exchange->transfer = 0;
  if (exchange->phase != Exchange::Phase::kInFlight) return;
  const absl::Time now = loop_->Now();
  RecordAttempt(*exchange, result, now);
  std::optional<absl::Duration> hint;
  if (result.response.ok()) {
    const HttpResponse& response = *result.response;
    const bool blocked = response.status == 403 && !mapping::ParseProblem(response.body);
    if (blocked) {
      if (circuit_.OnBlocked(now)) {
        ++stats_.circuit_opened;
        log::Error("Kommo blocks this account (HTML 403): failing calls fast, probing again later",
                   {{"account", options_.account},
                    {"probe_after_s", absl::ToDoubleSeconds(options_.circuit_open_duration)}});
      }
      // Every replica's circuit opens until the same end.
      if (shared_ != nullptr) shared_->OnBlocked(circuit_.open_until());
    } else if (exchange->probe) {
      circuit_.OnProbeAnswered();
      if (shared_ != nullptr) shared_->OnUnblocked();
      log::Info("Kommo answers again: circuit closed",
                {{"account", options_.account}, {"http_status", response.status}});
    }
    if (response.status == 429) {
      ++stats_.rate_limited;
      absl::Duration pause = RetryDelayOf(response, absl::Seconds(1));
      if (pause > options_.max_rate_limit_pause) {
        log::Warning("Kommo asked for a longer pause than allowed; pausing for the cap",
                     {{"account", options_.account},
                      {"asked_s", absl::ToDoubleSeconds(pause)},
                      {"cap_s", absl::ToDoubleSeconds(options_.max_rate_limit_pause)}});
        pause = options_.max_rate_limit_pause;
      }
      hint = pause;
      // The whole account is over its budget: every call waits, not only this one.
      limiter_.PauseUntil(now + pause);
      // And every replica's, when the budget is shared.
      if (shared_ != nullptr) shared_->OnRateLimited(now + pause);
    }
  } else if (exchange->probe) {
    const absl::StatusCode code = result.response.status().code();
    circuit_.OnProbeFailed(now,
                           code == absl::StatusCode::kCancelled ||
                               (code == absl::StatusCode::kDeadlineExceeded && capped_by_deadline));
  }
  exchange->probe = false;
  if (options_.metrics != nullptr) {
    options_.metrics->circuit_open->Get({{"account", options_.account}})
        .store(circuit_.open() ? 1 : 0);
  }

  const bool cancelled =
      exchange->options.cancel != nullptr && exchange->options.cancel->cancelled();
  if (!cancelled && RetryPolicy::Retryable(exchange->context.kind, result)) {
    std::optional<absl::Duration> delay = retry_.NextDelay(exchange->attempts, hint);
    if (delay.has_value() && now + *delay < exchange->options.deadline) {
      exchange->phase = Exchange::Phase::kBackingOff;
      std::weak_ptr<Exchange> weak = exchange;
      exchange->timer = loop_->RunAt(now + *delay, [this, weak] {
        ExchangePtr alive = weak.lock();
        if (alive == nullptr || alive->phase != Exchange::Phase::kBackingOff) return;
        StartAttempt(alive);
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

void Requester::RecordAttempt(const Exchange& exchange, const http::HttpResult& result,
                              absl::Time now) {
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
      {{"account", options_.account}, {"endpoint", exchange.context.what}, {"status", status}});
  options_.metrics->kommo_duration->Observe(
      {{"account", options_.account}, {"endpoint", exchange.context.what}},
      absl::ToDoubleSeconds(now - exchange.sent_at));
  UpdateGauges();
}

void Requester::UpdateGauges() {
  if (options_.metrics == nullptr) return;
  const metrics::Labels account = {{"account", options_.account}};
  options_.metrics->rate_limit_queue_depth->Get(account).store(
      static_cast<int64_t>(limiter_.queue_depth()));
  options_.metrics->circuit_open->Get(account).store(circuit_.open() ? 1 : 0);
}

void Requester::Cancel(const ExchangePtr& exchange) {
  switch (exchange->phase) {
    case Exchange::Phase::kWaitingSlot:
      limiter_.Cancel(exchange->ticket);
      return Finish(exchange, Cancelled(*exchange));
    case Exchange::Phase::kWaitingShared:
      shared_->Cancel(exchange->shared_ticket);
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

void Requester::Finish(const ExchangePtr& exchange, absl::StatusOr<HttpResponse> result) {
  if (exchange->phase == Exchange::Phase::kDone) return;
  exchange->phase = Exchange::Phase::kDone;
  if (exchange->probe) {
    // The probe never reached Kommo: the next call probes.
    circuit_.OnProbeFailed(loop_->Now(), /*cut_short=*/true);
  }
  if (exchange->options.cancel != nullptr) exchange->options.cancel->ClearHook();
  UpdateGauges();
  ResponseDone done = std::move(exchange->done);
  live_.erase(exchange->handle);  // `exchange` (the caller's reference) keeps it alive for now
  done(std::move(result));
}

}  // namespace kommo::rest
