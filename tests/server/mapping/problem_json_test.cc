// ParseProblem: Kommo's problem+json bodies and the non-JSON pages gateways send instead.

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/mapping/kommo_json.h"
#include "tests/server/mapping/mapping_test_util.h"

namespace kommo::mapping {
namespace {

using ::kommo::mapping::test_util::ReadTestdata;
using ::testing::IsEmpty;

TEST(ParseProblemTest, ValidationErrorsAreFlattenedWithTheirRequestId) {
  auto problem = ParseProblem(ReadTestdata("kommo/problem_400_validation.json"));
  ASSERT_TRUE(problem.has_value());
  EXPECT_EQ(problem->status, 400);
  EXPECT_EQ(problem->title, "Bad Request");
  EXPECT_EQ(problem->type, "https://httpstatus.es/400");
  EXPECT_EQ(problem->detail, "Request validation failed");
  EXPECT_FALSE(problem->retry_after_seconds.has_value());
  ASSERT_EQ(problem->validation_errors.size(), 3u);
  const ValidationError& first = problem->validation_errors[0];
  EXPECT_EQ(first.request_id, "0");
  EXPECT_EQ(first.code, "NotSupportedChoice");
  EXPECT_EQ(first.path, "custom_fields_values.0.field_id");
  EXPECT_EQ(first.detail, "The value you selected is not a valid choice.");
  EXPECT_EQ(problem->validation_errors[1].request_id, "0");
  EXPECT_EQ(problem->validation_errors[1].code, "InvalidType");
  EXPECT_EQ(problem->validation_errors[1].path, "status_id");
  EXPECT_EQ(problem->validation_errors[2].request_id, "7");  // numeric request_id
  EXPECT_EQ(problem->validation_errors[2].path, "_embedded.contacts.1.id");
}

TEST(ParseProblemTest, Unauthorized) {
  auto problem = ParseProblem(ReadTestdata("kommo/problem_401.json"));
  ASSERT_TRUE(problem.has_value());
  EXPECT_EQ(problem->status, 401);
  EXPECT_EQ(problem->title, "Unauthorized");
  EXPECT_EQ(problem->detail,
            "\u041d\u0435\u0432\u0435\u0440\u043d\u044b\u0439 "
            "\u043b\u043e\u0433\u0438\u043d \u0438\u043b\u0438 "
            "\u043f\u0430\u0440\u043e\u043b\u044c");
  EXPECT_EQ(problem->hint, "");
  EXPECT_THAT(problem->validation_errors, IsEmpty());
}

TEST(ParseProblemTest, OAuthProblemHasHint) {
  auto problem = ParseProblem(ReadTestdata("kommo/problem_401_oauth.json"));
  ASSERT_TRUE(problem.has_value());
  EXPECT_EQ(problem->status, 401);
  EXPECT_EQ(problem->hint, "Token has been revoked");
  EXPECT_EQ(problem->type, "https://developers.amocrm.ru/v3/errors/OAuthProblemJson");
}

TEST(ParseProblemTest, TooManyRequestsCarriesRetryAfter) {
  auto problem = ParseProblem(ReadTestdata("kommo/problem_429.json"));
  ASSERT_TRUE(problem.has_value());
  EXPECT_EQ(problem->status, 429);
  EXPECT_EQ(problem->retry_after_seconds, 300);
}

TEST(ParseProblemTest, RetryAfterAsStringOrWholeNumber) {
  EXPECT_EQ(ParseProblem(R"({"status":429,"retry_after":"120"})")->retry_after_seconds, 120);
  EXPECT_EQ(ParseProblem(R"({"status":429,"retry_after":" 7 "})")->retry_after_seconds, 7);
  EXPECT_EQ(ParseProblem(R"({"status":429,"retry_after":30.0})")->retry_after_seconds, 30);
  EXPECT_EQ(ParseProblem(R"({"status":429,"retry_after":0})")->retry_after_seconds, 0);
  // Not a usable delay: skipped, never fatal.
  for (const char* body :
       {R"({"retry_after":"soon"})", R"({"retry_after":-5})", R"({"retry_after":1.5})",
        R"({"retry_after":null})", R"({"retry_after":[300]})", R"({"retry_after":"300s"})"}) {
    auto problem = ParseProblem(body);
    ASSERT_TRUE(problem.has_value()) << body;
    EXPECT_FALSE(problem->retry_after_seconds.has_value()) << body;
  }
}

TEST(ParseProblemTest, InternalServerErrorCarriesTraceId) {
  auto problem = ParseProblem(ReadTestdata("kommo/problem_500.json"));
  ASSERT_TRUE(problem.has_value());
  EXPECT_EQ(problem->status, 500);
  EXPECT_EQ(problem->title, "ErrInternalServer");
  EXPECT_EQ(problem->type, "");
  EXPECT_EQ(problem->trace_id, "a1b2c3d4e5f60718");
}

TEST(ParseProblemTest, NonObjectBodiesAreNotProblems) {
  EXPECT_FALSE(ParseProblem(ReadTestdata("kommo/forbidden_403.html")).has_value());
  for (const char* body : {"", " ", "null", "[]", "\"Forbidden\"", "429", "{\"status\":429",
                           "{\"status\":429}garbage", "Too Many Requests"}) {
    EXPECT_FALSE(ParseProblem(body).has_value()) << body;
  }
}

TEST(ParseProblemTest, MembersOfUnexpectedTypesAreSkipped) {
  auto problem = ParseProblem(
      R"({"status":"400","title":5,"detail":{"x":1},"hint":null,"trace_id":["a"],
          "validation-errors":{"request_id":"0"}})");
  ASSERT_TRUE(problem.has_value());
  EXPECT_EQ(problem->status, 400);
  EXPECT_EQ(problem->title, "");
  EXPECT_EQ(problem->detail, "");
  EXPECT_EQ(problem->trace_id, "");
  EXPECT_THAT(problem->validation_errors, IsEmpty());

  auto odd_entries = ParseProblem(
      R"({"status":400,"validation-errors":[5,"x",{"request_id":{},"errors":[1,{"code":"InvalidType"}]},
          {"request_id":"3","code":"NotFound","path":"status_id"},{"request_id":"4"}]})");
  ASSERT_TRUE(odd_entries.has_value());
  ASSERT_EQ(odd_entries->validation_errors.size(), 2u);
  EXPECT_EQ(odd_entries->validation_errors[0].request_id, "");
  EXPECT_EQ(odd_entries->validation_errors[0].code, "InvalidType");
  EXPECT_EQ(odd_entries->validation_errors[0].path, "");
  EXPECT_EQ(odd_entries->validation_errors[1].request_id, "3");
  EXPECT_EQ(odd_entries->validation_errors[1].code, "NotFound");
  EXPECT_EQ(odd_entries->validation_errors[1].path, "status_id");
}

TEST(ParseProblemTest, ChatsApiShapeDoesNotChoke) {
  auto problem = ParseProblem(
      R"({"status":400,"error_code":"bad_request","error_type":"x","error_description":"y"})");
  ASSERT_TRUE(problem.has_value());
  EXPECT_EQ(problem->status, 400);
  EXPECT_EQ(problem->detail, "");
}

TEST(ParseProblemTest, InvalidUtf8InStringsIsReplaced) {
  auto problem = ParseProblem(R"({"status":400,"detail":"bad \udc00 end"})");
  ASSERT_TRUE(problem.has_value());
  EXPECT_EQ(problem->detail, "bad \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD end");
}

}  // namespace
}  // namespace kommo::mapping
