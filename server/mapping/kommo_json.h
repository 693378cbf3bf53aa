#ifndef KOMMO_SERVER_MAPPING_KOMMO_JSON_H_
#define KOMMO_SERVER_MAPPING_KOMMO_JSON_H_

// JSON ⇄ proto for Kommo's REST API v4 (leads, contacts, write results, problem+json bodies).
//
// Pure functions, no I/O. Kommo's bodies are untrusted: every field read is type-checked; unknown
// fields are ignored, `null` is accepted wherever Kommo documents a nullable field, and a body
// that is not what Kommo documents yields INTERNAL with ErrorInfo reason KOMMO_BAD_RESPONSE and a
// message naming the field (never the field's value: bodies hold contact data). Ids are int64.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "kommo/v1/contact_service.pb.h"
#include "kommo/v1/lead_service.pb.h"

namespace kommo::mapping {

// ---- leads --------------------------------------------------------------------------------------

// One item of a POST /api/v4/leads batch. `request_id` is echoed back by Kommo and is how results
// are matched to items (never by position).
struct LeadCreateItem {
  std::string request_id;
  const kommo::v1::CreateLeadRequest* request = nullptr;
};

// The JSON array body of POST /api/v4/leads. Fields that are 0/empty in the request are omitted so
// that Kommo applies its defaults; contact_ids become `_embedded.contacts[{"id":N}]` (the first one
// with "is_main": true). An empty request_id is omitted (Kommo then echoes the item's position); a
// null `request` is written as an empty item.
std::string LeadsCreateBody(absl::Span<const LeadCreateItem> items);

// One item of a PATCH /api/v4/leads batch.
struct LeadUpdateItem {
  std::string request_id;
  const kommo::v1::UpdateLeadRequest* request = nullptr;
};

// The JSON array body of PATCH /api/v4/leads: per item its "id" (lead_id), exactly the fields
// present, and its "request_id".
std::string LeadsUpdateBody(absl::Span<const LeadUpdateItem> items);

// A lead object (GET /api/v4/leads/{id}, with or without with=contacts). A timestamp that is null,
// absent or 0 stays unset; "id" must be a positive JSON integer.
absl::StatusOr<kommo::v1::Lead> ParseLead(absl::string_view body);

struct LeadPage {
  std::vector<kommo::v1::Lead> leads;
  bool has_next = false;  // `_links.next` is present
};
// A 200 body of GET /api/v4/leads (`_embedded.leads`, `_links.next`). A missing `_embedded.leads`
// is an empty page, not an error.
absl::StatusOr<LeadPage> ParseLeadPage(absl::string_view body);

// Maps the `path` of a Kommo validation error on a lead create/update item to the field of our
// request: "price" → "price", "_embedded.contacts.1.id" → "contact_ids[1]", "id" → "lead_id"; a
// path it does not know is returned unchanged; an empty path becomes "".
std::string LeadFieldFromKommoPath(absl::string_view path);

// ---- contacts -----------------------------------------------------------------------------------

struct ContactCreateItem {
  std::string request_id;
  const kommo::v1::CreateContactRequest* request = nullptr;
};

// The JSON array body of POST /api/v4/contacts. Phones and emails go to the multitext custom
// fields `{"field_code":"PHONE","values":[{"value":...,"enum_code":"WORK"}]}` (PHONE entry first,
// then EMAIL, each only when non-empty).
std::string ContactsCreateBody(absl::Span<const ContactCreateItem> items);

// A contact object (GET /api/v4/contacts/{id}). Phones/emails come from the custom field entries
// whose field_code is PHONE/EMAIL; each value's `value` may be a string or a number.
absl::StatusOr<kommo::v1::Contact> ParseContact(absl::string_view body);

struct ContactPage {
  std::vector<kommo::v1::Contact> contacts;
  bool has_next = false;
};
// A 200 body of GET /api/v4/contacts.
absl::StatusOr<ContactPage> ParseContactPage(absl::string_view body);

// Maps a Kommo validation path on a contact create item to our request field, given the request
// that was sent (to know where PHONE and EMAIL landed in custom_fields_values):
// "custom_fields_values.1.values.2.value" → "emails[2]" when phones were sent first, entries
// after PHONE and EMAIL → "custom_fields[i]..." (custom_fields_json.h), "tags_to_add.0" →
// "tags_to_add[0]", "responsible_user_id" → "responsible_user_id"; unknown paths are returned
// unchanged.
std::string ContactFieldFromKommoPath(absl::string_view path,
                                      const kommo::v1::CreateContactRequest& request);

// One item of a PATCH /api/v4/contacts batch.
struct ContactUpdateItem {
  std::string request_id;
  const kommo::v1::UpdateContactRequest* request = nullptr;
};

// The JSON array body of PATCH /api/v4/contacts: per item its "id" (contact_id) and exactly the
// fields present. phones and emails, when set, become the PHONE and EMAIL entries of
// custom_fields_values (work values; set with no values: `"values": null`, which clears them),
// before the request's custom_fields; tags as tags_to_add / tags_to_delete.
std::string ContactsUpdateBody(absl::Span<const ContactUpdateItem> items);

// ContactFieldFromKommoPath for an update item: "id" → "contact_id", the PHONE and EMAIL entries
// → "phones.values[i]" / "emails.values[i]", later entries → "custom_fields[i]...".
std::string ContactUpdateFieldFromKommoPath(absl::string_view path,
                                            const kommo::v1::UpdateContactRequest& request);

// ---- write results ------------------------------------------------------------------------------

// The 200 body of POST /api/v4/{entity} (entity is "leads" or "contacts"):
// `_embedded.<entity>[{id, request_id}]` → map request_id → id. request_id may be a string or a
// number in the body; both are keyed as their decimal string. A missing `_embedded.<entity>`, a
// missing id or request_id, or a repeated request_id is KOMMO_BAD_RESPONSE.
absl::StatusOr<std::map<std::string, int64_t>> ParseCreatedIds(absl::string_view body,
                                                               absl::string_view entity);

// ---- errors -------------------------------------------------------------------------------------

struct ValidationError {
  std::string request_id;  // the batch item it concerns ("" when absent)
  std::string code;        // "InvalidType", "NotSupportedChoice", ...
  std::string path;        // dot path into the item, e.g. "custom_fields_values.0.field_id"
  std::string detail;
};

// A problem+json body (RFC 7807 as Kommo sends it).
struct Problem {
  int status = 0;
  std::string title;
  std::string type;
  std::string detail;
  std::string hint;                                // OAuth problems
  std::string trace_id;                            // 500s
  std::optional<int64_t> retry_after_seconds;      // 429 `retry_after`
  std::vector<ValidationError> validation_errors;  // `validation-errors`, flattened
};

// Parses a problem+json body. Returns nullopt when `body` is not a JSON object (an HTML gateway
// page, an empty body, garbage); members of unexpected types are skipped, never fatal.
std::optional<Problem> ParseProblem(absl::string_view body);

}  // namespace kommo::mapping

#endif  // KOMMO_SERVER_MAPPING_KOMMO_JSON_H_
