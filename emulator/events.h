// The events history behind GET /api/v4/events: events as writes record them (changes.h), with
// Kommo's 26-character ids, bounded by count and age, and the list's filters. Loop thread only.
#ifndef KOMMO_EMULATOR_EVENTS_H_
#define KOMMO_EMULATOR_EVENTS_H_

#include <cstdint>
#include <deque>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "emulator/changes.h"
#include "emulator/emulator.h"

namespace kommo::emulator {

// Kommo's "entity created" system notes that *_added events point at get ids from here (the
// emulator keeps no such note: GET /notes does not list them).
inline constexpr int64_t kFirstSystemNoteId = 77000000001;

struct Event {
  // 26 lowercase characters of Crockford's base32, like Kommo's ("01pz58t6p04ymgsgfbmfyfy1mf"):
  // a ULID whose time part is created_at (in ms) and whose random part grows within a second, so
  // ids sort like (created_at, recording order).
  std::string id;
  uint64_t sequence = 0;  // recording order, 1, 2, ...
  std::string type;
  EntityKind entity = EntityKind::kLead;
  int64_t entity_id = 0;
  int64_t created_by = 0;
  int64_t created_at = 0;
  std::vector<EventValue> before;
  std::vector<EventValue> after;
};

// filter[value_after] or filter[value_before] of the events list.
struct EventValueFilter {
  // [leads_statuses][i][pipeline_id|status_id]: a lead_status value in one of these stages
  // (pipeline 0: any pipeline).
  std::vector<std::pair<int64_t, int64_t>> leads_statuses;
  std::vector<int64_t> responsible_user_ids;  // [responsible_user_id]=1,2
  std::vector<int64_t> custom_field_enums;    // [custom_field_values]=145,157
  std::optional<std::string> value;           // [value]: a sale, name or custom-field text
  bool empty() const {
    return leads_statuses.empty() && responsible_user_ids.empty() && custom_field_enums.empty() &&
           !value.has_value();
  }
};

// The query of GET /api/v4/events.
struct EventQuery {
  std::vector<std::string> ids;    // filter[id]
  std::vector<std::string> types;  // filter[type]
  // filter[type]=custom_field_{ID}_value_changed: custom-field events of that field only.
  std::optional<int64_t> type_field_id;
  std::vector<std::string> entities;  // filter[entity]: lead, contact, company, ...
  std::vector<int64_t> entity_ids;    // filter[entity_id]
  std::optional<int64_t> created_from;
  std::optional<int64_t> created_to;
  std::vector<int64_t> created_by;  // filter[created_by]
  EventValueFilter value_after;
  EventValueFilter value_before;
  std::vector<std::string> with;  // lead_name, contact_name, company_name
  int page = 1;
  int limit = kDefaultPageLimit;
  std::string link_query;  // the parameters other than page and limit, re-encoded, for _links
};

// Parses the query string. Lists are taken comma-separated (filter[type]=a,b) or as arrays
// (filter[type][]=a, filter[type][0]=a). INVALID_ARGUMENT naming the parameter for: a limit that
// is not 1..kMaxEventsPageLimit, a page that is not a positive integer, a non-numeric id or
// time, more than kMaxEventFilterIds entity ids or users, filter[entity_id] without exactly one
// entity type, more than 100 event ids, and custom_field_{ID}_value_changed with other types.
absl::StatusOr<EventQuery> ParseEventQuery(std::string_view raw_query);

class EventLog {
 public:
  EventLog(EventHistoryOptions options, uint64_t seed);

  // Gives each event an id and `now` as created_at, keeps them, then drops what the bounds no
  // longer allow.
  void Record(const std::vector<EventRecord>& records, int64_t now);
  // The events `query` selects (all pages), newest first: created_at descending, then the
  // latest recorded first. Drops events older than max_age first.
  std::vector<const Event*> Matching(const EventQuery& query, int64_t now);
  const Event* Find(std::string_view id, int64_t now);

  void Configure(EventHistoryOptions options, int64_t now);
  const EventHistoryOptions& options() const { return options_; }
  // Forgets every event (ids and system note ids start over).
  void Clear();
  size_t size() const { return events_.size(); }
  const std::deque<Event>& events() const { return events_; }  // oldest first
  int64_t* next_system_note_id() { return &next_system_note_id_; }

 private:
  void Prune(int64_t now);
  std::string NextId(int64_t created_at);

  EventHistoryOptions options_;
  std::deque<Event> events_;  // recording order
  uint64_t next_sequence_ = 1;
  int64_t next_system_note_id_ = kFirstSystemNoteId;
  std::mt19937_64 random_;
  // The last id's parts, for monotonic ids within one created_at.
  int64_t last_created_at_ = -1;
  uint64_t last_random_high_ = 0;  // 16 bits
  uint64_t last_random_low_ = 0;   // 64 bits
};

// INVALID_ARGUMENT for max_events 0 or a negative max_age.
absl::Status ValidateEventHistory(const EventHistoryOptions& options);

}  // namespace kommo::emulator

#endif  // KOMMO_EMULATOR_EVENTS_H_
