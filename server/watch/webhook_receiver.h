#ifndef KOMMO_SERVER_WATCH_WEBHOOK_RECEIVER_H_
#define KOMMO_SERVER_WATCH_WEBHOOK_RECEIVER_H_

// The optional receiver of Kommo's webhooks (WEBHOOK_LISTEN_ADDRESS), which only lowers the change
// stream's latency: a delivery makes the events poller read Kommo's events now instead of at its
// next interval, so the changes still come from the events API with their ids and order, and a
// duplicated, lost or reordered delivery changes nothing but when the next poll happens.
//
// Kommo signs nothing, so the secret is in the path: POST /kommo/webhook/<KOMMO_WEBHOOK_SECRET>.
// Anything else is refused (404 for another path, 405 for another method, 413 for a body over
// 1 MiB) and never reaches the poller. A delivery is answered 200 before it is read (Kommo allows
// 2 s), then parsed: form-encoded in Kommo's older shape, several entities each
// (leads[status][0][id]=5&leads[add][0][id]=6&contacts[update][0][id]=9&account[id]=1). The
// secret and the body are never logged; ids and counts are.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

struct mg_context;
struct mg_connection;

namespace kommo::watch {

// One delivery: for each (entity, action) it names ("leads", "status"), the ids.
struct WebhookDelivery {
  std::map<std::pair<std::string, std::string>, std::vector<int64_t>> entities;
  size_t count() const;
};

// Parses a form-encoded delivery. INVALID_ARGUMENT for a body that is not
// application/x-www-form-urlencoded text (a bad percent escape); keys that are not
// entity[action][index][field] (account[id], account[subdomain]) are skipped.
absl::StatusOr<WebhookDelivery> ParseWebhookDelivery(absl::string_view body);

class WebhookReceiver {
 public:
  struct Options {
    std::string listen;  // host:port; port 0 picks a free one
    std::string secret;  // the last path segment Kommo is configured with
    size_t max_body_bytes = 1 << 20;
  };
  // Runs on the receiver's thread after the delivery was answered.
  using OnDelivery = std::function<void(const WebhookDelivery&)>;

  static absl::StatusOr<std::unique_ptr<WebhookReceiver>> Start(Options options,
                                                                OnDelivery on_delivery);
  // Stops listening; deliveries being handled finish first.
  ~WebhookReceiver();

  WebhookReceiver(const WebhookReceiver&) = delete;
  WebhookReceiver& operator=(const WebhookReceiver&) = delete;

  int port() const { return port_; }

 private:
  WebhookReceiver(Options options, OnDelivery on_delivery)
      : options_(std::move(options)), on_delivery_(std::move(on_delivery)) {}
  static int Handle(mg_connection* connection, void* self);
  int Handle(mg_connection* connection);

  Options options_;
  OnDelivery on_delivery_;
  mg_context* context_ = nullptr;
  int port_ = 0;
};

}  // namespace kommo::watch

#endif  // KOMMO_SERVER_WATCH_WEBHOOK_RECEIVER_H_
