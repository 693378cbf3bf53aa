// Links between leads, contacts and companies: POST /{entity}/{id}/link, POST /{entity}/{id}/unlink
// (204) and GET /{entity}/{id}/links, from any of the three sides.
//
// The store keeps each link once: a lead's contacts (with the main flag) in Lead::contacts, a
// lead's company in Lead::company_id, a contact's company in Contact::company_id. A lead and a
// contact have at most one company each, as in Kommo: linking another one replaces it. Requests
// say `is_main`, answers say `main_contact` (Kommo's asymmetry).
#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "emulator/api_common.h"
#include "emulator/changes.h"
#include "emulator/kommo_api.h"
#include "emulator/render.h"
#include "emulator/text.h"
#include "emulator/writes.h"

namespace kommo::emulator {
namespace {

// One link seen from an entity.
struct LinkView {
  std::string to_type;  // "leads", "contacts", "companies"
  int64_t to_id = 0;
  std::optional<bool> main_contact;  // lead–contact links only
};

struct LinkItem {
  std::string to_type;
  int64_t to_id = 0;
  std::optional<bool> is_main;
};

bool Exists(const Store& store, std::string_view type, int64_t id) {
  if (type == "leads") return store.leads().count(id) > 0;
  if (type == "contacts") return store.contacts().count(id) > 0;
  if (type == "companies") return store.companies().count(id) > 0;
  return false;
}

std::string_view NotFoundDetail(std::string_view type) {
  if (type == "leads") return "Lead not found";
  if (type == "contacts") return "Contact not found";
  return "Company not found";
}

// One item of a link/unlink body of an entity of `from`: {"to_entity_id":N,"to_entity_type":T,
// "metadata":{"is_main":true}}. T must be one of the other two of leads, contacts and companies
// (catalog elements are not emulated); the entity must exist.
std::vector<FieldError> ReadLinkItem(const Store& store, std::string_view from,
                                     const rapidjson::Value& item, LinkItem* link) {
  if (!item.IsObject()) return NotAnObject();
  std::vector<FieldError> errors;
  bool have_id = false;
  const auto id = item.FindMember("to_entity_id");
  if (id == item.MemberEnd() || id->value.IsNull()) {
    errors.push_back(FieldError{"NotBlank", "to_entity_id", "This value should not be blank."});
  } else if (!id->value.IsInt64()) {
    errors.push_back(
        FieldError{"InvalidType", "to_entity_id", "This value should be of type int."});
  } else {
    link->to_id = id->value.GetInt64();
    have_id = true;
  }
  const auto type = item.FindMember("to_entity_type");
  if (type == item.MemberEnd() || type->value.IsNull()) {
    errors.push_back(FieldError{"NotBlank", "to_entity_type", "This value should not be blank."});
  } else if (!type->value.IsString()) {
    errors.push_back(
        FieldError{"InvalidType", "to_entity_type", "This value should be of type string."});
  } else {
    link->to_type.assign(type->value.GetString(), type->value.GetStringLength());
    const bool known =
        link->to_type == "leads" || link->to_type == "contacts" || link->to_type == "companies";
    if (!known || link->to_type == from) {
      errors.push_back(FieldError{"NotSupportedChoice", "to_entity_type",
                                  "The value you selected is not a valid choice."});
    } else if (have_id && !Exists(store, link->to_type, link->to_id)) {
      errors.push_back(FieldError{"NotSupportedChoice", "to_entity_id",
                                  std::string(NotFoundDetail(link->to_type))});
    }
  }
  const auto metadata = item.FindMember("metadata");
  if (metadata != item.MemberEnd() && !metadata->value.IsNull()) {
    if (!metadata->value.IsObject()) {
      errors.push_back(
          FieldError{"InvalidType", "metadata", "This value should be of type object."});
    } else if (const auto is_main = metadata->value.FindMember("is_main");
               is_main != metadata->value.MemberEnd() && !is_main->value.IsNull()) {
      if (is_main->value.IsBool()) {
        link->is_main = is_main->value.GetBool();
      } else {
        errors.push_back(
            FieldError{"InvalidType", "metadata.is_main", "This value should be of type bool."});
      }
    }
  }
  return errors;
}

// After a change: at most one main contact, and the first one when none is marked.
void FixMainContact(std::vector<LeadContact>* contacts) {
  const bool has_main = std::any_of(contacts->begin(), contacts->end(),
                                    [](const LeadContact& c) { return c.is_main; });
  if (!has_main && !contacts->empty()) contacts->front().is_main = true;
}

// Links or unlinks a lead and a contact; reports a link made or removed (not a main flag moved).
void ChangeLeadContact(Lead* lead, int64_t contact_id, std::optional<bool> is_main, bool link,
                       ChangeRecorder* changes) {
  std::vector<LeadContact>& contacts = lead->contacts;
  auto existing = std::find_if(contacts.begin(), contacts.end(),
                               [&](const LeadContact& c) { return c.contact_id == contact_id; });
  if (!link) {
    if (existing != contacts.end()) {
      contacts.erase(existing);
      changes->LinkChanged(EntityKind::kLead, lead->id, EntityKind::kContact, contact_id, false);
    }
    FixMainContact(&contacts);
    return;
  }
  if (existing == contacts.end()) {
    contacts.push_back(LeadContact{contact_id, false});
    existing = contacts.end() - 1;
    changes->LinkChanged(EntityKind::kLead, lead->id, EntityKind::kContact, contact_id, true);
  }
  if (is_main.has_value()) {
    if (*is_main) {
      for (LeadContact& other : contacts) other.is_main = false;
    }
    existing->is_main = *is_main;
  }
  FixMainContact(&contacts);
}

// Sets or clears the one-company slot of `owner`; unlinking another company than the linked one
// changes nothing, linking another one replaces it (an unlink and a link).
void ChangeCompany(std::optional<int64_t>* slot, EntityKind owner, int64_t owner_id,
                   int64_t company_id, bool link, ChangeRecorder* changes) {
  if (link) {
    if (*slot == company_id) return;
    if (slot->has_value()) {
      changes->LinkChanged(owner, owner_id, EntityKind::kCompany, **slot, false);
    }
    *slot = company_id;
    changes->LinkChanged(owner, owner_id, EntityKind::kCompany, company_id, true);
  } else if (slot->has_value() && **slot == company_id) {
    slot->reset();
    changes->LinkChanged(owner, owner_id, EntityKind::kCompany, company_id, false);
  }
}

// Applies one (validated) item of `from`/`id`.
void Apply(Store* store, std::string_view from, int64_t id, const LinkItem& item, bool link,
           ChangeRecorder* changes) {
  const auto pair = [&](std::string_view a, std::string_view b) {
    return (from == a && item.to_type == b) || (from == b && item.to_type == a);
  };
  if (pair("leads", "contacts")) {
    const int64_t lead_id = from == "leads" ? id : item.to_id;
    const int64_t contact_id = from == "leads" ? item.to_id : id;
    ChangeLeadContact(&store->leads().at(lead_id), contact_id, item.is_main, link, changes);
  } else if (pair("leads", "companies")) {
    const int64_t lead_id = from == "leads" ? id : item.to_id;
    ChangeCompany(&store->leads().at(lead_id).company_id, EntityKind::kLead, lead_id,
                  from == "leads" ? item.to_id : id, link, changes);
  } else if (pair("contacts", "companies")) {
    const int64_t contact_id = from == "contacts" ? id : item.to_id;
    ChangeCompany(&store->contacts().at(contact_id).company_id, EntityKind::kContact, contact_id,
                  from == "contacts" ? item.to_id : id, link, changes);
  }
}

// Every link of `from`/`id`, in the order they were made (a lead's contacts first).
std::vector<LinkView> LinksOf(const Store& store, std::string_view from, int64_t id) {
  std::vector<LinkView> links;
  if (from == "leads") {
    const Lead& lead = store.leads().at(id);
    for (const LeadContact& contact : lead.contacts) {
      links.push_back({"contacts", contact.contact_id, contact.is_main});
    }
    if (lead.company_id.has_value()) links.push_back({"companies", *lead.company_id, {}});
  } else if (from == "contacts") {
    for (const auto& [lead_id, lead] : store.leads()) {
      for (const LeadContact& contact : lead.contacts) {
        if (contact.contact_id == id) links.push_back({"leads", lead_id, contact.is_main});
      }
    }
    const Contact& contact = store.contacts().at(id);
    if (contact.company_id.has_value()) links.push_back({"companies", *contact.company_id, {}});
  } else {
    for (const auto& [lead_id, lead] : store.leads()) {
      if (lead.company_id == id) links.push_back({"leads", lead_id, {}});
    }
    for (const auto& [contact_id, contact] : store.contacts()) {
      if (contact.company_id == id) links.push_back({"contacts", contact_id, {}});
    }
  }
  return links;
}

// {"entity_id":…,"entity_type":…,"to_entity_id":…,"to_entity_type":…,"metadata":…}: metadata
// holds main_contact on lead–contact links and is null otherwise.
void WriteLink(JsonWriter& w, std::string_view from, int64_t id, const LinkView& link) {
  w.StartObject();
  Key(w, "entity_id");
  w.Int64(id);
  Key(w, "entity_type");
  Str(w, from);
  Key(w, "to_entity_id");
  w.Int64(link.to_id);
  Key(w, "to_entity_type");
  Str(w, link.to_type);
  Key(w, "metadata");
  if (link.main_contact.has_value()) {
    w.StartObject();
    Key(w, "main_contact");
    w.Bool(*link.main_contact);
    w.EndObject();
  } else {
    w.Null();
  }
  w.EndObject();
}

HttpResponse LinksAnswer(const Hrefs& hrefs, std::string_view from, int64_t id,
                         std::string_view what, const std::vector<LinkView>& links) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  Key(w, "_total_items");
  w.Uint64(links.size());
  WriteSelfLinks(w, absl::StrCat(hrefs.api_base, "/", AsAbsl(from), "/", id, "/", AsAbsl(what)));
  Key(w, "_embedded");
  w.StartObject();
  Key(w, "links");
  w.StartArray();
  for (const LinkView& link : links) WriteLink(w, from, id, link);
  w.EndArray();
  w.EndObject();
  w.EndObject();
  return Hal(Finish(buffer));
}

}  // namespace

std::optional<HttpResponse> KommoApi::RouteLinks(const Call& call, std::string_view entity_type) {
  const Segments& s = call.segments;
  int64_t id = 0;
  if (s.size() != 3 || !ParseId(s[1], &id)) return std::nullopt;
  const std::string& method = call.request.method;
  if (s[2] == "link" || s[2] == "unlink") {
    return method == "POST" ? ChangeLinks(call, entity_type, id, s[2] == "link")
                            : MethodNotAllowed(method, "POST");
  }
  if (s[2] == "links") {
    return method == "GET" ? ListLinks(call, entity_type, id) : MethodNotAllowed(method, "GET");
  }
  return std::nullopt;
}

HttpResponse KommoApi::ChangeLinks(const Call& call, std::string_view entity_type, int64_t id,
                                   bool link) {
  rapidjson::Document doc;
  if (auto error = ParseBatch(call.request.body, &doc)) return *error;
  if (!Exists(*store_, entity_type, id)) {
    return ProblemResponse(404, NotFoundDetail(entity_type));
  }
  std::vector<LinkItem> items;
  std::vector<ItemErrors> invalid;
  for (rapidjson::SizeType i = 0; i < doc.Size(); ++i) {
    LinkItem item;
    std::vector<FieldError> errors = ReadLinkItem(*store_, entity_type, doc[i], &item);
    if (errors.empty()) {
      items.push_back(std::move(item));
    } else {
      invalid.push_back(ItemErrors{RequestIdOf(doc[i], absl::StrCat(i)), std::move(errors)});
    }
  }
  if (!invalid.empty()) return ValidationFailed(invalid);  // links: always all-or-nothing
  for (const LinkItem& item : items) Apply(store_, entity_type, id, item, link, call.changes);
  if (!link) return NoContent();

  // The links just made, as they are now.
  const std::vector<LinkView> all = LinksOf(*store_, entity_type, id);
  std::vector<LinkView> made;
  for (const LinkItem& item : items) {
    for (const LinkView& each : all) {
      if (each.to_type == item.to_type && each.to_id == item.to_id) made.push_back(each);
    }
  }
  return LinksAnswer(call.hrefs, entity_type, id, "link", made);
}

HttpResponse KommoApi::ListLinks(const Call& call, std::string_view entity_type, int64_t id) {
  // Kommo answers 204 both for an entity with no links and for one it does not know.
  if (!Exists(*store_, entity_type, id)) return NoContent();
  std::optional<std::string> type_filter;
  std::vector<int64_t> id_filter;
  bool has_id_filter = false;
  for (const auto& [key, value] : ParseQuery(call.request.query)) {
    const std::vector<std::string> parts = SplitBrackets(key);
    if (parts.size() < 2 || parts[0] != "filter") continue;
    if (parts[1] == "to_entity_type") type_filter = value;
    if (parts[1] == "to_entity_id") {
      has_id_filter = true;
      int64_t v = 0;
      if (absl::SimpleAtoi(value, &v)) id_filter.push_back(v);
    }
  }
  std::vector<LinkView> links;
  for (LinkView& link : LinksOf(*store_, entity_type, id)) {
    if (type_filter.has_value() && *type_filter != link.to_type) continue;
    if (has_id_filter &&
        std::find(id_filter.begin(), id_filter.end(), link.to_id) == id_filter.end()) {
      continue;
    }
    links.push_back(std::move(link));
  }
  if (links.empty()) return NoContent();
  return LinksAnswer(call.hrefs, entity_type, id, "links", links);
}

}  // namespace kommo::emulator
