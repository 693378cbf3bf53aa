// Kommo's webhooks: the account's subscriptions (POST/GET/DELETE /api/v4/webhooks) and the
// deliveries the emulator makes after writes.
//
// A delivery is one POST of application/x-www-form-urlencoded in Kommo's older (API v2) shape,
// one per subscribed destination per write request, carrying every entity the request changed
// that the destination subscribed to: leads[add][0][id]=…&leads[add][1][id]=…&leads[status][0]
// [old_status_id]=…&contacts[update][0][type]=contact&…&account[id]=…. Companies travel under
// "contacts" with type=company, as Kommo sends them. Values are strings.
//
// Deliveries to one destination go one at a time, in order; a failed attempt (no answer within
// the timeout, a connection failure, a status outside 100..299) is retried on Kommo's schedule:
// +5 min and +15 min after any failure, then +15 min and +1 h only after 499 or 5xx (a timeout
// counts as 499), all multiplied by WebhookOptions::time_scale. Later deliveries do not wait for
// a retrying one. A destination with more than 100 failed answers within 2 hours (scaled) is
// disabled; one with 10,000 deliveries waiting drops new ones (state "dropped"). Faults
// (WebhookFaultRule) lose, duplicate or reorder deliveries. Loop thread only.
#ifndef KOMMO_EMULATOR_WEBHOOKS_H_
#define KOMMO_EMULATOR_WEBHOOKS_H_

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "emulator/changes.h"
#include "emulator/emulator.h"
#include "emulator/event_loop.h"
#include "emulator/http_client.h"
#include "emulator/render.h"
#include "emulator/store.h"

namespace kommo::emulator {

// A subscription, as GET /api/v4/webhooks shows it.
struct Webhook {
  int64_t id = 0;
  std::string destination;
  LoopbackUrl url;
  std::vector<std::string> settings;  // "add_lead", "status_lead", ...
  int64_t sort = 1;
  bool disabled = false;
  int64_t created_at = 0;
  int64_t updated_at = 0;
  int64_t created_by = 0;
};

// Whether Kommo takes `setting` in a webhook's settings: {add, update, delete, restore, status,
// responsible, note}_{lead, contact, company} as Kommo lists them, and the customer, task, talk
// and other ones it also has (accepted, never delivered by the emulator).
bool IsWebhookSetting(std::string_view setting);

// INVALID_ARGUMENT for a time scale <= 0 or a timeout or hold below 1 ms (or above an hour).
absl::Status ValidateWebhookOptions(const WebhookOptions& options);

// {"id","destination","created_at","updated_at","account_id","created_by","sort","disabled",
//  "settings":[...]} (Kommo's shape).
void WriteWebhook(JsonWriter& w, const Webhook& webhook);
// The admin API's shapes.
void WriteWebhookFaultRule(JsonWriter& w, uint64_t id, const WebhookFaultRule& rule,
                           uint64_t matched, uint64_t fired);
void WriteWebhookDelivery(JsonWriter& w, const WebhookDelivery& delivery);
void WriteWebhookOptions(JsonWriter& w, const WebhookOptions& options);
// POST /_emulator/webhooks: {"time_scale":0.001,"timeout_ms":2000,"reorder_hold_ms":1000},
// members not given stay as `current` has them.
absl::StatusOr<WebhookOptions> ParseWebhookOptions(std::string_view json,
                                                   const WebhookOptions& current);

class WebhookDispatcher {
 public:
  // `account_url` is the emulator's base URL (account[_links][self]); `access_log`: one stderr
  // line per attempt (delivery id, attempt, status; never the destination or the body).
  WebhookDispatcher(EventLoop* loop, WebhookOptions options, std::string account_url,
                    bool access_log);
  ~WebhookDispatcher();
  WebhookDispatcher(const WebhookDispatcher&) = delete;
  WebhookDispatcher& operator=(const WebhookDispatcher&) = delete;

  // Subscriptions. Subscribe makes a webhook, or replaces the settings (and sort) of the one with
  // this destination and enables it again. The caller checked the settings and the URL.
  const Webhook& Subscribe(const std::string& destination, const LoopbackUrl& url,
                           std::vector<std::string> settings, std::optional<int64_t> sort,
                           int64_t user_id, int64_t now);
  // Removes the webhook; its deliveries not yet sent are dropped. False: no such destination.
  bool Unsubscribe(const std::string& destination);
  const std::vector<Webhook>& webhooks() const { return webhooks_; }

  void Configure(const WebhookOptions& options) { options_ = options; }
  const WebhookOptions& options() const { return options_; }

  uint64_t AddFault(WebhookFaultRule rule);
  bool RemoveFault(uint64_t id);
  void ClearFaults() { faults_.clear(); }
  void WriteFaults(JsonWriter& w) const;  // a JSON array

  // Makes the deliveries of one request's changes (bodies rendered from `store` now) and starts
  // sending them once the current task is done.
  void Dispatch(const std::vector<WebhookChange>& changes, const Store& store);

  // Kept deliveries, oldest first: every unfinished one and the newest 1000 finished ones.
  std::vector<WebhookDelivery> deliveries() const;
  void ClearFinishedDeliveries();

  // No webhooks, deliveries or faults; `options` and `faults` as given. Attempts in flight are
  // forgotten (their answers are ignored).
  void Reset(const WebhookOptions& options, const std::vector<WebhookFaultRule>& faults);

 private:
  struct Delivery {
    WebhookDelivery record;
    bool duplicate_pending = false;  // the duplicate fault: send a copy after the first answer
    bool reorder_pending = false;    // the reorder fault: hold back when its turn comes
    EventLoop::TimerId retry_timer = 0;
  };
  // The deliveries of one webhook: sent one at a time, in queue order.
  struct Lane {
    std::deque<uint64_t> queue;
    bool busy = false;
    std::optional<uint64_t> held;  // the reorder fault's held-back delivery
    EventLoop::TimerId hold_timer = 0;
    std::deque<std::chrono::steady_clock::time_point> failures;  // for the auto-disable rule
  };
  struct FaultState {
    uint64_t id = 0;
    WebhookFaultRule rule;
    uint64_t matched = 0;
    uint64_t fired = 0;
  };

  Webhook* FindWebhook(int64_t id);
  uint64_t NewDelivery(const Webhook& webhook, std::string body, uint64_t duplicate_of);
  void ApplyFaults(const Webhook& webhook, Delivery* delivery);
  void Pump(int64_t webhook_id);
  void PumpSoon(int64_t webhook_id);
  void Send(Delivery* delivery, const Webhook& webhook);
  void OnAnswer(uint64_t delivery_id, const PostResult& result);
  void ReleaseHeld(int64_t webhook_id);
  // Drops what a removed or disabled webhook had waiting.
  void DropLane(int64_t webhook_id);
  std::chrono::milliseconds Scaled(std::chrono::milliseconds delay) const;
  void Prune();

  EventLoop* const loop_;
  WebhookOptions options_;
  const std::string account_url_;
  const bool access_log_;
  std::vector<Webhook> webhooks_;
  int64_t next_webhook_id_ = 1;
  std::vector<FaultState> faults_;
  uint64_t next_fault_id_ = 1;
  std::map<uint64_t, Delivery> deliveries_;
  uint64_t next_delivery_id_ = 1;  // never restarts: late answers of forgotten attempts stay unique
  std::map<int64_t, Lane> lanes_;
  uint64_t generation_ = 0;  // bumped by Reset(): answers of older generations are ignored
};

}  // namespace kommo::emulator

#endif  // KOMMO_EMULATOR_WEBHOOKS_H_
