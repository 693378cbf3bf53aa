// The Kommo API v4 routes of the emulator (/api/v4/...): authentication, routing (404/405),
// list paging and search, the write endpoints with Kommo's validation errors, and lead ↔ contact
// links (/leads/{id}/link, /unlink, /links).
#ifndef KOMMO_EMULATOR_KOMMO_API_H_
#define KOMMO_EMULATOR_KOMMO_API_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "emulator/emulator.h"
#include "emulator/http_message.h"
#include "emulator/store.h"

namespace kommo::emulator {

// application/problem+json in Kommo's shape: {"title","type","status","detail"}.
HttpResponse ProblemResponse(int status, std::string_view detail);

class KommoApi {
 public:
  // `store` and `options` must outlive the KommoApi. `fallback_base_url` ("http://127.0.0.1:PORT")
  // is used in _links when the request has no usable Host header.
  KommoApi(Store* store, const EmulatorOptions* options, std::string fallback_base_url);

  // Answers any request whose path starts with /api/v4 (404 for other paths).
  HttpResponse Handle(const HttpRequest& request);

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
  HttpResponse LinkLead(const Call& call, int64_t id, bool link);
  HttpResponse ListLeadLinks(const Call& call, int64_t id);
  HttpResponse ListContactFields(const Call& call);
  HttpResponse GetContactField(const Call& call, int64_t id);

  int64_t Now() const;

  Store* const store_;
  const EmulatorOptions* const options_;
  const std::string fallback_base_url_;
};

}  // namespace kommo::emulator

#endif  // KOMMO_EMULATOR_KOMMO_API_H_
