#ifndef KOMMO_SERVER_MAPPING_LINK_JSON_H_
#define KOMMO_SERVER_MAPPING_LINK_JSON_H_

// JSON ⇄ proto for Kommo's links between entities (POST /{entity}/{id}/link and /unlink,
// GET /{entity}/{id}/links), and the rule of which pairs Kommo links and from which side this
// service writes them. Pure functions.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "kommo/v1/common.pb.h"
#include "kommo/v1/link_service.pb.h"

namespace kommo::mapping {

// One link written to Kommo, from the side it is written on.
struct LinkChange {
  kommo::v1::EntityType entity_type = kommo::v1::ENTITY_TYPE_UNSPECIFIED;
  int64_t entity_id = 0;
  kommo::v1::EntityType to_entity_type = kommo::v1::ENTITY_TYPE_UNSPECIFIED;
  int64_t to_entity_id = 0;
  bool is_main = false;  // lead–contact links only
  bool unlink = false;   // POST .../unlink instead of .../link
};

// The side a pair is written on: a link that involves a lead is the lead's (lead–contact,
// lead–company), a contact–company link is the contact's. Returns the change with its sides
// swapped when the caller named the other side first; nullopt for a pair Kommo does not link
// (same types, or an unspecified type).
std::optional<LinkChange> WrittenSide(const LinkChange& change);

// Kommo's collection name of a type ("leads", "contacts", "companies"); "" for unspecified.
absl::string_view LinkCollection(kommo::v1::EntityType type);

// The JSON array body of POST /{entity}/{id}/link or /unlink for `change`:
// [{"to_entity_id":N,"to_entity_type":"contacts","metadata":{"is_main":true}}] (metadata only
// for a main contact link).
std::string LinkBody(const LinkChange& change);

// `_embedded.links[]` of a link answer or of GET /{entity}/{id}/links, seen from `entity_type`
// `entity_id` (the items' own entity_id/entity_type, when present, must agree; an `entity_id`
// of 0 accepts any). `metadata` may be
// null; `main_contact` in it is the main-contact flag. A link to a type this service does not
// know (Kommo's catalog elements) is left out.
absl::StatusOr<std::vector<kommo::v1::Link>> ParseLinks(absl::string_view body,
                                                        kommo::v1::EntityType entity_type,
                                                        int64_t entity_id);

}  // namespace kommo::mapping

#endif  // KOMMO_SERVER_MAPPING_LINK_JSON_H_
