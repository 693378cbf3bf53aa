// The events list: GET /api/v4/events (filters, newest first, paged by `limit` ≤ 100 and `page`,
// 204 when nothing matches) and GET /api/v4/events/{id} (204 for an unknown id).
#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "emulator/api_common.h"
#include "emulator/events.h"
#include "emulator/text.h"

namespace kommo::emulator {
namespace {

bool WithName(const std::vector<std::string>& with, EntityKind kind) {
  const std::string wanted = absl::StrCat(AsAbsl(EventEntityName(kind)), "_name");
  return std::find(with.begin(), with.end(), wanted) != with.end();
}

// The entity's name now (also in the trash); nullptr when it is gone.
const std::string* NameOf(const Store& store, EntityKind kind, int64_t id) {
  const auto find = [id](const auto& live, const auto& trash) -> const std::string* {
    if (auto it = live.find(id); it != live.end()) return &it->second.name;
    if (auto it = trash.find(id); it != trash.end()) return &it->second.name;
    return nullptr;
  };
  switch (kind) {
    case EntityKind::kLead:
      return find(store.leads(), store.deleted_leads());
    case EntityKind::kContact:
      return find(store.contacts(), store.deleted_contacts());
    case EntityKind::kCompany:
      return find(store.companies(), store.deleted_companies());
  }
  return nullptr;
}

// An event as Kommo shows it, with _embedded.entity (id, name when asked, self link).
void WriteEvent(JsonWriter& w, const Store& store, const Event& event, const Hrefs& hrefs,
                const std::vector<std::string>& with) {
  w.StartObject();
  Key(w, "id");
  Str(w, event.id);
  Key(w, "type");
  Str(w, event.type);
  Key(w, "entity_id");
  w.Int64(event.entity_id);
  Key(w, "entity_type");
  Str(w, EventEntityName(event.entity));
  Key(w, "created_by");
  w.Int64(event.created_by);
  Key(w, "created_at");
  w.Int64(event.created_at);
  Key(w, "value_after");
  WriteEventValues(w, event.after);
  Key(w, "value_before");
  WriteEventValues(w, event.before);
  Key(w, "account_id");
  w.Int64(kAccountId);
  WriteSelfLinks(w, absl::StrCat(hrefs.api_base, "/events/", event.id));
  Key(w, "_embedded");
  w.StartObject();
  Key(w, "entity");
  w.StartObject();
  Key(w, "id");
  w.Int64(event.entity_id);
  if (WithName(with, event.entity)) {
    if (const std::string* name = NameOf(store, event.entity, event.entity_id)) {
      Key(w, "name");
      Str(w, *name);
    }
  }
  WriteSelfLinks(w, absl::StrCat(hrefs.api_base, "/", AsAbsl(CollectionOf(event.entity)), "/",
                                 event.entity_id));
  w.EndObject();
  w.EndObject();
  w.EndObject();
}

std::string PageHref(const std::string& base, const EventQuery& q, int page) {
  return absl::StrCat(base, "?", q.link_query, q.link_query.empty() ? "" : "&", "page=", page,
                      "&limit=", q.limit);
}

}  // namespace

HttpResponse KommoApi::RouteEvents(const Call& call) {
  const Segments& s = call.segments;
  const std::string& method = call.request.method;
  if (s.size() == 1) return method == "GET" ? ListEvents(call) : MethodNotAllowed(method, "GET");
  if (s.size() == 2)
    return method == "GET" ? GetEvent(call, s[1]) : MethodNotAllowed(method, "GET");
  return ProblemResponse(404, absl::StrCat("Cannot ", method, " ", call.request.path));
}

HttpResponse KommoApi::ListEvents(const Call& call) {
  absl::StatusOr<EventQuery> query = ParseEventQuery(call.request.query);
  if (!query.ok()) return ProblemResponse(400, std::string(query.status().message()));
  const std::vector<const Event*> matches = events_->Matching(*query, Now());
  const size_t offset = static_cast<size_t>(query->page - 1) * static_cast<size_t>(query->limit);
  if (offset >= matches.size()) return NoContent();
  const size_t end = std::min(matches.size(), offset + static_cast<size_t>(query->limit));

  const std::string base = absl::StrCat(call.hrefs.api_base, "/events");
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  Key(w, "_page");
  w.Int(query->page);
  // Kommo's example shows self and next only.
  Key(w, "_links");
  w.StartObject();
  WriteHref(w, "self", PageHref(base, *query, query->page));
  if (end < matches.size()) WriteHref(w, "next", PageHref(base, *query, query->page + 1));
  w.EndObject();
  Key(w, "_embedded");
  w.StartObject();
  Key(w, "events");
  w.StartArray();
  for (size_t i = offset; i < end; ++i) {
    WriteEvent(w, *store_, *matches[i], call.hrefs, query->with);
  }
  w.EndArray();
  w.EndObject();
  w.EndObject();
  return Hal(Finish(buffer));
}

HttpResponse KommoApi::GetEvent(const Call& call, std::string_view id) {
  const Event* event = events_->Find(id, Now());
  if (event == nullptr) return NoContent();
  std::vector<std::string> with;
  for (const auto& [key, value] : ParseQuery(call.request.query)) {
    if (key != "with") continue;
    size_t start = 0;
    while (start <= value.size()) {
      size_t stop = value.find(',', start);
      if (stop == std::string::npos) stop = value.size();
      with.push_back(value.substr(start, stop - start));
      start = stop + 1;
    }
  }
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  WriteEvent(w, *store_, *event, call.hrefs, with);
  return Hal(Finish(buffer));
}

}  // namespace kommo::emulator
