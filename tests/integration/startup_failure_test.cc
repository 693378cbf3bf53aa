// Issue 10, rule 9b: a start-up step that fails after the event loop started (here the metrics
// listener, whose port is taken) makes the server exit 2 with one line naming the setting, having
// stopped the loop before the Kommo client was destroyed. Under the ASan build a task or timer that
// ran on the loop after the client was gone would be reported here.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kommo {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(StartupFailureTest, AMetricsPortInUseStopsTheLoopAndExitsTwo) {
  // A port that stays taken while the server starts: a listening socket of this test.
  const int taken = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(taken, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(taken, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(listen(taken, 1), 0);
  socklen_t length = sizeof(address);
  ASSERT_EQ(getsockname(taken, reinterpret_cast<sockaddr*>(&address), &length), 0);

  int err[2];
  ASSERT_EQ(pipe2(err, O_CLOEXEC), 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, err[1], STDERR_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  std::vector<std::string> env = {
      "KOMMO_API_URL=http://127.0.0.1:9", "KOMMO_ACCESS_TOKEN=startup-test-token",
      absl::StrCat("METRICS_LISTEN_ADDRESS=127.0.0.1:", ntohs(address.sin_port)), "LOG_LEVEL=info"};
  if (const char* asan = std::getenv("ASAN_OPTIONS"))
    env.push_back(absl::StrCat("ASAN_OPTIONS=", asan));
  std::vector<char*> envp;
  for (std::string& entry : env) envp.push_back(entry.data());
  envp.push_back(nullptr);
  std::string binary = KOMMO_SERVER_BINARY;
  std::string listen_flag = "--listen=127.0.0.1:0";
  char* argv[] = {binary.data(), listen_flag.data(), nullptr};
  pid_t pid = 0;
  ASSERT_EQ(posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv, envp.data()), 0);
  posix_spawn_file_actions_destroy(&actions);
  close(err[1]);
  std::string stderr_text;
  char buffer[4096];
  ssize_t n;
  while ((n = read(err[0], buffer, sizeof(buffer))) > 0) stderr_text.append(buffer, n);
  close(err[0]);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  close(taken);

  ASSERT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status) << "\n" << stderr_text;
  EXPECT_EQ(WEXITSTATUS(status), 2) << stderr_text;
  EXPECT_THAT(stderr_text, HasSubstr("METRICS_LISTEN_ADDRESS: cannot listen on"));
  EXPECT_THAT(stderr_text, Not(HasSubstr("Sanitizer")));
  EXPECT_THAT(stderr_text, Not(HasSubstr("runtime error")));
}

}  // namespace
}  // namespace kommo
