// The Kommo API v4 routes of the emulator (/api/v4/...): authentication, routing (404/405),
// list paging and search, the write endpoints with Kommo's validation errors, lead ↔ contact
// links (/leads/{id}/link, /unlink, /links), companies, notes (notes.cc), tasks (tasks.cc), and
// lead capture (/leads/complex and incoming leads, lead_capture.cc), the events list
// (events_api.cc) and webhook subscriptions (webhooks_api.cc).
#ifndef KOMMO_EMULATOR_KOMMO_API_H_
#define KOMMO_EMULATOR_KOMMO_API_H_

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "emulator/changes.h"
#include "emulator/emulator.h"
#include "emulator/events.h"
#include "emulator/http_message.h"
#include "emulator/store.h"
#include "emulator/webhooks.h"

namespace kommo::emulator {

// application/problem+json in Kommo's shape: {"title","type","status","detail"}.
HttpResponse ProblemResponse(int status, std::string_view detail);

class KommoApi {
 public:
  // `store`, `options`, `events` and `webhooks` must outlive the KommoApi. `fallback_base_url`
  // ("http://127.0.0.1:PORT") is used in _links when the request has no usable Host header.
  KommoApi(Store* store, const EmulatorOptions* options, std::string fallback_base_url,
           EventLog* events, WebhookDispatcher* webhooks);

  // Answers any request whose path starts with /api/v4 (404 for other paths). What the request
  // changed is recorded as events and sent as webhook deliveries (Commit).
  HttpResponse Handle(const HttpRequest& request);

  // Records the changes of one request (or admin action) in the events history and hands them
  // to the webhook dispatcher.
  void Commit(const ChangeRecorder& changes);
  int64_t Now() const;

 private:
  struct Call;

  HttpResponse Route(const Call& call);
  HttpResponse GetAccount(const Call& call);
  HttpResponse ListUsers(const Call& call);
  HttpResponse ListPipelines(const Call& call);
  HttpResponse GetPipeline(const Call& call, int64_t pipeline_id);
  HttpResponse ListStatuses(const Call& call, int64_t pipeline_id);
  HttpResponse GetStatus(const Call& call, int64_t pipeline_id, int64_t status_id);
  // Leads and contacts: `Kind` is LeadKind or ContactKind (kommo_api.cc), which says what differs.
  template <typename Kind>
  HttpResponse ListEntities(const Call& call);
  template <typename Kind>
  HttpResponse GetEntity(const Call& call, int64_t id);
  template <typename Kind>
  HttpResponse CreateEntities(const Call& call);
  template <typename Kind>
  HttpResponse UpdateEntities(const Call& call);
  template <typename Kind>
  HttpResponse UpdateEntity(const Call& call, int64_t id);
  // Links (links.cc): POST /{entity}/{id}/link and /unlink, GET /{entity}/{id}/links for leads,
  // contacts and companies; nullopt when the path is not one of them.
  std::optional<HttpResponse> RouteLinks(const Call& call, std::string_view entity_type);
  HttpResponse ChangeLinks(const Call& call, std::string_view entity_type, int64_t id, bool link);
  HttpResponse ListLinks(const Call& call, std::string_view entity_type, int64_t id);
  // The custom-field catalogue of `entity_type` ("leads", "contacts", "companies"): paged like
  // every Kommo list (limit ≤ 250, 204 past the last page), and one field by id (204 if unknown).
  HttpResponse ListFields(const Call& call, std::string_view entity_type);
  HttpResponse GetField(const Call& call, std::string_view entity_type, int64_t id);
  // /leads/loss_reasons and /leads/loss_reasons/{id} (404 if unknown).
  HttpResponse ListLossReasons(const Call& call);
  HttpResponse GetLossReason(const Call& call, int64_t id);
  // /{entity_type}/custom_fields[/{id}]; nullopt when the path is not one.
  std::optional<HttpResponse> RouteFields(const Call& call, std::string_view entity_type);

  // notes.cc: /{entity_type}/notes, /{entity_type}/{id}/notes[/{note_id}]; nullopt when the path
  // is not a notes path.
  std::optional<HttpResponse> RouteNotes(const Call& call, std::string_view entity_type);
  HttpResponse CreateNotes(const Call& call, std::string_view entity_type);
  HttpResponse ListNotes(const Call& call, std::string_view entity_type,
                         std::optional<int64_t> entity_id);
  HttpResponse GetNote(const Call& call, std::string_view entity_type, int64_t entity_id,
                       int64_t note_id);

  // tags_api.cc: GET /{entity_type}/tags; nullopt when the path is not a tags path.
  std::optional<HttpResponse> RouteTags(const Call& call, std::string_view entity_type);
  HttpResponse ListTags(const Call& call, std::string_view entity_type);

  // tasks.cc: /tasks and /tasks/{id}.
  HttpResponse RouteTasks(const Call& call);
  HttpResponse CreateTasks(const Call& call);
  HttpResponse UpdateTasks(const Call& call);
  HttpResponse UpdateTask(const Call& call, int64_t id);
  HttpResponse ListTasks(const Call& call);
  HttpResponse GetTask(const Call& call, int64_t id);

  // lead_capture.cc: POST /leads/complex and /leads/unsorted/...
  HttpResponse CreateComplexLeads(const Call& call);
  HttpResponse RouteUnsorted(const Call& call);
  HttpResponse CreateUnsortedForms(const Call& call);
  HttpResponse ListUnsorted(const Call& call);
  HttpResponse GetUnsorted(const Call& call, std::string_view uid);
  HttpResponse UnsortedSummary(const Call& call);
  HttpResponse AcceptOrDeclineUnsorted(const Call& call, std::string_view uid, bool accept);
  std::string NewUnsortedUid();

  // events_api.cc: GET /events and GET /events/{id}.
  HttpResponse RouteEvents(const Call& call);
  HttpResponse ListEvents(const Call& call);
  HttpResponse GetEvent(const Call& call, std::string_view id);

  // webhooks_api.cc: GET, POST and DELETE /webhooks (account administrators only).
  HttpResponse RouteWebhooks(const Call& call);
  HttpResponse ListWebhooks(const Call& call);
  HttpResponse SubscribeWebhook(const Call& call);
  HttpResponse UnsubscribeWebhook(const Call& call);

  Store* const store_;
  const EmulatorOptions* const options_;
  const std::string fallback_base_url_;
  EventLog* const events_;
  WebhookDispatcher* const webhooks_;
  std::mt19937_64 random_;  // uids of incoming leads
};

}  // namespace kommo::emulator

#endif  // KOMMO_EMULATOR_KOMMO_API_H_
