#include "client/cli/output.h"

#include <google/protobuf/timestamp.pb.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "kommo/client/errors.h"

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
    case FieldDescriptor::CPPTYPE_ENUM: {
      const google::protobuf::EnumValueDescriptor* value =
          repeated ? reflection.GetRepeatedEnum(message, &field, index)
                   : reflection.GetEnum(message, &field);
      return value->index() == 0 ? "-" : value->name();
    }
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

// "id    31000000001\nname  Website inquiry\n..."
std::string KeyValueTable(const Message& message) {
  const Descriptor& descriptor = *message.GetDescriptor();
  size_t width = 0;
  for (int i = 0; i < descriptor.field_count(); ++i) {
    width = std::max(width, descriptor.field(i)->name().size());
  }
  std::string out;
  for (int i = 0; i < descriptor.field_count(); ++i) {
    const FieldDescriptor& field = *descriptor.field(i);
    const std::string value = FieldValue(message, field);
    // No trailing spaces after a name whose value is empty.
    out += absl::StrCat(value.empty() ? field.name() : Pad(field.name(), width + 2), value, "\n");
  }
  return out;
}

// The columns of a search result: what tells the rows apart.
std::vector<const FieldDescriptor*> Columns(const Descriptor& descriptor) {
  static const auto* const kColumns = new std::map<std::string, std::vector<std::string>>{
      {"kommo.v1.Lead",
       {"id", "name", "price", "pipeline_id", "status_id", "contact_ids", "updated_at"}},
      {"kommo.v1.Contact", {"id", "name", "phones", "emails", "responsible_user_id", "updated_at"}},
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

std::string RowsTable(const Message& response, const FieldDescriptor& list) {
  const Reflection& reflection = *response.GetReflection();
  const int size = reflection.FieldSize(response, &list);
  if (size == 0) return absl::StrCat("no ", list.name(), "\n");
  const std::vector<const FieldDescriptor*> columns = Columns(*list.message_type());
  std::vector<std::vector<std::string>> rows(1);
  for (const FieldDescriptor* column : columns) rows[0].push_back(column->name());
  for (int i = 0; i < size; ++i) {
    const Message& item = reflection.GetRepeatedMessage(response, &list, i);
    std::vector<std::string> row;
    for (const FieldDescriptor* column : columns) row.push_back(FieldValue(item, *column));
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
    out += line + "\n";
  }
  return out;
}

}  // namespace

std::string FormatTable(const Message& response) {
  const Descriptor& descriptor = *response.GetDescriptor();
  const Reflection& reflection = *response.GetReflection();
  std::string out;
  for (int i = 0; i < descriptor.field_count(); ++i) {
    const FieldDescriptor& field = *descriptor.field(i);
    if (field.cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      out += field.is_repeated() ? RowsTable(response, field)
                                 : KeyValueTable(reflection.GetMessage(response, &field));
    }
  }
  if (const FieldDescriptor* token = descriptor.FindFieldByName("next_page_token")) {
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
  return absl::StrCat(rpc, " failed: ", kommo::client::FormatError(status));
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

}  // namespace kommo::cli
