// The admin API under /_emulator/: test controls real Kommo never has. No authentication: it is
// for tests on loopback only. Answers are application/json; mistakes get 400 problem+json with a
// message that names the field.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "emulator/changes.h"
#include "emulator/emulator_impl.h"
#include "emulator/text.h"
#include "rapidjson/document.h"

namespace kommo::emulator {
namespace {

constexpr std::string_view kAdminPrefix = "/_emulator/";

HttpResponse AdminJson(std::string body) {
  return HttpResponse::WithBody(200, "application/json", std::move(body));
}

HttpResponse AdminMethodNotAllowed(const char* allow) {
  HttpResponse response = ProblemResponse(405, "Method not allowed here");
  response.headers.emplace_back("Allow", allow);
  return response;
}

HttpResponse BadRequest(const absl::Status& status) {
  return ProblemResponse(400, std::string(status.message()));
}

std::string Finish(const rapidjson::StringBuffer& buffer) {
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::string FaultList(const FaultSet& faults, const std::vector<uint64_t>* added) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  if (added != nullptr) {
    Key(w, "ids");
    w.StartArray();
    for (const uint64_t id : *added) w.Uint64(id);
    w.EndArray();
  }
  Key(w, "faults");
  w.StartArray();
  for (const FaultRuleState& state : faults.rules()) WriteFaultRuleState(w, state);
  w.EndArray();
  w.EndObject();
  return Finish(buffer);
}

std::string RateLimitState(AccountGuard& guard) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  Key(w, "rate_limit");
  WriteRateLimit(w, guard.options());
  Key(w, "state");
  guard.WriteState(w, std::chrono::steady_clock::now());
  w.EndObject();
  return Finish(buffer);
}

std::string BlockState(AccountGuard& guard) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  guard.WriteState(w, std::chrono::steady_clock::now());
  return Finish(buffer);
}

// ?method=POST&path_prefix=/api/v4/leads&since=12&limit=100
absl::StatusOr<RequestFilter> ParseRequestFilter(std::string_view query) {
  RequestFilter filter;
  for (const auto& [name, value] : ParseQuery(query)) {
    if (name == "method") {
      filter.method = value;
    } else if (name == "path_prefix") {
      filter.path_prefix = value;
    } else if (name == "since" || name == "limit") {
      uint64_t number = 0;
      if (!absl::SimpleAtoi(value, &number)) {
        return absl::InvalidArgumentError(
            absl::StrCat("query parameter \"", name, "\" must be a non-negative integer"));
      }
      if (name == "since") filter.since = number;
      if (name == "limit") filter.limit = static_cast<size_t>(number);
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown query parameter \"", name, "\" (known: method, path_prefix, since, limit)"));
    }
  }
  return filter;
}

std::string EventsState(const EventLog& events) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  Key(w, "count");
  w.Uint64(events.size());
  Key(w, "max_events");
  w.Uint64(events.options().max_events);
  Key(w, "max_age_seconds");
  w.Int64(events.options().max_age.count());
  Key(w, "oldest_created_at");
  if (events.events().empty()) {
    w.Null();
  } else {
    w.Int64(events.events().front().created_at);
  }
  Key(w, "newest_created_at");
  if (events.events().empty()) {
    w.Null();
  } else {
    w.Int64(events.events().back().created_at);
  }
  w.EndObject();
  return Finish(buffer);
}

// {"max_events":N,"max_age_seconds":N}; members not given keep their value.
absl::StatusOr<EventHistoryOptions> ParseEventHistory(const std::string& body,
                                                      EventHistoryOptions options) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(body.data(), body.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    return absl::InvalidArgumentError(
        R"(events: the body must be {"max_events":N,"max_age_seconds":N})");
  }
  for (const auto& member : doc.GetObject()) {
    const std::string_view name(member.name.GetString(), member.name.GetStringLength());
    const bool number = member.value.IsInt64() && member.value.GetInt64() >= 0;
    if (name == "max_events" && number) {
      options.max_events = static_cast<size_t>(member.value.GetInt64());
    } else if (name == "max_age_seconds" && number) {
      options.max_age = std::chrono::seconds(member.value.GetInt64());
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("events: unexpected member or type \"", AsAbsl(name),
                       "\" (known: max_events >= 1, max_age_seconds >= 0, integers)"));
    }
  }
  if (absl::Status status = ValidateEventHistory(options); !status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("events: ", status.message()));
  }
  return options;
}

std::string WebhooksState(const WebhookDispatcher& webhooks) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  Key(w, "options");
  WriteWebhookOptions(w, webhooks.options());
  Key(w, "webhooks");
  w.StartArray();
  for (const Webhook& webhook : webhooks.webhooks()) WriteWebhook(w, webhook);
  w.EndArray();
  Key(w, "faults");
  webhooks.WriteFaults(w);
  w.EndObject();
  return Finish(buffer);
}

std::string WebhookFaults(const WebhookDispatcher& webhooks, const std::vector<uint64_t>* added) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  if (added != nullptr) {
    Key(w, "ids");
    w.StartArray();
    for (const uint64_t id : *added) w.Uint64(id);
    w.EndArray();
  }
  Key(w, "faults");
  webhooks.WriteFaults(w);
  w.EndObject();
  return Finish(buffer);
}

std::string Deliveries(const WebhookDispatcher& webhooks) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  Key(w, "deliveries");
  w.StartArray();
  for (const WebhookDelivery& delivery : webhooks.deliveries()) WriteWebhookDelivery(w, delivery);
  w.EndArray();
  w.EndObject();
  return Finish(buffer);
}

}  // namespace

HttpResponse EmulatorImpl::HandleEventsAdmin(const HttpRequest& request, const std::string&) {
  const std::string& method = request.method;
  if (method == "POST") {
    absl::StatusOr<EventHistoryOptions> options =
        ParseEventHistory(request.body, events_.options());
    if (!options.ok()) return BadRequest(options.status());
    events_.Configure(*options, api_->Now());
  } else if (method == "DELETE") {
    events_.Clear();
  } else if (method != "GET") {
    return AdminMethodNotAllowed("GET, POST, DELETE");
  }
  return AdminJson(EventsState(events_));
}

HttpResponse EmulatorImpl::HandleWebhooksAdmin(const HttpRequest& request,
                                               const std::string& what) {
  const std::string& method = request.method;
  WebhookDispatcher& webhooks = *webhooks_;
  if (what == "webhooks") {
    if (method == "POST") {
      absl::StatusOr<WebhookOptions> options =
          ParseWebhookOptions(request.body, webhooks.options());
      if (!options.ok()) return BadRequest(options.status());
      webhooks.Configure(*options);
    } else if (method != "GET") {
      return AdminMethodNotAllowed("GET, POST");
    }
    return AdminJson(WebhooksState(webhooks));
  }
  if (what == "webhooks/deliveries") {
    if (method == "DELETE") {
      webhooks.ClearFinishedDeliveries();
    } else if (method != "GET") {
      return AdminMethodNotAllowed("GET, DELETE");
    }
    return AdminJson(Deliveries(webhooks));
  }
  if (what == "webhooks/faults") {
    if (method == "GET") return AdminJson(WebhookFaults(webhooks, nullptr));
    if (method == "DELETE") {
      webhooks.ClearFaults();
      return AdminJson(WebhookFaults(webhooks, nullptr));
    }
    if (method != "POST") return AdminMethodNotAllowed("GET, POST, DELETE");
    absl::StatusOr<std::vector<WebhookFaultRule>> rules = ParseWebhookFaultRules(request.body);
    if (!rules.ok()) return BadRequest(rules.status());
    std::vector<uint64_t> added;
    for (WebhookFaultRule& rule : *rules) added.push_back(webhooks.AddFault(std::move(rule)));
    return AdminJson(WebhookFaults(webhooks, &added));
  }
  uint64_t id = 0;
  constexpr std::string_view kFaultPrefix = "webhooks/faults/";
  if (what.rfind(kFaultPrefix, 0) == 0 && absl::SimpleAtoi(what.substr(kFaultPrefix.size()), &id)) {
    if (method != "DELETE") return AdminMethodNotAllowed("DELETE");
    if (!webhooks.RemoveFault(id)) {
      return ProblemResponse(404, absl::StrCat("No webhook fault rule ", id));
    }
    return AdminJson(WebhookFaults(webhooks, nullptr));
  }
  return ProblemResponse(404, absl::StrCat("Unknown emulator admin path ", request.path));
}

// {"pipeline_id":N,"enabled":true|false}; both required, nothing else.
absl::Status EmulatorImpl::SetDuplicateControl(const std::string& body) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(body.data(), body.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    return absl::InvalidArgumentError(
        R"(duplicate_control: the body must be {"pipeline_id":N,"enabled":true|false})");
  }
  std::optional<int64_t> pipeline_id;
  std::optional<bool> enabled;
  for (const auto& member : doc.GetObject()) {
    const std::string_view name(member.name.GetString(), member.name.GetStringLength());
    if (name == "pipeline_id" && member.value.IsInt64()) {
      pipeline_id = member.value.GetInt64();
    } else if (name == "enabled" && member.value.IsBool()) {
      enabled = member.value.GetBool();
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("duplicate_control: unexpected member or type \"", AsAbsl(name),
                       "\" (known: pipeline_id integer, enabled bool)"));
    }
  }
  if (!pipeline_id.has_value() || !enabled.has_value()) {
    return absl::InvalidArgumentError(
        "duplicate_control: \"pipeline_id\" and \"enabled\" are both required");
  }
  if (store_.FindPipeline(*pipeline_id) == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("duplicate_control: unknown pipeline ", *pipeline_id));
  }
  store_.set_duplicate_control(*pipeline_id, *enabled);
  return absl::OkStatus();
}

HttpResponse EmulatorImpl::HandleAdmin(const HttpRequest& request) {
  std::string what = request.path.substr(kAdminPrefix.size());
  while (!what.empty() && what.back() == '/') what.pop_back();
  const std::string& method = request.method;
  const bool get = method == "GET";
  const bool post = method == "POST";
  const bool del = method == "DELETE";
  const SteadyTime now = std::chrono::steady_clock::now();

  if (what == "health") {
    return get ? AdminJson(R"({"status":"ok"})") : AdminMethodNotAllowed("GET");
  }
  if (what == "stats") {
    if (!get) return AdminMethodNotAllowed("GET");
    const HttpServerStats stats = server_->stats();
    return AdminJson(absl::StrCat(
        R"({"leads":)", store_.leads().size(), R"(,"contacts":)", store_.contacts().size(),
        R"(,"events":)", events_.size(), R"(,"webhooks":)", webhooks_->webhooks().size(),
        R"(,"requests_total":)", requests_total_, R"(,"connections_open":)", stats.connections_open,
        R"(,"connections_accepted":)", stats.connections_accepted, R"(,"requests_logged":)",
        log_.size(), R"(,"faults":)", faults_.rules().size(), R"(,"rate_limit_enabled":)",
        guard_.options().enabled ? "true" : "false", R"(,"blocked":)",
        guard_.blocked(now) ? "true" : "false", R"(,"tls":)", server_->tls() ? "true" : "false",
        "}"));
  }
  if (what == "leads/count" || what == "contacts/count") {
    if (!get) return AdminMethodNotAllowed("GET");
    const size_t count = what == "leads/count" ? store_.leads().size() : store_.contacts().size();
    return AdminJson(absl::StrCat(R"({"count":)", count, "}"));
  }
  if (what == "reset") {
    if (!post) return AdminMethodNotAllowed("POST");
    ResetAll();
    return AdminJson(R"({"leads":0,"contacts":0,"faults":)" +
                     std::to_string(faults_.rules().size()) + "}");
  }
  if (what == "data") {
    if (!del) return AdminMethodNotAllowed("DELETE");
    store_.Reset();
    return AdminJson(R"({"leads":0,"contacts":0})");
  }

  if (what == "duplicate_control") {
    if (post) {
      absl::Status status = SetDuplicateControl(request.body);
      if (!status.ok()) return BadRequest(status);
    } else if (!get) {
      return AdminMethodNotAllowed("GET, POST");
    }
    std::string pipelines;
    for (const Pipeline& pipeline : store_.pipelines()) {
      if (!store_.duplicate_control(pipeline.id)) continue;
      absl::StrAppend(&pipelines, pipelines.empty() ? "" : ",", pipeline.id);
    }
    return AdminJson(absl::StrCat(R"({"enabled_pipelines":[)", pipelines, "]}"));
  }

  if (what == "faults") {
    if (get) return AdminJson(FaultList(faults_, nullptr));
    if (del) {
      faults_.Clear();
      return AdminJson(FaultList(faults_, nullptr));
    }
    if (!post) return AdminMethodNotAllowed("GET, POST, DELETE");
    absl::StatusOr<std::vector<FaultRule>> rules = ParseFaultRules(request.body);
    if (!rules.ok()) return BadRequest(rules.status());
    std::vector<uint64_t> added;
    for (FaultRule& rule : *rules) added.push_back(faults_.Add(std::move(rule)));
    return AdminJson(FaultList(faults_, &added));
  }
  if (what.rfind("faults/", 0) == 0) {
    uint64_t id = 0;
    if (!absl::SimpleAtoi(what.substr(7), &id)) {
      return ProblemResponse(404, absl::StrCat("No fault rule ", request.path));
    }
    if (!del) return AdminMethodNotAllowed("DELETE");
    if (!faults_.Remove(id)) return ProblemResponse(404, absl::StrCat("No fault rule ", id));
    return AdminJson(FaultList(faults_, nullptr));
  }

  if (what == "rate_limit") {
    if (post) {
      absl::StatusOr<RateLimitOptions> options = ParseRateLimit(request.body);
      if (!options.ok()) return BadRequest(options.status());
      guard_.Configure(*options, now);
    } else if (del) {
      RateLimitOptions off = guard_.options();
      off.enabled = false;
      guard_.Configure(off, now);
    } else if (!get) {
      return AdminMethodNotAllowed("GET, POST, DELETE");
    }
    return AdminJson(RateLimitState(guard_));
  }
  if (what == "block") {
    if (post) {
      absl::StatusOr<std::chrono::milliseconds> duration = ParseBlockDuration(request.body);
      if (!duration.ok()) return BadRequest(duration.status());
      guard_.Block(now, *duration, "blocked over the admin API");
    } else if (!get) {
      return AdminMethodNotAllowed("GET, POST");
    }
    return AdminJson(BlockState(guard_));
  }
  if (what == "unblock") {
    if (!post) return AdminMethodNotAllowed("POST");
    guard_.Unblock(now);
    return AdminJson(BlockState(guard_));
  }

  if (what == "requests") {
    if (del) {
      log_.Clear();
      return AdminJson(log_.RenderEntries(RequestFilter{}));
    }
    if (!get) return AdminMethodNotAllowed("GET, DELETE");
    absl::StatusOr<RequestFilter> filter = ParseRequestFilter(request.query);
    if (!filter.ok()) return BadRequest(filter.status());
    return AdminJson(log_.RenderEntries(*filter));
  }
  if (what == "counters") {
    if (!get) return AdminMethodNotAllowed("GET");
    return AdminJson(log_.RenderCounts());
  }

  if (what == "events") return HandleEventsAdmin(request, what);
  if (what == "webhooks" || what.rfind("webhooks/", 0) == 0) {
    return HandleWebhooksAdmin(request, what);
  }
  // {leads|contacts|companies}/{id}/{delete|restore}: Kommo's UI actions.
  if (const size_t slash = what.find('/'); slash != std::string::npos) {
    const std::string entity_type = what.substr(0, slash);
    const std::string rest = what.substr(slash + 1);
    const size_t second = rest.find('/');
    int64_t id = 0;
    if (KindOfCollection(entity_type).has_value() && second != std::string::npos &&
        absl::SimpleAtoi(rest.substr(0, second), &id) &&
        (rest.substr(second + 1) == "delete" || rest.substr(second + 1) == "restore")) {
      if (!post) return AdminMethodNotAllowed("POST");
      const bool restore = rest.substr(second + 1) == "restore";
      absl::Status status = DeleteOrRestore(entity_type, id, restore);
      if (absl::IsNotFound(status)) return ProblemResponse(404, std::string(status.message()));
      if (!status.ok()) return BadRequest(status);
      return AdminJson(absl::StrCat(R"({"entity_type":")", entity_type, R"(","id":)", id,
                                    R"(,"deleted":)", restore ? "false" : "true", "}"));
    }
  }
  return ProblemResponse(404, absl::StrCat("Unknown emulator admin path ", request.path));
}

}  // namespace kommo::emulator
