#ifndef KOMMO_SERVER_KOMMO_WRITE_CHECK_H_
#define KOMMO_SERVER_KOMMO_WRITE_CHECK_H_

// Checking a write against the account's catalogues before it is sent to Kommo (issue 13).
//
// A lead, contact or company write names custom fields, a pipeline and stage, and users; Kommo
// refuses unknown ones after a rate-limited request, with paths that are hard to read. The
// client reads the catalogues the write needs (kept for a TTL, catalogue.h) and runs this pure
// check first, so such a write costs no Kommo write request and fails INVALID_ARGUMENT (reason
// INVALID_FIELD) with one BadRequest violation per problem, named by the request's field
// ("custom_fields[1].values[0].enum_id", "status_id").

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/protobuf/repeated_field.h"
#include "kommo/v1/account.pb.h"
#include "kommo/v1/common.pb.h"
#include "kommo/v1/custom_field.pb.h"

namespace kommo::rest {

// Longest text a text, url or multitext value may have (Kommo refuses longer ones), and a
// textarea's.
inline constexpr size_t kMaxFieldTextLength = 255;
inline constexpr size_t kMaxTextareaLength = 65000;

// What one write refers to that the catalogues can check. Only what the request sets is listed,
// so that a write without custom fields, pipeline, stage or users needs no catalogue at all.
struct WriteReferences {
  kommo::v1::EntityType entity_type = kommo::v1::ENTITY_TYPE_UNSPECIFIED;
  // The request's custom_fields (empty: none).
  google::protobuf::RepeatedPtrField<kommo::v1::CustomFieldValues> custom_fields;
  // Set when the request sets them: the pipeline must exist, the stage must be one of the
  // pipeline's (of any pipeline when pipeline_id is not set; won 142 and lost 143 always are).
  std::optional<int64_t> pipeline_id;
  std::optional<int64_t> status_id;
  // Users the request names: (request field, user id).
  std::vector<std::pair<std::string, int64_t>> users;
  // Contacts: PHONE / EMAIL may not be in custom_fields when phones / emails are given.
  bool phones_given = false;
  bool emails_given = false;

  bool needs_custom_fields() const { return !custom_fields.empty(); }
  bool needs_pipelines() const { return pipeline_id.has_value() || status_id.has_value(); }
  bool needs_users() const { return !users.empty(); }
};

// The catalogues read for a check. Null: not read, or Kommo would not give it (a token that is
// not an administrator's cannot list users): that part is left to Kommo to check.
struct CheckCatalogues {
  const std::vector<kommo::v1::CustomField>* custom_fields = nullptr;
  const std::vector<kommo::v1::Pipeline>* pipelines = nullptr;
  const std::vector<kommo::v1::User>* users = nullptr;
};

// Checks `references` against `catalogues`. Returns the custom fields as they are to be
// written: a field named by code gets its id, a select, multiselect or radiobutton value given
// by its text gets the enum's id (and only it), a multitext value without a kind gets WORK (or
// the field's first kind). Field codes and multitext kinds compare without regard to case; a
// kind is written as the catalogue spells it. Errors: INVALID_ARGUMENT, INVALID_FIELD, with a
// violation for each unknown field, pipeline, stage, user or enum, each value whose member does not
// fit the field's type, a repeated field, several values for a field that takes one, a field of a
// type this API cannot write, and PHONE or EMAIL given twice.
absl::StatusOr<google::protobuf::RepeatedPtrField<kommo::v1::CustomFieldValues>>
CheckWriteReferences(const WriteReferences& references, const CheckCatalogues& catalogues);

// Whether Kommo's refusal of a write (`error`, from the write path) names something the
// catalogues know (a custom field, pipeline, stage or responsible user), which means they may
// have changed since they were read.
bool RefusalConcernsCatalogues(const absl::Status& error);

}  // namespace kommo::rest

#endif  // KOMMO_SERVER_KOMMO_WRITE_CHECK_H_
