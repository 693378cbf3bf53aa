#ifndef KOMMO_TESTS_SUPPORT_SERVER_PROCESS_H_
#define KOMMO_TESTS_SUPPORT_SERVER_PROCESS_H_

// The real kommo-grpc-server binary for tests that run several replicas or need one they can kill
// (SIGKILL): spawned with the environment given, on 127.0.0.1:0, its stderr kept in a file of the
// test's temporary directory (log()); stopped by its PID (SIGTERM, then SIGKILL after 3 s).

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

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
    std::unique_ptr<ServerProcess> server(new ServerProcess());
    server->err_path_ = absl::StrCat(::testing::TempDir(), "/kommo-grpc-server-", getpid(), "-",
                                     reinterpret_cast<uintptr_t>(server.get()), ".log");
    posix_spawn_file_actions_addopen(&actions, 2, server->err_path_.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::string path = binary;
    std::string listen = "--listen=127.0.0.1:0";
    char* argv[] = {path.data(), listen.data(), nullptr};
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

  ~ServerProcess() { Stop(); }

  int port() const { return port_; }
  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }

  // SIGKILL, as a crash: nothing is released.
  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = 0;
  }

  // SIGTERM, as Kubernetes stops a pod; SIGKILL when it has not exited after 3 s.
  void Stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    for (int i = 0; i < 300; ++i) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = 0;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    Kill();
  }

  // What the server wrote to stderr so far (its JSON log).
  std::string log() const {
    std::string text;
    if (FILE* file = std::fopen(err_path_.c_str(), "r")) {
      char buffer[4096];
      size_t n;
      while ((n = std::fread(buffer, 1, sizeof(buffer), file)) > 0) text.append(buffer, n);
      std::fclose(file);
    }
    return text;
  }

 private:
  ServerProcess() = default;
  pid_t pid_ = 0;
  int port_ = 0;
  std::string err_path_;
};

}  // namespace kommo::testing

#endif  // KOMMO_TESTS_SUPPORT_SERVER_PROCESS_H_
