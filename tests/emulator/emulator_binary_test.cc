// The built kommo-emulator binary: first stdout line, a request, SIGTERM → exit 0.
#include <curl/curl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

#ifndef KOMMO_EMULATOR_BINARY
#error "KOMMO_EMULATOR_BINARY must be the path of the kommo-emulator binary"
#endif

extern char** environ;

namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;

// Reads one line from `fd` (without '\n'), giving up after `timeout`.
std::string ReadLine(int fd, std::chrono::milliseconds timeout) {
  std::string line;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    char c;
    if (read(fd, &c, 1) != 1) break;
    if (c == '\n') return line;
    line.push_back(c);
  }
  return line;
}

size_t Append(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

TEST(EmulatorBinaryTest, PrintsItsAddressServesAndStopsOnSigterm) {
  int out[2];
  ASSERT_EQ(pipe(out), 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, out[0]);
  std::string binary = KOMMO_EMULATOR_BINARY;
  std::string listen = "--listen=127.0.0.1:0";
  std::string token = "--token=binary-token";
  char* argv[] = {binary.data(), listen.data(), token.data(), nullptr};
  pid_t pid = 0;
  ASSERT_EQ(posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv, environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  close(out[1]);

  const std::string line = ReadLine(out[0], std::chrono::seconds(10));
  EXPECT_THAT(line, MatchesRegex("kommo-emulator listening on http://127\\.0\\.0\\.1:[0-9]+"));
  const std::string base_url = line.substr(line.rfind(' ') + 1);

  CURL* curl = curl_easy_init();
  std::string body;
  const std::string url = base_url + "/api/v4/account";
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_slist* headers = curl_slist_append(nullptr, "Authorization: Bearer binary-token");
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Append);
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
  close(out[0]);
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

}  // namespace
