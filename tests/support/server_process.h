#ifndef KOMMO_TESTS_SUPPORT_SERVER_PROCESS_H_
#define KOMMO_TESTS_SUPPORT_SERVER_PROCESS_H_

// The real kommo-grpc-server binary for tests that need a replica they can kill (SIGKILL): spawned
// with the environment given, on 127.0.0.1:0, its stderr discarded; stopped by its PID.

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace kommo::testing {

class ServerProcess {
 public:
  // `binary`: the server's path; `env`: NAME=value settings. Returns once the server printed the
  // port it listens on.
  static absl::StatusOr<std::unique_ptr<ServerProcess>> Start(const std::string& binary,
                                                              std::vector<std::string> env) {
    std::vector<char*> envp;
    for (std::string& each : env) envp.push_back(each.data());
    envp.push_back(nullptr);
    int out[2];
    if (pipe(out) != 0) return absl::InternalError("pipe");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    std::string path = binary;
    std::string listen = "--listen=127.0.0.1:0";
    char* argv[] = {path.data(), listen.data(), nullptr};
    std::unique_ptr<ServerProcess> server(new ServerProcess());
    const int spawned =
        posix_spawn(&server->pid_, path.c_str(), &actions, nullptr, argv, envp.data());
    posix_spawn_file_actions_destroy(&actions);
    close(out[1]);
    if (spawned != 0) {
      close(out[0]);
      server->pid_ = 0;
      return absl::InternalError(absl::StrCat("posix_spawn: ", spawned));
    }
    std::string first_line;
    char c;
    while (read(out[0], &c, 1) == 1 && c != '\n') first_line += c;
    close(out[0]);
    if (std::sscanf(first_line.c_str(), "kommo-grpc-server listening on port %d", &server->port_) !=
        1) {
      return absl::InternalError(absl::StrCat("the server did not start: ", first_line));
    }
    return server;
  }

  ~ServerProcess() { Kill(); }

  int port() const { return port_; }
  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }

  // SIGKILL, as a crash: nothing is released.
  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = 0;
  }

 private:
  ServerProcess() = default;
  pid_t pid_ = 0;
  int port_ = 0;
};

}  // namespace kommo::testing

#endif  // KOMMO_TESTS_SUPPORT_SERVER_PROCESS_H_
