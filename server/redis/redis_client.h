#ifndef KOMMO_SERVER_REDIS_REDIS_CLIENT_H_
#define KOMMO_SERVER_REDIS_REDIS_CLIENT_H_

// A Redis client for the server's shared state (design.md §13): one connection, asynchronous on
// the server's EpollLoop through hiredis's async context and an adapter of our own onto
// EpollLoop::WatchFd and RunAt. No thread waits on Redis (a host name is resolved on a short-lived
// thread of its own, since getaddrinfo blocks).

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/http/epoll_loop.h"

namespace kommo::redis {

// A reply copied out of hiredis's. An error reply is a Status (FAILED_PRECONDITION), never a Reply.
struct Reply {
  enum class Type { kNil, kInteger, kString, kStatus, kArray };
  Type type = Type::kNil;
  int64_t integer = 0;          // kInteger
  std::string str;              // kString and kStatus
  std::vector<Reply> elements;  // kArray
};

struct RedisOptions {
  // redis://[[user]:password@]host[:port][/db]; user and password may be percent-encoded, an
  // IPv6 host is written in brackets. rediss:// (TLS) is refused: INVALID_ARGUMENT.
  std::string url;
  absl::Duration connect_timeout = absl::Milliseconds(500);
  // Per command unless the call gives its own.
  absl::Duration command_timeout = absl::Milliseconds(250);
  // Backoff between connection attempts: doubles from min to max, back to min once connected.
  absl::Duration reconnect_min = absl::Milliseconds(100);
  absl::Duration reconnect_max = absl::Seconds(5);
  // CLIENT SETNAME (when not empty) and the label of this client's log lines.
  std::string name;
};

// The parts of a redis:// URL.
struct RedisEndpoint {
  std::string host;
  int port = 6379;
  std::string user;      // empty: AUTH with the password alone (the default user)
  std::string password;  // empty: no AUTH
  int db = 0;
};
// INVALID_ARGUMENT (naming the problem, never the password) when `url` is not a redis:// URL.
absl::StatusOr<RedisEndpoint> ParseRedisUrl(absl::string_view url);

// One connection. Create() returns at once and connects in the background (AUTH and SELECT on
// connect, then CLIENT SETNAME), reconnecting with backoff forever. Loop thread only (Create, the
// calls and destruction), except Create before the loop starts. Destroying the client drops the
// connection; commands still pending complete with UNAVAILABLE.
class RedisClient {
 public:
  // `done` runs exactly once, on the loop thread, never inside the call that started the command.
  using Done = absl::AnyInvocable<void(absl::StatusOr<Reply>)>;

  // A Lua script with its SHA-1 (MakeScript).
  struct Script {
    std::string source;
    std::string sha1;  // lower-case hex
  };
  static Script MakeScript(std::string source);

  // INVALID_ARGUMENT for a bad URL or options.
  static absl::StatusOr<std::unique_ptr<RedisClient>> Create(http::EpollLoop* loop,
                                                             RedisOptions options);

  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Sends `args` as one command. UNAVAILABLE when not connected, on timeout (`timeout`, else the
  // options' command_timeout; the connection is then dropped and made again, so that a late reply
  // can never be matched to another command; every command pending on it fails UNAVAILABLE too)
  // or when the connection is lost. An error reply is FAILED_PRECONDITION with Redis's message.
  void Command(std::vector<std::string> args, Done done,
               absl::Duration timeout = absl::ZeroDuration());

  // Runs a Lua script: EVALSHA, then EVAL when Redis answers NOSCRIPT. The timeout covers both.
  void Eval(const Script& script, std::vector<std::string> keys, std::vector<std::string> args,
            Done done, absl::Duration timeout = absl::ZeroDuration());

  // Connected, authenticated and on the right database.
  bool connected() const;

  // Called on the loop thread at every change of connected(); several allowed, in the order added.
  // A callback must not destroy the client.
  void OnConnectionChange(absl::AnyInvocable<void(bool connected)> callback);

  class Impl;

 private:
  explicit RedisClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace kommo::redis

#endif  // KOMMO_SERVER_REDIS_REDIS_CLIENT_H_
