// The emulator's state on its loop thread: the HTTP server, the Kommo API, the store, the events
// history, the webhook dispatcher, the fault rules, the rate limit and block, and the request log.
// Emulator (emulator.h) is the thread-safe face of it; the admin API (admin_api.cc) is its HTTP
// face.
#ifndef KOMMO_EMULATOR_EMULATOR_IMPL_H_
#define KOMMO_EMULATOR_EMULATOR_IMPL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "emulator/emulator.h"
#include "emulator/event_loop.h"
#include "emulator/events.h"
#include "emulator/faults.h"
#include "emulator/http_server.h"
#include "emulator/kommo_api.h"
#include "emulator/request_log.h"
#include "emulator/store.h"
#include "emulator/webhooks.h"

namespace kommo::emulator {

class EmulatorImpl {
 public:
  EmulatorImpl(EmulatorOptions options, std::unique_ptr<EventLoop> loop);

  absl::Status Listen();

  EventLoop* loop() { return loop_.get(); }
  int port() const { return server_->port(); }
  const std::string& base_url() const { return base_url_; }
  void CloseServer() { server_.reset(); }

  // Test controls; loop thread only (Emulator posts them there).
  Store& store() { return store_; }
  FaultSet& faults() { return faults_; }
  AccountGuard& guard() { return guard_; }
  RequestLog& log() { return log_; }
  EventLog& events() { return events_; }
  WebhookDispatcher& webhooks() { return *webhooks_; }
  KommoApi& api() { return *api_; }
  // Moves an entity to the trash or back (Emulator::DeleteEntity), recording it like Kommo.
  absl::Status DeleteOrRestore(std::string_view entity_type, int64_t id, bool restore);
  // Data, faults, rate limit, block and log as Start() left them.
  void ResetAll();

 private:
  // /_emulator/events, /_emulator/webhooks[/faults|/deliveries] and
  // /_emulator/{entity}/{id}/{delete|restore} (admin_api.cc).
  HttpResponse HandleEventsAdmin(const HttpRequest& request, const std::string& what);
  HttpResponse HandleWebhooksAdmin(const HttpRequest& request, const std::string& what);

  // The one place every request passes, in this order: admin API (never faulted or logged) →
  // request log → block → rate limit → fault rules (latency waits on a loop timer) → the Kommo API
  // and the fault's way of answering.
  void OnRequest(HttpRequest request, Responder responder);
  void Answer(const HttpRequest& request, const Responder& responder, const FaultDecision& decision,
              uint64_t sequence);
  void Finish(const HttpRequest& request, const Responder& responder, HttpResponse response,
              uint64_t sequence, RequestOutcome outcome);
  void AccessLog(const HttpRequest& request, int status, std::string_view fault) const;

  // /_emulator/... (admin_api.cc).
  HttpResponse HandleAdmin(const HttpRequest& request);
  absl::Status SetDuplicateControl(const std::string& body);

  EmulatorOptions options_;
  std::unique_ptr<EventLoop> loop_;
  Store store_;
  FaultSet faults_;
  AccountGuard guard_;
  RequestLog log_;
  EventLog events_;
  std::unique_ptr<WebhookDispatcher> webhooks_;  // made by Listen(): it needs the base URL
  std::unique_ptr<HttpServer> server_;
  std::unique_ptr<KommoApi> api_;
  std::string base_url_;
  uint64_t requests_total_ = 0;
};

}  // namespace kommo::emulator

#endif  // KOMMO_EMULATOR_EMULATOR_IMPL_H_
