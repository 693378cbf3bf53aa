#include "emulator/tags.h"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "emulator/text.h"
#include "rapidjson/document.h"

namespace kommo::emulator {
namespace {

// The tags of `reader`'s array member `key`, as names. An unknown id is an error; an unknown
// name is a new tag (or, when `removing`, one the entity cannot carry).
std::vector<std::string> ReadTagList(const TagCatalogue& catalogue, ItemReader& reader,
                                     const char* key) {
  std::vector<std::string> names;
  const rapidjson::Value* list = reader.NullableArray(key);
  if (list == nullptr) return names;
  for (rapidjson::SizeType i = 0; i < list->Size(); ++i) {
    const rapidjson::Value& entry = (*list)[i];
    const std::string entry_key = absl::StrCat(key, ".", i);
    if (!entry.IsObject()) {
      reader.TypeError(entry_key, "object");
      continue;
    }
    ItemReader entry_reader(entry, reader.Path(absl::StrCat(entry_key, ".")), reader.errors());
    const rapidjson::Value* id = entry_reader.Find("id");
    if (id != nullptr && !id->IsNull()) {
      const std::optional<int64_t> tag_id = entry_reader.Int("id");
      if (!tag_id.has_value()) continue;
      const Tag* tag = catalogue.Find(*tag_id);
      if (tag == nullptr) {
        entry_reader.ChoiceError("id");
        continue;
      }
      names.push_back(tag->name);
      continue;
    }
    const rapidjson::Value* name = entry_reader.Find("name");
    if (name == nullptr || name->IsNull()) {
      entry_reader.Error(kNotBlankCode, "name", kNotBlankDetail);
      continue;
    }
    const std::optional<std::string> text = entry_reader.String("name");
    if (!text.has_value()) continue;
    std::string trimmed(absl::StripAsciiWhitespace(*text));
    if (trimmed.empty()) {
      entry_reader.Error(kNotBlankCode, "name", kNotBlankDetail);
      continue;
    }
    names.push_back(std::move(trimmed));
  }
  return names;
}

void AddName(const std::string& name, std::vector<std::string>* tags) {
  if (std::find(tags->begin(), tags->end(), name) == tags->end()) tags->push_back(name);
}

}  // namespace

TagUpdate ReadTagUpdate(const TagCatalogue& catalogue, ItemReader& reader, TagWrite write) {
  TagUpdate update;
  update.add = ReadTagList(catalogue, reader, "tags_to_add");
  if (write == TagWrite::kUpdate) {
    update.remove = ReadTagList(catalogue, reader, "tags_to_delete");
  } else {
    reader.NullableArray("tags_to_delete");  // type-checked; a new entity has nothing to delete
  }
  const rapidjson::Value* embedded = reader.Find("_embedded");
  if (embedded == nullptr || !embedded->IsObject()) return update;
  ItemReader embedded_reader(*embedded, reader.Path("_embedded."), reader.errors());
  const rapidjson::Value* tags = embedded_reader.Find("tags");
  if (tags == nullptr) return update;
  std::vector<std::string> names = ReadTagList(catalogue, embedded_reader, "tags");
  if (write == TagWrite::kUpdate && (tags->IsNull() || tags->IsArray())) {
    update.replace = true;
    update.replacement = std::move(names);
  } else {
    update.add.insert(update.add.begin(), names.begin(), names.end());
  }
  return update;
}

void ApplyTagUpdate(const TagUpdate& update, std::vector<std::string>* tags) {
  if (update.replace) {
    tags->clear();
    for (const std::string& name : update.replacement) AddName(name, tags);
  }
  for (const std::string& name : update.add) AddName(name, tags);
  for (const std::string& name : update.remove) {
    tags->erase(std::remove(tags->begin(), tags->end(), name), tags->end());
  }
}

void WriteTags(JsonWriter& w, const TagCatalogue& catalogue, const std::vector<std::string>& tags) {
  Key(w, "tags");
  w.StartArray();
  for (const std::string& name : tags) {
    const Tag* tag = catalogue.FindByName(name);
    if (tag == nullptr) continue;  // not saved yet: cannot happen for a stored entity
    w.StartObject();
    Key(w, "id");
    w.Int64(tag->id);
    Key(w, "name");
    Str(w, tag->name);
    Key(w, "color");
    w.Null();
    w.EndObject();
  }
  w.EndArray();
}

}  // namespace kommo::emulator
