#ifndef KOMMO_SERVER_MAPPING_EVENT_JSON_H_
#define KOMMO_SERVER_MAPPING_EVENT_JSON_H_

// Kommo's events (GET /api/v4/events) as the change stream reads them. Pure functions.
//
// An event is {id: 26-character string, type, entity_id, entity_type: "lead" | "contact" | ...,
// created_by, created_at (Unix seconds), value_before, value_after: arrays of one-member objects
// such as {"lead_status": {"id", "pipeline_id"}} or {"responsible_user": {"id"}}}. Only the
// members the stream reports are read; everything else an event carries is ignored, so new event
// types and shapes do not break the reader.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "kommo/v1/change.pb.h"

namespace kommo::mapping {

struct KommoEvent {
  std::string id;           // Kommo's event id
  std::string type;         // "lead_status_changed", "custom_field_123_value_changed", ...
  std::string entity_type;  // "lead", "contact", ...
  int64_t entity_id = 0;
  int64_t created_at = 0;  // Unix seconds
  int64_t created_by = 0;  // 0: Kommo itself (a robot)
  // lead_status_changed: {pipeline_id, status_id} before and after.
  std::optional<std::pair<int64_t, int64_t>> stage_before;
  std::optional<std::pair<int64_t, int64_t>> stage_after;
  // entity_responsible_changed: the user before and after.
  std::optional<int64_t> responsible_before;
  std::optional<int64_t> responsible_after;
};

struct EventPage {
  std::vector<KommoEvent> events;
  bool has_next = false;
};

// A 200 body of GET /events (`_embedded.events`, `_links.next`). An event without a string id, an
// entity id or a created_at is KOMMO_BAD_RESPONSE naming its path; unknown members are ignored.
absl::StatusOr<EventPage> ParseEventPage(absl::string_view body);

// The change kind of an event type; UNSPECIFIED for a type the stream does not report (task and
// company events, a customer's, a call's...).
kommo::v1::ChangeKind ChangeKindOf(absl::string_view event_type);

}  // namespace kommo::mapping

#endif  // KOMMO_SERVER_MAPPING_EVENT_JSON_H_
