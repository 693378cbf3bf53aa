#include "server/api/audit.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/common/error_details.h"
#include "server/common/log.h"

namespace kommo::api {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// Id fields that name a setting of the entity, not the entity written.
bool IsSettingId(absl::string_view name) {
  for (absl::string_view setting :
       {"pipeline_id", "status_id", "responsible_user_id", "loss_reason_id", "created_by",
        "source_id", "field_id", "enum_id", "task_type_id", "user_id", "request_id"}) {
    if (name == setting) return true;
  }
  return false;
}

void Add(AuditIds* ids, std::string key, std::string value) {
  const std::pair<std::string, std::string> entry{std::move(key), std::move(value)};
  if (std::find(ids->begin(), ids->end(), entry) == ids->end()) ids->push_back(entry);
}

}  // namespace

void AddRequestIds(const Message& request, AuditIds* ids) {
  const Reflection* reflection = request.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(request, &fields);
  for (const FieldDescriptor* field : fields) {
    const std::string& name = field->name();
    const bool entity_id = name == "id" || name == "uid" ||
                           (absl::EndsWith(name, "_id") && !IsSettingId(name)) ||
                           (absl::EndsWith(name, "_uid"));
    if (field->is_repeated()) {
      if (!absl::EndsWith(name, "_ids") || IsSettingId(name.substr(0, name.size() - 1))) continue;
      if (field->cpp_type() != FieldDescriptor::CPPTYPE_INT64) continue;
      std::string joined;
      for (int i = 0; i < reflection->FieldSize(request, field); ++i) {
        absl::StrAppend(&joined, i == 0 ? "" : ",",
                        reflection->GetRepeatedInt64(request, field, i));
      }
      Add(ids, name, joined);
      continue;
    }
    if (entity_id && field->cpp_type() == FieldDescriptor::CPPTYPE_INT64) {
      Add(ids, name, absl::StrCat(reflection->GetInt64(request, field)));
    } else if (entity_id && field->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
      Add(ids, name, reflection->GetString(request, field));
    } else if (absl::EndsWith(name, "entity_type") &&
               field->cpp_type() == FieldDescriptor::CPPTYPE_ENUM) {
      Add(ids, name, reflection->GetEnum(request, field)->name());
    }
  }
}

void AddResponseIds(const Message& response, AuditIds* ids) {
  const Reflection* reflection = response.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(response, &fields);
  for (const FieldDescriptor* field : fields) {
    if (field->is_repeated() || field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) continue;
    const Message& entity = reflection->GetMessage(response, field);
    for (const char* key : {"id", "uid"}) {
      const FieldDescriptor* id = entity.GetDescriptor()->FindFieldByName(key);
      if (id == nullptr || !entity.GetReflection()->HasField(entity, id)) continue;
      if (id->cpp_type() == FieldDescriptor::CPPTYPE_INT64) {
        Add(ids, absl::StrCat(field->name(), "_", key),
            absl::StrCat(entity.GetReflection()->GetInt64(entity, id)));
      } else if (id->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
        Add(ids, absl::StrCat(field->name(), "_", key),
            entity.GetReflection()->GetString(entity, id));
      }
    }
  }
}

void AddErrorIds(const absl::Status& status, AuditIds* ids) {
  if (status.ok()) return;
  std::optional<google::rpc::ErrorInfo> info = GetErrorInfo(status);
  if (!info.has_value()) return;
  for (const auto& [key, value] : info->metadata()) {
    if ((absl::EndsWith(key, "_id") && !IsSettingId(key)) || key == "written") {
      Add(ids, key, value);
    }
  }
}

void LogAudit(absl::string_view method, const CallTrace& trace, absl::string_view idempotency_key,
              const absl::Status& status, const AuditIds& ids, bool caller_gone) {
  std::string object = "{";
  for (const auto& [key, value] : ids) {
    absl::StrAppend(&object, object.size() > 1 ? "," : "", log::Value::Quote(key), ":",
                    log::Value::Quote(value));
  }
  object += "}";
  std::string reason;
  if (!status.ok()) {
    std::optional<google::rpc::ErrorInfo> info = GetErrorInfo(status);
    reason = info.has_value() ? info->reason() : std::string(DefaultReason(status.code()).name());
  }
  if (caller_gone) {
    log::Audit("audit", {{"caller", trace.caller},
                         {"method", method},
                         {"account", trace.account},
                         {"request_id", trace.request_id},
                         {"idempotency_key", idempotency_key},
                         {"code", absl::StatusCodeToString(status.code())},
                         {"reason", reason},
                         {"kommo_ids", log::Value::Json(std::move(object))},
                         {"caller_gone", true}});
    return;
  }
  log::Audit("audit", {{"caller", trace.caller},
                       {"method", method},
                       {"account", trace.account},
                       {"request_id", trace.request_id},
                       {"idempotency_key", idempotency_key},
                       {"code", absl::StatusCodeToString(status.code())},
                       {"reason", reason},
                       {"kommo_ids", log::Value::Json(std::move(object))}});
}

}  // namespace kommo::api
