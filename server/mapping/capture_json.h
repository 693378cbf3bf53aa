#ifndef KOMMO_SERVER_MAPPING_CAPTURE_JSON_H_
#define KOMMO_SERVER_MAPPING_CAPTURE_JSON_H_

// JSON ⇄ proto for the lead-capture endpoints of Kommo's REST API v4: leads with a contact
// (POST /leads/complex), incoming leads (/leads/unsorted), notes (/{entity}/notes) and the
// phones and emails of a contact (PATCH /contacts). The same rules as kommo_json.h: untrusted
// bodies are type-checked, errors name fields and never values.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "google/protobuf/repeated_field.h"
#include "kommo/v1/common.pb.h"
#include "kommo/v1/contact_service.pb.h"
#include "kommo/v1/lead_service.pb.h"
#include "kommo/v1/note_service.pb.h"

namespace kommo::mapping {

// ---- a lead with its contact: POST /api/v4/leads/complex -------------------------------------

struct LeadWithContactItem {
  std::string request_id;
  const kommo::v1::CreateLeadWithContactRequest* request = nullptr;
};

// The JSON array body: per item the lead's fields (0/empty omitted so Kommo applies its
// defaults), `_embedded.contacts` with the one new contact, and the request_id.
std::string LeadsComplexBody(absl::Span<const LeadWithContactItem> items);

struct ComplexResult {
  int64_t lead_id = 0;
  int64_t contact_id = 0;  // 0 when Kommo answered null
  bool merged = false;
};

// Kommo's answer: a bare JSON array `[{id, contact_id, company_id, request_id: ["…"], merged}]`,
// by request_id. A repeated request_id or a missing id is KOMMO_BAD_RESPONSE.
absl::StatusOr<std::map<std::string, ComplexResult>> ParseComplexAnswer(absl::string_view body);

// A validation path of a complex item as the caller's field: lead fields as they are,
// "_embedded.contacts.0.custom_fields_values.0.values.1.value" → "contact.phones[1]" (or emails,
// as they were written), "_embedded.contacts.0.name" → "contact.name".
std::string LeadWithContactFieldFromKommoPath(
    absl::string_view path, const kommo::v1::CreateLeadWithContactRequest& request);

// ---- incoming leads: /api/v4/leads/unsorted -----------------------------------------------------

struct IncomingLeadItem {
  std::string request_id;
  const kommo::v1::CreateIncomingLeadRequest* request = nullptr;
  // Unix seconds the call arrived: form_sent_at when the form did not say.
  int64_t received_at = 0;
};

// The JSON array body of POST /api/v4/leads/unsorted/forms.
std::string UnsortedFormsBody(absl::Span<const IncomingLeadItem> items);

struct UnsortedResult {
  std::string uid;
  int64_t lead_id = 0;
  int64_t contact_id = 0;  // 0 without a contact
};

// The answer of POST /leads/unsorted/forms: `_embedded.unsorted[{uid, request_id, _embedded:
// {leads: [{id}], contacts: [{id}]}}]`, by request_id.
absl::StatusOr<std::map<std::string, UnsortedResult>> ParseUnsortedAnswer(absl::string_view body);

// The answer of POST /leads/unsorted/{uid}/accept or /decline: `{uid, _embedded: {leads: [{id}],
// contacts: [...]}}`.
absl::StatusOr<UnsortedResult> ParseUnsortedActionAnswer(absl::string_view body);

// The bodies of accept (`{"user_id", "status_id"}`, each when set) and decline (`{"user_id"}`).
std::string AcceptBody(const kommo::v1::AcceptIncomingLeadRequest& request);
std::string DeclineBody(const kommo::v1::DeclineIncomingLeadRequest& request);

struct IncomingLeadPage {
  std::vector<kommo::v1::IncomingLead> incoming_leads;
  bool has_next = false;
};
// A 200 body of GET /api/v4/leads/unsorted.
absl::StatusOr<IncomingLeadPage> ParseIncomingLeadPage(absl::string_view body);

// A validation path of a forms item as the caller's field: "metadata.form_id" → "form.form_id",
// "_embedded.leads.0.name" → "lead_name", "_embedded.contacts.0.…" → "contact.…".
std::string IncomingLeadFieldFromKommoPath(absl::string_view path,
                                           const kommo::v1::CreateIncomingLeadRequest& request);

// ---- notes: /api/v4/{leads|contacts|companies}/notes -------------------------------------------

struct NoteCreateItem {
  std::string request_id;
  const kommo::v1::AddNoteRequest* request = nullptr;
};

// The JSON array body: a "common" note (params.text), or a "service_message" (params.service and
// params.text) when the request names a service.
std::string NotesCreateBody(absl::Span<const NoteCreateItem> items);

struct NotePage {
  std::vector<kommo::v1::Note> notes;
  bool has_next = false;
};
// A 200 body of GET /api/v4/{entity}/notes; `type` is the entity kind the list is about.
absl::StatusOr<NotePage> ParseNotePage(absl::string_view body, kommo::v1::EntityType type);

// "entity_id" → "entity_id", "params.text" → "text", "params.service" → "service".
std::string NoteFieldFromKommoPath(absl::string_view path);

}  // namespace kommo::mapping

#endif  // KOMMO_SERVER_MAPPING_CAPTURE_JSON_H_
