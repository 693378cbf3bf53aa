#include "emulator/kommo_api.h"

#include <algorithm>
#include <ctime>
#include <map>
#include <optional>
#include <random>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "emulator/api_common.h"
#include "emulator/render.h"
#include "emulator/text.h"
#include "emulator/writes.h"
#include "rapidjson/document.h"
#include "rapidjson/error/en.h"

namespace kommo::emulator {
namespace {

// --- search --------------------------------------------------------------------------------------

bool ContainsFolded(std::string_view haystack, const std::string& folded_needle) {
  return AsciiLower(haystack).find(folded_needle) != std::string::npos;
}

// Leads: case-insensitive substring of the name, or substring of the decimal price.
bool LeadMatchesQuery(const Lead& lead, const std::string& query) {
  const std::string folded = AsciiLower(query);
  return ContainsFolded(lead.name, folded) ||
         absl::StrCat(lead.price).find(query) != std::string::npos;
}

// Custom field values (contacts, companies): a case-insensitive substring of any value (emails,
// phones as written); and, when the query has digits, its digits as a substring of a phone's
// digits ("+1 (555) 010-0" finds "15550100", "9991234567" finds "+7 (999) 123-45-67").
bool FieldsMatchQuery(const std::vector<FieldValues>& fields, const std::string& query) {
  const std::string folded = AsciiLower(query);
  const std::string digits = DigitsOf(query);
  for (const FieldValues& field : fields) {
    for (const FieldValue& value : field.values) {
      if (ContainsFolded(value.value, folded)) return true;
      if (field.field_id == kPhoneFieldId && !digits.empty() &&
          DigitsOf(value.value).find(digits) != std::string::npos) {
        return true;
      }
    }
  }
  return false;
}

// Contacts: case-insensitive substring of name, first_name or last_name, or a field value match.
bool ContactMatchesQuery(const Contact& contact, const std::string& query) {
  const std::string folded = AsciiLower(query);
  return ContainsFolded(contact.name, folded) || ContainsFolded(contact.first_name, folded) ||
         ContainsFolded(contact.last_name, folded) || FieldsMatchQuery(contact.fields, query);
}

// --- leads and contacts: what differs -----------------------------------------------------

struct LeadKind {
  static constexpr EntityKind kKind = EntityKind::kLead;
  using Entity = Lead;
  static constexpr char kCollection[] = "leads";  // path segment and _embedded key
  static constexpr char kWith[] = "contacts";     // ?with= that embeds the linked entities
  static constexpr char kNotFound[] = "Lead not found";
  static constexpr bool kCreatedFlags = false;  // create results carry is_deleted, is_unsorted
  static constexpr bool kEchoName = false;      // update results carry the name
  static std::map<int64_t, Lead>& Items(Store& store) { return store.leads(); }
  static int64_t NextId(Store& store) { return store.NextLeadId(); }
  static constexpr auto Write = &WriteLead;
  static constexpr auto Build = &BuildNewLead;
  static constexpr auto Apply = &ApplyLeadUpdate;

  static bool Matches(const ListParams& p, int64_t id, const Lead& lead) {
    if (!p.Filter("id").Matches(id) ||
        !p.Filter("responsible_user_id").Matches(lead.responsible_user_id) ||
        !p.Filter("pipeline_id").Matches(lead.pipeline_id) ||
        !p.Filter("created_by").Matches(lead.created_by) ||
        !p.Filter("updated_by").Matches(lead.updated_by) ||
        !p.Range("created_at").Matches(lead.created_at) ||
        !p.Range("updated_at").Matches(lead.updated_at) ||
        !p.Range("closed_at").Matches(lead.closed_at)) {
      return false;
    }
    if (!p.statuses.empty()) {
      const bool in_status = std::any_of(p.statuses.begin(), p.statuses.end(), [&](const auto& s) {
        return (s.second.first == 0 || s.second.first == lead.pipeline_id) &&
               s.second.second == lead.status_id;
      });
      if (!in_status) return false;
    }
    return p.query.empty() || LeadMatchesQuery(lead, p.query);
  }
};

struct ContactKind {
  static constexpr EntityKind kKind = EntityKind::kContact;
  using Entity = Contact;
  static constexpr char kCollection[] = "contacts";
  static constexpr char kWith[] = "leads";
  static constexpr char kNotFound[] = "Contact not found";
  static constexpr bool kCreatedFlags = true;
  static constexpr bool kEchoName = true;
  static std::map<int64_t, Contact>& Items(Store& store) { return store.contacts(); }
  static int64_t NextId(Store& store) { return store.NextContactId(); }
  static constexpr auto Write = &WriteContact;
  static constexpr auto Build = &BuildNewContact;
  static constexpr auto Apply = &ApplyContactUpdate;

  static bool Matches(const ListParams& p, int64_t id, const Contact& contact) {
    if (!p.Filter("id").Matches(id) ||
        !p.Filter("responsible_user_id").Matches(contact.responsible_user_id) ||
        !p.Filter("created_by").Matches(contact.created_by) ||
        !p.Filter("updated_by").Matches(contact.updated_by) ||
        !p.Range("created_at").Matches(contact.created_at) ||
        !p.Range("updated_at").Matches(contact.updated_at)) {
      return false;
    }
    return p.query.empty() || ContactMatchesQuery(contact, p.query);
  }
};

struct CompanyKind {
  static constexpr EntityKind kKind = EntityKind::kCompany;
  using Entity = Company;
  static constexpr char kCollection[] = "companies";
  static constexpr char kWith[] = "contacts";
  static constexpr char kNotFound[] = "Company not found";
  static constexpr bool kCreatedFlags = false;
  static constexpr bool kEchoName = true;
  static std::map<int64_t, Company>& Items(Store& store) { return store.companies(); }
  static int64_t NextId(Store& store) { return store.NextCompanyId(); }
  static constexpr auto Write = &WriteCompany;
  static constexpr auto Build = &BuildNewCompany;
  static constexpr auto Apply = &ApplyCompanyUpdate;

  static bool Matches(const ListParams& p, int64_t id, const Company& company) {
    if (!p.Filter("id").Matches(id) ||
        !p.Filter("responsible_user_id").Matches(company.responsible_user_id) ||
        !p.Filter("created_by").Matches(company.created_by) ||
        !p.Filter("updated_by").Matches(company.updated_by) ||
        !p.Range("created_at").Matches(company.created_at) ||
        !p.Range("updated_at").Matches(company.updated_at)) {
      return false;
    }
    return p.query.empty() || ContainsFolded(company.name, AsciiLower(p.query)) ||
           FieldsMatchQuery(company.fields, p.query);
  }
};

// The result of one updated item: {"id","name" (contacts),"updated_at","request_id","_links"}.
template <typename Kind>
void WriteUpdated(JsonWriter& w, const Hrefs& hrefs, int64_t id,
                  const typename Kind::Entity& entity, const std::string& request_id) {
  w.StartObject();
  Key(w, "id");
  w.Int64(id);
  if (Kind::kEchoName) {
    Key(w, "name");
    Str(w, entity.name);
  }
  Key(w, "updated_at");
  w.Int64(entity.updated_at);
  Key(w, "request_id");
  Str(w, request_id);
  WriteSelfLinks(w, absl::StrCat(hrefs.api_base, "/", Kind::kCollection, "/", id));
  w.EndObject();
}

}  // namespace

// --- public ----------------------------------------------------------------------------------

HttpResponse ProblemResponse(int status, std::string_view detail) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  Key(w, "title");
  Str(w, ReasonPhrase(status));
  Key(w, "type");
  Str(w, absl::StrCat("https://httpstatus.es/", status));
  Key(w, "status");
  w.Int(status);
  Key(w, "detail");
  Str(w, detail);
  w.EndObject();
  return HttpResponse::WithBody(status, kProblemJson, Finish(buffer));
}

KommoApi::KommoApi(Store* store, const EmulatorOptions* options, std::string fallback_base_url,
                   EventLog* events, WebhookDispatcher* webhooks)
    : store_(store),
      options_(options),
      fallback_base_url_(std::move(fallback_base_url)),
      events_(events),
      webhooks_(webhooks),
      random_(options->random_seed != 0 ? options->random_seed : std::random_device()()) {}

int64_t KommoApi::Now() const {
  return options_->clock ? options_->clock() : static_cast<int64_t>(std::time(nullptr));
}

HttpResponse KommoApi::Handle(const HttpRequest& request) {
  constexpr std::string_view kPrefix = "/api/v4";
  const std::string_view path = request.path;
  if (path.substr(0, kPrefix.size()) != kPrefix ||
      (path.size() > kPrefix.size() && path[kPrefix.size()] != '/')) {
    return ProblemResponse(404, absl::StrCat("Cannot ", request.method, " ", request.path));
  }

  // Authorization: Bearer <token>. The token's value is never logged or echoed.
  const std::string* authorization = request.Header("authorization");
  std::string_view token;
  if (authorization != nullptr && StartsWithIgnoreCase(*authorization, "Bearer ")) {
    token = std::string_view(*authorization).substr(7);
    while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  }
  const User* user = nullptr;
  if (token.empty()) {
    return ProblemResponse(401, "Authorization header with a Bearer token is required");
  }
  if (!options_->manager_token.empty() && token == options_->manager_token) {
    user = store_->FindUser(kManagerUserId);
  } else if (options_->token.empty() || token == options_->token) {
    user = store_->FindUser(kAdminUserId);
  } else {
    return ProblemResponse(401, "Invalid or expired access token");
  }

  // Links point where the client connected (Host), like Kommo's point at the account's domain.
  std::string base = fallback_base_url_;
  if (const std::string* host = request.Header("host")) {
    const bool safe = !host->empty() && host->find_first_not_of(
                                            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                            "0123456789.-:[]") == std::string::npos;
    if (safe) {
      const size_t scheme_end = fallback_base_url_.find("://");
      base = absl::StrCat(fallback_base_url_.substr(0, scheme_end), "://", *host);
    }
  }
  ChangeRecorder changes(store_, user->id, events_->next_system_note_id());
  Call call{request, *user, Hrefs{absl::StrCat(base, AsAbsl(kPrefix)), ""},
            SplitPath(path.substr(kPrefix.size())), &changes};
  HttpResponse response = Route(call);
  Commit(changes);
  return response;
}

void KommoApi::Commit(const ChangeRecorder& changes) {
  if (changes.empty()) return;
  events_->Record(changes.events(), Now());
  webhooks_->Dispatch(changes.webhook_changes(), *store_);
}

HttpResponse KommoApi::Route(const Call& call) {
  const Segments& s = call.segments;
  const std::string& method = call.request.method;
  const bool get = method == "GET";
  const bool post = method == "POST";
  const bool patch = method == "PATCH";
  int64_t id = 0;
  int64_t id2 = 0;
  const auto not_found = [&] {
    return ProblemResponse(404, absl::StrCat("Cannot ", method, " ", call.request.path));
  };
  if (s.empty()) return not_found();

  if (s[0] == "account" && s.size() == 1) {
    return get ? GetAccount(call) : MethodNotAllowed(method, "GET");
  }
  if (s[0] == "users" && s.size() == 1) {
    return get ? ListUsers(call) : MethodNotAllowed(method, "GET");
  }
  if (s[0] == "tasks") return RouteTasks(call);
  if (s[0] == "events") return RouteEvents(call);
  if (s[0] == "webhooks") return RouteWebhooks(call);
  if (s[0] == "leads") {
    if (s.size() == 1) {
      if (get) return ListEntities<LeadKind>(call);
      if (post) return CreateEntities<LeadKind>(call);
      if (patch) return UpdateEntities<LeadKind>(call);
      return MethodNotAllowed(method, "GET, POST, PATCH");
    }
    if (s[1] == "pipelines") {
      if (s.size() == 2) return get ? ListPipelines(call) : MethodNotAllowed(method, "GET");
      if (!ParseId(s[2], &id)) return not_found();
      if (s.size() == 3) return get ? GetPipeline(call, id) : MethodNotAllowed(method, "GET");
      if (s[3] != "statuses") return not_found();
      if (s.size() == 4) return get ? ListStatuses(call, id) : MethodNotAllowed(method, "GET");
      if (s.size() == 5 && ParseId(s[4], &id2)) {
        return get ? GetStatus(call, id, id2) : MethodNotAllowed(method, "GET");
      }
      return not_found();
    }
    if (std::optional<HttpResponse> fields = RouteFields(call, "leads")) return *std::move(fields);
    if (std::optional<HttpResponse> tags = RouteTags(call, "leads")) return *std::move(tags);
    if (s[1] == "loss_reasons") {
      if (s.size() == 2) return get ? ListLossReasons(call) : MethodNotAllowed(method, "GET");
      if (s.size() == 3 && ParseId(s[2], &id)) {
        return get ? GetLossReason(call, id) : MethodNotAllowed(method, "GET");
      }
      return not_found();
    }
    if (s[1] == "complex") {
      if (s.size() != 2) return not_found();
      return post ? CreateComplexLeads(call) : MethodNotAllowed(method, "POST");
    }
    if (s[1] == "unsorted") return RouteUnsorted(call);
    if (std::optional<HttpResponse> notes = RouteNotes(call, "leads")) return *std::move(notes);
    if (s.size() == 2 && ParseId(s[1], &id)) {
      if (get) return GetEntity<LeadKind>(call, id);
      if (patch) return UpdateEntity<LeadKind>(call, id);
      return MethodNotAllowed(method, "GET, PATCH");
    }
    if (std::optional<HttpResponse> links = RouteLinks(call, "leads")) return *std::move(links);
    return not_found();
  }
  if (s[0] == "contacts") {
    if (s.size() == 1) {
      if (get) return ListEntities<ContactKind>(call);
      if (post) return CreateEntities<ContactKind>(call);
      if (patch) return UpdateEntities<ContactKind>(call);
      return MethodNotAllowed(method, "GET, POST, PATCH");
    }
    if (std::optional<HttpResponse> fields = RouteFields(call, "contacts")) {
      return *std::move(fields);
    }
    if (std::optional<HttpResponse> tags = RouteTags(call, "contacts")) return *std::move(tags);
    if (std::optional<HttpResponse> notes = RouteNotes(call, "contacts")) return *std::move(notes);
    if (std::optional<HttpResponse> links = RouteLinks(call, "contacts")) return *std::move(links);
    if (s.size() == 2 && ParseId(s[1], &id)) {
      if (get) return GetEntity<ContactKind>(call, id);
      if (patch) return UpdateEntity<ContactKind>(call, id);
      return MethodNotAllowed(method, "GET, PATCH");
    }
  }
  if (s[0] == "companies") {
    if (s.size() == 1) {
      if (get) return ListEntities<CompanyKind>(call);
      if (post) return CreateEntities<CompanyKind>(call);
      if (patch) return UpdateEntities<CompanyKind>(call);
      return MethodNotAllowed(method, "GET, POST, PATCH");
    }
    if (std::optional<HttpResponse> fields = RouteFields(call, "companies")) {
      return *std::move(fields);
    }
    if (std::optional<HttpResponse> tags = RouteTags(call, "companies")) return *std::move(tags);
    if (std::optional<HttpResponse> notes = RouteNotes(call, "companies")) {
      return *std::move(notes);
    }
    if (std::optional<HttpResponse> links = RouteLinks(call, "companies")) {
      return *std::move(links);
    }
    if (s.size() == 2 && ParseId(s[1], &id)) {
      if (get) return GetEntity<CompanyKind>(call, id);
      if (patch) return UpdateEntity<CompanyKind>(call, id);
      return MethodNotAllowed(method, "GET, PATCH");
    }
  }
  return not_found();
}

// --- account, users, pipelines, custom fields ---------------------------------------------------

HttpResponse KommoApi::GetAccount(const Call& call) {
  const ListParams p = ParseListParams(call.request.query);
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  Key(w, "id");
  w.Int64(kAccountId);
  Key(w, "name");
  w.String("Kommo Emulator");
  Key(w, "subdomain");
  w.String(kAccountSubdomain);
  Key(w, "current_user_id");
  w.Int64(call.user.id);
  Key(w, "country");
  w.String("US");
  Key(w, "currency");
  w.String("USD");
  Key(w, "currency_symbol");
  w.String("$");
  Key(w, "customers_mode");
  w.String("disabled");
  Key(w, "is_unsorted_on");
  w.Bool(true);
  Key(w, "is_loss_reason_enabled");
  w.Bool(true);
  Key(w, "is_helpbot_enabled");
  w.Bool(false);
  Key(w, "is_technical_account");
  w.Bool(false);
  Key(w, "contact_name_display_order");
  w.Int(1);
  if (p.With("amojo_id")) {
    Key(w, "amojo_id");
    w.String("00000000-0000-4000-8000-000031000001");
  }
  Key(w, "created_at");
  w.Int64(kAccountCreatedAt);
  Key(w, "created_by");
  w.Int(0);
  Key(w, "updated_at");
  w.Int64(kAccountCreatedAt);
  Key(w, "updated_by");
  w.Int(0);
  WriteSelfLinks(w, absl::StrCat(call.hrefs.api_base, "/account"));
  if (p.With("datetime_settings") || p.With("users_groups")) {
    Key(w, "_embedded");
    w.StartObject();
    if (p.With("datetime_settings")) {
      Key(w, "datetime_settings");
      w.StartObject();
      Key(w, "date_pattern");
      w.String("Y-m-d H:i");
      Key(w, "short_date_pattern");
      w.String("Y-m-d");
      Key(w, "short_time_pattern");
      w.String("H:i");
      Key(w, "date_format");
      w.String("Y-m-d");
      Key(w, "time_format");
      w.String("H:i:s");
      Key(w, "timezone");
      w.String("UTC");
      Key(w, "timezone_offset");
      w.String("+00:00");
      w.EndObject();
    }
    if (p.With("users_groups")) {
      Key(w, "users_groups");
      w.StartArray();
      for (const Group& group : store_->groups()) {
        w.StartObject();
        Key(w, "id");
        w.Int64(group.id);
        Key(w, "name");
        Str(w, group.name);
        Key(w, "uuid");
        w.Null();
        w.EndObject();
      }
      w.EndArray();
    }
    w.EndObject();
  }
  w.EndObject();
  return Hal(Finish(buffer));
}

HttpResponse KommoApi::ListUsers(const Call& call) {
  if (!call.user.is_admin) {
    return ProblemResponse(403, "Only account administrators can list users");
  }
  const ListParams p = ParseListParams(call.request.query);
  const std::vector<User>& users = store_->users();
  const size_t offset = static_cast<size_t>(p.page - 1) * static_cast<size_t>(p.limit);
  if (offset >= users.size()) return NoContent();
  const size_t end = std::min(users.size(), offset + static_cast<size_t>(p.limit));
  const size_t page_count = (users.size() + static_cast<size_t>(p.limit) - 1) / p.limit;
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  Key(w, "_total_items");
  w.Uint64(users.size());
  Key(w, "_page");
  w.Int(p.page);
  Key(w, "_page_count");
  w.Uint64(page_count);
  WritePageLinks(w, absl::StrCat(call.hrefs.api_base, "/users"), p, end < users.size());
  Key(w, "_embedded");
  w.StartObject();
  Key(w, "users");
  w.StartArray();
  for (size_t i = offset; i < end; ++i) WriteUser(w, users[i], call.hrefs);
  w.EndArray();
  w.EndObject();
  w.EndObject();
  return Hal(Finish(buffer));
}

HttpResponse KommoApi::ListPipelines(const Call& call) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  Key(w, "_total_items");
  w.Uint64(store_->pipelines().size());
  WriteSelfLinks(w, absl::StrCat(call.hrefs.api_base, "/leads/pipelines"));
  Key(w, "_embedded");
  w.StartObject();
  Key(w, "pipelines");
  w.StartArray();
  for (const Pipeline& pipeline : store_->pipelines()) WritePipeline(w, pipeline, call.hrefs);
  w.EndArray();
  w.EndObject();
  w.EndObject();
  return Hal(Finish(buffer));
}

HttpResponse KommoApi::GetPipeline(const Call& call, int64_t pipeline_id) {
  const Pipeline* pipeline = store_->FindPipeline(pipeline_id);
  if (pipeline == nullptr) return ProblemResponse(404, "Pipeline not found");
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  WritePipeline(w, *pipeline, call.hrefs);
  return Hal(Finish(buffer));
}

HttpResponse KommoApi::ListStatuses(const Call& call, int64_t pipeline_id) {
  const Pipeline* pipeline = store_->FindPipeline(pipeline_id);
  if (pipeline == nullptr) return ProblemResponse(404, "Pipeline not found");
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  Key(w, "_total_items");
  w.Uint64(pipeline->statuses.size());
  WriteSelfLinks(w,
                 absl::StrCat(call.hrefs.api_base, "/leads/pipelines/", pipeline_id, "/statuses"));
  Key(w, "_embedded");
  w.StartObject();
  Key(w, "statuses");
  w.StartArray();
  for (const PipelineStatus& status : pipeline->statuses) {
    WriteStatus(w, status, pipeline_id, call.hrefs);
  }
  w.EndArray();
  w.EndObject();
  w.EndObject();
  return Hal(Finish(buffer));
}

HttpResponse KommoApi::GetStatus(const Call& call, int64_t pipeline_id, int64_t status_id) {
  const Pipeline* pipeline = store_->FindPipeline(pipeline_id);
  if (pipeline == nullptr) return ProblemResponse(404, "Pipeline not found");
  const PipelineStatus* status = pipeline->FindStatus(status_id);
  if (status == nullptr) return ProblemResponse(404, "Status not found");
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  WriteStatus(w, *status, pipeline_id, call.hrefs);
  return Hal(Finish(buffer));
}

std::optional<HttpResponse> KommoApi::RouteFields(const Call& call, std::string_view entity_type) {
  const Segments& s = call.segments;
  if (s.size() < 2 || s[1] != "custom_fields") return std::nullopt;
  const std::string& method = call.request.method;
  int64_t id = 0;
  if (s.size() == 2)
    return method == "GET" ? ListFields(call, entity_type) : MethodNotAllowed(method, "GET");
  if (s.size() == 3 && ParseId(s[2], &id)) {
    return method == "GET" ? GetField(call, entity_type, id) : MethodNotAllowed(method, "GET");
  }
  return ProblemResponse(404, absl::StrCat("Cannot ", method, " ", call.request.path));
}

HttpResponse KommoApi::ListFields(const Call& call, std::string_view entity_type) {
  const std::vector<CustomField>& fields = *store_->FieldsOf(entity_type);
  const ListParams p = ParseListParams(call.request.query);
  const PageRange range = PageOf(fields.size(), p);
  if (range.empty()) return NoContent();
  const size_t page_count = (fields.size() + static_cast<size_t>(p.limit) - 1) / p.limit;
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  Key(w, "_total_items");
  w.Uint64(fields.size());
  Key(w, "_page");
  w.Int(p.page);
  Key(w, "_page_count");
  w.Uint64(page_count);
  WritePageLinks(w, absl::StrCat(call.hrefs.api_base, "/", AsAbsl(entity_type), "/custom_fields"),
                 p, range.end < fields.size());
  Key(w, "_embedded");
  w.StartObject();
  Key(w, "custom_fields");
  w.StartArray();
  for (size_t i = range.offset; i < range.end; ++i) {
    WriteCustomField(w, fields[i], entity_type, call.hrefs);
  }
  w.EndArray();
  w.EndObject();
  w.EndObject();
  return Hal(Finish(buffer));
}

HttpResponse KommoApi::GetField(const Call& call, std::string_view entity_type, int64_t id) {
  for (const CustomField& field : *store_->FieldsOf(entity_type)) {
    if (field.id != id) continue;
    rapidjson::StringBuffer buffer;
    JsonWriter w(buffer);
    WriteCustomField(w, field, entity_type, call.hrefs);
    return Hal(Finish(buffer));
  }
  return NoContent();
}

HttpResponse KommoApi::ListLossReasons(const Call& call) {
  const std::vector<LossReason>& reasons = store_->loss_reasons();
  const ListParams p = ParseListParams(call.request.query);
  const PageRange range = PageOf(reasons.size(), p);
  if (range.empty()) return NoContent();
  const size_t page_count = (reasons.size() + static_cast<size_t>(p.limit) - 1) / p.limit;
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  Key(w, "_total_items");
  w.Uint64(reasons.size());
  Key(w, "_page");
  w.Int(p.page);
  Key(w, "_page_count");
  w.Uint64(page_count);
  WritePageLinks(w, absl::StrCat(call.hrefs.api_base, "/leads/loss_reasons"), p,
                 range.end < reasons.size());
  Key(w, "_embedded");
  w.StartObject();
  Key(w, "loss_reasons");
  w.StartArray();
  for (size_t i = range.offset; i < range.end; ++i) WriteLossReason(w, reasons[i], call.hrefs);
  w.EndArray();
  w.EndObject();
  w.EndObject();
  return Hal(Finish(buffer));
}

HttpResponse KommoApi::GetLossReason(const Call& call, int64_t id) {
  for (const LossReason& reason : store_->loss_reasons()) {
    if (reason.id != id) continue;
    rapidjson::StringBuffer buffer;
    JsonWriter w(buffer);
    WriteLossReason(w, reason, call.hrefs);
    return Hal(Finish(buffer));
  }
  return ProblemResponse(404, "Loss reason not found");
}

// --- leads and contacts --------------------------------------------------------------------
//
// One implementation of list, get, batch create, batch update and single update serves both;
// a Kind (LeadKind, ContactKind above) says what differs: the store's map, the renderer,
// validation, list filters and search, and the extra members Kommo puts in write results.

template <typename Kind>
HttpResponse KommoApi::ListEntities(const Call& call) {
  using Entity = typename Kind::Entity;
  const ListParams p = ParseListParams(call.request.query);
  std::vector<const Entity*> matches;
  for (const auto& [id, entity] : Kind::Items(*store_)) {
    if (Kind::Matches(p, id, entity)) matches.push_back(&entity);
  }
  SortEntities(&matches, p);
  const PageRange page = PageOf(matches.size(), p);
  if (page.empty()) return NoContent();

  Hrefs entity_hrefs = call.hrefs;  // entity self links echo the page, like Kommo's
  entity_hrefs.entity_suffix = absl::StrCat("?page=", p.page, "&limit=", p.limit);
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  Key(w, "_page");
  w.Int(p.page);
  WritePageLinks(w, absl::StrCat(call.hrefs.api_base, "/", Kind::kCollection), p,
                 page.end < matches.size());
  Key(w, "_embedded");
  w.StartObject();
  Key(w, Kind::kCollection);
  w.StartArray();
  for (size_t i = page.offset; i < page.end; ++i) {
    Kind::Write(w, *store_, *matches[i], entity_hrefs, p.With(Kind::kWith));
  }
  w.EndArray();
  w.EndObject();
  w.EndObject();
  return Hal(Finish(buffer));
}

template <typename Kind>
HttpResponse KommoApi::GetEntity(const Call& call, int64_t id) {
  const auto& items = Kind::Items(*store_);
  const auto it = items.find(id);
  if (it == items.end()) return NoContent();
  const ListParams p = ParseListParams(call.request.query);
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  Kind::Write(w, *store_, it->second, call.hrefs, p.With(Kind::kWith));
  return Hal(Finish(buffer));
}

template <typename Kind>
HttpResponse KommoApi::CreateEntities(const Call& call) {
  using Entity = typename Kind::Entity;
  rapidjson::Document doc;
  if (auto error = ParseBatch(call.request.body, &doc)) return *error;
  const WriteContext context{Now(), call.user.id};
  std::vector<std::pair<std::string, Entity>> valid;
  std::vector<ItemErrors> invalid;
  for (rapidjson::SizeType i = 0; i < doc.Size(); ++i) {
    const std::string request_id = RequestIdOf(doc[i], absl::StrCat(i));
    Entity entity;
    std::vector<FieldError> errors =
        doc[i].IsObject() ? Kind::Build(*store_, doc[i], context, &entity) : NotAnObject();
    if (errors.empty()) {
      valid.emplace_back(request_id, std::move(entity));
    } else {
      invalid.push_back(ItemErrors{request_id, std::move(errors)});
    }
  }
  if (!invalid.empty() && options_->batch_all_or_nothing) return ValidationFailed(invalid);

  const std::string collection = absl::StrCat(call.hrefs.api_base, "/", Kind::kCollection);
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  WriteSelfLinks(w, collection);
  Key(w, "_embedded");
  w.StartObject();
  Key(w, Kind::kCollection);
  w.StartArray();
  for (auto& [request_id, entity] : valid) {
    entity.id = Kind::NextId(*store_);
    const int64_t id = entity.id;
    store_->RegisterTags(Kind::kCollection, entity.tags);
    call.changes->Added(Kind::Items(*store_).emplace(id, std::move(entity)).first->second);
    w.StartObject();
    Key(w, "id");
    w.Int64(id);
    if (Kind::kCreatedFlags) {
      Key(w, "is_deleted");
      w.Bool(false);
      Key(w, "is_unsorted");
      w.Bool(false);
    }
    Key(w, "request_id");
    Str(w, request_id);
    WriteSelfLinks(w, absl::StrCat(collection, "/", id));
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  w.EndObject();
  if (!invalid.empty()) return ValidationFailed(invalid);  // partial mode: valid ones were saved
  return Hal(Finish(buffer));
}

template <typename Kind>
HttpResponse KommoApi::UpdateEntities(const Call& call) {
  using Entity = typename Kind::Entity;
  rapidjson::Document doc;
  if (auto error = ParseBatch(call.request.body, &doc)) return *error;
  const WriteContext context{Now(), call.user.id};
  struct Result {
    std::string request_id;
    int64_t id;
    Entity entity;  // as this item left it
  };
  std::map<int64_t, Entity> staged;  // later items of the batch see earlier items' changes
  std::vector<Result> results;
  std::vector<ItemErrors> invalid;
  for (rapidjson::SizeType i = 0; i < doc.Size(); ++i) {
    const rapidjson::Value& item = doc[i];
    const std::string request_id = RequestIdOf(item, absl::StrCat(i));
    if (!item.IsObject()) {
      invalid.push_back(ItemErrors{request_id, NotAnObject()});
      continue;
    }
    const auto id_member = item.FindMember("id");
    if (id_member == item.MemberEnd() || !id_member->value.IsInt64()) {
      invalid.push_back(
          ItemErrors{request_id,
                     {id_member == item.MemberEnd()
                          ? FieldError{"NotBlank", "id", "This value should not be blank."}
                          : FieldError{"InvalidType", "id", "This value should be of type int."}}});
      continue;
    }
    const int64_t id = id_member->value.GetInt64();
    Entity entity;
    if (auto it = staged.find(id); it != staged.end()) {
      entity = it->second;
    } else if (auto stored = Kind::Items(*store_).find(id); stored != Kind::Items(*store_).end()) {
      entity = stored->second;
    } else {
      invalid.push_back(
          ItemErrors{request_id, {FieldError{"NotSupportedChoice", "id", Kind::kNotFound}}});
      continue;
    }
    std::vector<FieldError> errors = Kind::Apply(*store_, item, context, &entity);
    if (!errors.empty()) {
      invalid.push_back(ItemErrors{request_id, std::move(errors)});
      continue;
    }
    results.push_back(Result{request_id, id, entity});
    staged[id] = std::move(entity);
  }
  if (!invalid.empty() && options_->batch_all_or_nothing) return ValidationFailed(invalid);
  for (auto& [id, entity] : staged) {
    store_->RegisterTags(Kind::kCollection, entity.tags);
    Entity& stored = Kind::Items(*store_)[id];
    const Entity before = stored;
    stored = std::move(entity);
    call.changes->Updated(before, stored);
  }
  if (!invalid.empty()) return ValidationFailed(invalid);

  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  WriteSelfLinks(w, absl::StrCat(call.hrefs.api_base, "/", Kind::kCollection));
  Key(w, "_embedded");
  w.StartObject();
  Key(w, Kind::kCollection);
  w.StartArray();
  for (const Result& result : results) {
    WriteUpdated<Kind>(w, call.hrefs, result.id, result.entity, result.request_id);
  }
  w.EndArray();
  w.EndObject();
  w.EndObject();
  return Hal(Finish(buffer));
}

template <typename Kind>
HttpResponse KommoApi::UpdateEntity(const Call& call, int64_t id) {
  rapidjson::Document doc;
  if (auto error = ParseBody(call.request.body, &doc)) return *error;
  if (!doc.IsObject()) return ProblemResponse(400, "Request body must be a JSON object");
  auto& items = Kind::Items(*store_);
  const auto it = items.find(id);
  if (it == items.end()) return ProblemResponse(404, Kind::kNotFound);
  typename Kind::Entity entity = it->second;
  std::vector<FieldError> errors =
      Kind::Apply(*store_, doc, WriteContext{Now(), call.user.id}, &entity);
  if (!errors.empty()) return ValidationFailed({ItemErrors{RequestIdOf(doc, "0"), errors}});
  store_->RegisterTags(Kind::kCollection, entity.tags);
  const typename Kind::Entity before = it->second;
  it->second = entity;
  call.changes->Updated(before, it->second);
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  // request_id: echoed, or positional ("0") like a batch of one.
  WriteUpdated<Kind>(w, call.hrefs, id, entity, RequestIdOf(doc, "0"));
  return Hal(Finish(buffer));
}

}  // namespace kommo::emulator
