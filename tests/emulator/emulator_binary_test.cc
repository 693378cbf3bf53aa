// The built kommo-emulator binary: first stdout line, a request, SIGTERM → exit 0.
#include <curl/curl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/emulator/test_helpers.h"

#ifndef KOMMO_EMULATOR_BINARY
#error "KOMMO_EMULATOR_BINARY must be the path of the kommo-emulator binary"
#endif

extern char** environ;

namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;

using ::kommo::emulator::testing::AppendToString;
using ::kommo::emulator::testing::ReadLine;
using ::kommo::emulator::testing::SpawnWithStdout;

TEST(EmulatorBinaryTest, PrintsItsAddressServesAndStopsOnSigterm) {
  int out = -1;
  const pid_t pid = SpawnWithStdout(
      {KOMMO_EMULATOR_BINARY, "--listen=127.0.0.1:0", "--token=binary-token"}, &out);
  ASSERT_GT(pid, 0);

  const std::string line = ReadLine(out, std::chrono::seconds(10));
  EXPECT_THAT(line, MatchesRegex("kommo-emulator listening on http://127\\.0\\.0\\.1:[0-9]+"));
  const std::string base_url = line.substr(line.rfind(' ') + 1);

  CURL* curl = curl_easy_init();
  std::string body;
  const std::string url = base_url + "/api/v4/account";
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_slist* headers = curl_slist_append(nullptr, "Authorization: Bearer binary-token");
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, AppendToString);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 5000L);
  EXPECT_EQ(curl_easy_perform(curl), CURLE_OK);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  EXPECT_EQ(status, 200);
  EXPECT_THAT(body, HasSubstr("\"subdomain\":\"emulator\""));
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);

  ASSERT_EQ(kill(pid, SIGTERM), 0);
  int wait_status = 0;
  ASSERT_EQ(waitpid(pid, &wait_status, 0), pid);
  EXPECT_TRUE(WIFEXITED(wait_status));
  EXPECT_EQ(WEXITSTATUS(wait_status), 0);
  close(out);
}

TEST(EmulatorBinaryTest, RejectsABadListenAddress) {
  std::string binary = KOMMO_EMULATOR_BINARY;
  std::string listen = "--listen=not-an-address";
  char* argv[] = {binary.data(), listen.data(), nullptr};
  pid_t pid = 0;
  ASSERT_EQ(posix_spawn(&pid, binary.c_str(), nullptr, nullptr, argv, environ), 0);
  int wait_status = 0;
  ASSERT_EQ(waitpid(pid, &wait_status, 0), pid);
  EXPECT_TRUE(WIFEXITED(wait_status));
  EXPECT_NE(WEXITSTATUS(wait_status), 0);
}

// --- flags for faults, the rate limit and the block ---------------------------------------------

// The binary with `flags`, stdout and stderr on pipes; stopped with SIGTERM by the destructor.
class Spawned {
 public:
  explicit Spawned(std::vector<std::string> flags) {
    if (pipe(out_) != 0 || pipe(err_) != 0) return;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out_[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, err_[1], STDERR_FILENO);
    posix_spawn_file_actions_addclose(&actions, out_[0]);
    posix_spawn_file_actions_addclose(&actions, err_[0]);
    std::string binary = KOMMO_EMULATOR_BINARY;
    flags.insert(flags.begin(), binary);
    std::vector<char*> argv;
    for (std::string& flag : flags) argv.push_back(flag.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, binary.c_str(), &actions, nullptr, argv.data(), environ) != 0) pid_ = 0;
    posix_spawn_file_actions_destroy(&actions);
    close(out_[1]);
    close(err_[1]);
  }
  ~Spawned() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      Wait();
    }
    close(out_[0]);
    close(err_[0]);
  }
  bool started() const { return pid_ > 0; }
  std::string FirstLine() { return ReadLine(out_[0], std::chrono::seconds(10)); }
  std::string ErrorLine() { return ReadLine(err_[0], std::chrono::seconds(10)); }
  // SIGTERM, then the exit code.
  int Stop() {
    if (pid_ > 0) kill(pid_, SIGTERM);
    return Wait();
  }
  // The exit code, or -1 if it did not exit normally.
  int Wait() {
    int wait_status = 0;
    const pid_t pid = pid_;
    pid_ = 0;
    if (pid <= 0 || waitpid(pid, &wait_status, 0) != pid) return -1;
    return WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : -1;
  }

 private:
  pid_t pid_ = 0;
  int out_[2] = {-1, -1};
  int err_[2] = {-1, -1};
};

struct Answer {
  long status = 0;
  std::string body;
  std::string content_type;
};

Answer Request(const std::string& method, const std::string& url, const std::string& token) {
  Answer answer;
  CURL* curl = curl_easy_init();
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_slist* headers = nullptr;
  if (!token.empty())
    headers = curl_slist_append(headers, ("Authorization: Bearer " + token).c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, AppendToString);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer.body);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 5000L);
  if (curl_easy_perform(curl) == CURLE_OK) {
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &answer.status);
    const char* type = nullptr;
    curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &type);
    if (type != nullptr) answer.content_type = type;
  }
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return answer;
}

TEST(EmulatorBinaryTest, FaultAndRateLimitFlagsApplyFromTheStart) {
  Spawned emulator({"--listen=127.0.0.1:0", "--token=t",
                    R"(--faults=[{"match":"GET /api/v4/account","fault":"status","status":503}])",
                    "--latency_ms=150", "--latency_match=GET /api/v4/users", "--rate_limit_rps=0.2",
                    "--rate_limit_burst=3", "--rate_limit_response=html", "--block_after_429s=2"});
  ASSERT_TRUE(emulator.started());
  const std::string line = emulator.FirstLine();
  ASSERT_THAT(line, HasSubstr("listening on http://"));
  const std::string base = line.substr(line.rfind(' ') + 1);
  const std::string account = base + "/api/v4/account";

  EXPECT_EQ(Request("GET", account, "t").status, 503);  // --faults
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(Request("GET", base + "/api/v4/users", "t").status, 200);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(150));
  EXPECT_EQ(Request("GET", account, "t").status, 200);  // the third and last token
  const Answer limited = Request("GET", account, "t");
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(limited.content_type, "text/html");
  EXPECT_EQ(Request("GET", account, "t").status, 429);  // the second in a row: blocked now
  EXPECT_EQ(Request("GET", account, "t").status, 403);

  EXPECT_EQ(Request("POST", base + "/_emulator/reset", "").status, 200);
  EXPECT_EQ(Request("GET", account, "t").status, 503);  // re-armed
  EXPECT_EQ(Request("GET", account, "t").status, 200);
  EXPECT_THAT(Request("GET", base + "/_emulator/counters", "").body,
              HasSubstr(R"({"method":"GET","path":"/api/v4/account","status":503,"count":1})"));
  EXPECT_EQ(emulator.Stop(), 0);
}

TEST(EmulatorBinaryTest, EventAndWebhookFlagsApplyFromTheStart) {
  Spawned emulator({"--listen=127.0.0.1:0", "--events_max=2", "--events_max_age_seconds=600",
                    "--webhook_time_scale=0.001", "--webhook_timeout_ms=500",
                    R"(--webhook_faults={"fault":"duplicate","times":0})"});
  ASSERT_TRUE(emulator.started());
  const std::string line = emulator.FirstLine();
  ASSERT_THAT(line, HasSubstr("listening on http://"));
  const std::string base = line.substr(line.rfind(' ') + 1);
  const std::string events = Request("GET", base + "/_emulator/events", "").body;
  EXPECT_THAT(events, HasSubstr(R"("max_events":2,"max_age_seconds":600)"));
  const std::string webhooks = Request("GET", base + "/_emulator/webhooks", "").body;
  EXPECT_THAT(webhooks, HasSubstr(R"("time_scale":0.001,"timeout_ms":500)"));
  EXPECT_THAT(webhooks, HasSubstr(R"("fault":"duplicate")"));
  EXPECT_EQ(Request("GET", base + "/api/v4/events", "any-token").status, 204);
  EXPECT_EQ(emulator.Stop(), 0);
}

TEST(EmulatorBinaryTest, RejectsBadFaultFlagsWithOneLine) {
  {
    Spawned emulator({"--listen=127.0.0.1:0", R"(--faults={"fault":"explode"})"});
    ASSERT_TRUE(emulator.started());
    EXPECT_THAT(emulator.ErrorLine(), HasSubstr("--faults: fault rule: \"fault\" must be one of"));
    EXPECT_EQ(emulator.Wait(), 1);
  }
  {
    Spawned emulator({"--listen=127.0.0.1:0", "--rate_limit_rps=7", "--rate_limit_response=xml"});
    EXPECT_THAT(emulator.ErrorLine(), HasSubstr("--rate_limit_response must be json or html"));
    EXPECT_EQ(emulator.Wait(), 1);
  }
  {
    Spawned emulator({"--listen=127.0.0.1:0", R"(--webhook_faults={"fault":"melt"})"});
    EXPECT_THAT(emulator.ErrorLine(), HasSubstr("--webhook_faults: webhook fault rule: \"fault\""));
    EXPECT_EQ(emulator.Wait(), 1);
  }
  {
    Spawned emulator({"--listen=127.0.0.1:0", "--events_max=0"});
    EXPECT_THAT(emulator.ErrorLine(), HasSubstr("--events_max must be >= 1"));
    EXPECT_EQ(emulator.Wait(), 1);
  }
  {
    Spawned emulator({"--listen=127.0.0.1:0", "--webhook_time_scale=0"});
    EXPECT_THAT(emulator.ErrorLine(), HasSubstr("webhooks: time_scale must be > 0"));
    EXPECT_EQ(emulator.Wait(), 1);
  }
  {
    Spawned emulator(
        {"--listen=127.0.0.1:0", "--tls_cert=/nonexistent.pem", "--tls_key=/nonexistent.key"});
    EXPECT_THAT(emulator.ErrorLine(), HasSubstr("cannot load TLS certificate"));
    EXPECT_EQ(emulator.Wait(), 1);
  }
}

}  // namespace
