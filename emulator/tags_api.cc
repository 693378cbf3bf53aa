// The tag catalogues: GET /{leads|contacts|companies}/tags (paged, with `query` and filter[id]).
// Tags are made by writes (tags_to_add, _embedded.tags); see tags.h.
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "emulator/api_common.h"
#include "emulator/text.h"

namespace kommo::emulator {

std::optional<HttpResponse> KommoApi::RouteTags(const Call& call, std::string_view entity_type) {
  const Segments& s = call.segments;
  if (s.size() != 2 || s[1] != "tags") return std::nullopt;
  const std::string& method = call.request.method;
  return method == "GET" ? ListTags(call, entity_type) : MethodNotAllowed(method, "GET");
}

HttpResponse KommoApi::ListTags(const Call& call, std::string_view entity_type) {
  const ListParams p = ParseListParams(call.request.query);
  const std::string query = AsciiLower(p.query);
  std::vector<const Tag*> matches;
  for (const Tag& tag : store_->TagsOf(entity_type)->tags()) {
    if (!p.Filter("id").Matches(tag.id)) continue;
    if (!query.empty() && AsciiLower(tag.name).find(query) == std::string::npos) continue;
    matches.push_back(&tag);
  }
  const PageRange page = PageOf(matches.size(), p);
  if (page.empty()) return NoContent();
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  Key(w, "_page");
  w.Int(p.page);
  WritePageLinks(w, absl::StrCat(call.hrefs.api_base, "/", AsAbsl(entity_type), "/tags"), p,
                 page.end < matches.size());
  Key(w, "_embedded");
  w.StartObject();
  Key(w, "tags");
  w.StartArray();
  for (size_t i = page.offset; i < page.end; ++i) {
    w.StartObject();
    Key(w, "id");
    w.Int64(matches[i]->id);
    Key(w, "name");
    Str(w, matches[i]->name);
    Key(w, "color");
    w.Null();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  w.EndObject();
  return Hal(Finish(buffer));
}

}  // namespace kommo::emulator
