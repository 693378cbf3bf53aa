#ifndef KOMMO_SERVER_MAPPING_KOMMO_JSON_INTERNAL_H_
#define KOMMO_SERVER_MAPPING_KOMMO_JSON_INTERNAL_H_

// Pieces of the Kommo mapping shared by its files (private to server/mapping).

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/repeated_field.h"
#include "kommo/v1/contact.pb.h"
#include "kommo/v1/lead.pb.h"
#include "server/common/status_macros.h"
#include "server/mapping/json_reader.h"
#include "server/mapping/json_writer.h"

namespace kommo::mapping::internal {

// A lead or contact object as Kommo sends it in GET answers.
absl::StatusOr<kommo::v1::Lead> ReadLead(const ObjectReader& object);
absl::StatusOr<kommo::v1::Contact> ReadContact(const ObjectReader& object);

// A write result's request_id: a string, an integer, or an array holding one of those.
absl::StatusOr<std::string> ReadRequestId(const ObjectReader& item);

// A contact's name fields and its PHONE and EMAIL custom fields (work), each only when not empty.
void WriteContactFields(JsonWriter& json, absl::string_view name, absl::string_view first_name,
                        absl::string_view last_name,
                        const google::protobuf::RepeatedPtrField<std::string>& phones,
                        const google::protobuf::RepeatedPtrField<std::string>& emails);

// "custom_fields_values": the PHONE and EMAIL entries (work values) for the lists that are
// given (an empty list is written as values null, which clears the field), then `custom_fields`;
// nothing when there is none of them.
void WriteContactCustomFields(
    JsonWriter& json, const google::protobuf::RepeatedPtrField<std::string>* phones,
    const google::protobuf::RepeatedPtrField<std::string>* emails,
    const google::protobuf::RepeatedPtrField<kommo::v1::CustomFieldValues>& custom_fields);

template <typename Entity>
struct Page {
  std::vector<Entity> items;
  bool has_next = false;
};

// A HAL list body: `_embedded.<collection>[]` read with `read`, and whether `_links.next` exists.
template <typename Entity, typename Read>
absl::StatusOr<Page<Entity>> ParseListBody(absl::string_view body, const char* collection,
                                           Read&& read) {
  rapidjson::Document document;
  RETURN_IF_ERROR(internal::ParseBody(body, document));
  ASSIGN_OR_RETURN(const ObjectReader root, ObjectReader::Make(document, ""));
  Page<Entity> page;

  ASSIGN_OR_RETURN(const std::optional<ObjectReader> links, root.Object("_links"));
  if (links.has_value()) {
    ASSIGN_OR_RETURN(const std::optional<ObjectReader> next, links->Object("next"));
    page.has_next = next.has_value();
  }

  ASSIGN_OR_RETURN(const std::optional<ObjectReader> embedded, root.Object("_embedded"));
  if (!embedded.has_value()) return page;
  ASSIGN_OR_RETURN(const std::optional<ArrayReader> items, embedded->Array(collection));
  if (!items.has_value()) return page;
  page.items.reserve(items->size());
  for (size_t i = 0; i < items->size(); ++i) {
    ASSIGN_OR_RETURN(const ObjectReader item, items->ObjectAt(i));
    ASSIGN_OR_RETURN(Entity entity, read(item));
    page.items.push_back(std::move(entity));
  }
  return page;
}

}  // namespace kommo::mapping::internal

#endif  // KOMMO_SERVER_MAPPING_KOMMO_JSON_INTERNAL_H_
