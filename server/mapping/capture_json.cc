#include "server/mapping/capture_json.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/mapping/kommo_json.h"
#include "server/mapping/kommo_json_internal.h"

namespace kommo::mapping {
namespace {

using internal::ArrayReader;
using internal::BadResponse;
using internal::JsonWriter;
using internal::MemberPath;
using internal::ObjectReader;
using kommo::v1::EntityType;
using kommo::v1::IncomingLead;
using kommo::v1::NewContact;
using kommo::v1::Note;

absl::StatusOr<ObjectReader> Root(absl::string_view body, rapidjson::Document& document) {
  RETURN_IF_ERROR(internal::ParseBody(body, document));
  return ObjectReader::Make(document, "");
}

// The id of the first object of `_embedded.<collection>` under `object`; 0 when there is none.
absl::StatusOr<int64_t> FirstEmbeddedId(const ObjectReader& object, const char* collection) {
  ASSIGN_OR_RETURN(const std::optional<ObjectReader> embedded, object.Object("_embedded"));
  if (!embedded.has_value()) return 0;
  ASSIGN_OR_RETURN(const std::optional<ArrayReader> items, embedded->Array(collection));
  if (!items.has_value() || items->size() == 0) return 0;
  ASSIGN_OR_RETURN(const ObjectReader first, items->ObjectAt(0));
  return first.RequiredId("id");
}

void WriteNewContact(JsonWriter& json, const NewContact& contact) {
  json.StartObject();
  if (contact.responsible_user_id() != 0) {
    json.Member("responsible_user_id", contact.responsible_user_id());
  }
  internal::WriteContactFields(json, contact.name(), contact.first_name(), contact.last_name(),
                               contact.phones(), contact.emails());
  json.EndObject();
}

// "_embedded.contacts.0.<rest>" of a new contact → "contact.<field>", through the contact
// create mapping (which knows where phones and emails were written).
std::string NewContactField(absl::string_view rest, const NewContact& contact) {
  kommo::v1::CreateContactRequest as_create;
  as_create.set_name(contact.name());
  as_create.set_first_name(contact.first_name());
  as_create.set_last_name(contact.last_name());
  *as_create.mutable_phones() = contact.phones();
  *as_create.mutable_emails() = contact.emails();
  return absl::StrCat("contact.", ContactFieldFromKommoPath(rest, as_create));
}

// The rest of `path` after "_embedded.<collection>.0.", or nullopt.
std::optional<absl::string_view> FirstEmbeddedPath(absl::string_view path,
                                                   absl::string_view collection) {
  const std::string prefix = absl::StrCat("_embedded.", collection, ".0.");
  if (!absl::StartsWith(path, prefix)) return std::nullopt;
  return path.substr(prefix.size());
}

absl::StatusOr<Note> ReadNote(const ObjectReader& object, EntityType type) {
  Note note;
  ASSIGN_OR_RETURN(const int64_t id, object.RequiredId("id"));
  note.set_id(id);
  note.set_entity_type(type);
  ASSIGN_OR_RETURN(const int64_t entity_id, object.Int64("entity_id"));
  note.set_entity_id(entity_id);
  ASSIGN_OR_RETURN(std::string note_type, object.String("note_type"));
  if (note_type == "common") {
    note.set_kind(Note::KIND_COMMON);
  } else if (note_type == "service_message") {
    note.set_kind(Note::KIND_SERVICE_MESSAGE);
  } else {
    note.set_kind(Note::KIND_OTHER);
  }
  note.set_kommo_note_type(std::move(note_type));
  ASSIGN_OR_RETURN(const std::optional<ObjectReader> params, object.Object("params"));
  if (params.has_value()) {
    // Other kinds keep other things in params (a call's link, a file); only text is ours.
    const rapidjson::Value* text = params->Find("text");
    if (text != nullptr && text->IsString()) {
      ASSIGN_OR_RETURN(std::string value, params->String("text"));
      note.set_text(std::move(value));
    }
    const rapidjson::Value* service = params->Find("service");
    if (service != nullptr && service->IsString()) {
      ASSIGN_OR_RETURN(std::string value, params->String("service"));
      note.set_service(std::move(value));
    }
  }
  ASSIGN_OR_RETURN(const int64_t created_by, object.Int64("created_by"));
  note.set_created_by(created_by);
  ASSIGN_OR_RETURN(const int64_t responsible, object.Int64("responsible_user_id"));
  note.set_responsible_user_id(responsible);
  ASSIGN_OR_RETURN(const std::optional<int64_t> created_at, object.UnixSeconds("created_at"));
  if (created_at.has_value()) note.mutable_created_at()->set_seconds(*created_at);
  ASSIGN_OR_RETURN(const std::optional<int64_t> updated_at, object.UnixSeconds("updated_at"));
  if (updated_at.has_value()) note.mutable_updated_at()->set_seconds(*updated_at);
  return note;
}

absl::StatusOr<IncomingLead> ReadIncomingLead(const ObjectReader& object) {
  IncomingLead lead;
  ASSIGN_OR_RETURN(std::string uid, object.String("uid"));
  if (uid.empty()) return BadResponse(MemberPath(object.path(), "uid"), "is missing");
  lead.set_uid(std::move(uid));
  ASSIGN_OR_RETURN(std::string source_uid, object.String("source_uid"));
  lead.set_source_uid(std::move(source_uid));
  ASSIGN_OR_RETURN(std::string source_name, object.String("source_name"));
  lead.set_source_name(std::move(source_name));
  ASSIGN_OR_RETURN(std::string category, object.String("category"));
  lead.set_category(std::move(category));
  ASSIGN_OR_RETURN(const int64_t pipeline_id, object.Int64("pipeline_id"));
  lead.set_pipeline_id(pipeline_id);
  ASSIGN_OR_RETURN(const std::optional<int64_t> created_at, object.UnixSeconds("created_at"));
  if (created_at.has_value()) lead.mutable_created_at()->set_seconds(*created_at);
  ASSIGN_OR_RETURN(const int64_t lead_id, FirstEmbeddedId(object, "leads"));
  lead.set_lead_id(lead_id);
  ASSIGN_OR_RETURN(const int64_t contact_id, FirstEmbeddedId(object, "contacts"));
  lead.set_contact_id(contact_id);
  ASSIGN_OR_RETURN(const std::optional<ObjectReader> metadata, object.Object("metadata"));
  if (metadata.has_value()) {
    kommo::v1::FormMetadata& form = *lead.mutable_form();
    struct Text {
      const char* key;
      std::string* (kommo::v1::FormMetadata::*field)();
    };
    // Kommo's metadata of other categories (sip, chats) has other members; these are the form's.
    for (const Text& each : {Text{"form_id", &kommo::v1::FormMetadata::mutable_form_id},
                             Text{"form_name", &kommo::v1::FormMetadata::mutable_form_name},
                             Text{"form_page", &kommo::v1::FormMetadata::mutable_form_page},
                             Text{"referer", &kommo::v1::FormMetadata::mutable_referer},
                             Text{"ip", &kommo::v1::FormMetadata::mutable_ip}}) {
      const rapidjson::Value* value = metadata->Find(each.key);
      if (value == nullptr || value->IsNull()) continue;
      if (value->IsInt64()) {  // Kommo sends some ids as numbers
        *(form.*each.field)() = absl::StrCat(value->GetInt64());
        continue;
      }
      ASSIGN_OR_RETURN(std::string text, metadata->String(each.key));
      *(form.*each.field)() = std::move(text);
    }
    ASSIGN_OR_RETURN(const std::optional<int64_t> sent_at, metadata->UnixSeconds("form_sent_at"));
    if (sent_at.has_value()) form.mutable_form_sent_at()->set_seconds(*sent_at);
  }
  return lead;
}

absl::StatusOr<UnsortedResult> ReadUnsortedResult(const ObjectReader& object) {
  UnsortedResult result;
  ASSIGN_OR_RETURN(result.uid, object.String("uid"));
  if (result.uid.empty()) return BadResponse(MemberPath(object.path(), "uid"), "is missing");
  ASSIGN_OR_RETURN(result.lead_id, FirstEmbeddedId(object, "leads"));
  if (result.lead_id == 0) {
    return BadResponse(MemberPath(object.path(), "_embedded.leads"), "is missing");
  }
  ASSIGN_OR_RETURN(result.contact_id, FirstEmbeddedId(object, "contacts"));
  return result;
}

}  // namespace

// ---- a lead with its contact
// ---------------------------------------------------------------------

std::string LeadsComplexBody(absl::Span<const LeadWithContactItem> items) {
  JsonWriter json;
  json.StartArray();
  for (const LeadWithContactItem& item : items) {
    const kommo::v1::CreateLeadWithContactRequest& request =
        item.request != nullptr ? *item.request
                                : kommo::v1::CreateLeadWithContactRequest::default_instance();
    json.StartObject();
    if (!request.name().empty()) json.Member("name", request.name());
    if (request.price() != 0) json.Member("price", request.price());
    if (request.responsible_user_id() != 0) {
      json.Member("responsible_user_id", request.responsible_user_id());
    }
    if (request.pipeline_id() != 0) json.Member("pipeline_id", request.pipeline_id());
    if (request.status_id() != 0) json.Member("status_id", request.status_id());
    json.Key("_embedded");
    json.StartObject();
    json.Key("contacts");
    json.StartArray();
    WriteNewContact(json, request.contact());
    json.EndArray();
    json.EndObject();
    if (!item.request_id.empty()) json.Member("request_id", item.request_id);
    json.EndObject();
  }
  json.EndArray();
  return json.Take();
}

absl::StatusOr<std::map<std::string, ComplexResult>> ParseComplexAnswer(absl::string_view body) {
  return internal::GuardJson([&]() -> absl::StatusOr<std::map<std::string, ComplexResult>> {
    rapidjson::Document document;
    RETURN_IF_ERROR(internal::ParseBody(body, document));
    ASSIGN_OR_RETURN(const ArrayReader items, ArrayReader::Make(document, ""));
    std::map<std::string, ComplexResult> results;
    for (size_t i = 0; i < items.size(); ++i) {
      ASSIGN_OR_RETURN(const ObjectReader item, items.ObjectAt(i));
      ComplexResult result;
      ASSIGN_OR_RETURN(result.lead_id, item.RequiredId("id"));
      ASSIGN_OR_RETURN(result.contact_id, item.Int64("contact_id"));
      ASSIGN_OR_RETURN(result.merged, item.Bool("merged"));
      ASSIGN_OR_RETURN(std::string request_id, internal::ReadRequestId(item));
      if (!results.emplace(std::move(request_id), result).second) {
        return BadResponse(MemberPath(item.path(), "request_id"), "is repeated");
      }
    }
    return results;
  });
}

std::string LeadWithContactFieldFromKommoPath(
    absl::string_view path, const kommo::v1::CreateLeadWithContactRequest& request) {
  if (std::optional<absl::string_view> rest = FirstEmbeddedPath(path, "contacts")) {
    return NewContactField(*rest, request.contact());
  }
  if (path == "_embedded.contacts") return "contact";
  return LeadFieldFromKommoPath(path);
}

// ---- incoming leads
// ------------------------------------------------------------------------------

std::string UnsortedFormsBody(absl::Span<const IncomingLeadItem> items) {
  JsonWriter json;
  json.StartArray();
  for (const IncomingLeadItem& item : items) {
    const kommo::v1::CreateIncomingLeadRequest& request =
        item.request != nullptr ? *item.request
                                : kommo::v1::CreateIncomingLeadRequest::default_instance();
    const kommo::v1::FormMetadata& form = request.form();
    json.StartObject();
    json.Member("source_uid", request.source_uid());
    json.Member("source_name", request.source_name());
    if (request.pipeline_id() != 0) json.Member("pipeline_id", request.pipeline_id());
    json.Member("created_at", item.received_at);
    json.Key("metadata");
    json.StartObject();
    json.Member("form_id", form.form_id());
    json.Member("form_name", form.form_name());
    if (!form.form_page().empty()) json.Member("form_page", form.form_page());
    if (!form.referer().empty()) json.Member("referer", form.referer());
    if (!form.ip().empty()) json.Member("ip", form.ip());
    json.Member("form_sent_at",
                form.has_form_sent_at() ? form.form_sent_at().seconds() : item.received_at);
    json.EndObject();
    json.Key("_embedded");
    json.StartObject();
    json.Key("leads");
    json.StartArray();
    json.StartObject();
    if (!request.lead_name().empty()) json.Member("name", request.lead_name());
    if (request.lead_price() != 0) json.Member("price", request.lead_price());
    json.EndObject();
    json.EndArray();
    if (request.has_contact()) {
      json.Key("contacts");
      json.StartArray();
      WriteNewContact(json, request.contact());
      json.EndArray();
    }
    json.EndObject();
    if (!item.request_id.empty()) json.Member("request_id", item.request_id);
    json.EndObject();
  }
  json.EndArray();
  return json.Take();
}

absl::StatusOr<std::map<std::string, UnsortedResult>> ParseUnsortedAnswer(absl::string_view body) {
  return internal::GuardJson([&]() -> absl::StatusOr<std::map<std::string, UnsortedResult>> {
    rapidjson::Document document;
    ASSIGN_OR_RETURN(const ObjectReader root, Root(body, document));
    ASSIGN_OR_RETURN(const std::optional<ObjectReader> embedded, root.Object("_embedded"));
    if (!embedded.has_value()) return BadResponse("_embedded", "is missing");
    ASSIGN_OR_RETURN(const std::optional<ArrayReader> items, embedded->Array("unsorted"));
    if (!items.has_value()) return BadResponse("_embedded.unsorted", "is missing");
    std::map<std::string, UnsortedResult> results;
    for (size_t i = 0; i < items->size(); ++i) {
      ASSIGN_OR_RETURN(const ObjectReader item, items->ObjectAt(i));
      ASSIGN_OR_RETURN(UnsortedResult result, ReadUnsortedResult(item));
      ASSIGN_OR_RETURN(std::string request_id, internal::ReadRequestId(item));
      if (!results.emplace(std::move(request_id), std::move(result)).second) {
        return BadResponse(MemberPath(item.path(), "request_id"), "is repeated");
      }
    }
    return results;
  });
}

absl::StatusOr<UnsortedResult> ParseUnsortedActionAnswer(absl::string_view body) {
  return internal::GuardJson([&]() -> absl::StatusOr<UnsortedResult> {
    rapidjson::Document document;
    ASSIGN_OR_RETURN(const ObjectReader root, Root(body, document));
    return ReadUnsortedResult(root);
  });
}

std::string AcceptBody(const kommo::v1::AcceptIncomingLeadRequest& request) {
  JsonWriter json;
  json.StartObject();
  if (request.user_id() != 0) json.Member("user_id", request.user_id());
  if (request.status_id() != 0) json.Member("status_id", request.status_id());
  json.EndObject();
  return json.Take();
}

std::string DeclineBody(const kommo::v1::DeclineIncomingLeadRequest& request) {
  JsonWriter json;
  json.StartObject();
  if (request.user_id() != 0) json.Member("user_id", request.user_id());
  json.EndObject();
  return json.Take();
}

absl::StatusOr<IncomingLeadPage> ParseIncomingLeadPage(absl::string_view body) {
  return internal::GuardJson([&]() -> absl::StatusOr<IncomingLeadPage> {
    ASSIGN_OR_RETURN(internal::Page<IncomingLead> page,
                     internal::ParseListBody<IncomingLead>(body, "unsorted", ReadIncomingLead));
    return IncomingLeadPage{std::move(page.items), page.has_next};
  });
}

std::string IncomingLeadFieldFromKommoPath(absl::string_view path,
                                           const kommo::v1::CreateIncomingLeadRequest& request) {
  if (absl::StartsWith(path, "metadata.")) {
    return absl::StrCat("form.", path.substr(sizeof("metadata.") - 1));
  }
  if (std::optional<absl::string_view> rest = FirstEmbeddedPath(path, "contacts")) {
    return NewContactField(*rest, request.contact());
  }
  if (std::optional<absl::string_view> rest = FirstEmbeddedPath(path, "leads")) {
    if (*rest == "name") return "lead_name";
    if (*rest == "price") return "lead_price";
  }
  return std::string(path);
}

// ---- notes
// ---------------------------------------------------------------------------------------

std::string NotesCreateBody(absl::Span<const NoteCreateItem> items) {
  JsonWriter json;
  json.StartArray();
  for (const NoteCreateItem& item : items) {
    const kommo::v1::AddNoteRequest& request =
        item.request != nullptr ? *item.request : kommo::v1::AddNoteRequest::default_instance();
    json.StartObject();
    json.Member("entity_id", request.entity_id());
    const bool service = !request.service().empty();
    json.Member("note_type", service ? "service_message" : "common");
    json.Key("params");
    json.StartObject();
    if (service) json.Member("service", request.service());
    json.Member("text", request.text());
    json.EndObject();
    if (request.created_by() != 0) json.Member("created_by", request.created_by());
    if (!item.request_id.empty()) json.Member("request_id", item.request_id);
    json.EndObject();
  }
  json.EndArray();
  return json.Take();
}

absl::StatusOr<NotePage> ParseNotePage(absl::string_view body, EntityType type) {
  return internal::GuardJson([&]() -> absl::StatusOr<NotePage> {
    ASSIGN_OR_RETURN(
        internal::Page<Note> page,
        internal::ParseListBody<Note>(
            body, "notes", [type](const ObjectReader& object) { return ReadNote(object, type); }));
    return NotePage{std::move(page.items), page.has_next};
  });
}

std::string NoteFieldFromKommoPath(absl::string_view path) {
  if (path == "params.text") return "text";
  if (path == "params.service") return "service";
  if (path == "note_type") return "service";  // the type follows from `service`
  return std::string(path);
}

}  // namespace kommo::mapping
