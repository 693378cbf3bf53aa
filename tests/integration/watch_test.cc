// WatchLeads and WatchContacts end to end (ctest label `integration`): the service in-process
// against the emulator's events API. Changes arrive in Kommo's order, a stream resumed by token
// after a restart repeats nothing and misses nothing, a token older than the history is
// OUT_OF_RANGE, and a 429 on the events poll delays changes without losing them.

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "emulator/emulator.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/watch/webhook_receiver.h"
#include "tests/support/service_stack.h"

namespace kommo {
namespace {

namespace emu = ::kommo::emulator;
using ::kommo::testing::Inspect;
using ::kommo::testing::ServiceStack;
using ::testing::ElementsAre;

constexpr char kToken[] = "watch-token";
constexpr char kSecret[] = "watch-webhook-secret-0001";

// What a test reads from a stream: the changes as "KIND:lead_id", and the last token.
struct Received {
  std::vector<std::string> changes;
  std::vector<v1::LeadChange> full;
  std::string last_token;
  int heartbeats = 0;
  grpc::Status status;  // set when the stream ended
};

class WatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    emu::EmulatorOptions options;
    options.token = kToken;
    auto emulator = emu::Emulator::Start(options);
    ASSERT_TRUE(emulator.ok()) << emulator.status();
    emulator_ = std::move(*emulator);
    StartStack();
  }

  void TearDown() override {
    webhooks_.reset();
    stack_.reset();
    if (emulator_) emulator_->Stop();
  }

  void StartStack(watch::WatchOptions watch_options = ServiceStack::FastWatchOptions()) {
    stack_.reset();
    stack_ = std::make_unique<ServiceStack>(
        ServiceStack::FastOptions(emulator_->base_url() + "/api/v4", kToken),
        http::CurlTransportOptions{}, std::move(watch_options));
  }

  int64_t NewLead(const std::string& name) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::CreateLeadRequest request;
    request.set_name(name);
    v1::CreateLeadResponse response;
    grpc::Status status = stack_->leads->CreateLead(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.lead().id();
  }

  void MoveLead(int64_t lead, int64_t status_id) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::UpdateLeadRequest request;
    request.set_lead_id(lead);
    request.set_pipeline_id(emu::kMainPipelineId);
    request.set_status_id(status_id);
    v1::UpdateLeadResponse response;
    grpc::Status status = stack_->leads->UpdateLead(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
  }

  // Reads the stream until `count` changes arrived or `patience` passed.
  // Cancels the stream after the last change wanted unless `keep_open`.
  static Received Read(grpc::ClientReader<v1::WatchLeadsResponse>& reader,
                       grpc::ClientContext& context, size_t count, Received so_far = {},
                       bool keep_open = false) {
    v1::WatchLeadsResponse response;
    while (so_far.changes.size() < count && reader.Read(&response)) {
      EXPECT_FALSE(response.resume_token().empty());
      so_far.last_token = response.resume_token();
      if (response.has_heartbeat()) {
        ++so_far.heartbeats;
        continue;
      }
      const v1::LeadChange& change = response.change();
      so_far.changes.push_back(
          absl::StrCat(v1::ChangeKind_Name(change.kind()).substr(12), ":", change.lead_id()));
      so_far.full.push_back(change);
    }
    if (so_far.changes.size() < count) {
      so_far.status = reader.Finish();
    } else if (!keep_open) {
      context.TryCancel();
    }
    return so_far;
  }

  // Opens WatchLeads and waits for its first response (the heartbeat that carries a token).
  std::unique_ptr<grpc::ClientReader<v1::WatchLeadsResponse>> Open(
      grpc::ClientContext& context, const v1::WatchLeadsRequest& request,
      std::string* first_token = nullptr, absl::Duration patience = absl::Seconds(15)) {
    context.set_deadline(absl::ToChronoTime(absl::Now() + patience));
    auto reader = stack_->leads->WatchLeads(&context, request);
    if (first_token != nullptr) {
      v1::WatchLeadsResponse first;
      EXPECT_TRUE(reader->Read(&first));
      EXPECT_TRUE(first.has_heartbeat());
      *first_token = first.resume_token();
    }
    return reader;
  }

  // The server's webhook receiver, wired as main.cc wires it, and Kommo (the emulator) told to
  // deliver to `path` (the secret path unless a test says otherwise).
  void StartWebhooks(const std::string& path = absl::StrCat("/kommo/webhook/", kSecret)) {
    EventLoop* loop = stack_->loop();
    watch::WatchHub* hub = stack_->watch_hub();
    auto receiver = watch::WebhookReceiver::Start(
        {"127.0.0.1:0", kSecret}, [this, loop, hub](const watch::WebhookDelivery& delivery) {
          deliveries_ += static_cast<int>(delivery.count() > 0);
          loop->Post([hub] { hub->PollSoon(); });
        });
    ASSERT_TRUE(receiver.ok()) << receiver.status();
    webhooks_ = std::move(*receiver);
    ASSERT_TRUE(emulator_
                    ->AddWebhook(absl::StrCat("http://127.0.0.1:", webhooks_->port(), path),
                                 {"add_lead", "update_lead", "status_lead"})
                    .ok());
  }

  // The streams registered with the server's poller (read on its loop).
  size_t Watchers() {
    std::promise<size_t> count;
    watch::WatchHub* hub = stack_->watch_hub();
    stack_->loop()->Post([hub, &count] { count.set_value(hub->watchers()); });
    return count.get_future().get();
  }

  // Polls that only the interval would start come after the test (a minute): what arrives sooner
  // came through a webhook.
  static watch::WatchOptions SlowPolls(absl::Duration interval = absl::Minutes(1)) {
    watch::WatchOptions options = ServiceStack::FastWatchOptions();
    options.poll_interval = interval;
    options.min_poll_gap = absl::Milliseconds(100);
    return options;
  }

  std::unique_ptr<emu::Emulator> emulator_;
  std::unique_ptr<ServiceStack> stack_;
  std::unique_ptr<watch::WebhookReceiver> webhooks_;
  std::atomic<int> deliveries_{0};
};

TEST_F(WatchTest, ChangesArriveInKommosOrderWithBeforeAndAfter) {
  grpc::ClientContext context;
  v1::WatchLeadsRequest request;
  request.set_include_entity(true);
  std::string token;
  auto reader = Open(context, request, &token);
  EXPECT_FALSE(token.empty());

  const int64_t lead = NewLead("Watched deal");
  MoveLead(lead, emu::kMainPipelineSecondStatusId);
  Received got = Read(*reader, context, 2);
  ASSERT_THAT(got.changes,
              ElementsAre(absl::StrCat("CREATED:", lead), absl::StrCat("STAGE_CHANGED:", lead)))
      << got.status.error_message();
  const v1::LeadChange& moved = got.full[1];
  EXPECT_EQ(moved.event_type(), "lead_status_changed");
  EXPECT_EQ(moved.stage_before().status_id(), emu::kMainPipelineFirstStatusId);
  EXPECT_EQ(moved.stage_after().status_id(), emu::kMainPipelineSecondStatusId);
  EXPECT_EQ(moved.stage_after().pipeline_id(), emu::kMainPipelineId);
  EXPECT_EQ(moved.lead().id(), lead);  // include_entity: the lead as it is now
  EXPECT_EQ(moved.lead().status_id(), emu::kMainPipelineSecondStatusId);
  EXPECT_EQ(moved.lead().name(), "Watched deal");
  EXPECT_EQ(moved.event_id().size(), 26u);
}

TEST_F(WatchTest, DeletesRestoresAndNotesAreReported) {
  grpc::ClientContext context;
  v1::WatchLeadsRequest request;
  request.set_include_entity(true);
  auto reader = Open(context, request, nullptr);
  const int64_t lead = NewLead("Short-lived");
  // Kommo's UI deletes and restores (API v4 cannot): the emulator's admin API does as Kommo does.
  ASSERT_TRUE(emulator_->DeleteEntity("leads", lead).ok());
  ASSERT_TRUE(emulator_->RestoreEntity("leads", lead).ok());
  {
    grpc::ClientContext note_context;
    note_context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::AddNoteRequest note;
    note.set_entity_type(v1::ENTITY_TYPE_LEAD);
    note.set_entity_id(lead);
    note.set_text("Called back");
    v1::AddNoteResponse added;
    grpc::Status status = stack_->notes->AddNote(&note_context, note, &added);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  Received got = Read(*reader, context, 4);
  ASSERT_THAT(got.changes,
              ElementsAre(absl::StrCat("CREATED:", lead), absl::StrCat("DELETED:", lead),
                          absl::StrCat("RESTORED:", lead), absl::StrCat("NOTE_ADDED:", lead)))
      << got.status.error_message();
  EXPECT_FALSE(got.full[1].has_lead());  // a deleted lead is not read
  EXPECT_EQ(got.full[2].lead().id(), lead);
  EXPECT_EQ(got.full[3].event_type(), "common_note_added");
}

TEST_F(WatchTest, FiltersByKindAndStage) {
  grpc::ClientContext context;
  v1::WatchLeadsRequest request;
  request.add_kinds(v1::CHANGE_KIND_STAGE_CHANGED);
  v1::PipelineStage* won = request.add_stages();
  won->set_pipeline_id(emu::kMainPipelineId);
  won->set_status_id(emu::kWonStatusId);
  auto reader = Open(context, request, nullptr);
  const int64_t a = NewLead("A");
  const int64_t b = NewLead("B");
  MoveLead(a, emu::kMainPipelineSecondStatusId);  // not into won: filtered out
  MoveLead(b, emu::kWonStatusId);
  Received got = Read(*reader, context, 1);
  EXPECT_THAT(got.changes, ElementsAre(absl::StrCat("STAGE_CHANGED:", b)));
}

TEST_F(WatchTest, AResumedStreamRepeatsNothingAndMissesNothingAcrossARestart) {
  std::string token;
  int64_t first = 0;
  {
    grpc::ClientContext context;
    auto reader = Open(context, v1::WatchLeadsRequest(), nullptr);
    first = NewLead("First");
    MoveLead(first, emu::kMainPipelineSecondStatusId);
    Received got = Read(*reader, context, 1);
    ASSERT_THAT(got.changes, ElementsAre(absl::StrCat("CREATED:", first)));
    token = got.last_token;  // after the create; the stage change is not acknowledged
  }
  // The server restarts (a new history, filled from Kommo's events of the lookback); meanwhile
  // Kommo changes.
  stack_.reset();
  StartStack();
  const int64_t second = NewLead("Second");
  MoveLead(first, emu::kWonStatusId);

  grpc::ClientContext context;
  v1::WatchLeadsRequest resume;
  resume.set_resume_token(token);
  auto reader = Open(context, resume, nullptr);
  Received got = Read(*reader, context, 3);
  EXPECT_THAT(got.changes,
              ElementsAre(absl::StrCat("STAGE_CHANGED:", first), absl::StrCat("CREATED:", second),
                          absl::StrCat("STAGE_CHANGED:", first)))
      << got.status.error_message();
  ASSERT_EQ(got.full.size(), 3u);
  EXPECT_EQ(got.full[2].stage_after().status_id(), emu::kWonStatusId);
}

TEST_F(WatchTest, ATokenOlderThanTheHistoryIsOutOfRangeWithAFreshToken) {
  watch::WatchOptions small = ServiceStack::FastWatchOptions();
  small.history_size = 2;
  StartStack(small);
  std::string token;
  {
    grpc::ClientContext context;
    auto reader = Open(context, v1::WatchLeadsRequest(), &token);
    for (int i = 0; i < 4; ++i) NewLead(absl::StrCat("Lead ", i));
    Read(*reader, context, 4);
  }
  grpc::ClientContext context;
  v1::WatchLeadsRequest resume;
  resume.set_resume_token(token);
  auto reader = Open(context, resume, nullptr);
  v1::WatchLeadsResponse response;
  EXPECT_FALSE(reader->Read(&response));
  grpc::Status status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::OUT_OF_RANGE);
  EXPECT_EQ(Inspect(status).reason, "WATCH_HISTORY_EXPIRED");
  EXPECT_EQ(Inspect(status).metadata.count("resume_token"), 1u);
  // The cancelled first stream leaves the poller soon; the refused one never stays.
  size_t watchers = Watchers();
  for (int i = 0; i < 100 && watchers > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    watchers = Watchers();
  }
  EXPECT_EQ(watchers, 0u) << "an ended stream stays registered with the poller";

  // The fresh token works.
  grpc::ClientContext again;
  v1::WatchLeadsRequest from_fresh;
  from_fresh.set_resume_token(Inspect(status).metadata["resume_token"]);
  auto fresh = Open(again, from_fresh, nullptr);
  const int64_t lead = NewLead("After");
  Received got = Read(*fresh, again, 1);
  EXPECT_THAT(got.changes, ElementsAre(absl::StrCat("CREATED:", lead)));
}

TEST_F(WatchTest, A429OnTheEventsPollDelaysButLosesNothing) {
  grpc::ClientContext context;
  auto reader = Open(context, v1::WatchLeadsRequest(), nullptr);
  emu::FaultRule rule;
  rule.method = "GET";
  rule.path_prefix = "/api/v4/events";
  rule.action = emu::FaultAction::kStatus;
  rule.status = 429;
  rule.times = 2;
  ASSERT_TRUE(emulator_->AddFault(rule).ok());
  const int64_t lead = NewLead("Through a 429");
  Received got = Read(*reader, context, 1);
  EXPECT_THAT(got.changes, ElementsAre(absl::StrCat("CREATED:", lead)))
      << got.status.error_message();
  bool fired = false;
  for (const emu::FaultRuleState& state : emulator_->faults()) fired |= state.fired > 0;
  EXPECT_TRUE(fired);
}

TEST_F(WatchTest, BadRequestsAreRefusedBeforeAnyKommoRequest) {
  auto refused = [this](const v1::WatchLeadsRequest& request) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    auto reader = stack_->leads->WatchLeads(&context, request);
    v1::WatchLeadsResponse response;
    EXPECT_FALSE(reader->Read(&response));
    return reader->Finish();
  };
  v1::WatchLeadsRequest bad_token;
  bad_token.set_resume_token("not-a-token");
  grpc::Status status = refused(bad_token);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(Inspect(status).fields, ElementsAre("resume_token"));

  v1::WatchLeadsRequest bad_filters;
  bad_filters.add_kinds(v1::CHANGE_KIND_UNSPECIFIED);
  bad_filters.add_stages()->set_status_id(5);
  status = refused(bad_filters);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(Inspect(status).fields, ElementsAre("stages[0].pipeline_id", "kinds[0]"));

  uint64_t requests = 0;
  for (const emu::RequestCount& each : emulator_->request_counts()) requests += each.count;
  EXPECT_EQ(requests, 0u) << "Kommo was not asked";
}

TEST_F(WatchTest, WatchContactsReportsContacts) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(15));
  v1::WatchContactsRequest request;
  request.set_include_entity(true);
  auto reader = stack_->contacts->WatchContacts(&context, request);
  v1::WatchContactsResponse first;
  ASSERT_TRUE(reader->Read(&first));
  EXPECT_TRUE(first.has_heartbeat());
  NewLead("Not a contact");
  grpc::ClientContext create_context;
  create_context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::CreateContactRequest create;
  create.set_name("Watched person");
  create.set_responsible_user_id(emu::kAdminUserId);
  create.set_created_by(emu::kAdminUserId);
  v1::CreateContactResponse created;
  ASSERT_TRUE(stack_->contacts->CreateContact(&create_context, create, &created).ok());
  v1::WatchContactsResponse response;
  while (reader->Read(&response) && response.has_heartbeat()) {
  }
  ASSERT_TRUE(response.has_change());
  EXPECT_EQ(response.change().kind(), v1::CHANGE_KIND_CREATED);
  EXPECT_EQ(response.change().contact_id(), created.contact().id());
  EXPECT_EQ(response.change().contact().id(), created.contact().id());
  context.TryCancel();
}

TEST_F(WatchTest, AWebhookBringsTheChangeBeforeTheNextPollAndADuplicateIsDeliveredOnce) {
  StartStack(SlowPolls());
  StartWebhooks();
  grpc::ClientContext context;
  auto reader = Open(context, v1::WatchLeadsRequest(), nullptr, absl::Seconds(20));
  // The first poll has run (the stream's first heartbeat came after it); the next regular one is
  // a minute away, after this test's deadline.
  v1::WatchLeadsResponse first;
  ASSERT_TRUE(reader->Read(&first));
  ASSERT_TRUE(first.has_heartbeat());
  emu::WebhookFaultRule duplicate;
  duplicate.fault = emu::WebhookFault::kDuplicate;
  ASSERT_TRUE(emulator_->AddWebhookFault(duplicate).ok());
  const int64_t lead = NewLead("Via webhook");
  Received got = Read(*reader, context, 1, {}, /*keep_open=*/true);
  ASSERT_THAT(got.changes, ElementsAre(absl::StrCat("CREATED:", lead)))
      << got.status.error_message();
  // The duplicated delivery caused another poll, which found nothing new: the next change is the
  // next one Kommo recorded.
  const int64_t other = NewLead("Next");
  got = Read(*reader, context, 2, got);
  EXPECT_THAT(got.changes,
              ElementsAre(absl::StrCat("CREATED:", lead), absl::StrCat("CREATED:", other)));
  EXPECT_GE(deliveries_.load(), 2);
  bool duplicated = false;
  for (const emu::WebhookDelivery& delivery : emulator_->webhook_deliveries()) {
    duplicated |= delivery.duplicate_of != 0;
  }
  EXPECT_TRUE(duplicated);
}

TEST_F(WatchTest, ALostWebhookIsFilledInByThePoller) {
  StartStack(SlowPolls(absl::Seconds(2)));
  StartWebhooks();
  emu::WebhookFaultRule lost;
  lost.fault = emu::WebhookFault::kLost;
  lost.times = 0;  // every delivery
  ASSERT_TRUE(emulator_->AddWebhookFault(lost).ok());
  grpc::ClientContext context;
  auto reader = Open(context, v1::WatchLeadsRequest(), nullptr, absl::Seconds(20));
  const int64_t lead = NewLead("Lost webhook");
  Received got = Read(*reader, context, 1);
  EXPECT_THAT(got.changes, ElementsAre(absl::StrCat("CREATED:", lead)));
  EXPECT_EQ(deliveries_.load(), 0);
  bool lost_one = false;
  for (const emu::WebhookDelivery& delivery : emulator_->webhook_deliveries()) {
    lost_one |= delivery.state == emu::WebhookDelivery::State::kLost;
  }
  EXPECT_TRUE(lost_one);
}

TEST_F(WatchTest, ADeliveryWithoutTheSecretNeverReachesAWatcher) {
  StartStack(SlowPolls());
  StartWebhooks("/kommo/webhook/not-the-secret-000000");
  grpc::ClientContext context;
  auto reader = Open(context, v1::WatchLeadsRequest(), nullptr, absl::Seconds(4));
  v1::WatchLeadsResponse first;
  ASSERT_TRUE(reader->Read(&first));
  NewLead("Unseen");
  // Nothing but heartbeats until the deadline: the refused delivery started no poll.
  Received got = Read(*reader, context, 1);
  EXPECT_TRUE(got.changes.empty());
  EXPECT_EQ(got.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_EQ(deliveries_.load(), 0);
  bool refused = false;
  for (const emu::WebhookDelivery& delivery : emulator_->webhook_deliveries()) {
    for (const emu::WebhookAttempt& attempt : delivery.attempts) refused |= attempt.status == 404;
  }
  EXPECT_TRUE(refused);
}

}  // namespace
}  // namespace kommo
