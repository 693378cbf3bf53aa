#include "server/mapping/account_json.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>

#include "server/common/status_macros.h"
#include "server/mapping/json_reader.h"
#include "server/mapping/kommo_json_internal.h"

namespace kommo::mapping {
namespace {

using internal::ArrayReader;
using internal::ObjectReader;
using kommo::v1::EntityType;

// Kommo's fixed ids of the closed stages, shared by every pipeline.
constexpr int64_t kWonStatusId = 142;
constexpr int64_t kLostStatusId = 143;

// A `sort` member: an integer, cut to int32 (Kommo's sorts are small; a huge one keeps its order
// among the others).
absl::StatusOr<int32_t> ReadSort(const ObjectReader& object) {
  ASSIGN_OR_RETURN(const int64_t sort, object.Int64("sort"));
  return static_cast<int32_t>(std::clamp<int64_t>(sort, std::numeric_limits<int32_t>::min(),
                                                  std::numeric_limits<int32_t>::max()));
}

absl::StatusOr<v1::Stage> ReadStage(const ObjectReader& object, int64_t pipeline_id) {
  v1::Stage stage;
  ASSIGN_OR_RETURN(const int64_t id, object.RequiredId("id"));
  stage.set_id(id);
  ASSIGN_OR_RETURN(*stage.mutable_name(), object.String("name"));
  ASSIGN_OR_RETURN(const int32_t sort, ReadSort(object));
  stage.set_sort(sort);
  ASSIGN_OR_RETURN(const int64_t type, object.Int64("type"));
  stage.set_kind(StageKindOf(id, type));
  ASSIGN_OR_RETURN(const int64_t own_pipeline, object.Int64("pipeline_id"));
  stage.set_pipeline_id(own_pipeline != 0 ? own_pipeline : pipeline_id);
  ASSIGN_OR_RETURN(*stage.mutable_color(), object.String("color"));
  ASSIGN_OR_RETURN(const bool editable, object.Bool("is_editable"));
  stage.set_is_editable(editable);
  return stage;
}

absl::StatusOr<v1::Pipeline> ReadPipeline(const ObjectReader& object) {
  v1::Pipeline pipeline;
  ASSIGN_OR_RETURN(const int64_t id, object.RequiredId("id"));
  pipeline.set_id(id);
  ASSIGN_OR_RETURN(*pipeline.mutable_name(), object.String("name"));
  ASSIGN_OR_RETURN(const int32_t sort, ReadSort(object));
  pipeline.set_sort(sort);
  ASSIGN_OR_RETURN(const bool is_main, object.Bool("is_main"));
  pipeline.set_is_main(is_main);
  ASSIGN_OR_RETURN(const bool is_archive, object.Bool("is_archive"));
  pipeline.set_is_archived(is_archive);
  ASSIGN_OR_RETURN(const bool unsorted, object.Bool("is_unsorted_on"));
  pipeline.set_is_unsorted_on(unsorted);
  ASSIGN_OR_RETURN(const std::optional<ObjectReader> embedded, object.Object("_embedded"));
  if (embedded.has_value()) {
    ASSIGN_OR_RETURN(const std::optional<ArrayReader> statuses, embedded->Array("statuses"));
    if (statuses.has_value()) {
      for (size_t i = 0; i < statuses->size(); ++i) {
        ASSIGN_OR_RETURN(const ObjectReader status, statuses->ObjectAt(i));
        ASSIGN_OR_RETURN(v1::Stage stage, ReadStage(status, id));
        *pipeline.add_stages() = std::move(stage);
      }
    }
  }
  // Kommo lists stages by sort; keep that order even if an answer does not.
  std::stable_sort(pipeline.mutable_stages()->begin(), pipeline.mutable_stages()->end(),
                   [](const v1::Stage& a, const v1::Stage& b) { return a.sort() < b.sort(); });
  return pipeline;
}

absl::StatusOr<v1::User> ReadUser(const ObjectReader& object) {
  v1::User user;
  ASSIGN_OR_RETURN(const int64_t id, object.RequiredId("id"));
  user.set_id(id);
  ASSIGN_OR_RETURN(*user.mutable_name(), object.String("name"));
  ASSIGN_OR_RETURN(*user.mutable_email(), object.String("email"));
  ASSIGN_OR_RETURN(*user.mutable_lang(), object.String("lang"));
  ASSIGN_OR_RETURN(const std::optional<ObjectReader> rights, object.Object("rights"));
  if (rights.has_value()) {
    ASSIGN_OR_RETURN(const bool is_admin, rights->Bool("is_admin"));
    user.set_is_admin(is_admin);
    ASSIGN_OR_RETURN(const bool is_active, rights->Bool("is_active"));
    user.set_is_active(is_active);
    ASSIGN_OR_RETURN(const int64_t group_id, rights->Int64("group_id"));
    user.set_group_id(group_id);
  }
  return user;
}

absl::StatusOr<v1::CustomField> ReadCustomField(const ObjectReader& object, EntityType type) {
  v1::CustomField field;
  ASSIGN_OR_RETURN(const int64_t id, object.RequiredId("id"));
  field.set_id(id);
  ASSIGN_OR_RETURN(*field.mutable_name(), object.String("name"));
  ASSIGN_OR_RETURN(*field.mutable_code(), object.String("code"));
  ASSIGN_OR_RETURN(*field.mutable_kommo_type(), object.String("type"));
  field.set_type(CustomFieldTypeOf(field.kommo_type()));
  ASSIGN_OR_RETURN(const int32_t sort, ReadSort(object));
  field.set_sort(sort);
  field.set_entity_type(type);
  ASSIGN_OR_RETURN(const std::optional<ArrayReader> enums, object.Array("enums"));
  if (enums.has_value()) {
    for (size_t i = 0; i < enums->size(); ++i) {
      ASSIGN_OR_RETURN(const ObjectReader each, enums->ObjectAt(i));
      v1::CustomFieldEnum* choice = field.add_enums();
      ASSIGN_OR_RETURN(const int64_t enum_id, each.RequiredId("id"));
      choice->set_id(enum_id);
      ASSIGN_OR_RETURN(*choice->mutable_value(), each.String("value"));
      ASSIGN_OR_RETURN(const int32_t enum_sort, ReadSort(each));
      choice->set_sort(enum_sort);
    }
  }
  std::stable_sort(field.mutable_enums()->begin(), field.mutable_enums()->end(),
                   [](const v1::CustomFieldEnum& a, const v1::CustomFieldEnum& b) {
                     return a.sort() < b.sort();
                   });
  return field;
}

absl::StatusOr<v1::LossReason> ReadLossReason(const ObjectReader& object) {
  v1::LossReason reason;
  ASSIGN_OR_RETURN(const int64_t id, object.RequiredId("id"));
  reason.set_id(id);
  ASSIGN_OR_RETURN(*reason.mutable_name(), object.String("name"));
  ASSIGN_OR_RETURN(const int32_t sort, ReadSort(object));
  reason.set_sort(sort);
  return reason;
}

template <typename Item, typename Read>
absl::StatusOr<CataloguePage<Item>> ParseCatalogue(absl::string_view body, const char* collection,
                                                   Read&& read) {
  return internal::GuardJson([&]() -> absl::StatusOr<CataloguePage<Item>> {
    ASSIGN_OR_RETURN(internal::Page<Item> page,
                     internal::ParseListBody<Item>(body, collection, std::forward<Read>(read)));
    return CataloguePage<Item>{std::move(page.items), page.has_next};
  });
}

}  // namespace

v1::CustomFieldType CustomFieldTypeOf(absl::string_view kommo_type) {
  static constexpr std::pair<absl::string_view, v1::CustomFieldType> kTypes[] = {
      {"text", v1::CUSTOM_FIELD_TYPE_TEXT},
      {"numeric", v1::CUSTOM_FIELD_TYPE_NUMERIC},
      {"checkbox", v1::CUSTOM_FIELD_TYPE_CHECKBOX},
      {"select", v1::CUSTOM_FIELD_TYPE_SELECT},
      {"multiselect", v1::CUSTOM_FIELD_TYPE_MULTISELECT},
      {"radiobutton", v1::CUSTOM_FIELD_TYPE_RADIOBUTTON},
      {"date", v1::CUSTOM_FIELD_TYPE_DATE},
      {"date_time", v1::CUSTOM_FIELD_TYPE_DATE_TIME},
      {"birthday", v1::CUSTOM_FIELD_TYPE_BIRTHDAY},
      {"url", v1::CUSTOM_FIELD_TYPE_URL},
      {"textarea", v1::CUSTOM_FIELD_TYPE_TEXTAREA},
      {"multitext", v1::CUSTOM_FIELD_TYPE_MULTITEXT},
  };
  for (const auto& [name, type] : kTypes) {
    if (name == kommo_type) return type;
  }
  return v1::CUSTOM_FIELD_TYPE_OTHER;
}

v1::StageKind StageKindOf(int64_t status_id, int64_t kommo_type) {
  if (status_id == kWonStatusId) return v1::STAGE_KIND_WON;
  if (status_id == kLostStatusId) return v1::STAGE_KIND_LOST;
  if (kommo_type == 1) return v1::STAGE_KIND_INCOMING;
  return v1::STAGE_KIND_ORDINARY;
}

absl::StatusOr<v1::Account> ParseAccount(absl::string_view body) {
  return internal::GuardJson([&]() -> absl::StatusOr<v1::Account> {
    rapidjson::Document document;
    RETURN_IF_ERROR(internal::ParseBody(body, document));
    ASSIGN_OR_RETURN(const ObjectReader root, ObjectReader::Make(document, ""));
    v1::Account account;
    ASSIGN_OR_RETURN(const int64_t id, root.RequiredId("id"));
    account.set_id(id);
    ASSIGN_OR_RETURN(*account.mutable_name(), root.String("name"));
    ASSIGN_OR_RETURN(*account.mutable_subdomain(), root.String("subdomain"));
    ASSIGN_OR_RETURN(const int64_t current_user_id, root.Int64("current_user_id"));
    account.set_current_user_id(current_user_id);
    ASSIGN_OR_RETURN(*account.mutable_country(), root.String("country"));
    ASSIGN_OR_RETURN(*account.mutable_currency(), root.String("currency"));
    ASSIGN_OR_RETURN(*account.mutable_currency_symbol(), root.String("currency_symbol"));
    ASSIGN_OR_RETURN(const bool unsorted, root.Bool("is_unsorted_on"));
    account.set_is_unsorted_on(unsorted);
    ASSIGN_OR_RETURN(const bool loss_reasons, root.Bool("is_loss_reason_enabled"));
    account.set_is_loss_reason_enabled(loss_reasons);
    ASSIGN_OR_RETURN(const std::optional<int64_t> created, root.UnixSeconds("created_at"));
    if (created.has_value()) account.mutable_create_time()->set_seconds(*created);
    ASSIGN_OR_RETURN(const std::optional<ObjectReader> embedded, root.Object("_embedded"));
    if (!embedded.has_value()) return account;
    ASSIGN_OR_RETURN(const std::optional<ObjectReader> datetime,
                     embedded->Object("datetime_settings"));
    if (datetime.has_value()) {
      ASSIGN_OR_RETURN(*account.mutable_timezone(), datetime->String("timezone"));
      ASSIGN_OR_RETURN(*account.mutable_timezone_offset(), datetime->String("timezone_offset"));
    }
    ASSIGN_OR_RETURN(const std::optional<ArrayReader> groups, embedded->Array("users_groups"));
    if (groups.has_value()) {
      for (size_t i = 0; i < groups->size(); ++i) {
        ASSIGN_OR_RETURN(const ObjectReader group, groups->ObjectAt(i));
        v1::UserGroup* out = account.add_user_groups();
        ASSIGN_OR_RETURN(const int64_t group_id, group.Int64("id"));
        out->set_id(group_id);
        ASSIGN_OR_RETURN(*out->mutable_name(), group.String("name"));
      }
    }
    return account;
  });
}

absl::StatusOr<CataloguePage<v1::Pipeline>> ParsePipelinePage(absl::string_view body) {
  return ParseCatalogue<v1::Pipeline>(body, "pipelines", &ReadPipeline);
}

absl::StatusOr<CataloguePage<v1::User>> ParseUserPage(absl::string_view body) {
  return ParseCatalogue<v1::User>(body, "users", &ReadUser);
}

absl::StatusOr<CataloguePage<v1::CustomField>> ParseCustomFieldPage(absl::string_view body,
                                                                    EntityType entity_type) {
  return ParseCatalogue<v1::CustomField>(
      body, "custom_fields",
      [entity_type](const ObjectReader& object) { return ReadCustomField(object, entity_type); });
}

absl::StatusOr<CataloguePage<v1::LossReason>> ParseLossReasonPage(absl::string_view body) {
  return ParseCatalogue<v1::LossReason>(body, "loss_reasons", &ReadLossReason);
}

}  // namespace kommo::mapping
