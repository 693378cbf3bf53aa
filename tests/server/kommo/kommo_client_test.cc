#include "server/kommo/kommo_client.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/common/cancellation.h"
#include "server/common/error_details.h"
#include "tests/support/fake_event_loop.h"
#include "tests/support/fake_transport.h"

namespace kommo::rest {
namespace {

using ::kommo::testing::FakeEventLoop;
using ::kommo::testing::FakeTransport;
using ::testing::HasSubstr;

constexpr char kBase[] = "https://acme.kommo.com/api/v4";
constexpr char kCreated[] =
    R"({"_links":{"self":{"href":"https://acme.kommo.com/api/v4/leads"}},
        "_embedded":{"leads":[{"id":31000000007,"request_id":"0","_links":{}}]}})";
constexpr char kLead[] =
    R"({"id":31000000007,"name":"Deal","price":1500,"responsible_user_id":8000001,
        "group_id":0,"status_id":61000002,"pipeline_id":7000001,"loss_reason_id":null,
        "created_by":8000001,"updated_by":8000001,"created_at":1700000000,"updated_at":1700000005,
        "closed_at":null,"closest_task_at":null,"is_deleted":false,"custom_fields_values":null,
        "score":null,"account_id":31000001,"labor_cost":null,"is_price_computed":false,
        "_links":{"self":{"href":"x"}},
        "_embedded":{"tags":[],"companies":[],"contacts":[{"id":52000000001,"is_main":true}]}})";

// A list answer holding kLead: how a write is read back (GET /leads?filter[id][]=...).
std::string LeadPage() { return absl::StrCat(R"({"_embedded":{"leads":[)", kLead, "]}}"); }

class KommoClientTest : public ::testing::Test {
 protected:
  KommoClientTest() : transport_(&loop_) {
    KommoClientOptions options;
    options.api_base_url = kBase;
    options.access_token = "secret-token";
    options.rate_limit_rps = 2;
    options.random_seed = 42;
    options.circuit_open_duration = absl::Seconds(30);
    options.coalesce_window = absl::ZeroDuration();  // one request per call (see CoalescingTest)
    client_ = NewKommoClient(options, &transport_, &loop_);
  }

  KommoClientStats Stats() {
    KommoClientStats stats;
    client_->GetStats([&stats](KommoClientStats s) { stats = s; });
    loop_.RunUntilIdle();
    return stats;
  }

  CallOptions Deadline(absl::Duration from_now) {
    return {loop_.Now() + from_now, nullptr, nullptr};
  }

  template <typename T>
  static Done<T> Into(std::optional<absl::StatusOr<T>>& out) {
    return [&out](absl::StatusOr<T> result) { out = std::move(result); };
  }

  static std::string Reason(const absl::Status& status) {
    auto info = GetErrorInfo(status);
    return info.has_value() ? info->reason() : "<none>";
  }

  FakeEventLoop loop_;
  FakeTransport transport_;
  std::unique_ptr<KommoClient> client_;
};

TEST_F(KommoClientTest, CreateLeadPostsThenReadsBack) {
  transport_.ThenStatus(200, kCreated);
  transport_.ThenStatus(200, LeadPage());
  v1::CreateLeadRequest request;
  request.set_name("Deal");
  request.set_price(1500);
  request.add_contact_ids(52000000001);
  std::optional<absl::StatusOr<v1::Lead>> result;
  client_->CreateLead(request, Deadline(absl::Seconds(10)), Into(result));
  EXPECT_FALSE(result.has_value()) << "done must not run inside the call";
  loop_.Advance(absl::Seconds(2));
  ASSERT_TRUE(result.has_value());
  ASSERT_TRUE(result->ok()) << result->status();
  EXPECT_EQ((*result)->id(), 31000000007);
  EXPECT_EQ((*result)->status_id(), 61000002);
  EXPECT_EQ((*result)->contact_ids_size(), 1);

  ASSERT_EQ(transport_.sent().size(), 2u);
  const http::HttpRequest& post = transport_.sent()[0].request;
  EXPECT_EQ(post.method, http::Method::kPost);
  EXPECT_EQ(post.url, "https://acme.kommo.com/api/v4/leads");
  EXPECT_THAT(post.body, HasSubstr(R"("name":"Deal")"));
  EXPECT_THAT(post.body, HasSubstr(R"("request_id":"0")"));
  EXPECT_THAT(post.headers, ::testing::Contains(std::make_pair(
                                std::string("Authorization"), std::string("Bearer secret-token"))));
  const http::HttpRequest& get = transport_.sent()[1].request;
  EXPECT_EQ(get.method, http::Method::kGet);
  EXPECT_EQ(get.url,
            "https://acme.kommo.com/api/v4/leads?limit=250&with=contacts&filter[id][]=31000000007");
  // Both requests share the account's budget: 2 requests/s puts them 500 ms apart.
  EXPECT_EQ(transport_.sent()[1].at - transport_.sent()[0].at, absl::Milliseconds(500));
}

TEST_F(KommoClientTest, AReadLivesAsLongAsItsMostPatientCallerNotItsFirst) {
  // A shared read's attempt is not cut at its first caller's deadline (a more patient caller may
  // join it); each caller leaves at its own deadline instead.
  transport_.ThenStatus(200, kLead);
  std::optional<absl::StatusOr<v1::Lead>> result;
  client_->GetLead(31000000007, Deadline(absl::Seconds(3)), Into(result));
  loop_.RunUntilIdle();
  ASSERT_EQ(transport_.sent().size(), 1u);
  EXPECT_EQ(transport_.sent()[0].request.timeout, absl::Seconds(20));
  ASSERT_TRUE(result.has_value() && result->ok());
}

TEST_F(KommoClientTest, AWriteAttemptIsCappedByNothingButTheRequestTimeout) {
  // A write's attempt in flight runs on after its callers' deadlines, so its outcome is learned
  // and logged; its callers are answered at their deadlines.
  transport_.ThenStatus(200, kCreated);
  transport_.ThenStatus(200, LeadPage());
  v1::CreateLeadRequest request;
  request.set_name("Deal");
  std::optional<absl::StatusOr<v1::Lead>> result;
  client_->CreateLead(request, Deadline(absl::Seconds(3)), Into(result));
  loop_.Advance(absl::Seconds(1));
  ASSERT_GE(transport_.sent().size(), 1u);
  EXPECT_EQ(transport_.sent()[0].request.timeout, absl::Seconds(20));
}

TEST_F(KommoClientTest, GetLeadOn204IsNotFound) {
  transport_.ThenStatus(204, "");
  std::optional<absl::StatusOr<v1::Lead>> result;
  client_->GetLead(42, Deadline(absl::Seconds(10)), Into(result));
  loop_.RunUntilIdle();
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Reason(result->status()), "LEAD_NOT_FOUND");
  EXPECT_EQ(GetErrorInfo(result->status())->metadata().at("lead_id"), "42");
}

TEST_F(KommoClientTest, SearchEncodesTheQueryAndTreats204AsEmpty) {
  transport_.ThenStatus(204, "");
  std::optional<absl::StatusOr<LeadPageResult>> result;
  client_->SearchLeads("Ann & Bob+1 ü/?", 3, 25, Deadline(absl::Seconds(10)), Into(result));
  loop_.RunUntilIdle();
  ASSERT_TRUE(result.has_value() && result->ok());
  EXPECT_TRUE((*result)->leads.empty());
  EXPECT_FALSE((*result)->has_next);
  EXPECT_EQ(transport_.sent()[0].request.url,
            "https://acme.kommo.com/api/v4/leads?limit=25&page=3&with=contacts&query="
            "Ann%20%26%20Bob%2B1%20%C3%BC%2F%3F");
}

TEST_F(KommoClientTest, UpdateSendsOnlyPresentFieldsAndReadsBack) {
  transport_.ThenStatus(
      200,
      R"({"_embedded":{"leads":[{"id":31000000007,"updated_at":1700000100,"request_id":"0"}]}})");
  transport_.ThenStatus(200, LeadPage());
  v1::UpdateLeadRequest request;
  request.set_lead_id(31000000007);
  request.set_price(0);
  std::optional<absl::StatusOr<v1::Lead>> result;
  client_->UpdateLead(request, Deadline(absl::Seconds(10)), Into(result));
  loop_.Advance(absl::Seconds(2));
  ASSERT_TRUE(result.has_value() && result->ok()) << result->status();
  const http::HttpRequest& patch = transport_.sent()[0].request;
  EXPECT_EQ(patch.method, http::Method::kPatch);
  // One write path: an update is a batch (of one here), matched by its request_id.
  EXPECT_EQ(patch.url, "https://acme.kommo.com/api/v4/leads");
  EXPECT_EQ(patch.body, R"([{"id":31000000007,"price":0,"request_id":"0"}])");
}

TEST_F(KommoClientTest, UpdateWithNothingToChangeOnlyReads) {
  transport_.ThenStatus(200, kLead);
  v1::UpdateLeadRequest request;
  request.set_lead_id(31000000007);
  std::optional<absl::StatusOr<v1::Lead>> result;
  client_->UpdateLead(request, Deadline(absl::Seconds(10)), Into(result));
  loop_.RunUntilIdle();
  ASSERT_TRUE(result.has_value() && result->ok());
  ASSERT_EQ(transport_.sent().size(), 1u);
  EXPECT_EQ(transport_.sent()[0].request.method, http::Method::kGet);
}

TEST_F(KommoClientTest, UpdateOfUnknownLeadIsNotFound) {
  transport_.ThenStatus(404, R"({"title":"Not Found","status":404,"detail":"Lead not found"})");
  v1::UpdateLeadRequest request;
  request.set_lead_id(5);
  request.set_name("x");
  std::optional<absl::StatusOr<v1::Lead>> result;
  client_->UpdateLead(request, Deadline(absl::Seconds(10)), Into(result));
  loop_.RunUntilIdle();
  EXPECT_EQ(result->status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Reason(result->status()), "LEAD_NOT_FOUND");
}

TEST_F(KommoClientTest, ReadsAreRetriedOnServerErrorsAndTimeouts) {
  transport_.ThenStatus(503, "<html>503 Service Unavailable</html>");
  transport_.ThenError(absl::DeadlineExceededError("HTTP request timed out"), true);
  transport_.ThenStatus(502, "<html>502</html>");
  transport_.ThenStatus(200, kLead);
  std::optional<absl::StatusOr<v1::Lead>> result;
  client_->GetLead(31000000007, Deadline(absl::Seconds(30)), Into(result));
  loop_.Advance(absl::Seconds(20));
  ASSERT_TRUE(result.has_value());
  ASSERT_TRUE(result->ok()) << result->status();
  EXPECT_EQ(transport_.sent().size(), 4u);
  EXPECT_EQ(Stats().retries, 3);
}

TEST_F(KommoClientTest, RetriesStopAtMaxAttemptsWithTheLastError) {
  for (int i = 0; i < 6; ++i)
    transport_.ThenStatus(500, R"({"title":"ErrInternalServer","status":500})");
  std::optional<absl::StatusOr<v1::Lead>> result;
  client_->GetLead(31000000007, Deadline(absl::Seconds(60)), Into(result));
  loop_.Advance(absl::Seconds(60));
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(Reason(result->status()), "KOMMO_UNAVAILABLE");
  EXPECT_EQ(transport_.sent().size(), 4u);  // max_attempts
}

TEST_F(KommoClientTest, NoRetryWhenTheWaitWouldPassTheDeadline) {
  transport_.ThenStatus(429, R"({"title":"Too Many Requests","status":429,"retry_after":5})");
  std::optional<absl::StatusOr<v1::Lead>> result;
  client_->GetLead(31000000007, Deadline(absl::Seconds(3)), Into(result));
  loop_.Advance(absl::Seconds(10));
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(Reason(result->status()), "KOMMO_RATE_LIMITED");
  EXPECT_EQ(GetRetryDelay(result->status()), absl::Seconds(5));
  EXPECT_EQ(transport_.sent().size(), 1u);
}

TEST_F(KommoClientTest, A429PausesEveryCallForTheRetryAfter) {
  transport_.ThenStatus(429, "<html>Too Many Requests</html>", {{"retry-after", "4"}});
  for (int i = 0; i < 3; ++i) transport_.ThenStatus(200, kLead);
  std::optional<absl::StatusOr<v1::Lead>> first;
  std::optional<absl::StatusOr<v1::Lead>> second;
  client_->GetLead(1, Deadline(absl::Seconds(30)), Into(first));
  loop_.RunUntilIdle();
  const absl::Time rate_limited_at = loop_.Now();
  client_->GetLead(2, Deadline(absl::Seconds(30)), Into(second));
  loop_.Advance(absl::Seconds(20));
  ASSERT_TRUE(first->ok() && second->ok());
  ASSERT_EQ(transport_.sent().size(), 3u);
  // Neither the retry nor the other call went before Kommo's 4 s were over.
  EXPECT_GE(transport_.sent()[1].at - rate_limited_at, absl::Seconds(4));
  EXPECT_GE(transport_.sent()[2].at - rate_limited_at, absl::Seconds(4));
  EXPECT_EQ(Stats().rate_limited, 1);
}

TEST_F(KommoClientTest, CreateIsRetriedOnlyWhenKommoCertainlyDidNotAct) {
  transport_.ThenStatus(429, R"({"status":429,"retry_after":1})");            // did not act
  transport_.ThenError(absl::UnavailableError("Connection refused"), false);  // never sent
  transport_.ThenStatus(200, kCreated);
  transport_.ThenStatus(200, LeadPage());
  v1::CreateLeadRequest request;
  request.set_name("Deal");
  std::optional<absl::StatusOr<v1::Lead>> result;
  client_->CreateLead(request, Deadline(absl::Seconds(30)), Into(result));
  loop_.Advance(absl::Seconds(20));
  ASSERT_TRUE(result->ok()) << result->status();
  ASSERT_EQ(transport_.sent().size(), 4u);
  EXPECT_EQ(transport_.sent()[2].request.method, http::Method::kPost);
}

TEST_F(KommoClientTest, CreateIsNotRetriedAfterAServerError) {
  transport_.ThenStatus(500, R"({"title":"ErrInternalServer","status":500})");
  v1::CreateLeadRequest request;
  request.set_name("Deal");
  std::optional<absl::StatusOr<v1::Lead>> result;
  client_->CreateLead(request, Deadline(absl::Seconds(30)), Into(result));
  loop_.Advance(absl::Seconds(20));
  EXPECT_EQ(result->status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(Reason(result->status()), "WRITE_OUTCOME_UNKNOWN");
  EXPECT_EQ(transport_.sent().size(), 1u);
}

TEST_F(KommoClientTest, AnHtml403OpensTheCircuitAndOnlyProbesGetThrough) {
  const char* kBlocked = "<html><head><title>403 Forbidden</title></head></html>";
  transport_.ThenStatus(403, kBlocked);
  std::optional<absl::StatusOr<v1::Lead>> first;
  client_->GetLead(1, Deadline(absl::Seconds(10)), Into(first));
  loop_.RunUntilIdle();
  EXPECT_EQ(first->status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(Reason(first->status()), "KOMMO_ACCOUNT_BLOCKED");
  EXPECT_EQ(transport_.sent().size(), 1u) << "a block is never retried";

  // While open: fail fast, nothing sent.
  std::vector<std::optional<absl::StatusOr<v1::Lead>>> during(5);
  for (auto& result : during) {
    client_->GetLead(1, Deadline(absl::Seconds(10)), Into(result));
    loop_.Advance(absl::Seconds(1));
  }
  for (auto& result : during) {
    EXPECT_EQ(Reason(result->status()), "KOMMO_ACCOUNT_BLOCKED");
    EXPECT_TRUE(GetRetryDelay(result->status()).has_value());
  }
  EXPECT_EQ(transport_.sent().size(), 1u);
  EXPECT_TRUE(Stats().circuit_open);

  // After 30 s one probe goes; still blocked: open again.
  loop_.Advance(absl::Seconds(30));
  transport_.ThenStatus(403, kBlocked);
  std::optional<absl::StatusOr<v1::Lead>> probe;
  std::optional<absl::StatusOr<v1::Lead>> beside_probe;
  client_->GetLead(1, Deadline(absl::Seconds(10)), Into(probe));
  client_->GetLead(1, Deadline(absl::Seconds(10)), Into(beside_probe));
  loop_.Advance(absl::Seconds(2));
  EXPECT_EQ(transport_.sent().size(), 2u) << "one probe per open period";
  EXPECT_EQ(Reason(beside_probe->status()), "KOMMO_ACCOUNT_BLOCKED");

  // The next probe gets a normal answer: closed, calls flow again.
  loop_.Advance(absl::Seconds(30));
  transport_.ThenStatus(200, kLead);
  transport_.ThenStatus(200, kLead);
  std::optional<absl::StatusOr<v1::Lead>> recovered;
  std::optional<absl::StatusOr<v1::Lead>> after;
  client_->GetLead(1, Deadline(absl::Seconds(10)), Into(recovered));
  loop_.Advance(absl::Seconds(1));
  client_->GetLead(1, Deadline(absl::Seconds(10)), Into(after));
  loop_.Advance(absl::Seconds(1));
  EXPECT_TRUE(recovered->ok());
  EXPECT_TRUE(after->ok());
  EXPECT_FALSE(Stats().circuit_open);
  EXPECT_EQ(Stats().circuit_opened, 1);
}

TEST_F(KommoClientTest, ACallCancelledWhileQueuedNeverReachesKommo) {
  transport_.ThenStatus(200, kLead);
  std::optional<absl::StatusOr<v1::Lead>> first;
  std::optional<absl::StatusOr<v1::Lead>> queued;
  client_->GetLead(1, Deadline(absl::Seconds(10)), Into(first));
  auto token = std::make_shared<CancellationToken>();
  client_->GetLead(2, {loop_.Now() + absl::Seconds(10), token, nullptr}, Into(queued));
  loop_.RunUntilIdle();
  EXPECT_EQ(Stats().queue_depth, 1u);
  token->Cancel();
  loop_.RunUntilIdle();
  ASSERT_TRUE(queued.has_value());
  EXPECT_EQ(queued->status().code(), absl::StatusCode::kCancelled);
  loop_.Advance(absl::Seconds(5));
  EXPECT_EQ(transport_.sent().size(), 1u);
  EXPECT_EQ(Stats().queue_depth, 0u);
}

TEST_F(KommoClientTest, ACallCancelledBeforeItStartsSendsNothing) {
  auto token = std::make_shared<CancellationToken>();
  token->Cancel();
  std::optional<absl::StatusOr<v1::Lead>> result;
  client_->GetLead(2, {loop_.Now() + absl::Seconds(10), token, nullptr}, Into(result));
  loop_.RunUntilIdle();
  EXPECT_EQ(result->status().code(), absl::StatusCode::kCancelled);
  EXPECT_TRUE(transport_.sent().empty());
}

TEST_F(KommoClientTest, PostThatMayHaveBeenSentIsReportedAsUnknownAndNotRepeated) {
  transport_.ThenError(absl::UnavailableError("Connection reset by peer"), /*request_sent=*/true);
  v1::CreateLeadRequest request;
  request.set_name("Deal");
  std::optional<absl::StatusOr<v1::Lead>> result;
  client_->CreateLead(request, Deadline(absl::Seconds(10)), Into(result));
  loop_.Advance(absl::Seconds(5));
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(Reason(result->status()), "WRITE_OUTCOME_UNKNOWN");
  EXPECT_EQ(transport_.sent().size(), 1u);
}

TEST_F(KommoClientTest, ReadBackFailureSaysTheLeadWasWritten) {
  transport_.ThenStatus(200, kCreated);
  for (int i = 0; i < 4; ++i) transport_.ThenStatus(429, "<html>Too Many Requests</html>");
  v1::CreateLeadRequest request;
  request.set_name("Deal");
  std::optional<absl::StatusOr<v1::Lead>> result;
  client_->CreateLead(request, Deadline(absl::Seconds(60)), Into(result));
  loop_.Advance(absl::Seconds(60));
  EXPECT_EQ(transport_.sent().size(), 5u) << "the read-back is retried, the POST is not";
  ASSERT_TRUE(result.has_value());
  // Not RESOURCE_EXHAUSTED: that would tell the caller Kommo did not act.
  EXPECT_EQ(result->status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(Reason(result->status()), "READ_BACK_FAILED");
  EXPECT_EQ(GetErrorInfo(result->status())->metadata().at("lead_id"), "31000000007");
}

TEST_F(KommoClientTest, CreateAnswerWithoutOurItemIsABadResponse) {
  transport_.ThenStatus(200, R"({"_embedded":{"leads":[{"id":1,"request_id":"9"}]}})");
  v1::CreateLeadRequest request;
  request.set_name("Deal");
  std::optional<absl::StatusOr<v1::Lead>> result;
  client_->CreateLead(request, Deadline(absl::Seconds(10)), Into(result));
  loop_.RunUntilIdle();
  EXPECT_EQ(result->status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(Reason(result->status()), "KOMMO_BAD_RESPONSE");
  EXPECT_EQ(GetErrorInfo(result->status())->metadata().at("outcome"), "written_id_unknown");
}

TEST_F(KommoClientTest, CallsThatCannotGetABudgetSlotInTimeNeverReachKommo) {
  for (int i = 0; i < 3; ++i) transport_.ThenStatus(200, kLead);
  std::vector<std::optional<absl::StatusOr<v1::Lead>>> results(3);
  for (int i = 0; i < 3; ++i) {
    client_->GetLead(31000000007 + i, Deadline(absl::Milliseconds(700)), Into(results[i]));
  }
  loop_.Advance(absl::Seconds(2));
  // At 2 requests/s the slots are at 0, 500 ms and 1 s: the third misses its 700 ms deadline.
  EXPECT_TRUE(results[0]->ok());
  EXPECT_TRUE(results[1]->ok());
  EXPECT_EQ(results[2]->status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(transport_.sent().size(), 2u);
}

TEST_F(KommoClientTest, ContactValidationErrorsNameOurFields) {
  // The responsible user is checked against the users first (write_check.h).
  transport_.ThenStatus(200, R"({"_embedded":{"users":[{"id":1,"name":"u"}]}})");
  transport_.ThenStatus(
      400,
      R"({"validation-errors":[{"request_id":"0","errors":[{"code":"InvalidType","path":"custom_fields_values.1.values.0.value","detail":"bad"}]}],"status":400,"title":"Bad Request"})");
  v1::CreateContactRequest request;
  request.set_responsible_user_id(1);
  request.set_created_by(1);
  request.add_phones("+1 555 0100");
  request.add_emails("a@b.c");
  std::optional<absl::StatusOr<v1::Contact>> result;
  client_->CreateContact(request, Deadline(absl::Seconds(10)), Into(result));
  loop_.Advance(absl::Seconds(2));  // the users read, then the write in its rate-limit slot
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->status().code(), absl::StatusCode::kInvalidArgument);
  auto bad_request = GetBadRequest(result->status());
  ASSERT_TRUE(bad_request.has_value());
  ASSERT_EQ(bad_request->field_violations_size(), 1);
  EXPECT_EQ(bad_request->field_violations(0).field(), "emails[0]");
}

TEST_F(KommoClientTest, TheTokenNeverAppearsInErrors) {
  transport_.ThenStatus(401, R"({"title":"Unauthorized","status":401,"detail":"bad token"})");
  std::optional<absl::StatusOr<v1::Lead>> result;
  client_->GetLead(1, Deadline(absl::Seconds(10)), Into(result));
  loop_.RunUntilIdle();
  EXPECT_EQ(result->status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(result->status().ToString().find("secret-token"), std::string::npos);
}

TEST_F(KommoClientTest, TheCallsRequestIdGoesToKommoAndItsRequestsAreCounted) {
  transport_.ThenStatus(200, kCreated);
  transport_.ThenStatus(200, LeadPage());
  auto trace = std::make_shared<CallTrace>();
  trace->request_id = "req-42";
  v1::CreateLeadRequest request;
  request.set_name("Deal");
  std::optional<absl::StatusOr<v1::Lead>> result;
  client_->CreateLead(request, {loop_.Now() + absl::Seconds(10), nullptr, trace}, Into(result));
  loop_.Advance(absl::Seconds(2));
  ASSERT_TRUE(result->ok());
  EXPECT_EQ(trace->kommo_requests.load(), 2);
  for (const auto& sent : transport_.sent()) {
    EXPECT_THAT(sent.request.headers, ::testing::Contains(std::make_pair(
                                          std::string("X-Request-Id"), std::string("req-42"))));
  }
}

TEST(UrlEncodeTest, KeepsUnreservedAndEncodesTheRest) {
  EXPECT_EQ(UrlEncode("aZ09-._~"), "aZ09-._~");
  EXPECT_EQ(UrlEncode("a b&c=d#e%f+g"), "a%20b%26c%3Dd%23e%25f%2Bg");
  EXPECT_EQ(UrlEncode(std::string("\0\xff", 2)), "%00%FF");
}

}  // namespace
}  // namespace kommo::rest
