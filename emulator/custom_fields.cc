#include "emulator/custom_fields.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "emulator/text.h"
#include "rapidjson/document.h"

namespace kommo::emulator {
namespace {

constexpr char kCountCode[] = "Count";
constexpr char kOneValueDetail[] = "This collection should contain 1 element or less.";
constexpr char kNotExpectedDetail[] = "This field was not expected.";
constexpr int64_t kSecondsPerDay = 86400;

// How the values of a field type are written, stored and read.
enum class Shape {
  kText,       // text, textarea, url
  kNumeric,    // numeric
  kCheckbox,   // checkbox
  kEnum,       // select, radiobutton: one enum
  kMultiEnum,  // multiselect: several enums
  kDate,       // date, birthday: a day
  kDateTime,   // date_time
  kMultitext,  // multitext: several texts, each with its kind (an enum)
};

Shape ShapeOf(const CustomField& field) {
  const std::string& type = field.type;
  if (type == "numeric") return Shape::kNumeric;
  if (type == "checkbox") return Shape::kCheckbox;
  if (type == "select" || type == "radiobutton") return Shape::kEnum;
  if (type == "multiselect") return Shape::kMultiEnum;
  if (type == "date" || type == "birthday") return Shape::kDate;
  if (type == "date_time") return Shape::kDateTime;
  if (type == "multitext") return Shape::kMultitext;
  return Shape::kText;  // text, textarea, url
}

bool TakesSeveralValues(Shape shape) {
  return shape == Shape::kMultiEnum || shape == Shape::kMultitext;
}

// Which of the enum keys a value of this shape may carry.
bool EnumKeyExpected(Shape shape, std::string_view key) {
  switch (shape) {
    case Shape::kEnum:
    case Shape::kMultiEnum:
      return key == "enum_id";
    case Shape::kMultitext:
      return true;
    default:
      return false;
  }
}

// A JSON number as Kommo keeps a numeric value: its decimal text ("12", "12.5").
std::string NumberText(const rapidjson::Value& number) {
  if (number.IsInt64()) return absl::StrCat(number.GetInt64());
  if (number.IsUint64()) return absl::StrCat(number.GetUint64());
  const double d = number.GetDouble();
  if (std::trunc(d) == d && std::fabs(d) < 9e15) {
    return absl::StrCat(static_cast<int64_t>(d));
  }
  rapidjson::StringBuffer buffer;  // the shortest text that reads back as the same double
  JsonWriter w(buffer);
  w.Double(d);
  return std::string(buffer.GetString(), buffer.GetSize());
}

// Midnight UTC of the day `time` falls on.
int64_t StartOfDay(int64_t time) {
  int64_t day = time / kSecondsPerDay;
  if (time % kSecondsPerDay < 0) --day;
  return day * kSecondsPerDay;
}

// The "value" member, which must be present and not null (else NotBlank); nullptr after an error.
const rapidjson::Value* RequiredValue(ItemReader& reader) {
  const rapidjson::Value* value = reader.Find("value");
  if (value == nullptr || value->IsNull()) {
    reader.Error(kNotBlankCode, "value", kNotBlankDetail);
    return nullptr;
  }
  return value;
}

// One element of "values" for `field`; nullopt when it is invalid (errors reported) or says
// nothing (an empty text).
std::optional<FieldValue> ReadValue(const CustomField& field, Shape shape, ItemReader& reader) {
  bool unexpected = false;
  for (const char* key : {"enum_id", "enum_code", "enum"}) {
    if (reader.Find(key) == nullptr || EnumKeyExpected(shape, key)) continue;
    reader.Error(kFieldNotExpectedCode, key, kNotExpectedDetail);
    unexpected = true;
  }
  if (unexpected) return std::nullopt;

  FieldValue out;
  switch (shape) {
    case Shape::kText: {
      if (RequiredValue(reader) == nullptr) return std::nullopt;
      const std::optional<std::string> text = reader.String("value");
      if (!text.has_value() || text->empty()) return std::nullopt;
      out.value = *text;
      return out;
    }
    case Shape::kNumeric: {
      const rapidjson::Value* value = RequiredValue(reader);
      if (value == nullptr) return std::nullopt;
      if (value->IsNumber()) {
        out.value = NumberText(*value);
        return out;
      }
      if (value->IsString()) {
        const std::string text(absl::StripAsciiWhitespace(
            absl::string_view(value->GetString(), value->GetStringLength())));
        double parsed = 0;
        if (!text.empty() && absl::SimpleAtod(text, &parsed) && std::isfinite(parsed)) {
          out.value = text;
          return out;
        }
      }
      reader.TypeError("value", "numeric");
      return std::nullopt;
    }
    case Shape::kCheckbox: {
      if (RequiredValue(reader) == nullptr) return std::nullopt;
      const std::optional<bool> flag = reader.Bool("value");
      if (!flag.has_value()) return std::nullopt;
      out.flag = *flag;
      return out;
    }
    case Shape::kEnum:
    case Shape::kMultiEnum: {
      const FieldEnum* chosen = nullptr;
      if (reader.Find("enum_id") != nullptr) {
        const std::optional<int64_t> enum_id = reader.Int("enum_id");
        if (!enum_id.has_value()) return std::nullopt;
        chosen = field.FindEnum(*enum_id);
        if (chosen == nullptr) {
          reader.ChoiceError("enum_id");
          return std::nullopt;
        }
      } else {
        if (RequiredValue(reader) == nullptr) return std::nullopt;
        const std::optional<std::string> text = reader.String("value");
        if (!text.has_value()) return std::nullopt;
        for (const FieldEnum& e : field.enums) {
          if (e.value == *text) chosen = &e;
        }
        if (chosen == nullptr) {
          reader.ChoiceError("value");
          return std::nullopt;
        }
      }
      out.value = chosen->value;
      out.enum_id = chosen->id;
      return out;
    }
    case Shape::kDate:
    case Shape::kDateTime: {
      const rapidjson::Value* value = RequiredValue(reader);
      if (value == nullptr) return std::nullopt;
      int64_t time = 0;
      bool ok = false;
      if (value->IsInt64()) {
        time = value->GetInt64();
        ok = true;
      } else if (value->IsString()) {
        ok = absl::SimpleAtoi(absl::StripAsciiWhitespace(
                                  absl::string_view(value->GetString(), value->GetStringLength())),
                              &time);
      }
      if (!ok) {
        reader.TypeError("value", "int");
        return std::nullopt;
      }
      out.time = shape == Shape::kDate ? StartOfDay(time) : time;
      return out;
    }
    case Shape::kMultitext: {
      if (RequiredValue(reader) == nullptr) return std::nullopt;
      const std::optional<std::string> text = reader.String("value");
      const FieldEnum* kind = field.enums.empty() ? nullptr : &field.enums.front();
      if (reader.Find("enum_id") != nullptr) {
        const std::optional<int64_t> enum_id = reader.Int("enum_id");
        if (!enum_id.has_value()) return std::nullopt;
        kind = field.FindEnum(*enum_id);
        if (kind == nullptr) {
          reader.ChoiceError("enum_id");
          return std::nullopt;
        }
      } else {
        for (const char* key : {"enum_code", "enum"}) {
          if (reader.Find(key) == nullptr) continue;
          const std::optional<std::string> code = reader.String(key);
          if (!code.has_value()) return std::nullopt;
          kind = field.FindEnumByCode(*code);
          if (kind == nullptr) {
            reader.ChoiceError(key);
            return std::nullopt;
          }
          break;
        }
      }
      if (kind == nullptr || !text.has_value() || text->empty()) return std::nullopt;
      out.value = *text;
      out.enum_id = kind->id;
      return out;
    }
  }
  return std::nullopt;
}

// The field an entry names by field_id or field_code; nullptr after an error.
const CustomField* NamedField(const std::vector<CustomField>& catalogue, ItemReader& reader) {
  if (reader.Find("field_id") != nullptr && !reader.Find("field_id")->IsNull()) {
    const std::optional<int64_t> id = reader.Int("field_id");
    if (!id.has_value()) return nullptr;
    const CustomField* field = Store::FindField(catalogue, *id);
    if (field == nullptr) reader.ChoiceError("field_id");
    return field;
  }
  if (reader.Find("field_code") != nullptr && !reader.Find("field_code")->IsNull()) {
    const std::optional<std::string> code = reader.String("field_code");
    if (!code.has_value()) return nullptr;
    for (const CustomField& field : catalogue) {
      if (!field.code.empty() && EqualsIgnoreCase(field.code, *code)) return &field;
    }
    reader.ChoiceError("field_code");
    return nullptr;
  }
  reader.Error(kNotBlankCode, "field_id", kNotBlankDetail);
  return nullptr;
}

void WriteValue(JsonWriter& w, const CustomField& field, Shape shape, const FieldValue& value) {
  w.StartObject();
  Key(w, "value");
  switch (shape) {
    case Shape::kCheckbox:
      w.Bool(value.flag);
      break;
    case Shape::kDate:
    case Shape::kDateTime:
      w.Int64(value.time);
      break;
    default:
      Str(w, value.value);
      break;
  }
  if (shape == Shape::kEnum || shape == Shape::kMultiEnum || shape == Shape::kMultitext) {
    Key(w, "enum_id");
    w.Int64(value.enum_id);
    Key(w, "enum_code");
    const FieldEnum* e = field.FindEnum(value.enum_id);
    if (shape == Shape::kMultitext && e != nullptr) {
      Str(w, e->value);  // multitext enums are codes (WORK, MOB); select enums have none
    } else {
      w.Null();
    }
  }
  w.EndObject();
}

}  // namespace

FieldValuesUpdate ReadFieldValues(const std::vector<CustomField>& catalogue, ItemReader& reader) {
  FieldValuesUpdate update;
  const rapidjson::Value* member = reader.Find("custom_fields_values");
  if (member != nullptr && member->IsNull()) update.clear_all = true;
  const rapidjson::Value* entries = reader.NullableArray("custom_fields_values");
  if (entries == nullptr) return update;
  for (rapidjson::SizeType i = 0; i < entries->Size(); ++i) {
    const rapidjson::Value& entry = (*entries)[i];
    const std::string entry_key = absl::StrCat("custom_fields_values.", i);
    if (!entry.IsObject()) {
      reader.TypeError(entry_key, "object");
      continue;
    }
    ItemReader entry_reader(entry, reader.Path(absl::StrCat(entry_key, ".")), reader.errors());
    const CustomField* field = NamedField(catalogue, entry_reader);
    if (field == nullptr) continue;
    const Shape shape = ShapeOf(*field);
    // A field named twice gets the values of both entries.
    auto slot = std::find_if(update.fields.begin(), update.fields.end(),
                             [&](const FieldValues& f) { return f.field_id == field->id; });
    if (slot == update.fields.end()) {
      update.fields.push_back(FieldValues{field->id, {}});
      slot = update.fields.end() - 1;
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
      std::optional<FieldValue> read = ReadValue(*field, shape, value_reader);
      if (!read.has_value()) continue;
      if (shape == Shape::kMultiEnum) {  // choosing one option twice chooses it once
        const bool chosen =
            std::any_of(slot->values.begin(), slot->values.end(),
                        [&](const FieldValue& v) { return v.enum_id == read->enum_id; });
        if (chosen) continue;
      }
      slot->values.push_back(*std::move(read));
    }
    if (!TakesSeveralValues(shape) && slot->values.size() > 1) {
      entry_reader.Error(kCountCode, "values", kOneValueDetail);
    }
  }
  return update;
}

void ApplyFieldValues(const std::vector<CustomField>& catalogue, FieldValuesUpdate update,
                      std::vector<FieldValues>* fields) {
  if (update.clear_all) fields->clear();
  for (FieldValues& entry : update.fields) {
    auto it = std::find_if(fields->begin(), fields->end(),
                           [&](const FieldValues& f) { return f.field_id == entry.field_id; });
    if (it != fields->end()) fields->erase(it);
    if (!entry.values.empty()) fields->push_back(std::move(entry));
  }
  auto sort_of = [&catalogue](const FieldValues& f) {
    const CustomField* field = Store::FindField(catalogue, f.field_id);
    return field == nullptr ? 0 : field->sort;
  };
  std::stable_sort(fields->begin(), fields->end(), [&](const FieldValues& a, const FieldValues& b) {
    return sort_of(a) < sort_of(b);
  });
}

void WriteFieldValues(JsonWriter& w, const std::vector<CustomField>& catalogue,
                      const std::vector<FieldValues>& fields) {
  Key(w, "custom_fields_values");
  if (fields.empty()) {
    w.Null();
    return;
  }
  w.StartArray();
  for (const FieldValues& entry : fields) {
    const CustomField* field = Store::FindField(catalogue, entry.field_id);
    if (field == nullptr) continue;
    const Shape shape = ShapeOf(*field);
    w.StartObject();
    Key(w, "field_id");
    w.Int64(field->id);
    Key(w, "field_name");
    Str(w, field->name);
    Key(w, "field_code");
    if (field->code.empty()) {
      w.Null();
    } else {
      Str(w, field->code);
    }
    Key(w, "field_type");
    Str(w, field->type);
    Key(w, "values");
    w.StartArray();
    for (const FieldValue& value : entry.values) WriteValue(w, *field, shape, value);
    w.EndArray();
    Key(w, "is_computed");
    w.Bool(false);
    w.EndObject();
  }
  w.EndArray();
}

}  // namespace kommo::emulator
