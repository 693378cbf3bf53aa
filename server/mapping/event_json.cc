#include "server/mapping/event_json.h"

#include <optional>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "server/mapping/kommo_json_internal.h"

namespace kommo::mapping {
namespace {

using internal::ArrayReader;
using internal::ObjectReader;

// The first object of a value_before / value_after array that has `key` as an object member.
// Anything else (null, an object instead of an array, other members) is no such value.
std::optional<ObjectReader> ValueMember(const ObjectReader& event, const char* side,
                                        const char* key) {
  absl::StatusOr<std::optional<ArrayReader>> values = event.Array(side);
  if (!values.ok() || !values->has_value()) return std::nullopt;
  for (size_t i = 0; i < (*values)->size(); ++i) {
    absl::StatusOr<ObjectReader> value = (*values)->ObjectAt(i);
    if (!value.ok()) continue;
    absl::StatusOr<std::optional<ObjectReader>> member = value->Object(key);
    if (member.ok() && member->has_value()) return **member;
  }
  return std::nullopt;
}

std::optional<std::pair<int64_t, int64_t>> StageOf(const ObjectReader& event, const char* side) {
  std::optional<ObjectReader> status = ValueMember(event, side, "lead_status");
  if (!status.has_value()) return std::nullopt;
  absl::StatusOr<int64_t> status_id = status->Int64("id");
  absl::StatusOr<int64_t> pipeline_id = status->Int64("pipeline_id");
  if (!status_id.ok() || !pipeline_id.ok() || *status_id <= 0) return std::nullopt;
  return std::make_pair(*pipeline_id, *status_id);
}

std::optional<int64_t> ResponsibleOf(const ObjectReader& event, const char* side) {
  std::optional<ObjectReader> user = ValueMember(event, side, "responsible_user");
  if (!user.has_value()) return std::nullopt;
  absl::StatusOr<int64_t> id = user->Int64("id");
  if (!id.ok()) return std::nullopt;
  return *id;
}

absl::StatusOr<KommoEvent> ReadEvent(const ObjectReader& object) {
  KommoEvent event;
  ASSIGN_OR_RETURN(event.id, object.String("id"));
  if (event.id.empty()) {
    return internal::BadResponse(internal::MemberPath(object.path(), "id"), "is missing");
  }
  ASSIGN_OR_RETURN(event.type, object.String("type"));
  ASSIGN_OR_RETURN(event.entity_type, object.String("entity_type"));
  ASSIGN_OR_RETURN(event.entity_id, object.RequiredId("entity_id"));
  ASSIGN_OR_RETURN(const std::optional<int64_t> created_at, object.UnixSeconds("created_at"));
  if (!created_at.has_value()) {
    return internal::BadResponse(internal::MemberPath(object.path(), "created_at"), "is missing");
  }
  event.created_at = *created_at;
  ASSIGN_OR_RETURN(event.created_by, object.Int64("created_by"));
  event.stage_before = StageOf(object, "value_before");
  event.stage_after = StageOf(object, "value_after");
  event.responsible_before = ResponsibleOf(object, "value_before");
  event.responsible_after = ResponsibleOf(object, "value_after");
  return event;
}

}  // namespace

absl::StatusOr<EventPage> ParseEventPage(absl::string_view body) {
  return internal::GuardJson([&]() -> absl::StatusOr<EventPage> {
    ASSIGN_OR_RETURN(internal::Page<KommoEvent> page,
                     internal::ParseListBody<KommoEvent>(body, "events", ReadEvent));
    return EventPage{std::move(page.items), page.has_next};
  });
}

v1::ChangeKind ChangeKindOf(absl::string_view type) {
  if (type == "lead_added" || type == "contact_added") return v1::CHANGE_KIND_CREATED;
  if (type == "lead_deleted" || type == "contact_deleted") return v1::CHANGE_KIND_DELETED;
  if (type == "lead_restored" || type == "contact_restored") return v1::CHANGE_KIND_RESTORED;
  if (type == "lead_status_changed") return v1::CHANGE_KIND_STAGE_CHANGED;
  if (type == "entity_responsible_changed") return v1::CHANGE_KIND_RESPONSIBLE_CHANGED;
  if (absl::EndsWith(type, "_note_added")) return v1::CHANGE_KIND_NOTE_ADDED;
  if (type == "name_field_changed" || type == "sale_field_changed" || type == "ltv_field_changed" ||
      type == "entity_tag_added" || type == "entity_tag_deleted" || type == "entity_linked" ||
      type == "entity_unlinked" || type == "entity_merged" ||
      (absl::StartsWith(type, "custom_field_") && absl::EndsWith(type, "value_changed"))) {
    return v1::CHANGE_KIND_UPDATED;
  }
  return v1::CHANGE_KIND_UNSPECIFIED;
}

}  // namespace kommo::mapping
