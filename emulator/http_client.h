// A one-shot HTTP/1.1 POST on the emulator's event loop, for webhook deliveries: a fresh
// non-blocking connection per request ("Connection: close"), nothing waits on a thread, and any
// failure (refused, reset, timeout, an answer that is not HTTP) is reported, never thrown. Only
// loopback destinations: the emulator is a test tool and must not reach out of the machine.
#ifndef KOMMO_EMULATOR_HTTP_CLIENT_H_
#define KOMMO_EMULATOR_HTTP_CLIENT_H_

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "emulator/event_loop.h"

namespace kommo::emulator {

// A parsed http:// URL on loopback.
struct LoopbackUrl {
  std::string ip;  // "127.0.0.1" or "::1" ("localhost" becomes 127.0.0.1)
  int port = 80;
  std::string host_header;  // as the URL spells host and port
  std::string target;       // path and query, "/" when empty
};

// Accepts http://HOST[:PORT][/path][?query] whose HOST is localhost, an IPv4 address in
// 127.0.0.0/8 or [::1]. INVALID_ARGUMENT saying what is wrong otherwise (https, another host, a
// malformed URL).
absl::StatusOr<LoopbackUrl> ParseLoopbackUrl(std::string_view url);

struct PostResult {
  int status = 0;          // the answer's status code; 0 when there was none
  bool timed_out = false;  // no status line within the timeout
  std::string error;       // why there is no status ("timeout", "connect: Connection refused")
};

// POSTs `body` to `url` with `content_type` and calls `done` on the loop thread exactly once:
// when the status line has arrived, or on failure, or after `timeout`. Call on the loop thread.
void PostOnLoop(EventLoop* loop, const LoopbackUrl& url, std::string content_type, std::string body,
                std::chrono::milliseconds timeout, std::function<void(PostResult)> done);

}  // namespace kommo::emulator

#endif  // KOMMO_EMULATOR_HTTP_CLIENT_H_
