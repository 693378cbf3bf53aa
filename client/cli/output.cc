#include "client/cli/output.h"

#include <google/protobuf/timestamp.pb.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "kommo/client/errors.h"
#include "kommo/v1/custom_field.pb.h"
#include "kommo/v1/lead_service.pb.h"

namespace kommo::cli {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// Server-provided text reaches a terminal: no control characters (escape sequences).
std::string Printable(std::string text) {
  for (char& c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) c = '?';
  }
  return text;
}

// Columns a text occupies: UTF-8 code points (names are often Cyrillic or accented).
size_t DisplayWidth(const std::string& text) {
  return static_cast<size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

std::string Pad(const std::string& text, size_t width) {
  const size_t shown = DisplayWidth(text);
  return shown >= width ? text : text + std::string(width - shown, ' ');
}

bool IsTimestamp(const FieldDescriptor& field) {
  return field.cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE &&
         field.message_type()->full_name() == "google.protobuf.Timestamp";
}

// One custom field value as shown: its text, number, yes/no or time, a choice's id when it has
// no text, and a multitext value's kind in parentheses.
std::string CustomValueText(const kommo::v1::CustomFieldValue& value) {
  std::string out;
  switch (value.value_case()) {
    case kommo::v1::CustomFieldValue::kText:
      out = Printable(value.text());
      break;
    case kommo::v1::CustomFieldValue::kNumber:
      out = absl::StrCat(value.number());
      break;
    case kommo::v1::CustomFieldValue::kCheckbox:
      out = value.checkbox() ? "true" : "false";
      break;
    case kommo::v1::CustomFieldValue::kTime:
      out = google::protobuf::util::TimeUtil::ToString(value.time());
      break;
    default:
      break;
  }
  if (out.empty() && value.enum_id() != 0) out = absl::StrCat("#", value.enum_id());
  if (!value.enum_code().empty()) absl::StrAppend(&out, " (", Printable(value.enum_code()), ")");
  return out;
}

// A custom field with its values: "UTM_SOURCE 1012=google", "Tier 1013=Gold", "1014=-" (cleared).
std::string CustomFieldBrief(const Message& message) {
  kommo::v1::CustomFieldValues field;
  field.CopyFrom(message);
  std::string name =
      Printable(field.field_code().empty() ? field.field_name() : field.field_code());
  std::vector<std::string> values;
  for (const auto& value : field.values()) values.push_back(CustomValueText(value));
  return absl::StrCat(name, name.empty() ? "" : " ", field.field_id(), "=",
                      values.empty() ? "-" : absl::StrJoin(values, "|"));
}

// A message inside a value, in a few words: "id name" (or "id value"), e.g. a user group
// "400001 Sales" or a custom field's enum "1200002 Pro".
std::string Brief(const Message& message) {
  const Descriptor& descriptor = *message.GetDescriptor();
  if (descriptor.full_name() == "kommo.v1.CustomFieldValues") return CustomFieldBrief(message);
  const Reflection& reflection = *message.GetReflection();
  std::string out;
  for (const char* name : {"id", "name", "value"}) {
    const FieldDescriptor* field = descriptor.FindFieldByName(name);
    if (field == nullptr || field->is_repeated()) continue;
    std::string part;
    if (field->cpp_type() == FieldDescriptor::CPPTYPE_INT64) {
      part = absl::StrCat(reflection.GetInt64(message, field));
    } else if (field->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
      part = Printable(reflection.GetString(message, field));
    }
    if (!part.empty()) absl::StrAppend(&out, out.empty() ? "" : " ", part);
  }
  return out.empty() ? "?" : out;
}

std::string ScalarValue(const Message& message, const FieldDescriptor& field, int index) {
  const Reflection& reflection = *message.GetReflection();
  const bool repeated = field.is_repeated();
  switch (field.cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT64:
      return absl::StrCat(repeated ? reflection.GetRepeatedInt64(message, &field, index)
                                   : reflection.GetInt64(message, &field));
    case FieldDescriptor::CPPTYPE_INT32:
      return absl::StrCat(repeated ? reflection.GetRepeatedInt32(message, &field, index)
                                   : reflection.GetInt32(message, &field));
    case FieldDescriptor::CPPTYPE_BOOL:
      return (repeated ? reflection.GetRepeatedBool(message, &field, index)
                       : reflection.GetBool(message, &field))
                 ? "true"
                 : "false";
    case FieldDescriptor::CPPTYPE_STRING:
      return Printable(repeated ? reflection.GetRepeatedString(message, &field, index)
                                : reflection.GetString(message, &field));
    case FieldDescriptor::CPPTYPE_ENUM:
      // The value's name, as in proto JSON: "OUTCOME_CREATED", "ENTITY_TYPE_LEAD".
      return (repeated ? reflection.GetRepeatedEnum(message, &field, index)
                       : reflection.GetEnum(message, &field))
          ->name();
    case FieldDescriptor::CPPTYPE_MESSAGE:
      if (!IsTimestamp(field)) {
        return Brief(repeated ? reflection.GetRepeatedMessage(message, &field, index)
                              : reflection.GetMessage(message, &field));
      }
      [[fallthrough]];
    default:
      if (IsTimestamp(field) && !repeated) {
        if (!reflection.HasField(message, &field)) return "-";
        google::protobuf::Timestamp timestamp;
        timestamp.CopyFrom(reflection.GetMessage(message, &field));
        return google::protobuf::util::TimeUtil::ToString(timestamp);
      }
      return "?";
  }
}

std::string FieldValue(const Message& message, const FieldDescriptor& field) {
  if (!field.is_repeated()) return ScalarValue(message, field, 0);
  const int size = message.GetReflection()->FieldSize(message, &field);
  if (size == 0) return "-";
  std::vector<std::string> values;
  for (int i = 0; i < size; ++i) values.push_back(ScalarValue(message, field, i));
  return absl::StrJoin(values, ", ");
}

// One message's fields as (name, value) rows; a sub-message's fields are named "form.form_id".
// Text keeps its line breaks as '\n' (KeyValueTable indents the lines after the first); other
// control characters are replaced.
void AppendFields(const Message& message, const std::string& prefix,
                  std::vector<std::pair<std::string, std::string>>& rows) {
  const Descriptor& descriptor = *message.GetDescriptor();
  const Reflection& reflection = *message.GetReflection();
  for (int i = 0; i < descriptor.field_count(); ++i) {
    const FieldDescriptor& field = *descriptor.field(i);
    const std::string name = prefix + field.name();
    if (field.cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && !field.is_repeated() &&
        !IsTimestamp(field)) {
      AppendFields(reflection.GetMessage(message, &field), name + ".", rows);
    } else if (field.cpp_type() == FieldDescriptor::CPPTYPE_STRING && !field.is_repeated()) {
      std::vector<std::string> lines = absl::StrSplit(reflection.GetString(message, &field), '\n');
      // A text ending in a line break (a transcript) shows no empty last line.
      while (lines.size() > 1 && lines.back().empty()) lines.pop_back();
      for (std::string& line : lines) line = Printable(std::move(line));
      rows.emplace_back(name, absl::StrJoin(lines, "\n"));
    } else {
      rows.emplace_back(name, FieldValue(message, field));
    }
  }
}

// "id    31000000001\nname  Website inquiry\n..."
std::string KeyValueTable(const std::vector<std::pair<std::string, std::string>>& rows) {
  size_t width = 0;
  for (const auto& row : rows) width = std::max(width, row.first.size());
  const std::string indent(width + 2, ' ');
  std::string out;
  for (const auto& [name, value] : rows) {
    // No trailing spaces after a name whose value is empty.
    out += absl::StrCat(value.empty() ? name : Pad(name, width + 2),
                        absl::StrReplaceAll(value, {{"\n", "\n" + indent}}), "\n");
  }
  return out;
}

// The columns of a search result: what tells the rows apart.
std::vector<const FieldDescriptor*> Columns(const Descriptor& descriptor) {
  static const auto* const kColumns = new std::map<std::string, std::vector<std::string>>{
      {"kommo.v1.Lead",
       {"id", "name", "price", "pipeline_id", "status_id", "contact_ids", "updated_at"}},
      {"kommo.v1.Contact", {"id", "name", "phones", "emails", "responsible_user_id", "updated_at"}},
      {"kommo.v1.Company", {"id", "name", "responsible_user_id", "tags", "updated_at"}},
      {"kommo.v1.Link", {"entity_type", "entity_id", "to_entity_type", "to_entity_id", "is_main"}},
      {"kommo.v1.IncomingLead",
       {"uid", "source_name", "category", "pipeline_id", "lead_id", "contact_id", "created_at"}},
      {"kommo.v1.Note", {"id", "kind", "service", "created_by", "updated_at", "text"}},
      {"kommo.v1.User", {"id", "name", "email", "is_admin", "is_active", "group_id"}},
      {"kommo.v1.CustomField", {"id", "name", "code", "kommo_type", "sort", "enums"}},
      {"kommo.v1.LossReason", {"id", "name", "sort"}},
      {"kommo.v1.Stage", {"id", "name", "kind", "sort"}},
      {"kommo.v1.Task",
       {"id", "due_at", "completed", "entity_type", "entity_id", "responsible_user_id", "text"}},
  };
  std::vector<const FieldDescriptor*> columns;
  const auto known = kColumns->find(descriptor.full_name());
  if (known != kColumns->end()) {
    for (const std::string& name : known->second) {
      if (const FieldDescriptor* field = descriptor.FindFieldByName(name)) {
        columns.push_back(field);
      }
    }
    return columns;
  }
  for (int i = 0; i < descriptor.field_count(); ++i) columns.push_back(descriptor.field(i));
  return columns;
}

// A value in a row: on one line; a note's text cut to its first 60 characters.
std::string Cell(const Message& item, const FieldDescriptor& column) {
  constexpr size_t kMaxText = 60;
  if (column.name() != "text" || column.cpp_type() != FieldDescriptor::CPPTYPE_STRING) {
    return FieldValue(item, column);
  }
  std::string text = item.GetReflection()->GetString(item, &column);
  std::replace_if(
      text.begin(), text.end(), [](char c) { return c == '\n' || c == '\r' || c == '\t'; }, ' ');
  text = Printable(std::move(text));
  text.erase(text.find_last_not_of(' ') + 1);  // a transcript's last line break
  if (DisplayWidth(text) <= kMaxText) return text;
  size_t end = 0;
  for (size_t shown = 0; end < text.size(); ++end) {
    if ((static_cast<unsigned char>(text[end]) & 0xC0) != 0x80 && ++shown > kMaxText) break;
  }
  return text.substr(0, end) + "...";
}

std::string RowsTable(const Message& response, const FieldDescriptor& list,
                      const std::string& indent = "") {
  const Reflection& reflection = *response.GetReflection();
  const int size = reflection.FieldSize(response, &list);
  if (size == 0) return absl::StrCat(indent, "no ", list.name(), "\n");
  const std::vector<const FieldDescriptor*> columns = Columns(*list.message_type());
  std::vector<std::vector<std::string>> rows(1);
  for (const FieldDescriptor* column : columns) rows[0].push_back(column->name());
  for (int i = 0; i < size; ++i) {
    const Message& item = reflection.GetRepeatedMessage(response, &list, i);
    std::vector<std::string> row;
    for (const FieldDescriptor* column : columns) row.push_back(Cell(item, *column));
    rows.push_back(std::move(row));
  }
  std::vector<size_t> widths(columns.size(), 0);
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], DisplayWidth(row[c]));
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      line += c + 1 == row.size() ? row[c] : Pad(row[c], widths[c] + 2);
    }
    out += indent + line + "\n";
  }
  return out;
}

// Pipelines: a line per pipeline, then its stages as rows beneath it.
std::string PipelinesTable(const Message& response, const FieldDescriptor& list) {
  const Reflection& reflection = *response.GetReflection();
  const int size = reflection.FieldSize(response, &list);
  if (size == 0) return "no pipelines\n";
  std::string out;
  for (int i = 0; i < size; ++i) {
    const Message& pipeline = reflection.GetRepeatedMessage(response, &list, i);
    const Descriptor& descriptor = *pipeline.GetDescriptor();
    auto value = [&](const char* name) {
      return FieldValue(pipeline, *descriptor.FindFieldByName(name));
    };
    std::string flags;
    if (value("is_main") == "true") flags += ", main";
    if (value("is_archived") == "true") flags += ", archived";
    absl::StrAppend(&out, i == 0 ? "" : "\n", "pipeline ", value("id"), "  ", value("name"),
                    flags.empty() ? "" : absl::StrCat("  (", flags.substr(2), ")"), "\n");
    out += RowsTable(pipeline, *descriptor.FindFieldByName("stages"), "  ");
  }
  return out;
}

}  // namespace

std::string FormatTable(const Message& response) {
  const Descriptor& descriptor = *response.GetDescriptor();
  const Reflection& reflection = *response.GetReflection();
  // A response with nothing in it (UnlinkEntities): that the call succeeded is all it says.
  if (descriptor.field_count() == 0) return "ok\n";
  // One entity: its fields, unprefixed. Several (a lead and its contact): "lead.id", "contact.id".
  int entities = 0;
  for (int i = 0; i < descriptor.field_count(); ++i) {
    const FieldDescriptor& field = *descriptor.field(i);
    if (field.cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && !field.is_repeated() &&
        !IsTimestamp(field)) {
      ++entities;
    }
  }
  std::string out;
  std::vector<std::pair<std::string, std::string>> rows;
  const FieldDescriptor* token = descriptor.FindFieldByName("next_page_token");
  for (int i = 0; i < descriptor.field_count(); ++i) {
    const FieldDescriptor& field = *descriptor.field(i);
    if (&field == token) continue;
    if (field.cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && field.is_repeated()) {
      out += field.message_type()->full_name() == "kommo.v1.Pipeline"
                 ? PipelinesTable(response, field)
                 : RowsTable(response, field);
    } else if (IsTimestamp(field)) {
      // fetch_time: when the server read the data from Kommo.
      if (reflection.HasField(response, &field)) {
        rows.emplace_back(field.name(), FieldValue(response, field));
      }
    } else if (field.cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      AppendFields(reflection.GetMessage(response, &field), entities > 1 ? field.name() + "." : "",
                   rows);
    } else {
      // outcome, contact_merged, uid: after the entity they describe.
      rows.emplace_back(field.name(), FieldValue(response, field));
    }
  }
  out += KeyValueTable(rows);
  if (token != nullptr) {
    const std::string value = reflection.GetString(response, token);
    out += value.empty() ? "(last page)\n"
                         : absl::StrCat("next page: --page_token=", Printable(value), "\n");
  }
  return out;
}

std::string FormatJson(const Message& response) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(response, &json, options).ok()) return "";
  return json;
}

std::string FormatErrorText(const std::string& rpc, const grpc::Status& status) {
  std::string text = absl::StrCat(rpc, " failed: ", kommo::client::FormatError(status));
  // CONTACT_AMBIGUOUS: the contacts to choose from (or to merge), one per line.
  if (kommo::client::ReasonOf(status) == kommo::v1::ERROR_REASON_CONTACT_AMBIGUOUS) {
    const std::optional<google::rpc::ErrorInfo> info = kommo::client::GetErrorInfo(status);
    const auto ids = info->metadata().find("candidate_ids");
    if (ids != info->metadata().end()) {
      for (const absl::string_view id : absl::StrSplit(ids->second, ',', absl::SkipEmpty())) {
        absl::StrAppend(&text, "\n  candidate contact: ", Printable(std::string(id)),
                        "  (kommo-cli contacts get --contact_id=", Printable(std::string(id)), ")");
      }
    }
  }
  return text;
}

std::string FormatErrorJson(const grpc::Status& status) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string json;
  if (std::optional<google::rpc::Status> rpc_status = kommo::client::GetRpcStatus(status)) {
    if (google::protobuf::util::MessageToJsonString(*rpc_status, &json, options).ok()) {
      return json;
    }
  }
  google::rpc::Status plain;
  plain.set_code(static_cast<int>(status.error_code()));
  plain.set_message(status.error_message());
  json.clear();
  (void)google::protobuf::util::MessageToJsonString(plain, &json, options);
  return json;
}

namespace {

std::string TimeText(const Message& message, const char* field_name) {
  const google::protobuf::FieldDescriptor* field =
      message.GetDescriptor()->FindFieldByName(field_name);
  if (field == nullptr || !message.GetReflection()->HasField(message, field)) return "-";
  const auto& time = static_cast<const google::protobuf::Timestamp&>(
      message.GetReflection()->GetMessage(message, field));
  return google::protobuf::util::TimeUtil::ToString(time);
}

std::string StageText(const Message& change, const char* field_name) {
  const google::protobuf::FieldDescriptor* field =
      change.GetDescriptor()->FindFieldByName(field_name);
  if (field == nullptr || !change.GetReflection()->HasField(change, field)) return "-";
  const auto& stage = static_cast<const kommo::v1::PipelineStage&>(
      change.GetReflection()->GetMessage(change, field));
  return absl::StrCat(stage.pipeline_id(), ":", stage.status_id());
}

}  // namespace

bool IsChange(const Message& response) {
  const google::protobuf::FieldDescriptor* field =
      response.GetDescriptor()->FindFieldByName("change");
  return field != nullptr && response.GetReflection()->HasField(response, field);
}

std::string FormatStreamLine(const Message& response, bool json) {
  if (json) return FormatJson(response);
  const google::protobuf::Reflection* reflection = response.GetReflection();
  const google::protobuf::Descriptor* descriptor = response.GetDescriptor();
  const std::string token =
      reflection->GetString(response, descriptor->FindFieldByName("resume_token"));
  if (!IsChange(response)) {
    const Message& heartbeat =
        reflection->GetMessage(response, descriptor->FindFieldByName("heartbeat"));
    return absl::StrCat("HEARTBEAT  up to ", TimeText(heartbeat, "time"), "  resume_token=", token);
  }
  const Message& change = reflection->GetMessage(response, descriptor->FindFieldByName("change"));
  const google::protobuf::Reflection* fields = change.GetReflection();
  const google::protobuf::Descriptor* type = change.GetDescriptor();
  const google::protobuf::FieldDescriptor* lead_id = type->FindFieldByName("lead_id");
  const bool lead = lead_id != nullptr;
  const int64_t id = fields->GetInt64(change, lead ? lead_id : type->FindFieldByName("contact_id"));
  absl::string_view kind = fields->GetEnum(change, type->FindFieldByName("kind"))->name();
  absl::ConsumePrefix(&kind, "CHANGE_KIND_");
  std::string line = absl::StrCat(
      kind, "  ", lead ? "lead " : "contact ", id, "  at ", TimeText(change, "change_time"),
      "  by ", fields->GetInt64(change, type->FindFieldByName("changed_by")), "  ",
      fields->GetString(change, type->FindFieldByName("event_type")));
  if (lead && StageText(change, "stage_after") != "-") {
    absl::StrAppend(&line, "  stage ", StageText(change, "stage_before"), " -> ",
                    StageText(change, "stage_after"));
  }
  const int64_t responsible_after =
      fields->GetInt64(change, type->FindFieldByName("responsible_user_after"));
  if (responsible_after != 0) {
    absl::StrAppend(&line, "  responsible ",
                    fields->GetInt64(change, type->FindFieldByName("responsible_user_before")),
                    " -> ", responsible_after);
  }
  const google::protobuf::FieldDescriptor* entity =
      type->FindFieldByName(lead ? "lead" : "contact");
  if (entity != nullptr && fields->HasField(change, entity)) {
    const Message& now = fields->GetMessage(change, entity);
    absl::StrAppend(
        &line, "  name=\"",
        now.GetReflection()->GetString(now, now.GetDescriptor()->FindFieldByName("name")), "\"");
  }
  absl::StrAppend(&line, "  resume_token=", token);
  return line;
}

}  // namespace kommo::cli
