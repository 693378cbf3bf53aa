#include "emulator/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
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

// --- TLS -----------------------------------------------------------------------------------------

// The oldest queued OpenSSL error as text ("" when there is none); clears the queue.
std::string OpenSslError() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "";
  char text[256];
  ERR_error_string_n(code, text, sizeof(text));
  return text;
}

// A socket BIO that sends with MSG_NOSIGNAL: OpenSSL's own socket BIO uses write(), which raises
// SIGPIPE when the peer is gone, and a library must not kill its host process (tests included).
int FdOf(BIO* bio) { return static_cast<int>(reinterpret_cast<intptr_t>(BIO_get_data(bio))); }

int BioWrite(BIO* bio, const char* data, int length) {
  BIO_clear_retry_flags(bio);
  const ssize_t n = send(FdOf(bio), data, static_cast<size_t>(length), MSG_NOSIGNAL);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
    BIO_set_retry_write(bio);
  }
  return static_cast<int>(n);
}

int BioRead(BIO* bio, char* data, int length) {
  BIO_clear_retry_flags(bio);
  const ssize_t n = recv(FdOf(bio), data, static_cast<size_t>(length), 0);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
    BIO_set_retry_read(bio);
  }
  return static_cast<int>(n);
}

long BioCtrl(BIO*, int command, long, void*) { return command == BIO_CTRL_FLUSH ? 1 : 0; }

int BioPuts(BIO* bio, const char* text) {
  return BioWrite(bio, text, static_cast<int>(std::strlen(text)));
}

// ALPN: this server speaks HTTP/1.1 only; clients that offer h2 fall back to it.
int SelectAlpn(SSL*, const unsigned char** out, unsigned char* out_length, const unsigned char* in,
               unsigned int in_length, void*) {
  static const unsigned char kHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, out_length, kHttp11, sizeof(kHttp11), in, in_length) !=
      OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace

struct TlsContext {
  ~TlsContext() {
    SSL_CTX_free(ctx);
    BIO_meth_free(bio_method);
  }
  SSL_CTX* ctx = nullptr;
  BIO_METHOD* bio_method = nullptr;
};

namespace {

absl::StatusOr<std::unique_ptr<TlsContext>> CreateTlsContext(const std::string& cert_file,
                                                             const std::string& key_file) {
  ERR_clear_error();
  auto tls = std::make_unique<TlsContext>();
  tls->ctx = SSL_CTX_new(TLS_server_method());
  tls->bio_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "kommo-socket");
  if (tls->ctx == nullptr || tls->bio_method == nullptr) {
    return absl::InternalError(absl::StrCat("OpenSSL set-up failed: ", OpenSslError()));
  }
  BIO_meth_set_write(tls->bio_method, BioWrite);
  BIO_meth_set_read(tls->bio_method, BioRead);
  BIO_meth_set_puts(tls->bio_method, BioPuts);
  BIO_meth_set_ctrl(tls->bio_method, BioCtrl);
  SSL_CTX_set_min_proto_version(tls->ctx, TLS1_2_VERSION);
  // Partial writes and a moving buffer: the output buffer is a std::string that grows while a
  // write is retried. A peer's EOF without close_notify is a normal close here.
  SSL_CTX_set_mode(tls->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                                 SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_options(tls->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_alpn_select_cb(tls->ctx, SelectAlpn, nullptr);
  if (SSL_CTX_use_certificate_chain_file(tls->ctx, cert_file.c_str()) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot load TLS certificate \"", cert_file, "\": ", OpenSslError()));
  }
  if (SSL_CTX_use_PrivateKey_file(tls->ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot load TLS private key \"", key_file, "\": ", OpenSslError()));
  }
  if (SSL_CTX_check_private_key(tls->ctx) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("TLS private key \"", key_file,
                                                   "\" does not match the certificate \"",
                                                   cert_file, "\": ", OpenSslError()));
  }
  return tls;
}

}  // namespace

// One client connection. Owned by HttpServer::connections_; everything runs on the loop thread.
class HttpConnection : public std::enable_shared_from_this<HttpConnection> {
 public:
  HttpConnection(HttpServer* server, uint64_t id, int fd, std::string peer)
      : server_(server), id_(id), fd_(fd), peer_(std::move(peer)) {}
  ~HttpConnection() {
    if (ssl_ != nullptr) SSL_free(ssl_);
    if (fd_ >= 0) close(fd_);
  }

  absl::Status Start() {
    if (server_->tls_ != nullptr) {
      ssl_ = SSL_new(server_->tls_->ctx);
      BIO* bio = ssl_ == nullptr ? nullptr : BIO_new(server_->tls_->bio_method);
      if (bio == nullptr) return absl::InternalError(absl::StrCat("SSL_new: ", OpenSslError()));
      BIO_set_data(bio, reinterpret_cast<void*>(static_cast<intptr_t>(fd_)));
      BIO_set_init(bio, 1);
      SSL_set_bio(ssl_, bio, bio);  // the SSL owns the BIO now
      SSL_set_accept_state(ssl_);
    }
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
    if (trickle_timer_ != 0) server_->loop_->Cancel(trickle_timer_);
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

  // Still owed an answer: open, dispatched, not yet answered (a trickling answer is answered).
  bool Pending(uint64_t sequence) const {
    return open_ && awaiting_ && !trickling_ && sequence == sequence_;
  }

  // Idle: open, nothing owed to the client, and no bytes moved since `since`.
  bool IdleSince(EventLoop::Clock::time_point since) const {
    return open_ && !awaiting_ && last_activity_ < since;
  }

  void Respond(uint64_t sequence, HttpResponse response) {
    if (!Pending(sequence)) return;
    auto self = shared_from_this();
    const bool bodyless = response.status == 204 || response.status == 304;
    const bool send_body = !bodyless && !head_request_;
    const bool cut = send_body && response.cut_body_at.has_value() &&
                     *response.cut_body_at < response.body.size();
    const bool trickle = send_body && !cut && response.trickle_bytes > 0 && !response.body.empty();
    const bool close_after = response.close_connection || cut || !keep_alive_ || peer_closed_;
    std::string head =
        absl::StrCat("HTTP/1.1 ", response.status, " ", AsAbsl(ReasonPhrase(response.status)),
                     "\r\nServer: ", response.server, "\r\nDate: ", HttpDate(), "\r\n");
    if (response.add_request_id) absl::StrAppend(&head, "X-Request-Id: ", request_id_, "\r\n");
    for (const auto& [name, value] : response.headers) {
      absl::StrAppend(&head, name, ": ", value, "\r\n");
    }
    if (!bodyless) absl::StrAppend(&head, "Content-Length: ", response.body.size(), "\r\n");
    absl::StrAppend(&head, "Connection: ", close_after ? "close" : "keep-alive", "\r\n\r\n");
    out_.append(head);
    if (trickle) {
      // Stay "awaiting" (no further request is parsed, no idle close) until the last piece.
      trickling_ = true;
      trickle_body_ = std::move(response.body);
      trickle_pos_ = 0;
      trickle_bytes_ = response.trickle_bytes;
      trickle_interval_ = response.trickle_interval;
      trickle_close_ = close_after;
      Flush();
      ScheduleTrickle();
      return;
    }
    awaiting_ = false;
    if (cut) {
      out_.append(response.body, 0, *response.cut_body_at);
    } else if (send_body) {
      out_.append(response.body);
    }
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
    // TLS: a read may be waiting for the socket to take the handshake's bytes.
    if ((events & (EPOLLIN | EPOLLRDHUP)) != 0 || tls_read_wants_write_) ReadAvailable();
  }

  // The next piece of a trickled body, then the next timer; after the last piece the request
  // counts as answered.
  void ScheduleTrickle() {
    std::weak_ptr<HttpConnection> weak = weak_from_this();
    trickle_timer_ = server_->loop_->RunAfter(trickle_interval_, [weak] {
      auto self = weak.lock();
      if (self == nullptr) return;
      self->trickle_timer_ = 0;
      self->TrickleNext();
    });
  }

  void TrickleNext() {
    if (!open_) return;
    auto self = shared_from_this();
    const size_t n = std::min(trickle_bytes_, trickle_body_.size() - trickle_pos_);
    out_.append(trickle_body_, trickle_pos_, n);
    trickle_pos_ += n;
    if (trickle_pos_ < trickle_body_.size()) {
      Flush();
      if (open_) ScheduleTrickle();
      return;
    }
    trickling_ = false;
    awaiting_ = false;
    trickle_body_.clear();
    if (trickle_close_) close_after_write_ = true;
    Flush();
    if (open_ && !processing_) ProcessInput();
  }

  // Plain or TLS I/O with read()/send() conventions: > 0 bytes, 0 at the peer's EOF, -1 with
  // errno (EAGAIN: try again when the socket is ready).
  ssize_t ReadSome(char* data, size_t size) {
    if (ssl_ == nullptr) return read(fd_, data, size);
    tls_read_wants_write_ = false;
    ERR_clear_error();
    const int n = SSL_read(ssl_, data, static_cast<int>(std::min<size_t>(size, INT_MAX)));
    if (n > 0) return n;
    return TlsFailure(n, /*reading=*/true);
  }

  ssize_t WriteSome(const char* data, size_t size) {
    if (ssl_ == nullptr) return send(fd_, data, size, MSG_NOSIGNAL);
    tls_write_wants_read_ = false;
    ERR_clear_error();
    const int n = SSL_write(ssl_, data, static_cast<int>(std::min<size_t>(size, INT_MAX)));
    if (n > 0) return n;
    return TlsFailure(n, /*reading=*/false);
  }

  ssize_t TlsFailure(int result, bool reading) {
    switch (SSL_get_error(ssl_, result)) {
      case SSL_ERROR_WANT_READ:
        if (!reading) tls_write_wants_read_ = true;
        errno = EAGAIN;
        return -1;
      case SSL_ERROR_WANT_WRITE:
        if (reading) tls_read_wants_write_ = true;
        errno = EAGAIN;
        return -1;
      case SSL_ERROR_ZERO_RETURN:  // close_notify
        if (reading) return 0;
        errno = EPIPE;
        return -1;
      case SSL_ERROR_SYSCALL:
        if (errno == 0 || errno == EAGAIN) errno = ECONNRESET;
        return -1;
      default:  // a failed handshake (e.g. the client rejected our certificate) or bad record
        ERR_clear_error();
        errno = EPROTO;
        return -1;
    }
  }

  void ReadAvailable() {
    const size_t cap = server_->options_.max_header_bytes + server_->options_.max_body_bytes;
    char buffer[kReadChunk];
    while (open_ && !peer_closed_) {
      if (!lingering_ && in_.size() >= cap) break;  // wait until a response frees the buffer
      const ssize_t n = ReadSome(buffer, sizeof(buffer));
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
      const ssize_t n = WriteSome(out_.data() + out_pos_, out_.size() - out_pos_);
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
    if (ssl_ != nullptr) SSL_shutdown(ssl_);  // close_notify, best effort
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
    if (out_pos_ < out_.size() || tls_read_wants_write_) events |= EPOLLOUT;
    if (tls_write_wants_read_) events |= EPOLLIN;
    // Decrypted bytes OpenSSL already holds raise no epoll event: read them soon.
    if ((events & EPOLLIN) != 0 && ssl_ != nullptr && SSL_pending(ssl_) > 0) {
      std::weak_ptr<HttpConnection> weak = weak_from_this();
      server_->loop_->Post([weak] {
        if (auto self = weak.lock(); self != nullptr && self->open_) self->ReadAvailable();
      });
    }
    if (events == interest_) return;
    interest_ = events;
    if (!server_->loop_->Modify(watch_, events).ok()) Close(false);
  }

  HttpServer* const server_;
  const uint64_t id_;
  int fd_;
  const std::string peer_;
  SSL* ssl_ = nullptr;  // TLS only
  bool tls_read_wants_write_ = false;
  bool tls_write_wants_read_ = false;
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

  // A slow ("trickled") answer in progress.
  bool trickling_ = false;
  std::string trickle_body_;
  size_t trickle_pos_ = 0;
  size_t trickle_bytes_ = 0;
  std::chrono::milliseconds trickle_interval_{0};
  bool trickle_close_ = false;
  EventLoop::TimerId trickle_timer_ = 0;

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
  if (!options.tls_cert_file.empty() || !options.tls_key_file.empty()) {
    if (options.tls_cert_file.empty() || options.tls_key_file.empty()) {
      close(fd);
      return absl::InvalidArgumentError("TLS needs both a certificate file and a key file");
    }
    absl::StatusOr<std::unique_ptr<TlsContext>> tls =
        CreateTlsContext(options.tls_cert_file, options.tls_key_file);
    if (!tls.ok()) {
      close(fd);
      return tls.status();
    }
    server->tls_ = *std::move(tls);
  }
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

HttpServer::HttpServer(EventLoop* loop, HttpServerOptions options, RequestHandler handler)
    : loop_(loop), options_(std::move(options)), handler_(std::move(handler)) {}

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
