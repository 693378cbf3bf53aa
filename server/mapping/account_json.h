#ifndef KOMMO_SERVER_MAPPING_ACCOUNT_JSON_H_
#define KOMMO_SERVER_MAPPING_ACCOUNT_JSON_H_

// JSON → proto for the account's catalogues (AccountService): the account, pipelines with their
// stages, users, custom-field definitions and loss reasons. The same rules as kommo_json.h:
// untrusted bodies are type-checked, unknown members ignored, errors name fields and never values.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "kommo/v1/account.pb.h"
#include "kommo/v1/common.pb.h"

namespace kommo::mapping {

// One page of a Kommo list: its items and whether `_links.next` says more follow.
template <typename Item>
struct CataloguePage {
  std::vector<Item> items;
  bool has_next = false;
};

// The `with=` the service asks GET /api/v4/account for.
inline constexpr char kAccountWith[] = "datetime_settings,users_groups";

// GET /api/v4/account (with kAccountWith).
absl::StatusOr<kommo::v1::Account> ParseAccount(absl::string_view body);

// GET /api/v4/leads/pipelines: `_embedded.pipelines[]`, each with `_embedded.statuses[]`.
absl::StatusOr<CataloguePage<kommo::v1::Pipeline>> ParsePipelinePage(absl::string_view body);

// GET /api/v4/users: `_embedded.users[]`.
absl::StatusOr<CataloguePage<kommo::v1::User>> ParseUserPage(absl::string_view body);

// GET /api/v4/{leads|contacts|companies}/custom_fields: `_embedded.custom_fields[]`; each field
// gets `entity_type`.
absl::StatusOr<CataloguePage<kommo::v1::CustomField>> ParseCustomFieldPage(
    absl::string_view body, kommo::v1::EntityType entity_type);

// GET /api/v4/leads/loss_reasons: `_embedded.loss_reasons[]`.
absl::StatusOr<CataloguePage<kommo::v1::LossReason>> ParseLossReasonPage(absl::string_view body);

// Kommo's type name of a custom field ("select", "date_time", ...) as the API's enum; OTHER for
// names this API does not know.
kommo::v1::CustomFieldType CustomFieldTypeOf(absl::string_view kommo_type);

// What a stage means: 142 won, 143 lost (whatever their type), type 1 incoming, else ordinary.
kommo::v1::StageKind StageKindOf(int64_t status_id, int64_t kommo_type);

}  // namespace kommo::mapping

#endif  // KOMMO_SERVER_MAPPING_ACCOUNT_JSON_H_
