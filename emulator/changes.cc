#include "emulator/changes.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "emulator/text.h"

namespace kommo::emulator {
namespace {

// Kommo's numeric custom-field types, as events show them ("field_type": 8 for multitext in
// Kommo's own example). The others follow API v2's numbering.
int64_t FieldTypeCode(std::string_view type) {
  if (type == "text") return 1;
  if (type == "numeric") return 2;
  if (type == "checkbox") return 3;
  if (type == "select") return 4;
  if (type == "multiselect") return 5;
  if (type == "date") return 6;
  if (type == "url") return 7;
  if (type == "multitext") return 8;
  if (type == "textarea") return 9;
  if (type == "radiobutton") return 10;
  if (type == "birthday") return 14;
  if (type == "date_time") return 19;
  return 0;
}

bool SameValue(const FieldValue& a, const FieldValue& b) {
  return a.value == b.value && a.enum_id == b.enum_id && a.flag == b.flag && a.time == b.time;
}

bool SameValues(const std::vector<FieldValue>& a, const std::vector<FieldValue>& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), SameValue);
}

const std::vector<FieldValue>* ValuesOf(const std::vector<FieldValues>& fields, int64_t field_id) {
  for (const FieldValues& field : fields) {
    if (field.field_id == field_id) return &field.values;
  }
  return nullptr;
}

// One stored value as an event shows it: the text Kommo displays and the enum, if any.
EventValue CustomFieldValue(const CustomField* field, int64_t field_id, const FieldValue& value) {
  EventValue v;
  v.kind = EventValue::Kind::kCustomField;
  v.id = field_id;
  const std::string type = field != nullptr ? field->type : "";
  v.number = FieldTypeCode(type);
  if (type == "checkbox") {
    v.text = value.flag ? "1" : "0";
  } else if (type == "date" || type == "date_time" || type == "birthday") {
    v.text = absl::StrCat(value.time);
  } else {
    v.text = value.value;
  }
  if (value.enum_id != 0) v.enum_id = value.enum_id;
  return v;
}

std::vector<EventValue> CustomFieldValues(const CustomField* field, int64_t field_id,
                                          const std::vector<FieldValue>* values) {
  std::vector<EventValue> out;
  if (values == nullptr) return out;
  for (const FieldValue& value : *values) out.push_back(CustomFieldValue(field, field_id, value));
  return out;
}

EventValue Single(EventValue::Kind kind, int64_t id) {
  EventValue v;
  v.kind = kind;
  v.id = id;
  return v;
}

EventValue Text(EventValue::Kind kind, std::string text) {
  EventValue v;
  v.kind = kind;
  v.text = std::move(text);
  return v;
}

EventValue LeadStatus(int64_t status_id, int64_t pipeline_id) {
  EventValue v = Single(EventValue::Kind::kLeadStatus, status_id);
  v.pipeline_id = pipeline_id;
  return v;
}

// Kommo's note types → the event a note of that type records.
std::string NoteEventType(std::string_view note_type) {
  if (note_type == "service_message" || note_type == "extended_service_message") {
    return "service_note_added";
  }
  if (note_type == "call_in") return "incoming_call";
  if (note_type == "call_out") return "outgoing_call";
  if (note_type == "sms_in") return "incoming_sms";
  if (note_type == "sms_out") return "outgoing_sms";
  if (note_type == "attachment") return "attachment_note_added";
  if (note_type == "geolocation") return "geo_note_added";
  if (note_type == "message_cashier") return "message_to_cashier_note_added";
  return "common_note_added";
}

}  // namespace

std::string_view EventEntityName(EntityKind kind) {
  switch (kind) {
    case EntityKind::kLead:
      return "lead";
    case EntityKind::kContact:
      return "contact";
    case EntityKind::kCompany:
      return "company";
  }
  return "lead";
}

std::string_view CollectionOf(EntityKind kind) {
  switch (kind) {
    case EntityKind::kLead:
      return "leads";
    case EntityKind::kContact:
      return "contacts";
    case EntityKind::kCompany:
      return "companies";
  }
  return "leads";
}

std::optional<EntityKind> KindOfCollection(std::string_view collection) {
  if (collection == "leads") return EntityKind::kLead;
  if (collection == "contacts") return EntityKind::kContact;
  if (collection == "companies") return EntityKind::kCompany;
  return std::nullopt;
}

std::string_view WebhookActionName(WebhookAction action) {
  switch (action) {
    case WebhookAction::kAdd:
      return "add";
    case WebhookAction::kUpdate:
      return "update";
    case WebhookAction::kDelete:
      return "delete";
    case WebhookAction::kRestore:
      return "restore";
    case WebhookAction::kStatus:
      return "status";
    case WebhookAction::kResponsible:
      return "responsible";
    case WebhookAction::kNote:
      return "note";
  }
  return "update";
}

void WriteEventValues(JsonWriter& w, const std::vector<EventValue>& values) {
  w.StartArray();
  for (const EventValue& v : values) {
    w.StartObject();
    switch (v.kind) {
      case EventValue::Kind::kNote:
        Key(w, "note");
        w.StartObject();
        Key(w, "id");
        w.Int64(v.id);
        w.EndObject();
        break;
      case EventValue::Kind::kLeadStatus:
        Key(w, "lead_status");
        w.StartObject();
        Key(w, "id");
        w.Int64(v.id);
        Key(w, "pipeline_id");
        w.Int64(v.pipeline_id);
        w.EndObject();
        break;
      case EventValue::Kind::kResponsibleUser:
        Key(w, "responsible_user");
        w.StartObject();
        Key(w, "id");
        w.Int64(v.id);
        w.EndObject();
        break;
      case EventValue::Kind::kSale:
        Key(w, "sale_field_value");
        w.StartObject();
        Key(w, "sale");
        w.Int64(v.number);
        w.EndObject();
        break;
      case EventValue::Kind::kName:
        Key(w, "name_field_value");
        w.StartObject();
        Key(w, "name");
        Str(w, v.text);
        w.EndObject();
        break;
      case EventValue::Kind::kCustomField:
        Key(w, "custom_field_value");
        w.StartObject();
        Key(w, "field_id");
        w.Int64(v.id);
        Key(w, "field_type");
        w.Int64(v.number);
        Key(w, "enum_id");
        if (v.enum_id.has_value()) {
          w.Int64(*v.enum_id);
        } else {
          w.Null();
        }
        Key(w, "text");
        Str(w, v.text);
        w.EndObject();
        break;
      case EventValue::Kind::kTag:
        Key(w, "tag");
        w.StartObject();
        Key(w, "name");
        Str(w, v.text);
        w.EndObject();
        break;
      case EventValue::Kind::kLink:
      case EventValue::Kind::kUnlink:
        Key(w, v.kind == EventValue::Kind::kLink ? "link" : "unlink");
        w.StartObject();
        Key(w, "entity");
        w.StartObject();
        Key(w, "type");
        Str(w, v.text);
        Key(w, "id");
        w.Int64(v.id);
        w.EndObject();
        w.EndObject();
        break;
    }
    w.EndObject();
  }
  w.EndArray();
}

// --- ChangeRecorder ------------------------------------------------------------------------------

ChangeRecorder::ChangeRecorder(const Store* store, int64_t user_id, int64_t* next_system_note_id)
    : store_(store), user_id_(user_id), next_system_note_id_(next_system_note_id) {}

void ChangeRecorder::Event(std::string type, EntityKind kind, int64_t id,
                           std::vector<EventValue> before, std::vector<EventValue> after) {
  events_.push_back(
      EventRecord{std::move(type), kind, id, user_id_, std::move(before), std::move(after)});
}

void ChangeRecorder::Webhook(WebhookChange change) {
  const bool seen =
      std::any_of(webhook_changes_.begin(), webhook_changes_.end(), [&](const WebhookChange& c) {
        return c.action == change.action && c.entity == change.entity &&
               c.entity_id == change.entity_id && c.note_id == change.note_id;
      });
  if (!seen) webhook_changes_.push_back(change);
}

// Kommo's *_added events point at the entity's "created" system note: {"note":{"id":N}}.
void ChangeRecorder::AddedEvent(EntityKind kind, int64_t id) {
  Event(absl::StrCat(AsAbsl(EventEntityName(kind)), "_added"), kind, id, {},
        {Single(EventValue::Kind::kNote, (*next_system_note_id_)++)});
  Webhook(WebhookChange{WebhookAction::kAdd, kind, id});
}

void ChangeRecorder::LinkEvents(EntityKind a, int64_t a_id, EntityKind b, int64_t b_id,
                                bool linked) {
  const EventValue::Kind value_kind = linked ? EventValue::Kind::kLink : EventValue::Kind::kUnlink;
  const std::string type = linked ? "entity_linked" : "entity_unlinked";
  EventValue to_b = Single(value_kind, b_id);
  to_b.text = std::string(EventEntityName(b));
  EventValue to_a = Single(value_kind, a_id);
  to_a.text = std::string(EventEntityName(a));
  Event(type, a, a_id, {}, {to_b});
  Event(type, b, b_id, {}, {to_a});
}

void ChangeRecorder::Added(const Lead& lead) {
  AddedEvent(EntityKind::kLead, lead.id);
  for (const LeadContact& contact : lead.contacts) {
    LinkEvents(EntityKind::kLead, lead.id, EntityKind::kContact, contact.contact_id, true);
  }
  if (lead.company_id.has_value()) {
    LinkEvents(EntityKind::kLead, lead.id, EntityKind::kCompany, *lead.company_id, true);
  }
}

void ChangeRecorder::Added(const Contact& contact) {
  AddedEvent(EntityKind::kContact, contact.id);
  if (contact.company_id.has_value()) {
    LinkEvents(EntityKind::kContact, contact.id, EntityKind::kCompany, *contact.company_id, true);
  }
}

void ChangeRecorder::Added(const Company& company) { AddedEvent(EntityKind::kCompany, company.id); }

bool ChangeRecorder::CommonChanges(EntityKind kind, int64_t id, const std::string& name_before,
                                   const std::string& name_after, int64_t responsible_before,
                                   int64_t responsible_after,
                                   const std::vector<FieldValues>& fields_before,
                                   const std::vector<FieldValues>& fields_after,
                                   const std::vector<std::string>& tags_before,
                                   const std::vector<std::string>& tags_after) {
  bool changed = false;
  if (name_before != name_after) {
    Event("name_field_changed", kind, id, {Text(EventValue::Kind::kName, name_before)},
          {Text(EventValue::Kind::kName, name_after)});
    changed = true;
  }
  if (responsible_before != responsible_after) {
    Event("entity_responsible_changed", kind, id,
          {Single(EventValue::Kind::kResponsibleUser, responsible_before)},
          {Single(EventValue::Kind::kResponsibleUser, responsible_after)});
    WebhookChange change{WebhookAction::kResponsible, kind, id};
    change.old_responsible_user_id = responsible_before;
    Webhook(change);
    changed = true;
  }

  // Custom fields: one event per field whose values differ, in the catalogue's order.
  const std::vector<CustomField>* catalogue = store_->FieldsOf(CollectionOf(kind));
  std::set<int64_t> field_ids;
  for (const FieldValues& f : fields_before) field_ids.insert(f.field_id);
  for (const FieldValues& f : fields_after) field_ids.insert(f.field_id);
  std::vector<int64_t> ordered(field_ids.begin(), field_ids.end());
  if (catalogue != nullptr) {
    const auto sort_of = [catalogue](int64_t field_id) {
      const CustomField* field = Store::FindField(*catalogue, field_id);
      return field != nullptr ? field->sort : 0;
    };
    std::stable_sort(ordered.begin(), ordered.end(),
                     [&](int64_t a, int64_t b) { return sort_of(a) < sort_of(b); });
  }
  for (const int64_t field_id : ordered) {
    const std::vector<FieldValue>* before = ValuesOf(fields_before, field_id);
    const std::vector<FieldValue>* after = ValuesOf(fields_after, field_id);
    static const std::vector<FieldValue> kNone;
    if (SameValues(before != nullptr ? *before : kNone, after != nullptr ? *after : kNone)) {
      continue;
    }
    const CustomField* field =
        catalogue != nullptr ? Store::FindField(*catalogue, field_id) : nullptr;
    Event("custom_field_value_changed", kind, id, CustomFieldValues(field, field_id, before),
          CustomFieldValues(field, field_id, after));
    changed = true;
  }

  // Tags: the ones added in one event, the ones removed in another.
  std::vector<EventValue> added;
  std::vector<EventValue> removed;
  for (const std::string& tag : tags_after) {
    if (std::find(tags_before.begin(), tags_before.end(), tag) == tags_before.end()) {
      added.push_back(Text(EventValue::Kind::kTag, tag));
    }
  }
  for (const std::string& tag : tags_before) {
    if (std::find(tags_after.begin(), tags_after.end(), tag) == tags_after.end()) {
      removed.push_back(Text(EventValue::Kind::kTag, tag));
    }
  }
  changed = changed || !added.empty() || !removed.empty();
  if (!added.empty()) Event("entity_tag_added", kind, id, {}, std::move(added));
  if (!removed.empty()) Event("entity_tag_deleted", kind, id, std::move(removed), {});
  return changed;
}

void ChangeRecorder::Updated(const Lead& before, const Lead& after) {
  bool changed = before.closed_at != after.closed_at;
  if (before.price != after.price) {
    changed = true;
    EventValue old_price;
    old_price.kind = EventValue::Kind::kSale;
    old_price.number = before.price;
    EventValue new_price = old_price;
    new_price.number = after.price;
    Event("sale_field_changed", EntityKind::kLead, after.id, {old_price}, {new_price});
  }
  if (before.status_id != after.status_id || before.pipeline_id != after.pipeline_id) {
    changed = true;
    Event("lead_status_changed", EntityKind::kLead, after.id,
          {LeadStatus(before.status_id, before.pipeline_id)},
          {LeadStatus(after.status_id, after.pipeline_id)});
    WebhookChange change{WebhookAction::kStatus, EntityKind::kLead, after.id};
    change.old_status_id = before.status_id;
    change.old_pipeline_id = before.pipeline_id;
    Webhook(change);
  }
  changed = CommonChanges(EntityKind::kLead, after.id, before.name, after.name,
                          before.responsible_user_id, after.responsible_user_id, before.fields,
                          after.fields, before.tags, after.tags) ||
            changed;
  if (changed) Webhook(WebhookChange{WebhookAction::kUpdate, EntityKind::kLead, after.id});
}

void ChangeRecorder::Updated(const Contact& before, const Contact& after) {
  // first_name / last_name alone record no event (Kommo's event is about the name), but the
  // contact did change: its webhook update.
  const bool changed = CommonChanges(EntityKind::kContact, after.id, before.name, after.name,
                                     before.responsible_user_id, after.responsible_user_id,
                                     before.fields, after.fields, before.tags, after.tags) ||
                       before.first_name != after.first_name || before.last_name != after.last_name;
  if (changed) Webhook(WebhookChange{WebhookAction::kUpdate, EntityKind::kContact, after.id});
}

void ChangeRecorder::Updated(const Company& before, const Company& after) {
  if (CommonChanges(EntityKind::kCompany, after.id, before.name, after.name,
                    before.responsible_user_id, after.responsible_user_id, before.fields,
                    after.fields, before.tags, after.tags)) {
    Webhook(WebhookChange{WebhookAction::kUpdate, EntityKind::kCompany, after.id});
  }
}

void ChangeRecorder::NoteAdded(const Note& note) {
  const std::optional<EntityKind> kind = KindOfCollection(note.entity_type);
  if (!kind.has_value()) return;
  Event(NoteEventType(note.note_type), *kind, note.entity_id, {},
        {Single(EventValue::Kind::kNote, note.id)});
  WebhookChange change{WebhookAction::kNote, *kind, note.entity_id};
  change.note_id = note.id;
  Webhook(change);
}

void ChangeRecorder::LinkChanged(EntityKind a, int64_t a_id, EntityKind b, int64_t b_id,
                                 bool linked) {
  LinkEvents(a, a_id, b, b_id, linked);
  Webhook(WebhookChange{WebhookAction::kUpdate, a, a_id});
  Webhook(WebhookChange{WebhookAction::kUpdate, b, b_id});
}

void ChangeRecorder::Deleted(EntityKind kind, int64_t id) {
  Event(absl::StrCat(AsAbsl(EventEntityName(kind)), "_deleted"), kind, id, {}, {});
  Webhook(WebhookChange{WebhookAction::kDelete, kind, id});
}

void ChangeRecorder::Restored(EntityKind kind, int64_t id) {
  Event(absl::StrCat(AsAbsl(EventEntityName(kind)), "_restored"), kind, id, {}, {});
  Webhook(WebhookChange{WebhookAction::kRestore, kind, id});
}

}  // namespace kommo::emulator
