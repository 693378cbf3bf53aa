// Webhook subscriptions: GET /api/v4/webhooks (filter[destination]), POST /api/v4/webhooks
// {destination, settings, sort} (the same destination replaces its settings) and
// DELETE /api/v4/webhooks {destination}. Account administrators only (403 for others), at most
// kMaxWebhooks. The emulator delivers only to http:// URLs on loopback.
#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "emulator/api_common.h"
#include "emulator/http_client.h"
#include "emulator/webhooks.h"

namespace kommo::emulator {

HttpResponse KommoApi::RouteWebhooks(const Call& call) {
  const std::string& method = call.request.method;
  if (call.segments.size() != 1) {
    return ProblemResponse(404, absl::StrCat("Cannot ", method, " ", call.request.path));
  }
  if (method != "GET" && method != "POST" && method != "DELETE") {
    return MethodNotAllowed(method, "GET, POST, DELETE");
  }
  if (!call.user.is_admin) {
    return ProblemResponse(403, "Only account administrators can manage webhooks");
  }
  if (method == "GET") return ListWebhooks(call);
  if (method == "POST") return SubscribeWebhook(call);
  return UnsubscribeWebhook(call);
}

HttpResponse KommoApi::ListWebhooks(const Call& call) {
  std::optional<std::string> destination;
  for (const auto& [key, value] : ParseQuery(call.request.query)) {
    if (key == "filter[destination]") destination = value;
  }
  std::vector<const Webhook*> matches;
  for (const Webhook& webhook : webhooks_->webhooks()) {
    if (!destination.has_value() || webhook.destination == *destination) {
      matches.push_back(&webhook);
    }
  }
  if (matches.empty()) return NoContent();
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  Key(w, "_total_items");
  w.Uint64(matches.size());
  WriteSelfLinks(w, absl::StrCat(call.hrefs.api_base, "/webhooks"));
  Key(w, "_embedded");
  w.StartObject();
  Key(w, "webhooks");
  w.StartArray();
  for (const Webhook* webhook : matches) WriteWebhook(w, *webhook);
  w.EndArray();
  w.EndObject();
  w.EndObject();
  return Hal(Finish(buffer));
}

HttpResponse KommoApi::SubscribeWebhook(const Call& call) {
  rapidjson::Document doc;
  if (auto error = ParseBody(call.request.body, &doc)) return *error;
  if (!doc.IsObject()) return ProblemResponse(400, "Request body must be a JSON object");
  std::vector<FieldError> errors;
  ItemReader reader(doc, "", &errors);
  const std::optional<std::string> destination = reader.String("destination");
  std::optional<LoopbackUrl> url;
  if (reader.Find("destination") == nullptr || (destination.has_value() && destination->empty())) {
    reader.Error(kNotBlankCode, "destination", kNotBlankDetail);
  } else if (destination.has_value()) {
    absl::StatusOr<LoopbackUrl> parsed = ParseLoopbackUrl(*destination);
    if (parsed.ok()) {
      url = *std::move(parsed);
    } else {
      reader.Error("InvalidUrl", "destination", std::string(parsed.status().message()));
    }
  }
  std::vector<std::string> settings;
  const rapidjson::Value* list = reader.NullableArray("settings");
  if (reader.Find("settings") == nullptr || (list != nullptr && list->Empty()) ||
      (reader.Find("settings") != nullptr && reader.Find("settings")->IsNull())) {
    reader.Error(kNotBlankCode, "settings", kNotBlankDetail);
  } else if (list != nullptr) {
    for (rapidjson::SizeType i = 0; i < list->Size(); ++i) {
      const rapidjson::Value& item = (*list)[i];
      const std::string key = absl::StrCat("settings.", i);
      if (!item.IsString()) {
        reader.TypeError(key, "string");
      } else if (!IsWebhookSetting(std::string_view(item.GetString(), item.GetStringLength()))) {
        reader.ChoiceError(key);
      } else if (std::find(settings.begin(), settings.end(), item.GetString()) == settings.end()) {
        settings.emplace_back(item.GetString(), item.GetStringLength());
      }
    }
  }
  const std::optional<int64_t> sort = reader.Int("sort");
  if (!errors.empty()) return ValidationFailed({ItemErrors{"0", std::move(errors)}});

  const bool exists = std::any_of(webhooks_->webhooks().begin(), webhooks_->webhooks().end(),
                                  [&](const Webhook& w) { return w.destination == *destination; });
  if (!exists && webhooks_->webhooks().size() >= static_cast<size_t>(kMaxWebhooks)) {
    return ProblemResponse(400,
                           absl::StrCat("An account can have at most ", kMaxWebhooks, " webhooks"));
  }
  const Webhook& webhook =
      webhooks_->Subscribe(*destination, *url, std::move(settings), sort, call.user.id, Now());
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  WriteWebhook(w, webhook);
  return HttpResponse::WithBody(201, kHalJson, Finish(buffer));
}

HttpResponse KommoApi::UnsubscribeWebhook(const Call& call) {
  rapidjson::Document doc;
  if (auto error = ParseBody(call.request.body, &doc)) return *error;
  if (!doc.IsObject()) return ProblemResponse(400, "Request body must be a JSON object");
  std::vector<FieldError> errors;
  ItemReader reader(doc, "", &errors);
  const std::optional<std::string> destination = reader.String("destination");
  if (reader.Find("destination") == nullptr || (destination.has_value() && destination->empty())) {
    reader.Error(kNotBlankCode, "destination", kNotBlankDetail);
  }
  if (!errors.empty()) return ValidationFailed({ItemErrors{"0", std::move(errors)}});
  if (!webhooks_->Unsubscribe(*destination)) {
    return ProblemResponse(404, "Webhook not found");
  }
  return NoContent();
}

}  // namespace kommo::emulator
