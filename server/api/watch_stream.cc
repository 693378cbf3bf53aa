#include "server/api/watch_stream.h"

#include <algorithm>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/api/grpc_status.h"
#include "server/api/serve.h"
#include "server/api/validation.h"
#include "server/common/clock.h"
#include "server/common/error_details.h"
#include "server/watch/change_history.h"
#include "server/watch/watch_hub.h"

namespace kommo::api {
namespace {

using internal::Kind;
using internal::LogCall;
using internal::ParseRequest;
using internal::RequestIdFor;
using internal::WriteResponse;
using watch::Change;
using watch::ChangePtr;
using watch::EventKey;

// Changes looked at per step: their entities are read in one list request (Kommo lists 250).
constexpr size_t kChangesPerStep = 100;
// How long one entity read may take.
constexpr absl::Duration kReadDeadline = absl::Seconds(30);

struct Filter {
  std::set<int> kinds;
  std::vector<std::pair<int64_t, int64_t>> stages;  // (pipeline, status; 0: every stage)
  std::set<int64_t> responsible;
  bool include_entity = false;
};

bool StageMatches(const Filter& filter, int64_t pipeline_id, int64_t status_id) {
  for (const auto& [pipeline, status] : filter.stages) {
    if (pipeline == pipeline_id && (status == 0 || status == status_id)) return true;
  }
  return false;
}

// Responsible-user filter of a change, from the change itself when it is a change of
// responsible user, else from the entity read (nullptr: not read or gone, which matches).
bool ResponsibleMatches(const Filter& filter, const Change& change, const int64_t* current) {
  if (filter.responsible.empty()) return true;
  if (change.kind == v1::CHANGE_KIND_RESPONSIBLE_CHANGED) {
    const auto& before = change.event.responsible_before;
    const auto& after = change.event.responsible_after;
    return (before.has_value() && filter.responsible.count(*before) > 0) ||
           (after.has_value() && filter.responsible.count(*after) > 0);
  }
  return current == nullptr || filter.responsible.count(*current) > 0;
}

void SetStage(const std::optional<std::pair<int64_t, int64_t>>& stage, v1::PipelineStage* out) {
  out->set_pipeline_id(stage->first);
  out->set_status_id(stage->second);
}

// The filters both requests have.
template <typename Request>
Filter CommonFilterOf(const Request& request) {
  Filter filter;
  filter.kinds.insert(request.kinds().begin(), request.kinds().end());
  filter.responsible.insert(request.responsible_user_ids().begin(),
                            request.responsible_user_ids().end());
  filter.include_entity = request.include_entity();
  return filter;
}

// The members LeadChange and ContactChange share.
template <typename ChangeMessage>
void FillCommon(const Change& change, ChangeMessage* out) {
  out->set_kind(change.kind);
  out->mutable_change_time()->set_seconds(change.event.created_at);
  out->set_event_id(change.event.id);
  out->set_event_type(change.event.type);
  out->set_changed_by(change.event.created_by);
  out->set_responsible_user_before(change.event.responsible_before.value_or(0));
  out->set_responsible_user_after(change.event.responsible_after.value_or(0));
}

// ---- what differs between leads and contacts ----------------------------------------------------

struct LeadTraits {
  using Request = v1::WatchLeadsRequest;
  using Response = v1::WatchLeadsResponse;
  using Entity = v1::Lead;
  static constexpr char kEntityType[] = "lead";
  static constexpr char kMethod[] = "kommo.v1.LeadService/WatchLeads";

  static absl::Status Validate(const Request& request) { return ValidateWatchLeads(request); }

  static Filter FilterOf(const Request& request) {
    Filter filter = CommonFilterOf(request);
    for (const v1::PipelineStage& stage : request.stages()) {
      filter.stages.emplace_back(stage.pipeline_id(), stage.status_id());
    }
    return filter;
  }

  // Whether deciding or answering needs the lead as it is now.
  static bool NeedsEntity(const Filter& filter, const Change& change) {
    if (change.kind == v1::CHANGE_KIND_DELETED) return false;
    if (filter.include_entity) return true;
    if (!filter.stages.empty() && change.kind != v1::CHANGE_KIND_STAGE_CHANGED) return true;
    return !filter.responsible.empty() && change.kind != v1::CHANGE_KIND_RESPONSIBLE_CHANGED;
  }

  static bool Matches(const Filter& filter, const Change& change, const Entity* lead) {
    if (!filter.stages.empty()) {
      bool stage_ok = false;
      if (change.kind == v1::CHANGE_KIND_STAGE_CHANGED) {
        const auto& before = change.event.stage_before;
        const auto& after = change.event.stage_after;
        stage_ok = (before.has_value() && StageMatches(filter, before->first, before->second)) ||
                   (after.has_value() && StageMatches(filter, after->first, after->second));
      } else {
        stage_ok = lead == nullptr || StageMatches(filter, lead->pipeline_id(), lead->status_id());
      }
      if (!stage_ok) return false;
    }
    const int64_t responsible = lead != nullptr ? lead->responsible_user_id() : 0;
    return ResponsibleMatches(filter, change, lead != nullptr ? &responsible : nullptr);
  }

  static void Read(rest::KommoClient* client, const std::vector<int64_t>& ids,
                   rest::CallOptions options,
                   absl::AnyInvocable<void(absl::StatusOr<std::map<int64_t, Entity>>)> done) {
    rest::LeadsQuery query;
    query.ids = ids;
    query.limit = 250;
    client->ListLeads(query, std::move(options),
                      [done = std::move(done)](absl::StatusOr<rest::LeadPageResult> page) mutable {
                        if (!page.ok()) return done(page.status());
                        std::map<int64_t, Entity> found;
                        for (Entity& lead : page->leads) found.emplace(lead.id(), std::move(lead));
                        done(std::move(found));
                      });
  }

  static void Fill(Response& response, const Change& change, const Entity* lead) {
    v1::LeadChange* out = response.mutable_change();
    FillCommon(change, out);
    out->set_lead_id(change.event.entity_id);
    if (change.event.stage_before.has_value()) {
      SetStage(change.event.stage_before, out->mutable_stage_before());
    }
    if (change.event.stage_after.has_value()) {
      SetStage(change.event.stage_after, out->mutable_stage_after());
    }
    if (lead != nullptr) *out->mutable_lead() = *lead;
  }
};

struct ContactTraits {
  using Request = v1::WatchContactsRequest;
  using Response = v1::WatchContactsResponse;
  using Entity = v1::Contact;
  static constexpr char kEntityType[] = "contact";
  static constexpr char kMethod[] = "kommo.v1.ContactService/WatchContacts";

  static absl::Status Validate(const Request& request) { return ValidateWatchContacts(request); }

  static Filter FilterOf(const Request& request) { return CommonFilterOf(request); }

  static bool NeedsEntity(const Filter& filter, const Change& change) {
    if (change.kind == v1::CHANGE_KIND_DELETED) return false;
    if (filter.include_entity) return true;
    return !filter.responsible.empty() && change.kind != v1::CHANGE_KIND_RESPONSIBLE_CHANGED;
  }

  static bool Matches(const Filter& filter, const Change& change, const Entity* contact) {
    const int64_t responsible = contact != nullptr ? contact->responsible_user_id() : 0;
    return ResponsibleMatches(filter, change, contact != nullptr ? &responsible : nullptr);
  }

  static void Read(rest::KommoClient* client, const std::vector<int64_t>& ids,
                   rest::CallOptions options,
                   absl::AnyInvocable<void(absl::StatusOr<std::map<int64_t, Entity>>)> done) {
    client->GetContacts(
        ids, std::move(options),
        [done = std::move(done)](absl::StatusOr<std::vector<Entity>> contacts) mutable {
          if (!contacts.ok()) return done(contacts.status());
          std::map<int64_t, Entity> found;
          for (Entity& contact : *contacts) found.emplace(contact.id(), std::move(contact));
          done(std::move(found));
        });
  }

  static void Fill(Response& response, const Change& change, const Entity* contact) {
    v1::ContactChange* out = response.mutable_change();
    FillCommon(change, out);
    out->set_contact_id(change.event.entity_id);
    if (contact != nullptr) *out->mutable_contact() = *contact;
  }
};

// ---- one stream ---------------------------------------------------------------------------------

// The loop-side state of one stream. Every member is touched on the loop thread only; the
// reactor is called (StartWrite, Finish) only from there, and not after Finish.
template <typename Traits>
class WatchState : public std::enable_shared_from_this<WatchState<Traits>> {
 public:
  using Entity = typename Traits::Entity;

  WatchState(grpc::CallbackServerContext* context,
             grpc::ServerWriteReactor<grpc::ByteBuffer>* reactor, accounts::AccountPtr account,
             const ServiceOptions& options, Filter filter,
             std::optional<watch::Position> resume_from, std::shared_ptr<CallTrace> trace)
      : context_(context),
        reactor_(reactor),
        account_(std::move(account)),
        client_(account_->client),
        hub_(account_->watch_hub),
        loop_(options.loop),
        metrics_(options.metrics),
        heartbeat_interval_(options.watch_heartbeat_interval),
        filter_(std::move(filter)),
        resume_from_(std::move(resume_from)),
        trace_(std::move(trace)),
        started_(MonotonicNow()),
        opened_at_(absl::ToUnixSeconds(absl::Now())) {}

  void Start() {
    if (reactor_ == nullptr) return;  // cancelled before it started
    std::weak_ptr<WatchState> weak = this->weak_from_this();
    watcher_ = hub_->Subscribe(
        [weak] {
          if (auto self = weak.lock()) self->Pump();
        },
        [weak](absl::Status status) {
          if (auto self = weak.lock()) self->Started(status);
        });
    subscribed_ = true;
    // `Started` may have run inside Subscribe and ended the stream (a token out of range).
    if (reactor_ == nullptr) {
      hub_->Unsubscribe(watcher_);
      subscribed_ = false;
    }
  }

  void WriteDone(bool ok) {
    writing_ = false;
    if (!ok) return End(absl::CancelledError("the caller went away"));
    last_write_ = loop_->Now();
    WriteNext();
  }

  void Cancelled() { End(absl::CancelledError("the caller cancelled the stream")); }

 private:
  void Started(const absl::Status& status) {
    if (reactor_ == nullptr) return;
    if (!status.ok()) return End(status);
    const watch::ChangeHistory& history = hub_->history();
    epoch_ = history.epoch();
    if (resume_from_.has_value()) {
      absl::StatusOr<watch::ResumePoint> point = history.Resume(*resume_from_);
      if (!point.ok()) return End(point.status());
      cursor_ = point->after_seq;
      skip_by_key_ = point->skip_by_key;
      skip_through_ = point->skip_through;
    } else {
      // From the second the stream was opened: a change made after that but read by a poll that
      // ended later (the first poll, or one under way) is sent.
      cursor_ = history.LastSeqBefore(opened_at_);
    }
    ready_ = true;
    ScheduleHeartbeat();
    Pump();
    // A token at once, so that a caller who reconnects after this misses nothing.
    if (!resume_from_.has_value()) Heartbeat();
  }

  // Reads the next changes of the history, filters them, and queues their responses.
  void Pump() {
    if (reactor_ != nullptr && hub_->closing()) {
      return End(MakeError(absl::StatusCode::kUnavailable,
                           "the server is shutting down: resume from the last resume_token",
                           reason::kServerShuttingDown));
    }
    if (reactor_ == nullptr || !ready_ || writing_ || reading_ || !queue_.empty()) return;
    const watch::ChangeHistory& history = hub_->history();
    if (history.epoch() != epoch_) {
      // The replica went from the history shared through Redis to one of its own, or back: this
      // stream's places are in the other one.
      return End(absl::UnavailableError(
          "the change history this stream read was replaced (Redis became unavailable, or "
          "available again): resume from the last resume_token"));
    }
    if (cursor_ < history.last_seq()) {
      // Still in the history? (a slow stream may fall behind what it keeps)
      absl::StatusOr<watch::ResumePoint> held =
          history.Resume(watch::Position{history.epoch(), cursor_, {}});
      if (!held.ok()) return End(held.status());
    }
    while (reactor_ != nullptr && queue_.empty()) {
      std::vector<ChangePtr> batch = history.After(cursor_, kChangesPerStep);
      if (batch.empty()) return;
      const uint64_t through = batch.back()->seq;
      std::vector<ChangePtr> candidates;
      for (const ChangePtr& change : batch) {
        // A token of another history: what it delivered is not sent again.
        if (skip_by_key_ && !watch::KeyAfter(change->key(), skip_through_)) continue;
        if (change->event.entity_type != Traits::kEntityType) continue;
        if (!filter_.kinds.empty() && filter_.kinds.count(change->kind) == 0) continue;
        candidates.push_back(change);
      }
      std::vector<int64_t> read;
      for (const ChangePtr& change : candidates) {
        if (Traits::NeedsEntity(filter_, *change)) read.push_back(change->event.entity_id);
      }
      std::sort(read.begin(), read.end());
      read.erase(std::unique(read.begin(), read.end()), read.end());
      if (read.empty()) {
        Emit(candidates, {}, through);
        continue;
      }
      // At most kChangesPerStep ids: one list request.
      reading_ = true;
      std::weak_ptr<WatchState> weak = this->weak_from_this();
      rest::CallOptions call;
      call.deadline = loop_->Now() + kReadDeadline;
      call.trace = trace_;
      Traits::Read(client_, read, std::move(call),
                   [weak, candidates = std::move(candidates),
                    through](absl::StatusOr<std::map<int64_t, Entity>> found) mutable {
                     auto self = weak.lock();
                     if (self == nullptr) return;
                     self->reading_ = false;
                     if (!found.ok()) return self->End(found.status());
                     self->Emit(candidates, *found, through);
                     self->WriteNext();
                   });
      return;
    }
    WriteNext();
  }

  // Queues the responses of the candidates that pass the filters; the cursor moves to
  // `through`, the last change of the step (passed-over changes included).
  void Emit(const std::vector<ChangePtr>& candidates, const std::map<int64_t, Entity>& entities,
            uint64_t through) {
    if (reactor_ == nullptr) return;
    const watch::ChangeHistory& history = hub_->history();
    const uint64_t epoch = history.epoch();
    for (const ChangePtr& change : candidates) {
      // A deleted entity is not read: a read of the others may still find it (restored later).
      auto found = Traits::NeedsEntity(filter_, *change) ? entities.find(change->event.entity_id)
                                                         : entities.end();
      const Entity* entity = found != entities.end() ? &found->second : nullptr;
      if (!Traits::Matches(filter_, *change, entity)) continue;
      typename Traits::Response response;
      response.set_resume_token(watch::EncodeToken({epoch, change->seq, change->key()}));
      if (watch::KeyAfter(change->key(), sent_through_)) sent_through_ = change->key();
      Traits::Fill(response, *change, filter_.include_entity ? entity : nullptr);
      grpc::ByteBuffer buffer;
      WriteResponse(response, &buffer);
      queue_.push_back(std::move(buffer));
    }
    cursor_ = std::max(cursor_, through);
  }

  void WriteNext() {
    if (reactor_ == nullptr || writing_) return;
    if (queue_.empty()) return Pump();
    writing_ = true;
    buffer_ = std::move(queue_.front());
    queue_.pop_front();
    ++sent_;
    reactor_->StartWrite(&buffer_);
  }

  void ScheduleHeartbeat() {
    std::weak_ptr<WatchState> weak = this->weak_from_this();
    heartbeat_timer_ = loop_->RunAt(loop_->Now() + heartbeat_interval_ / 2, [weak] {
      auto self = weak.lock();
      if (self == nullptr) return;
      if (self->loop_->Now() - self->last_write_ >= self->heartbeat_interval_ / 2) {
        self->Heartbeat();
      }
      if (self->reactor_ != nullptr) self->ScheduleHeartbeat();
    });
  }

  // A heartbeat when the stream is caught up and idle: its token is the history's head.
  void Heartbeat() {
    if (reactor_ == nullptr || !ready_ || writing_ || reading_ || !queue_.empty()) return;
    const watch::ChangeHistory& history = hub_->history();
    if (history.epoch() != epoch_ || cursor_ != history.last_seq()) return;
    // Never behind a change this stream already sent (its key may be past the watermark), nor
    // behind the token it resumed from: a resume from the heartbeat sends neither again.
    watch::Position head = history.Head();
    if (watch::KeyAfter(sent_through_, head.key)) head.key = sent_through_;
    if (skip_by_key_ && watch::KeyAfter(skip_through_, head.key)) head.key = skip_through_;
    typename Traits::Response response;
    response.set_resume_token(watch::EncodeToken(head));
    response.mutable_heartbeat()->mutable_time()->set_seconds(history.watermark());
    grpc::ByteBuffer buffer;
    WriteResponse(response, &buffer);
    queue_.push_back(std::move(buffer));
    WriteNext();
  }

  void End(const absl::Status& status) {
    if (reactor_ == nullptr) return;
    if (subscribed_) hub_->Unsubscribe(watcher_);
    subscribed_ = false;
    heartbeat_timer_.reset();
    queue_.clear();
    const absl::Duration latency = MonotonicNow() - started_;
    LogCall(Traits::kMethod, Kind::kRead, status, latency, context_->IsCancelled(), 0, *trace_);
    if (metrics_ != nullptr) {
      metrics_->rpcs->Increment(
          {{"method", Traits::kMethod}, {"code", absl::StatusCodeToString(status.code())}});
      metrics_->rpcs_in_flight.Decrement();
    }
    grpc::ServerWriteReactor<grpc::ByteBuffer>* reactor = reactor_;
    reactor_ = nullptr;
    reactor->Finish(ToGrpcStatus(status));
  }

  grpc::CallbackServerContext* context_;
  grpc::ServerWriteReactor<grpc::ByteBuffer>* reactor_;
  accounts::AccountPtr account_;
  rest::KommoClient* client_;
  watch::WatchHub* hub_;
  EventLoop* loop_;
  metrics::ServiceMetrics* metrics_;
  absl::Duration heartbeat_interval_;
  Filter filter_;
  std::optional<watch::Position> resume_from_;
  std::shared_ptr<CallTrace> trace_;
  absl::Time started_;
  int64_t opened_at_;  // wall seconds: Kommo's time of "now" for a stream without a token
  watch::WatchHub::WatcherId watcher_ = 0;
  bool subscribed_ = false;
  bool ready_ = false;
  bool writing_ = false;
  bool reading_ = false;
  uint64_t cursor_ = 0;
  uint64_t epoch_ = 0;  // the history cursor_ is a place in
  bool skip_by_key_ = false;
  EventKey skip_through_;
  EventKey sent_through_;  // the highest key of a change this stream sent
  std::deque<grpc::ByteBuffer> queue_;
  grpc::ByteBuffer buffer_;
  absl::Time last_write_ = absl::InfinitePast();
  uint64_t sent_ = 0;
  EventLoop::TimerPtr heartbeat_timer_;
};

template <typename Traits>
class WatchReactor final : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  WatchReactor(EventLoop* loop) : loop_(loop) {}

  void Begin(std::shared_ptr<WatchState<Traits>> state) {
    state_ = state;
    loop_->Post([state = std::move(state)] { state->Start(); });
  }

  void OnWriteDone(bool ok) override {
    loop_->Post([state = state_, ok] { state->WriteDone(ok); });
  }
  void OnCancel() override {
    if (state_ != nullptr) loop_->Post([state = state_] { state->Cancelled(); });
  }
  void OnDone() override {
    // The state may outlive this reactor in tasks still queued on the loop; it never calls the
    // reactor after Finish, which came before this.
    if (state_ != nullptr) loop_->Post([state = std::move(state_)] {});
    delete this;
  }

 private:
  EventLoop* loop_;
  std::shared_ptr<WatchState<Traits>> state_;
};

template <typename Traits>
grpc::ServerWriteReactor<grpc::ByteBuffer>* Watch(grpc::CallbackServerContext* context,
                                                  const grpc::ByteBuffer* raw,
                                                  const ServiceOptions& options) {
  auto* reactor = new WatchReactor<Traits>(options.loop);
  auto trace = std::make_shared<CallTrace>();
  trace->request_id = RequestIdFor(context);
  context->AddInitialMetadata("x-request-id", trace->request_id);
  typename Traits::Request request;
  absl::Status status = internal::Authorize(context, options, Traits::kMethod, *trace);
  if (status.ok()) status = ParseRequest(*raw, request);
  // The stream holds its account to its end (its hub and client with it).
  accounts::AccountPtr account;
  if (status.ok()) {
    absl::StatusOr<accounts::AccountPtr> found = internal::AccountFor(context, options, *trace);
    if (found.ok()) {
      account = *std::move(found);
    } else {
      status = found.status();
    }
  }
  if (status.ok()) status = Traits::Validate(request);
  std::optional<watch::Position> resume_from;
  if (status.ok() && !request.resume_token().empty()) {
    absl::StatusOr<watch::Position> position = watch::DecodeToken(request.resume_token());
    if (position.ok()) {
      resume_from = *position;
    } else {
      status = position.status();
    }
  }
  if (status.ok() && (account->watch_hub == nullptr || options.loop == nullptr)) {
    status = absl::UnimplementedError("change streams are not available on this server");
  }
  if (!status.ok()) {
    LogCall(Traits::kMethod, Kind::kRead, status, absl::ZeroDuration(), false, 0, *trace);
    reactor->Finish(ToGrpcStatus(status));
    return reactor;
  }
  if (options.metrics != nullptr) options.metrics->rpcs_in_flight.Increment();
  reactor->Begin(std::make_shared<WatchState<Traits>>(context, reactor, std::move(account), options,
                                                      Traits::FilterOf(request),
                                                      std::move(resume_from), std::move(trace)));
  return reactor;
}

}  // namespace

grpc::ServerWriteReactor<grpc::ByteBuffer>* WatchLeadsStream(grpc::CallbackServerContext* context,
                                                             const grpc::ByteBuffer* request,
                                                             const ServiceOptions& options) {
  return Watch<LeadTraits>(context, request, options);
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* WatchContactsStream(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    const ServiceOptions& options) {
  return Watch<ContactTraits>(context, request, options);
}

}  // namespace kommo::api
