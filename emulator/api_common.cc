#include "emulator/api_common.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "emulator/text.h"
#include "rapidjson/error/en.h"

namespace kommo::emulator {
namespace {

std::string PageHref(const std::string& base, const ListParams& p, int page) {
  return absl::StrCat(base, "?", p.link_query, p.link_query.empty() ? "" : "&", "page=", page,
                      "&limit=", p.limit);
}

}  // namespace

std::string Finish(const rapidjson::StringBuffer& buffer) {
  return std::string(buffer.GetString(), buffer.GetSize());
}

HttpResponse Hal(std::string body) {
  return HttpResponse::WithBody(200, kHalJson, std::move(body));
}

HttpResponse NoContent() {
  HttpResponse response;
  response.status = 204;
  return response;
}

HttpResponse MethodNotAllowed(const std::string& method, const std::string& allow) {
  HttpResponse response =
      ProblemResponse(405, absl::StrCat("Method ", method, " is not allowed here"));
  response.headers.emplace_back("Allow", allow);
  return response;
}

bool ParseId(std::string_view text, int64_t* id) {
  if (text.empty() || text.size() > 19 || DigitsOf(text).size() != text.size()) return false;
  return absl::SimpleAtoi(AsAbsl(text), id) && *id > 0;
}

Segments SplitPath(std::string_view path) {
  Segments segments;
  size_t start = 0;
  while (start < path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    if (end > start) segments.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return segments;
}

std::vector<std::string> SplitBrackets(const std::string& key) {
  std::vector<std::string> parts;
  const size_t open = key.find('[');
  parts.push_back(key.substr(0, open));
  size_t pos = open;
  while (pos != std::string::npos && pos < key.size() && key[pos] == '[') {
    const size_t close = key.find(']', pos);
    if (close == std::string::npos) return {key};
    parts.push_back(key.substr(pos + 1, close - pos - 1));
    pos = close + 1;
  }
  if (pos != std::string::npos && pos != key.size()) return {key};
  return parts;
}

// --- request bodies --------------------------------------------------------------------------

HttpResponse ValidationFailed(const std::vector<ItemErrors>& items) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  Key(w, "validation-errors");
  w.StartArray();
  for (const ItemErrors& item : items) {
    w.StartObject();
    Key(w, "request_id");
    Str(w, item.request_id);
    Key(w, "errors");
    w.StartArray();
    for (const FieldError& error : item.errors) {
      w.StartObject();
      Key(w, "code");
      Str(w, error.code);
      Key(w, "path");
      Str(w, error.path);
      Key(w, "detail");
      Str(w, error.detail);
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  Key(w, "title");
  w.String("Bad Request");
  Key(w, "type");
  w.String("https://httpstatus.es/400");
  Key(w, "status");
  w.Int(400);
  Key(w, "detail");
  w.String("Request validation failed");
  w.EndObject();
  return HttpResponse::WithBody(400, kProblemJson, Finish(buffer));
}

// Parses a request body: blank → 400 "Request data cannot be blank", malformed JSON → 400.
// Iterative parsing: a deeply nested body cannot exhaust the stack.
std::optional<HttpResponse> ParseBody(const std::string& body, rapidjson::Document* doc) {
  if (absl::StripAsciiWhitespace(body).empty()) {
    return ProblemResponse(400, "Request data cannot be blank");
  }
  doc->Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(body.data(),
                                                                                     body.size());
  if (doc->HasParseError()) {
    return ProblemResponse(400, absl::StrCat("Request body is not valid JSON: ",
                                             rapidjson::GetParseError_En(doc->GetParseError()),
                                             " (at byte ", doc->GetErrorOffset(), ")"));
  }
  return std::nullopt;
}

// A batch body: a JSON array of 1..kMaxBatchItems items.
std::optional<HttpResponse> ParseBatch(const std::string& body, rapidjson::Document* doc) {
  if (auto error = ParseBody(body, doc)) return error;
  if (!doc->IsArray()) return ProblemResponse(400, "Request body must be a JSON array");
  if (doc->Empty()) return ProblemResponse(400, "Request data cannot be blank");
  if (doc->Size() > static_cast<rapidjson::SizeType>(kMaxBatchItems)) {
    return ProblemResponse(
        422, absl::StrCat("Too many entities in one request: the limit is ", kMaxBatchItems));
  }
  return std::nullopt;
}

std::vector<FieldError> NotAnObject() {
  return {FieldError{"InvalidType", "", "This value should be of type object."}};
}
// --- lists ---

ListParams ParseListParams(std::string_view raw_query) {
  ListParams p;
  for (const auto& [key, value] : ParseQuery(raw_query)) {
    if (key == "page") {
      int page = 0;
      p.page = absl::SimpleAtoi(value, &page) && page > 0 ? page : 1;
      continue;
    }
    if (key == "limit") {
      p.raw_limit = value;
      int limit = 0;
      if (!absl::SimpleAtoi(value, &limit) || limit <= 0) limit = kDefaultPageLimit;
      p.limit = std::min(limit, kMaxPageLimit);
      continue;
    }
    if (!p.link_query.empty()) p.link_query += "&";
    absl::StrAppend(&p.link_query, UrlEncode(key), "=", UrlEncode(value));
    if (key == "query") {
      p.query = std::string(absl::StripAsciiWhitespace(value));
      continue;
    }
    if (key == "with") {
      size_t start = 0;
      while (start <= value.size()) {
        size_t end = value.find(',', start);
        if (end == std::string::npos) end = value.size();
        std::string item(absl::StripAsciiWhitespace(value.substr(start, end - start)));
        if (!item.empty()) p.with.push_back(std::move(item));
        start = end + 1;
      }
      continue;
    }
    const std::vector<std::string> parts = SplitBrackets(key);
    if (parts[0] == "order" && parts.size() == 2) {
      if (parts[1] == "id" || parts[1] == "created_at" || parts[1] == "updated_at" ||
          parts[1] == "complete_till") {
        p.order_field = parts[1];
        p.descending = EqualsIgnoreCase(value, "desc");
        p.order_given = true;
      }
      continue;
    }
    if (parts[0] != "filter" || parts.size() < 2) continue;
    const std::string& name = parts[1];
    if (name == "id" || name == "responsible_user_id" || name == "pipeline_id" ||
        name == "created_by" || name == "updated_by" || name == "entity_id" ||
        name == "is_completed" || name == "task_type") {
      if (parts.size() > 3) continue;
      IntFilter& filter = p.int_filters[name];
      filter.present = true;
      if (parts.size() == 2) filter.values.clear();  // PHP parsing: a bare key keeps its last value
      int64_t v = 0;
      if (absl::SimpleAtoi(value, &v)) filter.values.push_back(v);
    } else if (name == "note_type" || name == "uid" || name == "category" ||
               name == "entity_type") {
      if (parts.size() > 3) continue;
      StringFilter& filter = p.string_filters[name];
      filter.present = true;
      if (parts.size() == 2) filter.values.clear();
      filter.values.push_back(value);
    } else if (name == "statuses" && parts.size() == 4) {
      int64_t v = 0;
      if (!absl::SimpleAtoi(value, &v)) v = -1;  // matches nothing
      auto& pair = p.statuses[parts[2]];
      if (parts[3] == "pipeline_id") pair.first = v;
      if (parts[3] == "status_id") pair.second = v;
    } else if (name == "created_at" || name == "updated_at" || name == "closed_at") {
      int64_t v = 0;
      if (!absl::SimpleAtoi(value, &v)) continue;
      // A bare filter[updated_at]=T means "from T" (Kommo's notes document it so).
      if (parts.size() == 2 || (parts.size() == 3 && parts[2] == "from")) p.ranges[name].from = v;
      if (parts.size() == 3 && parts[2] == "to") p.ranges[name].to = v;
    }
  }
  return p;
}

void WriteHref(JsonWriter& w, std::string_view name, const std::string& href) {
  Key(w, name);
  w.StartObject();
  Key(w, "href");
  Str(w, href);
  w.EndObject();
}

void WritePageLinks(JsonWriter& w, const std::string& base, const ListParams& p, bool has_next) {
  Key(w, "_links");
  w.StartObject();
  WriteHref(w, "self", PageHref(base, p, p.page));
  if (has_next) WriteHref(w, "next", PageHref(base, p, p.page + 1));
  WriteHref(w, "first", PageHref(base, p, 1));
  if (p.page > 1) WriteHref(w, "prev", PageHref(base, p, p.page - 1));
  w.EndObject();
}

PageRange PageOf(size_t count, const ListParams& p) {
  const size_t offset = static_cast<size_t>(p.page - 1) * static_cast<size_t>(p.limit);
  if (offset >= count) return PageRange{count, count};
  return PageRange{offset, std::min(count, offset + static_cast<size_t>(p.limit))};
}

}  // namespace kommo::emulator
