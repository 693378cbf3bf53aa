// A small HTTP/1.1 server on the EventLoop: non-blocking sockets, keep-alive, TCP_NODELAY,
// bodies framed by Content-Length only, "Expect: 100-continue", size limits, lingering close, and
// optional TLS (OpenSSL, non-blocking, on the same loop thread).
//
// Requests on one connection are answered strictly in order: while a request waits for its answer
// (the handler may answer later, e.g. from a timer), pipelined bytes are buffered, not parsed.
#ifndef KOMMO_EMULATOR_HTTP_SERVER_H_
#define KOMMO_EMULATOR_HTTP_SERVER_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "absl/status/statusor.h"
#include "emulator/event_loop.h"
#include "emulator/http_message.h"

namespace kommo::emulator {

struct HttpServerOptions {
  // Request line plus headers; larger → 431 and close.
  size_t max_header_bytes = 64 * 1024;
  // Content-Length above this → 413 and close (before the body is read; no "100 Continue").
  size_t max_body_bytes = 1024 * 1024;
  // Connections above this are accepted and closed at once.
  size_t max_connections = 16384;
  int listen_backlog = 4096;  // the kernel caps it at net.core.somaxconn
  // A connection with no unanswered request and no traffic for this long is closed (an idle
  // keep-alive connection, or a client that stopped sending half a request). Zero: never.
  std::chrono::milliseconds idle_timeout = std::chrono::seconds(60);
  // PEM certificate (chain) and private key. Both set: every connection speaks TLS 1.2 or newer
  // (ALPN "http/1.1"); both empty: plain HTTP. Create() fails with INVALID_ARGUMENT when the files
  // cannot be loaded or do not match.
  std::string tls_cert_file;
  std::string tls_key_file;
};

class HttpConnection;
struct TlsContext;

// Answers one request. Cheap to copy; use it on the loop thread only. It stays safe to call after
// the connection closed (then it does nothing); only the first answer to a request counts.
class Responder {
 public:
  Responder() = default;
  // Sends a response; the server adds Content-Length, Connection, Date and X-Request-Id.
  void Send(HttpResponse response) const;
  // Writes `bytes` verbatim instead of a response (for cut or malformed answers) and, when
  // `then_close`, closes the connection after they are flushed.
  void SendRaw(std::string bytes, bool then_close) const;
  // Drops the connection with a TCP RST and no response.
  void Reset() const;
  // True while the connection is open and this request is still unanswered.
  bool pending() const;

 private:
  friend class HttpConnection;
  Responder(std::weak_ptr<HttpConnection> connection, uint64_t sequence)
      : connection_(std::move(connection)), sequence_(sequence) {}
  std::weak_ptr<HttpConnection> connection_;
  uint64_t sequence_ = 0;
};

// Called on the loop thread for every complete request. It must answer through `responder`,
// now or later; the connection reads no further request until it does.
using RequestHandler = std::function<void(HttpRequest request, Responder responder)>;

struct HttpServerStats {
  uint64_t connections_accepted = 0;
  uint64_t connections_open = 0;
  uint64_t requests = 0;
};

class HttpServer {
 public:
  // Binds and listens on `listen` ("HOST:PORT", "[V6]:PORT"; port 0 picks a free port) and
  // registers with `loop`. Call before loop->Run() or on the loop thread.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Create(EventLoop* loop,
                                                            std::string_view listen,
                                                            HttpServerOptions options,
                                                            RequestHandler handler);
  // Closes the listener and all connections. Call on the loop thread or while it is not running.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  const std::string& host() const { return host_; }  // as given, without brackets
  int port() const { return port_; }
  bool tls() const { return tls_ != nullptr; }
  HttpServerStats stats() const { return stats_; }  // loop thread only

 private:
  friend class HttpConnection;
  HttpServer(EventLoop* loop, HttpServerOptions options, RequestHandler handler);
  void OnAcceptable();
  void Remove(uint64_t connection_id);
  void SweepIdle();
  std::string NextRequestId();

  EventLoop* const loop_;
  const HttpServerOptions options_;
  const RequestHandler handler_;
  std::unique_ptr<TlsContext> tls_;
  std::string host_;
  int port_ = 0;
  int listen_fd_ = -1;
  EventLoop::WatchId listen_watch_ = 0;
  EventLoop::TimerId accept_pause_timer_ = 0;
  EventLoop::TimerId sweep_timer_ = 0;
  uint64_t next_connection_id_ = 1;
  std::unordered_map<uint64_t, std::shared_ptr<HttpConnection>> connections_;
  HttpServerStats stats_;
  uint64_t request_id_prefix_ = 0;
  uint64_t request_counter_ = 0;
};

}  // namespace kommo::emulator

#endif  // KOMMO_EMULATOR_HTTP_SERVER_H_
