// Validation of POST/PATCH items (leads, contacts, companies, notes), as Kommo reports it: every
// problem is a FieldError with Kommo's code ("InvalidType", "NotSupportedChoice", "NotBlank") and a
// dotted path into the item ("status_id", "_embedded.contacts.0.id",
// "custom_fields_values.1.values.0.enum_code"). Request bodies are untrusted: every member is
// type-checked before it is used.
#ifndef KOMMO_EMULATOR_WRITES_H_
#define KOMMO_EMULATOR_WRITES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "emulator/store.h"
#include "emulator/text.h"
#include "rapidjson/document.h"

namespace kommo::emulator {

struct FieldError {
  std::string code;
  std::string path;
  std::string detail;
};

inline constexpr char kInvalidTypeCode[] = "InvalidType";
inline constexpr char kNotSupportedChoiceCode[] = "NotSupportedChoice";
inline constexpr char kNotBlankCode[] = "NotBlank";
inline constexpr char kNotValidChoiceDetail[] = "The value you selected is not a valid choice.";
inline constexpr char kNotBlankDetail[] = "This value should not be blank.";

struct WriteContext {
  int64_t now;      // Unix seconds
  int64_t user_id;  // the token's user: default responsible user, created_by, updated_by
};

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
    Error(kInvalidTypeCode, key, absl::StrCat("This value should be of type ", AsAbsl(type), "."));
  }
  void ChoiceError(std::string_view key) {
    Error(kNotSupportedChoiceCode, key, kNotValidChoiceDetail);
  }

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

// Every create and update of a lead, contact or company also reads custom_fields_values
// (custom_fields.h) and the tag members tags_to_add, tags_to_delete and _embedded.tags (tags.h)
// against the entity type's catalogues; tags are registered in the store only when the caller
// saves the entity (Store::RegisterTags).

// POST /leads item → a new lead without an id. Empty result: valid.
std::vector<FieldError> BuildNewLead(const Store& store, const rapidjson::Value& item,
                                     const WriteContext& context, Lead* lead);
// The lead's own members only (of `_embedded`, only `tags`: /leads/complex and incoming leads
// read the rest themselves); error paths start with `path_prefix` (e.g. "_embedded.leads.0.").
std::vector<FieldError> BuildNewLeadFields(const Store& store, const rapidjson::Value& item,
                                           std::string_view path_prefix,
                                           const WriteContext& context, Lead* lead);
// PATCH item → applies it to *lead (its current state). `id` and `_embedded` are not read here.
std::vector<FieldError> ApplyLeadUpdate(const Store& store, const rapidjson::Value& item,
                                        const WriteContext& context, Lead* lead);

std::vector<FieldError> BuildNewContact(const Store& store, const rapidjson::Value& item,
                                        const WriteContext& context, Contact* contact);
// A contact inside another item: error paths start with `path_prefix`
// ("_embedded.contacts.0.").
std::vector<FieldError> BuildNewContactAt(const Store& store, const rapidjson::Value& item,
                                          std::string_view path_prefix, const WriteContext& context,
                                          Contact* contact);
std::vector<FieldError> ApplyContactUpdate(const Store& store, const rapidjson::Value& item,
                                           const WriteContext& context, Contact* contact);

// Companies: name, responsible_user_id, the audit members, custom fields and tags.
std::vector<FieldError> BuildNewCompany(const Store& store, const rapidjson::Value& item,
                                        const WriteContext& context, Company* company);
std::vector<FieldError> BuildNewCompanyAt(const Store& store, const rapidjson::Value& item,
                                          std::string_view path_prefix, const WriteContext& context,
                                          Company* company);
std::vector<FieldError> ApplyCompanyUpdate(const Store& store, const rapidjson::Value& item,
                                           const WriteContext& context, Company* company);

// POST /{entity_type}/notes item: entity_id (an existing entity of `entity_type`, else
// "NotFound"), note_type, params (common: text; service_message: service and text; other types:
// any object, stored as sent), created_by, responsible_user_id, created_at, updated_at.
std::vector<FieldError> BuildNewNote(const Store& store, const rapidjson::Value& item,
                                     std::string_view entity_type, const WriteContext& context,
                                     Note* note);

// POST /tasks item: text and complete_till (required: NotBlank when absent), entity_type
// (leads, contacts or companies) with entity_id (an existing entity, else "NotFound"; one without
// the other is NotBlank), task_type_id (1, 2 or the account's own; default 1), duration,
// is_completed, result.text, and the audit members.
std::vector<FieldError> BuildNewTask(const Store& store, const rapidjson::Value& item,
                                     const WriteContext& context, Task* task);
// PATCH /tasks item → applies it to *task: text, complete_till, task_type_id, duration,
// is_completed, result (an object with text; null clears it), and the audit members. `id` is not
// read here.
std::vector<FieldError> ApplyTaskUpdate(const Store& store, const rapidjson::Value& item,
                                        const WriteContext& context, Task* task);

// The item's request_id (a string, or a number rendered as a string), else `fallback`.
std::string RequestIdOf(const rapidjson::Value& item, const std::string& fallback);

}  // namespace kommo::emulator

#endif  // KOMMO_EMULATOR_WRITES_H_
