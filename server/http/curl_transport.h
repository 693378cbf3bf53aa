#ifndef KOMMO_SERVER_HTTP_CURL_TRANSPORT_H_
#define KOMMO_SERVER_HTTP_CURL_TRANSPORT_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "server/common/event_loop.h"
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
};

// HttpTransport over one libcurl multi handle, driven by one event-loop thread
// (curl_multi_poll + curl_multi_wakeup). Also the EventLoop that the Kommo client's rate limiter
// and retries schedule on, so waiting costs a timer entry, not a thread. Connections are kept alive
// and reused across requests.
class CurlTransport final : public HttpTransport, public EventLoop {
 public:
  // Starts the loop thread.
  static absl::StatusOr<std::unique_ptr<CurlTransport>> Create(CurlTransportOptions options);

  // Stops the loop: requests still in flight complete with CANCELLED, pending timers are dropped
  // and posted tasks still run, so every callback runs exactly once. Afterwards nothing runs on
  // the loop any more, so the objects its callbacks and timers refer to (the Kommo client) can be
  // destroyed before the transport. Idempotent; call it from outside the loop.
  void Shutdown();

  // Shutdown(), then frees libcurl's handles.
  ~CurlTransport() override;

  CurlTransport(const CurlTransport&) = delete;
  CurlTransport& operator=(const CurlTransport&) = delete;

  RequestId Send(HttpRequest request, Callback done) override;
  void Cancel(RequestId id) override;

  absl::Time Now() const override;
  void Post(Task task) override;
  TimerPtr RunAt(absl::Time when, Task task) override;

 private:
  struct Impl;
  explicit CurlTransport(std::unique_ptr<Impl> impl);

  std::unique_ptr<Impl> impl_;
};

}  // namespace kommo::http

#endif  // KOMMO_SERVER_HTTP_CURL_TRANSPORT_H_
