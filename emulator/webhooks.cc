#include "emulator/webhooks.h"

#include <algorithm>
#include <cstdio>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "emulator/http_message.h"
#include "emulator/text.h"
#include "rapidjson/document.h"

namespace kommo::emulator {
namespace {

using std::chrono::milliseconds;

constexpr char kFormContentType[] = "application/x-www-form-urlencoded";
constexpr size_t kFinishedDeliveriesKept = 1000;
// Deliveries waiting for one destination; beyond this, new ones are dropped (a receiver that
// cannot keep up must not grow the emulator's memory without end).
constexpr size_t kMaxQueuedPerDestination = 10000;
// Kommo's auto-disable rule: more than this many failed answers within the window.
constexpr size_t kMaxFailuresInWindow = 100;
constexpr milliseconds kFailureWindow = std::chrono::hours(2);
constexpr milliseconds kMaxOptionMs = std::chrono::hours(1);

// Kommo's retry delays after the 1st, 2nd, 3rd and 4th failed attempt; the last two only after
// 499 or 5xx.
constexpr milliseconds kRetryDelays[] = {std::chrono::minutes(5), std::chrono::minutes(15),
                                         std::chrono::minutes(15), std::chrono::hours(1)};

bool Succeeded(const PostResult& result) { return result.status >= 100 && result.status <= 299; }

bool ServerSideFailure(const PostResult& result) {
  return result.timed_out || result.status == 499 || (result.status >= 500 && result.status <= 599);
}

bool Finished(WebhookDelivery::State state) {
  switch (state) {
    case WebhookDelivery::State::kDelivered:
    case WebhookDelivery::State::kFailed:
    case WebhookDelivery::State::kLost:
    case WebhookDelivery::State::kDropped:
      return true;
    default:
      return false;
  }
}

std::string_view FaultName(WebhookFault fault) {
  switch (fault) {
    case WebhookFault::kLost:
      return "lost";
    case WebhookFault::kDuplicate:
      return "duplicate";
    case WebhookFault::kReorder:
      return "reorder";
  }
  return "lost";
}

int64_t TimesOf(const WebhookFaultRule& rule) { return rule.times.value_or(1); }

// --- delivery bodies -----------------------------------------------------------------------------

class Form {
 public:
  void Add(std::string_view key, std::string_view value) {
    if (!body_.empty()) body_ += '&';
    absl::StrAppend(&body_, UrlEncode(key), "=", UrlEncode(value));
  }
  void Add(std::string_view key, int64_t value) { Add(key, std::string_view(absl::StrCat(value))); }
  std::string Take() { return std::move(body_); }

 private:
  std::string body_;
};

// custom_fields[i][id|name|code|values[j][value|enum]] in Kommo's v2 shape: dates as a bare
// values[j], checkboxes as "1"/"0", enum types with the enum's id beside its text.
void AddCustomFields(Form& form, const std::string& prefix,
                     const std::vector<CustomField>& catalogue,
                     const std::vector<FieldValues>& fields) {
  size_t i = 0;
  for (const FieldValues& entry : fields) {
    const CustomField* field = Store::FindField(catalogue, entry.field_id);
    if (field == nullptr) continue;
    const std::string base = absl::StrCat(prefix, "[custom_fields][", i++, "]");
    form.Add(base + "[id]", field->id);
    form.Add(base + "[name]", field->name);
    if (!field->code.empty()) form.Add(base + "[code]", field->code);
    size_t j = 0;
    for (const FieldValue& value : entry.values) {
      const std::string v = absl::StrCat(base, "[values][", j++, "]");
      if (field->type == "date" || field->type == "date_time" || field->type == "birthday") {
        form.Add(v, value.time);
        continue;
      }
      form.Add(v + "[value]",
               field->type == "checkbox" ? std::string(value.flag ? "1" : "0") : value.value);
      if (value.enum_id != 0) form.Add(v + "[enum]", value.enum_id);
    }
  }
}

void AddTags(Form& form, const std::string& prefix, const TagCatalogue* catalogue,
             const std::vector<std::string>& tags) {
  size_t i = 0;
  for (const std::string& name : tags) {
    const Tag* tag = catalogue != nullptr ? catalogue->FindByName(name) : nullptr;
    const std::string base = absl::StrCat(prefix, "[tags][", i++, "]");
    if (tag != nullptr) form.Add(base + "[id]", tag->id);
    form.Add(base + "[name]", name);
  }
}

// What leads, contacts and companies share.
template <typename Entity>
void AddCommon(Form& form, const std::string& prefix, const Entity& entity,
               const WebhookChange& change) {
  form.Add(prefix + "[id]", entity.id);
  form.Add(prefix + "[name]", entity.name);
  form.Add(prefix + "[responsible_user_id]", entity.responsible_user_id);
  if (change.action == WebhookAction::kResponsible) {
    form.Add(prefix + "[old_responsible_user_id]", change.old_responsible_user_id);
  }
  form.Add(prefix + "[date_create]", entity.created_at);
  form.Add(prefix + "[last_modified]", entity.updated_at);
  form.Add(prefix + "[created_user_id]", entity.created_by);
  form.Add(prefix + "[modified_user_id]", entity.updated_by);
  form.Add(prefix + "[created_at]", entity.created_at);
  form.Add(prefix + "[updated_at]", entity.updated_at);
  form.Add(prefix + "[account_id]", kAccountId);
}

void AddLead(Form& form, const std::string& prefix, const Store& store, const Lead& lead,
             const WebhookChange& change) {
  AddCommon(form, prefix, lead, change);
  form.Add(prefix + "[status_id]", lead.status_id);
  form.Add(prefix + "[pipeline_id]", lead.pipeline_id);
  if (change.action == WebhookAction::kStatus) {
    form.Add(prefix + "[old_status_id]", change.old_status_id);
    form.Add(prefix + "[old_pipeline_id]", change.old_pipeline_id);
  }
  form.Add(prefix + "[price]", lead.price);
  AddTags(form, prefix, store.TagsOf("leads"), lead.tags);
  AddCustomFields(form, prefix, store.lead_fields(), lead.fields);
}

void AddContact(Form& form, const std::string& prefix, const Store& store, const Contact& contact,
                const WebhookChange& change) {
  AddCommon(form, prefix, contact, change);
  if (contact.company_id.has_value()) {
    form.Add(prefix + "[linked_company_id]", *contact.company_id);
    const auto company = store.companies().find(*contact.company_id);
    if (company != store.companies().end()) {
      form.Add(prefix + "[company_name]", company->second.name);
    }
  }
  AddTags(form, prefix, store.TagsOf("contacts"), contact.tags);
  AddCustomFields(form, prefix, store.contact_fields(), contact.fields);
  for (const auto& [lead_id, lead] : store.leads()) {
    for (const LeadContact& link : lead.contacts) {
      if (link.contact_id == contact.id) {
        form.Add(absl::StrCat(prefix, "[linked_leads_id][", lead_id, "][ID]"), lead_id);
      }
    }
  }
  form.Add(prefix + "[type]", "contact");
}

void AddCompany(Form& form, const std::string& prefix, const Store& store, const Company& company,
                const WebhookChange& change) {
  AddCommon(form, prefix, company, change);
  AddTags(form, prefix, store.TagsOf("companies"), company.tags);
  AddCustomFields(form, prefix, store.company_fields(), company.fields);
  for (const auto& [lead_id, lead] : store.leads()) {
    if (lead.company_id == company.id) {
      form.Add(absl::StrCat(prefix, "[linked_leads_id][", lead_id, "][ID]"), lead_id);
    }
  }
  form.Add(prefix + "[type]", "company");
}

// Kommo's numeric note types of API v2 for the ones it documents; others keep their v4 name.
std::string NoteTypeOf(const std::string& note_type) {
  if (note_type == "common") return "4";
  if (note_type == "call_in") return "10";
  if (note_type == "call_out") return "11";
  if (note_type == "service_message") return "25";
  if (note_type == "sms_in") return "102";
  if (note_type == "sms_out") return "103";
  return note_type;
}

void AddNote(Form& form, const std::string& prefix, const Note& note, EntityKind kind) {
  const std::string base = prefix + "[note]";
  form.Add(base + "[id]", note.id);
  form.Add(base + "[note_type]", NoteTypeOf(note.note_type));
  rapidjson::Document params;
  params.Parse(note.params_json.data(), note.params_json.size());
  if (!params.HasParseError() && params.IsObject()) {
    const auto text = params.FindMember("text");
    if (text != params.MemberEnd() && text->value.IsString()) {
      form.Add(base + "[text]",
               std::string_view(text->value.GetString(), text->value.GetStringLength()));
    }
  }
  form.Add(base + "[element_id]", note.entity_id);
  form.Add(base + "[element_type]", kind == EntityKind::kContact ? 1
                                    : kind == EntityKind::kLead  ? 2
                                                                 : 3);
  form.Add(base + "[responsible_user_id]", note.responsible_user_id);
  form.Add(base + "[created_by]", note.created_by);
  form.Add(base + "[date_create]", note.created_at);
  form.Add(base + "[last_modified]", note.updated_at);
  form.Add(base + "[account_id]", kAccountId);
}

// Where an entity is now: in the store, or in the trash (a deleted one).
template <typename Entity>
const Entity* Lookup(const std::map<int64_t, Entity>& live, const std::map<int64_t, Entity>& trash,
                     int64_t id) {
  if (auto it = live.find(id); it != live.end()) return &it->second;
  if (auto it = trash.find(id); it != trash.end()) return &it->second;
  return nullptr;
}

// One change's fields under `prefix` ("leads[status][0]"); false when the entity is gone.
bool AddChange(Form& form, const std::string& prefix, const Store& store,
               const WebhookChange& change) {
  if (change.action == WebhookAction::kDelete) {  // deletes carry the id only
    form.Add(prefix + "[id]", change.entity_id);
    if (change.entity != EntityKind::kLead) {
      form.Add(prefix + "[type]", change.entity == EntityKind::kContact ? "contact" : "company");
    }
    return true;
  }
  if (change.action == WebhookAction::kNote) {
    const auto note = store.notes().find(change.note_id);
    if (note == store.notes().end()) return false;
    AddNote(form, prefix, note->second, change.entity);
    return true;
  }
  switch (change.entity) {
    case EntityKind::kLead:
      if (const Lead* lead = Lookup(store.leads(), store.deleted_leads(), change.entity_id)) {
        AddLead(form, prefix, store, *lead, change);
        return true;
      }
      return false;
    case EntityKind::kContact:
      if (const Contact* contact =
              Lookup(store.contacts(), store.deleted_contacts(), change.entity_id)) {
        AddContact(form, prefix, store, *contact, change);
        return true;
      }
      return false;
    case EntityKind::kCompany:
      if (const Company* company =
              Lookup(store.companies(), store.deleted_companies(), change.entity_id)) {
        AddCompany(form, prefix, store, *company, change);
        return true;
      }
      return false;
  }
  return false;
}

std::string RenderDelivery(const std::vector<const WebhookChange*>& changes, const Store& store,
                           const std::string& account_url) {
  Form form;
  std::map<std::string, size_t> next_index;  // "leads[add]" → the next index
  bool any = false;
  for (const WebhookChange* change : changes) {
    // Companies travel under "contacts", told apart by type=company (Kommo's quirk).
    const std::string group =
        absl::StrCat(change->entity == EntityKind::kLead ? "leads" : "contacts", "[",
                     AsAbsl(WebhookActionName(change->action)), "]");
    const size_t index = next_index[group];
    if (AddChange(form, absl::StrCat(group, "[", index, "]"), store, *change)) {
      ++next_index[group];
      any = true;
    }
  }
  if (!any) return "";
  form.Add("account[subdomain]", kAccountSubdomain);
  form.Add("account[id]", kAccountId);
  form.Add("account[_links][self]", account_url);
  return form.Take();
}

// A JSON member reader for the admin bodies: unknown members are refused.
absl::Status CheckMembers(const rapidjson::Value& object, const std::set<std::string>& allowed,
                          std::string_view where) {
  for (const auto& member : object.GetObject()) {
    const std::string name(member.name.GetString(), member.name.GetStringLength());
    if (allowed.count(name) == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(AsAbsl(where), "unknown member \"", name, "\""));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<WebhookFaultRule> ParseOneFault(const rapidjson::Value& value,
                                               const std::string& where) {
  if (!value.IsObject()) return absl::InvalidArgumentError(where + "must be an object");
  if (absl::Status status = CheckMembers(value, {"fault", "times", "after", "destination"}, where);
      !status.ok()) {
    return status;
  }
  WebhookFaultRule rule;
  const auto fault = value.FindMember("fault");
  const std::string kind = fault != value.MemberEnd() && fault->value.IsString()
                               ? std::string(fault->value.GetString())
                               : std::string();
  if (kind == "lost") {
    rule.fault = WebhookFault::kLost;
  } else if (kind == "duplicate") {
    rule.fault = WebhookFault::kDuplicate;
  } else if (kind == "reorder") {
    rule.fault = WebhookFault::kReorder;
  } else {
    return absl::InvalidArgumentError(
        where + "\"fault\" is required: one of \"lost\", \"duplicate\", \"reorder\"");
  }
  for (const char* name : {"times", "after"}) {
    const auto member = value.FindMember(name);
    if (member == value.MemberEnd() || member->value.IsNull()) continue;
    if (!member->value.IsInt64() || member->value.GetInt64() < 0 ||
        member->value.GetInt64() > (int64_t{1} << 40)) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "\"", name, "\" must be a non-negative integer"));
    }
    if (std::string_view(name) == "times") {
      rule.times = member->value.GetInt64();
    } else {
      rule.after = member->value.GetInt64();
    }
  }
  const auto destination = value.FindMember("destination");
  if (destination != value.MemberEnd() && !destination->value.IsNull()) {
    if (!destination->value.IsString()) {
      return absl::InvalidArgumentError(where + "\"destination\" must be a string");
    }
    rule.destination_prefix = destination->value.GetString();
  }
  return rule;
}

}  // namespace

std::string_view WebhookDeliveryStateName(WebhookDelivery::State state) {
  switch (state) {
    case WebhookDelivery::State::kQueued:
      return "queued";
    case WebhookDelivery::State::kHeld:
      return "held";
    case WebhookDelivery::State::kSending:
      return "sending";
    case WebhookDelivery::State::kRetrying:
      return "retrying";
    case WebhookDelivery::State::kDelivered:
      return "delivered";
    case WebhookDelivery::State::kFailed:
      return "failed";
    case WebhookDelivery::State::kLost:
      return "lost";
    case WebhookDelivery::State::kDropped:
      return "dropped";
  }
  return "queued";
}

absl::StatusOr<std::vector<WebhookFaultRule>> ParseWebhookFaultRules(std::string_view json) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(json.data(), json.size());
  if (doc.HasParseError()) {
    return absl::InvalidArgumentError("webhook fault rules: the body is not valid JSON");
  }
  std::vector<WebhookFaultRule> rules;
  if (doc.IsObject()) {
    absl::StatusOr<WebhookFaultRule> rule = ParseOneFault(doc, "webhook fault rule: ");
    if (!rule.ok()) return rule.status();
    rules.push_back(*rule);
    return rules;
  }
  if (!doc.IsArray()) {
    return absl::InvalidArgumentError(
        "webhook fault rules must be a JSON object or an array of objects");
  }
  for (rapidjson::SizeType i = 0; i < doc.Size(); ++i) {
    absl::StatusOr<WebhookFaultRule> rule =
        ParseOneFault(doc[i], absl::StrCat("webhook fault rule ", i, ": "));
    if (!rule.ok()) return rule.status();
    rules.push_back(*rule);
  }
  return rules;
}

bool IsWebhookSetting(std::string_view setting) {
  static const std::set<std::string, std::less<>> kSettings = [] {
    std::set<std::string, std::less<>> settings;
    for (const char* action :
         {"add", "update", "delete", "restore", "status", "responsible", "note"}) {
      for (const char* entity : {"lead", "contact", "company", "customer", "task"}) {
        settings.insert(absl::StrCat(action, "_", entity));
      }
    }
    for (const char* other :
         {"add_talk", "update_talk", "add_message", "add_unsorted", "delete_unsorted",
          "add_chat_template_review", "add_catalog", "update_catalog", "delete_catalog"}) {
      settings.insert(other);
    }
    return settings;
  }();
  return kSettings.find(setting) != kSettings.end();
}

absl::Status ValidateWebhookOptions(const WebhookOptions& options) {
  if (!(options.time_scale > 0) || options.time_scale > 1000) {
    return absl::InvalidArgumentError("time_scale must be > 0 and <= 1000");
  }
  if (options.timeout.count() < 1 || options.timeout > kMaxOptionMs) {
    return absl::InvalidArgumentError("timeout_ms must be from 1 to 3600000");
  }
  if (options.reorder_hold.count() < 1 || options.reorder_hold > kMaxOptionMs) {
    return absl::InvalidArgumentError("reorder_hold_ms must be from 1 to 3600000");
  }
  return absl::OkStatus();
}

absl::StatusOr<WebhookOptions> ParseWebhookOptions(std::string_view json,
                                                   const WebhookOptions& current) {
  WebhookOptions options = current;
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    return absl::InvalidArgumentError(
        R"(webhooks: the body must be {"time_scale":N,"timeout_ms":N,"reorder_hold_ms":N})");
  }
  if (absl::Status status =
          CheckMembers(doc, {"time_scale", "timeout_ms", "reorder_hold_ms"}, "webhooks: ");
      !status.ok()) {
    return status;
  }
  if (const auto it = doc.FindMember("time_scale"); it != doc.MemberEnd()) {
    if (!it->value.IsNumber()) {
      return absl::InvalidArgumentError("webhooks: \"time_scale\" must be a number");
    }
    options.time_scale = it->value.GetDouble();
  }
  for (const char* name : {"timeout_ms", "reorder_hold_ms"}) {
    const auto it = doc.FindMember(name);
    if (it == doc.MemberEnd()) continue;
    if (!it->value.IsInt64()) {
      return absl::InvalidArgumentError(
          absl::StrCat("webhooks: \"", name, "\" must be an integer"));
    }
    (std::string_view(name) == "timeout_ms" ? options.timeout : options.reorder_hold) =
        milliseconds(it->value.GetInt64());
  }
  if (absl::Status status = ValidateWebhookOptions(options); !status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("webhooks: ", status.message()));
  }
  return options;
}

void WriteWebhook(JsonWriter& w, const Webhook& webhook) {
  w.StartObject();
  Key(w, "id");
  w.Int64(webhook.id);
  Key(w, "destination");
  Str(w, webhook.destination);
  Key(w, "created_at");
  w.Int64(webhook.created_at);
  Key(w, "updated_at");
  w.Int64(webhook.updated_at);
  Key(w, "account_id");
  w.Int64(kAccountId);
  Key(w, "created_by");
  w.Int64(webhook.created_by);
  Key(w, "sort");
  w.Int64(webhook.sort);
  Key(w, "disabled");
  w.Bool(webhook.disabled);
  Key(w, "settings");
  w.StartArray();
  for (const std::string& setting : webhook.settings) Str(w, setting);
  w.EndArray();
  w.EndObject();
}

void WriteWebhookFaultRule(JsonWriter& w, uint64_t id, const WebhookFaultRule& rule,
                           uint64_t matched, uint64_t fired) {
  w.StartObject();
  Key(w, "id");
  w.Uint64(id);
  Key(w, "fault");
  Str(w, FaultName(rule.fault));
  Key(w, "destination");
  Str(w, rule.destination_prefix);
  Key(w, "times");
  w.Int64(TimesOf(rule));
  Key(w, "after");
  w.Int64(rule.after);
  Key(w, "matched");
  w.Uint64(matched);
  Key(w, "fired");
  w.Uint64(fired);
  w.EndObject();
}

void WriteWebhookDelivery(JsonWriter& w, const WebhookDelivery& delivery) {
  w.StartObject();
  Key(w, "id");
  w.Uint64(delivery.id);
  Key(w, "webhook_id");
  w.Int64(delivery.webhook_id);
  Key(w, "destination");
  Str(w, delivery.destination);
  Key(w, "state");
  Str(w, WebhookDeliveryStateName(delivery.state));
  Key(w, "fault");
  Str(w, delivery.fault);
  Key(w, "duplicate_of");
  w.Uint64(delivery.duplicate_of);
  Key(w, "attempts");
  w.StartArray();
  for (const WebhookAttempt& attempt : delivery.attempts) {
    w.StartObject();
    Key(w, "time_ms");
    w.Int64(std::chrono::duration_cast<milliseconds>(attempt.time.time_since_epoch()).count());
    Key(w, "status");
    w.Int(attempt.status);
    Key(w, "error");
    Str(w, attempt.error);
    w.EndObject();
  }
  w.EndArray();
  Key(w, "body");
  Str(w, delivery.body);
  w.EndObject();
}

void WriteWebhookOptions(JsonWriter& w, const WebhookOptions& options) {
  w.StartObject();
  Key(w, "time_scale");
  w.Double(options.time_scale);
  Key(w, "timeout_ms");
  w.Int64(options.timeout.count());
  Key(w, "reorder_hold_ms");
  w.Int64(options.reorder_hold.count());
  w.EndObject();
}

// --- WebhookDispatcher ---------------------------------------------------------------------------

WebhookDispatcher::WebhookDispatcher(EventLoop* loop, WebhookOptions options,
                                     std::string account_url, bool access_log)
    : loop_(loop),
      options_(options),
      account_url_(std::move(account_url)),
      access_log_(access_log) {}

WebhookDispatcher::~WebhookDispatcher() = default;

Webhook* WebhookDispatcher::FindWebhook(int64_t id) {
  for (Webhook& webhook : webhooks_) {
    if (webhook.id == id) return &webhook;
  }
  return nullptr;
}

const Webhook& WebhookDispatcher::Subscribe(const std::string& destination, const LoopbackUrl& url,
                                            std::vector<std::string> settings,
                                            std::optional<int64_t> sort, int64_t user_id,
                                            int64_t now) {
  for (Webhook& webhook : webhooks_) {
    if (webhook.destination != destination) continue;
    webhook.settings = std::move(settings);
    if (sort.has_value()) webhook.sort = *sort;
    webhook.disabled = false;
    webhook.updated_at = now;
    lanes_[webhook.id].failures.clear();
    return webhook;
  }
  Webhook webhook;
  webhook.id = next_webhook_id_++;
  webhook.destination = destination;
  webhook.url = url;
  webhook.settings = std::move(settings);
  webhook.sort = sort.value_or(1);
  webhook.created_at = now;
  webhook.updated_at = now;
  webhook.created_by = user_id;
  webhooks_.push_back(std::move(webhook));
  return webhooks_.back();
}

bool WebhookDispatcher::Unsubscribe(const std::string& destination) {
  const auto it = std::find_if(webhooks_.begin(), webhooks_.end(),
                               [&](const Webhook& w) { return w.destination == destination; });
  if (it == webhooks_.end()) return false;
  const int64_t id = it->id;
  webhooks_.erase(it);
  DropLane(id);
  lanes_.erase(id);
  return true;
}

void WebhookDispatcher::DropLane(int64_t webhook_id) {
  const auto lane_it = lanes_.find(webhook_id);
  if (lane_it != lanes_.end()) {
    Lane& lane = lane_it->second;
    loop_->Cancel(lane.hold_timer);
    lane.hold_timer = 0;
    lane.queue.clear();
    lane.held.reset();
  }
  for (auto& [id, delivery] : deliveries_) {
    if (delivery.record.webhook_id != webhook_id) continue;
    const WebhookDelivery::State state = delivery.record.state;
    if (state == WebhookDelivery::State::kQueued || state == WebhookDelivery::State::kHeld ||
        state == WebhookDelivery::State::kRetrying) {
      loop_->Cancel(delivery.retry_timer);
      delivery.retry_timer = 0;
      delivery.record.state = WebhookDelivery::State::kDropped;
    }
  }
}

uint64_t WebhookDispatcher::AddFault(WebhookFaultRule rule) {
  FaultState state;
  state.id = next_fault_id_++;
  state.rule = std::move(rule);
  faults_.push_back(std::move(state));
  return faults_.back().id;
}

bool WebhookDispatcher::RemoveFault(uint64_t id) {
  const auto it = std::find_if(faults_.begin(), faults_.end(),
                               [id](const FaultState& f) { return f.id == id; });
  if (it == faults_.end()) return false;
  faults_.erase(it);
  return true;
}

void WebhookDispatcher::WriteFaults(JsonWriter& w) const {
  w.StartArray();
  for (const FaultState& f : faults_) WriteWebhookFaultRule(w, f.id, f.rule, f.matched, f.fired);
  w.EndArray();
}

void WebhookDispatcher::ApplyFaults(const Webhook& webhook, Delivery* delivery) {
  for (FaultState& f : faults_) {
    const std::string& prefix = f.rule.destination_prefix;
    if (webhook.destination.compare(0, prefix.size(), prefix) != 0) continue;
    ++f.matched;
    if (f.matched <= static_cast<uint64_t>(f.rule.after)) continue;
    const int64_t times = TimesOf(f.rule);
    if (times > 0 && f.fired >= static_cast<uint64_t>(times)) continue;
    ++f.fired;
    delivery->record.fault = std::string(FaultName(f.rule.fault));
    switch (f.rule.fault) {
      case WebhookFault::kLost:
        delivery->record.state = WebhookDelivery::State::kLost;
        break;
      case WebhookFault::kDuplicate:
        delivery->duplicate_pending = true;
        break;
      case WebhookFault::kReorder:
        delivery->reorder_pending = true;
        break;
    }
    return;  // the first rule whose turn it is decides
  }
}

uint64_t WebhookDispatcher::NewDelivery(const Webhook& webhook, std::string body,
                                        uint64_t duplicate_of) {
  const uint64_t id = next_delivery_id_++;
  Delivery& delivery = deliveries_[id];
  delivery.record.id = id;
  delivery.record.webhook_id = webhook.id;
  delivery.record.destination = webhook.destination;
  delivery.record.body = std::move(body);
  delivery.record.duplicate_of = duplicate_of;
  return id;
}

void WebhookDispatcher::Dispatch(const std::vector<WebhookChange>& changes, const Store& store) {
  if (changes.empty()) return;
  for (const Webhook& webhook : webhooks_) {
    if (webhook.disabled) continue;
    std::vector<const WebhookChange*> selected;
    for (const WebhookChange& change : changes) {
      const std::string setting = absl::StrCat(AsAbsl(WebhookActionName(change.action)), "_",
                                               AsAbsl(EventEntityName(change.entity)));
      if (std::find(webhook.settings.begin(), webhook.settings.end(), setting) !=
          webhook.settings.end()) {
        selected.push_back(&change);
      }
    }
    if (selected.empty()) continue;
    std::string body = RenderDelivery(selected, store, account_url_);
    if (body.empty()) continue;
    const uint64_t id = NewDelivery(webhook, std::move(body), 0);
    Delivery& delivery = deliveries_[id];
    ApplyFaults(webhook, &delivery);
    if (delivery.record.state == WebhookDelivery::State::kLost) continue;
    Lane& lane = lanes_[webhook.id];
    if (lane.queue.size() >= kMaxQueuedPerDestination) {
      delivery.record.state = WebhookDelivery::State::kDropped;
      continue;
    }
    lane.queue.push_back(id);
    PumpSoon(webhook.id);
  }
  Prune();
}

void WebhookDispatcher::PumpSoon(int64_t webhook_id) {
  const uint64_t generation = generation_;
  loop_->Post([this, webhook_id, generation] {
    if (generation == generation_) Pump(webhook_id);
  });
}

void WebhookDispatcher::Pump(int64_t webhook_id) {
  const auto lane_it = lanes_.find(webhook_id);
  const Webhook* webhook = FindWebhook(webhook_id);
  if (lane_it == lanes_.end() || webhook == nullptr || webhook->disabled) return;
  Lane& lane = lane_it->second;
  while (!lane.busy && !lane.queue.empty()) {
    const uint64_t id = lane.queue.front();
    lane.queue.pop_front();
    const auto it = deliveries_.find(id);
    if (it == deliveries_.end() || Finished(it->second.record.state)) continue;
    Delivery& delivery = it->second;
    if (delivery.reorder_pending) {
      delivery.reorder_pending = false;
      if (!lane.held.has_value()) {
        delivery.record.state = WebhookDelivery::State::kHeld;
        lane.held = id;
        const uint64_t generation = generation_;
        lane.hold_timer = loop_->RunAfter(options_.reorder_hold, [this, webhook_id, generation] {
          if (generation != generation_) return;
          if (auto found = lanes_.find(webhook_id); found != lanes_.end()) {
            found->second.hold_timer = 0;
          }
          ReleaseHeld(webhook_id);
        });
        continue;
      }
    }
    Send(&delivery, *webhook);
    lane.busy = true;
  }
}

void WebhookDispatcher::ReleaseHeld(int64_t webhook_id) {
  const auto lane_it = lanes_.find(webhook_id);
  if (lane_it == lanes_.end()) return;
  Lane& lane = lane_it->second;
  if (!lane.held.has_value()) return;
  const uint64_t held = *lane.held;
  lane.held.reset();
  loop_->Cancel(lane.hold_timer);
  lane.hold_timer = 0;
  if (auto it = deliveries_.find(held); it != deliveries_.end()) {
    it->second.record.state = WebhookDelivery::State::kQueued;
    lane.queue.push_front(held);
  }
  Pump(webhook_id);
}

void WebhookDispatcher::Send(Delivery* delivery, const Webhook& webhook) {
  delivery->record.state = WebhookDelivery::State::kSending;
  delivery->record.attempts.push_back(WebhookAttempt{std::chrono::system_clock::now(), 0, ""});
  const uint64_t id = delivery->record.id;
  const uint64_t generation = generation_;
  PostOnLoop(loop_, webhook.url, kFormContentType, delivery->record.body, options_.timeout,
             [this, id, generation](PostResult result) {
               if (generation == generation_) OnAnswer(id, result);
             });
}

std::chrono::milliseconds WebhookDispatcher::Scaled(milliseconds delay) const {
  const double ms = static_cast<double>(delay.count()) * options_.time_scale;
  return milliseconds(std::max<int64_t>(1, static_cast<int64_t>(ms)));
}

void WebhookDispatcher::OnAnswer(uint64_t delivery_id, const PostResult& result) {
  const auto it = deliveries_.find(delivery_id);
  if (it == deliveries_.end()) return;
  Delivery& delivery = it->second;
  WebhookDelivery& record = delivery.record;
  const int64_t webhook_id = record.webhook_id;
  if (!record.attempts.empty()) {
    record.attempts.back().status = result.status;
    record.attempts.back().error = result.error;
  }
  if (access_log_) {
    std::fprintf(stderr, "kommo-emulator: webhook delivery %llu attempt %zu -> %d%s%s\n",
                 static_cast<unsigned long long>(delivery_id), record.attempts.size(),
                 result.status, result.error.empty() ? "" : " ", result.error.c_str());
  }
  Webhook* webhook = FindWebhook(webhook_id);
  const auto lane_it = lanes_.find(webhook_id);
  if (lane_it != lanes_.end()) lane_it->second.busy = false;

  const bool first_answer = record.attempts.size() == 1;
  if (Succeeded(result)) {
    record.state = WebhookDelivery::State::kDelivered;
  } else {
    record.state = WebhookDelivery::State::kFailed;
    const size_t made = record.attempts.size();
    const bool allowed = made <= 2 || (made <= 4 && ServerSideFailure(result));
    if (webhook != nullptr && lane_it != lanes_.end()) {
      // Kommo's auto-disable: more than 100 failed answers within 2 hours.
      auto& failures = lane_it->second.failures;
      const auto now = std::chrono::steady_clock::now();
      failures.push_back(now);
      while (!failures.empty() && failures.front() < now - Scaled(kFailureWindow)) {
        failures.pop_front();
      }
      if (failures.size() > kMaxFailuresInWindow) {
        webhook->disabled = true;
        DropLane(webhook_id);
      } else if (allowed) {
        record.state = WebhookDelivery::State::kRetrying;
        const uint64_t generation = generation_;
        delivery.retry_timer = loop_->RunAfter(
            Scaled(kRetryDelays[made - 1]), [this, delivery_id, webhook_id, generation] {
              if (generation != generation_) return;
              const auto d = deliveries_.find(delivery_id);
              if (d == deliveries_.end() ||
                  d->second.record.state != WebhookDelivery::State::kRetrying) {
                return;
              }
              d->second.retry_timer = 0;
              d->second.record.state = WebhookDelivery::State::kQueued;
              if (auto found = lanes_.find(webhook_id); found != lanes_.end()) {
                found->second.queue.push_back(delivery_id);
              }
              Pump(webhook_id);
            });
      }
    }
  }
  if (first_answer && delivery.duplicate_pending && webhook != nullptr && !webhook->disabled &&
      lane_it != lanes_.end()) {
    delivery.duplicate_pending = false;
    const uint64_t copy = NewDelivery(*webhook, record.body, delivery_id);
    deliveries_[copy].record.fault = "duplicate";
    lane_it->second.queue.push_front(copy);
  }
  if (lane_it != lanes_.end() && lane_it->second.held.has_value() &&
      *lane_it->second.held != delivery_id) {
    ReleaseHeld(webhook_id);  // the reordered delivery goes right after this one
  } else {
    Pump(webhook_id);
  }
  Prune();
}

std::vector<WebhookDelivery> WebhookDispatcher::deliveries() const {
  std::vector<WebhookDelivery> out;
  out.reserve(deliveries_.size());
  for (const auto& [id, delivery] : deliveries_) out.push_back(delivery.record);
  return out;
}

void WebhookDispatcher::Prune() {
  size_t finished = 0;
  for (const auto& [id, delivery] : deliveries_) finished += Finished(delivery.record.state);
  for (auto it = deliveries_.begin();
       finished > kFinishedDeliveriesKept && it != deliveries_.end();) {
    if (Finished(it->second.record.state)) {
      it = deliveries_.erase(it);
      --finished;
    } else {
      ++it;
    }
  }
}

void WebhookDispatcher::ClearFinishedDeliveries() {
  for (auto it = deliveries_.begin(); it != deliveries_.end();) {
    it = Finished(it->second.record.state) ? deliveries_.erase(it) : std::next(it);
  }
}

void WebhookDispatcher::Reset(const WebhookOptions& options,
                              const std::vector<WebhookFaultRule>& faults) {
  ++generation_;
  for (auto& [id, delivery] : deliveries_) loop_->Cancel(delivery.retry_timer);
  for (auto& [id, lane] : lanes_) loop_->Cancel(lane.hold_timer);
  deliveries_.clear();
  lanes_.clear();
  webhooks_.clear();
  next_webhook_id_ = 1;
  faults_.clear();
  for (const WebhookFaultRule& rule : faults) AddFault(rule);
  options_ = options;
}

}  // namespace kommo::emulator
