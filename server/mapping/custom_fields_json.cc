#include "server/mapping/custom_fields_json.h"

#include <cmath>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "server/common/status_macros.h"
#include "server/mapping/account_json.h"

namespace kommo::mapping {
namespace {

using internal::ArrayReader;
using internal::BadResponse;
using internal::JsonWriter;
using internal::MemberPath;
using internal::ObjectReader;
using kommo::v1::CustomFieldType;
using kommo::v1::CustomFieldValue;
using kommo::v1::CustomFieldValues;

// google.protobuf.Timestamp's valid range in seconds (0001-01-01 to 9999-12-31).
constexpr int64_t kMinTimestampSeconds = -62135596800;
constexpr int64_t kMaxTimestampSeconds = 253402300799;
// Doubles in (-2^53, 2^53) that are whole numbers are written as JSON integers.
constexpr double kTwoPow53 = 9007199254740992.0;

absl::string_view StringOf(const rapidjson::Value& value) {
  return absl::string_view(value.GetString(), value.GetStringLength());
}

// A string or a number as text (numbers in decimal, as Kommo shows them).
absl::StatusOr<std::string> TextOf(const rapidjson::Value& value, const std::string& path) {
  if (value.IsString()) {
    const absl::string_view text = StringOf(value);
    if (!internal::IsValidUtf8(text)) return BadResponse(path, "is not valid UTF-8");
    return std::string(text);
  }
  if (value.IsInt64()) return absl::StrCat(value.GetInt64());
  if (value.IsUint64()) return absl::StrCat(value.GetUint64());
  if (value.IsDouble()) return absl::StrCat(value.GetDouble());
  return BadResponse(path, "is not a string or a number");
}

// A number, or a string holding one ("" and blank: no value).
absl::StatusOr<std::optional<double>> NumberOf(const rapidjson::Value& value,
                                               const std::string& path) {
  if (value.IsNumber()) return std::optional<double>(value.GetDouble());
  if (value.IsString()) {
    const absl::string_view text = absl::StripAsciiWhitespace(StringOf(value));
    if (text.empty()) return std::optional<double>();
    double number = 0;
    if (absl::SimpleAtod(text, &number) && std::isfinite(number)) {
      return std::optional<double>(number);
    }
  }
  return BadResponse(path, "is not a number");
}

// A boolean, 0/1, or one of "0", "1", "true", "false" ("": no value).
absl::StatusOr<std::optional<bool>> CheckboxOf(const rapidjson::Value& value,
                                               const std::string& path) {
  if (value.IsBool()) return std::optional<bool>(value.GetBool());
  if (value.IsInt64() && (value.GetInt64() == 0 || value.GetInt64() == 1)) {
    return std::optional<bool>(value.GetInt64() == 1);
  }
  if (value.IsString()) {
    const absl::string_view text = StringOf(value);
    if (text.empty()) return std::optional<bool>();
    if (text == "1" || text == "true") return std::optional<bool>(true);
    if (text == "0" || text == "false") return std::optional<bool>(false);
  }
  return BadResponse(path, "is not a checkbox value");
}

// Unix seconds as a number or a digit string, or an RFC 3339 time ("": no value).
absl::StatusOr<std::optional<int64_t>> SecondsOf(const rapidjson::Value& value,
                                                 const std::string& path) {
  std::optional<int64_t> seconds;
  if (value.IsInt64()) {
    seconds = value.GetInt64();
  } else if (value.IsDouble() && std::fabs(value.GetDouble()) < kTwoPow53) {
    seconds = static_cast<int64_t>(std::llround(value.GetDouble()));
  } else if (value.IsString()) {
    const absl::string_view text = absl::StripAsciiWhitespace(StringOf(value));
    if (text.empty()) return std::optional<int64_t>();
    int64_t parsed = 0;
    absl::Time time;
    std::string error;
    if (absl::SimpleAtoi(text, &parsed)) {
      seconds = parsed;
    } else if (absl::ParseTime(absl::RFC3339_full, text, &time, &error)) {
      seconds = absl::ToUnixSeconds(time);
    }
  }
  if (!seconds.has_value()) return BadResponse(path, "is not a time");
  if (*seconds < kMinTimestampSeconds || *seconds > kMaxTimestampSeconds) {
    return BadResponse(path, "is out of range");
  }
  return seconds;
}

// The `value` member of one value, by the field's type.
absl::Status ReadValueMember(const rapidjson::Value& value, CustomFieldType type,
                             const std::string& path, CustomFieldValue& out) {
  switch (type) {
    case v1::CUSTOM_FIELD_TYPE_NUMERIC: {
      ASSIGN_OR_RETURN(const std::optional<double> number, NumberOf(value, path));
      if (number.has_value()) out.set_number(*number);
      return absl::OkStatus();
    }
    case v1::CUSTOM_FIELD_TYPE_CHECKBOX: {
      ASSIGN_OR_RETURN(const std::optional<bool> checked, CheckboxOf(value, path));
      if (checked.has_value()) out.set_checkbox(*checked);
      return absl::OkStatus();
    }
    case v1::CUSTOM_FIELD_TYPE_DATE:
    case v1::CUSTOM_FIELD_TYPE_DATE_TIME:
    case v1::CUSTOM_FIELD_TYPE_BIRTHDAY: {
      ASSIGN_OR_RETURN(const std::optional<int64_t> seconds, SecondsOf(value, path));
      if (seconds.has_value()) out.mutable_time()->set_seconds(*seconds);
      return absl::OkStatus();
    }
    case v1::CUSTOM_FIELD_TYPE_OTHER:
      // Kommo's other types (addresses, legal entities, files) may hold objects: only plain
      // values are read.
      if (!value.IsString() && !value.IsNumber()) return absl::OkStatus();
      break;
    case v1::CUSTOM_FIELD_TYPE_UNSPECIFIED:
      // No field_type: the JSON type decides; other shapes are not read.
      if (!value.IsString() && !value.IsNumber() && !value.IsBool()) return absl::OkStatus();
      if (value.IsBool()) {
        out.set_checkbox(value.GetBool());
        return absl::OkStatus();
      }
      if (value.IsNumber()) {
        out.set_number(value.GetDouble());
        return absl::OkStatus();
      }
      break;
    default:
      break;
  }
  ASSIGN_OR_RETURN(std::string text, TextOf(value, path));
  out.set_text(std::move(text));
  return absl::OkStatus();
}

absl::Status ReadValue(const ObjectReader& entry, CustomFieldType type, CustomFieldValue& out) {
  const rapidjson::Value* value = entry.Find("value");
  if (value != nullptr && !value->IsNull()) {
    RETURN_IF_ERROR(ReadValueMember(*value, type, MemberPath(entry.path(), "value"), out));
  }
  ASSIGN_OR_RETURN(const int64_t enum_id, entry.Int64("enum_id"));
  out.set_enum_id(enum_id);
  ASSIGN_OR_RETURN(std::string enum_code, entry.String("enum_code"));
  if (enum_code.empty()) {
    // Older bodies: "enum" holds the code (a string) or, in amoCRM's v2 shape, the enum's id.
    const rapidjson::Value* legacy = entry.Find("enum");
    if (legacy != nullptr && legacy->IsString()) {
      ASSIGN_OR_RETURN(enum_code, entry.String("enum"));
    } else if (legacy != nullptr && legacy->IsInt64() && out.enum_id() == 0) {
      out.set_enum_id(legacy->GetInt64());
    }
  }
  out.set_enum_code(std::move(enum_code));
  return absl::OkStatus();
}

// Writes a number as a JSON integer when it is a whole number that fits, else as a double.
void WriteNumber(JsonWriter& json, double number) {
  if (std::isfinite(number) && std::trunc(number) == number && std::fabs(number) < kTwoPow53) {
    json.Int64(static_cast<int64_t>(number));
  } else if (std::isfinite(number)) {
    json.Double(number);
  } else {
    json.Null();  // refused by validation before it gets here
  }
}

void WriteValue(JsonWriter& json, const CustomFieldValue& value) {
  json.StartObject();
  switch (value.value_case()) {
    case CustomFieldValue::kText:
      json.Member("value", value.text());
      break;
    case CustomFieldValue::kNumber:
      json.Key("value");
      WriteNumber(json, value.number());
      break;
    case CustomFieldValue::kCheckbox:
      json.Key("value");
      json.Bool(value.checkbox());
      break;
    case CustomFieldValue::kTime:
      json.Member("value", value.time().seconds());
      break;
    case CustomFieldValue::VALUE_NOT_SET:
      break;
  }
  if (value.enum_id() != 0) json.Member("enum_id", value.enum_id());
  if (!value.enum_code().empty()) json.Member("enum_code", value.enum_code());
  json.EndObject();
}

void WriteTagList(JsonWriter& json, const char* key,
                  const google::protobuf::RepeatedPtrField<std::string>& names) {
  if (names.empty()) return;
  json.Key(key);
  json.StartArray();
  for (const std::string& name : names) {
    json.StartObject();
    json.Member("name", name);
    json.EndObject();
  }
  json.EndArray();
}

}  // namespace

absl::Status ReadCustomFieldsValues(const ObjectReader& object,
                                    google::protobuf::RepeatedPtrField<CustomFieldValues>* out) {
  // Kommo's other integrations leave odd shapes behind (tracking fields, legacy values): an entry
  // or a value that is not an object, or values that are not an array, is skipped rather than
  // failing the whole entity; what is read is type-checked.
  const rapidjson::Value* all = object.Find("custom_fields_values");
  if (all == nullptr || !all->IsArray()) return absl::OkStatus();
  ASSIGN_OR_RETURN(const ArrayReader fields,
                   ArrayReader::Make(*all, MemberPath(object.path(), "custom_fields_values")));
  for (size_t i = 0; i < fields.size(); ++i) {
    if (!fields.At(i).IsObject()) continue;
    ASSIGN_OR_RETURN(const ObjectReader field, fields.ObjectAt(i));
    CustomFieldValues* read = out->Add();
    ASSIGN_OR_RETURN(const int64_t field_id, field.Int64("field_id"));
    read->set_field_id(field_id);
    ASSIGN_OR_RETURN(std::string field_code, field.String("field_code"));
    read->set_field_code(std::move(field_code));
    ASSIGN_OR_RETURN(std::string field_name, field.String("field_name"));
    read->set_field_name(std::move(field_name));
    ASSIGN_OR_RETURN(const std::string field_type, field.String("field_type"));
    const CustomFieldType type =
        field_type.empty() ? v1::CUSTOM_FIELD_TYPE_UNSPECIFIED : CustomFieldTypeOf(field_type);
    read->set_field_type(type);
    const rapidjson::Value* list = field.Find("values");
    if (list == nullptr || !list->IsArray()) continue;
    ASSIGN_OR_RETURN(const ArrayReader values,
                     ArrayReader::Make(*list, MemberPath(field.path(), "values")));
    for (size_t j = 0; j < values.size(); ++j) {
      if (!values.At(j).IsObject()) continue;
      ASSIGN_OR_RETURN(const ObjectReader entry, values.ObjectAt(j));
      RETURN_IF_ERROR(ReadValue(entry, type, *read->add_values()));
    }
  }
  return absl::OkStatus();
}

absl::Status ReadTags(const ObjectReader& object,
                      google::protobuf::RepeatedPtrField<kommo::v1::Tag>* out) {
  ASSIGN_OR_RETURN(const std::optional<ObjectReader> embedded, object.Object("_embedded"));
  if (!embedded.has_value()) return absl::OkStatus();
  // Tags are informative: a list of another shape is not read (as before tags were read at all).
  const rapidjson::Value* list = embedded->Find("tags");
  if (list == nullptr || !list->IsArray()) return absl::OkStatus();
  ASSIGN_OR_RETURN(const ArrayReader tags,
                   ArrayReader::Make(*list, MemberPath(embedded->path(), "tags")));
  for (size_t i = 0; i < tags.size(); ++i) {
    if (!tags.At(i).IsObject()) continue;
    ASSIGN_OR_RETURN(const ObjectReader tag, tags.ObjectAt(i));
    kommo::v1::Tag* read = out->Add();
    ASSIGN_OR_RETURN(const int64_t id, tag.Int64("id"));
    read->set_id(id);
    ASSIGN_OR_RETURN(std::string name, tag.String("name"));
    read->set_name(std::move(name));
  }
  return absl::OkStatus();
}

void WriteCustomFieldEntry(JsonWriter& json, const CustomFieldValues& field) {
  json.StartObject();
  if (field.field_id() != 0) {
    json.Member("field_id", field.field_id());
  } else {
    json.Member("field_code", field.field_code());
  }
  json.Key("values");
  if (field.values().empty()) {
    json.Null();
  } else {
    json.StartArray();
    for (const CustomFieldValue& value : field.values()) WriteValue(json, value);
    json.EndArray();
  }
  json.EndObject();
}

void WriteCustomFieldsMember(JsonWriter& json,
                             const google::protobuf::RepeatedPtrField<CustomFieldValues>& fields) {
  if (fields.empty()) return;
  json.Key("custom_fields_values");
  json.StartArray();
  for (const CustomFieldValues& field : fields) WriteCustomFieldEntry(json, field);
  json.EndArray();
}

void WriteTagChanges(JsonWriter& json,
                     const google::protobuf::RepeatedPtrField<std::string>& to_add,
                     const google::protobuf::RepeatedPtrField<std::string>& to_remove) {
  WriteTagList(json, "tags_to_add", to_add);
  WriteTagList(json, "tags_to_delete", to_remove);
}

std::optional<std::string> CustomFieldsFieldFromKommoPath(absl::string_view path, size_t offset) {
  const std::vector<absl::string_view> segments = absl::StrSplit(path, '.');
  if (segments[0] == "tags_to_add" || segments[0] == "tags_to_delete") {
    const char* field = segments[0] == "tags_to_add" ? "tags_to_add" : "tags_to_remove";
    if (segments.size() == 1) return std::string(field);
    const std::optional<size_t> index = internal::ParsePathIndex(segments[1]);
    if (!index.has_value() || segments.size() > 3) return std::nullopt;
    if (segments.size() == 3 && segments[2] != "name" && segments[2] != "id") return std::nullopt;
    return absl::StrCat(field, "[", *index, "]");
  }
  if (segments[0] != "custom_fields_values") return std::nullopt;
  if (segments.size() == 1) return std::string("custom_fields");
  const std::optional<size_t> entry = internal::ParsePathIndex(segments[1]);
  if (!entry.has_value() || *entry < offset) return std::nullopt;
  const std::string field = absl::StrCat("custom_fields[", *entry - offset, "]");
  if (segments.size() == 2) return field;
  if (segments.size() == 3 &&
      (segments[2] == "field_id" || segments[2] == "field_code" || segments[2] == "values")) {
    return field;
  }
  if (segments[2] != "values" || segments.size() > 5) return std::nullopt;
  const std::optional<size_t> value = internal::ParsePathIndex(segments[3]);
  if (!value.has_value()) return std::nullopt;
  const std::string at = absl::StrCat(field, ".values[", *value, "]");
  if (segments.size() == 4 || segments[4] == "value") return at;
  if (segments[4] == "enum_id") return absl::StrCat(at, ".enum_id");
  if (segments[4] == "enum_code" || segments[4] == "enum") return absl::StrCat(at, ".enum_code");
  return std::nullopt;
}

}  // namespace kommo::mapping
