#include "server/kommo/write_check.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "server/common/error_details.h"

namespace kommo::rest {
namespace {

using kommo::v1::CustomField;
using kommo::v1::CustomFieldEnum;
using kommo::v1::CustomFieldType;
using kommo::v1::CustomFieldValue;
using kommo::v1::CustomFieldValues;

// Kommo's won and lost stages: the same ids in every pipeline.
constexpr int64_t kWonStatusId = 142;
constexpr int64_t kLostStatusId = 143;

constexpr char kPhoneCode[] = "PHONE";
constexpr char kEmailCode[] = "EMAIL";
constexpr char kDefaultMultitextKind[] = "WORK";

size_t CharacterCount(absl::string_view text) {
  size_t count = 0;
  for (unsigned char c : text) count += (c & 0xC0) != 0x80;
  return count;
}

absl::string_view CollectionName(kommo::v1::EntityType type) {
  switch (type) {
    case kommo::v1::ENTITY_TYPE_CONTACT:
      return "contacts";
    case kommo::v1::ENTITY_TYPE_COMPANY:
      return "companies";
    default:
      return "leads";
  }
}

bool IsEnumType(CustomFieldType type) {
  return type == v1::CUSTOM_FIELD_TYPE_SELECT || type == v1::CUSTOM_FIELD_TYPE_MULTISELECT ||
         type == v1::CUSTOM_FIELD_TYPE_RADIOBUTTON;
}

bool TakesOneValue(CustomFieldType type) {
  return type != v1::CUSTOM_FIELD_TYPE_MULTISELECT && type != v1::CUSTOM_FIELD_TYPE_MULTITEXT;
}

// What a value of each type sets, for messages.
absl::string_view ExpectedMember(CustomFieldType type) {
  switch (type) {
    case v1::CUSTOM_FIELD_TYPE_NUMERIC:
      return "number";
    case v1::CUSTOM_FIELD_TYPE_CHECKBOX:
      return "checkbox";
    case v1::CUSTOM_FIELD_TYPE_DATE:
    case v1::CUSTOM_FIELD_TYPE_DATE_TIME:
    case v1::CUSTOM_FIELD_TYPE_BIRTHDAY:
      return "time";
    case v1::CUSTOM_FIELD_TYPE_SELECT:
    case v1::CUSTOM_FIELD_TYPE_MULTISELECT:
    case v1::CUSTOM_FIELD_TYPE_RADIOBUTTON:
      return "enum_id or text (the choice's value)";
    default:
      return "text";
  }
}

absl::string_view MemberName(CustomFieldValue::ValueCase value_case) {
  switch (value_case) {
    case CustomFieldValue::kText:
      return "text";
    case CustomFieldValue::kNumber:
      return "number";
    case CustomFieldValue::kCheckbox:
      return "checkbox";
    case CustomFieldValue::kTime:
      return "time";
    default:
      return "";
  }
}

CustomFieldValue::ValueCase ExpectedCase(CustomFieldType type) {
  switch (type) {
    case v1::CUSTOM_FIELD_TYPE_NUMERIC:
      return CustomFieldValue::kNumber;
    case v1::CUSTOM_FIELD_TYPE_CHECKBOX:
      return CustomFieldValue::kCheckbox;
    case v1::CUSTOM_FIELD_TYPE_DATE:
    case v1::CUSTOM_FIELD_TYPE_DATE_TIME:
    case v1::CUSTOM_FIELD_TYPE_BIRTHDAY:
      return CustomFieldValue::kTime;
    default:
      return CustomFieldValue::kText;
  }
}

class Checker {
 public:
  void Add(std::string field, std::string description) {
    violations_.push_back({std::move(field), std::move(description)});
  }
  bool empty() const { return violations_.empty(); }
  absl::Status Result() const {
    std::string message = "invalid write: ";
    for (size_t i = 0; i < violations_.size(); ++i) {
      absl::StrAppend(&message, i == 0 ? "" : "; ", violations_[i].field, " ",
                      violations_[i].description);
    }
    return MakeInvalidArgument(message, violations_);
  }

 private:
  std::vector<FieldViolation> violations_;
};

// One value of a field whose type is known; `value` is changed to what is written.
void CheckValue(Checker& checker, const std::string& at, const CustomField& field,
                CustomFieldValue& value) {
  const CustomFieldType type = field.type();
  if (IsEnumType(type)) {
    if (value.value_case() != CustomFieldValue::kText &&
        value.value_case() != CustomFieldValue::VALUE_NOT_SET) {
      checker.Add(absl::StrCat(at, ".", MemberName(value.value_case())),
                  absl::StrCat("is not expected: field ", field.id(), " is a ", field.kommo_type(),
                               " field; set enum_id or text"));
      return;
    }
    if (!value.enum_code().empty()) {
      checker.Add(absl::StrCat(at, ".enum_code"),
                  absl::StrCat("is not expected: only multitext fields take enum_code"));
      return;
    }
    const CustomFieldEnum* by_id = nullptr;
    const CustomFieldEnum* by_text = nullptr;
    for (const CustomFieldEnum& each : field.enums()) {
      if (value.enum_id() != 0 && each.id() == value.enum_id()) by_id = &each;
      if (value.has_text() && each.value() == value.text()) by_text = &each;
    }
    if (value.enum_id() == 0 && !value.has_text()) {
      checker.Add(at, "sets neither enum_id nor text: name one of the field's choices");
      return;
    }
    if (value.enum_id() != 0 && by_id == nullptr) {
      checker.Add(absl::StrCat(at, ".enum_id"),
                  absl::StrCat("is not a choice of field ", field.id(),
                               " (AccountService.ListCustomFields lists them)"));
      return;
    }
    if (value.has_text() && by_text == nullptr) {
      checker.Add(absl::StrCat(at, ".text"),
                  absl::StrCat("is not a choice of field ", field.id(),
                               " (AccountService.ListCustomFields lists them)"));
      return;
    }
    if (by_id != nullptr && by_text != nullptr && by_id != by_text) {
      checker.Add(at, "enum_id and text name different choices");
      return;
    }
    const int64_t enum_id = by_id != nullptr ? by_id->id() : by_text->id();
    value.Clear();
    value.set_enum_id(enum_id);
    return;
  }

  if (type == v1::CUSTOM_FIELD_TYPE_OTHER || type == v1::CUSTOM_FIELD_TYPE_UNSPECIFIED) {
    checker.Add(at, absl::StrCat("cannot be written: field ", field.id(), " has Kommo type ",
                                 field.kommo_type(), ", which this API does not write"));
    return;
  }
  const CustomFieldValue::ValueCase expected = ExpectedCase(type);
  if (value.value_case() != expected) {
    if (value.value_case() == CustomFieldValue::VALUE_NOT_SET) {
      checker.Add(at, absl::StrCat("has no value: field ", field.id(), " is a ", field.kommo_type(),
                                   " field; set ", ExpectedMember(type)));
    } else {
      checker.Add(absl::StrCat(at, ".", MemberName(value.value_case())),
                  absl::StrCat("is not expected: field ", field.id(), " is a ", field.kommo_type(),
                               " field; set ", ExpectedMember(type)));
    }
    return;
  }
  if (type != v1::CUSTOM_FIELD_TYPE_MULTITEXT) {
    if (value.enum_id() != 0) {
      checker.Add(absl::StrCat(at, ".enum_id"),
                  absl::StrCat("is not expected: field ", field.id(), " has no choices"));
    }
    if (!value.enum_code().empty()) {
      checker.Add(absl::StrCat(at, ".enum_code"),
                  "is not expected: only multitext fields take enum_code");
    }
  }
  if (expected == CustomFieldValue::kText) {
    const size_t limit =
        type == v1::CUSTOM_FIELD_TYPE_TEXTAREA ? kMaxTextareaLength : kMaxFieldTextLength;
    const size_t length = CharacterCount(value.text());
    if (length == 0) {
      checker.Add(absl::StrCat(at, ".text"),
                  "must not be empty (list the field with no values to clear it)");
    } else if (length > limit) {
      checker.Add(absl::StrCat(at, ".text"),
                  absl::StrCat("must be at most ", limit, " characters (got ", length, ")"));
    }
  }
  if (type != v1::CUSTOM_FIELD_TYPE_MULTITEXT) return;

  // A multitext value's kind: by code or id, one of the field's choices.
  const CustomFieldEnum* by_id = nullptr;
  const CustomFieldEnum* by_code = nullptr;
  for (const CustomFieldEnum& each : field.enums()) {
    if (value.enum_id() != 0 && each.id() == value.enum_id()) by_id = &each;
    if (value.enum_code().empty()) continue;
    if (each.value() == value.enum_code()) {
      by_code = &each;  // the exact spelling wins
    } else if (by_code == nullptr && absl::EqualsIgnoreCase(each.value(), value.enum_code())) {
      by_code = &each;
    }
  }
  if (value.enum_id() != 0 && by_id == nullptr) {
    checker.Add(absl::StrCat(at, ".enum_id"),
                absl::StrCat("is not a kind of field ", field.id(),
                             " (AccountService.ListCustomFields lists them)"));
  } else if (!value.enum_code().empty() && by_code == nullptr && !field.enums().empty()) {
    checker.Add(absl::StrCat(at, ".enum_code"),
                absl::StrCat("is not a kind of field ", field.id(),
                             " (AccountService.ListCustomFields lists them)"));
  } else if (by_id != nullptr && by_code != nullptr && by_id != by_code) {
    checker.Add(at, "enum_id and enum_code name different kinds");
  } else if (by_code != nullptr) {
    value.set_enum_code(by_code->value());  // "mob" is sent as the catalogue spells it: "MOB"
  } else if (value.enum_id() == 0 && value.enum_code().empty()) {
    bool has_default = field.enums().empty();
    for (const CustomFieldEnum& each : field.enums()) {
      has_default |= each.value() == kDefaultMultitextKind;
    }
    value.set_enum_code(has_default ? kDefaultMultitextKind : field.enums(0).value());
  }
}

void CheckCustomFields(Checker& checker, const WriteReferences& references,
                       const std::vector<CustomField>& catalogue,
                       google::protobuf::RepeatedPtrField<CustomFieldValues>& fields) {
  std::map<int64_t, const CustomField*> by_id;
  std::map<std::string, const CustomField*> by_code;
  for (const CustomField& field : catalogue) {
    by_id[field.id()] = &field;
    if (!field.code().empty()) by_code[field.code()] = &field;
  }
  std::map<int64_t, int> seen;  // field id → index of its first listing
  for (int i = 0; i < fields.size(); ++i) {
    CustomFieldValues& entry = fields[i];
    const std::string at = absl::StrCat("custom_fields[", i, "]");
    const CustomField* field = nullptr;
    if (entry.field_id() != 0) {
      auto it = by_id.find(entry.field_id());
      if (it == by_id.end()) {
        checker.Add(
            absl::StrCat(at, ".field_id"),
            absl::StrCat("is not a custom field of ", CollectionName(references.entity_type),
                         " (AccountService.ListCustomFields lists them)"));
        continue;
      }
      field = it->second;
    } else {
      auto it = by_code.find(entry.field_code());
      if (it == by_code.end()) {  // codes compare without regard to case, exact spelling first
        it = std::find_if(by_code.begin(), by_code.end(), [&entry](const auto& each) {
          return absl::EqualsIgnoreCase(each.first, entry.field_code());
        });
      }
      if (it == by_code.end()) {
        checker.Add(absl::StrCat(at, ".field_code"),
                    absl::StrCat("is not the code of a custom field of ",
                                 CollectionName(references.entity_type),
                                 " (AccountService.ListCustomFields lists them)"));
        continue;
      }
      field = it->second;
    }
    if (!entry.field_code().empty() && !absl::EqualsIgnoreCase(entry.field_code(), field->code())) {
      checker.Add(at, "field_id and field_code name different fields");
      continue;
    }
    auto [first, inserted] = seen.emplace(field->id(), i);
    if (!inserted) {
      checker.Add(at, absl::StrCat("repeats field ", field->id(), " (listed at custom_fields[",
                                   first->second, "])"));
      continue;
    }
    if ((references.phones_given && field->code() == kPhoneCode) ||
        (references.emails_given && field->code() == kEmailCode)) {
      checker.Add(at, absl::StrCat("sets ", field->code(), ", which ",
                                   field->code() == kPhoneCode ? "phones" : "emails",
                                   " sets too: use one of them"));
      continue;
    }
    if (TakesOneValue(field->type()) && entry.values_size() > 1) {
      checker.Add(absl::StrCat(at, ".values"),
                  absl::StrCat("holds ", entry.values_size(), " values; field ", field->id(),
                               " is a ", field->kommo_type(), " field and takes one"));
      continue;
    }
    // Named by id from here on: the catalogue has resolved it.
    entry.set_field_id(field->id());
    entry.clear_field_code();
    entry.clear_field_name();
    entry.clear_field_type();
    std::set<int64_t> chosen;
    for (int j = 0; j < entry.values_size(); ++j) {
      const std::string value_at = absl::StrCat(at, ".values[", j, "]");
      CheckValue(checker, value_at, *field, *entry.mutable_values(j));
      if (IsEnumType(field->type()) && entry.values(j).enum_id() != 0 &&
          !chosen.insert(entry.values(j).enum_id()).second) {
        checker.Add(value_at, "repeats a choice");
      }
    }
  }
}

void CheckPipeline(Checker& checker, const WriteReferences& references,
                   const std::vector<kommo::v1::Pipeline>& pipelines) {
  const kommo::v1::Pipeline* pipeline = nullptr;
  if (references.pipeline_id.has_value()) {
    for (const auto& each : pipelines) {
      if (each.id() == *references.pipeline_id) pipeline = &each;
    }
    if (pipeline == nullptr) {
      checker.Add("pipeline_id",
                  "is not a pipeline of the account (AccountService.ListPipelines lists them)");
      return;
    }
  }
  if (!references.status_id.has_value()) return;
  const int64_t status_id = *references.status_id;
  if (status_id == kWonStatusId || status_id == kLostStatusId) return;
  bool found = false;
  for (const auto& each : pipelines) {
    if (pipeline != nullptr && &each != pipeline) continue;
    for (const auto& stage : each.stages()) found |= stage.id() == status_id;
  }
  if (found) return;
  checker.Add("status_id", pipeline != nullptr
                               ? absl::StrCat("is not a stage of pipeline ", pipeline->id(),
                                              " (AccountService.ListPipelines lists them)")
                               : std::string("is not a stage of any pipeline of the account "
                                             "(AccountService.ListPipelines lists them)"));
}

void CheckUsers(Checker& checker, const WriteReferences& references,
                const std::vector<kommo::v1::User>& users) {
  std::set<int64_t> ids;
  for (const auto& user : users) ids.insert(user.id());
  for (const auto& [field, id] : references.users) {
    if (ids.count(id) == 0) {
      checker.Add(field, "is not a user of the account (AccountService.ListUsers lists them)");
    }
  }
}

}  // namespace

absl::StatusOr<google::protobuf::RepeatedPtrField<CustomFieldValues>> CheckWriteReferences(
    const WriteReferences& references, const CheckCatalogues& catalogues) {
  google::protobuf::RepeatedPtrField<CustomFieldValues> fields = references.custom_fields;
  Checker checker;
  if (catalogues.custom_fields != nullptr) {
    CheckCustomFields(checker, references, *catalogues.custom_fields, fields);
  }
  if (catalogues.pipelines != nullptr) CheckPipeline(checker, references, *catalogues.pipelines);
  if (catalogues.users != nullptr) CheckUsers(checker, references, *catalogues.users);
  if (!checker.empty()) return checker.Result();
  return fields;
}

bool RefusalConcernsCatalogues(const absl::Status& error) {
  if (error.code() != absl::StatusCode::kInvalidArgument) return false;
  const auto info = GetErrorInfo(error);
  if (!info.has_value() || info->reason() != reason::kKommoValidationFailed) return false;
  const auto bad_request = GetBadRequest(error);
  if (!bad_request.has_value()) return false;
  for (const auto& violation : bad_request->field_violations()) {
    const std::string& field = violation.field();
    if (absl::StartsWith(field, "custom_fields") || field == "pipeline_id" ||
        field == "status_id" || field == "responsible_user_id") {
      return true;
    }
  }
  return false;
}

}  // namespace kommo::rest
