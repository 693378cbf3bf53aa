#include "emulator/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "emulator/text.h"

namespace kommo::emulator {
namespace {

// Enough for any status line; a peer that sends more without a line break is not HTTP.
constexpr size_t kMaxStatusLine = 8 * 1024;

absl::Status BadUrl(std::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat(AsAbsl(why),
                   " (the emulator delivers webhooks only to http:// URLs on loopback: "
                   "localhost, 127.0.0.0/8 or [::1])"));
}

// One POST in flight. Owned by the loop's watch and timer (shared_ptr); Finish() releases both.
class Post : public std::enable_shared_from_this<Post> {
 public:
  Post(EventLoop* loop, std::function<void(PostResult)> done)
      : loop_(loop), done_(std::move(done)) {}
  ~Post() {
    if (fd_ >= 0) close(fd_);  // only when the loop itself is being torn down
  }

  void Start(const LoopbackUrl& url, std::string request, std::chrono::milliseconds timeout) {
    out_ = std::move(request);
    sockaddr_storage addr{};
    socklen_t addr_len = 0;
    auto* in4 = reinterpret_cast<sockaddr_in*>(&addr);
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&addr);
    if (inet_pton(AF_INET, url.ip.c_str(), &in4->sin_addr) == 1) {
      in4->sin_family = AF_INET;
      in4->sin_port = htons(static_cast<uint16_t>(url.port));
      addr_len = sizeof(sockaddr_in);
    } else if (inet_pton(AF_INET6, url.ip.c_str(), &in6->sin6_addr) == 1) {
      in6->sin6_family = AF_INET6;
      in6->sin6_port = htons(static_cast<uint16_t>(url.port));
      addr_len = sizeof(sockaddr_in6);
    } else {
      return Fail("bad address");
    }
    fd_ = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return Fail(absl::StrCat("socket: ", std::strerror(errno)));
    const int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), addr_len) != 0 && errno != EINPROGRESS) {
      return Fail(absl::StrCat("connect: ", std::strerror(errno)));
    }
    std::shared_ptr<Post> self = shared_from_this();
    absl::StatusOr<EventLoop::WatchId> watch =
        loop_->Watch(fd_, EPOLLOUT, [self](uint32_t events) { self->OnEvents(events); });
    if (!watch.ok()) return Fail(std::string(watch.status().message()));
    watch_ = *watch;
    timer_ = loop_->RunAfter(timeout, [self] {
      self->timer_ = 0;
      PostResult result;
      result.timed_out = true;
      result.error = "timeout";
      self->Finish(std::move(result));
    });
  }

 private:
  void OnEvents(uint32_t events) {
    if (finished_) return;
    if (!connected_) {
      int error = 0;
      socklen_t length = sizeof(error);
      getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &length);
      if (error != 0) return Fail(absl::StrCat("connect: ", std::strerror(error)));
      if ((events & (EPOLLERR | EPOLLHUP)) != 0) return Fail("connect: connection failed");
      connected_ = true;
    }
    if (out_pos_ < out_.size()) {
      while (out_pos_ < out_.size()) {
        const ssize_t n = send(fd_, out_.data() + out_pos_, out_.size() - out_pos_, MSG_NOSIGNAL);
        if (n > 0) {
          out_pos_ += static_cast<size_t>(n);
          continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;  // wait for EPOLLOUT
        return Fail(absl::StrCat("send: ", std::strerror(errno)));
      }
      if (!loop_->Modify(watch_, EPOLLIN | EPOLLRDHUP).ok()) return Fail("epoll");
      return;
    }
    char buffer[4096];
    while (true) {
      const ssize_t n = read(fd_, buffer, sizeof(buffer));
      if (n > 0) {
        in_.append(buffer, static_cast<size_t>(n));
        if (const size_t end = in_.find("\r\n"); end != std::string::npos) {
          return ParseStatusLine(in_.substr(0, end));
        }
        if (in_.size() > kMaxStatusLine) return Fail("answer is not HTTP");
        continue;
      }
      if (n == 0) return in_.empty() ? Fail("closed without an answer") : ParseStatusLine(in_);
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      return Fail(absl::StrCat("read: ", std::strerror(errno)));
    }
  }

  // "HTTP/1.1 200 OK" → 200.
  void ParseStatusLine(const std::string& line) {
    int status = 0;
    const bool http = line.size() >= 12 && line.compare(0, 7, "HTTP/1.") == 0 && line[8] == ' ';
    if (!http || !absl::SimpleAtoi(absl::string_view(line).substr(9, 3), &status) || status < 100 ||
        status > 999) {
      return Fail("answer is not HTTP");
    }
    PostResult result;
    result.status = status;
    Finish(std::move(result));
  }

  void Fail(std::string error) {
    PostResult result;
    result.error = std::move(error);
    Finish(std::move(result));
  }

  void Finish(PostResult result) {
    if (finished_) return;
    finished_ = true;
    std::shared_ptr<Post> keep = shared_from_this();  // the watch and timer may hold the last refs
    if (watch_ != 0) loop_->Unwatch(watch_);
    if (timer_ != 0) loop_->Cancel(timer_);
    watch_ = 0;
    timer_ = 0;
    if (fd_ >= 0) {
      close(fd_);
      fd_ = -1;
    }
    // Report from a posted task: `done` may start the next POST, and the caller of Start() may
    // still be on the stack.
    loop_->Post([done = std::move(done_), result = std::move(result)]() mutable {
      done(std::move(result));
    });
  }

  EventLoop* const loop_;
  std::function<void(PostResult)> done_;
  int fd_ = -1;
  EventLoop::WatchId watch_ = 0;
  EventLoop::TimerId timer_ = 0;
  bool connected_ = false;
  bool finished_ = false;
  std::string out_;
  size_t out_pos_ = 0;
  std::string in_;
};

}  // namespace

absl::StatusOr<LoopbackUrl> ParseLoopbackUrl(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (url.size() > 2048) return BadUrl("the URL is too long");
  for (const char c : url) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return BadUrl("the URL has spaces or control characters");
    }
  }
  if (!StartsWithIgnoreCase(url, kScheme)) {
    return BadUrl(StartsWithIgnoreCase(url, "https://") ? "https is not supported"
                                                        : "the URL must start with http://");
  }
  std::string_view rest = url.substr(kScheme.size());
  const size_t slash = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, slash);
  LoopbackUrl out;
  out.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (out.target[0] == '?') out.target = "/" + out.target;
  if (authority.find('@') != std::string_view::npos) return BadUrl("the URL must not hold a user");
  out.host_header = std::string(authority);
  std::string_view host = authority;
  std::string_view port;
  if (!host.empty() && host.front() == '[') {
    const size_t close = host.find(']');
    if (close == std::string_view::npos) return BadUrl("the URL's IPv6 host is not closed");
    port = host.substr(close + 1);
    host = host.substr(1, close - 1);
    if (!port.empty() && port.front() != ':') return BadUrl("the URL's port is malformed");
    if (!port.empty()) port.remove_prefix(1);
  } else if (const size_t colon = host.rfind(':'); colon != std::string_view::npos) {
    port = host.substr(colon + 1);
    host = host.substr(0, colon);
  }
  if (!port.empty()) {
    if (DigitsOf(port).size() != port.size() || !absl::SimpleAtoi(AsAbsl(port), &out.port) ||
        out.port < 1 || out.port > 65535) {
      return BadUrl("the URL's port must be 1 to 65535");
    }
  }
  const std::string lower = AsciiLower(host);
  in_addr v4{};
  in6_addr v6{};
  if (lower == "localhost") {
    out.ip = "127.0.0.1";
  } else if (inet_pton(AF_INET, lower.c_str(), &v4) == 1) {
    if ((ntohl(v4.s_addr) >> 24) != 127) return BadUrl("the URL's host is not on loopback");
    out.ip = lower;
  } else if (inet_pton(AF_INET6, lower.c_str(), &v6) == 1) {
    if (!IN6_IS_ADDR_LOOPBACK(&v6)) return BadUrl("the URL's host is not on loopback");
    out.ip = lower;
  } else {
    return BadUrl("the URL's host is not on loopback");
  }
  return out;
}

void PostOnLoop(EventLoop* loop, const LoopbackUrl& url, std::string content_type, std::string body,
                std::chrono::milliseconds timeout, std::function<void(PostResult)> done) {
  std::string request =
      absl::StrCat("POST ", url.target, " HTTP/1.1\r\nHost: ", url.host_header,
                   "\r\nUser-Agent: kommo-emulator-webhooks", "\r\nContent-Type: ", content_type,
                   "\r\nContent-Length: ", body.size(), "\r\nConnection: close\r\n\r\n");
  request += body;
  auto post = std::make_shared<Post>(loop, std::move(done));
  post->Start(url, std::move(request), timeout);
}

}  // namespace kommo::emulator
