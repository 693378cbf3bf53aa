// Issue 11: the start-up GET /account, what it logs, and that the token never reaches the log.

#include "server/startup_check.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/common/log.h"

namespace kommo {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Answers every request at once with `result`, and keeps the requests.
class CannedTransport : public http::HttpTransport {
 public:
  explicit CannedTransport(http::HttpResult result) : result_(std::move(result)) {}
  RequestId Send(http::HttpRequest request, Callback done) override {
    requests.push_back(std::move(request));
    done(result_);
    return requests.size();
  }
  void Cancel(RequestId) override {}

  std::vector<http::HttpRequest> requests;

 private:
  http::HttpResult result_;
};

http::HttpResult Response(int status, std::string body) {
  http::HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  return http::HttpResult{std::move(response), true};
}

std::vector<std::string>* log_lines = nullptr;

class StartupCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    log_lines = &lines_;
    log::SetSinkForTesting([](const std::string& line) { log_lines->push_back(line); });
  }
  void TearDown() override {
    log::SetSinkForTesting(nullptr);
    log_lines = nullptr;
  }
  // Runs the check against `result` and returns what it logged.
  std::string Check(http::HttpResult result) {
    CannedTransport transport(std::move(result));
    StartStartupCheck(&transport, "http://127.0.0.1:8080/api/v4", "secret-token-value",
                      absl::Seconds(5), [](const StartupCheckResult& checked) {
                        LogStartupCheck(checked, "http://127.0.0.1:8080/api/v4");
                      });
    EXPECT_EQ(transport.requests.size(), 1u);
    if (!transport.requests.empty()) {
      const http::HttpRequest& request = transport.requests[0];
      EXPECT_EQ(request.method, http::Method::kGet);
      EXPECT_EQ(request.url, "http://127.0.0.1:8080/api/v4/account");
      EXPECT_THAT(request.headers,
                  ::testing::Contains(std::make_pair(std::string("Authorization"),
                                                     std::string("Bearer secret-token-value"))));
      EXPECT_EQ(request.timeout, absl::Seconds(5));
    }
    std::string all;
    for (const std::string& line : lines_) all += line;
    EXPECT_THAT(all, Not(HasSubstr("secret-token-value")));
    return all;
  }

  std::vector<std::string> lines_;
};

TEST_F(StartupCheckTest, AnsweringKommoLogsTheAccountIdAndName) {
  const std::string logged =
      Check(Response(200, R"({"id":31000001,"name":"Acme Inc","subdomain":"acme"})"));
  EXPECT_THAT(logged, HasSubstr(R"("level":"info")"));
  EXPECT_THAT(logged, HasSubstr(R"("account_id":31000001)"));
  EXPECT_THAT(logged, HasSubstr(R"("account_name":"Acme Inc")"));
}

TEST_F(StartupCheckTest, RefusedTokenIsAWarning) {
  const std::string logged = Check(Response(401, R"({"title":"Unauthorized","status":401})"));
  EXPECT_THAT(logged, HasSubstr(R"("level":"warning")"));
  EXPECT_THAT(logged, HasSubstr("Kommo refused the access token (HTTP 401)"));
  EXPECT_THAT(logged, HasSubstr("serving anyway"));
}

TEST_F(StartupCheckTest, UnreachableKommoIsAWarning) {
  const std::string logged =
      Check(http::HttpResult{absl::UnavailableError("Couldn't connect to server"), false});
  EXPECT_THAT(logged, HasSubstr(R"("level":"warning")"));
  EXPECT_THAT(logged, HasSubstr("Kommo is unreachable: Couldn't connect to server"));
}

TEST_F(StartupCheckTest, WrongBasePathSaysSo) {
  EXPECT_THAT(Check(Response(404, "<html>Not Found</html>")),
              HasSubstr("Kommo answered HTTP 404 (is KOMMO_API_URL the API's base?)"));
}

TEST_F(StartupCheckTest, CancelledCheckReportsNothing) {
  EXPECT_TRUE(Check(http::HttpResult{absl::CancelledError("shutdown"), false}).empty());
}

TEST(InterpretAccountResponseTest, BodiesThatAreNotAnAccountAreProblems) {
  EXPECT_FALSE(InterpretAccountResponse(Response(200, "not json")).ok);
  EXPECT_FALSE(InterpretAccountResponse(Response(200, "[]")).ok);
  EXPECT_FALSE(InterpretAccountResponse(Response(200, R"({"id":"x"})")).ok);
  EXPECT_FALSE(InterpretAccountResponse(Response(200, std::string(100000, '['))).ok);
  const StartupCheckResult no_name = InterpretAccountResponse(Response(200, R"({"id":7})"));
  EXPECT_TRUE(no_name.ok);
  EXPECT_EQ(no_name.account_id, 7);
  EXPECT_EQ(InterpretAccountResponse(Response(503, "")).problem, "Kommo answered HTTP 503");
}

}  // namespace
}  // namespace kommo
