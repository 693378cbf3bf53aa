// WatchLeads and WatchContacts end to end (ctest label `integration`): the service in-process
// against the emulator's events API. Changes arrive in Kommo's order, a stream resumed by token
// after a restart repeats nothing and misses nothing, a token older than the history is
// OUT_OF_RANGE, and a 429 on the events poll delays changes without losing them.

#include <grpcpp/grpcpp.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "emulator/emulator.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/service_stack.h"

namespace kommo {
namespace {

namespace emu = ::kommo::emulator;
using ::kommo::testing::Inspect;
using ::kommo::testing::ServiceStack;
using ::testing::ElementsAre;

constexpr char kToken[] = "watch-token";

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
  static Received Read(grpc::ClientReader<v1::WatchLeadsResponse>& reader,
                       grpc::ClientContext& context, size_t count, Received so_far = {}) {
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
    } else {
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

  std::unique_ptr<emu::Emulator> emulator_;
  std::unique_ptr<ServiceStack> stack_;
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
  ASSERT_THAT(got.changes, ElementsAre(absl::StrCat("CREATED:", lead),
                                       absl::StrCat("STAGE_CHANGED:", lead)))
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
  EXPECT_THAT(got.changes, ElementsAre(absl::StrCat("STAGE_CHANGED:", first),
                                       absl::StrCat("CREATED:", second),
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
  EXPECT_THAT(got.changes, ElementsAre(absl::StrCat("CREATED:", lead)));
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

}  // namespace
}  // namespace kommo
