#include "server/accounts/accounts.h"

#include <unistd.h>

#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/common/error_details.h"
#include "server/common/log.h"

namespace kommo::accounts {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

absl::Mutex log_mu;
std::vector<std::string>* log_lines = new std::vector<std::string>();
void CaptureLine(const std::string& line) {
  absl::MutexLock lock(&log_mu);
  log_lines->push_back(line);
}

// The registry over accounts that are only their settings (no client): what is tested here is
// which accounts are in force, and which object each name gives.
class AccountRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    log::SetSinkForTesting(&CaptureLine);
    dir_ = ::testing::TempDir() + "/" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    ASSERT_EQ(system(("mkdir -p '" + dir_ + "'").c_str()), 0);
    std::ofstream(dir_ + "/token-a") << "secret-token-a";
    std::ofstream(dir_ + "/token-b") << "secret-token-b";
    path_ = dir_ + "/accounts.json";
  }
  void TearDown() override {
    log::SetSinkForTesting(nullptr);
    absl::MutexLock lock(&log_mu);
    for (const std::string& line : *log_lines) EXPECT_THAT(line, Not(HasSubstr("secret-token")));
    log_lines->clear();
  }

  // An account entry of the file.
  std::string Entry(const std::string& name, const std::string& url, const std::string& token,
                    const std::string& extra = "") {
    return "\"" + name + "\": {\"api_url\": \"" + url + "\", \"token_file\": \"" + dir_ +
           "/token-" + token + "\"" + extra + "}";
  }
  // Writes the file through a rename, as an editor or Kubernetes does (a new inode).
  void Write(const std::string& contents) {
    const std::string next = path_ + ".next";
    std::ofstream(next) << contents;
    ASSERT_EQ(::rename(next.c_str(), path_.c_str()), 0);
  }
  std::unique_ptr<AccountRegistry> Start(const std::string& contents) {
    Write(contents);
    absl::StatusOr<AccountsConfig> initial = LoadAccountsFile(path_, 7, 1);
    EXPECT_TRUE(initial.ok()) << initial.status();
    AccountRegistryOptions options;
    options.accounts_file = path_;
    options.make = [this](const AccountConfig& config) {
      auto account = std::make_shared<Account>();
      account->config = config;
      ++made_[config.name];
      return account;
    };
    return AccountRegistry::Create(std::move(options), *initial);
  }
  static std::vector<std::string> Names(AccountRegistry& registry) {
    std::vector<std::string> names;
    for (const AccountPtr& account : registry.All()) names.push_back(account->name());
    return names;
  }

  std::string dir_;
  std::string path_;
  std::map<std::string, int> made_;
};

TEST_F(AccountRegistryTest, FindsByNameAndTheDefaultWithoutOne) {
  auto registry = Start("{\"accounts\": {" + Entry("a", "http://127.0.0.1:1", "a") + ", " +
                        Entry("b", "http://127.0.0.1:2", "b", ", \"default\": true") + "}}");
  EXPECT_THAT(Names(*registry), ElementsAre("a", "b"));
  absl::StatusOr<AccountPtr> a = registry->Find("a");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ((*a)->config.api_base_url, "http://127.0.0.1:1/api/v4");
  absl::StatusOr<AccountPtr> fallback = registry->Find("");
  ASSERT_TRUE(fallback.ok());
  EXPECT_EQ((*fallback)->name(), "b");
}

TEST_F(AccountRegistryTest, AnUnknownAccountIsInvalidArgumentWithTheReason) {
  auto registry = Start("{\"accounts\": {" + Entry("a", "http://127.0.0.1:1", "a") + ", " +
                        Entry("b", "http://127.0.0.1:2", "b") + "}}");
  absl::StatusOr<AccountPtr> missing = registry->Find("c");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument);
  std::optional<google::rpc::ErrorInfo> info = GetErrorInfo(missing.status());
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->reason(), "UNKNOWN_ACCOUNT");
  EXPECT_EQ(info->metadata().at("account"), "c");
  EXPECT_EQ(info->metadata().at("known_accounts"), "a,b");
  EXPECT_THAT(missing.status().message(), HasSubstr("no Kommo account \"c\""));

  // Arbitrary input is not echoed.
  const std::string junk = std::string(200, 'z') + "<script>";
  absl::StatusOr<AccountPtr> odd = registry->Find(junk);
  ASSERT_FALSE(odd.ok());
  EXPECT_THAT(odd.status().message(), Not(HasSubstr("zzzz")));
  EXPECT_EQ(GetErrorInfo(odd.status())->metadata().count("account"), 0u);

  // Two accounts, none marked: a call must name one.
  absl::StatusOr<AccountPtr> unnamed = registry->Find("");
  ASSERT_FALSE(unnamed.ok());
  EXPECT_EQ(GetErrorInfo(unnamed.status())->reason(), "UNKNOWN_ACCOUNT");
  EXPECT_THAT(unnamed.status().message(), HasSubstr("no default account"));
}

TEST_F(AccountRegistryTest, AReloadAddsRemovesAndReplacesOnlyWhatChanged) {
  auto registry = Start("{\"accounts\": {" + Entry("a", "http://127.0.0.1:1", "a") + ", " +
                        Entry("b", "http://127.0.0.1:2", "b") + "}}");
  AccountPtr a_before = *registry->Find("a");
  AccountPtr b_before = *registry->Find("b");
  EXPECT_FALSE(registry->ReloadIfChanged()) << "the file did not change";

  // b's URL changes, a stays, c is added.
  Write("{\"accounts\": {" + Entry("a", "http://127.0.0.1:1", "a") + ", " +
        Entry("b", "http://127.0.0.1:3", "b") + ", " + Entry("c", "http://127.0.0.1:4", "a") +
        "}}");
  EXPECT_TRUE(registry->ReloadIfChanged());
  EXPECT_THAT(Names(*registry), ElementsAre("a", "b", "c"));
  EXPECT_EQ(*registry->Find("a"), a_before) << "unchanged: the same client, budget and circuit";
  AccountPtr b_after = *registry->Find("b");
  EXPECT_NE(b_after, b_before);
  EXPECT_EQ(b_after->config.api_base_url, "http://127.0.0.1:3/api/v4");
  // A call that held the old b keeps it, with its old settings, to its end.
  EXPECT_EQ(b_before->config.api_base_url, "http://127.0.0.1:2/api/v4");
  EXPECT_EQ(made_["a"], 1);
  EXPECT_EQ(made_["b"], 2);
  EXPECT_EQ(made_["c"], 1);

  // a is removed: new calls cannot use it; one that held it still can.
  Write("{\"accounts\": {" + Entry("b", "http://127.0.0.1:3", "b") + ", " +
        Entry("c", "http://127.0.0.1:4", "a") + "}}");
  EXPECT_TRUE(registry->ReloadIfChanged());
  EXPECT_THAT(Names(*registry), ElementsAre("b", "c"));
  EXPECT_EQ(GetErrorInfo(registry->Find("a").status())->reason(), "UNKNOWN_ACCOUNT");
  EXPECT_EQ(a_before->config.api_base_url, "http://127.0.0.1:1/api/v4");
  EXPECT_EQ(a_before.use_count(), 1) << "the registry let go of it";
}

TEST_F(AccountRegistryTest, ABadEditIsLoggedAndTheAccountsInForceStay) {
  auto registry = Start("{\"accounts\": {" + Entry("a", "http://127.0.0.1:1", "a") + "}}");
  AccountPtr a = *registry->Find("a");
  for (const std::string& bad :
       {std::string("{not json"), "{\"accounts\": {" + Entry("a", "ftp://127.0.0.1:1", "a") + "}}",
        "{\"accounts\": {" + Entry("a", "http://127.0.0.1:1", "missing") + "}}",
        "{\"accounts\": {" + Entry("a", "http://127.0.0.1:1", "a", ", \"rate_limit_rps\": 0") +
            "}}"}) {
    Write(bad);
    EXPECT_FALSE(registry->ReloadIfChanged()) << bad;
    EXPECT_THAT(Names(*registry), ElementsAre("a"));
    EXPECT_EQ(*registry->Find("a"), a);
    EXPECT_EQ(*registry->Find(""), a);
  }
  {
    absl::MutexLock lock(&log_mu);
    int refused = 0;
    for (const std::string& line : *log_lines) {
      if (line.find("accounts file not reloaded") != std::string::npos) ++refused;
    }
    EXPECT_EQ(refused, 4);
  }
  // The file is fixed: it is read again.
  Write("{\"accounts\": {" + Entry("a", "http://127.0.0.1:1", "a") + ", " +
        Entry("b", "http://127.0.0.1:2", "b") + "}}");
  EXPECT_TRUE(registry->ReloadIfChanged());
  EXPECT_THAT(Names(*registry), ElementsAre("a", "b"));
  EXPECT_EQ(*registry->Find("a"), a);
}

TEST_F(AccountRegistryTest, ARotatedTokenFileAloneDoesNotReplaceTheAccount) {
  auto registry = Start("{\"accounts\": {" + Entry("a", "http://127.0.0.1:1", "a") + "}}");
  AccountPtr a = *registry->Find("a");
  std::ofstream(dir_ + "/token-a") << "secret-token-a-rotated";
  // The accounts file is rewritten as it was (a new inode): nothing of a's settings changed.
  Write("{\"accounts\": {" + Entry("a", "http://127.0.0.1:1", "a") + "}}");
  registry->ReloadIfChanged();
  EXPECT_EQ(*registry->Find("a"), a);
  EXPECT_EQ(made_["a"], 1);
}

}  // namespace
}  // namespace kommo::accounts
