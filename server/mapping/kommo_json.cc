#include "server/mapping/kommo_json.h"

#include <charconv>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/common/status_macros.h"
#include "server/mapping/custom_fields_json.h"
#include "server/mapping/json_reader.h"
#include "server/mapping/json_writer.h"
#include "server/mapping/kommo_json_internal.h"

namespace kommo::mapping {
namespace {

using internal::ArrayReader;
using internal::BadResponse;
using internal::JsonWriter;
using internal::MemberPath;
using internal::ObjectReader;
using kommo::v1::Contact;
using kommo::v1::CreateContactRequest;
using kommo::v1::CreateLeadRequest;
using kommo::v1::Lead;

// Kommo's enum_code for the phones and emails we write (work phone, work email).
constexpr char kWorkEnumCode[] = "WORK";
constexpr char kPhoneFieldCode[] = "PHONE";
constexpr char kEmailFieldCode[] = "EMAIL";

template <typename Message>
struct Int64Field {
  const char* key;
  void (*set)(Message&, int64_t);
};

// Plain int64 members of a lead; absent or null reads as 0.
const Int64Field<Lead> kLeadInt64Fields[] = {
    {"responsible_user_id", [](Lead& lead, int64_t v) { lead.set_responsible_user_id(v); }},
    {"pipeline_id", [](Lead& lead, int64_t v) { lead.set_pipeline_id(v); }},
    {"status_id", [](Lead& lead, int64_t v) { lead.set_status_id(v); }},
    {"group_id", [](Lead& lead, int64_t v) { lead.set_group_id(v); }},
    {"account_id", [](Lead& lead, int64_t v) { lead.set_account_id(v); }},
    {"created_by", [](Lead& lead, int64_t v) { lead.set_created_by(v); }},
    {"updated_by", [](Lead& lead, int64_t v) { lead.set_updated_by(v); }},
};

// Plain int64 members of a contact; absent or null reads as 0.
const Int64Field<Contact> kContactInt64Fields[] = {
    {"responsible_user_id", [](Contact& c, int64_t v) { c.set_responsible_user_id(v); }},
    {"group_id", [](Contact& c, int64_t v) { c.set_group_id(v); }},
    {"account_id", [](Contact& c, int64_t v) { c.set_account_id(v); }},
    {"created_by", [](Contact& c, int64_t v) { c.set_created_by(v); }},
    {"updated_by", [](Contact& c, int64_t v) { c.set_updated_by(v); }},
};

template <typename Message>
absl::Status ReadInt64Fields(const ObjectReader& object,
                             absl::Span<const Int64Field<Message>> fields, Message& message) {
  for (const Int64Field<Message>& field : fields) {
    ASSIGN_OR_RETURN(const int64_t value, object.Int64(field.key));
    field.set(message, value);
  }
  return absl::OkStatus();
}

// Sets `*timestamp()` from the Unix seconds in `key`, leaving it unset for absent, null or 0.
template <typename MutableTimestamp>
absl::Status ReadTimestamp(const ObjectReader& object, const char* key,
                           MutableTimestamp&& timestamp) {
  ASSIGN_OR_RETURN(const std::optional<int64_t> seconds, object.UnixSeconds(key));
  if (seconds.has_value()) timestamp()->set_seconds(*seconds);
  return absl::OkStatus();
}

}  // namespace

namespace internal {

// ---- leads --------------------------------------------------------------------------------------

absl::StatusOr<Lead> ReadLead(const ObjectReader& object) {
  Lead lead;
  ASSIGN_OR_RETURN(const int64_t id, object.RequiredId("id"));
  lead.set_id(id);
  ASSIGN_OR_RETURN(std::string name, object.String("name"));
  lead.set_name(std::move(name));
  // Documented as int; a fractional price set by another integration is rounded, and
  // price_with_minor_units is not read.
  ASSIGN_OR_RETURN(const int64_t price, object.RoundedNumber("price"));
  lead.set_price(price);
  RETURN_IF_ERROR(ReadInt64Fields<Lead>(object, kLeadInt64Fields, lead));
  ASSIGN_OR_RETURN(const bool is_deleted, object.Bool("is_deleted"));
  lead.set_is_deleted(is_deleted);
  RETURN_IF_ERROR(ReadTimestamp(object, "created_at", [&] { return lead.mutable_created_at(); }));
  RETURN_IF_ERROR(ReadTimestamp(object, "updated_at", [&] { return lead.mutable_updated_at(); }));
  RETURN_IF_ERROR(ReadTimestamp(object, "closed_at", [&] { return lead.mutable_closed_at(); }));
  RETURN_IF_ERROR(ReadCustomFieldsValues(object, lead.mutable_custom_fields()));
  RETURN_IF_ERROR(ReadTags(object, lead.mutable_tags()));

  // `_embedded.contacts` is only there with with=contacts.
  ASSIGN_OR_RETURN(const std::optional<ObjectReader> embedded, object.Object("_embedded"));
  if (!embedded.has_value()) return lead;
  ASSIGN_OR_RETURN(const std::optional<ArrayReader> contacts, embedded->Array("contacts"));
  if (!contacts.has_value()) return lead;
  for (size_t i = 0; i < contacts->size(); ++i) {
    ASSIGN_OR_RETURN(const ObjectReader contact, contacts->ObjectAt(i));
    ASSIGN_OR_RETURN(const int64_t contact_id, contact.RequiredId("id"));
    lead.add_contact_ids(contact_id);
  }
  return lead;
}

}  // namespace internal

namespace {

// ---- contacts -----------------------------------------------------------------------------------

// A custom field value as text: strings as they are, numbers in decimal. nullopt for null.
absl::StatusOr<std::optional<std::string>> ReadCustomValue(const rapidjson::Value& value,
                                                           absl::string_view path) {
  if (value.IsNull()) return std::nullopt;
  if (value.IsString()) {
    absl::string_view text(value.GetString(), value.GetStringLength());
    if (!internal::IsValidUtf8(text)) return BadResponse(path, "is not valid UTF-8");
    return std::optional<std::string>(std::string(text));
  }
  if (value.IsInt64()) return std::optional<std::string>(absl::StrCat(value.GetInt64()));
  if (value.IsUint64()) return std::optional<std::string>(absl::StrCat(value.GetUint64()));
  if (value.IsDouble()) {
    char buffer[64];
    const auto result = std::to_chars(buffer, buffer + sizeof(buffer), value.GetDouble());
    if (result.ec != std::errc()) return BadResponse(path, "is out of range");
    return std::optional<std::string>(std::string(buffer, result.ptr));
  }
  return BadResponse(path, "is not a string or a number");
}

// Appends the values of the PHONE and EMAIL entries of `custom_fields_values` to the contact.
// Entries with other field codes are not read at all (their values have many shapes).
absl::Status ReadPhonesAndEmails(const ObjectReader& object, Contact& contact) {
  ASSIGN_OR_RETURN(const std::optional<ArrayReader> fields, object.Array("custom_fields_values"));
  if (!fields.has_value()) return absl::OkStatus();
  for (size_t i = 0; i < fields->size(); ++i) {
    ASSIGN_OR_RETURN(const ObjectReader field, fields->ObjectAt(i));
    ASSIGN_OR_RETURN(const std::string field_code, field.String("field_code"));
    google::protobuf::RepeatedPtrField<std::string>* target = nullptr;
    if (field_code == kPhoneFieldCode) {
      target = contact.mutable_phones();
    } else if (field_code == kEmailFieldCode) {
      target = contact.mutable_emails();
    } else {
      continue;
    }
    ASSIGN_OR_RETURN(const std::optional<ArrayReader> values, field.Array("values"));
    if (!values.has_value()) continue;
    for (size_t j = 0; j < values->size(); ++j) {
      // Each value is {"value": ..., "enum_id": ..., "enum_code"|"enum": ...}; the type (WORK,
      // MOB, ...) is not kept, so only "value" is read.
      ASSIGN_OR_RETURN(const ObjectReader entry, values->ObjectAt(j));
      const rapidjson::Value* value = entry.Find("value");
      if (value == nullptr) continue;
      ASSIGN_OR_RETURN(std::optional<std::string> text,
                       ReadCustomValue(*value, MemberPath(entry.path(), "value")));
      if (text.has_value() && !text->empty()) target->Add(*std::move(text));
    }
  }
  return absl::OkStatus();
}

}  // namespace

namespace internal {

absl::StatusOr<Contact> ReadContact(const ObjectReader& object) {
  Contact contact;
  ASSIGN_OR_RETURN(const int64_t id, object.RequiredId("id"));
  contact.set_id(id);
  ASSIGN_OR_RETURN(std::string name, object.String("name"));
  contact.set_name(std::move(name));
  ASSIGN_OR_RETURN(std::string first_name, object.String("first_name"));
  contact.set_first_name(std::move(first_name));
  ASSIGN_OR_RETURN(std::string last_name, object.String("last_name"));
  contact.set_last_name(std::move(last_name));
  RETURN_IF_ERROR(ReadInt64Fields<Contact>(object, kContactInt64Fields, contact));
  ASSIGN_OR_RETURN(const bool is_deleted, object.Bool("is_deleted"));
  contact.set_is_deleted(is_deleted);
  RETURN_IF_ERROR(
      ReadTimestamp(object, "created_at", [&] { return contact.mutable_created_at(); }));
  RETURN_IF_ERROR(
      ReadTimestamp(object, "updated_at", [&] { return contact.mutable_updated_at(); }));
  RETURN_IF_ERROR(ReadPhonesAndEmails(object, contact));
  RETURN_IF_ERROR(ReadCustomFieldsValues(object, contact.mutable_custom_fields()));
  RETURN_IF_ERROR(ReadTags(object, contact.mutable_tags()));
  return contact;
}

// A write result's request_id: a string, an integer, or (as /leads/complex sends it) an array
// holding one of those.
absl::StatusOr<std::string> ReadRequestId(const ObjectReader& item) {
  const std::string path = MemberPath(item.path(), "request_id");
  const rapidjson::Value* value = item.Find("request_id");
  if (value == nullptr || value->IsNull()) return BadResponse(path, "is missing");
  if (value->IsArray() && value->Size() == 1) value = &(*value)[0];
  if (value->IsString()) {
    absl::string_view text(value->GetString(), value->GetStringLength());
    if (!internal::IsValidUtf8(text)) return BadResponse(path, "is not valid UTF-8");
    return std::string(text);
  }
  if (value->IsInt64()) return absl::StrCat(value->GetInt64());
  if (value->IsUint64()) return absl::StrCat(value->GetUint64());
  return BadResponse(path, "is not a string or an integer");
}

void WriteContactFields(JsonWriter& json, absl::string_view name, absl::string_view first_name,
                        absl::string_view last_name,
                        const google::protobuf::RepeatedPtrField<std::string>& phones,
                        const google::protobuf::RepeatedPtrField<std::string>& emails) {
  if (!name.empty()) json.Member("name", name);
  if (!first_name.empty()) json.Member("first_name", first_name);
  if (!last_name.empty()) json.Member("last_name", last_name);
  WriteContactCustomFields(json, phones.empty() ? nullptr : &phones,
                           emails.empty() ? nullptr : &emails,
                           google::protobuf::RepeatedPtrField<v1::CustomFieldValues>());
}

void WriteContactCustomFields(
    JsonWriter& json, const google::protobuf::RepeatedPtrField<std::string>* phones,
    const google::protobuf::RepeatedPtrField<std::string>* emails,
    const google::protobuf::RepeatedPtrField<v1::CustomFieldValues>& custom_fields) {
  if (phones == nullptr && emails == nullptr && custom_fields.empty()) return;
  json.Key("custom_fields_values");
  json.StartArray();
  const std::pair<const char*, const google::protobuf::RepeatedPtrField<std::string>*> multitext[] =
      {{kPhoneFieldCode, phones}, {kEmailFieldCode, emails}};
  for (const auto& [field_code, values] : multitext) {
    if (values == nullptr) continue;
    json.StartObject();
    json.Member("field_code", field_code);
    json.Key("values");
    if (values->empty()) {
      json.Null();  // clears the field
    } else {
      json.StartArray();
      for (const std::string& value : *values) {
        json.StartObject();
        json.Member("value", value);
        json.Member("enum_code", kWorkEnumCode);
        json.EndObject();
      }
      json.EndArray();
    }
    json.EndObject();
  }
  for (const v1::CustomFieldValues& field : custom_fields) WriteCustomFieldEntry(json, field);
  json.EndArray();
}

}  // namespace internal

namespace {

using internal::Page;
using internal::ParseListBody;
using internal::ReadContact;
using internal::ReadLead;
using internal::ReadRequestId;

template <typename Entity, typename Read>
absl::StatusOr<Entity> ParseObjectBody(absl::string_view body, Read&& read) {
  rapidjson::Document document;
  RETURN_IF_ERROR(internal::ParseBody(body, document));
  ASSIGN_OR_RETURN(const ObjectReader root, ObjectReader::Make(document, ""));
  return read(root);
}

// Splits a Kommo validation path ("_embedded.contacts.1.id") into its segments.
std::vector<absl::string_view> PathSegments(absl::string_view path) {
  return absl::StrSplit(path, '.');
}

std::string Indexed(absl::string_view field, size_t index) {
  return absl::StrCat(field, "[", index, "]");
}

}  // namespace

// ---- leads --------------------------------------------------------------------------------------

std::string LeadsCreateBody(absl::Span<const LeadCreateItem> items) {
  JsonWriter json;
  json.StartArray();
  for (const LeadCreateItem& item : items) {
    const CreateLeadRequest& request =
        item.request != nullptr ? *item.request : CreateLeadRequest::default_instance();
    json.StartObject();
    if (!request.name().empty()) json.Member("name", request.name());
    if (request.price() != 0) json.Member("price", request.price());
    if (request.responsible_user_id() != 0) {
      json.Member("responsible_user_id", request.responsible_user_id());
    }
    if (request.pipeline_id() != 0) json.Member("pipeline_id", request.pipeline_id());
    if (request.status_id() != 0) json.Member("status_id", request.status_id());
    if (request.contact_ids_size() > 0) {
      // Every id is sent, even an invalid one, so that Kommo's "_embedded.contacts.N" paths keep
      // the indexes of contact_ids.
      json.Key("_embedded");
      json.StartObject();
      json.Key("contacts");
      json.StartArray();
      for (int i = 0; i < request.contact_ids_size(); ++i) {
        json.StartObject();
        json.Member("id", request.contact_ids(i));
        if (i == 0) {
          json.Key("is_main");
          json.Bool(true);
        }
        json.EndObject();
      }
      json.EndArray();
      json.EndObject();
    }
    WriteCustomFieldsMember(json, request.custom_fields());
    WriteTagChanges(json, request.tags_to_add(), {});
    // Without a request_id Kommo answers with the item's position; we always match by ours.
    if (!item.request_id.empty()) json.Member("request_id", item.request_id);
    json.EndObject();
  }
  json.EndArray();
  return json.Take();
}

namespace {

void WriteLeadChanges(JsonWriter& json, const kommo::v1::UpdateLeadRequest& request) {
  if (request.has_name()) json.Member("name", request.name());
  if (request.has_price()) json.Member("price", request.price());
  if (request.has_responsible_user_id()) {
    json.Member("responsible_user_id", request.responsible_user_id());
  }
  if (request.has_pipeline_id()) json.Member("pipeline_id", request.pipeline_id());
  if (request.has_status_id()) json.Member("status_id", request.status_id());
  WriteCustomFieldsMember(json, request.custom_fields());
  WriteTagChanges(json, request.tags_to_add(), request.tags_to_remove());
}

}  // namespace

std::string LeadsUpdateBody(absl::Span<const LeadUpdateItem> items) {
  JsonWriter json;
  json.StartArray();
  for (const LeadUpdateItem& item : items) {
    const kommo::v1::UpdateLeadRequest& request =
        item.request != nullptr ? *item.request : kommo::v1::UpdateLeadRequest::default_instance();
    json.StartObject();
    json.Member("id", request.lead_id());
    WriteLeadChanges(json, request);
    if (!item.request_id.empty()) json.Member("request_id", item.request_id);
    json.EndObject();
  }
  json.EndArray();
  return json.Take();
}

absl::StatusOr<Lead> ParseLead(absl::string_view body) {
  return internal::GuardJson([&] { return ParseObjectBody<Lead>(body, ReadLead); });
}

absl::StatusOr<LeadPage> ParseLeadPage(absl::string_view body) {
  return internal::GuardJson([&]() -> absl::StatusOr<LeadPage> {
    ASSIGN_OR_RETURN(Page<Lead> page, ParseListBody<Lead>(body, "leads", ReadLead));
    return LeadPage{std::move(page.items), page.has_next};
  });
}

std::string LeadFieldFromKommoPath(absl::string_view path) {
  static const std::set<absl::string_view>* const kSameName = new std::set<absl::string_view>{
      "name", "price", "responsible_user_id", "pipeline_id", "status_id"};
  if (kSameName->count(path) > 0) return std::string(path);
  if (path == "id") return "lead_id";  // PATCH: the lead id of the path
  if (std::optional<std::string> field = CustomFieldsFieldFromKommoPath(path, 0)) return *field;

  const std::vector<absl::string_view> segments = PathSegments(path);
  if (segments.size() >= 2 && segments[0] == "_embedded" && segments[1] == "contacts") {
    if (segments.size() == 2) return "contact_ids";
    const std::optional<size_t> index = internal::ParsePathIndex(segments[2]);
    const bool known_leaf =
        segments.size() == 3 ||
        (segments.size() == 4 && (segments[3] == "id" || segments[3] == "is_main"));
    if (index.has_value() && known_leaf) return Indexed("contact_ids", *index);
  }
  return std::string(path);
}

// ---- contacts -----------------------------------------------------------------------------------

std::string ContactsCreateBody(absl::Span<const ContactCreateItem> items) {
  JsonWriter json;
  json.StartArray();
  for (const ContactCreateItem& item : items) {
    const CreateContactRequest& request =
        item.request != nullptr ? *item.request : CreateContactRequest::default_instance();
    json.StartObject();
    if (request.responsible_user_id() != 0) {
      json.Member("responsible_user_id", request.responsible_user_id());
    }
    if (request.created_by() != 0) json.Member("created_by", request.created_by());
    // updated_by 0 means "the same as created_by" (see contact_service.proto).
    if (request.updated_by() != 0) {
      json.Member("updated_by", request.updated_by());
    } else if (request.created_by() != 0) {
      json.Member("updated_by", request.created_by());
    }
    if (!request.name().empty()) json.Member("name", request.name());
    if (!request.first_name().empty()) json.Member("first_name", request.first_name());
    if (!request.last_name().empty()) json.Member("last_name", request.last_name());
    internal::WriteContactCustomFields(json, request.phones().empty() ? nullptr : &request.phones(),
                                       request.emails().empty() ? nullptr : &request.emails(),
                                       request.custom_fields());
    WriteTagChanges(json, request.tags_to_add(), {});
    if (!item.request_id.empty()) json.Member("request_id", item.request_id);
    json.EndObject();
  }
  json.EndArray();
  return json.Take();
}

absl::StatusOr<Contact> ParseContact(absl::string_view body) {
  return internal::GuardJson([&] { return ParseObjectBody<Contact>(body, ReadContact); });
}

absl::StatusOr<ContactPage> ParseContactPage(absl::string_view body) {
  return internal::GuardJson([&]() -> absl::StatusOr<ContactPage> {
    ASSIGN_OR_RETURN(Page<Contact> page, ParseListBody<Contact>(body, "contacts", ReadContact));
    return ContactPage{std::move(page.items), page.has_next};
  });
}

namespace {

// A Kommo validation path on a contact write, given the PHONE and EMAIL entries the body wrote
// first (field name and number of values each), then the request's custom_fields.
std::string ContactPath(absl::string_view path,
                        const std::vector<std::pair<const char*, int>>& entries) {
  static const std::set<absl::string_view>* const kSameName = new std::set<absl::string_view>{
      "responsible_user_id", "created_by", "updated_by", "name", "first_name", "last_name"};
  if (kSameName->count(path) > 0) return std::string(path);
  if (path == "id") return "contact_id";  // PATCH: the contact of the item
  if (std::optional<std::string> field = CustomFieldsFieldFromKommoPath(path, entries.size())) {
    return *field;
  }

  const std::vector<absl::string_view> segments = PathSegments(path);
  if (segments.size() < 2 || segments[0] != "custom_fields_values") return std::string(path);
  const std::optional<size_t> entry = internal::ParsePathIndex(segments[1]);
  if (!entry.has_value()) return std::string(path);
  if (*entry >= entries.size()) return std::string(path);
  const auto& [field, count] = entries[*entry];

  if (segments.size() == 2) return field;
  if (segments.size() == 3 &&
      (segments[2] == "values" || segments[2] == "field_code" || segments[2] == "field_id")) {
    return field;
  }
  if (segments[2] != "values") return std::string(path);
  const std::optional<size_t> value = internal::ParsePathIndex(segments[3]);
  if (!value.has_value() || *value >= static_cast<size_t>(count)) return std::string(path);
  if (segments.size() == 4 ||
      (segments.size() == 5 &&
       (segments[4] == "value" || segments[4] == "enum_code" || segments[4] == "enum_id"))) {
    return Indexed(field, *value);
  }
  return std::string(path);
}

}  // namespace

std::string ContactFieldFromKommoPath(absl::string_view path,
                                      const kommo::v1::CreateContactRequest& request) {
  // The entries ContactsCreateBody wrote: PHONE first, then EMAIL, each only when non-empty.
  std::vector<std::pair<const char*, int>> entries;  // field name, number of values
  if (request.phones_size() > 0) entries.emplace_back("phones", request.phones_size());
  if (request.emails_size() > 0) entries.emplace_back("emails", request.emails_size());
  return ContactPath(path, entries);
}

std::string ContactUpdateFieldFromKommoPath(absl::string_view path,
                                            const kommo::v1::UpdateContactRequest& request) {
  // The entries ContactsUpdateBody wrote: PHONE first, then EMAIL, each only when set.
  std::vector<std::pair<const char*, int>> entries;
  if (request.has_phones()) entries.emplace_back("phones.values", request.phones().values_size());
  if (request.has_emails()) entries.emplace_back("emails.values", request.emails().values_size());
  return ContactPath(path, entries);
}

std::string ContactsUpdateBody(absl::Span<const ContactUpdateItem> items) {
  JsonWriter json;
  json.StartArray();
  for (const ContactUpdateItem& item : items) {
    const v1::UpdateContactRequest& request =
        item.request != nullptr ? *item.request : v1::UpdateContactRequest::default_instance();
    json.StartObject();
    json.Member("id", request.contact_id());
    if (request.has_name()) json.Member("name", request.name());
    if (request.has_first_name()) json.Member("first_name", request.first_name());
    if (request.has_last_name()) json.Member("last_name", request.last_name());
    if (request.has_responsible_user_id()) {
      json.Member("responsible_user_id", request.responsible_user_id());
    }
    internal::WriteContactCustomFields(
        json, request.has_phones() ? &request.phones().values() : nullptr,
        request.has_emails() ? &request.emails().values() : nullptr, request.custom_fields());
    WriteTagChanges(json, request.tags_to_add(), request.tags_to_remove());
    if (!item.request_id.empty()) json.Member("request_id", item.request_id);
    json.EndObject();
  }
  json.EndArray();
  return json.Take();
}

// ---- write results ------------------------------------------------------------------------------

absl::StatusOr<std::map<std::string, int64_t>> ParseCreatedIds(absl::string_view body,
                                                               absl::string_view entity) {
  return internal::GuardJson([&]() -> absl::StatusOr<std::map<std::string, int64_t>> {
    rapidjson::Document document;
    RETURN_IF_ERROR(internal::ParseBody(body, document));
    ASSIGN_OR_RETURN(const ObjectReader root, ObjectReader::Make(document, ""));
    // Unlike a list, a 200 write result always holds the items it created.
    ASSIGN_OR_RETURN(const std::optional<ObjectReader> embedded, root.Object("_embedded"));
    if (!embedded.has_value()) return BadResponse("_embedded", "is missing");
    const std::string collection(entity);
    ASSIGN_OR_RETURN(const std::optional<ArrayReader> items, embedded->Array(collection.c_str()));
    if (!items.has_value()) return BadResponse(MemberPath("_embedded", entity), "is missing");

    std::map<std::string, int64_t> ids;
    for (size_t i = 0; i < items->size(); ++i) {
      ASSIGN_OR_RETURN(const ObjectReader item, items->ObjectAt(i));
      ASSIGN_OR_RETURN(const int64_t id, item.RequiredId("id"));
      ASSIGN_OR_RETURN(std::string request_id, ReadRequestId(item));
      if (!ids.emplace(std::move(request_id), id).second) {
        return BadResponse(MemberPath(item.path(), "request_id"), "is repeated");
      }
    }
    return ids;
  });
}

}  // namespace kommo::mapping
