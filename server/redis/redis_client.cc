#include "server/redis/redis_client.h"

#include <arpa/inet.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <netdb.h>
#include <openssl/evp.h>
#include <signal.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <thread>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/common/log.h"

namespace kommo::redis {
namespace {

// Percent-decoding of the user and password parts of a URL; false on a malformed escape.
bool PercentDecode(absl::string_view in, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out->push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return false;
    int value = 0;
    for (int k = 1; k <= 2; ++k) {
      const char c = in[i + k];
      int digit;
      if (c >= '0' && c <= '9') {
        digit = c - '0';
      } else if (c >= 'a' && c <= 'f') {
        digit = c - 'a' + 10;
      } else if (c >= 'A' && c <= 'F') {
        digit = c - 'A' + 10;
      } else {
        return false;
      }
      value = value * 16 + digit;
    }
    out->push_back(static_cast<char>(value));
    i += 2;
  }
  return true;
}

bool IsNumericHost(const std::string& host) {
  unsigned char buffer[sizeof(struct in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buffer) == 1 ||
         inet_pton(AF_INET6, host.c_str(), buffer) == 1;
}

// Copies a hiredis reply; an error reply (at any depth) becomes FAILED_PRECONDITION.
absl::StatusOr<Reply> CopyReply(const redisReply* reply) {
  Reply out;
  switch (reply->type) {
    case REDIS_REPLY_STRING:
      out.type = Reply::Type::kString;
      out.str.assign(reply->str, reply->len);
      return out;
    case REDIS_REPLY_STATUS:
      out.type = Reply::Type::kStatus;
      out.str.assign(reply->str, reply->len);
      return out;
    case REDIS_REPLY_INTEGER:
      out.type = Reply::Type::kInteger;
      out.integer = reply->integer;
      return out;
    case REDIS_REPLY_NIL:
      out.type = Reply::Type::kNil;
      return out;
    case REDIS_REPLY_ARRAY:
      out.type = Reply::Type::kArray;
      out.elements.reserve(reply->elements);
      for (size_t i = 0; i < reply->elements; ++i) {
        absl::StatusOr<Reply> element = CopyReply(reply->element[i]);
        if (!element.ok()) return element.status();
        out.elements.push_back(*std::move(element));
      }
      return out;
    case REDIS_REPLY_ERROR:
      return absl::FailedPreconditionError(std::string(reply->str, reply->len));
    default:
      return absl::InternalError(absl::StrCat("Redis reply of unknown type ", reply->type));
  }
}

// hiredis writes with write(2): a connection Redis closed would raise SIGPIPE and kill the
// process. Ignored unless the program installed a handler of its own.
void IgnoreSigpipe() {
  struct sigaction current;
  if (sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
    signal(SIGPIPE, SIG_IGN);
  }
}

}  // namespace

absl::StatusOr<RedisEndpoint> ParseRedisUrl(absl::string_view url) {
  RedisEndpoint endpoint;
  constexpr absl::string_view kScheme = "redis://";
  if (absl::StartsWithIgnoreCase(url, "rediss://")) {
    return absl::InvalidArgumentError(
        "REDIS_URL: rediss:// (TLS) is not supported; use redis:// on a trusted network");
  }
  if (!absl::StartsWithIgnoreCase(url, kScheme)) {
    return absl::InvalidArgumentError(
        "REDIS_URL must look like redis://[[user]:password@]host[:port][/db]");
  }
  absl::string_view rest = url.substr(kScheme.size());
  absl::string_view path;
  if (const size_t slash = rest.find('/'); slash != absl::string_view::npos) {
    path = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
  }
  if (const size_t at = rest.rfind('@'); at != absl::string_view::npos) {
    const absl::string_view userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    const size_t colon = userinfo.find(':');
    if (colon == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          "REDIS_URL: the part before '@' must be [user]:password (the password after a ':')");
    }
    if (!PercentDecode(userinfo.substr(0, colon), &endpoint.user) ||
        !PercentDecode(userinfo.substr(colon + 1), &endpoint.password)) {
      return absl::InvalidArgumentError(
          "REDIS_URL: malformed percent-encoding in user or password");
    }
  }
  absl::string_view port_text;
  if (absl::StartsWith(rest, "[")) {
    const size_t close = rest.find(']');
    if (close == absl::string_view::npos) {
      return absl::InvalidArgumentError("REDIS_URL: unterminated '[' in the IPv6 host");
    }
    endpoint.host = std::string(rest.substr(1, close - 1));
    absl::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return absl::InvalidArgumentError("REDIS_URL: junk after the host");
      port_text = after.substr(1);
      if (port_text.empty()) return absl::InvalidArgumentError("REDIS_URL: empty port");
    }
  } else {
    const size_t colon = rest.find(':');
    endpoint.host = std::string(rest.substr(0, colon));
    if (colon != absl::string_view::npos) {
      port_text = rest.substr(colon + 1);
      if (port_text.empty()) return absl::InvalidArgumentError("REDIS_URL: empty port");
    }
  }
  if (endpoint.host.empty()) return absl::InvalidArgumentError("REDIS_URL: no host");
  if (!port_text.empty()) {
    int port = 0;
    if (!absl::SimpleAtoi(port_text, &port) || port < 1 || port > 65535) {
      return absl::InvalidArgumentError("REDIS_URL: the port must be a number from 1 to 65535");
    }
    endpoint.port = port;
  }
  if (!path.empty()) {
    int db = 0;
    if (!absl::SimpleAtoi(path, &db) || db < 0) {
      return absl::InvalidArgumentError("REDIS_URL: the path must be a database number (/0, /1…)");
    }
    endpoint.db = db;
  }
  return endpoint;
}

// The connection's life: kWaiting (for the reconnect timer) → kResolving (a non-numeric host) →
// kConnecting (TCP) → kHandshake (AUTH, SELECT, CLIENT SETNAME, PING) → kReady; any failure goes
// back to kWaiting. Everything runs on the loop thread.
class RedisClient::Impl {
 public:
  Impl(http::EpollLoop* loop, RedisOptions options, RedisEndpoint endpoint)
      : loop_(loop),
        options_(std::move(options)),
        endpoint_(std::move(endpoint)),
        numeric_host_(IsNumericHost(endpoint_.host)),
        backoff_(options_.reconnect_min),
        alive_(std::make_shared<Impl*>(this)) {}

  ~Impl() {
    alive_.reset();
    closing_ = true;
    if (ac_ != nullptr) FreeContext("Redis client destroyed");
    CompleteAllPending("Redis client destroyed");
    if (resolver_.joinable()) resolver_.join();
  }

  void Start() {
    std::weak_ptr<Impl*> alive = alive_;
    loop_->Post([alive] {
      if (std::shared_ptr<Impl*> self = alive.lock()) (*self)->StartConnect();
    });
  }

  bool connected() const { return state_ == State::kReady; }

  void OnConnectionChange(absl::AnyInvocable<void(bool)> callback) {
    callbacks_.push_back(std::move(callback));
  }

  void Command(std::vector<std::string> args, Done done, absl::Duration timeout) {
    if (state_ != State::kReady) {
      PostDone(std::move(done), absl::UnavailableError("Redis is not connected"));
      return;
    }
    if (timeout <= absl::ZeroDuration()) timeout = options_.command_timeout;
    Send(std::move(args), std::move(done), /*direct=*/false, loop_->Now() + timeout);
  }

  void Eval(const Script& script, std::vector<std::string> keys, std::vector<std::string> args,
            Done done, absl::Duration timeout) {
    if (timeout <= absl::ZeroDuration()) timeout = options_.command_timeout;
    const absl::Time deadline = loop_->Now() + timeout;
    std::vector<std::string> argv;
    argv.reserve(3 + keys.size() + args.size());
    argv.push_back("EVALSHA");
    argv.push_back(script.sha1);
    argv.push_back(absl::StrCat(keys.size()));
    for (std::string& key : keys) argv.push_back(std::move(key));
    for (std::string& arg : args) argv.push_back(std::move(arg));
    std::weak_ptr<Impl*> alive = alive_;
    std::string source = script.source;
    Command(
        argv,
        [alive, argv, source = std::move(source), deadline,
         done = std::move(done)](absl::StatusOr<Reply> reply) mutable {
          if (reply.ok() || !absl::IsFailedPrecondition(reply.status()) ||
              !absl::StartsWith(reply.status().message(), "NOSCRIPT")) {
            done(std::move(reply));
            return;
          }
          std::shared_ptr<Impl*> self = alive.lock();
          if (!self) {
            done(absl::UnavailableError("Redis client destroyed"));
            return;
          }
          const absl::Duration left = deadline - (*self)->loop_->Now();
          if (left <= absl::ZeroDuration()) {
            done(
                absl::UnavailableError("Redis script timed out (NOSCRIPT, no time left for EVAL)"));
            return;
          }
          argv[0] = "EVAL";
          argv[1] = std::move(source);
          (*self)->Command(std::move(argv), std::move(done), left);
        },
        timeout);
  }

 private:
  enum class State { kWaiting, kResolving, kConnecting, kHandshake, kReady };

  struct Pending {
    Done done;
    http::EpollLoop::TimerPtr timer;  // null: covered by the connect timer (handshake)
    bool direct = false;              // handshake steps: called inline, not posted
  };

  void PostDone(Done done, absl::StatusOr<Reply> result) {
    loop_->Post([done = std::move(done), result = std::move(result)]() mutable {
      done(std::move(result));
    });
  }

  void Send(std::vector<std::string> args, Done done, bool direct, absl::Time deadline) {
    std::vector<const char*> argv;
    std::vector<size_t> lengths;
    argv.reserve(args.size());
    lengths.reserve(args.size());
    for (const std::string& arg : args) {
      argv.push_back(arg.data());
      lengths.push_back(arg.size());
    }
    const uint64_t id = next_id_++;
    if (redisAsyncCommandArgv(ac_, &Impl::OnReply, reinterpret_cast<void*>(id),
                              static_cast<int>(argv.size()), argv.data(),
                              lengths.data()) != REDIS_OK) {
      absl::Status status = absl::UnavailableError("Redis connection is closing");
      if (direct) {
        done(status);
      } else {
        PostDone(std::move(done), status);
      }
      return;
    }
    Pending& pending = pending_[id];
    pending.done = std::move(done);
    pending.direct = direct;
    if (deadline != absl::InfiniteFuture()) {
      pending.timer = loop_->RunAt(deadline, [this, id] { OnTimeout(id); });
    }
  }

  void OnTimeout(uint64_t id) {
    auto it = pending_.find(id);
    if (it == pending_.end()) return;
    Done done = std::move(it->second.done);
    pending_.erase(it);
    PostDone(std::move(done), absl::UnavailableError("Redis command timed out"));
    // A reply that comes late must never be taken for another command's: drop the connection.
    DropConnection("a command timed out");
  }

  static void OnReply(redisAsyncContext* ac, void* reply, void* privdata) {
    Impl* self = static_cast<Impl*>(ac->data);
    const uint64_t id = reinterpret_cast<uint64_t>(privdata);
    auto it = self->pending_.find(id);
    if (it == self->pending_.end()) return;  // timed out already
    Pending pending = std::move(it->second);
    self->pending_.erase(it);
    absl::StatusOr<Reply> result = reply == nullptr
                                       ? absl::StatusOr<Reply>(absl::UnavailableError(absl::StrCat(
                                             "Redis connection lost: ", self->drop_reason_)))
                                       : CopyReply(static_cast<const redisReply*>(reply));
    if (pending.direct) {
      pending.done(std::move(result));
    } else {
      self->PostDone(std::move(pending.done), std::move(result));
    }
  }

  void CompleteAllPending(absl::string_view reason) {
    std::map<uint64_t, Pending> pending;
    pending.swap(pending_);
    for (auto& [id, entry] : pending) {
      PostDone(std::move(entry.done), absl::UnavailableError(reason));
    }
  }

  // --- connecting ---

  void StartConnect() {
    reconnect_timer_.reset();
    if (closing_) return;
    if (numeric_host_) {
      ConnectTo(endpoint_.host);
      return;
    }
    state_ = State::kResolving;
    if (resolver_.joinable()) resolver_.join();
    std::weak_ptr<Impl*> alive = alive_;
    http::EpollLoop* loop = loop_;
    std::string host = endpoint_.host;
    // getaddrinfo blocks: a thread of its own, so that the loop never waits on DNS.
    resolver_ = std::thread([loop, alive, host] {
      addrinfo hints;
      std::memset(&hints, 0, sizeof(hints));
      hints.ai_family = AF_UNSPEC;
      hints.ai_socktype = SOCK_STREAM;
      addrinfo* result = nullptr;
      std::string address;
      std::string error;
      const int rc = getaddrinfo(host.c_str(), nullptr, &hints, &result);
      if (rc != 0) {
        error = gai_strerror(rc);
      } else {
        char text[INET6_ADDRSTRLEN] = {0};
        for (addrinfo* entry = result; entry != nullptr && address.empty();
             entry = entry->ai_next) {
          const void* raw =
              entry->ai_family == AF_INET
                  ? static_cast<const void*>(
                        &reinterpret_cast<const sockaddr_in*>(entry->ai_addr)->sin_addr)
                  : static_cast<const void*>(
                        &reinterpret_cast<const sockaddr_in6*>(entry->ai_addr)->sin6_addr);
          if (inet_ntop(entry->ai_family, raw, text, sizeof(text)) != nullptr) address = text;
        }
        freeaddrinfo(result);
        if (address.empty()) error = "no address";
      }
      loop->Post([alive, address, error] {
        std::shared_ptr<Impl*> self = alive.lock();
        if (!self) return;
        if (address.empty()) {
          (*self)->ConnectFailed(absl::StrCat("cannot resolve the host: ", error));
        } else {
          (*self)->ConnectTo(address);
        }
      });
    });
  }

  void ConnectTo(const std::string& address) {
    state_ = State::kConnecting;
    drop_reason_.clear();
    redisAsyncContext* ac = redisAsyncConnect(address.c_str(), endpoint_.port);
    if (ac == nullptr) {
      ConnectFailed("out of memory");
      return;
    }
    if (ac->err != 0) {
      std::string reason = ac->errstr;
      redisAsyncFree(ac);
      ConnectFailed(reason);
      return;
    }
    ac_ = ac;
    ++generation_;
    ac->data = this;
    ac->ev.data = this;
    ac->ev.addRead = [](void* data) { static_cast<Impl*>(data)->SetEvent(kRead, true); };
    ac->ev.delRead = [](void* data) { static_cast<Impl*>(data)->SetEvent(kRead, false); };
    ac->ev.addWrite = [](void* data) { static_cast<Impl*>(data)->SetEvent(kWrite, true); };
    ac->ev.delWrite = [](void* data) { static_cast<Impl*>(data)->SetEvent(kWrite, false); };
    ac->ev.cleanup = [](void* data) { static_cast<Impl*>(data)->Cleanup(); };
    redisAsyncSetDisconnectCallback(ac, &Impl::OnDisconnect);
    // Must come after the hooks: it arms the write event that reports the connection.
    redisAsyncSetConnectCallback(ac, &Impl::OnConnect);
    connect_timer_ = loop_->RunAt(loop_->Now() + options_.connect_timeout,
                                  [this] { DropConnection("connecting timed out"); });
  }

  static constexpr uint32_t kRead = http::EpollLoop::kReadable;
  static constexpr uint32_t kWrite = http::EpollLoop::kWritable;

  void SetEvent(uint32_t bit, bool on) {
    const uint32_t events = on ? (events_ | bit) : (events_ & ~bit);
    if (events == events_ && watch_ != nullptr) return;
    events_ = events;
    if (watch_ == nullptr) {
      if (ac_ == nullptr) return;
      const uint64_t generation = generation_;
      absl::StatusOr<http::EpollLoop::FdWatchPtr> watch =
          loop_->WatchFd(ac_->c.fd, events_,
                         [this, generation](uint32_t fired) { OnFdEvents(generation, fired); });
      if (!watch.ok()) {
        // Nothing sensible to do inside a hiredis hook: the connect timer drops the connection.
        log::Error("redis fd watch failed",
                   {{"name", options_.name}, {"error", std::string(watch.status().message())}});
        return;
      }
      watch_ = *std::move(watch);
      return;
    }
    (void)watch_->SetEvents(events_);
  }

  void Cleanup() {
    watch_.reset();
    events_ = 0;
  }

  void OnFdEvents(uint64_t generation, uint32_t fired) {
    if (ac_ == nullptr || generation != generation_) return;
    if ((fired & (kRead | http::EpollLoop::kError)) != 0) redisAsyncHandleRead(ac_);
    if (ac_ == nullptr || generation != generation_) return;
    if ((fired & kWrite) != 0) redisAsyncHandleWrite(ac_);
  }

  static void OnConnect(const redisAsyncContext* ac, int status) {
    Impl* self = static_cast<Impl*>(ac->data);
    if (status != REDIS_OK) {
      // hiredis frees the context after this returns.
      const std::string reason = ac->errstr != nullptr ? ac->errstr : "connect failed";
      self->ac_ = nullptr;
      self->ConnectFailed(reason);
      return;
    }
    self->StartHandshake();
  }

  void StartHandshake() {
    state_ = State::kHandshake;
    std::vector<std::vector<std::string>> steps;
    if (!endpoint_.password.empty()) {
      if (endpoint_.user.empty()) {
        steps.push_back({"AUTH", endpoint_.password});
      } else {
        steps.push_back({"AUTH", endpoint_.user, endpoint_.password});
      }
    }
    if (endpoint_.db != 0) steps.push_back({"SELECT", absl::StrCat(endpoint_.db)});
    if (!options_.name.empty()) {
      std::string name = options_.name;
      std::replace_if(
          name.begin(), name.end(), [](char c) { return c <= ' ' || c > '~'; }, '-');
      steps.push_back({"CLIENT", "SETNAME", name});
    }
    steps.push_back({"PING"});
    handshake_left_ = steps.size();
    const uint64_t generation = generation_;
    for (size_t i = 0; i < steps.size(); ++i) {
      // Never the password in a message: the step is named by its command only.
      const std::string what = steps[i][0];
      Send(
          std::move(steps[i]),
          [this, generation, what](absl::StatusOr<Reply> reply) {
            if (generation != generation_ || state_ != State::kHandshake) return;
            if (!reply.ok()) {
              handshake_error_ = absl::StrCat(what, ": ", reply.status().message());
              // Inside a hiredis callback: drop from a task of its own.
              std::weak_ptr<Impl*> alive = alive_;
              state_ = State::kConnecting;
              loop_->Post([alive, generation] {
                std::shared_ptr<Impl*> self = alive.lock();
                if (self && (*self)->generation_ == generation && (*self)->ac_ != nullptr) {
                  (*self)->DropConnection((*self)->handshake_error_);
                }
              });
              return;
            }
            if (--handshake_left_ == 0) Ready();
          },
          /*direct=*/true, absl::InfiniteFuture());
    }
  }

  void Ready() {
    connect_timer_.reset();
    state_ = State::kReady;
    backoff_ = options_.reconnect_min;
    if (reported_down_ || !ever_ready_) {
      log::Info("redis connected", {{"name", options_.name},
                                    {"host", endpoint_.host},
                                    {"port", endpoint_.port},
                                    {"db", endpoint_.db}});
    }
    ever_ready_ = true;
    reported_down_ = false;
    Notify(true);
  }

  static void OnDisconnect(const redisAsyncContext* ac, int /*status*/) {
    Impl* self = static_cast<Impl*>(ac->data);
    if (self->freeing_) return;  // FreeContext handles the rest
    // hiredis lost the connection and frees the context after this returns.
    const std::string reason =
        ac->errstr != nullptr && ac->errstr[0] != '\0' ? ac->errstr : "closed";
    self->ac_ = nullptr;
    self->Lost(absl::StrCat("connection lost: ", reason));
  }

  // Frees the context (not from inside a hiredis callback): pending commands fail UNAVAILABLE.
  void FreeContext(absl::string_view reason) {
    redisAsyncContext* ac = ac_;
    ac_ = nullptr;
    drop_reason_ = std::string(reason);
    freeing_ = true;
    redisAsyncFree(ac);
    freeing_ = false;
    Cleanup();
  }

  void DropConnection(absl::string_view reason) {
    if (ac_ != nullptr) FreeContext(reason);
    if (closing_) return;
    Lost(reason);
  }

  void ConnectFailed(absl::string_view reason) { Lost(reason); }

  void Lost(absl::string_view reason) {
    connect_timer_.reset();
    const bool was_ready = state_ == State::kReady;
    state_ = State::kWaiting;
    if (!reported_down_) {
      log::Warning(was_ready ? "redis connection lost" : "redis unavailable",
                   {{"name", options_.name},
                    {"host", endpoint_.host},
                    {"port", endpoint_.port},
                    {"reason", std::string(reason)}});
      reported_down_ = true;
    }
    if (was_ready) Notify(false);
    if (closing_) return;
    reconnect_timer_ = loop_->RunAt(loop_->Now() + backoff_, [this] { StartConnect(); });
    backoff_ = std::min(backoff_ * 2, options_.reconnect_max);
  }

  void Notify(bool up) {
    for (auto& callback : callbacks_) callback(up);
  }

  http::EpollLoop* const loop_;
  const RedisOptions options_;
  const RedisEndpoint endpoint_;
  const bool numeric_host_;

  State state_ = State::kWaiting;
  redisAsyncContext* ac_ = nullptr;
  uint64_t generation_ = 0;  // of ac_: events and replies of an older connection are ignored
  bool freeing_ = false;
  bool closing_ = false;
  std::string drop_reason_;
  std::string handshake_error_;
  size_t handshake_left_ = 0;
  http::EpollLoop::FdWatchPtr watch_;
  uint32_t events_ = 0;
  http::EpollLoop::TimerPtr connect_timer_;
  http::EpollLoop::TimerPtr reconnect_timer_;
  absl::Duration backoff_;
  bool ever_ready_ = false;
  bool reported_down_ = false;
  uint64_t next_id_ = 1;
  std::map<uint64_t, Pending> pending_;
  std::vector<absl::AnyInvocable<void(bool)>> callbacks_;
  std::thread resolver_;
  std::shared_ptr<Impl*> alive_;
};

RedisClient::Script RedisClient::MakeScript(std::string source) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(source.data(), source.size(), digest, &length, EVP_sha1(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * length);
  for (unsigned int i = 0; i < length; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 0xf]);
  }
  return Script{std::move(source), std::move(hex)};
}

absl::StatusOr<std::unique_ptr<RedisClient>> RedisClient::Create(http::EpollLoop* loop,
                                                                 RedisOptions options) {
  absl::StatusOr<RedisEndpoint> endpoint = ParseRedisUrl(options.url);
  if (!endpoint.ok()) return endpoint.status();
  if (options.connect_timeout <= absl::ZeroDuration() ||
      options.command_timeout <= absl::ZeroDuration() ||
      options.reconnect_min <= absl::ZeroDuration() ||
      options.reconnect_max < options.reconnect_min) {
    return absl::InvalidArgumentError(
        "Redis timeouts must be positive and reconnect_max at least reconnect_min");
  }
  IgnoreSigpipe();
  auto impl = std::make_unique<Impl>(loop, std::move(options), *std::move(endpoint));
  impl->Start();
  return std::unique_ptr<RedisClient>(new RedisClient(std::move(impl)));
}

RedisClient::RedisClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RedisClient::~RedisClient() = default;

void RedisClient::Command(std::vector<std::string> args, Done done, absl::Duration timeout) {
  impl_->Command(std::move(args), std::move(done), timeout);
}

void RedisClient::Eval(const Script& script, std::vector<std::string> keys,
                       std::vector<std::string> args, Done done, absl::Duration timeout) {
  impl_->Eval(script, std::move(keys), std::move(args), std::move(done), timeout);
}

bool RedisClient::connected() const { return impl_->connected(); }

void RedisClient::OnConnectionChange(absl::AnyInvocable<void(bool connected)> callback) {
  impl_->OnConnectionChange(std::move(callback));
}

}  // namespace kommo::redis
