#include "server/mapping/company_json.h"

#include <optional>
#include <string>
#include <utility>

#include "server/mapping/custom_fields_json.h"
#include "server/mapping/kommo_json_internal.h"

namespace kommo::mapping {
namespace {

using internal::JsonWriter;
using internal::ObjectReader;
using kommo::v1::Company;

absl::StatusOr<Company> ReadCompany(const ObjectReader& object) {
  Company company;
  ASSIGN_OR_RETURN(const int64_t id, object.RequiredId("id"));
  company.set_id(id);
  ASSIGN_OR_RETURN(std::string name, object.String("name"));
  company.set_name(std::move(name));
  ASSIGN_OR_RETURN(const int64_t responsible, object.Int64("responsible_user_id"));
  company.set_responsible_user_id(responsible);
  ASSIGN_OR_RETURN(const int64_t group_id, object.Int64("group_id"));
  company.set_group_id(group_id);
  ASSIGN_OR_RETURN(const int64_t created_by, object.Int64("created_by"));
  company.set_created_by(created_by);
  ASSIGN_OR_RETURN(const int64_t updated_by, object.Int64("updated_by"));
  company.set_updated_by(updated_by);
  ASSIGN_OR_RETURN(const int64_t account_id, object.Int64("account_id"));
  company.set_account_id(account_id);
  ASSIGN_OR_RETURN(const bool is_deleted, object.Bool("is_deleted"));
  company.set_is_deleted(is_deleted);
  ASSIGN_OR_RETURN(const std::optional<int64_t> created_at, object.UnixSeconds("created_at"));
  if (created_at.has_value()) company.mutable_created_at()->set_seconds(*created_at);
  ASSIGN_OR_RETURN(const std::optional<int64_t> updated_at, object.UnixSeconds("updated_at"));
  if (updated_at.has_value()) company.mutable_updated_at()->set_seconds(*updated_at);
  RETURN_IF_ERROR(ReadCustomFieldsValues(object, company.mutable_custom_fields()));
  RETURN_IF_ERROR(ReadTags(object, company.mutable_tags()));
  return company;
}

}  // namespace

std::string CompaniesCreateBody(absl::Span<const CompanyCreateItem> items) {
  JsonWriter json;
  json.StartArray();
  for (const CompanyCreateItem& item : items) {
    const v1::CreateCompanyRequest& request =
        item.request != nullptr ? *item.request : v1::CreateCompanyRequest::default_instance();
    json.StartObject();
    json.Member("name", request.name());
    if (request.responsible_user_id() != 0) {
      json.Member("responsible_user_id", request.responsible_user_id());
    }
    WriteCustomFieldsMember(json, request.custom_fields());
    WriteTagChanges(json, request.tags_to_add(), {});
    if (!item.request_id.empty()) json.Member("request_id", item.request_id);
    json.EndObject();
  }
  json.EndArray();
  return json.Take();
}

std::string CompaniesUpdateBody(absl::Span<const CompanyUpdateItem> items) {
  JsonWriter json;
  json.StartArray();
  for (const CompanyUpdateItem& item : items) {
    const v1::UpdateCompanyRequest& request =
        item.request != nullptr ? *item.request : v1::UpdateCompanyRequest::default_instance();
    json.StartObject();
    json.Member("id", request.company_id());
    if (request.has_name()) json.Member("name", request.name());
    if (request.has_responsible_user_id()) {
      json.Member("responsible_user_id", request.responsible_user_id());
    }
    WriteCustomFieldsMember(json, request.custom_fields());
    WriteTagChanges(json, request.tags_to_add(), request.tags_to_remove());
    if (!item.request_id.empty()) json.Member("request_id", item.request_id);
    json.EndObject();
  }
  json.EndArray();
  return json.Take();
}

absl::StatusOr<Company> ParseCompany(absl::string_view body) {
  return internal::GuardJson([&]() -> absl::StatusOr<Company> {
    rapidjson::Document document;
    RETURN_IF_ERROR(internal::ParseBody(body, document));
    ASSIGN_OR_RETURN(const ObjectReader root, ObjectReader::Make(document, ""));
    return ReadCompany(root);
  });
}

absl::StatusOr<CompanyPage> ParseCompanyPage(absl::string_view body) {
  return internal::GuardJson([&]() -> absl::StatusOr<CompanyPage> {
    ASSIGN_OR_RETURN(internal::Page<Company> page,
                     internal::ParseListBody<Company>(body, "companies", ReadCompany));
    return CompanyPage{std::move(page.items), page.has_next};
  });
}

std::string CompanyFieldFromKommoPath(absl::string_view path) {
  if (path == "id") return "company_id";
  if (std::optional<std::string> field = CustomFieldsFieldFromKommoPath(path, 0)) return *field;
  return std::string(path);
}

}  // namespace kommo::mapping
