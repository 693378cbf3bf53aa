#ifndef KOMMO_SERVER_KOMMO_ENTITIES_H_
#define KOMMO_SERVER_KOMMO_ENTITIES_H_

// Kommo entities as descriptions (design.md §11): what differs between leads, contacts and the
// entities to come is their paths, their JSON mapping and their error reasons, never how they are
// batched, read back, shared or retried. The generic machinery (write_batcher.h, shared_reads.h,
// kommo_client.cc) takes these. A new entity is a description here, its mapping in
// server/mapping/, and its tests.

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/field_mask.pb.h"
#include "kommo/v1/account.pb.h"
#include "kommo/v1/common.pb.h"
#include "kommo/v1/company_service.pb.h"
#include "kommo/v1/contact_service.pb.h"
#include "kommo/v1/lead_service.pb.h"
#include "kommo/v1/link_service.pb.h"
#include "kommo/v1/note_service.pb.h"
#include "kommo/v1/task_service.pb.h"
#include "server/http/http_transport.h"
#include "server/kommo/error_table.h"
#include "server/mapping/capture_json.h"
#include "server/mapping/event_json.h"
#include "server/mapping/kommo_json.h"
#include "server/mapping/link_json.h"
#include "server/mapping/task_json.h"

namespace kommo::rest {

template <typename Entity>
struct EntityPage {
  std::vector<Entity> items;
  bool has_next = false;
};

// How one kind of entity is read.
template <typename Entity>
struct EntityDescription {
  std::string singular;  // "lead": messages, metadata keys ("lead_id")
  std::string plural;    // "leads": the collection path and the `_embedded` key of answers
  std::string with;      // the `with=` every read asks for ("contacts"), or ""
  absl::string_view not_found_reason;
  std::function<absl::StatusOr<Entity>(absl::string_view body)> parse;
  std::function<absl::StatusOr<EntityPage<Entity>>(absl::string_view body)> parse_page;
};

// What Kommo's answer to a write says about one item.
struct Written {
  int64_t id = 0;          // the entity written (for an incoming lead: its lead)
  std::string uid;         // an incoming lead's uid
  int64_t contact_id = 0;  // the contact created or merged with it (complex creates, forms)
  bool merged = false;     // Kommo's duplicate control merged the contact into an existing one
  kommo::v1::Link link;    // a link write: the link as Kommo answered it (empty for an unlink)
};

// Kommo's answer to a write, by the request_id of each item.
using WrittenItems = std::map<std::string, Written>;

// One kind of write (a batch endpoint such as POST or PATCH /{plural}, or an action on one entity
// such as POST /leads/unsorted/{uid}/accept).
template <typename Request, typename Entity>
struct WriteDescription {
  http::Method method = http::Method::kPost;
  RequestKind kind = RequestKind::kCreate;
  std::string what;  // "POST /leads": messages and metrics
  // The endpoint; empty means "/{plural}" of the entity.
  std::string path;
  // An action on one entity: the endpoint of `request` (each batch then holds one item).
  std::function<std::string(const Request&)> path_of;
  // Most items per Kommo request for this endpoint; 0 means the batcher's setting.
  int max_items = 0;
  // The reason for NOT_FOUND when Kommo does not know the entity written; empty: the entity's.
  absl::string_view not_found_reason;
  // Kommo's 2xx answer, by request_id. `request_ids` are the batch's, in order (an action's
  // answer names none: its one item is request_ids[0]). Null means `_embedded.{plural}[{id,
  // request_id}]`.
  std::function<absl::StatusOr<WrittenItems>(absl::string_view body,
                                             const std::vector<std::string>& request_ids)>
      answer;
  // A validation error that says the entity the item writes to does not exist (an unknown lead
  // for a note): the NOT_FOUND to answer; nullopt when it says something else. May be null.
  std::function<std::optional<absl::Status>(const mapping::ValidationError&, const Request&)>
      missing;
  // The list filter that finds what was created since a time, for ruling out creates after a
  // rejection ("filter[created_at][from]" when empty).
  std::string created_since_filter;
  // Kommo may answer 204 with no body (an unlink): `answer` is then called with an empty body.
  bool no_content_answer = false;
  // The entity an update writes: writes to one entity are sent one at a time, in order.
  // Null for creates.
  std::function<int64_t(const Request&)> target;
  // The batch body for items (request_id, request).
  std::function<std::string(const std::vector<std::pair<std::string, const Request*>>&)> body;
  // Maps a Kommo validation path of an item to the caller's field name.
  std::function<std::string(absl::string_view path, const Request&)> field;
  // Creates: whether `entity`, found created after a rejected batch was sent, could be this
  // request's item (then it is not sent again: the outcome is unknown). Null: what was created
  // cannot be read as an Entity, so an unnamed item of a rejected batch has an unknown outcome.
  std::function<bool(const Entity&, const Request&)> could_be;
  // The answer to an item whose caller asks only for what the write itself determines (its
  // read_mask names only "id"): built from Kommo's answer, with no read-back; nullopt when the
  // item needs its read-back. Null: every item is read back. A batch may mix both kinds.
  std::function<std::optional<Entity>(const Request&, const Written&)> unread;
};

// Whether a read_mask asks only for fields a write determines without reading the entity back:
// "id" (the id Kommo answered for a create, the id written for an update). Empty: no.
bool OnlyWriteDetermined(const google::protobuf::FieldMask& mask);
// The same for a write whose answer determines the fields `determined` (paths of the message the
// mask is over, such as "lead.id" of a CreateLeadWithContactResponse).
bool OnlyWriteDetermined(const google::protobuf::FieldMask& mask,
                         std::initializer_list<absl::string_view> determined);

// WriteDescription::unread for a request with a read_mask and an entity with an id.
template <typename Request, typename Entity>
std::optional<Entity> IdOnlyAnswer(const Request& request, const Written& written) {
  if (!OnlyWriteDetermined(request.read_mask())) return std::nullopt;
  Entity entity;
  entity.set_id(written.id);
  return entity;
}

// The id an entity is known by in messages and read-backs (a composite's lead id).
template <typename Entity>
int64_t IdOf(const Entity& entity) {
  return entity.id();
}
inline int64_t IdOf(const kommo::v1::CreateLeadWithContactResponse& entity) {
  return entity.lead().id();
}
inline int64_t IdOf(const kommo::v1::IncomingLead& entity) { return entity.lead_id(); }
inline int64_t IdOf(const kommo::v1::DeclineIncomingLeadResponse&) { return 0; }
inline int64_t IdOf(const kommo::v1::Link& link) { return link.entity_id(); }

// What a list request about `entity` answered (through the error table): the page, an empty page
// for "nothing matches", or the error.
template <typename Entity>
absl::StatusOr<EntityPage<Entity>> PageOf(const EntityDescription<Entity>& entity,
                                          const absl::StatusOr<http::HttpResponse>& response,
                                          const ErrorContext& context) {
  if (!response.ok()) return response.status();
  absl::StatusOr<std::optional<absl::string_view>> body = AnswerBody(*response, context);
  if (!body.ok()) return body.status();
  if (!body->has_value()) return EntityPage<Entity>{};
  return entity.parse_page(**body);
}

const EntityDescription<kommo::v1::Lead>& LeadEntity();
const EntityDescription<kommo::v1::Contact>& ContactEntity();
// A lead created with its contact: written as one, read back as a lead and a contact.
const EntityDescription<kommo::v1::CreateLeadWithContactResponse>& LeadWithContactEntity();
const EntityDescription<kommo::v1::IncomingLead>& IncomingLeadEntity();
// What a declined incoming lead leaves: its uid.
const EntityDescription<kommo::v1::DeclineIncomingLeadResponse>& DeclinedIncomingLeadEntity();
// The notes of one kind of entity (leads, contacts or companies): /{plural}/notes.
const EntityDescription<kommo::v1::Note>& NoteEntity(kommo::v1::EntityType type);

// Kommo's collection of an entity type ("leads", "contacts", "companies"); "" for unspecified.
absl::string_view CollectionOf(kommo::v1::EntityType type);

WriteDescription<kommo::v1::CreateLeadRequest, kommo::v1::Lead> LeadCreate();
WriteDescription<kommo::v1::UpdateLeadRequest, kommo::v1::Lead> LeadUpdate();
WriteDescription<kommo::v1::CreateContactRequest, kommo::v1::Contact> ContactCreate();
// PATCH /contacts: UpdateContact, and FindOrCreateContact's added phones and emails.
WriteDescription<kommo::v1::UpdateContactRequest, kommo::v1::Contact> ContactUpdate();
WriteDescription<kommo::v1::CreateLeadWithContactRequest, kommo::v1::CreateLeadWithContactResponse>
LeadWithContactCreate();
WriteDescription<kommo::v1::CreateIncomingLeadRequest, kommo::v1::IncomingLead>
IncomingLeadCreate();
WriteDescription<kommo::v1::AcceptIncomingLeadRequest, kommo::v1::Lead> IncomingLeadAccept();
WriteDescription<kommo::v1::DeclineIncomingLeadRequest, kommo::v1::DeclineIncomingLeadResponse>
IncomingLeadDecline();
WriteDescription<kommo::v1::AddNoteRequest, kommo::v1::Note> NoteCreate(kommo::v1::EntityType type);

// ---- The account's catalogues (AccountService): read-only, kept by the client (catalogue.h) ----

// GET /account with the `with=` the mapping reads (parse only; it is not a list).
const EntityDescription<kommo::v1::Account>& AccountEntity();
// GET /leads/pipelines: pipelines with their stages.
const EntityDescription<kommo::v1::Pipeline>& PipelineEntity();
// GET /users.
const EntityDescription<kommo::v1::User>& UserEntity();
// GET /{leads|contacts|companies}/custom_fields; the lead's for an unspecified type.
const EntityDescription<kommo::v1::CustomField>& CustomFieldEntity(kommo::v1::EntityType type);
// GET /leads/loss_reasons.
const EntityDescription<kommo::v1::LossReason>& LossReasonEntity();

// Tasks (/tasks): created in batches, completed with PATCH /tasks one write per task at a time.
const EntityDescription<kommo::v1::Task>& TaskEntity();
WriteDescription<kommo::v1::CreateTaskRequest, kommo::v1::Task> TaskCreate();
WriteDescription<kommo::v1::CompleteTaskRequest, kommo::v1::Task> TaskComplete();

// Companies (/companies): created and updated in batches like contacts.
const EntityDescription<kommo::v1::Company>& CompanyEntity();
WriteDescription<kommo::v1::CreateCompanyRequest, kommo::v1::Company> CompanyCreate();
WriteDescription<kommo::v1::UpdateCompanyRequest, kommo::v1::Company> CompanyUpdate();

// Kommo's events (GET /events): read only, by the change stream's poller (server/watch).
const EntityDescription<mapping::KommoEvent>& EventEntity();

// Links written on the side of `type` (leads or contacts; mapping::WrittenSide): POST
// /{plural}/{id}/link or /unlink, one request per change, changes to one entity one at a time
// in order. An unknown entity of that side is NOT_FOUND with its reason; an unknown entity on the
// other side (Kommo's validation error on to_entity_id) is NOT_FOUND with that entity's reason.
const EntityDescription<kommo::v1::Link>& LinkEntity(kommo::v1::EntityType type);
WriteDescription<mapping::LinkChange, kommo::v1::Link> LinkWrite(kommo::v1::EntityType type);

}  // namespace kommo::rest

#endif  // KOMMO_SERVER_KOMMO_ENTITIES_H_
