// The account's catalogues: the time-to-live cache alone (Catalogue over a scripted load), then
// through the Kommo client over a fake transport on a fake clock: kept within the TTL, read again
// after it, on refresh and after InvalidateCatalogues, shared by concurrent callers, paged.

#include "server/kommo/catalogue.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/common/error_details.h"
#include "server/kommo/kommo_client.h"
#include "tests/support/fake_event_loop.h"
#include "tests/support/fake_transport.h"

namespace kommo::rest {
namespace {

using ::kommo::testing::FakeEventLoop;
using ::kommo::testing::FakeTransport;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// ---- Catalogue alone ----------------------------------------------------------------------------

class CatalogueTest : public ::testing::Test {
 protected:
  CatalogueTest()
      : catalogue_(&loop_, absl::Minutes(5), [this](CallOptions, Done<int> done) {
          ++loads_;
          pending_.push_back(std::move(done));
        }) {}

  // Gets the catalogue; the result lands in `out` when the load (if any) is answered.
  void Get(bool refresh, std::optional<absl::StatusOr<Fetched<int>>>& out) {
    catalogue_.Get(refresh, CallOptions{},
                   [&out](absl::StatusOr<Fetched<int>> result) { out = std::move(result); });
  }
  // Answers the oldest load still waiting.
  void Answer(absl::StatusOr<int> value) {
    ASSERT_FALSE(pending_.empty());
    Done<int> done = std::move(pending_.front());
    pending_.erase(pending_.begin());
    done(std::move(value));
  }

  FakeEventLoop loop_;
  int loads_ = 0;
  std::vector<Done<int>> pending_;
  Catalogue<int> catalogue_;
};

TEST_F(CatalogueTest, KeepsTheValueForTheTtlThenLoadsAgain) {
  std::optional<absl::StatusOr<Fetched<int>>> first;
  Get(false, first);
  EXPECT_EQ(loads_, 1);
  EXPECT_FALSE(first.has_value());
  Answer(7);
  ASSERT_TRUE(first.has_value() && first->ok());
  EXPECT_EQ((*first)->value, 7);

  loop_.Advance(absl::Minutes(5) - absl::Seconds(1));
  std::optional<absl::StatusOr<Fetched<int>>> kept;
  Get(false, kept);
  EXPECT_EQ(loads_, 1);
  ASSERT_TRUE(kept.has_value() && kept->ok());
  EXPECT_EQ((*kept)->value, 7);
  EXPECT_EQ((*kept)->fetch_time, (*first)->fetch_time);

  loop_.Advance(absl::Seconds(1));
  EXPECT_FALSE(catalogue_.fresh());
  std::optional<absl::StatusOr<Fetched<int>>> stale;
  Get(false, stale);
  EXPECT_EQ(loads_, 2);
  Answer(8);
  EXPECT_EQ((*stale)->value, 8);
}

TEST_F(CatalogueTest, RefreshAndInvalidateLoad) {
  std::optional<absl::StatusOr<Fetched<int>>> out;
  Get(false, out);
  Answer(1);
  Get(true, out);
  EXPECT_EQ(loads_, 2);
  Answer(2);
  EXPECT_EQ((*out)->value, 2);
  Get(false, out);
  EXPECT_EQ(loads_, 2);  // the refreshed value is kept
  EXPECT_EQ((*out)->value, 2);

  catalogue_.Invalidate();
  EXPECT_FALSE(catalogue_.fresh());
  Get(false, out);
  EXPECT_EQ(loads_, 3);
  Answer(3);
  EXPECT_EQ((*out)->value, 3);
}

TEST_F(CatalogueTest, AFailedLoadKeepsNothingAndTheOldValueStays) {
  std::optional<absl::StatusOr<Fetched<int>>> out;
  Get(false, out);
  Answer(1);
  Get(true, out);
  Answer(absl::UnavailableError("kommo down"));
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->status().code(), absl::StatusCode::kUnavailable);
  Get(false, out);
  EXPECT_EQ(loads_, 2);
  EXPECT_EQ((*out)->value, 1);

  catalogue_.Invalidate();
  Get(false, out);
  Answer(absl::UnavailableError("still down"));
  Get(false, out);
  EXPECT_EQ(loads_, 4);  // nothing kept: the next call tries again
}

TEST_F(CatalogueTest, ALoadUnderWayWhenInvalidatedIsAnsweredButNotKept) {
  std::optional<absl::StatusOr<Fetched<int>>> before;
  Get(false, before);
  catalogue_.Invalidate();
  Answer(1);
  ASSERT_TRUE(before.has_value() && before->ok());
  EXPECT_EQ((*before)->value, 1);
  EXPECT_FALSE(catalogue_.fresh());
  std::optional<absl::StatusOr<Fetched<int>>> after;
  Get(false, after);
  EXPECT_EQ(loads_, 2);
}

TEST(CatalogueZeroTtlTest, KeepsNothing) {
  FakeEventLoop loop;
  int loads = 0;
  Catalogue<int> catalogue(&loop, absl::ZeroDuration(), [&loads](CallOptions, Done<int> done) {
    ++loads;
    done(loads);
  });
  int last = 0;
  for (int i = 0; i < 3; ++i) {
    catalogue.Get(false, CallOptions{},
                  [&last](absl::StatusOr<Fetched<int>> got) { last = got.ok() ? got->value : -1; });
  }
  EXPECT_EQ(loads, 3);
  EXPECT_EQ(last, 3);
}

// ---- Through the Kommo client ------------------------------------------------------------------

constexpr char kBase[] = "https://acme.kommo.com/api/v4";

constexpr char kPipelines[] =
    R"({"_embedded":{"pipelines":[{"id":7000001,"name":"Sales","sort":1,"is_main":true,
        "_embedded":{"statuses":[{"id":61,"name":"Incoming","sort":10,"type":1},
                                 {"id":62,"name":"First","sort":20,"type":0},
                                 {"id":142,"name":"Won","sort":10000,"type":0},
                                 {"id":143,"name":"Lost","sort":11000,"type":0}]}}]}})";

std::string UserPage(int64_t first_id, int count, bool next) {
  std::string users;
  for (int i = 0; i < count; ++i) {
    absl::StrAppend(&users, i == 0 ? "" : ",", R"({"id":)", first_id + i,
                    R"(,"name":"u","rights":{"is_admin":false,"is_active":true}})");
  }
  return absl::StrCat(R"({"_links":{"self":{"href":"x"})", next ? R"(,"next":{"href":"y"})" : "",
                      R"(},"_embedded":{"users":[)", users, "]}}");
}

class CatalogueClientTest : public ::testing::Test {
 protected:
  CatalogueClientTest() : transport_(&loop_) {
    KommoClientOptions options;
    options.api_base_url = kBase;
    options.access_token = "secret-token";
    options.rate_limit_rps = 1000;
    options.rate_limit_burst = 100;
    options.random_seed = 42;
    options.catalogue_ttl = absl::Minutes(5);
    client_ = NewKommoClient(options, &transport_, &loop_);
  }

  CallOptions Deadline() { return {loop_.Now() + absl::Seconds(30), nullptr, nullptr}; }

  template <typename T>
  static Done<T> Into(std::optional<absl::StatusOr<T>>& out) {
    return [&out](absl::StatusOr<T> result) { out = std::move(result); };
  }

  std::vector<std::string> Urls() const {
    std::vector<std::string> urls;
    for (const auto& sent : transport_.sent()) urls.push_back(sent.request.url);
    return urls;
  }

  FakeEventLoop loop_;
  FakeTransport transport_;
  std::unique_ptr<KommoClient> client_;
};

TEST_F(CatalogueClientTest, PipelinesAreReadOnceWithinTheTtl) {
  transport_.ThenStatus(200, kPipelines);
  transport_.ThenStatus(200, kPipelines);
  std::optional<absl::StatusOr<Fetched<std::vector<v1::Pipeline>>>> first;
  client_->ListPipelines(false, Deadline(), Into(first));
  loop_.RunUntilIdle();
  ASSERT_TRUE(first.has_value() && first->ok()) << (first ? first->status().ToString() : "");
  ASSERT_EQ((*first)->value.size(), 1u);
  EXPECT_EQ((*first)->value[0].stages_size(), 4);
  EXPECT_EQ((*first)->value[0].stages(2).kind(), v1::STAGE_KIND_WON);

  loop_.Advance(absl::Minutes(4));
  std::optional<absl::StatusOr<Fetched<std::vector<v1::Pipeline>>>> second;
  client_->ListPipelines(false, Deadline(), Into(second));
  loop_.RunUntilIdle();
  ASSERT_TRUE(second.has_value() && second->ok());
  EXPECT_EQ((*second)->value[0].id(), 7000001);
  EXPECT_THAT(Urls(), ElementsAre(absl::StrCat(kBase, "/leads/pipelines")));

  loop_.Advance(absl::Minutes(1));
  std::optional<absl::StatusOr<Fetched<std::vector<v1::Pipeline>>>> third;
  client_->ListPipelines(false, Deadline(), Into(third));
  loop_.RunUntilIdle();
  ASSERT_TRUE(third.has_value() && third->ok());
  EXPECT_EQ(transport_.sent().size(), 2u);
}

TEST_F(CatalogueClientTest, ConcurrentCallersShareEveryPageOfTheUsers) {
  transport_.ThenStatus(200, UserPage(100, 250, true));
  transport_.ThenStatus(200, UserPage(350, 3, false));
  constexpr int kCallers = 20;
  std::vector<std::optional<absl::StatusOr<Fetched<std::vector<v1::User>>>>> results(kCallers);
  for (auto& result : results) client_->ListUsers(false, Deadline(), Into(result));
  loop_.RunUntilIdle();
  EXPECT_THAT(Urls(), ElementsAre(absl::StrCat(kBase, "/users?limit=250&page=1"),
                                  absl::StrCat(kBase, "/users?limit=250&page=2")));
  for (const auto& result : results) {
    ASSERT_TRUE(result.has_value() && result->ok());
    ASSERT_EQ((*result)->value.size(), 253u);
    EXPECT_EQ((*result)->value.back().id(), 352);
  }
}

TEST_F(CatalogueClientTest, RefreshAndInvalidateReadAgain) {
  const std::string fields = R"({"_embedded":{"custom_fields":[{"id":900001,"code":"PHONE",
      "type":"multitext","enums":[{"id":1,"value":"WORK","sort":2}]}]}})";
  for (int i = 0; i < 3; ++i) transport_.ThenStatus(200, fields);
  std::optional<absl::StatusOr<Fetched<std::vector<v1::CustomField>>>> out;
  client_->ListCustomFields(v1::ENTITY_TYPE_CONTACT, false, Deadline(), Into(out));
  loop_.RunUntilIdle();
  ASSERT_TRUE(out.has_value() && out->ok());
  EXPECT_EQ((*out)->value[0].entity_type(), v1::ENTITY_TYPE_CONTACT);
  EXPECT_EQ((*out)->value[0].type(), v1::CUSTOM_FIELD_TYPE_MULTITEXT);
  client_->ListCustomFields(v1::ENTITY_TYPE_CONTACT, false, Deadline(), Into(out));
  loop_.RunUntilIdle();
  EXPECT_EQ(transport_.sent().size(), 1u);

  client_->ListCustomFields(v1::ENTITY_TYPE_CONTACT, true, Deadline(), Into(out));
  loop_.RunUntilIdle();
  EXPECT_EQ(transport_.sent().size(), 2u);

  client_->InvalidateCatalogues();
  client_->ListCustomFields(v1::ENTITY_TYPE_CONTACT, false, Deadline(), Into(out));
  loop_.RunUntilIdle();
  ASSERT_TRUE(out->ok());
  EXPECT_EQ(transport_.sent().size(), 3u);
  EXPECT_EQ(transport_.sent().back().request.url,
            absl::StrCat(kBase, "/contacts/custom_fields?limit=250&page=1"));
}

TEST_F(CatalogueClientTest, EachEntityTypeHasItsOwnFields) {
  transport_.ThenStatus(200, R"({"_embedded":{"custom_fields":[{"id":1,"type":"select"}]}})");
  transport_.ThenStatus(200, R"({"_embedded":{"custom_fields":[{"id":2,"type":"url"}]}})");
  std::optional<absl::StatusOr<Fetched<std::vector<v1::CustomField>>>> leads;
  std::optional<absl::StatusOr<Fetched<std::vector<v1::CustomField>>>> companies;
  client_->ListCustomFields(v1::ENTITY_TYPE_LEAD, false, Deadline(), Into(leads));
  loop_.RunUntilIdle();
  client_->ListCustomFields(v1::ENTITY_TYPE_COMPANY, false, Deadline(), Into(companies));
  loop_.RunUntilIdle();
  EXPECT_THAT(Urls(),
              ElementsAre(absl::StrCat(kBase, "/leads/custom_fields?limit=250&page=1"),
                          absl::StrCat(kBase, "/companies/custom_fields?limit=250&page=1")));
  EXPECT_EQ((*leads)->value[0].id(), 1);
  EXPECT_EQ((*companies)->value[0].id(), 2);
  EXPECT_EQ((*companies)->value[0].entity_type(), v1::ENTITY_TYPE_COMPANY);

  std::optional<absl::StatusOr<Fetched<std::vector<v1::CustomField>>>> unset;
  client_->ListCustomFields(v1::ENTITY_TYPE_UNSPECIFIED, false, Deadline(), Into(unset));
  loop_.RunUntilIdle();
  EXPECT_EQ(unset->status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(transport_.sent().size(), 2u);
}

TEST_F(CatalogueClientTest, AccountAsksForTimeZoneAndGroups) {
  transport_.ThenStatus(200, R"({"id":31000001,"subdomain":"acme","_embedded":{
      "datetime_settings":{"timezone":"UTC","timezone_offset":"+00:00"},"users_groups":[]}})");
  std::optional<absl::StatusOr<Fetched<v1::Account>>> account;
  client_->GetAccount(false, Deadline(), Into(account));
  loop_.RunUntilIdle();
  ASSERT_TRUE(account.has_value() && account->ok());
  EXPECT_EQ((*account)->value.subdomain(), "acme");
  EXPECT_EQ((*account)->value.timezone(), "UTC");
  EXPECT_THAT(Urls(),
              ElementsAre(absl::StrCat(kBase, "/account?with=datetime_settings,users_groups")));
}

TEST_F(CatalogueClientTest, ANonAdminTokenIsFailedPreconditionAndNothingIsKept) {
  const std::string forbidden =
      R"({"title":"Forbidden","type":"https://httpstatus.es/403","status":403,"detail":"x"})";
  transport_.ThenStatus(403, forbidden, {{"content-type", "application/problem+json"}});
  transport_.ThenStatus(200, UserPage(1, 1, false));
  std::optional<absl::StatusOr<Fetched<std::vector<v1::User>>>> out;
  client_->ListUsers(false, Deadline(), Into(out));
  loop_.RunUntilIdle();
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->status().code(), absl::StatusCode::kFailedPrecondition) << out->status();
  client_->ListUsers(false, Deadline(), Into(out));
  loop_.RunUntilIdle();
  ASSERT_TRUE(out->ok()) << out->status();
  EXPECT_EQ(transport_.sent().size(), 2u);
}

TEST_F(CatalogueClientTest, LossReasonsAndAnEndlessNextLinkIsAnError) {
  transport_.SetResponder([](const http::HttpRequest&) {
    http::HttpResponse response;
    response.status = 200;
    response.body =
        R"({"_links":{"next":{"href":"again"}},"_embedded":{"loss_reasons":[{"id":1,"name":"x"}]}})";
    return http::HttpResult{std::move(response), true};
  });
  std::optional<absl::StatusOr<Fetched<std::vector<v1::LossReason>>>> out;
  client_->ListLossReasons(false, Deadline(), Into(out));
  loop_.RunUntilIdle();
  ASSERT_TRUE(out.has_value());
  EXPECT_EQ(out->status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(out->status().message(), HasSubstr("more than 40 pages"));
  EXPECT_EQ(transport_.sent().size(), 40u);
  EXPECT_EQ(transport_.sent()[0].request.url,
            absl::StrCat(kBase, "/leads/loss_reasons?limit=250&page=1"));
}

}  // namespace
}  // namespace kommo::rest
