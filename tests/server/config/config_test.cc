#include "server/config.h"

#include <fstream>
#include <map>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kommo {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class ConfigTest : public ::testing::Test {
 protected:
  absl::StatusOr<Config> Load(const std::vector<std::string>& args = {}) {
    return LoadConfig(args, [this](const char* name) -> const char* {
      auto it = env_.find(name);
      return it == env_.end() ? nullptr : it->second.c_str();
    });
  }
  std::string Error(const std::vector<std::string>& args = {}) {
    absl::StatusOr<Config> config = Load(args);
    EXPECT_FALSE(config.ok());
    return std::string(config.status().message());
  }
  std::string TempFile(const std::string& contents) {
    std::string path = ::testing::TempDir() + "/token-" +
                       ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::ofstream(path) << contents;
    return path;
  }

  std::map<std::string, std::string> env_;
};

TEST_F(ConfigTest, DomainAndTokenGiveTheDefaults) {
  env_ = {{"KOMMO_BASE_DOMAIN", "Acme.Kommo.com"}, {"KOMMO_ACCESS_TOKEN", "tok"}};
  absl::StatusOr<Config> config = Load();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->api_base_url, "https://acme.kommo.com/api/v4");
  EXPECT_EQ(config->access_token, "tok");
  EXPECT_EQ(config->listen, "0.0.0.0:50051");
  EXPECT_EQ(config->rate_limit_rps, 7);
  EXPECT_EQ(config->request_timeout, absl::Seconds(20));
}

TEST_F(ConfigTest, FlagsOverrideTheEnvironment) {
  env_ = {{"KOMMO_API_URL", "http://127.0.0.1:9/"},
          {"KOMMO_ACCESS_TOKEN", "tok"},
          {"KOMMO_RATE_LIMIT_RPS", "3"},
          {"GRPC_LISTEN_ADDRESS", "127.0.0.1:1"}};
  absl::StatusOr<Config> config =
      Load({"--listen=127.0.0.1:0", "--kommo_rate_limit_rps", "5.5", "--default_deadline=2s"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->api_base_url, "http://127.0.0.1:9/api/v4");
  EXPECT_EQ(config->listen, "127.0.0.1:0");
  EXPECT_EQ(config->rate_limit_rps, 5.5);
  EXPECT_EQ(config->default_deadline, absl::Seconds(2));
}

TEST_F(ConfigTest, TokenFromAFileIsTrimmed) {
  env_ = {{"KOMMO_BASE_DOMAIN", "acme.amocrm.ru"},
          {"KOMMO_ACCESS_TOKEN_FILE", TempFile("  eyJ.token.x\n")}};
  absl::StatusOr<Config> config = Load();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->access_token, "eyJ.token.x");
}

TEST_F(ConfigTest, RefusesBadDomainsWithOneClearMessage) {
  env_ = {{"KOMMO_ACCESS_TOKEN", "tok"}};
  env_["KOMMO_BASE_DOMAIN"] = "https://acme.kommo.com";
  EXPECT_THAT(Error(), HasSubstr("without a scheme"));
  env_["KOMMO_BASE_DOMAIN"] = "acme.kommo.com/api";
  EXPECT_THAT(Error(), HasSubstr("without a path"));
  env_["KOMMO_BASE_DOMAIN"] = "acme.kommo.com:443";
  EXPECT_THAT(Error(), HasSubstr("without a port"));
  env_["KOMMO_BASE_DOMAIN"] = "evil.example.com";
  EXPECT_THAT(Error(), HasSubstr("*.kommo.com"));
  env_["KOMMO_BASE_DOMAIN"] = "kommo.com";
  EXPECT_THAT(Error(), HasSubstr("*.kommo.com"));
  env_.erase("KOMMO_BASE_DOMAIN");
  EXPECT_THAT(Error(), HasSubstr("KOMMO_BASE_DOMAIN is not set"));
}

TEST_F(ConfigTest, RefusesMissingOrUnreadableTokensWithoutEchoingThem) {
  env_ = {{"KOMMO_BASE_DOMAIN", "acme.kommo.com"}};
  EXPECT_THAT(Error(), HasSubstr("no Kommo access token"));
  env_["KOMMO_ACCESS_TOKEN_FILE"] = "/nonexistent/token";
  EXPECT_THAT(Error(), HasSubstr("cannot read /nonexistent/token"));
  env_.erase("KOMMO_ACCESS_TOKEN_FILE");
  env_["KOMMO_ACCESS_TOKEN"] = "sec ret";
  std::string error = Error();
  EXPECT_THAT(error, HasSubstr("spaces or control characters"));
  EXPECT_THAT(error, Not(HasSubstr("sec ret")));
}

TEST_F(ConfigTest, RefusesBadNumbersAndUnknownFlags) {
  env_ = {{"KOMMO_BASE_DOMAIN", "acme.kommo.com"}, {"KOMMO_ACCESS_TOKEN", "tok"}};
  EXPECT_THAT(Error({"--kommo_rate_limit_rps=0"}), HasSubstr("KOMMO_RATE_LIMIT_RPS"));
  EXPECT_THAT(Error({"--kommo_request_timeout=fast"}), HasSubstr("KOMMO_REQUEST_TIMEOUT"));
  EXPECT_THAT(Error({"--kommo_access_token=x"}), HasSubstr("unknown flag"));
  EXPECT_THAT(Error({"--listen"}), HasSubstr("needs a value"));
  EXPECT_THAT(Error({"--kommo_coalesce_window=-1ms"}), HasSubstr("KOMMO_COALESCE_WINDOW"));
  EXPECT_EQ(Load({"--kommo_coalesce_window=0"})->coalesce_window, absl::ZeroDuration());
  EXPECT_EQ(Load({"--help"}).status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Usage(), HasSubstr("KOMMO_RATE_LIMIT_RPS"));
}

}  // namespace
}  // namespace kommo
