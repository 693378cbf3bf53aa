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

// Issue 11: every bad listen setting is refused before anything starts, naming the setting.
TEST_F(ConfigTest, RefusesBadListenAddressesNamingTheSetting) {
  env_ = {{"KOMMO_API_URL", "http://127.0.0.1:8080"}, {"KOMMO_ACCESS_TOKEN", "tok"}};
  EXPECT_THAT(Error({"--listen=127.0.0.1:99999"}),
              HasSubstr("GRPC_LISTEN_ADDRESS: port 99999 of \"127.0.0.1:99999\" is out of range"));
  EXPECT_THAT(
      Error({"--listen=127.0.0.1:http"}),
      HasSubstr("GRPC_LISTEN_ADDRESS: port \"http\" of \"127.0.0.1:http\" is not a number"));
  EXPECT_THAT(Error({"--listen=127.0.0.1:-1"}), HasSubstr("is not a number"));
  EXPECT_THAT(Error({"--listen=127.0.0.1"}), HasSubstr("is not host:port"));
  EXPECT_THAT(Error({"--listen=:50051"}), HasSubstr("has no host"));
  EXPECT_THAT(Error({"--listen=no-such-host.invalid:50051"}),
              HasSubstr("GRPC_LISTEN_ADDRESS: host \"no-such-host.invalid\" of "
                        "\"no-such-host.invalid:50051\" does not resolve"));
  EXPECT_THAT(Error({"--listen=::1:50051"}), HasSubstr("in brackets"));
  EXPECT_TRUE(Load({"--listen=[::1]:0"}).ok());
  EXPECT_TRUE(Load({"--listen=localhost:65535"}).ok());

  EXPECT_THAT(Error({"--metrics_listen=127.0.0.1:70000"}),
              HasSubstr("METRICS_LISTEN_ADDRESS: port 70000"));
  env_["METRICS_LISTEN_ADDRESS"] = "nowhere.invalid:9090";
  EXPECT_THAT(Error(), HasSubstr("METRICS_LISTEN_ADDRESS: host \"nowhere.invalid\""));
}

// Issue 11: any number of servers start on one host with the required settings only.
TEST_F(ConfigTest, MetricsAreOffUnlessAskedFor) {
  env_ = {{"KOMMO_API_URL", "http://127.0.0.1:8080"}, {"KOMMO_ACCESS_TOKEN", "tok"}};
  absl::StatusOr<Config> config = Load();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->metrics_listen, "off");
  env_["METRICS_LISTEN_ADDRESS"] = "0.0.0.0:9090";
  config = Load();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->metrics_listen, "0.0.0.0:9090");
}

// Issue 15: Redis is off unless REDIS_URL is set; its two numbers are checked.
TEST_F(ConfigTest, RedisSettings) {
  env_ = {{"KOMMO_API_URL", "http://127.0.0.1:8080"}, {"KOMMO_ACCESS_TOKEN", "tok"}};
  absl::StatusOr<Config> config = Load();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->redis_url, "");
  EXPECT_EQ(config->redis_fallback_replicas, 1);
  EXPECT_EQ(config->redis_timeout, absl::Milliseconds(250));
  env_["REDIS_URL"] = "redis://:pw@redis:6379/1";
  env_["REDIS_FALLBACK_REPLICAS"] = "3";
  config = Load({"--redis_timeout=100ms"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->redis_url, "redis://:pw@redis:6379/1");
  EXPECT_EQ(config->redis_fallback_replicas, 3);
  EXPECT_EQ(config->redis_timeout, absl::Milliseconds(100));
  EXPECT_THAT(Error({"--redis_fallback_replicas=0"}), HasSubstr("REDIS_FALLBACK_REPLICAS"));
  EXPECT_THAT(Error({"--redis_timeout=20s"}), HasSubstr("REDIS_TIMEOUT"));
  // A URL holds a password: never a flag.
  EXPECT_THAT(Error({"--redis_url=redis://x"}), Not(HasSubstr("redis://x")));
}

// Issue 11: a KOMMO_API_URL copied with Kommo's path is not doubled into /api/v4/api/v4.
TEST_F(ConfigTest, ApiUrlEndingInApiV4IsNormalised) {
  env_ = {{"KOMMO_ACCESS_TOKEN", "tok"}};
  for (const char* url : {"http://127.0.0.1:8080/api/v4", "http://127.0.0.1:8080/api/v4/",
                          "http://127.0.0.1:8080/", "http://127.0.0.1:8080"}) {
    env_["KOMMO_API_URL"] = url;
    absl::StatusOr<Config> config = Load();
    ASSERT_TRUE(config.ok()) << url << ": " << config.status();
    EXPECT_EQ(config->api_base_url, "http://127.0.0.1:8080/api/v4") << url;
  }
  env_["KOMMO_API_URL"] = "https://proxy.example.com/kommo/api/v4";
  ASSERT_TRUE(Load().ok());
  EXPECT_EQ(Load()->api_base_url, "https://proxy.example.com/kommo/api/v4");
  env_["KOMMO_API_URL"] = "http:///api/v4";
  EXPECT_THAT(Error(), HasSubstr("has no host"));
}

TEST_F(ConfigTest, IdempotencySettingsHaveDefaultsAndAreChecked) {
  env_ = {{"KOMMO_API_URL", "http://127.0.0.1:8080"}, {"KOMMO_ACCESS_TOKEN", "tok"}};
  absl::StatusOr<Config> config = Load();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->idempotency_retention, absl::Hours(24));
  EXPECT_EQ(config->idempotency_max_entries, 100000u);

  env_["IDEMPOTENCY_RETENTION"] = "90m";
  env_["IDEMPOTENCY_MAX_ENTRIES"] = "500";
  config = Load();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->idempotency_retention, absl::Minutes(90));
  EXPECT_EQ(config->idempotency_max_entries, 500u);
  // Flags win.
  config = Load({"--idempotency_retention=48h", "--idempotency_max_entries", "7"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->idempotency_retention, absl::Hours(48));
  EXPECT_EQ(config->idempotency_max_entries, 7u);

  EXPECT_THAT(Error({"--idempotency_retention=0s"}),
              HasSubstr("IDEMPOTENCY_RETENTION: \"0s\" is not a positive duration"));
  EXPECT_THAT(Error({"--idempotency_retention=1day"}), HasSubstr("IDEMPOTENCY_RETENTION"));
  EXPECT_THAT(Error({"--idempotency_max_entries=0"}),
              HasSubstr("IDEMPOTENCY_MAX_ENTRIES: \"0\" is not a whole number greater than 0"));
  EXPECT_THAT(Error({"--idempotency_max_entries=-5"}), HasSubstr("IDEMPOTENCY_MAX_ENTRIES"));
  EXPECT_THAT(Error({"--idempotency_max_entries=1e5"}), HasSubstr("IDEMPOTENCY_MAX_ENTRIES"));
  EXPECT_THAT(Usage(), HasSubstr("IDEMPOTENCY_RETENTION / --idempotency_retention"));
  EXPECT_THAT(Usage(), HasSubstr("IDEMPOTENCY_MAX_ENTRIES / --idempotency_max_entries"));
}

TEST_F(ConfigTest, CatalogueTtlHasADefaultAndIsChecked) {
  env_ = {{"KOMMO_API_URL", "http://127.0.0.1:8080"}, {"KOMMO_ACCESS_TOKEN", "tok"}};
  absl::StatusOr<Config> config = Load();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->catalogue_ttl, absl::Minutes(5));

  env_["KOMMO_CATALOGUE_TTL"] = "90s";
  config = Load();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->catalogue_ttl, absl::Seconds(90));
  // Flags win; 0 keeps nothing.
  config = Load({"--kommo_catalogue_ttl=0s"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->catalogue_ttl, absl::ZeroDuration());
  config = Load({"--kommo_catalogue_ttl", "24h"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->catalogue_ttl, absl::Hours(24));

  EXPECT_THAT(Error({"--kommo_catalogue_ttl=-1s"}),
              HasSubstr("KOMMO_CATALOGUE_TTL: \"-1s\" is not a duration from 0 to 24h"));
  EXPECT_THAT(Error({"--kommo_catalogue_ttl=25h"}), HasSubstr("KOMMO_CATALOGUE_TTL"));
  EXPECT_THAT(Error({"--kommo_catalogue_ttl=5 minutes"}), HasSubstr("KOMMO_CATALOGUE_TTL"));
  EXPECT_THAT(Usage(), HasSubstr("KOMMO_CATALOGUE_TTL / --kommo_catalogue_ttl"));
}

TEST_F(ConfigTest, TlsFilesComeTogetherAndTheReloadIntervalIsChecked) {
  env_ = {{"KOMMO_API_URL", "http://127.0.0.1:9"}, {"KOMMO_ACCESS_TOKEN", "tok"}};
  absl::StatusOr<Config> config = Load();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->tls_cert_file, "");  // plaintext by default
  EXPECT_EQ(config->tls_reload_interval, absl::Seconds(60));

  config = Load({"--tls_cert_file=/s/tls.crt", "--tls_key_file=/s/tls.key",
                 "--tls_client_ca_file=/s/ca.crt", "--tls_reload_interval=1s"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->tls_cert_file, "/s/tls.crt");
  EXPECT_EQ(config->tls_key_file, "/s/tls.key");
  EXPECT_EQ(config->tls_client_ca_file, "/s/ca.crt");
  EXPECT_EQ(config->tls_reload_interval, absl::Seconds(1));

  EXPECT_THAT(Error({"--tls_cert_file=/s/tls.crt"}),
              HasSubstr("TLS_CERT_FILE is set without TLS_KEY_FILE"));
  env_["TLS_KEY_FILE"] = "/s/tls.key";
  EXPECT_THAT(Error(), HasSubstr("TLS_KEY_FILE is set without TLS_CERT_FILE"));
  env_.erase("TLS_KEY_FILE");
  EXPECT_THAT(Error({"--tls_client_ca_file=/s/ca.crt"}),
              HasSubstr("TLS_CLIENT_CA_FILE needs TLS_CERT_FILE and TLS_KEY_FILE"));
  EXPECT_THAT(Error({"--tls_reload_interval=500ms"}),
              HasSubstr("TLS_RELOAD_INTERVAL: \"500ms\" is not a duration from 1s to 24h"));
  EXPECT_THAT(Usage(), HasSubstr("TLS_CLIENT_CA_FILE / --tls_client_ca_file"));

  // Shared state: the lease of a replica's claims in Redis.
  EXPECT_EQ(config->redis_lease, absl::Seconds(5));
  config = Load({"--redis_lease=2s"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->redis_lease, absl::Seconds(2));
  EXPECT_THAT(Error({"--redis_lease=500ms"}),
              HasSubstr("REDIS_LEASE: \"500ms\" is not a duration from 1s to 1m"));

  // The plaintext health port for probes.
  EXPECT_EQ(config->health_listen, "off");
  config = Load({"--health_listen=127.0.0.1:0"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->health_listen, "127.0.0.1:0");
  EXPECT_THAT(Error({"--health_listen=50052"}), HasSubstr("HEALTH_LISTEN_ADDRESS"));
}

// ---- KOMMO_ACCOUNTS_FILE ------------------------------------------------------------------------

class AccountsFileTest : public ConfigTest {
 protected:
  // A file at a path of this test's own, named `name`.
  std::string File(const std::string& name, const std::string& contents) {
    std::string path = ::testing::TempDir() + "/" +
                       ::testing::UnitTest::GetInstance()->current_test_info()->name() + "-" + name;
    std::ofstream(path) << contents;
    return path;
  }
  // The error of loading an accounts file holding `json` (tokens "secret-a" and "secret-b" in
  // files of their own, named by $A and $B).
  std::string FileError(std::string json) {
    const std::string a = File("a", "secret-token-a\n");
    const std::string b = File("b", "secret-token-b");
    for (auto [from, to] : {std::pair<std::string, std::string>{"$A", a}, {"$B", b}}) {
      for (size_t at = json.find(from); at != std::string::npos; at = json.find(from)) {
        json.replace(at, from.size(), to);
      }
    }
    env_ = {{"KOMMO_ACCOUNTS_FILE", File("accounts.json", json)}};
    const std::string error = Error();
    EXPECT_THAT(error, HasSubstr("KOMMO_ACCOUNTS_FILE "));
    EXPECT_THAT(error, Not(HasSubstr("secret-token")));
    EXPECT_EQ(error.find('\n'), std::string::npos) << "one line";
    return error;
  }
};

TEST_F(AccountsFileTest, WithoutTheFileOneDefaultAccountComesFromTheSettings) {
  env_ = {{"KOMMO_BASE_DOMAIN", "acme.kommo.com"},
          {"KOMMO_ACCESS_TOKEN", "tok"},
          {"KOMMO_RATE_LIMIT_RPS", "3"},
          {"KOMMO_RATE_LIMIT_BURST", "2"}};
  absl::StatusOr<Config> config = Load();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->accounts_file.empty());
  ASSERT_EQ(config->accounts.accounts.size(), 1u);
  const AccountConfig& account = config->accounts.accounts[0];
  EXPECT_EQ(account.name, "default");
  EXPECT_EQ(account.api_base_url, "https://acme.kommo.com/api/v4");
  EXPECT_EQ(account.access_token, "tok");
  EXPECT_EQ(account.rate_limit_rps, 3);
  EXPECT_EQ(account.rate_limit_burst, 2);
  EXPECT_EQ(config->accounts.default_account, "default");
}

TEST_F(AccountsFileTest, AGoodFileGivesEachAccountItsSettings) {
  const std::string a = File("a", "  token-a\n");
  const std::string b = File("b", "token-b");
  env_ = {{"KOMMO_ACCOUNTS_FILE", File("accounts.json",
                                       R"({"accounts": {
                  "acme": {"base_domain": "Acme.Kommo.com", "token_file": ")" +
                                           a + R"(", "rate_limit_rps": 5, "rate_limit_burst": 2},
                  "emu_2": {"api_url": "http://127.0.0.1:9/api/v4/", "token_file": ")" +
                                           b + R"(", "default": true}}})")},
          {"KOMMO_RATE_LIMIT_RPS", "4"}};
  absl::StatusOr<Config> config = Load();
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->accounts.accounts.size(), 2u);
  const AccountConfig& acme = config->accounts.accounts[0];
  EXPECT_EQ(acme.name, "acme");
  EXPECT_EQ(acme.api_base_url, "https://acme.kommo.com/api/v4");
  EXPECT_EQ(acme.access_token, "token-a");
  EXPECT_EQ(acme.access_token_file, a);
  EXPECT_EQ(acme.rate_limit_rps, 5);
  EXPECT_EQ(acme.rate_limit_burst, 2);
  const AccountConfig& emu = config->accounts.accounts[1];
  EXPECT_EQ(emu.name, "emu_2");
  EXPECT_EQ(emu.api_base_url, "http://127.0.0.1:9/api/v4");
  EXPECT_EQ(emu.access_token, "token-b");
  // No budget of its own: KOMMO_RATE_LIMIT_RPS's, and the default burst.
  EXPECT_EQ(emu.rate_limit_rps, 4);
  EXPECT_EQ(emu.rate_limit_burst, 1);
  EXPECT_EQ(config->accounts.default_account, "emu_2");
}

TEST_F(AccountsFileTest, TheDefaultAccountIsTheMarkedOneElseDefaultElseTheOnlyOne) {
  const std::string t = File("t", "tok");
  const auto load = [&](const std::string& accounts) {
    env_ = {{"KOMMO_ACCOUNTS_FILE", File("accounts.json", R"({"accounts": {)" + accounts + "}}")}};
    absl::StatusOr<Config> config = Load();
    EXPECT_TRUE(config.ok()) << config.status();
    return config.ok() ? config->accounts.default_account : "?";
  };
  const std::string x = R"({"api_url": "http://127.0.0.1:9", "token_file": ")" + t + R"("})";
  EXPECT_EQ(load(R"("a": )" + x + R"(, "default": )" + x), "default");
  EXPECT_EQ(load(R"("solo": )" + x), "solo");
  EXPECT_EQ(load(R"("a": )" + x + R"(, "b": )" + x), "");  // calls must name their account
}

TEST_F(AccountsFileTest, TheFileReplacesTheSingleAccountSettings) {
  env_ = {{"KOMMO_ACCOUNTS_FILE", File("accounts.json", "{}")}, {"KOMMO_API_URL", "http://x:1"}};
  EXPECT_THAT(Error(), HasSubstr("KOMMO_API_URL must not be set"));
  env_ = {{"KOMMO_ACCOUNTS_FILE", File("accounts.json", "{}")}, {"KOMMO_ACCESS_TOKEN", "t"}};
  EXPECT_THAT(Error(), HasSubstr("KOMMO_ACCESS_TOKEN must not be set"));
}

TEST_F(AccountsFileTest, EachBadFieldIsOneLineNamingTheAccountAndTheField) {
  env_ = {{"KOMMO_ACCOUNTS_FILE", ::testing::TempDir() + "/no-such-accounts.json"}};
  EXPECT_THAT(Error(), HasSubstr("cannot read the file"));

  EXPECT_THAT(FileError("{"), HasSubstr("not valid JSON"));
  EXPECT_THAT(FileError("[]"), HasSubstr("must be an object"));
  EXPECT_THAT(FileError(R"({"accounts": {}})"), HasSubstr("at least one account"));
  EXPECT_THAT(FileError(R"({"accounts": {}, "extra": 1})"), HasSubstr("unknown member \"extra\""));
  EXPECT_THAT(FileError(R"({"accounts": {"bad name": {}}})"),
              HasSubstr("account name \"bad name\" must be 1 to 64 letters"));
  EXPECT_THAT(FileError(R"({"accounts": {")" + std::string(100, 'x') + R"(": {}}})"),
              Not(HasSubstr(std::string(65, 'x'))));
  EXPECT_THAT(FileError(R"({"accounts": {"a": 1}})"),
              HasSubstr("account \"a\": must be an object"));
  const std::string ok = R"("api_url": "http://127.0.0.1:9", "token_file": "$A")";
  EXPECT_THAT(FileError(R"({"accounts": {"a": {)" + ok + R"(}, "a": {)" + ok + R"(}}})"),
              HasSubstr("account \"a\" is named twice"));
  EXPECT_THAT(FileError(R"({"accounts": {"a": {"token_file": "$A"}}})"),
              HasSubstr("account \"a\": give exactly one of \"base_domain\" and \"api_url\""));
  EXPECT_THAT(FileError(R"({"accounts": {"a": {"base_domain": "x.kommo.com", "api_url": "http://h",
                "token_file": "$A"}}})"),
              HasSubstr("give exactly one of"));
  EXPECT_THAT(
      FileError(R"({"accounts": {"a": {"base_domain": "example.com", "token_file": "$A"}}})"),
      HasSubstr("account \"a\": base_domain: must be a Kommo account host"));
  EXPECT_THAT(FileError(R"({"accounts": {"a": {"base_domain": "https://x.kommo.com",
                "token_file": "$A"}}})"),
              HasSubstr("account \"a\": base_domain: give the host only"));
  EXPECT_THAT(FileError(R"({"accounts": {"a": {"api_url": "ftp://h", "token_file": "$A"}}})"),
              HasSubstr("account \"a\": api_url: must start with http:// or https://"));
  EXPECT_THAT(FileError(R"({"accounts": {"a": {"api_url": 7, "token_file": "$A"}}})"),
              HasSubstr("account \"a\": api_url: must be a non-empty string"));
  EXPECT_THAT(FileError(R"({"accounts": {"a": {"api_url": "http://h"}}})"),
              HasSubstr("account \"a\": \"token_file\" is missing"));
  EXPECT_THAT(FileError(R"({"accounts": {"a": {"api_url": "http://h", "token_file": "/nope/x"}}})"),
              HasSubstr("account \"a\": token_file: cannot read /nope/x"));
  const std::string empty = File("empty", " \n");
  EXPECT_THAT(FileError(R"({"accounts": {"a": {"api_url": "http://h", "token_file": ")" + empty +
                        R"("}}})"),
              HasSubstr("account \"a\": token_file: " + empty + " is empty"));
  const std::string spaced = File("spaced", "secret-token-c with space");
  EXPECT_THAT(FileError(R"({"accounts": {"a": {"api_url": "http://h", "token_file": ")" + spaced +
                        R"("}}})"),
              HasSubstr("account \"a\": token_file: the token in " + spaced +
                        " holds spaces or control characters"));
  EXPECT_THAT(
      FileError(R"({"accounts": {"a": {)" + ok + R"(, "access_token": "secret-token-x"}}})"),
      HasSubstr("account \"a\": access_token: tokens are not written in the accounts file"));
  for (const char* rps : {"0", "-1", "10001", "\"7\""}) {
    EXPECT_THAT(
        FileError(R"({"accounts": {"a": {)" + ok + R"(, "rate_limit_rps": )" + rps + "}}}"),
        HasSubstr("account \"a\": rate_limit_rps: must be a number above 0 and at most 10000"))
        << rps;
  }
  for (const char* burst : {"0", "1001", "1.5", "true"}) {
    EXPECT_THAT(
        FileError(R"({"accounts": {"a": {)" + ok + R"(, "rate_limit_burst": )" + burst + "}}}"),
        HasSubstr("account \"a\": rate_limit_burst: must be a whole number from 1 to 1000"))
        << burst;
  }
  EXPECT_THAT(FileError(R"({"accounts": {"a": {)" + ok + R"(, "default": "yes"}}})"),
              HasSubstr("account \"a\": default: must be true or false"));
  EXPECT_THAT(FileError(R"({"accounts": {"a": {)" + ok + R"(, "colour": 1}}})"),
              HasSubstr("account \"a\": unknown member \"colour\""));
  EXPECT_THAT(FileError(R"({"accounts": {"a": {)" + ok + R"(, "default": true}, "b": {)" + ok +
                        R"(, "default": true}}})"),
              HasSubstr("accounts \"a\" and \"b\" are both marked \"default\": true"));
}

}  // namespace
}  // namespace kommo
