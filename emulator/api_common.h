// What the Kommo API's endpoint files (kommo_api.cc, notes.cc, lead_capture.cc) share: the call
// being served, answers (HAL, 204, 405, problem+json with validation errors), request bodies
// (blank, malformed, batches) and list parameters (paging, order, filters, _links). Internal to
// the emulator.
#ifndef KOMMO_EMULATOR_API_COMMON_H_
#define KOMMO_EMULATOR_API_COMMON_H_

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "emulator/changes.h"
#include "emulator/emulator.h"
#include "emulator/http_message.h"
#include "emulator/kommo_api.h"
#include "emulator/render.h"
#include "emulator/store.h"
#include "emulator/writes.h"
#include "rapidjson/document.h"

namespace kommo::emulator {

inline constexpr char kHalJson[] = "application/hal+json";
inline constexpr char kProblemJson[] = "application/problem+json";

using Segments = std::vector<std::string_view>;

// One authenticated request to /api/v4/...
struct KommoApi::Call {
  const HttpRequest& request;
  const User& user;
  Hrefs hrefs;
  Segments segments;  // after /api/v4
  // Every write reports here what it changed, after the store holds the new state.
  ChangeRecorder* changes;
};

// --- answers -----------------------------------------------------------------------------------

std::string Finish(const rapidjson::StringBuffer& buffer);
HttpResponse Hal(std::string body);  // 200 application/hal+json
HttpResponse NoContent();            // 204, no body
// 405 problem+json with an Allow header.
HttpResponse MethodNotAllowed(const std::string& method, const std::string& allow);

// Digits only, > 0, fits int64: a path id.
bool ParseId(std::string_view text, int64_t* id);
Segments SplitPath(std::string_view path);
// "filter[statuses][0][pipeline_id]" → {"filter", "statuses", "0", "pipeline_id"}.
std::vector<std::string> SplitBrackets(const std::string& key);

// --- request bodies ----------------------------------------------------------------------------

// The errors of one rejected item of a write.
struct ItemErrors {
  std::string request_id;
  std::vector<FieldError> errors;
};

// 400 problem+json with Kommo's "validation-errors" for the given items.
HttpResponse ValidationFailed(const std::vector<ItemErrors>& items);

// Parses a request body: blank → 400 "Request data cannot be blank", malformed JSON → 400.
// Iterative parsing: a deeply nested body cannot exhaust the stack.
std::optional<HttpResponse> ParseBody(const std::string& body, rapidjson::Document* doc);
// A batch body: a JSON array of 1..kMaxBatchItems items (422 above).
std::optional<HttpResponse> ParseBatch(const std::string& body, rapidjson::Document* doc);
// The error of a batch item that is not a JSON object.
std::vector<FieldError> NotAnObject();

// --- lists -------------------------------------------------------------------------------------

struct IntFilter {
  bool present = false;
  std::vector<int64_t> values;
  bool Matches(int64_t v) const {
    return !present || std::find(values.begin(), values.end(), v) != values.end();
  }
};

struct StringFilter {
  bool present = false;
  std::vector<std::string> values;
  bool Matches(std::string_view v) const {
    return !present || std::find(values.begin(), values.end(), v) != values.end();
  }
};

struct RangeFilter {
  std::optional<int64_t> from;
  std::optional<int64_t> to;
  bool Matches(std::optional<int64_t> v) const {
    if (!from.has_value() && !to.has_value()) return true;
    if (!v.has_value()) return false;
    return (!from.has_value() || *v >= *from) && (!to.has_value() || *v <= *to);
  }
};

struct ListParams {
  int page = 1;
  int limit = kDefaultPageLimit;
  std::string raw_limit;  // the limit as sent ("" when absent), for endpoints that refuse bad ones
  std::string query;
  std::vector<std::string> with;
  std::string order_field = "id";
  bool descending = false;
  bool order_given = false;
  // filter[NAME][]=N (or [i], or a bare key: the last one wins, as PHP parses it):
  // id, responsible_user_id, pipeline_id, created_by, updated_by, entity_id, is_completed (0 or 1),
  // task_type.
  std::map<std::string, IntFilter> int_filters;
  // The same forms for text values: note_type, uid, category, entity_type.
  std::map<std::string, StringFilter> string_filters;
  std::map<std::string, std::pair<int64_t, int64_t>> statuses;  // index → (pipeline, status)
  std::map<std::string, RangeFilter> ranges;                    // "created_at", ...
  std::string link_query;  // the other parameters, re-encoded, for _links

  bool With(std::string_view what) const {
    return std::find(with.begin(), with.end(), what) != with.end();
  }
  const IntFilter& Filter(const std::string& name) const {
    static const IntFilter kNone;
    const auto it = int_filters.find(name);
    return it == int_filters.end() ? kNone : it->second;
  }
  const StringFilter& TextFilter(const std::string& name) const {
    static const StringFilter kNone;
    const auto it = string_filters.find(name);
    return it == string_filters.end() ? kNone : it->second;
  }
  const RangeFilter& Range(const std::string& name) const {
    static const RangeFilter kNone;
    const auto it = ranges.find(name);
    return it == ranges.end() ? kNone : it->second;
  }
};

ListParams ParseListParams(std::string_view raw_query);

template <typename Entity>
int64_t OrderKey(const Entity& e, const std::string& field) {
  if (field == "created_at") return e.created_at;
  if (field == "updated_at") return e.updated_at;
  return e.id;
}

// Tasks also order by their due time.
inline int64_t OrderKey(const Task& task, const std::string& field) {
  if (field == "complete_till") return task.complete_till;
  if (field == "created_at") return task.created_at;
  if (field == "updated_at") return task.updated_at;
  return task.id;
}

// By params.order_field and direction; ties by id in the same direction.
template <typename Entity>
void SortEntities(std::vector<const Entity*>* entities, const ListParams& p) {
  std::stable_sort(entities->begin(), entities->end(), [&p](const Entity* a, const Entity* b) {
    const int64_t ka = OrderKey(*a, p.order_field);
    const int64_t kb = OrderKey(*b, p.order_field);
    if (ka != kb) return p.descending ? ka > kb : ka < kb;
    return p.descending ? a->id > b->id : a->id < b->id;
  });
}

void WriteHref(JsonWriter& w, std::string_view name, const std::string& href);
// "_links" of a list page: self, next (when there is one), first, prev (page > 1).
void WritePageLinks(JsonWriter& w, const std::string& base, const ListParams& p, bool has_next);

// The page of `matches` that `p` asks for: [offset, end). Empty (offset >= size) → 204.
struct PageRange {
  size_t offset;
  size_t end;
  bool empty() const { return offset >= end; }
};
PageRange PageOf(size_t count, const ListParams& p);

}  // namespace kommo::emulator

#endif  // KOMMO_EMULATOR_API_COMMON_H_
