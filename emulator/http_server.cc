#include "emulator/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <random>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "emulator/text.h"

namespace kommo::emulator {
namespace {

using namespace std::chrono_literals;

constexpr size_t kReadChunk = 64 * 1024;
// After the last response on a closing connection we half-close and drain what the client still
// sends for this long, so an unread request body does not turn our close into an RST that destroys
// the response in flight (the "lingering close" of nginx and Apache).
constexpr auto kLingerTime = 2s;
// Pause after accept() fails for lack of file descriptors, instead of spinning on the listener.
constexpr auto kAcceptPause = 100ms;

absl::Status ErrnoStatus(absl::string_view what) {
  return absl::UnavailableError(absl::StrCat(what, ": ", std::strerror(errno)));
}

std::string HttpDate() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buffer[64];
  const size_t n = std::strftime(buffer, sizeof(buffer), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return std::string(buffer, n);
}

std::string ProblemJson(int status, std::string_view detail) {
  // `detail` comes from constants in this file: nothing to escape.
  return absl::StrFormat(
      R"({"title":"%s","type":"https://httpstatus.es/%d","status":%d,"detail":"%s"})",
      std::string(ReasonPhrase(status)), status, status, std::string(detail));
}

std::string PeerString(const sockaddr_storage& addr) {
  char text[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (addr.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text));
    port = ntohs(in->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&addr);
    inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
    port = ntohs(in6->sin6_port);
  }
  return absl::StrCat(text, ":", port);
}

bool IsTokenChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

}  // namespace

// One client connection. Owned by HttpServer::connections_; everything runs on the loop thread.
class HttpConnection : public std::enable_shared_from_this<HttpConnection> {
 public:
  HttpConnection(HttpServer* server, uint64_t id, int fd, std::string peer)
      : server_(server), id_(id), fd_(fd), peer_(std::move(peer)) {}
  ~HttpConnection() {
    if (fd_ >= 0) close(fd_);
  }

  absl::Status Start() {
    std::weak_ptr<HttpConnection> weak = weak_from_this();
    absl::StatusOr<EventLoop::WatchId> watch =
        server_->loop_->Watch(fd_, EPOLLIN | EPOLLRDHUP, [weak](uint32_t events) {
          if (auto self = weak.lock()) self->OnEvents(events);
        });
    if (!watch.ok()) return watch.status();
    watch_ = *watch;
    interest_ = EPOLLIN | EPOLLRDHUP;
    return absl::OkStatus();
  }

  void Close(bool reset) {
    if (!open_) return;
    open_ = false;
    if (linger_timer_ != 0) server_->loop_->Cancel(linger_timer_);
    server_->loop_->Unwatch(watch_);
    if (reset) {
      linger lg{};
      lg.l_onoff = 1;
      lg.l_linger = 0;
      setsockopt(fd_, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    }
    close(fd_);
    fd_ = -1;
    server_->Remove(id_);  // may destroy *this: callers hold a shared_ptr
  }

  bool Pending(uint64_t sequence) const { return open_ && awaiting_ && sequence == sequence_; }

  // Idle: open, nothing owed to the client, and no bytes moved since `since`.
  bool IdleSince(EventLoop::Clock::time_point since) const {
    return open_ && !awaiting_ && last_activity_ < since;
  }

  void Respond(uint64_t sequence, HttpResponse response) {
    if (!Pending(sequence)) return;
    auto self = shared_from_this();
    awaiting_ = false;
    const bool close_after = response.close_connection || !keep_alive_ || peer_closed_;
    std::string head =
        absl::StrCat("HTTP/1.1 ", response.status, " ", AsAbsl(ReasonPhrase(response.status)),
                     "\r\nServer: kommo-emulator\r\n", "Date: ", HttpDate(), "\r\n");
    if (response.add_request_id) absl::StrAppend(&head, "X-Request-Id: ", request_id_, "\r\n");
    for (const auto& [name, value] : response.headers) {
      absl::StrAppend(&head, name, ": ", value, "\r\n");
    }
    const bool bodyless = response.status == 204 || response.status == 304;
    if (!bodyless) absl::StrAppend(&head, "Content-Length: ", response.body.size(), "\r\n");
    absl::StrAppend(&head, "Connection: ", close_after ? "close" : "keep-alive", "\r\n\r\n");
    out_.append(head);
    if (!bodyless && !head_request_) out_.append(response.body);
    if (close_after) close_after_write_ = true;
    Flush();
    if (open_ && !processing_) ProcessInput();
  }

  void RespondRaw(uint64_t sequence, std::string bytes, bool then_close) {
    if (!Pending(sequence)) return;
    auto self = shared_from_this();
    awaiting_ = false;
    out_.append(bytes);
    if (then_close || !keep_alive_ || peer_closed_) close_after_write_ = true;
    Flush();
    if (open_ && !processing_) ProcessInput();
  }

  void ResetNow(uint64_t sequence) {
    if (!Pending(sequence)) return;
    auto self = shared_from_this();
    Close(/*reset=*/true);
  }

 private:
  void OnEvents(uint32_t events) {
    auto self = shared_from_this();
    if ((events & (EPOLLERR | EPOLLHUP)) != 0) {  // reset, or both directions shut down
      Close(false);
      return;
    }
    if ((events & EPOLLOUT) != 0) Flush();
    if (!open_) return;
    if ((events & (EPOLLIN | EPOLLRDHUP)) != 0) ReadAvailable();
  }

  void ReadAvailable() {
    const size_t cap = server_->options_.max_header_bytes + server_->options_.max_body_bytes;
    char buffer[kReadChunk];
    while (open_ && !peer_closed_) {
      if (!lingering_ && in_.size() >= cap) break;  // wait until a response frees the buffer
      const ssize_t n = read(fd_, buffer, sizeof(buffer));
      if (n > 0) {
        last_activity_ = EventLoop::Clock::now();
        if (!lingering_) in_.append(buffer, static_cast<size_t>(n));
        continue;
      }
      if (n == 0) {  // the peer closed its sending side
        peer_closed_ = true;
        break;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      Close(false);
      return;
    }
    if (!open_) return;
    if (lingering_) {
      if (peer_closed_) Close(false);
      return;
    }
    ProcessInput();  // requests complete before the peer's EOF are still answered
    if (open_ && peer_closed_ && !awaiting_ && out_pos_ == out_.size()) Close(false);
  }

  void ProcessInput() {
    if (processing_) return;
    processing_ = true;
    auto self = shared_from_this();
    while (open_ && !awaiting_ && !close_after_write_ && !lingering_) {
      if (!head_parsed_) {
        size_t skip = 0;  // RFC 9112 §2.2: ignore empty lines before a request line
        while (skip + 1 < in_.size() && in_[skip] == '\r' && in_[skip + 1] == '\n') skip += 2;
        if (skip > 0) in_.erase(0, skip);
        const size_t end = in_.find("\r\n\r\n");
        if (end == std::string::npos || end + 4 > server_->options_.max_header_bytes) {
          if (in_.size() > server_->options_.max_header_bytes || (end != std::string::npos)) {
            Fail(431, "Request header fields too large");
          }
          break;
        }
        if (!ParseHead(std::string_view(in_).substr(0, end))) break;
        in_.erase(0, end + 4);
        head_parsed_ = true;
        if (expect_continue_ && in_.size() < content_length_) {
          out_.append("HTTP/1.1 100 Continue\r\n\r\n");
          Flush();
          if (!open_) break;
        }
      }
      if (in_.size() < content_length_) break;
      current_.body = in_.substr(0, content_length_);
      in_.erase(0, content_length_);
      head_parsed_ = false;
      Dispatch();
    }
    processing_ = false;
    if (open_) UpdateInterest();
  }

  // Parses the request line and headers into current_. On a malformed head answers with an
  // error, marks the connection for closing and returns false.
  bool ParseHead(std::string_view head) {
    current_ = HttpRequest();
    content_length_ = 0;
    expect_continue_ = false;
    size_t line_end = head.find("\r\n");
    const std::string_view request_line = head.substr(0, line_end);
    const size_t sp1 = request_line.find(' ');
    const size_t sp2 = sp1 == std::string_view::npos ? sp1 : request_line.find(' ', sp1 + 1);
    if (sp1 == std::string_view::npos || sp2 == std::string_view::npos || sp1 == 0 ||
        sp2 == sp1 + 1) {
      return Fail(400, "Malformed request line");
    }
    const std::string_view method = request_line.substr(0, sp1);
    const std::string_view target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
    const std::string_view version = request_line.substr(sp2 + 1);
    for (const char c : method) {
      if (!IsTokenChar(c)) return Fail(400, "Malformed request method");
    }
    for (const char c : target) {
      if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
        return Fail(400, "Malformed request target");
      }
    }
    if (version == "HTTP/1.1") {
      current_.version_minor = 1;
    } else if (version == "HTTP/1.0") {
      current_.version_minor = 0;
    } else {
      return Fail(505, "Only HTTP/1.0 and HTTP/1.1 are supported");
    }
    current_.method = std::string(method);
    current_.target = std::string(target);
    std::string_view path_and_query = target;
    if (StartsWithIgnoreCase(target, "http://") ||
        StartsWithIgnoreCase(target, "https://")) {  // absolute-form
      const size_t slash = target.find('/', target.find("//") + 2);
      path_and_query = slash == std::string_view::npos ? "/" : target.substr(slash);
    }
    if (path_and_query.empty() || path_and_query[0] != '/') {
      return Fail(400, "Malformed request target");
    }
    const size_t question = path_and_query.find('?');
    current_.path = std::string(path_and_query.substr(0, question));
    if (question != std::string_view::npos) {
      current_.query = std::string(path_and_query.substr(question + 1));
    }

    bool has_length = false;
    bool has_transfer_encoding = false;
    bool connection_close = false;
    bool connection_keep_alive = false;
    while (line_end != std::string_view::npos) {
      const size_t start = line_end + 2;
      line_end = head.find("\r\n", start);
      const std::string_view line = head.substr(
          start, line_end == std::string_view::npos ? std::string_view::npos : line_end - start);
      if (line.empty()) continue;
      if (line[0] == ' ' || line[0] == '\t') return Fail(400, "Obsolete header folding");
      const size_t colon = line.find(':');
      if (colon == std::string_view::npos || colon == 0) return Fail(400, "Malformed header");
      for (const char c : line.substr(0, colon)) {
        if (!IsTokenChar(c)) return Fail(400, "Malformed header name");
      }
      std::string name = AsciiLower(line.substr(0, colon));
      std::string value(absl::StripAsciiWhitespace(AsAbsl(line.substr(colon + 1))));
      if (name == "content-length") {
        uint64_t length = 0;
        if (value.empty() || value.size() > 18 ||
            value.find_first_not_of("0123456789") != std::string::npos ||
            !absl::SimpleAtoi(value, &length) || (has_length && length != content_length_)) {
          return Fail(400, "Invalid Content-Length");
        }
        has_length = true;
        content_length_ = length;
      } else if (name == "transfer-encoding") {
        has_transfer_encoding = true;
      } else if (name == "connection") {
        const std::string lower = absl::AsciiStrToLower(value);
        if (lower.find("close") != std::string::npos) connection_close = true;
        if (lower.find("keep-alive") != std::string::npos) connection_keep_alive = true;
      } else if (name == "expect") {
        expect_continue_ = EqualsIgnoreCase(value, "100-continue");
      }
      current_.headers.emplace_back(std::move(name), std::move(value));
    }
    keep_alive_ = current_.version_minor == 1 ? !connection_close : connection_keep_alive;
    head_request_ = current_.method == "HEAD";
    if (has_transfer_encoding) {
      return Fail(411,
                  "Transfer-Encoding (chunked request bodies) is not supported: send "
                  "Content-Length");
    }
    if (content_length_ > server_->options_.max_body_bytes) {
      return Fail(413, "Request body too large");
    }
    return true;
  }

  void Dispatch() {
    awaiting_ = true;
    ++sequence_;
    request_id_ = server_->NextRequestId();
    ++server_->stats_.requests;
    current_.request_id = request_id_;
    current_.peer = peer_;
    server_->handler_(std::move(current_), Responder(weak_from_this(), sequence_));
  }

  // Answers a request the server itself rejects and closes the connection afterwards.
  bool Fail(int status, std::string_view detail) {
    request_id_ = server_->NextRequestId();
    awaiting_ = true;
    ++sequence_;
    HttpResponse response =
        HttpResponse::WithBody(status, "application/problem+json", ProblemJson(status, detail));
    response.close_connection = true;
    head_request_ = false;
    Respond(sequence_, std::move(response));
    return false;
  }

  void Flush() {
    while (open_ && out_pos_ < out_.size()) {
      const ssize_t n = send(fd_, out_.data() + out_pos_, out_.size() - out_pos_, MSG_NOSIGNAL);
      if (n > 0) {
        last_activity_ = EventLoop::Clock::now();
        out_pos_ += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      Close(false);
      return;
    }
    if (!open_) return;
    if (out_pos_ == out_.size()) {
      out_.clear();
      out_pos_ = 0;
      if (close_after_write_ && !awaiting_) {
        if (peer_closed_) {
          Close(false);
          return;
        }
        StartLingering();
        return;
      }
    }
    UpdateInterest();
  }

  void StartLingering() {
    if (lingering_) return;
    lingering_ = true;
    in_.clear();
    shutdown(fd_, SHUT_WR);
    std::weak_ptr<HttpConnection> weak = weak_from_this();
    linger_timer_ = server_->loop_->RunAfter(kLingerTime, [weak] {
      if (auto self = weak.lock()) {
        self->linger_timer_ = 0;
        self->Close(false);
      }
    });
    UpdateInterest();
  }

  void UpdateInterest() {
    const size_t cap = server_->options_.max_header_bytes + server_->options_.max_body_bytes;
    uint32_t events = 0;
    if (lingering_ || (!peer_closed_ && !close_after_write_ && in_.size() < cap)) {
      events |= EPOLLIN | EPOLLRDHUP;
    }
    if (out_pos_ < out_.size()) events |= EPOLLOUT;
    if (events == interest_) return;
    interest_ = events;
    if (!server_->loop_->Modify(watch_, events).ok()) Close(false);
  }

  HttpServer* const server_;
  const uint64_t id_;
  int fd_;
  const std::string peer_;
  EventLoop::WatchId watch_ = 0;
  uint32_t interest_ = 0;
  bool open_ = true;

  std::string in_;
  std::string out_;
  size_t out_pos_ = 0;

  bool processing_ = false;   // inside ProcessInput (guards re-entry from synchronous answers)
  bool head_parsed_ = false;  // current_ holds a parsed head whose body is still arriving
  bool awaiting_ = false;     // a dispatched request has not been answered yet
  bool close_after_write_ = false;
  bool peer_closed_ = false;
  bool lingering_ = false;
  EventLoop::TimerId linger_timer_ = 0;

  EventLoop::Clock::time_point last_activity_ = EventLoop::Clock::now();

  HttpRequest current_;
  uint64_t content_length_ = 0;
  bool expect_continue_ = false;
  bool keep_alive_ = true;
  bool head_request_ = false;
  uint64_t sequence_ = 0;
  std::string request_id_;
};

void Responder::Send(HttpResponse response) const {
  if (auto connection = connection_.lock()) connection->Respond(sequence_, std::move(response));
}

void Responder::SendRaw(std::string bytes, bool then_close) const {
  if (auto connection = connection_.lock()) {
    connection->RespondRaw(sequence_, std::move(bytes), then_close);
  }
}

void Responder::Reset() const {
  if (auto connection = connection_.lock()) connection->ResetNow(sequence_);
}

bool Responder::pending() const {
  auto connection = connection_.lock();
  return connection != nullptr && connection->Pending(sequence_);
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Create(EventLoop* loop,
                                                               std::string_view listen,
                                                               HttpServerOptions options,
                                                               RequestHandler handler) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen address must be HOST:PORT, got \"", std::string(listen), "\""));
  }
  std::string host(listen.substr(0, colon));
  int port = -1;
  if (!absl::SimpleAtoi(AsAbsl(listen.substr(colon + 1)), &port) || port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid port in listen address \"", std::string(listen), "\""));
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty() || host == "localhost") host = "127.0.0.1";

  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  auto* in4 = reinterpret_cast<sockaddr_in*>(&addr);
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (inet_pton(AF_INET, host.c_str(), &in4->sin_addr) == 1) {
    in4->sin_family = AF_INET;
    in4->sin_port = htons(static_cast<uint16_t>(port));
    addr_len = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, host.c_str(), &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(static_cast<uint16_t>(port));
    addr_len = sizeof(sockaddr_in6);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("listen host must be an IP address or localhost, got \"", host, "\""));
  }

  const int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoStatus("socket");
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), addr_len) != 0) {
    absl::Status status = ErrnoStatus(absl::StrCat("bind ", std::string(listen)));
    close(fd);
    return status;
  }
  if (::listen(fd, options.listen_backlog) != 0) {
    absl::Status status = ErrnoStatus("listen");
    close(fd);
    return status;
  }
  sockaddr_storage bound{};
  socklen_t bound_len = sizeof(bound);
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_len);
  const int bound_port = bound.ss_family == AF_INET6
                             ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                             : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);

  std::unique_ptr<HttpServer> server(new HttpServer(loop, options, std::move(handler)));
  server->host_ = host;
  server->port_ = bound_port;
  server->listen_fd_ = fd;
  std::random_device random;
  server->request_id_prefix_ = (static_cast<uint64_t>(random()) << 32) ^ random();
  HttpServer* raw = server.get();
  absl::StatusOr<EventLoop::WatchId> watch =
      loop->Watch(fd, EPOLLIN, [raw](uint32_t) { raw->OnAcceptable(); });
  if (!watch.ok()) return watch.status();  // the destructor closes fd
  server->listen_watch_ = *watch;
  if (options.idle_timeout.count() > 0) {
    server->sweep_timer_ = loop->RunAfter(options.idle_timeout / 4, [raw] { raw->SweepIdle(); });
  }
  return server;
}

HttpServer::~HttpServer() {
  loop_->Cancel(accept_pause_timer_);
  loop_->Cancel(sweep_timer_);
  if (listen_fd_ >= 0) {
    loop_->Unwatch(listen_watch_);
    close(listen_fd_);
  }
  while (!connections_.empty()) {
    std::shared_ptr<HttpConnection> connection = connections_.begin()->second;
    connection->Close(false);
  }
}

void HttpServer::OnAcceptable() {
  while (true) {
    sockaddr_storage addr{};
    socklen_t addr_len = sizeof(addr);
    const int fd = accept4(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &addr_len,
                           SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // Out of descriptors: stop watching the listener for a moment instead of spinning.
        (void)loop_->Modify(listen_watch_, 0);
        accept_pause_timer_ = loop_->RunAfter(kAcceptPause, [this] {
          accept_pause_timer_ = 0;
          (void)loop_->Modify(listen_watch_, EPOLLIN);
        });
      }
      return;  // EAGAIN: accepted everything pending
    }
    if (connections_.size() >= options_.max_connections) {
      close(fd);
      continue;
    }
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    const uint64_t id = next_connection_id_++;
    auto connection = std::make_shared<HttpConnection>(this, id, fd, PeerString(addr));
    connections_.emplace(id, connection);
    if (!connection->Start().ok()) {
      connection->Close(false);
      continue;
    }
    ++stats_.connections_accepted;
    stats_.connections_open = connections_.size();
  }
}

void HttpServer::SweepIdle() {
  const auto now = EventLoop::Clock::now();
  std::vector<std::shared_ptr<HttpConnection>> idle;
  for (const auto& [id, connection] : connections_) {
    if (connection->IdleSince(now - options_.idle_timeout)) idle.push_back(connection);
  }
  for (const auto& connection : idle) connection->Close(false);
  // Check a few times per timeout: a connection is closed between 1× and 1.25× the timeout.
  sweep_timer_ = loop_->RunAfter(std::max<EventLoop::Clock::duration>(
                                     options_.idle_timeout / 4, std::chrono::milliseconds(10)),
                                 [this] { SweepIdle(); });
}

void HttpServer::Remove(uint64_t connection_id) {
  connections_.erase(connection_id);
  stats_.connections_open = connections_.size();
}

std::string HttpServer::NextRequestId() {
  return absl::StrFormat("%016x%08x", request_id_prefix_, ++request_counter_);
}

}  // namespace kommo::emulator
