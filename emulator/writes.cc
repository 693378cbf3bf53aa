#include "emulator/writes.h"

#include <algorithm>
#include <optional>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "emulator/emulator.h"
#include "emulator/text.h"

namespace kommo::emulator {
namespace {

constexpr char kNotSupportedChoice[] = "NotSupportedChoice";
constexpr char kInvalidType[] = "InvalidType";
constexpr char kNotBlank[] = "NotBlank";
constexpr char kChoiceDetail[] = "The value you selected is not a valid choice.";
constexpr char kBlankDetail[] = "This value should not be blank.";

// Type-checked access to the members of one JSON object of a request body.
class ItemReader {
 public:
  ItemReader(const rapidjson::Value& object, std::string path_prefix,
             std::vector<FieldError>* errors)
      : object_(object), prefix_(std::move(path_prefix)), errors_(errors) {}

  const rapidjson::Value* Find(const char* key) const {
    const auto it = object_.FindMember(key);
    return it == object_.MemberEnd() ? nullptr : &it->value;
  }
  std::string Path(std::string_view key) const { return absl::StrCat(prefix_, AsAbsl(key)); }

  void Error(const char* code, std::string_view key, std::string detail) {
    errors_->push_back(FieldError{code, Path(key), std::move(detail)});
  }
  void TypeError(std::string_view key, std::string_view type) {
    Error(kInvalidType, key, absl::StrCat("This value should be of type ", AsAbsl(type), "."));
  }
  void ChoiceError(std::string_view key) { Error(kNotSupportedChoice, key, kChoiceDetail); }

  // The member: nullptr when it is absent, or when it fails `is_type` (then with an InvalidType
  // error naming `type`).
  const rapidjson::Value* Checked(const char* key, bool (rapidjson::Value::*is_type)() const,
                                  std::string_view type) {
    const rapidjson::Value* v = Find(key);
    if (v == nullptr || (v->*is_type)()) return v;
    TypeError(key, type);
    return nullptr;
  }

  // Absent → nullopt. Present: an integer within int64 (not a float, bool, string or null),
  // else an InvalidType error and nullopt.
  std::optional<int64_t> Int(const char* key) {
    const rapidjson::Value* v = Checked(key, &rapidjson::Value::IsInt64, "int");
    if (v == nullptr) return std::nullopt;
    return v->GetInt64();
  }
  // Like Int(), but null is a valid value: the outer optional is presence.
  std::optional<std::optional<int64_t>> NullableInt(const char* key) {
    const rapidjson::Value* v = Find(key);
    if (v != nullptr && v->IsNull()) return std::optional<int64_t>();
    const std::optional<int64_t> value = Int(key);
    if (!value.has_value()) return std::nullopt;
    return value;
  }
  std::optional<std::string> String(const char* key) {
    const rapidjson::Value* v = Checked(key, &rapidjson::Value::IsString, "string");
    if (v == nullptr) return std::nullopt;
    return std::string(v->GetString(), v->GetStringLength());
  }
  std::optional<bool> Bool(const char* key) {
    const rapidjson::Value* v = Checked(key, &rapidjson::Value::IsBool, "bool");
    if (v == nullptr) return std::nullopt;
    return v->GetBool();
  }
  // Absent or null → nullptr. Present: an array, else an InvalidType error and nullptr.
  const rapidjson::Value* NullableArray(const char* key) {
    const rapidjson::Value* v = Find(key);
    if (v == nullptr || v->IsNull()) return nullptr;
    return Checked(key, &rapidjson::Value::IsArray, "array");
  }
  const rapidjson::Value* NullableObject(const char* key) {
    const rapidjson::Value* v = Find(key);
    if (v == nullptr || v->IsNull()) return nullptr;
    return Checked(key, &rapidjson::Value::IsObject, "object");
  }

  std::vector<FieldError>* errors() { return errors_; }
  const std::string& prefix() const { return prefix_; }

 private:
  const rapidjson::Value& object_;
  const std::string prefix_;
  std::vector<FieldError>* const errors_;
};

bool IsClosedStatus(int64_t status_id) {
  return status_id == kWonStatusId || status_id == kLostStatusId;
}

// A user id that must name a seeded user (or be 0, "robot", when `zero_ok`).
bool CheckUser(const Store& store, ItemReader& reader, const char* key,
               const std::optional<int64_t>& id, bool zero_ok) {
  if (!id.has_value()) return true;
  if ((zero_ok && *id == 0) || store.FindUser(*id) != nullptr) return true;
  reader.ChoiceError(key);
  return false;
}

// The members leads and contacts share: who is responsible, who created and last updated the
// entity, and when.
struct AuditFields {
  std::optional<int64_t> responsible_user_id;
  std::optional<int64_t> created_by;
  std::optional<int64_t> updated_by;
  std::optional<int64_t> created_at;
  std::optional<int64_t> updated_at;
};

AuditFields ReadAuditFields(ItemReader& reader) {
  AuditFields f;
  f.responsible_user_id = reader.Int("responsible_user_id");
  f.created_by = reader.Int("created_by");
  f.updated_by = reader.Int("updated_by");
  f.created_at = reader.Int("created_at");
  f.updated_at = reader.Int("updated_at");
  return f;
}

// A new entity: what is absent defaults to the token's user and now.
template <typename Entity>
void SetNewAudit(const Store& store, ItemReader& reader, const AuditFields& f,
                 const WriteContext& context, Entity* entity) {
  entity->responsible_user_id = f.responsible_user_id.value_or(context.user_id);
  if (CheckUser(store, reader, "responsible_user_id", entity->responsible_user_id, false)) {
    entity->group_id = store.FindUser(entity->responsible_user_id)->group_id;
  }
  entity->created_by = f.created_by.value_or(context.user_id);
  CheckUser(store, reader, "created_by", entity->created_by, true);
  entity->updated_by = f.updated_by.value_or(context.user_id);
  CheckUser(store, reader, "updated_by", entity->updated_by, true);
  entity->created_at = f.created_at.value_or(context.now);
  entity->updated_at = f.updated_at.value_or(context.now);
}

// An update: what is given replaces, except that updated_by and updated_at always change (to
// the token's user and now when absent).
template <typename Entity>
void ApplyAuditUpdate(const Store& store, ItemReader& reader, const AuditFields& f,
                      const WriteContext& context, Entity* entity) {
  if (f.responsible_user_id.has_value() &&
      CheckUser(store, reader, "responsible_user_id", f.responsible_user_id, false)) {
    entity->responsible_user_id = *f.responsible_user_id;
    entity->group_id = store.FindUser(entity->responsible_user_id)->group_id;
  }
  if (f.created_by.has_value() && CheckUser(store, reader, "created_by", f.created_by, true)) {
    entity->created_by = *f.created_by;
  }
  entity->updated_by = f.updated_by.value_or(context.user_id);
  CheckUser(store, reader, "updated_by", entity->updated_by, true);
  if (f.created_at.has_value()) entity->created_at = *f.created_at;
  entity->updated_at = f.updated_at.value_or(context.now);
}

// The pipeline `pipeline_id` names; `otherwise` when it is absent, or unknown (a
// NotSupportedChoice error).
const Pipeline* GivenPipeline(const Store& store, ItemReader& reader,
                              const std::optional<int64_t>& pipeline_id,
                              const Pipeline* otherwise) {
  if (!pipeline_id.has_value()) return otherwise;
  const Pipeline* given = store.FindPipeline(*pipeline_id);
  if (given != nullptr) return given;
  reader.ChoiceError("pipeline_id");
  return otherwise;
}

// The members both lead create and update read.
struct LeadFields {
  std::optional<std::string> name;
  std::optional<int64_t> price;
  std::optional<int64_t> status_id;
  std::optional<int64_t> pipeline_id;
  AuditFields audit;
  std::optional<std::optional<int64_t>> closed_at;
};

LeadFields ReadLeadFields(ItemReader& reader) {
  LeadFields f;
  f.name = reader.String("name");
  f.price = reader.Int("price");
  f.status_id = reader.Int("status_id");
  f.pipeline_id = reader.Int("pipeline_id");
  f.audit = ReadAuditFields(reader);
  f.closed_at = reader.NullableInt("closed_at");
  reader.NullableInt("loss_reason_id");  // type-checked, not stored (no loss reasons seeded)
  reader.NullableArray("tags_to_add");   // accepted and ignored: tags are always []
  reader.NullableArray("tags_to_delete");
  // The emulator defines no lead custom fields: any entry names an unknown field.
  if (const rapidjson::Value* fields = reader.NullableArray("custom_fields_values")) {
    for (rapidjson::SizeType i = 0; i < fields->Size(); ++i) {
      const char* key = (*fields)[i].IsObject() && (*fields)[i].HasMember("field_code") &&
                                !(*fields)[i].HasMember("field_id")
                            ? "field_code"
                            : "field_id";
      reader.ChoiceError(absl::StrCat("custom_fields_values.", i, ".", key));
    }
  }
  return f;
}

// _embedded.contacts of a lead create: links to existing contacts; the first with is_main (or
// else the first of all) becomes the main contact.
std::vector<LeadContact> ReadLeadContacts(const Store& store, ItemReader& reader) {
  std::vector<LeadContact> links;
  const rapidjson::Value* embedded = reader.NullableObject("_embedded");
  if (embedded == nullptr) return links;
  ItemReader embedded_reader(*embedded, reader.Path("_embedded."), reader.errors());
  embedded_reader.NullableArray("tags");
  embedded_reader.NullableArray("companies");
  const rapidjson::Value* contacts = embedded_reader.NullableArray("contacts");
  if (contacts == nullptr) return links;
  bool have_main = false;
  for (rapidjson::SizeType i = 0; i < contacts->Size(); ++i) {
    const rapidjson::Value& entry = (*contacts)[i];
    const std::string index = absl::StrCat(i);
    if (!entry.IsObject()) {
      embedded_reader.TypeError(absl::StrCat("contacts.", index), "object");
      continue;
    }
    ItemReader entry_reader(entry, embedded_reader.Path(absl::StrCat("contacts.", index, ".")),
                            reader.errors());
    const std::optional<int64_t> id = entry_reader.Int("id");
    const std::optional<bool> is_main = entry_reader.Bool("is_main");
    if (entry_reader.Find("id") == nullptr) {
      entry_reader.Error(kNotBlank, "id", kBlankDetail);
      continue;
    }
    if (!id.has_value()) continue;
    if (store.contacts().count(*id) == 0) {
      entry_reader.ChoiceError("id");
      continue;
    }
    const bool duplicate = std::any_of(links.begin(), links.end(),
                                       [&](const LeadContact& l) { return l.contact_id == *id; });
    if (duplicate) continue;
    const bool main = is_main.value_or(false) && !have_main;
    have_main = have_main || main;
    links.push_back(LeadContact{*id, main});
  }
  if (!have_main && !links.empty()) links.front().is_main = true;
  return links;
}

// Contact custom_fields_values: field by field_id or field_code, enum by enum_id, enum_code or
// the legacy "enum" key (default: the field's first enum). Values of a mentioned field replace
// its old values; an empty or null "values" removes the field.
std::vector<ContactFieldValues> ReadContactFields(const Store& store, ItemReader& reader,
                                                  bool* present) {
  std::vector<ContactFieldValues> mentioned;
  *present = reader.Find("custom_fields_values") != nullptr;
  const rapidjson::Value* fields = reader.NullableArray("custom_fields_values");
  if (fields == nullptr) return mentioned;
  for (rapidjson::SizeType i = 0; i < fields->Size(); ++i) {
    const rapidjson::Value& entry = (*fields)[i];
    const std::string entry_key = absl::StrCat("custom_fields_values.", i);
    if (!entry.IsObject()) {
      reader.TypeError(entry_key, "object");
      continue;
    }
    ItemReader entry_reader(entry, reader.Path(absl::StrCat(entry_key, ".")), reader.errors());
    const CustomField* field = nullptr;
    if (entry_reader.Find("field_id") != nullptr) {
      const std::optional<int64_t> id = entry_reader.Int("field_id");
      if (!id.has_value()) continue;
      field = store.FindContactField(*id);
      if (field == nullptr) {
        entry_reader.ChoiceError("field_id");
        continue;
      }
    } else if (entry_reader.Find("field_code") != nullptr) {
      const std::optional<std::string> code = entry_reader.String("field_code");
      if (!code.has_value()) continue;
      field = store.FindContactFieldByCode(*code);
      if (field == nullptr) {
        entry_reader.ChoiceError("field_code");
        continue;
      }
    } else {
      entry_reader.Error(kNotBlank, "field_id", kBlankDetail);
      continue;
    }
    auto slot = std::find_if(mentioned.begin(), mentioned.end(),
                             [&](const ContactFieldValues& m) { return m.field_id == field->id; });
    if (slot == mentioned.end()) {
      mentioned.push_back(ContactFieldValues{field->id, {}});
      slot = mentioned.end() - 1;
    }
    const rapidjson::Value* values = entry_reader.NullableArray("values");
    if (values == nullptr) continue;
    for (rapidjson::SizeType j = 0; j < values->Size(); ++j) {
      const rapidjson::Value& value = (*values)[j];
      const std::string value_key = absl::StrCat("values.", j);
      if (!value.IsObject()) {
        entry_reader.TypeError(value_key, "object");
        continue;
      }
      ItemReader value_reader(value, entry_reader.Path(absl::StrCat(value_key, ".")),
                              reader.errors());
      const std::optional<std::string> text = value_reader.String("value");
      if (value_reader.Find("value") == nullptr) {
        value_reader.Error(kNotBlank, "value", kBlankDetail);
        continue;
      }
      const FieldEnum* e = &field->enums.front();
      if (value_reader.Find("enum_id") != nullptr) {
        const std::optional<int64_t> enum_id = value_reader.Int("enum_id");
        if (!enum_id.has_value()) continue;
        e = field->FindEnum(*enum_id);
        if (e == nullptr) value_reader.ChoiceError("enum_id");
      } else {
        for (const char* key : {"enum_code", "enum"}) {
          if (value_reader.Find(key) == nullptr) continue;
          const std::optional<std::string> code = value_reader.String(key);
          if (!code.has_value()) {
            e = nullptr;
          } else if ((e = field->FindEnumByCode(*code)) == nullptr) {
            value_reader.ChoiceError(key);
          }
          break;
        }
      }
      if (e == nullptr || !text.has_value() || text->empty()) continue;
      slot->values.push_back(FieldValue{*text, e->id});
    }
  }
  return mentioned;
}

void MergeContactFields(const Store& store, std::vector<ContactFieldValues> mentioned,
                        Contact* contact) {
  for (ContactFieldValues& entry : mentioned) {
    auto it =
        std::find_if(contact->fields.begin(), contact->fields.end(),
                     [&](const ContactFieldValues& f) { return f.field_id == entry.field_id; });
    if (it != contact->fields.end()) contact->fields.erase(it);
    if (!entry.values.empty()) contact->fields.push_back(std::move(entry));
  }
  auto sort_of = [&store](const ContactFieldValues& f) {
    const CustomField* field = store.FindContactField(f.field_id);
    return field == nullptr ? 0 : field->sort;
  };
  std::stable_sort(contact->fields.begin(), contact->fields.end(),
                   [&](const ContactFieldValues& a, const ContactFieldValues& b) {
                     return sort_of(a) < sort_of(b);
                   });
}

}  // namespace

std::string RequestIdOf(const rapidjson::Value& item, const std::string& fallback) {
  if (!item.IsObject()) return fallback;
  const auto it = item.FindMember("request_id");
  if (it == item.MemberEnd()) return fallback;
  if (it->value.IsString()) return std::string(it->value.GetString(), it->value.GetStringLength());
  if (it->value.IsInt64()) return absl::StrCat(it->value.GetInt64());
  return fallback;
}

std::vector<FieldError> BuildNewLead(const Store& store, const rapidjson::Value& item,
                                     const WriteContext& context, Lead* lead) {
  std::vector<FieldError> errors;
  ItemReader reader(item, "", &errors);
  const LeadFields f = ReadLeadFields(reader);
  *lead = Lead();
  lead->name = f.name.value_or("");
  lead->price = f.price.value_or(0);

  const Pipeline* pipeline = GivenPipeline(store, reader, f.pipeline_id, &store.main_pipeline());
  lead->pipeline_id = pipeline->id;
  lead->status_id = pipeline->first_regular_status_id();
  if (f.status_id.has_value()) {
    if (pipeline->FindStatus(*f.status_id) == nullptr) {
      reader.ChoiceError("status_id");
    } else {
      lead->status_id = *f.status_id;
    }
  }

  SetNewAudit(store, reader, f.audit, context, lead);
  if (f.closed_at.has_value()) {
    lead->closed_at = *f.closed_at;
  } else if (IsClosedStatus(lead->status_id)) {
    lead->closed_at = context.now;
  }
  lead->contacts = ReadLeadContacts(store, reader);
  return errors;
}

std::vector<FieldError> ApplyLeadUpdate(const Store& store, const rapidjson::Value& item,
                                        const WriteContext& context, Lead* lead) {
  std::vector<FieldError> errors;
  ItemReader reader(item, "", &errors);
  const LeadFields f = ReadLeadFields(reader);
  if (f.name.has_value()) lead->name = *f.name;
  if (f.price.has_value()) lead->price = *f.price;

  const int64_t old_status = lead->status_id;
  const Pipeline* pipeline =
      GivenPipeline(store, reader, f.pipeline_id, store.FindPipeline(lead->pipeline_id));
  if (pipeline == nullptr) pipeline = &store.main_pipeline();
  if (f.status_id.has_value()) {
    if (pipeline->FindStatus(*f.status_id) == nullptr) {
      reader.ChoiceError("status_id");
    } else {
      lead->status_id = *f.status_id;
    }
  } else if (pipeline->id != lead->pipeline_id) {
    lead->status_id = pipeline->first_regular_status_id();  // moved without a stage
  }
  lead->pipeline_id = pipeline->id;

  ApplyAuditUpdate(store, reader, f.audit, context, lead);
  if (f.closed_at.has_value()) {
    lead->closed_at = *f.closed_at;
  } else if (IsClosedStatus(lead->status_id) && !IsClosedStatus(old_status)) {
    lead->closed_at = context.now;
  } else if (!IsClosedStatus(lead->status_id)) {
    lead->closed_at.reset();
  }
  return errors;
}

std::vector<FieldError> BuildNewContact(const Store& store, const rapidjson::Value& item,
                                        const WriteContext& context, Contact* contact) {
  std::vector<FieldError> errors;
  ItemReader reader(item, "", &errors);
  *contact = Contact();
  const std::optional<std::string> name = reader.String("name");
  contact->first_name = reader.String("first_name").value_or("");
  contact->last_name = reader.String("last_name").value_or("");
  if (name.has_value()) {
    contact->name = *name;
  } else {  // Kommo composes the name from the parts
    contact->name = contact->first_name;
    if (!contact->first_name.empty() && !contact->last_name.empty()) contact->name += " ";
    contact->name += contact->last_name;
  }
  const AuditFields audit = ReadAuditFields(reader);
  reader.NullableArray("tags_to_add");
  reader.NullableObject("_embedded");
  SetNewAudit(store, reader, audit, context, contact);
  bool fields_present = false;
  MergeContactFields(store, ReadContactFields(store, reader, &fields_present), contact);
  return errors;
}

std::vector<FieldError> ApplyContactUpdate(const Store& store, const rapidjson::Value& item,
                                           const WriteContext& context, Contact* contact) {
  std::vector<FieldError> errors;
  ItemReader reader(item, "", &errors);
  if (auto name = reader.String("name")) contact->name = *name;
  if (auto first_name = reader.String("first_name")) contact->first_name = *first_name;
  if (auto last_name = reader.String("last_name")) contact->last_name = *last_name;
  const AuditFields audit = ReadAuditFields(reader);
  reader.NullableArray("tags_to_add");
  reader.NullableArray("tags_to_delete");
  reader.NullableObject("_embedded");
  ApplyAuditUpdate(store, reader, audit, context, contact);
  bool fields_present = false;
  std::vector<ContactFieldValues> mentioned = ReadContactFields(store, reader, &fields_present);
  if (fields_present && reader.Find("custom_fields_values")->IsNull()) {
    contact->fields.clear();  // null detaches every value
  }
  MergeContactFields(store, std::move(mentioned), contact);
  return errors;
}

}  // namespace kommo::emulator
