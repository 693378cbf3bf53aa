#include "server/mapping/link_json.h"

#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/mapping/kommo_json_internal.h"

namespace kommo::mapping {
namespace {

using internal::ArrayReader;
using internal::BadResponse;
using internal::JsonWriter;
using internal::MemberPath;
using internal::ObjectReader;
using kommo::v1::EntityType;
using kommo::v1::Link;

EntityType TypeOfCollection(absl::string_view collection) {
  if (collection == "leads") return v1::ENTITY_TYPE_LEAD;
  if (collection == "contacts") return v1::ENTITY_TYPE_CONTACT;
  if (collection == "companies") return v1::ENTITY_TYPE_COMPANY;
  return v1::ENTITY_TYPE_UNSPECIFIED;
}

// The rank of the side a link is written on: leads first, then contacts.
int Rank(EntityType type) {
  switch (type) {
    case v1::ENTITY_TYPE_LEAD:
      return 0;
    case v1::ENTITY_TYPE_CONTACT:
      return 1;
    case v1::ENTITY_TYPE_COMPANY:
      return 2;
    default:
      return -1;
  }
}

}  // namespace

absl::string_view LinkCollection(EntityType type) {
  switch (type) {
    case v1::ENTITY_TYPE_LEAD:
      return "leads";
    case v1::ENTITY_TYPE_CONTACT:
      return "contacts";
    case v1::ENTITY_TYPE_COMPANY:
      return "companies";
    default:
      return "";
  }
}

std::optional<LinkChange> WrittenSide(const LinkChange& change) {
  const int from = Rank(change.entity_type);
  const int to = Rank(change.to_entity_type);
  if (from < 0 || to < 0 || from == to) return std::nullopt;
  if (from < to) return change;
  LinkChange swapped = change;
  swapped.entity_type = change.to_entity_type;
  swapped.entity_id = change.to_entity_id;
  swapped.to_entity_type = change.entity_type;
  swapped.to_entity_id = change.entity_id;
  return swapped;
}

std::string LinkBody(const LinkChange& change) {
  JsonWriter json;
  json.StartArray();
  json.StartObject();
  json.Member("to_entity_id", change.to_entity_id);
  json.Member("to_entity_type", LinkCollection(change.to_entity_type));
  if (!change.unlink && change.is_main) {
    json.Key("metadata");
    json.StartObject();
    json.Key("is_main");
    json.Bool(true);
    json.EndObject();
  }
  json.EndObject();
  json.EndArray();
  return json.Take();
}

absl::StatusOr<std::vector<Link>> ParseLinks(absl::string_view body, EntityType entity_type,
                                             int64_t entity_id) {
  return internal::GuardJson([&]() -> absl::StatusOr<std::vector<Link>> {
    rapidjson::Document document;
    RETURN_IF_ERROR(internal::ParseBody(body, document));
    ASSIGN_OR_RETURN(const ObjectReader root, ObjectReader::Make(document, ""));
    std::vector<Link> links;
    ASSIGN_OR_RETURN(const std::optional<ObjectReader> embedded, root.Object("_embedded"));
    if (!embedded.has_value()) return links;
    ASSIGN_OR_RETURN(const std::optional<ArrayReader> items, embedded->Array("links"));
    if (!items.has_value()) return links;
    for (size_t i = 0; i < items->size(); ++i) {
      ASSIGN_OR_RETURN(const ObjectReader item, items->ObjectAt(i));
      ASSIGN_OR_RETURN(const int64_t own_id, item.Int64("entity_id"));
      if (entity_id != 0 && own_id != 0 && own_id != entity_id) {
        return BadResponse(MemberPath(item.path(), "entity_id"), "names another entity");
      }
      ASSIGN_OR_RETURN(const std::string own_type, item.String("entity_type"));
      if (!own_type.empty() && TypeOfCollection(own_type) != entity_type) {
        return BadResponse(MemberPath(item.path(), "entity_type"), "names another entity type");
      }
      ASSIGN_OR_RETURN(const int64_t to_id, item.RequiredId("to_entity_id"));
      ASSIGN_OR_RETURN(const std::string to_type, item.String("to_entity_type"));
      const EntityType to = TypeOfCollection(to_type);
      if (to == v1::ENTITY_TYPE_UNSPECIFIED) continue;  // catalog elements and the like
      Link link;
      link.set_entity_type(entity_type);
      link.set_entity_id(entity_id);
      link.set_to_entity_type(to);
      link.set_to_entity_id(to_id);
      const rapidjson::Value* metadata = item.Find("metadata");
      if (metadata != nullptr && metadata->IsObject()) {
        ASSIGN_OR_RETURN(const std::optional<ObjectReader> meta, item.Object("metadata"));
        ASSIGN_OR_RETURN(const bool main_contact, meta->Bool("main_contact"));
        link.set_is_main(main_contact);
      } else if (metadata != nullptr && !metadata->IsNull() && !metadata->IsArray()) {
        return BadResponse(MemberPath(item.path(), "metadata"), "is not an object");
      }
      links.push_back(std::move(link));
    }
    return links;
  });
}

}  // namespace kommo::mapping
