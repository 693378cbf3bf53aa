#ifndef KOMMO_SERVER_HTTP_CURL_TRANSPORT_H_
#define KOMMO_SERVER_HTTP_CURL_TRANSPORT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "server/http/epoll_loop.h"
#include "server/http/http_transport.h"

namespace kommo::http {

struct CurlTransportOptions {
  // Sent as User-Agent on every request.
  std::string user_agent = "kommo-grpc";
  // PEM bundle to verify HTTPS peers with; empty uses the system's CA store. Certificates are
  // always verified.
  std::string ca_file;
  // Upper bound of the connect phase of each attempt (further capped by the attempt's timeout).
  absl::Duration connect_timeout = absl::Seconds(5);
  // Responses larger than this fail with RESOURCE_EXHAUSTED (the Kommo client answers
  // INTERNAL, KOMMO_BAD_RESPONSE) instead of exhausting memory. Kommo's largest body, a page of
  // 250 leads with their contacts and custom fields, is a few hundred KiB; 2 MiB leaves room for
  // unusually rich accounts while bounding what one hostile body costs: the body, plus about 16
  // times its size while it is parsed (33 MB measured for 2 MiB of "[0,0,...]", the costliest
  // shape; the mapping layer also refuses nesting past 64 levels).
  size_t max_response_bytes = 2 << 20;
  // Idle connections kept open for reuse (only connections that were needed at once are ever
  // opened, so this bounds nothing in normal use). Against Kommo's 7 requests/s a handful is used;
  // with the rate limit raised (a proxy, the emulator) many requests are in flight at once, and a
  // cache smaller than that would close most connections after one request and open new ones (a TCP
  // handshake per request).
  long max_cached_connections = 8192;
  // libcurl's receive buffer per transfer in flight (CURLOPT_BUFFERSIZE; 1024 at least).
  long receive_buffer_bytes = 2048;
};

// HttpTransport over one libcurl multi handle, driven by an EpollLoop that it is given: libcurl's
// sockets are watched on the loop and libcurl's timer is a loop timer
// (curl_multi_socket_action), so thousands of transfers in flight cost nothing while idle, and
// every callback runs on the loop thread. Connections are kept alive and reused across requests.
class CurlTransport final : public HttpTransport {
 public:
  // A transport on `loop`, which must outlive it (started or not yet).
  static absl::StatusOr<std::unique_ptr<CurlTransport>> Create(EpollLoop* loop,
                                                               CurlTransportOptions options);

  // Requests still in flight complete with CANCELLED, on the loop; requests sent afterwards too
  // (if the loop still runs: a task the loop drops at its own shutdown is destroyed unrun). So
  // every callback runs at most once, and exactly once while the loop runs. Idempotent; safe
  // from any thread, the loop's included.
  void Shutdown();

  // Shutdown(), then frees libcurl's handles (on the loop thread, or here when it does not run).
  // Not concurrently with Send or Cancel.
  ~CurlTransport() override;

  CurlTransport(const CurlTransport&) = delete;
  CurlTransport& operator=(const CurlTransport&) = delete;

  RequestId Send(HttpRequest request, Callback done) override;
  void Cancel(RequestId id) override;

 private:
  struct Impl;
  explicit CurlTransport(std::unique_ptr<Impl> impl);

  std::unique_ptr<Impl> impl_;
};

}  // namespace kommo::http

#endif  // KOMMO_SERVER_HTTP_CURL_TRANSPORT_H_
