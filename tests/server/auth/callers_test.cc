#include "server/auth/callers.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "server/common/error_details.h"

namespace kommo::auth {
namespace {

const std::vector<std::string> kMethods = {"kommo.v1.LeadService/CreateLead",
                                           "kommo.v1.LeadService/UpdateLead",
                                           "kommo.v1.LeadService/GetLead",
                                           "kommo.v1.LeadService/SearchLeads",
                                           "kommo.v1.ContactService/FindOrCreateContact",
                                           "grpc.health.v1.Health/Check"};

constexpr char kChatbotToken[] = "chatbot-secret-token-0123456789";
constexpr char kAnalyticsToken[] = "analytics-secret-token-abcdef";
constexpr char kOldToken[] = "an-old-token-that-expired-long-ago";

std::string Hex(const std::string& token) { return absl::BytesToHexString(Sha256(token)); }

std::string CallersJson() {
  return absl::StrCat(R"({"callers": [
    {"name": "chatbot", "weight": 2,
     "tokens": [{"sha256": ")",
                      Hex(kChatbotToken), R"("},
                {"sha256": ")",
                      Hex(kOldToken), R"(", "expires": "2020-01-01T00:00:00Z"}],
     "methods": ["kommo.v1.LeadService/CreateLead", "kommo.v1.ContactService/FindOrCreate*"]},
    {"name": "analytics",
     "tokens": [{"sha256": ")",
                      Hex(kAnalyticsToken), R"("}],
     "certificate_identities": ["analytics.internal"],
     "methods": ["kommo.v1.LeadService/Get*", "kommo.v1.LeadService/Search*"]}]})");
}

CallerTable Table() {
  absl::StatusOr<CallerTable> table = CallerTable::Parse(CallersJson(), kMethods);
  EXPECT_TRUE(table.ok()) << table.status();
  return table.ok() ? *std::move(table) : CallerTable();
}

Credentials Bearer(const std::string& token) {
  Credentials credentials;
  credentials.authorization.push_back(absl::StrCat("Bearer ", token));
  return credentials;
}

std::string ProblemOf(const absl::Status& status) {
  auto info = GetErrorInfo(status);
  if (!info.has_value()) return "";
  auto it = info->metadata().find("problem");
  return it == info->metadata().end() ? "" : it->second;
}

void ExpectNoSecret(const absl::Status& status) {
  for (const char* token : {kChatbotToken, kAnalyticsToken, kOldToken}) {
    EXPECT_EQ(std::string(status.message()).find(token), std::string::npos) << status;
    EXPECT_EQ(std::string(status.message()).find(Hex(token)), std::string::npos) << status;
  }
}

TEST(CallerTableTest, ParsesCallers) {
  CallerTable table = Table();
  ASSERT_EQ(table.callers().size(), 2u);
  EXPECT_EQ(table.callers()[0].name, "chatbot");
  EXPECT_EQ(table.callers()[0].weight, 2);
  EXPECT_EQ(table.callers()[0].tokens.size(), 2u);
  EXPECT_EQ(table.callers()[1].weight, 1);
  EXPECT_EQ(table.callers()[1].certificate_identities,
            std::vector<std::string>{"analytics.internal"});
}

TEST(CallerTableTest, RefusesBadFilesClearly) {
  const std::string hash = Hex("t");
  const std::pair<std::string, std::string> cases[] = {
      {"not json", "not valid JSON"},
      {R"({"callers": {}})", "\"callers\" must be an array"},
      {R"({"callers": [{"name": "", "tokens": [], "methods": ["*"]}]})", "\"name\""},
      {absl::StrCat(
           R"({"callers": [{"name": "a", "tokens": [{"sha256": "abc"}], "methods": ["*"]}]})"),
       "64 hex digits"},
      {R"({"callers": [{"name": "a", "methods": ["*"]}]})", "needs \"tokens\""},
      {absl::StrCat(R"({"callers": [{"name": "a", "tokens": [{"sha256": ")", hash,
                    R"("}], "methods": []}]})"),
       "at least one method"},
      {absl::StrCat(R"({"callers": [{"name": "a", "tokens": [{"sha256": ")", hash,
                    R"("}], "methods": ["kommo.v1.LeadService/CreateLeed"]}]})"),
       "matches no method"},
      {absl::StrCat(R"({"callers": [{"name": "a", "tokens": [{"sha256": ")", hash,
                    R"("}], "methods": ["*"], "weight": 0}]})"),
       "\"weight\""},
      {absl::StrCat(R"({"callers": [{"name": "a", "tokens": [{"sha256": ")", hash,
                    R"(", "expires": "tomorrow"}], "methods": ["*"]}]})"),
       "RFC 3339"},
      {absl::StrCat(R"({"callers": [{"name": "a", "tokens": [{"sha256": ")", hash,
                    R"("}], "methods": ["*"], "role": "admin"}]})"),
       "unknown member \"role\""},
      {absl::StrCat(
           R"({"callers": [{"name": "a", "tokens": [{"sha256": ")", hash,
           R"("}], "methods": ["*"]}, {"name": "a", "certificate_identities": ["x"], "methods": ["*"]}]})"),
       "used twice"},
      {absl::StrCat(R"({"callers": [{"name": "a", "tokens": [{"sha256": ")", hash,
                    R"("}], "methods": ["*"]}, {"name": "b", "tokens": [{"sha256": ")", hash,
                    R"("}], "methods": ["*"]}]})"),
       "token hash is listed twice"},
  };
  for (const auto& [json, expected] : cases) {
    absl::StatusOr<CallerTable> table = CallerTable::Parse(json, kMethods);
    ASSERT_FALSE(table.ok()) << json;
    EXPECT_EQ(table.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(std::string(table.status().message()).find(expected), std::string::npos)
        << table.status() << " for " << json;
  }
}

TEST(MethodMatchesTest, Patterns) {
  EXPECT_TRUE(MethodMatches("*", "kommo.v1.LeadService/GetLead"));
  EXPECT_TRUE(MethodMatches("kommo.v1.LeadService/*", "kommo.v1.LeadService/GetLead"));
  EXPECT_TRUE(MethodMatches("kommo.v1.LeadService/Get*", "kommo.v1.LeadService/GetLead"));
  EXPECT_TRUE(MethodMatches("kommo.v1.LeadService/GetLead", "kommo.v1.LeadService/GetLead"));
  EXPECT_FALSE(MethodMatches("kommo.v1.LeadService/GetLead", "kommo.v1.LeadService/GetLeads"));
  EXPECT_FALSE(MethodMatches("kommo.v1.LeadService/*", "kommo.v1.ContactService/GetContact"));
  EXPECT_FALSE(MethodMatches("kommo.v1.LeadService/Get*", "kommo.v1.LeadService/UpdateLead"));
}

TEST(DecideTest, ATokenNamesItsCallerWithItsWeight) {
  absl::StatusOr<Caller> caller =
      Decide(Table(), Bearer(kChatbotToken), "kommo.v1.LeadService/CreateLead", absl::Now());
  ASSERT_TRUE(caller.ok()) << caller.status();
  EXPECT_EQ(caller->name, "chatbot");
  EXPECT_EQ(caller->weight, 2);
  // The scheme is case-insensitive (RFC 7235).
  Credentials lower;
  lower.authorization.push_back(absl::StrCat("bearer ", kChatbotToken));
  EXPECT_TRUE(
      Decide(Table(), lower, "kommo.v1.ContactService/FindOrCreateContact", absl::Now()).ok());
}

TEST(DecideTest, AMethodOutsideThePermissionsIsDenied) {
  absl::Status denied =
      Decide(Table(), Bearer(kChatbotToken), "kommo.v1.LeadService/UpdateLead", absl::Now())
          .status();
  EXPECT_EQ(denied.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(GetErrorInfo(denied)->reason(), "METHOD_NOT_PERMITTED");
  EXPECT_EQ(GetErrorInfo(denied)->metadata().at("caller"), "chatbot");
  EXPECT_EQ(GetErrorInfo(denied)->metadata().at("method"), "kommo.v1.LeadService/UpdateLead");
  ExpectNoSecret(denied);
  // The read-only caller may read but not write.
  EXPECT_TRUE(
      Decide(Table(), Bearer(kAnalyticsToken), "kommo.v1.LeadService/GetLead", absl::Now()).ok());
  EXPECT_EQ(Decide(Table(), Bearer(kAnalyticsToken), "kommo.v1.LeadService/CreateLead", absl::Now())
                .status()
                .code(),
            absl::StatusCode::kPermissionDenied);
}

TEST(DecideTest, BadCredentialsAreUnauthenticatedWithTheProblem) {
  const std::string method = "kommo.v1.LeadService/CreateLead";
  struct Case {
    Credentials credentials;
    std::string problem;
  };
  Credentials none;
  Credentials no_scheme;
  no_scheme.authorization.push_back(kChatbotToken);
  Credentials basic;
  basic.authorization.push_back(absl::StrCat("Basic ", kChatbotToken));
  Credentials two = Bearer(kChatbotToken);
  two.authorization.push_back(absl::StrCat("Bearer ", kAnalyticsToken));
  Credentials misplaced;
  misplaced.misplaced_token_keys.push_back("x-api-key");
  Credentials unknown_cert;
  unknown_cert.peer_identities.push_back("stranger.internal");
  const Case cases[] = {
      {none, "missing"},
      {no_scheme, "malformed"},
      {basic, "malformed"},
      {two, "malformed"},
      {misplaced, "wrong_place"},
      {Bearer("not-a-known-token"), "unknown"},
      {Bearer(kOldToken), "expired"},
      {unknown_cert, "unknown_certificate"},
  };
  for (const Case& each : cases) {
    absl::Status status = Decide(Table(), each.credentials, method, absl::Now()).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated) << each.problem;
    EXPECT_EQ(GetErrorInfo(status)->reason(), "CALLER_UNAUTHENTICATED");
    EXPECT_EQ(ProblemOf(status), each.problem) << status;
    ExpectNoSecret(status);
  }
}

TEST(DecideTest, ATokenIsValidUntilItsExpiry) {
  const absl::Time expiry = absl::FromUnixSeconds(1577836800);  // 2020-01-01T00:00:00Z
  EXPECT_TRUE(Decide(Table(), Bearer(kOldToken), "kommo.v1.LeadService/CreateLead",
                     expiry - absl::Seconds(1))
                  .ok());
  EXPECT_EQ(
      ProblemOf(
          Decide(Table(), Bearer(kOldToken), "kommo.v1.LeadService/CreateLead", expiry).status()),
      "expired");
}

TEST(DecideTest, ACertificateIdentityNamesItsCaller) {
  Credentials credentials;
  credentials.peer_identities = {"10.0.0.7", "analytics.internal"};
  absl::StatusOr<Caller> caller =
      Decide(Table(), credentials, "kommo.v1.LeadService/SearchLeads", absl::Now());
  ASSERT_TRUE(caller.ok()) << caller.status();
  EXPECT_EQ(caller->name, "analytics");
  // A token, when sent, decides: a wrong one is refused even with a known certificate.
  credentials.authorization.push_back("Bearer wrong");
  EXPECT_EQ(
      ProblemOf(
          Decide(Table(), credentials, "kommo.v1.LeadService/SearchLeads", absl::Now()).status()),
      "unknown");
}

class AuthorizerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/callers_test_XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    path_ = dir_ + "/callers.json";
  }
  void TearDown() override {
    std::remove(path_.c_str());
    std::remove((path_ + ".new").c_str());
    rmdir(dir_.c_str());
  }
  // Replaces the file the way a mounted ConfigMap or Secret changes: a new file renamed over.
  void WriteFile(const std::string& contents) {
    std::ofstream(path_ + ".new") << contents;
    ASSERT_EQ(std::rename((path_ + ".new").c_str(), path_.c_str()), 0);
  }
  std::unique_ptr<Authorizer> Make() {
    AuthorizerOptions options;
    options.callers_file = path_;
    options.known_methods = kMethods;
    options.open_methods = {"grpc.health.v1.Health/*"};
    options.reload_check_interval = absl::ZeroDuration();
    absl::StatusOr<std::unique_ptr<Authorizer>> authorizer = Authorizer::Create(options);
    EXPECT_TRUE(authorizer.ok()) << authorizer.status();
    return authorizer.ok() ? *std::move(authorizer) : nullptr;
  }

  std::string dir_;
  std::string path_;
};

TEST_F(AuthorizerTest, WithoutAFileEveryCallIsAllowedAndNamedByItsCertificate) {
  absl::StatusOr<std::unique_ptr<Authorizer>> open = Authorizer::Create({});
  ASSERT_TRUE(open.ok());
  EXPECT_FALSE((*open)->enabled());
  Credentials credentials;
  EXPECT_EQ((*open)->Check(credentials, "kommo.v1.LeadService/UpdateLead")->name, "");
  credentials.peer_identities = {"billing.internal"};
  EXPECT_EQ((*open)->Check(credentials, "kommo.v1.LeadService/UpdateLead")->name,
            "billing.internal");
}

TEST_F(AuthorizerTest, AMissingOrBadFileStopsTheStart) {
  AuthorizerOptions options;
  options.callers_file = path_;
  options.known_methods = kMethods;
  EXPECT_EQ(Authorizer::Create(options).status().code(), absl::StatusCode::kInvalidArgument);
  WriteFile("{");
  EXPECT_EQ(Authorizer::Create(options).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(AuthorizerTest, OpenMethodsNeedNoCredentials) {
  WriteFile(CallersJson());
  std::unique_ptr<Authorizer> authorizer = Make();
  ASSERT_NE(authorizer, nullptr);
  EXPECT_TRUE(authorizer->Check({}, "grpc.health.v1.Health/Check").ok());
  EXPECT_EQ(authorizer->Check({}, "kommo.v1.LeadService/GetLead").status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(AuthorizerTest, AChangedFileIsPickedUpAndABadOneKeepsThePrevious) {
  WriteFile(CallersJson());
  std::unique_ptr<Authorizer> authorizer = Make();
  ASSERT_NE(authorizer, nullptr);
  const std::string method = "kommo.v1.LeadService/UpdateLead";
  EXPECT_EQ(authorizer->Check(Bearer(kChatbotToken), method).status().code(),
            absl::StatusCode::kPermissionDenied);
  // The operator lets the chatbot update leads too.
  WriteFile(absl::StrReplaceAll(CallersJson(),
                                {{R"("kommo.v1.LeadService/CreateLead")",
                                  R"("kommo.v1.LeadService/CreateLead", ")" + method + "\""}}));
  EXPECT_TRUE(authorizer->Check(Bearer(kChatbotToken), method).ok());
  // A broken edit is refused; the callers in force stay.
  WriteFile("{\"callers\": [");
  EXPECT_TRUE(authorizer->Check(Bearer(kChatbotToken), method).ok());
  EXPECT_EQ(authorizer->caller_count(), 2u);
  // The chatbot's token is revoked.
  WriteFile(absl::StrReplaceAll(CallersJson(), {{Hex(kChatbotToken), Hex("a-new-token")}}));
  EXPECT_EQ(authorizer->Check(Bearer(kChatbotToken), method).status().code(),
            absl::StatusCode::kUnauthenticated);
}

}  // namespace
}  // namespace kommo::auth
