#include "emulator/emulator.h"

#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <future>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "emulator/emulator_impl.h"
#include "emulator/text.h"

namespace kommo::emulator {
namespace {

constexpr std::string_view kAdminPrefix = "/_emulator/";

// Thousands of concurrent connections need more descriptors than the usual soft limit of 1024.
void RaiseFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

uint64_t SeedOf(uint64_t seed) {
  if (seed != 0) return seed;
  std::random_device random;
  return (static_cast<uint64_t>(random()) << 32) ^ random();
}

absl::Status ValidateOptions(const EmulatorOptions& options) {
  for (size_t i = 0; i < options.faults.size(); ++i) {
    if (absl::Status status = ValidateFaultRule(options.faults[i]); !status.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("fault rule ", i, ": ", status.message()));
    }
  }
  if (options.rate_limit.enabled) {
    if (absl::Status status = ValidateRateLimit(options.rate_limit); !status.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("rate limit: ", status.message()));
    }
  }
  if (absl::Status status = ValidateEventHistory(options.events); !status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("events: ", status.message()));
  }
  if (absl::Status status = ValidateWebhookOptions(options.webhooks); !status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("webhooks: ", status.message()));
  }
  return absl::OkStatus();
}

}  // namespace

// --- EmulatorImpl: the request path -------------------------------------------------------------

EmulatorImpl::EmulatorImpl(EmulatorOptions options, std::unique_ptr<EventLoop> loop)
    : options_(std::move(options)),
      loop_(std::move(loop)),
      faults_(SeedOf(options_.random_seed)),
      guard_(std::chrono::steady_clock::now()),
      log_(options_.request_log_limit),
      events_(options_.events, SeedOf(options_.random_seed)) {
  for (const FaultRule& rule : options_.faults) faults_.Add(rule);
  guard_.Configure(options_.rate_limit, std::chrono::steady_clock::now());
}

absl::Status EmulatorImpl::Listen() {
  HttpServerOptions server_options;
  server_options.max_body_bytes = options_.max_body_bytes;
  server_options.max_header_bytes = options_.max_header_bytes;
  server_options.max_connections = options_.max_connections;
  server_options.idle_timeout = options_.idle_timeout;
  server_options.tls_cert_file = options_.tls_cert_file;
  server_options.tls_key_file = options_.tls_key_file;
  absl::StatusOr<std::unique_ptr<HttpServer>> server =
      HttpServer::Create(loop_.get(), options_.listen, server_options,
                         [this](HttpRequest request, Responder responder) {
                           OnRequest(std::move(request), std::move(responder));
                         });
  if (!server.ok()) return server.status();
  server_ = *std::move(server);
  std::string host = server_->host();
  if (host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  if (host.find(':') != std::string::npos) host = absl::StrCat("[", host, "]");
  base_url_ = absl::StrCat(server_->tls() ? "https://" : "http://", host, ":", server_->port());
  webhooks_ = std::make_unique<WebhookDispatcher>(loop_.get(), options_.webhooks, base_url_,
                                                  options_.access_log);
  for (const WebhookFaultRule& rule : options_.webhook_faults) webhooks_->AddFault(rule);
  api_ = std::make_unique<KommoApi>(&store_, &options_, base_url_, &events_, webhooks_.get());
  return absl::OkStatus();
}

void EmulatorImpl::ResetAll() {
  const SteadyTime now = std::chrono::steady_clock::now();
  store_.Reset();
  store_.ClearDuplicateControl();
  events_.Clear();
  events_.Configure(options_.events, api_->Now());
  webhooks_->Reset(options_.webhooks, options_.webhook_faults);
  faults_.Clear();
  for (const FaultRule& rule : options_.faults) faults_.Add(rule);
  guard_ = AccountGuard(now);
  guard_.Configure(options_.rate_limit, now);
  log_.Clear();
}

absl::Status EmulatorImpl::DeleteOrRestore(std::string_view entity_type, int64_t id, bool restore) {
  const std::optional<EntityKind> kind = KindOfCollection(entity_type);
  if (!kind.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat("unknown entity type \"", AsAbsl(entity_type),
                                                   "\" (leads, contacts or companies)"));
  }
  // Moves `id` from one map to the other; false when it is not in `from`.
  const auto move = [id](auto& from, auto& to) {
    const auto it = from.find(id);
    if (it == from.end()) return false;
    to.emplace(id, std::move(it->second));
    from.erase(it);
    return true;
  };
  bool moved = false;
  switch (*kind) {
    case EntityKind::kLead:
      moved = restore ? move(store_.deleted_leads(), store_.leads())
                      : move(store_.leads(), store_.deleted_leads());
      break;
    case EntityKind::kContact:
      moved = restore ? move(store_.deleted_contacts(), store_.contacts())
                      : move(store_.contacts(), store_.deleted_contacts());
      break;
    case EntityKind::kCompany:
      moved = restore ? move(store_.deleted_companies(), store_.companies())
                      : move(store_.companies(), store_.deleted_companies());
      break;
  }
  if (!moved) {
    return absl::NotFoundError(
        absl::StrCat("no ", AsAbsl(entity_type), " ", id, restore ? " in the trash" : ""));
  }
  ChangeRecorder changes(&store_, kAdminUserId, events_.next_system_note_id());
  if (restore) {
    changes.Restored(*kind, id);
  } else {
    changes.Deleted(*kind, id);
  }
  api_->Commit(changes);
  return absl::OkStatus();
}

void EmulatorImpl::OnRequest(HttpRequest request, Responder responder) {
  ++requests_total_;
  if (request.path.compare(0, kAdminPrefix.size(), kAdminPrefix) == 0) {
    responder.Send(HandleAdmin(request));
    return;
  }
  const uint64_t sequence = log_.Begin(request, std::chrono::system_clock::now());
  RequestOutcome outcome;
  switch (guard_.Admit(std::chrono::steady_clock::now())) {
    case AccountGuard::Verdict::kBlocked:
      outcome.fault = "blocked";
      Finish(request, responder, NginxPage(403), sequence, outcome);
      return;
    case AccountGuard::Verdict::kRateLimited: {
      const RateLimitOptions& limit = guard_.options();
      outcome.fault = "rate_limited";
      Finish(request, responder,
             TooManyRequests(limit.html, limit.retry_after_seconds, limit.retry_after_header),
             sequence, outcome);
      return;
    }
    case AccountGuard::Verdict::kPass:
      break;
  }
  FaultDecision decision = faults_.Decide(request.method, request.path);
  if (decision.delay.count() > 0) {
    // A timer, not a sleeping thread. The request is answered (and a write applied) even if the
    // client has gone by then, as a real server would.
    auto waiting = std::make_shared<const HttpRequest>(std::move(request));
    loop_->RunAfter(decision.delay, [this, waiting, responder, decision, sequence] {
      Answer(*waiting, responder, decision, sequence);
    });
    return;
  }
  Answer(request, responder, decision, sequence);
}

void EmulatorImpl::Answer(const HttpRequest& request, const Responder& responder,
                          const FaultDecision& decision, uint64_t sequence) {
  RequestOutcome outcome;
  outcome.delay = decision.delay;
  if (!decision.action.has_value() || decision.action->action == FaultAction::kLatency) {
    Finish(request, responder, api_->Handle(request), sequence, outcome);
    return;
  }
  const FaultRule& rule = *decision.action;
  outcome.fault = FaultActionName(rule.action);
  outcome.fault_id = decision.action_id;
  switch (rule.action) {
    case FaultAction::kStatus:
      if (rule.apply) api_->Handle(request);
      Finish(request, responder, InjectedStatus(rule, faults_.NextRandom()), sequence, outcome);
      return;
    case FaultAction::kReset:
      if (rule.apply) api_->Handle(request);
      outcome.delivered = false;
      log_.Complete(sequence, request, outcome);
      AccessLog(request, 0, outcome.fault);
      responder.Reset();
      return;
    case FaultAction::kMalformedJson:
    case FaultAction::kCutBody:
    case FaultAction::kSlowBody:
    case FaultAction::kLatency: {
      HttpResponse response = api_->Handle(request);
      if (rule.action == FaultAction::kMalformedJson) MalformBody(&response);
      if (rule.action == FaultAction::kCutBody) CutBody(rule, &response);
      if (rule.action == FaultAction::kSlowBody) SlowBody(rule, &response);
      Finish(request, responder, std::move(response), sequence, outcome);
      return;
    }
  }
}

void EmulatorImpl::Finish(const HttpRequest& request, const Responder& responder,
                          HttpResponse response, uint64_t sequence, RequestOutcome outcome) {
  outcome.status = response.status;
  outcome.delivered = responder.pending();
  log_.Complete(sequence, request, outcome);
  AccessLog(request, response.status, outcome.fault);
  responder.Send(std::move(response));
}

void EmulatorImpl::AccessLog(const HttpRequest& request, int status, std::string_view fault) const {
  if (!options_.access_log) return;
  // Method, path and status only: queries and bodies may hold contact data, headers the token.
  std::fprintf(stderr, "kommo-emulator: %s %s -> %d (request %s)%s%s\n", request.method.c_str(),
               request.path.c_str(), status, request.request_id.c_str(),
               fault.empty() ? "" : " fault ", std::string(fault).c_str());
}

// --- Emulator ----------------------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<Emulator>> Emulator::Start(EmulatorOptions options) {
  if (absl::Status status = ValidateOptions(options); !status.ok()) return status;
  RaiseFileLimit();
  absl::StatusOr<std::unique_ptr<EventLoop>> loop = EventLoop::Create();
  if (!loop.ok()) return loop.status();
  auto impl = std::make_unique<EmulatorImpl>(std::move(options), *std::move(loop));
  if (absl::Status status = impl->Listen(); !status.ok()) return status;
  std::unique_ptr<Emulator> emulator(new Emulator());
  emulator->port_ = impl->port();
  emulator->base_url_ = impl->base_url();
  emulator->impl_ = std::move(impl);
  EventLoop* loop_ptr = emulator->impl_->loop();
  emulator->thread_ = std::thread([loop_ptr] { loop_ptr->Run(); });
  return emulator;
}

Emulator::~Emulator() { Stop(); }

void Emulator::Stop() {
  if (stopped_) return;
  stopped_ = true;
  impl_->loop()->Quit();
  if (thread_.joinable()) thread_.join();
  impl_->CloseServer();  // the loop no longer runs: safe to close its sockets from here
}

void Emulator::RunOnLoop(const std::function<void()>& task) {
  if (stopped_) {
    task();
    return;
  }
  std::promise<void> done;
  impl_->loop()->Post([&] {
    task();
    done.set_value();
  });
  done.get_future().wait();
}

void Emulator::Reset() {
  RunOnLoop([this] { impl_->ResetAll(); });
}

void Emulator::ResetData() {
  RunOnLoop([this] {
    impl_->store().Reset();
    impl_->events().Clear();
  });
}

size_t Emulator::lead_count() {
  size_t count = 0;
  RunOnLoop([&] { count = impl_->store().leads().size(); });
  return count;
}

size_t Emulator::contact_count() {
  size_t count = 0;
  RunOnLoop([&] { count = impl_->store().contacts().size(); });
  return count;
}

size_t Emulator::company_count() {
  size_t count = 0;
  RunOnLoop([&] { count = impl_->store().companies().size(); });
  return count;
}

size_t Emulator::note_count() {
  size_t count = 0;
  RunOnLoop([&] { count = impl_->store().notes().size(); });
  return count;
}

size_t Emulator::task_count() {
  size_t count = 0;
  RunOnLoop([&] { count = impl_->store().tasks().size(); });
  return count;
}

size_t Emulator::unsorted_count() {
  size_t count = 0;
  RunOnLoop([&] {
    for (const UnsortedEntry& entry : impl_->store().unsorted()) {
      if (entry.state == UnsortedEntry::State::kPending) ++count;
    }
  });
  return count;
}

absl::Status Emulator::SetDuplicateControl(int64_t pipeline_id, bool enabled) {
  bool known = false;
  RunOnLoop([&] {
    known = impl_->store().FindPipeline(pipeline_id) != nullptr;
    if (known) impl_->store().set_duplicate_control(pipeline_id, enabled);
  });
  if (!known) return absl::InvalidArgumentError(absl::StrCat("unknown pipeline ", pipeline_id));
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> Emulator::AddFault(FaultRule rule) {
  if (absl::Status status = ValidateFaultRule(rule); !status.ok()) return status;
  uint64_t id = 0;
  RunOnLoop([&] { id = impl_->faults().Add(std::move(rule)); });
  return id;
}

bool Emulator::RemoveFault(uint64_t id) {
  bool removed = false;
  RunOnLoop([&] { removed = impl_->faults().Remove(id); });
  return removed;
}

void Emulator::ClearFaults() {
  RunOnLoop([this] { impl_->faults().Clear(); });
}

std::vector<FaultRuleState> Emulator::faults() {
  std::vector<FaultRuleState> rules;
  RunOnLoop([&] { rules = impl_->faults().rules(); });
  return rules;
}

absl::Status Emulator::SetRateLimit(RateLimitOptions options) {
  if (options.enabled) {
    if (absl::Status status = ValidateRateLimit(options); !status.ok()) return status;
  }
  RunOnLoop([&] { impl_->guard().Configure(options, std::chrono::steady_clock::now()); });
  return absl::OkStatus();
}

void Emulator::Block(std::chrono::milliseconds duration) {
  RunOnLoop([&] {
    impl_->guard().Block(std::chrono::steady_clock::now(), duration, "blocked by a test");
  });
}

void Emulator::Unblock() {
  RunOnLoop([this] { impl_->guard().Unblock(std::chrono::steady_clock::now()); });
}

bool Emulator::blocked() {
  bool is_blocked = false;
  RunOnLoop([&] { is_blocked = impl_->guard().blocked(std::chrono::steady_clock::now()); });
  return is_blocked;
}

size_t Emulator::event_count() {
  size_t count = 0;
  RunOnLoop([&] { count = impl_->events().size(); });
  return count;
}

absl::Status Emulator::SetEventHistory(EventHistoryOptions options) {
  if (absl::Status status = ValidateEventHistory(options); !status.ok()) return status;
  RunOnLoop([&] { impl_->events().Configure(options, impl_->api().Now()); });
  return absl::OkStatus();
}

void Emulator::ClearEvents() {
  RunOnLoop([this] { impl_->events().Clear(); });
}

absl::StatusOr<int64_t> Emulator::AddWebhook(const std::string& destination,
                                             const std::vector<std::string>& settings) {
  absl::StatusOr<LoopbackUrl> url = ParseLoopbackUrl(destination);
  if (!url.ok()) return url.status();
  if (settings.empty()) return absl::InvalidArgumentError("a webhook needs at least one setting");
  for (const std::string& setting : settings) {
    if (!IsWebhookSetting(setting)) {
      return absl::InvalidArgumentError(absl::StrCat("unknown webhook setting \"", setting, "\""));
    }
  }
  int64_t id = 0;
  bool full = false;
  RunOnLoop([&] {
    WebhookDispatcher& webhooks = impl_->webhooks();
    const bool exists = std::any_of(webhooks.webhooks().begin(), webhooks.webhooks().end(),
                                    [&](const Webhook& w) { return w.destination == destination; });
    full = !exists && webhooks.webhooks().size() >= static_cast<size_t>(kMaxWebhooks);
    if (!full) {
      id = webhooks
               .Subscribe(destination, *url, settings, std::nullopt, kAdminUserId,
                          impl_->api().Now())
               .id;
    }
  });
  if (full) {
    return absl::ResourceExhaustedError(
        absl::StrCat("an account can have at most ", kMaxWebhooks, " webhooks"));
  }
  return id;
}

bool Emulator::RemoveWebhook(const std::string& destination) {
  bool removed = false;
  RunOnLoop([&] { removed = impl_->webhooks().Unsubscribe(destination); });
  return removed;
}

absl::Status Emulator::SetWebhookOptions(WebhookOptions options) {
  if (absl::Status status = ValidateWebhookOptions(options); !status.ok()) return status;
  RunOnLoop([&] { impl_->webhooks().Configure(options); });
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> Emulator::AddWebhookFault(WebhookFaultRule rule) {
  if (rule.after < 0 || (rule.times.has_value() && *rule.times < 0)) {
    return absl::InvalidArgumentError("webhook fault: times and after must be >= 0");
  }
  uint64_t id = 0;
  RunOnLoop([&] { id = impl_->webhooks().AddFault(std::move(rule)); });
  return id;
}

void Emulator::ClearWebhookFaults() {
  RunOnLoop([this] { impl_->webhooks().ClearFaults(); });
}

std::vector<WebhookDelivery> Emulator::webhook_deliveries() {
  std::vector<WebhookDelivery> deliveries;
  RunOnLoop([&] { deliveries = impl_->webhooks().deliveries(); });
  return deliveries;
}

absl::Status Emulator::DeleteEntity(std::string_view entity_type, int64_t id) {
  absl::Status status;
  RunOnLoop([&] { status = impl_->DeleteOrRestore(entity_type, id, /*restore=*/false); });
  return status;
}

absl::Status Emulator::RestoreEntity(std::string_view entity_type, int64_t id) {
  absl::Status status;
  RunOnLoop([&] { status = impl_->DeleteOrRestore(entity_type, id, /*restore=*/true); });
  return status;
}

std::vector<LoggedRequest> Emulator::requests() {
  std::vector<LoggedRequest> entries;
  RunOnLoop([&] { entries = impl_->log().Entries(RequestFilter{}); });
  return entries;
}

std::vector<RequestCount> Emulator::request_counts() {
  std::vector<RequestCount> counts;
  RunOnLoop([&] { counts = impl_->log().Counts(); });
  return counts;
}

void Emulator::ClearRequests() {
  RunOnLoop([this] { impl_->log().Clear(); });
}

}  // namespace kommo::emulator
