#include "emulator/writes.h"

#include <algorithm>
#include <optional>
#include <string_view>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "emulator/custom_fields.h"
#include "emulator/emulator.h"
#include "emulator/tags.h"
#include "emulator/text.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace kommo::emulator {
namespace {

constexpr char kNotBlank[] = "NotBlank";
constexpr char kBlankDetail[] = "This value should not be blank.";

// A note's params of a type the emulator does not check are stored as sent, serialized
// recursively: bound their depth first (the body itself is parsed iteratively).
constexpr int kMaxParamsNesting = 16;

bool NestingAtMost(const rapidjson::Value& root, int max_depth) {
  std::vector<std::pair<const rapidjson::Value*, int>> pending{{&root, 1}};
  while (!pending.empty()) {
    const auto [value, depth] = pending.back();
    pending.pop_back();
    if (depth > max_depth) return false;
    if (value->IsObject()) {
      for (const auto& member : value->GetObject()) pending.emplace_back(&member.value, depth + 1);
    } else if (value->IsArray()) {
      for (const auto& element : value->GetArray()) pending.emplace_back(&element, depth + 1);
    }
  }
  return true;
}

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
  return f;
}

// _embedded.contacts of a lead create: links to existing contacts; the first with is_main (or
// else the first of all) becomes the main contact.
std::vector<LeadContact> ReadLeadContacts(const Store& store, ItemReader& reader) {
  std::vector<LeadContact> links;
  const rapidjson::Value* embedded = reader.NullableObject("_embedded");
  if (embedded == nullptr) return links;
  ItemReader embedded_reader(*embedded, reader.Path("_embedded."), reader.errors());
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

// The custom fields and tags every entity type reads the same way, against its own catalogues.
template <typename Entity>
void ReadFieldsAndTags(const Store& store, std::string_view entity_type, ItemReader& reader,
                       TagWrite write, Entity* entity) {
  const std::vector<CustomField>& catalogue = *store.FieldsOf(entity_type);
  ApplyFieldValues(catalogue, ReadFieldValues(catalogue, reader), &entity->fields);
  ApplyTagUpdate(ReadTagUpdate(*store.TagsOf(entity_type), reader, write), &entity->tags);
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

std::vector<FieldError> BuildNewLeadFields(const Store& store, const rapidjson::Value& item,
                                           std::string_view path_prefix,
                                           const WriteContext& context, Lead* lead) {
  std::vector<FieldError> errors;
  ItemReader reader(item, std::string(path_prefix), &errors);
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
  ReadFieldsAndTags(store, "leads", reader, TagWrite::kCreate, lead);
  return errors;
}

std::vector<FieldError> BuildNewLead(const Store& store, const rapidjson::Value& item,
                                     const WriteContext& context, Lead* lead) {
  std::vector<FieldError> errors = BuildNewLeadFields(store, item, "", context, lead);
  ItemReader reader(item, "", &errors);
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
  ReadFieldsAndTags(store, "leads", reader, TagWrite::kUpdate, lead);
  return errors;
}

std::vector<FieldError> BuildNewContactAt(const Store& store, const rapidjson::Value& item,
                                          std::string_view path_prefix, const WriteContext& context,
                                          Contact* contact) {
  std::vector<FieldError> errors;
  ItemReader reader(item, std::string(path_prefix), &errors);
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
  reader.NullableObject("_embedded");
  SetNewAudit(store, reader, audit, context, contact);
  ReadFieldsAndTags(store, "contacts", reader, TagWrite::kCreate, contact);
  return errors;
}

std::vector<FieldError> BuildNewContact(const Store& store, const rapidjson::Value& item,
                                        const WriteContext& context, Contact* contact) {
  return BuildNewContactAt(store, item, "", context, contact);
}

std::vector<FieldError> ApplyContactUpdate(const Store& store, const rapidjson::Value& item,
                                           const WriteContext& context, Contact* contact) {
  std::vector<FieldError> errors;
  ItemReader reader(item, "", &errors);
  if (auto name = reader.String("name")) contact->name = *name;
  if (auto first_name = reader.String("first_name")) contact->first_name = *first_name;
  if (auto last_name = reader.String("last_name")) contact->last_name = *last_name;
  const AuditFields audit = ReadAuditFields(reader);
  reader.NullableObject("_embedded");
  ApplyAuditUpdate(store, reader, audit, context, contact);
  ReadFieldsAndTags(store, "contacts", reader, TagWrite::kUpdate, contact);
  return errors;
}

std::vector<FieldError> BuildNewCompanyAt(const Store& store, const rapidjson::Value& item,
                                          std::string_view path_prefix, const WriteContext& context,
                                          Company* company) {
  std::vector<FieldError> errors;
  ItemReader reader(item, std::string(path_prefix), &errors);
  *company = Company();
  company->name = reader.String("name").value_or("");
  const AuditFields audit = ReadAuditFields(reader);
  reader.NullableObject("_embedded");
  SetNewAudit(store, reader, audit, context, company);
  ReadFieldsAndTags(store, "companies", reader, TagWrite::kCreate, company);
  return errors;
}

std::vector<FieldError> BuildNewCompany(const Store& store, const rapidjson::Value& item,
                                        const WriteContext& context, Company* company) {
  return BuildNewCompanyAt(store, item, "", context, company);
}

std::vector<FieldError> ApplyCompanyUpdate(const Store& store, const rapidjson::Value& item,
                                           const WriteContext& context, Company* company) {
  std::vector<FieldError> errors;
  ItemReader reader(item, "", &errors);
  if (auto name = reader.String("name")) company->name = *name;
  const AuditFields audit = ReadAuditFields(reader);
  reader.NullableObject("_embedded");
  ApplyAuditUpdate(store, reader, audit, context, company);
  ReadFieldsAndTags(store, "companies", reader, TagWrite::kUpdate, company);
  return errors;
}

std::vector<FieldError> BuildNewNote(const Store& store, const rapidjson::Value& item,
                                     std::string_view entity_type, const WriteContext& context,
                                     Note* note) {
  std::vector<FieldError> errors;
  ItemReader reader(item, "", &errors);
  *note = Note();
  note->entity_type = std::string(entity_type);

  const rapidjson::Value* entity_member = reader.Find("entity_id");
  const std::optional<int64_t> entity_id = reader.Int("entity_id");
  if (entity_member == nullptr || entity_member->IsNull()) {
    reader.Error(kNotBlank, "entity_id", kBlankDetail);
  } else if (entity_id.has_value()) {
    note->entity_id = *entity_id;
    // Kommo's answer for a missing entity is not documented; the emulator names it NotFound.
    if (!store.EntityExists(entity_type, *entity_id)) {
      reader.Error("NotFound", "entity_id", "Entity not found");
    }
  }

  const std::optional<std::string> note_type = reader.String("note_type");
  if (reader.Find("note_type") == nullptr || (note_type.has_value() && note_type->empty())) {
    reader.Error(kNotBlank, "note_type", kBlankDetail);
  }
  note->note_type = note_type.value_or("");

  static const rapidjson::Value kNoParams(rapidjson::kObjectType);
  const rapidjson::Value* params = reader.NullableObject("params");
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  if (note->note_type == "common" || note->note_type == "service_message") {
    ItemReader params_reader(params != nullptr ? *params : kNoParams, reader.Path("params."),
                             &errors);
    const bool service_message = note->note_type == "service_message";
    std::optional<std::string> service;
    if (service_message) {
      service = params_reader.String("service");
      if (params_reader.Find("service") == nullptr || (service.has_value() && service->empty())) {
        params_reader.Error(kNotBlank, "service", kBlankDetail);
      }
    }
    const std::optional<std::string> text = params_reader.String("text");
    if (params_reader.Find("text") == nullptr || (text.has_value() && text->empty())) {
      params_reader.Error(kNotBlank, "text", kBlankDetail);
    }
    w.StartObject();
    if (service_message) {
      w.Key("service");
      const std::string& value = service.has_value() ? *service : std::string();
      w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
    }
    w.Key("text");
    const std::string& value = text.has_value() ? *text : std::string();
    w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
    w.EndObject();
  } else if (params == nullptr) {
    w.StartObject();
    w.EndObject();
  } else if (!NestingAtMost(*params, kMaxParamsNesting)) {
    reader.Error(kInvalidTypeCode, "params", "This value is nested too deeply.");
  } else {
    params->Accept(w);  // other types: stored as sent (depth bounded above)
  }
  note->params_json = std::string(buffer.GetString(), buffer.GetSize());

  const AuditFields audit = ReadAuditFields(reader);
  SetNewAudit(store, reader, audit, context, note);
  return errors;
}

namespace {

// The members of a task that create and update both read; `creating` makes text required.
void ReadTaskMembers(const Store& store, ItemReader& reader, bool creating, Task* task) {
  const rapidjson::Value* text_member = reader.Find("text");
  if (text_member != nullptr && !text_member->IsNull()) {
    const std::optional<std::string> text = reader.String("text");
    if (text.has_value() && absl::StripAsciiWhitespace(*text).empty()) {
      reader.Error(kNotBlank, "text", kBlankDetail);
    } else if (text.has_value()) {
      task->text = *text;
    }
  } else if (creating || text_member != nullptr) {
    reader.Error(kNotBlank, "text", kBlankDetail);
  }

  // Kommo's quirk: complete_till is required on create, whatever else the task says.
  const rapidjson::Value* till = reader.Find("complete_till");
  if (till == nullptr || till->IsNull()) {
    if (creating || till != nullptr) reader.Error(kNotBlank, "complete_till", kBlankDetail);
  } else if (const std::optional<int64_t> value = reader.Int("complete_till")) {
    task->complete_till = *value;
  }

  if (const std::optional<int64_t> type = reader.Int("task_type_id")) {
    if (store.TaskTypeExists(*type)) {
      task->task_type_id = *type;
    } else {
      reader.ChoiceError("task_type_id");
    }
  }
  if (const std::optional<int64_t> duration = reader.Int("duration")) {
    if (*duration < 0) {
      reader.Error(kInvalidTypeCode, "duration",
                   "This value should be greater than or equal to 0.");
    } else {
      task->duration = *duration;
    }
  }
  if (const std::optional<bool> completed = reader.Bool("is_completed")) {
    task->is_completed = *completed;
  }
  // result: {"text": ...}; null (or Kommo's own empty array) records none.
  const rapidjson::Value* result = reader.Find("result");
  if (result != nullptr && (result->IsNull() || (result->IsArray() && result->Empty()))) {
    task->result_text.reset();
  } else if (const rapidjson::Value* object = reader.NullableObject("result")) {
    ItemReader result_reader(*object, reader.Path("result."), reader.errors());
    if (const std::optional<std::string> text = result_reader.String("text")) {
      task->result_text = *text;
    }
  }
}

}  // namespace

std::vector<FieldError> BuildNewTask(const Store& store, const rapidjson::Value& item,
                                     const WriteContext& context, Task* task) {
  std::vector<FieldError> errors;
  ItemReader reader(item, "", &errors);
  *task = Task();
  task->task_type_id = kTaskTypeCall;
  ReadTaskMembers(store, reader, /*creating=*/true, task);

  const rapidjson::Value* type_member = reader.Find("entity_type");
  const rapidjson::Value* id_member = reader.Find("entity_id");
  const bool has_type = type_member != nullptr && !type_member->IsNull();
  const bool has_id = id_member != nullptr && !id_member->IsNull();
  if (has_type || has_id) {
    std::optional<std::string> type = has_type ? reader.String("entity_type") : std::nullopt;
    int64_t entity_id = 0;
    bool id_valid = false;
    if (has_id) {
      if (const std::optional<int64_t> id = reader.Int("entity_id")) {
        entity_id = *id;
        id_valid = true;
      }
    }
    if (!has_type) reader.Error(kNotBlank, "entity_type", kBlankDetail);
    if (!has_id) reader.Error(kNotBlank, "entity_id", kBlankDetail);
    if (type.has_value() && *type != "leads" && *type != "contacts" && *type != "companies") {
      reader.ChoiceError("entity_type");
      type.reset();
    }
    if (type.has_value() && id_valid) {
      task->entity_type = *type;
      task->entity_id = entity_id;
      // As for notes: Kommo's answer for a missing entity is not documented; "NotFound" here.
      if (!store.EntityExists(*type, entity_id)) {
        reader.Error("NotFound", "entity_id", "Entity not found");
      }
    }
  }

  const AuditFields audit = ReadAuditFields(reader);
  SetNewAudit(store, reader, audit, context, task);
  return errors;
}

std::vector<FieldError> ApplyTaskUpdate(const Store& store, const rapidjson::Value& item,
                                        const WriteContext& context, Task* task) {
  std::vector<FieldError> errors;
  ItemReader reader(item, "", &errors);
  ReadTaskMembers(store, reader, /*creating=*/false, task);
  const AuditFields audit = ReadAuditFields(reader);
  ApplyAuditUpdate(store, reader, audit, context, task);
  return errors;
}

}  // namespace kommo::emulator
