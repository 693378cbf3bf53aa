#include "emulator/events.h"

#include <algorithm>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "emulator/api_common.h"
#include "emulator/http_message.h"
#include "emulator/text.h"

namespace kommo::emulator {
namespace {

constexpr char kCrockford[] = "0123456789abcdefghjkmnpqrstvwxyz";
constexpr size_t kMaxEventIdsFilter = 100;
constexpr char kCustomFieldType[] = "custom_field_value_changed";

// The 5 bits at `pos` (from the least significant) of the 80-bit number high:low.
uint64_t FiveBits(uint64_t high, uint64_t low, int pos) {
  if (pos >= 64) return (high >> (pos - 64)) & 31;
  if (pos + 5 <= 64) return (low >> pos) & 31;
  return ((low >> pos) | (high << (64 - pos))) & 31;
}

absl::Status Bad(std::string_view parameter, std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(AsAbsl(parameter), " ", AsAbsl(what)));
}

// "a, b,,c" → {"a","b","c"}.
std::vector<std::string> SplitList(std::string_view value) {
  std::vector<std::string> items;
  size_t start = 0;
  while (start <= value.size()) {
    size_t end = value.find(',', start);
    if (end == std::string_view::npos) end = value.size();
    std::string item(absl::StripAsciiWhitespace(AsAbsl(value.substr(start, end - start))));
    if (!item.empty()) items.push_back(std::move(item));
    start = end + 1;
  }
  return items;
}

// A list parameter at parts[depth]: a bare key replaces the list (PHP keeps the last one), an
// array key ([] or [i]) adds to it; either way the value may be comma-separated.
absl::Status AddToList(const std::vector<std::string>& parts, size_t depth, std::string_view key,
                       std::string_view value, std::vector<std::string>* list) {
  if (parts.size() > depth + 1) return Bad(key, "is not a list parameter");
  if (parts.size() == depth) list->clear();
  for (std::string& item : SplitList(value)) list->push_back(std::move(item));
  return absl::OkStatus();
}

absl::Status AddToIntList(const std::vector<std::string>& parts, size_t depth, std::string_view key,
                          std::string_view value, std::vector<int64_t>* list) {
  std::vector<std::string> items;
  if (absl::Status status = AddToList(parts, depth, key, value, &items); !status.ok()) {
    return status;
  }
  if (parts.size() == depth) list->clear();
  for (const std::string& item : items) {
    int64_t number = 0;
    if (!absl::SimpleAtoi(item, &number)) return Bad(key, "must hold integers");
    list->push_back(number);
  }
  return absl::OkStatus();
}

absl::Status ParseTime(std::string_view key, std::string_view value, int64_t* out) {
  if (!absl::SimpleAtoi(AsAbsl(value), out)) return Bad(key, "must be a Unix timestamp");
  return absl::OkStatus();
}

// filter[value_after|value_before][...] at parts[2...].
absl::Status ParseValueFilter(const std::vector<std::string>& parts, std::string_view key,
                              std::string_view value,
                              std::map<std::string, std::pair<std::string, std::string>>* statuses,
                              EventValueFilter* filter) {
  if (parts.size() < 3) return Bad(key, "needs a value kind, e.g. [leads_statuses]");
  const std::string& kind = parts[2];
  if (kind == "leads_statuses") {
    if (parts.size() != 5 || (parts[4] != "pipeline_id" && parts[4] != "status_id")) {
      return Bad(key, "must be [leads_statuses][i][pipeline_id] or [leads_statuses][i][status_id]");
    }
    auto& pair = (*statuses)[parts[3]];
    (parts[4] == "pipeline_id" ? pair.first : pair.second) = std::string(value);
    return absl::OkStatus();
  }
  if (kind == "responsible_user_id") {
    return AddToIntList(parts, 3, key, value, &filter->responsible_user_ids);
  }
  if (kind == "custom_field_values") {
    return AddToIntList(parts, 3, key, value, &filter->custom_field_enums);
  }
  if (kind == "value" && parts.size() == 3) {
    filter->value = std::string(value);
    return absl::OkStatus();
  }
  return Bad(key,
             "is not a known filter (leads_statuses, responsible_user_id, "
             "custom_field_values, value)");
}

absl::Status FinishStatuses(std::string_view side,
                            const std::map<std::string, std::pair<std::string, std::string>>& raw,
                            EventValueFilter* filter) {
  for (const auto& [index, pair] : raw) {
    const std::string key = absl::StrCat("filter[", AsAbsl(side), "][leads_statuses][", index, "]");
    int64_t pipeline_id = 0;
    int64_t status_id = 0;
    if (!pair.first.empty() && !absl::SimpleAtoi(pair.first, &pipeline_id)) {
      return Bad(key, "[pipeline_id] must be an integer");
    }
    if (pair.second.empty()) return Bad(key, "needs [status_id]");
    if (!absl::SimpleAtoi(pair.second, &status_id))
      return Bad(key, "[status_id] must be an integer");
    filter->leads_statuses.emplace_back(pipeline_id, status_id);
  }
  return absl::OkStatus();
}

// "custom_field_57832_value_changed" → 57832.
std::optional<int64_t> FieldIdOfType(std::string_view type) {
  constexpr std::string_view kPrefix = "custom_field_";
  constexpr std::string_view kSuffix = "_value_changed";
  if (type.size() <= kPrefix.size() + kSuffix.size() || type.substr(0, kPrefix.size()) != kPrefix ||
      type.substr(type.size() - kSuffix.size()) != kSuffix) {
    return std::nullopt;
  }
  int64_t id = 0;
  const std::string_view digits =
      type.substr(kPrefix.size(), type.size() - kPrefix.size() - kSuffix.size());
  if (DigitsOf(digits).size() != digits.size() || !absl::SimpleAtoi(AsAbsl(digits), &id)) {
    return std::nullopt;
  }
  return id;
}

template <typename T>
bool Contains(const std::vector<T>& list, const T& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

bool ValuesMatch(const std::vector<EventValue>& values, const EventValueFilter& filter) {
  const auto any = [&values](auto predicate) {
    return std::any_of(values.begin(), values.end(), predicate);
  };
  if (!filter.leads_statuses.empty() && !any([&](const EventValue& v) {
        return v.kind == EventValue::Kind::kLeadStatus &&
               std::any_of(filter.leads_statuses.begin(), filter.leads_statuses.end(),
                           [&](const auto& s) {
                             return (s.first == 0 || s.first == v.pipeline_id) && s.second == v.id;
                           });
      })) {
    return false;
  }
  if (!filter.responsible_user_ids.empty() && !any([&](const EventValue& v) {
        return v.kind == EventValue::Kind::kResponsibleUser &&
               Contains(filter.responsible_user_ids, v.id);
      })) {
    return false;
  }
  if (!filter.custom_field_enums.empty() && !any([&](const EventValue& v) {
        return v.kind == EventValue::Kind::kCustomField && v.enum_id.has_value() &&
               Contains(filter.custom_field_enums, *v.enum_id);
      })) {
    return false;
  }
  if (filter.value.has_value() && !any([&](const EventValue& v) {
        switch (v.kind) {
          case EventValue::Kind::kSale:
            return absl::StrCat(v.number) == *filter.value;
          case EventValue::Kind::kName:
          case EventValue::Kind::kCustomField:
            return v.text == *filter.value;
          default:
            return false;
        }
      })) {
    return false;
  }
  return true;
}

bool OfField(const Event& event, int64_t field_id) {
  if (event.type != kCustomFieldType) return false;
  const auto of_field = [field_id](const EventValue& v) {
    return v.kind == EventValue::Kind::kCustomField && v.id == field_id;
  };
  return std::any_of(event.before.begin(), event.before.end(), of_field) ||
         std::any_of(event.after.begin(), event.after.end(), of_field);
}

bool Matches(const Event& e, const EventQuery& q) {
  if (!q.ids.empty() && !Contains(q.ids, e.id)) return false;
  if (q.type_field_id.has_value()) {
    if (!OfField(e, *q.type_field_id)) return false;
  } else if (!q.types.empty() && !Contains(q.types, e.type)) {
    return false;
  }
  if (!q.entities.empty() && !Contains(q.entities, std::string(EventEntityName(e.entity)))) {
    return false;
  }
  if (!q.entity_ids.empty() && !Contains(q.entity_ids, e.entity_id)) return false;
  if (q.created_from.has_value() && e.created_at < *q.created_from) return false;
  if (q.created_to.has_value() && e.created_at > *q.created_to) return false;
  if (!q.created_by.empty() && !Contains(q.created_by, e.created_by)) return false;
  return ValuesMatch(e.after, q.value_after) && ValuesMatch(e.before, q.value_before);
}

}  // namespace

absl::StatusOr<EventQuery> ParseEventQuery(std::string_view raw_query) {
  EventQuery q;
  std::map<std::string, std::pair<std::string, std::string>> statuses_after;
  std::map<std::string, std::pair<std::string, std::string>> statuses_before;
  for (const auto& [key, value] : ParseQuery(raw_query)) {
    if (key == "page") {
      if (!absl::SimpleAtoi(value, &q.page) || q.page < 1) {
        return Bad("page", "must be a positive integer");
      }
      continue;
    }
    if (key == "limit") {
      if (!absl::SimpleAtoi(value, &q.limit) || q.limit < 1 || q.limit > kMaxEventsPageLimit) {
        return Bad("limit", absl::StrCat("must be from 1 to ", kMaxEventsPageLimit));
      }
      continue;
    }
    if (!q.link_query.empty()) q.link_query += "&";
    absl::StrAppend(&q.link_query, UrlEncode(key), "=", UrlEncode(value));
    if (key == "with") {
      for (std::string& item : SplitList(value)) q.with.push_back(std::move(item));
      continue;
    }
    const std::vector<std::string> parts = SplitBrackets(key);
    if (parts[0] != "filter" || parts.size() < 2) continue;  // unknown parameters are ignored
    const std::string& name = parts[1];
    absl::Status status;
    if (name == "id") {
      status = AddToList(parts, 2, key, value, &q.ids);
    } else if (name == "type") {
      status = AddToList(parts, 2, key, value, &q.types);
    } else if (name == "entity") {
      status = AddToList(parts, 2, key, value, &q.entities);
    } else if (name == "entity_id") {
      status = AddToIntList(parts, 2, key, value, &q.entity_ids);
    } else if (name == "created_by") {
      status = AddToIntList(parts, 2, key, value, &q.created_by);
    } else if (name == "created_at") {
      if (parts.size() == 2) {  // T (from T on) or "FROM,TO"
        const std::vector<std::string> times = SplitList(value);
        if (times.empty() || times.size() > 2) {
          return Bad(key, "must be a timestamp or two separated by a comma");
        }
        int64_t from = 0;
        if (status = ParseTime(key, times[0], &from); !status.ok()) return status;
        q.created_from = from;
        if (times.size() == 2) {
          int64_t to = 0;
          if (status = ParseTime(key, times[1], &to); !status.ok()) return status;
          q.created_to = to;
        }
      } else if (parts.size() == 3 && (parts[2] == "from" || parts[2] == "to")) {
        int64_t time = 0;
        if (status = ParseTime(key, value, &time); !status.ok()) return status;
        (parts[2] == "from" ? q.created_from : q.created_to) = time;
      } else {
        return Bad(key, "must be filter[created_at], [from] or [to]");
      }
    } else if (name == "value_after") {
      status = ParseValueFilter(parts, key, value, &statuses_after, &q.value_after);
    } else if (name == "value_before") {
      status = ParseValueFilter(parts, key, value, &statuses_before, &q.value_before);
    }
    if (!status.ok()) return status;
  }
  if (absl::Status status = FinishStatuses("value_after", statuses_after, &q.value_after);
      !status.ok()) {
    return status;
  }
  if (absl::Status status = FinishStatuses("value_before", statuses_before, &q.value_before);
      !status.ok()) {
    return status;
  }
  if (q.ids.size() > kMaxEventIdsFilter) {
    return Bad("filter[id]", absl::StrCat("takes at most ", kMaxEventIdsFilter, " ids"));
  }
  if (q.entity_ids.size() > static_cast<size_t>(kMaxEventFilterIds)) {
    return Bad("filter[entity_id]", absl::StrCat("takes at most ", kMaxEventFilterIds, " ids"));
  }
  if (!q.entity_ids.empty() && q.entities.size() != 1) {
    return Bad("filter[entity_id]", "needs filter[entity] with exactly one entity type");
  }
  if (q.created_by.size() > static_cast<size_t>(kMaxEventFilterIds)) {
    return Bad("filter[created_by]", absl::StrCat("takes at most ", kMaxEventFilterIds, " users"));
  }
  for (const std::string& type : q.types) {
    if (const std::optional<int64_t> field_id = FieldIdOfType(type)) {
      if (q.types.size() != 1) {
        return Bad("filter[type]",
                   "custom_field_{FIELD_ID}_value_changed cannot be combined with "
                   "other types");
      }
      q.type_field_id = field_id;
    }
  }
  return q;
}

absl::Status ValidateEventHistory(const EventHistoryOptions& options) {
  if (options.max_events == 0) return absl::InvalidArgumentError("max_events must be >= 1");
  if (options.max_age.count() < 0) return absl::InvalidArgumentError("max_age must be >= 0");
  return absl::OkStatus();
}

// --- EventLog --------------------------------------------------------------------------------

EventLog::EventLog(EventHistoryOptions options, uint64_t seed) : options_(options), random_(seed) {}

std::string EventLog::NextId(int64_t created_at) {
  if (created_at == last_created_at_) {
    if (++last_random_low_ == 0) last_random_high_ = (last_random_high_ + 1) & 0xffff;
  } else {
    // Room to count up within the second: the top bit of the random part starts clear.
    last_random_high_ = random_() & 0x7fff;
    last_random_low_ = random_();
    last_created_at_ = created_at;
  }
  const uint64_t ms =
      (static_cast<uint64_t>(std::max<int64_t>(0, created_at)) * 1000) & ((uint64_t{1} << 48) - 1);
  std::string id(26, '0');
  for (int i = 0; i < 10; ++i) id[9 - i] = kCrockford[(ms >> (5 * i)) & 31];
  for (int i = 0; i < 16; ++i) {
    id[25 - i] = kCrockford[FiveBits(last_random_high_, last_random_low_, 5 * i)];
  }
  return id;
}

void EventLog::Record(const std::vector<EventRecord>& records, int64_t now) {
  for (const EventRecord& record : records) {
    Event event;
    event.id = NextId(now);
    event.sequence = next_sequence_++;
    event.type = record.type;
    event.entity = record.entity;
    event.entity_id = record.entity_id;
    event.created_by = record.created_by;
    event.created_at = now;
    event.before = record.before;
    event.after = record.after;
    events_.push_back(std::move(event));
  }
  Prune(now);
}

void EventLog::Prune(int64_t now) {
  while (events_.size() > options_.max_events) events_.pop_front();
  if (options_.max_age.count() > 0) {
    const int64_t oldest_kept = now - options_.max_age.count();
    while (!events_.empty() && events_.front().created_at < oldest_kept) events_.pop_front();
  }
}

std::vector<const Event*> EventLog::Matching(const EventQuery& query, int64_t now) {
  Prune(now);
  std::vector<const Event*> matches;
  for (const Event& event : events_) {
    if (Matches(event, query)) matches.push_back(&event);
  }
  std::stable_sort(matches.begin(), matches.end(), [](const Event* a, const Event* b) {
    if (a->created_at != b->created_at) return a->created_at > b->created_at;
    return a->sequence > b->sequence;
  });
  return matches;
}

const Event* EventLog::Find(std::string_view id, int64_t now) {
  Prune(now);
  for (auto it = events_.rbegin(); it != events_.rend(); ++it) {
    if (it->id == id) return &*it;
  }
  return nullptr;
}

void EventLog::Configure(EventHistoryOptions options, int64_t now) {
  options_ = options;
  Prune(now);
}

void EventLog::Clear() {
  events_.clear();
  next_system_note_id_ = kFirstSystemNoteId;
  last_created_at_ = -1;
}

}  // namespace kommo::emulator
