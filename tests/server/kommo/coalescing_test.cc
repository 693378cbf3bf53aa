// Coalescing: concurrent writes ride in one Kommo batch, matched back by request_id; their
// read-back is one list request; identical reads share one request. Driven over a fake transport
// that answers like Kommo, on a fake clock.

#include <algorithm>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/common/cancellation.h"
#include "server/common/error_details.h"
#include "server/kommo/kommo_client.h"
#include "tests/support/fake_event_loop.h"
#include "tests/support/fake_transport.h"
#include "tests/support/matches.h"

namespace kommo::rest {
namespace {

using ::kommo::testing::FakeEventLoop;
using ::kommo::testing::FakeTransport;
using ::testing::HasSubstr;

constexpr int64_t kIdBase = 31000000000;

std::vector<std::string> All(const std::string& text, const std::string& pattern) {
  return ::kommo::testing::AllMatches(text, pattern);
}

std::string LeadJson(int64_t id, const std::string& name) {
  return absl::StrCat(R"({"id":)", id, R"(,"name":")", name,
                      R"(","price":0,"status_id":60000002,"pipeline_id":7000001,)"
                      R"("created_at":1700000000,"updated_at":1700000000})");
}

class CoalescingTest : public ::testing::Test {
 protected:
  CoalescingTest() : transport_(&loop_) {
    KommoClientOptions options;
    options.api_base_url = "https://acme.kommo.com/api/v4";
    options.access_token = "t";
    options.rate_limit_rps = 2;
    options.coalesce_window = absl::Milliseconds(2);
    options.random_seed = 7;
    client_ = NewKommoClient(options, &transport_, &loop_);
    // Kommo as far as these tests need it: creates answer ids (in reverse order, so that
    // matching by position would be wrong), lists answer the ids asked for.
    transport_.SetResponder([this](const http::HttpRequest& request) -> http::HttpResult {
      http::HttpResponse response;
      response.status = 200;
      if (request.method != http::Method::kGet) {
        std::vector<std::string> items;
        for (const std::string& request_id : All(request.body, R"re("request_id":"(\d+)")re")) {
          const int64_t id =
              request.method == http::Method::kPost ? kIdBase + std::stoll(request_id) : 0;
          items.push_back(
              absl::StrCat(R"({"id":)", id, R"(,"request_id":")", request_id, R"(","_links":{}})"));
        }
        if (request.method == http::Method::kPatch) {
          items.clear();
          const auto ids = All(request.body, R"re("id":(\d+))re");
          const auto request_ids = All(request.body, R"re("request_id":"(\d+)")re");
          for (size_t i = 0; i < ids.size(); ++i) {
            items.push_back(absl::StrCat(R"({"id":)", ids[i], R"(,"request_id":")", request_ids[i],
                                         R"(","updated_at":1700000001})"));
          }
        }
        std::reverse(items.begin(), items.end());
        response.body =
            absl::StrCat(R"({"_embedded":{"leads":[)", absl::StrJoin(items, ","), "]}}");
        return {response, true};
      }
      const auto single = All(request.url, R"(/leads/(\d+))");
      if (!single.empty()) {
        response.body = LeadJson(std::stoll(single[0]), "got");
        return {response, true};
      }
      std::vector<std::string> leads;
      for (const std::string& id : All(request.url, R"(filter\[id\]\[\]=(\d+))")) {
        leads.push_back(LeadJson(std::stoll(id), absl::StrCat("lead ", id)));
      }
      if (leads.empty()) leads.push_back(LeadJson(kIdBase + 999, "searched"));
      response.body =
          absl::StrCat(R"({"_page":1,"_embedded":{"leads":[)", absl::StrJoin(leads, ","), "]}}");
      return {response, true};
    });
  }

  CallOptions Deadline(absl::Duration from_now) {
    return {loop_.Now() + from_now, nullptr, nullptr};
  }

  static v1::CreateLeadRequest Named(const std::string& name) {
    v1::CreateLeadRequest request;
    request.set_name(name);
    return request;
  }

  std::vector<const FakeTransport::Sent*> Sent(http::Method method) const {
    std::vector<const FakeTransport::Sent*> found;
    for (const auto& sent : transport_.sent()) {
      if (sent.request.method == method) found.push_back(&sent);
    }
    return found;
  }

  FakeEventLoop loop_;
  FakeTransport transport_;
  std::unique_ptr<KommoClient> client_;
};

TEST_F(CoalescingTest, ConcurrentCreatesShareOnePostAndOneReadBack) {
  std::vector<std::optional<absl::StatusOr<v1::Lead>>> results(5);
  for (int i = 0; i < 5; ++i) {
    client_->CreateLead(Named(absl::StrCat("Deal ", i)), Deadline(absl::Seconds(30)),
                        [&results, i](absl::StatusOr<v1::Lead> lead) { results[i] = lead; });
  }
  loop_.Advance(absl::Seconds(2));
  ASSERT_EQ(Sent(http::Method::kPost).size(), 1u);
  ASSERT_EQ(Sent(http::Method::kGet).size(), 1u);
  const std::string& body = Sent(http::Method::kPost)[0]->request.body;
  const auto request_ids = All(body, R"re("request_id":"(\d+)")re");
  ASSERT_EQ(request_ids.size(), 5u);
  EXPECT_EQ(std::set<std::string>(request_ids.begin(), request_ids.end()).size(), 5u);
  EXPECT_THAT(Sent(http::Method::kGet)[0]->request.url, HasSubstr("with=contacts"));
  // Each caller got the lead Kommo created for its own item, although Kommo answered in reverse.
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(results[i].has_value() && results[i]->ok()) << i;
    EXPECT_EQ((*results[i])->id(), kIdBase + std::stoll(request_ids[i])) << i;
  }
}

TEST_F(CoalescingTest, ALoneCallCostsOnlyTheWindow) {
  std::optional<absl::StatusOr<v1::Lead>> result;
  const absl::Time start = loop_.Now();
  client_->CreateLead(Named("alone"), Deadline(absl::Seconds(30)),
                      [&result](absl::StatusOr<v1::Lead> lead) { result = lead; });
  loop_.Advance(absl::Milliseconds(2));
  ASSERT_EQ(Sent(http::Method::kPost).size(), 1u);
  EXPECT_EQ(Sent(http::Method::kPost)[0]->at - start, absl::Milliseconds(2));
  loop_.Advance(absl::Seconds(1));
  EXPECT_TRUE(result.has_value() && result->ok());
}

TEST_F(CoalescingTest, ItemsThatQueueWhileABatchWaitsForItsSlotGoWithIt) {
  int done = 0;
  for (int i = 0; i < 3; ++i) {
    client_->CreateLead(Named(absl::StrCat("a", i)), Deadline(absl::Seconds(60)),
                        [&done](absl::StatusOr<v1::Lead> lead) { done += lead.ok(); });
  }
  loop_.Advance(absl::Milliseconds(10));  // batch 1 sent at once (free budget)
  // The next 120 calls arrive while batch 1's read-back and batch 2 wait for their slots.
  for (int i = 0; i < 120; ++i) {
    client_->CreateLead(Named(absl::StrCat("b", i)), Deadline(absl::Seconds(60)),
                        [&done](absl::StatusOr<v1::Lead> lead) { done += lead.ok(); });
  }
  loop_.Advance(absl::Seconds(20));
  EXPECT_EQ(done, 123);
  // 1 + ceil(120 / 50) = 4 POSTs (at most 50 items each). Two read-backs: batch 1's at once
  // (nothing else was under way when it was answered), and one shared by batches 2 to 4 (120 ids:
  // it held while more of them were pending or in flight).
  const auto posts = Sent(http::Method::kPost);
  ASSERT_EQ(posts.size(), 4u);
  EXPECT_EQ(All(posts[0]->request.body, R"re("request_id":"(\d+)")re").size(), 3u);
  EXPECT_EQ(All(posts[1]->request.body, R"re("request_id":"(\d+)")re").size(), 50u);
  EXPECT_EQ(All(posts[3]->request.body, R"re("request_id":"(\d+)")re").size(), 20u);
  const auto gets = Sent(http::Method::kGet);
  ASSERT_EQ(gets.size(), 2u);
  EXPECT_EQ(All(gets[0]->request.url, R"re(filter\[id\]\[\]=(\d+))re").size(), 3u);
  EXPECT_EQ(All(gets[1]->request.url, R"re(filter\[id\]\[\]=(\d+))re").size(), 120u);
  // Still within the account's 2 requests/s.
  for (size_t i = 1; i < transport_.sent().size(); ++i) {
    EXPECT_GE(transport_.sent()[i].at - transport_.sent()[i - 1].at, absl::Milliseconds(500));
  }
}

TEST_F(CoalescingTest, OneInvalidItemFailsAloneAndTheOthersAreSentAgain) {
  // A fresh client whose Kommo rejects item 17 of the first batch, as Kommo does: 400 with
  // validation-errors under that item's request_id, nothing saved.
  FakeEventLoop loop;
  FakeTransport transport(&loop);
  KommoClientOptions options;
  options.api_base_url = "https://acme.kommo.com/api/v4";
  options.rate_limit_rps = 100;
  auto client = NewKommoClient(options, &transport, &loop);
  std::vector<std::optional<absl::StatusOr<v1::Lead>>> fresh(50);
  std::string invalid_request_id;
  int posts_answered = 0;
  transport.SetResponder([&](const http::HttpRequest& request) -> http::HttpResult {
    http::HttpResponse response;
    response.status = 200;
    if (request.method == http::Method::kPost && posts_answered++ == 0) {
      const auto ids = All(request.body, R"re("request_id":"(\d+)")re");
      invalid_request_id = ids[17];
      response.status = 400;
      response.body = absl::StrCat(
          R"({"status":400,"validation-errors":[{"request_id":")", ids[17],
          R"(","errors":[{"code":"NotSupportedChoice","path":"status_id","detail":"Stage not found"}]}]})");
      return {response, true};
    }
    if (request.method == http::Method::kPost) {
      std::vector<std::string> items;
      for (const std::string& id : All(request.body, R"re("request_id":"(\d+)")re")) {
        items.push_back(
            absl::StrCat(R"({"id":)", kIdBase + std::stoll(id), R"(,"request_id":")", id, R"("})"));
      }
      response.body = absl::StrCat(R"({"_embedded":{"leads":[)", absl::StrJoin(items, ","), "]}}");
      return {response, true};
    }
    std::vector<std::string> leads;
    for (const std::string& id : All(request.url, R"(filter\[id\]\[\]=(\d+))")) {
      leads.push_back(LeadJson(std::stoll(id), "x"));
    }
    response.body = absl::StrCat(R"({"_embedded":{"leads":[)", absl::StrJoin(leads, ","), "]}}");
    return {response, true};
  });
  for (int i = 0; i < 50; ++i) {
    v1::CreateLeadRequest request = Named(absl::StrCat("Deal ", i));
    client->CreateLead(request, {loop.Now() + absl::Seconds(30), nullptr, nullptr},
                       [&fresh, i](absl::StatusOr<v1::Lead> lead) { fresh[i] = lead; });
  }
  loop.Advance(absl::Seconds(5));
  std::vector<const FakeTransport::Sent*> posts;
  for (const auto& sent : transport.sent()) {
    if (sent.request.method == http::Method::kPost) posts.push_back(&sent);
  }
  ASSERT_EQ(posts.size(), 2u);
  EXPECT_EQ(All(posts[1]->request.body, R"re("request_id":"(\d+)")re").size(), 49u);
  EXPECT_THAT(posts[1]->request.body,
              ::testing::Not(HasSubstr(absl::StrCat("\"", invalid_request_id, "\""))));
  int ok = 0;
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(fresh[i].has_value()) << i;
    if (i == 17) {
      EXPECT_EQ(fresh[i]->status().code(), absl::StatusCode::kInvalidArgument);
      EXPECT_EQ(GetErrorInfo(fresh[i]->status())->reason(), "KOMMO_VALIDATION_FAILED");
      auto bad_request = GetBadRequest(fresh[i]->status());
      ASSERT_TRUE(bad_request.has_value());
      ASSERT_EQ(bad_request->field_violations_size(), 1);
      EXPECT_EQ(bad_request->field_violations(0).field(), "status_id");
    } else {
      ok += fresh[i]->ok();
    }
  }
  EXPECT_EQ(ok, 49);
}

TEST_F(CoalescingTest, ABatchWithAnUnknownOutcomeIsNeverResent) {
  transport_.ThenError(absl::UnavailableError("Connection reset by peer"), /*request_sent=*/true);
  std::vector<std::optional<absl::StatusOr<v1::Lead>>> results(3);
  for (int i = 0; i < 3; ++i) {
    client_->CreateLead(Named(absl::StrCat("Deal ", i)), Deadline(absl::Seconds(30)),
                        [&results, i](absl::StatusOr<v1::Lead> lead) { results[i] = lead; });
  }
  loop_.Advance(absl::Seconds(10));
  EXPECT_EQ(transport_.sent().size(), 1u);
  for (auto& result : results) {
    ASSERT_TRUE(result.has_value());
    EXPECT_EQ(result->status().code(), absl::StatusCode::kUnavailable);
    EXPECT_EQ(GetErrorInfo(result->status())->reason(), "WRITE_OUTCOME_UNKNOWN");
  }
}

TEST_F(CoalescingTest, ACallCancelledBeforeItsBatchLeavesIsNotInIt) {
  auto token = std::make_shared<CancellationToken>();
  std::optional<absl::StatusOr<v1::Lead>> kept;
  std::optional<absl::StatusOr<v1::Lead>> cancelled;
  client_->CreateLead(Named("kept"), Deadline(absl::Seconds(30)),
                      [&kept](absl::StatusOr<v1::Lead> lead) { kept = lead; });
  client_->CreateLead(Named("gone"), {loop_.Now() + absl::Seconds(30), token, nullptr},
                      [&cancelled](absl::StatusOr<v1::Lead> lead) { cancelled = lead; });
  loop_.RunUntilIdle();
  token->Cancel();
  loop_.Advance(absl::Seconds(2));
  EXPECT_EQ(cancelled->status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(GetErrorInfo(cancelled->status())->reason(), "CANCELLED");
  ASSERT_TRUE(kept->ok());
  ASSERT_EQ(Sent(http::Method::kPost).size(), 1u);
  EXPECT_THAT(Sent(http::Method::kPost)[0]->request.body, HasSubstr("kept"));
  EXPECT_THAT(Sent(http::Method::kPost)[0]->request.body, ::testing::Not(HasSubstr("gone")));
}

TEST_F(CoalescingTest, UpdatesGoInOneBatchPatchAndTwoUpdatesOfOneLeadDoNot) {
  std::vector<std::optional<absl::StatusOr<v1::Lead>>> results(3);
  const int64_t ids[] = {kIdBase + 1, kIdBase + 2, kIdBase + 1};
  for (int i = 0; i < 3; ++i) {
    v1::UpdateLeadRequest request;
    request.set_lead_id(ids[i]);
    request.set_price(100 * i);
    client_->UpdateLead(request, Deadline(absl::Seconds(30)),
                        [&results, i](absl::StatusOr<v1::Lead> lead) { results[i] = lead; });
  }
  loop_.Advance(absl::Seconds(5));
  const auto patches = Sent(http::Method::kPatch);
  ASSERT_EQ(patches.size(), 2u);
  EXPECT_EQ(patches[0]->request.url, "https://acme.kommo.com/api/v4/leads");
  EXPECT_EQ(All(patches[0]->request.body, R"re("id":(\d+))re").size(), 2u);
  EXPECT_THAT(patches[0]->request.body, HasSubstr(R"("price":0)"));
  EXPECT_EQ(All(patches[1]->request.body, R"re("id":(\d+))re").size(), 1u);
  for (auto& result : results) EXPECT_TRUE(result.has_value() && result->ok());
}

TEST_F(CoalescingTest, IdenticalConcurrentReadsShareOneRequest) {
  int ok = 0;
  for (int i = 0; i < 10; ++i) {
    client_->GetLead(kIdBase + 5, Deadline(absl::Seconds(30)),
                     [&ok](absl::StatusOr<v1::Lead> lead) { ok += lead.ok(); });
    client_->SearchLeads("same", 1, 50, Deadline(absl::Seconds(30)),
                         [&ok](absl::StatusOr<LeadPageResult> page) { ok += page.ok(); });
  }
  client_->SearchLeads("other", 1, 50, Deadline(absl::Seconds(30)),
                       [&ok](absl::StatusOr<LeadPageResult> page) { ok += page.ok(); });
  loop_.Advance(absl::Seconds(5));
  EXPECT_EQ(ok, 21);
  EXPECT_EQ(transport_.sent().size(), 3u);
}

TEST_F(CoalescingTest, ASharedReadLeftByEveryCallerIsNeverSent) {
  client_->GetLead(kIdBase + 1, Deadline(absl::Seconds(30)), [](absl::StatusOr<v1::Lead>) {});
  std::vector<std::shared_ptr<CancellationToken>> tokens;
  std::vector<std::optional<absl::StatusOr<v1::Lead>>> results(2);
  for (int i = 0; i < 2; ++i) {
    tokens.push_back(std::make_shared<CancellationToken>());
    client_->GetLead(kIdBase + 2, {loop_.Now() + absl::Seconds(30), tokens[i], nullptr},
                     [&results, i](absl::StatusOr<v1::Lead> lead) { results[i] = lead; });
  }
  loop_.RunUntilIdle();
  tokens[0]->Cancel();
  loop_.RunUntilIdle();
  EXPECT_EQ(results[0]->status().code(), absl::StatusCode::kCancelled);
  EXPECT_FALSE(results[1].has_value()) << "the other caller still waits";
  tokens[1]->Cancel();
  loop_.Advance(absl::Seconds(5));
  EXPECT_EQ(results[1]->status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(transport_.sent().size(), 1u) << "nobody waits for it: the shared read is not sent";
}

}  // namespace
}  // namespace kommo::rest
