#include "server/kommo/error_table.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/common/error_details.h"

namespace kommo::rest {
namespace {

http::HttpResponse Response(int status, std::string body,
                            std::map<std::string, std::string> headers = {}) {
  http::HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  response.headers = std::move(headers);
  return response;
}

ErrorContext ReadContext() {
  return {RequestKind::kRead, reason::kLeadNotFound, "GET /leads/{id}", nullptr};
}

std::string Reason(const absl::Status& status) {
  auto info = GetErrorInfo(status);
  return info.has_value() ? info->reason() : "<none>";
}

constexpr char kHtml403[] =
    "<html>\r\n<head><title>403 Forbidden</title></head>\r\n<body>\r\n<center><h1>403 "
    "Forbidden</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";

TEST(ErrorTableTest, ValidationErrorsBecomeFieldViolationsWithOurNames) {
  ErrorContext context{RequestKind::kCreate, reason::kLeadNotFound, "POST /leads",
                       [](absl::string_view path) {
                         return path == "_embedded.contacts.0.id" ? std::string("contact_ids[0]")
                                                                  : std::string(path);
                       }};
  absl::Status status =
      ErrorFromResponse(Response(400,
                                 R"({"validation-errors":[{"request_id":"0","errors":[
                   {"code":"NotSupportedChoice","path":"status_id","detail":"The value you selected is not a valid choice."},
                   {"code":"NotSupportedChoice","path":"_embedded.contacts.0.id","detail":"Contact not found"}]}],
                 "title":"Bad Request","type":"https://httpstatus.es/400","status":400,"detail":"Request validation failed"})",
                                 {{"x-request-id", "abc123"}}),
                        context);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Reason(status), "KOMMO_VALIDATION_FAILED");
  EXPECT_EQ(GetErrorInfo(status)->metadata().at("kommo_request_id"), "abc123");
  EXPECT_EQ(GetErrorInfo(status)->metadata().at("http_status"), "400");
  auto bad_request = GetBadRequest(status);
  ASSERT_TRUE(bad_request.has_value());
  ASSERT_EQ(bad_request->field_violations_size(), 2);
  EXPECT_EQ(bad_request->field_violations(0).field(), "status_id");
  EXPECT_EQ(bad_request->field_violations(0).description(),
            "The value you selected is not a valid choice. (NotSupportedChoice)");
  EXPECT_EQ(bad_request->field_violations(1).field(), "contact_ids[0]");
}

TEST(ErrorTableTest, StatusFirstBodySecond) {
  struct Case {
    int status;
    std::string body;
    absl::StatusCode code;
    std::string reason;
  };
  const Case cases[] = {
      {400, R"({"title":"Bad Request","status":400,"detail":"Request data cannot be blank"})",
       absl::StatusCode::kInvalidArgument, "KOMMO_BAD_REQUEST"},
      {401, R"({"title":"Unauthorized","type":"https://httpstatus.es/401","status":401})",
       absl::StatusCode::kFailedPrecondition, "KOMMO_UNAUTHORIZED"},
      {402, R"({"title":"Payment Required","status":402,"detail":"Payment required"})",
       absl::StatusCode::kFailedPrecondition, "KOMMO_PAYMENT_REQUIRED"},
      {403, R"({"title":"Forbidden","status":403,"detail":"Invalid scope"})",
       absl::StatusCode::kFailedPrecondition, "KOMMO_FORBIDDEN"},
      {403, kHtml403, absl::StatusCode::kUnavailable, "KOMMO_ACCOUNT_BLOCKED"},
      {404, R"({"title":"Not Found","status":404})", absl::StatusCode::kNotFound, "LEAD_NOT_FOUND"},
      {422, R"({"title":"Unprocessable Entity","status":422})", absl::StatusCode::kInvalidArgument,
       "KOMMO_BAD_REQUEST"},
      {429, "<html>Too Many Requests</html>", absl::StatusCode::kResourceExhausted,
       "KOMMO_RATE_LIMITED"},
      {500, R"({"title":"ErrInternalServer","status":500,"trace_id":"t-1"})",
       absl::StatusCode::kUnavailable, "KOMMO_UNAVAILABLE"},
      {502, "<html>Bad Gateway</html>", absl::StatusCode::kUnavailable, "KOMMO_UNAVAILABLE"},
      {504, "", absl::StatusCode::kUnavailable, "KOMMO_UNAVAILABLE"},
      {405, R"({"title":"Method Not Allowed","status":405})", absl::StatusCode::kInternal,
       "KOMMO_UNEXPECTED_STATUS"},
      {302, "", absl::StatusCode::kInternal, "KOMMO_UNEXPECTED_STATUS"},
  };
  for (const Case& c : cases) {
    absl::Status status = ErrorFromResponse(Response(c.status, c.body), ReadContext());
    EXPECT_EQ(status.code(), c.code) << c.status << " " << c.body;
    EXPECT_EQ(Reason(status), c.reason) << c.status << " " << c.body;
    EXPECT_EQ(GetErrorInfo(status)->domain(), "kommo-grpc");
  }
}

TEST(ErrorTableTest, ServerErrorOnCreateMeansOutcomeUnknown) {
  ErrorContext context{RequestKind::kCreate, reason::kLeadNotFound, "POST /leads", nullptr};
  absl::Status status = ErrorFromResponse(Response(503, "<html>503</html>"), context);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(Reason(status), "WRITE_OUTCOME_UNKNOWN");
  EXPECT_NE(status.message().find("outcome is unknown"), absl::string_view::npos);
}

TEST(ErrorTableTest, TraceIdIsKeptForSupport) {
  absl::Status status = ErrorFromResponse(
      Response(500, R"({"title":"ErrInternalServer","status":500,"trace_id":"0af7651916cd43dd"})"),
      ReadContext());
  EXPECT_EQ(GetErrorInfo(status)->metadata().at("trace_id"), "0af7651916cd43dd");
}

TEST(ErrorTableTest, RetryDelayPrefersHeaderThenBodyThenFallback) {
  EXPECT_EQ(RetryDelayOf(Response(429, R"({"retry_after":300})", {{"retry-after", "7"}}),
                         absl::Seconds(1)),
            absl::Seconds(7));
  EXPECT_EQ(RetryDelayOf(Response(429, R"({"status":429,"retry_after":300})"), absl::Seconds(1)),
            absl::Seconds(300));
  EXPECT_EQ(RetryDelayOf(Response(429, "<html>slow down</html>"), absl::Seconds(2)),
            absl::Seconds(2));
  EXPECT_EQ(RetryDelayOf(Response(429, "", {{"retry-after", "soon"}}), absl::Seconds(2)),
            absl::Seconds(2));
  absl::Status status =
      ErrorFromResponse(Response(429, R"({"status":429,"retry_after":3})"), ReadContext());
  EXPECT_EQ(GetRetryDelay(status), absl::Seconds(3));
}

TEST(ErrorTableTest, TransportFailures) {
  ErrorContext create{RequestKind::kCreate, reason::kLeadNotFound, "POST /leads", nullptr};
  absl::Status unsent =
      ErrorFromTransport(absl::UnavailableError("connection refused"), false, false, create);
  EXPECT_EQ(unsent.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(Reason(unsent), "KOMMO_CONNECTION_FAILED");

  absl::Status sent =
      ErrorFromTransport(absl::UnavailableError("connection reset"), true, false, create);
  EXPECT_EQ(sent.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(Reason(sent), "WRITE_OUTCOME_UNKNOWN");
  EXPECT_EQ(GetErrorInfo(sent)->metadata().at("outcome"), "unknown");

  absl::Status late =
      ErrorFromTransport(absl::DeadlineExceededError("timeout"), true, true, ReadContext());
  EXPECT_EQ(late.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(Reason(late), "DEADLINE_EXCEEDED");

  // Kommo slower than the per-request timeout while the call still has time: unavailable.
  absl::Status slow =
      ErrorFromTransport(absl::DeadlineExceededError("timeout"), true, false, ReadContext());
  EXPECT_EQ(slow.code(), absl::StatusCode::kUnavailable);

  // An answer larger than the transport reads is not one we can use.
  absl::Status huge = ErrorFromTransport(absl::ResourceExhaustedError("response too large"), true,
                                         false, ReadContext());
  EXPECT_EQ(huge.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(Reason(huge), "KOMMO_BAD_RESPONSE");
}

TEST(ErrorTableTest, EveryAnswerIsDecidedByTheTable) {
  ErrorContext get{
      RequestKind::kRead, reason::kLeadNotFound, "GET /leads/{id}", nullptr, "lead", 5};
  ErrorContext list{RequestKind::kList, reason::kLeadNotFound, "GET /leads", nullptr, "lead"};
  ErrorContext create{RequestKind::kCreate, reason::kLeadNotFound, "POST /leads", nullptr, "lead"};
  ErrorContext update{
      RequestKind::kUpdate, reason::kLeadNotFound, "PATCH /leads", nullptr, "lead", 5};
  EXPECT_EQ(**AnswerBody(Response(200, "{}"), get), "{}");
  EXPECT_FALSE(AnswerBody(Response(204, ""), list)->has_value()) << "no match: an empty list";
  absl::Status unknown = AnswerBody(Response(204, ""), get).status();
  EXPECT_EQ(unknown.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(GetErrorInfo(unknown)->metadata().at("lead_id"), "5");
  EXPECT_EQ(Reason(AnswerBody(Response(204, ""), create).status()), "WRITE_OUTCOME_UNKNOWN");
  // Kommo's 404 about an entity is NOT_FOUND; a 404 for a route (a wrong KOMMO_API_URL) or an
  // HTML page, or any 404 on a list or a create, names the path instead.
  const char kEntity404[] = R"({"title":"Not Found","status":404,"detail":"Lead not found"})";
  const char kRoute404[] =
      R"({"title":"Not Found","status":404,"detail":"Cannot GET /api/v4/api/v4/leads/5"})";
  EXPECT_EQ(Reason(AnswerBody(Response(404, kEntity404), update).status()), "LEAD_NOT_FOUND");
  EXPECT_EQ(Reason(AnswerBody(Response(404, kEntity404), get).status()), "LEAD_NOT_FOUND");
  for (const ErrorContext& context : {get, list, create, update}) {
    absl::Status route = AnswerBody(Response(404, kRoute404), context).status();
    EXPECT_EQ(route.code(), absl::StatusCode::kInternal) << context.what;
    EXPECT_EQ(Reason(route), "KOMMO_UNEXPECTED_STATUS") << context.what;
    EXPECT_THAT(std::string(route.message()), ::testing::HasSubstr(context.what));
    EXPECT_EQ(Reason(AnswerBody(Response(404, "<html>nope</html>"), context).status()),
              "KOMMO_UNEXPECTED_STATUS");
  }
  EXPECT_EQ(Reason(AnswerBody(Response(404, kEntity404), list).status()),
            "KOMMO_UNEXPECTED_STATUS");
}

// An action on one entity (accept or decline an incoming lead): Kommo's 404 about the entity is
// NOT_FOUND with the action's reason; a 5xx or a transport failure after sending leaves the
// outcome unknown, as for a create, since repeating an action that took effect fails.
TEST(ErrorTableTest, ActionsAreNotFoundOnA404AndUnknownAfterAFailure) {
  ErrorContext accept{RequestKind::kAction, reason::kIncomingLeadNotFound,
                      "POST /leads/unsorted/{uid}/accept", nullptr, "incoming_lead"};
  const char kEntity404[] = R"({"title":"Not Found","status":404,"detail":"Unsorted not found"})";
  absl::Status missing = AnswerBody(Response(404, kEntity404), accept).status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Reason(missing), "INCOMING_LEAD_NOT_FOUND");
  EXPECT_THAT(std::string(missing.message()), ::testing::HasSubstr(accept.what));

  // A route Kommo does not know is our path, not the incoming lead.
  absl::Status route = AnswerBody(Response(404, R"({"title":"Not Found","status":404,)"
                                                R"("detail":"Cannot POST /api/v4/leads/x"})"),
                                  accept)
                           .status();
  EXPECT_EQ(route.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(Reason(route), "KOMMO_UNEXPECTED_STATUS");

  for (int status : {500, 502, 503, 504}) {
    absl::Status failed = AnswerBody(Response(status, "<html>oops</html>"), accept).status();
    EXPECT_EQ(failed.code(), absl::StatusCode::kUnavailable) << status;
    EXPECT_EQ(Reason(failed), "WRITE_OUTCOME_UNKNOWN") << status;
    EXPECT_THAT(std::string(failed.message()), ::testing::HasSubstr("outcome is unknown"));
  }

  absl::Status sent =
      ErrorFromTransport(absl::UnavailableError("connection reset"), true, false, accept);
  EXPECT_EQ(sent.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(Reason(sent), "WRITE_OUTCOME_UNKNOWN");
  EXPECT_EQ(GetErrorInfo(sent)->metadata().at("outcome"), "unknown");
  // The advice fits an action (as for its 5xx): read the incoming lead, not "search before
  // creating again".
  EXPECT_THAT(std::string(sent.message()), ::testing::HasSubstr("read the entity"));
  EXPECT_THAT(std::string(sent.message()), ::testing::Not(::testing::HasSubstr("creat")));

  absl::Status unsent =
      ErrorFromTransport(absl::UnavailableError("connection refused"), false, false, accept);
  EXPECT_EQ(Reason(unsent), "KOMMO_CONNECTION_FAILED");
  EXPECT_EQ(GetErrorInfo(unsent)->metadata().count("outcome"), 0u);

  absl::Status late =
      ErrorFromTransport(absl::DeadlineExceededError("timeout"), true, true, accept);
  EXPECT_EQ(late.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(Reason(late), "WRITE_OUTCOME_UNKNOWN");

  // An action answered 204 said nothing about what it did.
  absl::Status empty = AnswerBody(Response(204, ""), accept).status();
  EXPECT_EQ(empty.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(Reason(empty), "KOMMO_UNEXPECTED_STATUS");
  EXPECT_EQ(**AnswerBody(Response(200, R"({"uid":"a"})"), accept), R"({"uid":"a"})");
}

}  // namespace
}  // namespace kommo::rest
