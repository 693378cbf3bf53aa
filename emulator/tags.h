// Tags of leads, contacts and companies: one reader of the tag members of a write for the three
// entity types, and the renderer of an entity's tags.
//
// A write names tags as [{"name": "..."}] or [{"id": N}] in three members:
// - tags_to_add: adds them (a new name makes a new tag of that entity type when the entity is
//   saved);
// - tags_to_delete (updates only): removes them; a name the entity does not carry is ignored;
// - _embedded.tags: on create, adds them; on update, they replace every tag the entity had
//   (null or [] detaches all).
// On update, _embedded.tags is applied first, then tags_to_add, then tags_to_delete.
// Errors (code, path): NotSupportedChoice for an id that is not a tag of that entity type
// ("tags_to_add.0.id"), NotBlank for an entry with neither id nor a non-blank name, InvalidType
// for wrong JSON types.
#ifndef KOMMO_EMULATOR_TAGS_H_
#define KOMMO_EMULATOR_TAGS_H_

#include <string>
#include <vector>

#include "emulator/render.h"
#include "emulator/store.h"
#include "emulator/writes.h"

namespace kommo::emulator {

enum class TagWrite { kCreate, kUpdate };

// What one write says about an entity's tags, as names.
struct TagUpdate {
  bool replace = false;  // the tags become `replacement` before `add` and `remove` apply
  std::vector<std::string> replacement;
  std::vector<std::string> add;
  std::vector<std::string> remove;
};

// Reads tags_to_add, tags_to_delete and `_embedded.tags` of the item `reader` reads, naming tags
// of `catalogue`. An `_embedded` that is not an object is left to the caller to report.
TagUpdate ReadTagUpdate(const TagCatalogue& catalogue, ItemReader& reader, TagWrite write);

// Applies `update` to an entity's tag names (no name twice, in the order added).
void ApplyTagUpdate(const TagUpdate& update, std::vector<std::string>* tags);

// "tags":[{id, name, color:null}] for the names in `tags` (writes the key too).
void WriteTags(JsonWriter& w, const TagCatalogue& catalogue, const std::vector<std::string>& tags);

}  // namespace kommo::emulator

#endif  // KOMMO_EMULATOR_TAGS_H_
