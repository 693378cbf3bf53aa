#ifndef KOMMO_SERVER_KOMMO_ENTITIES_H_
#define KOMMO_SERVER_KOMMO_ENTITIES_H_

// Kommo entities as descriptions (design.md §11): what differs between leads, contacts and the
// entities to come is their paths, their JSON mapping and their error reasons, never how they are
// batched, read back, shared or retried. The generic machinery (write_batcher.h, shared_reads.h,
// kommo_client.cc) takes these. A new entity is a description here, its mapping in
// server/mapping/, and its tests.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "kommo/v1/contact_service.pb.h"
#include "kommo/v1/lead_service.pb.h"
#include "server/http/http_transport.h"
#include "server/kommo/error_table.h"

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

// One kind of write to an entity's collection (a batch endpoint: POST or PATCH /{plural}).
template <typename Request, typename Entity>
struct WriteDescription {
  http::Method method = http::Method::kPost;
  RequestKind kind = RequestKind::kCreate;
  std::string what;  // "POST /leads": messages and metrics
  // The entity an update writes: writes to one entity are sent one at a time, in order.
  // Null for creates.
  std::function<int64_t(const Request&)> target;
  // The batch body for items (request_id, request).
  std::function<std::string(const std::vector<std::pair<std::string, const Request*>>&)> body;
  // Maps a Kommo validation path of an item to the caller's field name.
  std::function<std::string(absl::string_view path, const Request&)> field;
  // Creates: whether `entity`, found created after a rejected batch was sent, could be this
  // request's item (then it is not sent again: the outcome is unknown).
  std::function<bool(const Entity&, const Request&)> could_be;
};

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

WriteDescription<kommo::v1::CreateLeadRequest, kommo::v1::Lead> LeadCreate();
WriteDescription<kommo::v1::UpdateLeadRequest, kommo::v1::Lead> LeadUpdate();
WriteDescription<kommo::v1::CreateContactRequest, kommo::v1::Contact> ContactCreate();

}  // namespace kommo::rest

#endif  // KOMMO_SERVER_KOMMO_ENTITIES_H_
