// A real redis-server for tests: on 127.0.0.1, a free port, its own temporary directory, no
// persistence; stopped by its PID. Header-only; link hiredis (PkgConfig::HIREDIS, or the
// kommo_redis library which carries it) for the PING check.
#ifndef KOMMO_TESTS_SUPPORT_REDIS_SERVER_H_
#define KOMMO_TESTS_SUPPORT_REDIS_SERVER_H_

#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace kommo::testing {

class RedisServer {
 public:
  // Starts redis-server (found on PATH, or at $REDIS_SERVER_BINARY) and waits until it answers
  // PING. Retries on another port when the one picked was taken meanwhile. `extra_args` are more
  // redis-server options (e.g. {"--requirepass", "secret"}: Call() then authenticates).
  static absl::StatusOr<std::unique_ptr<RedisServer>> Start(
      std::vector<std::string> extra_args = {}) {
    std::unique_ptr<RedisServer> server(new RedisServer());
    server->extra_args_ = std::move(extra_args);
    for (size_t i = 0; i + 1 < server->extra_args_.size(); ++i) {
      if (server->extra_args_[i] == "--requirepass") server->password_ = server->extra_args_[i + 1];
    }
    char dir_template[] = "/tmp/kommo-redis-test-XXXXXX";
    if (mkdtemp(dir_template) == nullptr) {
      return absl::InternalError(absl::StrCat("mkdtemp: ", std::strerror(errno)));
    }
    server->dir_ = dir_template;
    absl::Status last = absl::UnknownError("not started");
    for (int attempt = 0; attempt < 5; ++attempt) {
      absl::StatusOr<int> port = FreePort();
      if (!port.ok()) return port.status();
      server->port_ = *port;
      last = server->Launch();
      if (last.ok()) return server;
    }
    return last;
  }

  ~RedisServer() {
    Stop();
    std::error_code ignored;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
  }

  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  std::string url() const { return absl::StrCat("redis://127.0.0.1:", port_); }

  // SIGKILL, as a crash: the port closes at once, connections are reset. Idempotent.
  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  // Starts it again on the same port (empty: nothing was persisted) and waits for PING.
  absl::Status Restart() {
    Kill();
    absl::Status status;
    // The port may be briefly unavailable after a crash: a few tries.
    for (int attempt = 0; attempt < 20; ++attempt) {
      status = Launch();
      if (status.ok()) return status;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return status;
  }

  // SIGTERM, then SIGKILL after 2 s. Idempotent.
  void Stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    for (int i = 0; i < 200; ++i) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    Kill();
  }

  // One command over a blocking connection of its own (test set-up and checks): the reply as
  // text (integers in decimal, nil as "(nil)", arrays as their elements joined by ',').
  absl::StatusOr<std::string> Call(const std::vector<std::string>& args) const {
    timeval timeout{2, 0};
    redisContext* context = redisConnectWithTimeout("127.0.0.1", port_, timeout);
    if (context == nullptr || context->err != 0) {
      std::string error = context != nullptr ? context->errstr : "out of memory";
      if (context != nullptr) redisFree(context);
      return absl::UnavailableError(error);
    }
    redisSetTimeout(context, timeout);
    if (!password_.empty()) {
      auto* auth = static_cast<redisReply*>(redisCommand(context, "AUTH %s", password_.c_str()));
      if (auth == nullptr) {
        redisFree(context);
        return absl::UnavailableError("AUTH failed");
      }
      freeReplyObject(auth);
    }
    std::vector<const char*> argv;
    std::vector<size_t> lengths;
    for (const std::string& arg : args) {
      argv.push_back(arg.data());
      lengths.push_back(arg.size());
    }
    auto* reply = static_cast<redisReply*>(
        redisCommandArgv(context, static_cast<int>(argv.size()), argv.data(), lengths.data()));
    if (reply == nullptr) {
      std::string error = context->errstr;
      redisFree(context);
      return absl::UnavailableError(error);
    }
    absl::StatusOr<std::string> text = Text(reply);
    freeReplyObject(reply);
    redisFree(context);
    return text;
  }

 private:
  RedisServer() = default;

  static absl::StatusOr<std::string> Text(const redisReply* reply) {
    switch (reply->type) {
      case REDIS_REPLY_ERROR:
        return absl::FailedPreconditionError(std::string(reply->str, reply->len));
      case REDIS_REPLY_INTEGER:
        return absl::StrCat(reply->integer);
      case REDIS_REPLY_NIL:
        return std::string("(nil)");
      case REDIS_REPLY_ARRAY: {
        std::string out;
        for (size_t i = 0; i < reply->elements; ++i) {
          absl::StatusOr<std::string> element = Text(reply->element[i]);
          if (!element.ok()) return element.status();
          if (i > 0) out += ",";
          out += *element;
        }
        return out;
      }
      default:
        return std::string(reply->str, reply->len);
    }
  }

  // Binds port 0 on loopback and closes it: a port that was free a moment ago.
  static absl::StatusOr<int> FreePort() {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return absl::InternalError("socket");
    sockaddr_in address;
    std::memset(&address, 0, sizeof(address));
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    socklen_t length = sizeof(address);
    if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      close(fd);
      return absl::InternalError("bind 127.0.0.1:0");
    }
    close(fd);
    return ntohs(address.sin_port);
  }

  absl::Status Launch() {
    const char* binary_env = getenv("REDIS_SERVER_BINARY");
    const std::string binary = binary_env != nullptr ? binary_env : "redis-server";
    const std::string port = std::to_string(port_);
    const std::string log_file = dir_ + "/redis.log";
    std::vector<std::string> args = {binary,      "--port",      port,     "--bind",
                                     "127.0.0.1", "--save",      "",       "--appendonly",
                                     "no",        "--dir",       dir_,     "--daemonize",
                                     "no",        "--logfile",   log_file, "--protected-mode",
                                     "no",        "--databases", "16"};
    args.insert(args.end(), extra_args_.begin(), extra_args_.end());
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    const pid_t pid = fork();
    if (pid < 0) return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      execvp(argv[0], argv.data());
      _exit(127);
    }
    pid_ = pid;
    // Up to 10 s for PING (a loaded CI machine); the child exiting means the port was taken.
    for (int i = 0; i < 200; ++i) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return absl::UnavailableError(absl::StrCat("redis-server exited at start (port ", port_,
                                                   " taken?), status ", status));
      }
      absl::StatusOr<std::string> pong = Call({"PING"});
      if (pong.ok() && *pong == "PONG") {
        // Ours, not another test's server that took the port first.
        absl::StatusOr<std::string> dir = Call({"CONFIG", "GET", "dir"});
        if (dir.ok() && *dir == absl::StrCat("dir,", dir_)) return absl::OkStatus();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    Kill();
    return absl::DeadlineExceededError("redis-server did not answer PING within 10 s");
  }

  std::string dir_;
  std::vector<std::string> extra_args_;
  std::string password_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace kommo::testing

#endif  // KOMMO_TESTS_SUPPORT_REDIS_SERVER_H_
