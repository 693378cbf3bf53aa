// AccountService end to end (ctest label `integration`): the service in-process against the
// emulator. Each test checks what the caller got and, through the emulator's request log, what
// Kommo was asked: a catalogue read within its time to live costs no Kommo request.

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "emulator/emulator.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "kommo/v1/account_service.grpc.pb.h"
#include "tests/support/service_stack.h"

namespace kommo {
namespace {

namespace emu = ::kommo::emulator;
using ::kommo::testing::CallError;
using ::kommo::testing::Inspect;
using ::kommo::testing::ServiceStack;
using ::testing::ElementsAre;

constexpr char kToken[] = "account-token";
constexpr char kManagerToken[] = "manager-token";

class AccountServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    emu::EmulatorOptions options;
    options.token = kToken;
    options.manager_token = kManagerToken;
    auto emulator = emu::Emulator::Start(options);
    ASSERT_TRUE(emulator.ok()) << emulator.status();
    emulator_ = std::move(*emulator);
    StartStack(kToken, absl::Minutes(5));
  }

  void TearDown() override {
    account_.reset();
    stack_.reset();
    if (emulator_) emulator_->Stop();
  }

  void StartStack(const std::string& token, absl::Duration ttl) {
    account_.reset();
    stack_.reset();
    rest::KommoClientOptions options =
        ServiceStack::FastOptions(emulator_->base_url() + "/api/v4", token);
    options.catalogue_ttl = ttl;
    stack_ = std::make_unique<ServiceStack>(std::move(options));
    account_ = v1::AccountService::NewStub(stack_->channel());
  }

  // GET requests the emulator received for `path` (without the query).
  size_t Gets(const std::string& path) {
    size_t count = 0;
    for (const emu::LoggedRequest& request : emulator_->requests()) {
      count += request.method == "GET" && request.path == path;
    }
    return count;
  }
  size_t AllRequests() { return emulator_->requests().size(); }

  template <typename Request, typename Response, typename Method>
  grpc::Status Call(Method method, const Request& request, Response* response) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    return ((*account_).*method)(&context, request, response);
  }

  grpc::Status Fields(v1::EntityType type, bool refresh, v1::ListCustomFieldsResponse* out) {
    v1::ListCustomFieldsRequest request;
    request.set_entity_type(type);
    request.set_refresh(refresh);
    return Call(&v1::AccountService::Stub::ListCustomFields, request, out);
  }

  std::unique_ptr<emu::Emulator> emulator_;
  std::unique_ptr<ServiceStack> stack_;
  std::unique_ptr<v1::AccountService::Stub> account_;
};

TEST_F(AccountServiceTest, GetAccountOnceThenFromTheCache) {
  v1::GetAccountResponse first;
  grpc::Status status =
      Call(&v1::AccountService::Stub::GetAccount, v1::GetAccountRequest(), &first);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(first.account().id(), emu::kAccountId);
  EXPECT_EQ(first.account().subdomain(), emu::kAccountSubdomain);
  EXPECT_EQ(first.account().current_user_id(), emu::kAdminUserId);
  EXPECT_EQ(first.account().currency(), "USD");
  EXPECT_EQ(first.account().timezone(), "UTC");
  EXPECT_EQ(first.account().timezone_offset(), "+00:00");
  ASSERT_EQ(first.account().user_groups_size(), 2);
  EXPECT_EQ(first.account().user_groups(1).id(), emu::kSalesGroupId);
  EXPECT_EQ(first.account().create_time().seconds(), emu::kAccountCreatedAt);
  EXPECT_GT(first.fetch_time().seconds(), 0);
  ASSERT_EQ(Gets("/api/v4/account"), 1u);
  const std::vector<emu::LoggedRequest> log = emulator_->requests();
  ASSERT_EQ(log.size(), 1u);
  ASSERT_EQ(log[0].query.size(), 1u);
  EXPECT_EQ(log[0].query[0].first, "with");
  EXPECT_EQ(log[0].query[0].second, "datetime_settings,users_groups");

  v1::GetAccountResponse second;
  status = Call(&v1::AccountService::Stub::GetAccount, v1::GetAccountRequest(), &second);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(second.account().id(), emu::kAccountId);
  EXPECT_EQ(second.fetch_time().seconds(), first.fetch_time().seconds());
  EXPECT_EQ(second.fetch_time().nanos(), first.fetch_time().nanos());
  EXPECT_EQ(AllRequests(), 1u);  // the second call cost no Kommo request
}

TEST_F(AccountServiceTest, PipelinesWithStagesAndTheirKindsAndRefresh) {
  v1::ListPipelinesResponse response;
  grpc::Status status =
      Call(&v1::AccountService::Stub::ListPipelines, v1::ListPipelinesRequest(), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.pipelines_size(), 2);
  const v1::Pipeline& main = response.pipelines(0);
  EXPECT_EQ(main.id(), emu::kMainPipelineId);
  EXPECT_EQ(main.name(), "Sales funnel");
  EXPECT_TRUE(main.is_main());
  std::vector<int64_t> ids;
  std::vector<v1::StageKind> kinds;
  for (const v1::Stage& stage : main.stages()) {
    ids.push_back(stage.id());
    kinds.push_back(stage.kind());
    EXPECT_EQ(stage.pipeline_id(), emu::kMainPipelineId);
  }
  EXPECT_THAT(ids,
              ElementsAre(emu::kMainPipelineIncomingStatusId, emu::kMainPipelineFirstStatusId,
                          emu::kMainPipelineSecondStatusId, emu::kWonStatusId, emu::kLostStatusId));
  EXPECT_THAT(kinds, ElementsAre(v1::STAGE_KIND_INCOMING, v1::STAGE_KIND_ORDINARY,
                                 v1::STAGE_KIND_ORDINARY, v1::STAGE_KIND_WON, v1::STAGE_KIND_LOST));
  EXPECT_EQ(main.stages(1).name(), "Initial contact");
  EXPECT_EQ(response.pipelines(1).id(), emu::kSecondPipelineId);
  EXPECT_EQ(response.pipelines(1).stages(3).pipeline_id(), emu::kSecondPipelineId);
  EXPECT_EQ(Gets("/api/v4/leads/pipelines"), 1u);

  status = Call(&v1::AccountService::Stub::ListPipelines, v1::ListPipelinesRequest(), &response);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(response.pipelines_size(), 2);
  EXPECT_EQ(Gets("/api/v4/leads/pipelines"), 1u);

  v1::ListPipelinesRequest refresh;
  refresh.set_refresh(true);
  status = Call(&v1::AccountService::Stub::ListPipelines, refresh, &response);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(response.pipelines_size(), 2);
  EXPECT_EQ(Gets("/api/v4/leads/pipelines"), 2u);
  EXPECT_EQ(AllRequests(), 2u);
}

TEST_F(AccountServiceTest, UsersAndLossReasons) {
  v1::ListUsersResponse users;
  grpc::Status status = Call(&v1::AccountService::Stub::ListUsers, v1::ListUsersRequest(), &users);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(users.users_size(), 2);
  EXPECT_EQ(users.users(0).id(), emu::kAdminUserId);
  EXPECT_TRUE(users.users(0).is_admin());
  EXPECT_EQ(users.users(1).id(), emu::kManagerUserId);
  EXPECT_FALSE(users.users(1).is_admin());
  EXPECT_EQ(users.users(1).group_id(), emu::kSalesGroupId);

  v1::ListLossReasonsResponse reasons;
  status = Call(&v1::AccountService::Stub::ListLossReasons, v1::ListLossReasonsRequest(), &reasons);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(reasons.loss_reasons_size(), 3);
  EXPECT_EQ(reasons.loss_reasons(0).id(), emu::kLossTooExpensiveId);
  EXPECT_EQ(reasons.loss_reasons(0).name(), "Too expensive");
  EXPECT_EQ(reasons.loss_reasons(2).id(), emu::kLossNoAnswerId);

  status = Call(&v1::AccountService::Stub::ListUsers, v1::ListUsersRequest(), &users);
  ASSERT_TRUE(status.ok());
  status = Call(&v1::AccountService::Stub::ListLossReasons, v1::ListLossReasonsRequest(), &reasons);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(users.users_size(), 2);
  EXPECT_EQ(reasons.loss_reasons_size(), 3);
  EXPECT_EQ(Gets("/api/v4/users"), 1u);
  EXPECT_EQ(Gets("/api/v4/leads/loss_reasons"), 1u);
  EXPECT_EQ(AllRequests(), 2u);
}

TEST_F(AccountServiceTest, CustomFieldsOfEachEntityType) {
  v1::ListCustomFieldsResponse leads;
  grpc::Status status = Fields(v1::ENTITY_TYPE_LEAD, false, &leads);
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::vector<v1::CustomFieldType> types;
  for (const v1::CustomField& field : leads.custom_fields()) {
    types.push_back(field.type());
    EXPECT_EQ(field.entity_type(), v1::ENTITY_TYPE_LEAD);
  }
  EXPECT_THAT(types, ElementsAre(v1::CUSTOM_FIELD_TYPE_TEXT, v1::CUSTOM_FIELD_TYPE_NUMERIC,
                                 v1::CUSTOM_FIELD_TYPE_CHECKBOX, v1::CUSTOM_FIELD_TYPE_SELECT,
                                 v1::CUSTOM_FIELD_TYPE_MULTISELECT,
                                 v1::CUSTOM_FIELD_TYPE_RADIOBUTTON, v1::CUSTOM_FIELD_TYPE_DATE,
                                 v1::CUSTOM_FIELD_TYPE_DATE_TIME, v1::CUSTOM_FIELD_TYPE_BIRTHDAY,
                                 v1::CUSTOM_FIELD_TYPE_URL, v1::CUSTOM_FIELD_TYPE_TEXTAREA));
  EXPECT_EQ(leads.custom_fields(0).id(), emu::kUtmSourceFieldId);
  EXPECT_EQ(leads.custom_fields(0).code(), "UTM_SOURCE");
  const v1::CustomField& product = leads.custom_fields(3);
  EXPECT_EQ(product.id(), emu::kProductFieldId);
  EXPECT_TRUE(product.code().empty());
  ASSERT_EQ(product.enums_size(), 3);
  EXPECT_EQ(product.enums(1).id(), emu::kProductProEnumId);
  EXPECT_EQ(product.enums(1).value(), "Pro");

  v1::ListCustomFieldsResponse contacts;
  ASSERT_TRUE(Fields(v1::ENTITY_TYPE_CONTACT, false, &contacts).ok());
  ASSERT_EQ(contacts.custom_fields_size(), 5);
  EXPECT_EQ(contacts.custom_fields(0).code(), "PHONE");
  EXPECT_EQ(contacts.custom_fields(0).type(), v1::CUSTOM_FIELD_TYPE_MULTITEXT);
  EXPECT_EQ(contacts.custom_fields(0).enums(2).id(), emu::kPhoneMobEnumId);
  EXPECT_EQ(contacts.custom_fields(2).code(), "POSITION");
  EXPECT_EQ(contacts.custom_fields(2).type(), v1::CUSTOM_FIELD_TYPE_TEXT);
  EXPECT_EQ(contacts.custom_fields(3).code(), "IM");
  EXPECT_EQ(contacts.custom_fields(3).enums(0).value(), "SKYPE");
  EXPECT_EQ(contacts.custom_fields(4).id(), emu::kContactBirthdayFieldId);
  EXPECT_EQ(contacts.custom_fields(4).type(), v1::CUSTOM_FIELD_TYPE_BIRTHDAY);

  v1::ListCustomFieldsResponse companies;
  ASSERT_TRUE(Fields(v1::ENTITY_TYPE_COMPANY, false, &companies).ok());
  ASSERT_EQ(companies.custom_fields_size(), 5);
  EXPECT_EQ(companies.custom_fields(2).code(), "WEB");
  EXPECT_EQ(companies.custom_fields(4).enums(0).id(), emu::kIndustryRetailEnumId);
  EXPECT_EQ(Gets("/api/v4/leads/custom_fields"), 1u);
  EXPECT_EQ(Gets("/api/v4/contacts/custom_fields"), 1u);
  EXPECT_EQ(Gets("/api/v4/companies/custom_fields"), 1u);

  // Within the TTL: from the cache. With refresh: from Kommo.
  ASSERT_TRUE(Fields(v1::ENTITY_TYPE_LEAD, false, &leads).ok());
  ASSERT_TRUE(Fields(v1::ENTITY_TYPE_COMPANY, false, &companies).ok());
  EXPECT_EQ(leads.custom_fields_size(), 11);
  EXPECT_EQ(AllRequests(), 3u);
  ASSERT_TRUE(Fields(v1::ENTITY_TYPE_LEAD, true, &leads).ok());
  EXPECT_EQ(leads.custom_fields_size(), 11);
  EXPECT_EQ(Gets("/api/v4/leads/custom_fields"), 2u);
  EXPECT_EQ(AllRequests(), 4u);
}

TEST_F(AccountServiceTest, AnUnsetEntityTypeIsRefusedBeforeKommo) {
  v1::ListCustomFieldsResponse response;
  const CallError error = Inspect(Fields(v1::ENTITY_TYPE_UNSPECIFIED, false, &response));
  EXPECT_EQ(error.code, grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(error.reason, "INVALID_FIELD");
  EXPECT_THAT(error.fields, ElementsAre("entity_type"));
  EXPECT_EQ(AllRequests(), 0u);
}

TEST_F(AccountServiceTest, ConcurrentCallersShareOneKommoRequest) {
  constexpr int kCallers = 16;
  std::vector<std::thread> threads;
  std::vector<grpc::Status> statuses(kCallers);
  std::vector<int> counts(kCallers);
  for (int i = 0; i < kCallers; ++i) {
    threads.emplace_back([this, i, &statuses, &counts] {
      v1::ListCustomFieldsResponse response;
      statuses[i] = Fields(v1::ENTITY_TYPE_LEAD, false, &response);
      counts[i] = response.custom_fields_size();
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int i = 0; i < kCallers; ++i) {
    EXPECT_TRUE(statuses[i].ok()) << statuses[i].error_message();
    EXPECT_EQ(counts[i], 11);
  }
  EXPECT_EQ(Gets("/api/v4/leads/custom_fields"), 1u);
  EXPECT_EQ(AllRequests(), 1u);
}

TEST_F(AccountServiceTest, AZeroTtlReadsKommoEveryTime) {
  StartStack(kToken, absl::ZeroDuration());
  v1::ListLossReasonsResponse reasons;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(
        Call(&v1::AccountService::Stub::ListLossReasons, v1::ListLossReasonsRequest(), &reasons)
            .ok());
  }
  EXPECT_EQ(Gets("/api/v4/leads/loss_reasons"), 3u);
}

TEST_F(AccountServiceTest, UsersNeedAnAdminTokenAndAFailureIsNotKept) {
  StartStack(kManagerToken, absl::Minutes(5));
  v1::ListUsersResponse users;
  for (int i = 0; i < 2; ++i) {
    const CallError error =
        Inspect(Call(&v1::AccountService::Stub::ListUsers, v1::ListUsersRequest(), &users));
    EXPECT_EQ(error.code, grpc::StatusCode::FAILED_PRECONDITION) << error.message;
  }
  EXPECT_EQ(Gets("/api/v4/users"), 2u);
  // What a manager may read still works.
  v1::GetAccountResponse account;
  ASSERT_TRUE(Call(&v1::AccountService::Stub::GetAccount, v1::GetAccountRequest(), &account).ok());
  EXPECT_EQ(account.account().current_user_id(), emu::kManagerUserId);
}

TEST_F(AccountServiceTest, HealthServesTheAccountService) {
  auto health = grpc::health::v1::Health::NewStub(stack_->channel());
  grpc::ClientContext context;
  grpc::health::v1::HealthCheckRequest request;
  request.set_service("kommo.v1.AccountService");
  grpc::health::v1::HealthCheckResponse response;
  ASSERT_TRUE(health->Check(&context, request, &response).ok());
  EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);
}

}  // namespace
}  // namespace kommo
