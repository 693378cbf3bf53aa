// Notes on leads, contacts and companies: POST /{entity}/notes, GET /{entity}/notes,
// GET /{entity}/{id}/notes and GET /{entity}/{id}/notes/{note_id}.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "emulator/api_common.h"
#include "emulator/text.h"

namespace kommo::emulator {

std::optional<HttpResponse> KommoApi::RouteNotes(const Call& call, std::string_view entity_type) {
  const Segments& s = call.segments;
  const std::string& method = call.request.method;
  const bool get = method == "GET";
  int64_t entity_id = 0;
  int64_t note_id = 0;
  if (s.size() == 2 && s[1] == "notes") {
    if (get) return ListNotes(call, entity_type, std::nullopt);
    if (method == "POST") return CreateNotes(call, entity_type);
    return MethodNotAllowed(method, "GET, POST");
  }
  if (s.size() < 3 || s[2] != "notes" || !ParseId(s[1], &entity_id)) return std::nullopt;
  if (s.size() == 3)
    return get ? ListNotes(call, entity_type, entity_id) : MethodNotAllowed(method, "GET");
  if (s.size() == 4 && ParseId(s[3], &note_id)) {
    return get ? GetNote(call, entity_type, entity_id, note_id) : MethodNotAllowed(method, "GET");
  }
  return std::nullopt;
}

HttpResponse KommoApi::CreateNotes(const Call& call, std::string_view entity_type) {
  rapidjson::Document doc;
  if (auto error = ParseBatch(call.request.body, &doc)) return *error;
  const WriteContext context{Now(), call.user.id};
  std::vector<std::pair<std::string, Note>> valid;
  std::vector<ItemErrors> invalid;
  for (rapidjson::SizeType i = 0; i < doc.Size(); ++i) {
    const std::string request_id = RequestIdOf(doc[i], absl::StrCat(i));
    Note note;
    std::vector<FieldError> errors =
        doc[i].IsObject() ? BuildNewNote(*store_, doc[i], entity_type, context, &note)
                          : NotAnObject();
    if (errors.empty()) {
      valid.emplace_back(request_id, std::move(note));
    } else {
      invalid.push_back(ItemErrors{request_id, std::move(errors)});
    }
  }
  if (!invalid.empty() && options_->batch_all_or_nothing) return ValidationFailed(invalid);

  const std::string entity_base = absl::StrCat(call.hrefs.api_base, "/", AsAbsl(entity_type));
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  WriteSelfLinks(w, absl::StrCat(entity_base, "/notes"));
  Key(w, "_embedded");
  w.StartObject();
  Key(w, "notes");
  w.StartArray();
  for (auto& [request_id, note] : valid) {
    note.id = store_->NextNoteId();
    const int64_t id = note.id;
    const int64_t entity_id = note.entity_id;
    call.changes->NoteAdded(store_->notes().emplace(id, std::move(note)).first->second);
    w.StartObject();
    Key(w, "id");
    w.Int64(id);
    Key(w, "entity_id");
    w.Int64(entity_id);
    Key(w, "request_id");
    Str(w, request_id);
    WriteSelfLinks(w, absl::StrCat(entity_base, "/", entity_id, "/notes/", id));
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  w.EndObject();
  if (!invalid.empty()) return ValidationFailed(invalid);  // partial mode: valid ones were saved
  return Hal(Finish(buffer));
}

HttpResponse KommoApi::ListNotes(const Call& call, std::string_view entity_type,
                                 std::optional<int64_t> entity_id) {
  const ListParams p = ParseListParams(call.request.query);
  std::vector<const Note*> matches;
  for (const auto& [id, note] : store_->notes()) {
    if (note.entity_type != entity_type) continue;
    if (entity_id.has_value() && note.entity_id != *entity_id) continue;
    if (!p.Filter("entity_id").Matches(note.entity_id) || !p.Filter("id").Matches(id) ||
        !p.TextFilter("note_type").Matches(note.note_type) ||
        !p.Filter("responsible_user_id").Matches(note.responsible_user_id) ||
        !p.Range("created_at").Matches(note.created_at) ||
        !p.Range("updated_at").Matches(note.updated_at)) {
      continue;
    }
    matches.push_back(&note);
  }
  SortEntities(&matches, p);
  const PageRange page = PageOf(matches.size(), p);
  if (page.empty()) return NoContent();

  std::string base = absl::StrCat(call.hrefs.api_base, "/", AsAbsl(entity_type));
  if (entity_id.has_value()) absl::StrAppend(&base, "/", *entity_id);
  absl::StrAppend(&base, "/notes");
  Hrefs note_hrefs = call.hrefs;  // entity self links echo the page, like Kommo's
  note_hrefs.entity_suffix = absl::StrCat("?page=", p.page, "&limit=", p.limit);
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  Key(w, "_page");
  w.Int(p.page);
  WritePageLinks(w, base, p, page.end < matches.size());
  Key(w, "_embedded");
  w.StartObject();
  Key(w, "notes");
  w.StartArray();
  for (size_t i = page.offset; i < page.end; ++i) WriteNote(w, *matches[i], note_hrefs);
  w.EndArray();
  w.EndObject();
  w.EndObject();
  return Hal(Finish(buffer));
}

HttpResponse KommoApi::GetNote(const Call& call, std::string_view entity_type, int64_t entity_id,
                               int64_t note_id) {
  const auto it = store_->notes().find(note_id);
  if (it == store_->notes().end() || it->second.entity_type != entity_type ||
      it->second.entity_id != entity_id) {
    return NoContent();
  }
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  WriteNote(w, it->second, call.hrefs);
  return Hal(Finish(buffer));
}

}  // namespace kommo::emulator
