// What a write changed, in Kommo's two vocabularies: events (GET /api/v4/events: lead_added,
// lead_status_changed, entity_responsible_changed, ...) and webhook actions (the form-encoded
// deliveries' leads[add], leads[status], contacts[update], ...).
//
// Every write of a lead, contact or company reports what it did to the request's ChangeRecorder,
// after the store holds the new state: an entity added, updated (the recorder compares the
// before and after states), deleted or restored, a note added, a link made or removed. After the
// request, KommoApi (or the admin API) hands the recorder to the events history (events.h) and
// the webhook dispatcher (webhooks.h). Loop thread only.
#ifndef KOMMO_EMULATOR_CHANGES_H_
#define KOMMO_EMULATOR_CHANGES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "emulator/render.h"
#include "emulator/store.h"

namespace kommo::emulator {

enum class EntityKind { kLead, kContact, kCompany };

// "lead", "contact", "company": the events API's singular entity_type.
std::string_view EventEntityName(EntityKind kind);
// "leads", "contacts", "companies": the API's paths and the store's entity types.
std::string_view CollectionOf(EntityKind kind);
std::optional<EntityKind> KindOfCollection(std::string_view collection);

// One element of an event's value_before or value_after, rendered as Kommo shows it:
//   kNote            {"note":{"id":N}}
//   kLeadStatus      {"lead_status":{"id":S,"pipeline_id":P}}
//   kResponsibleUser {"responsible_user":{"id":U}}
//   kSale            {"sale_field_value":{"sale":N}}
//   kName            {"name_field_value":{"name":"..."}}
//   kCustomField     {"custom_field_value":{"field_id":F,"field_type":T,"enum_id":E|null,
//                                           "text":"..."}}
//   kTag             {"tag":{"name":"..."}}
//   kLink, kUnlink   {"link"|"unlink":{"entity":{"type":"lead","id":N}}}
struct EventValue {
  enum class Kind {
    kNote,
    kLeadStatus,
    kResponsibleUser,
    kSale,
    kName,
    kCustomField,
    kTag,
    kLink,
    kUnlink
  };
  Kind kind = Kind::kNote;
  int64_t id = 0;                  // note, status, user, custom field or linked entity id
  int64_t pipeline_id = 0;         // kLeadStatus
  int64_t number = 0;              // kSale: the price; kCustomField: Kommo's numeric field type
  std::optional<int64_t> enum_id;  // kCustomField
  std::string text;  // kName, kTag, kCustomField; kLink/kUnlink: the entity type ("lead", ...)
};

// The JSON array of `values` (Kommo's value_before / value_after).
void WriteEventValues(JsonWriter& w, const std::vector<EventValue>& values);

// An event before the history gives it an id and a time.
struct EventRecord {
  std::string type;  // "lead_added", "custom_field_value_changed", ...
  EntityKind entity = EntityKind::kLead;
  int64_t entity_id = 0;
  int64_t created_by = 0;
  std::vector<EventValue> before;
  std::vector<EventValue> after;
};

// A webhook action: the second key of a delivery ("leads[status][0][...]").
enum class WebhookAction { kAdd, kUpdate, kDelete, kRestore, kStatus, kResponsible, kNote };
// "add", "update", "delete", "restore", "status", "responsible", "note".
std::string_view WebhookActionName(WebhookAction action);

// One entity's part of a delivery, with the old values Kommo sends beside the new ones.
struct WebhookChange {
  WebhookAction action = WebhookAction::kUpdate;
  EntityKind entity = EntityKind::kLead;
  int64_t entity_id = 0;
  int64_t old_status_id = 0;            // kStatus
  int64_t old_pipeline_id = 0;          // kStatus
  int64_t old_responsible_user_id = 0;  // kResponsible
  int64_t note_id = 0;                  // kNote
};

class ChangeRecorder {
 public:
  // `store` is read for catalogues and names; `user_id` is who made the changes (events'
  // created_by); `next_system_note_id` numbers the "entity created" system notes Kommo's
  // *_added events point at (the emulator keeps no such note).
  ChangeRecorder(const Store* store, int64_t user_id, int64_t* next_system_note_id);

  // A new entity: its *_added event and add webhook; a lead's contacts and company and a
  // contact's company count as links made (entity_linked on both sides, no webhook for the
  // other side).
  void Added(const Lead& lead);
  void Added(const Contact& contact);
  void Added(const Company& company);
  // An entity changed from `before` to `after`: one event per thing that changed (name, price,
  // stage, responsible user, each custom field, tags added, tags removed) and the webhook
  // actions update, status and responsible. Nothing when nothing Kommo records changed.
  void Updated(const Lead& before, const Lead& after);
  void Updated(const Contact& before, const Contact& after);
  void Updated(const Company& before, const Company& after);
  void NoteAdded(const Note& note);
  // A link between two entities made (`linked`) or removed: an event on each side and an update
  // of each.
  void LinkChanged(EntityKind a, int64_t a_id, EntityKind b, int64_t b_id, bool linked);
  void Deleted(EntityKind kind, int64_t id);
  void Restored(EntityKind kind, int64_t id);

  const std::vector<EventRecord>& events() const { return events_; }
  // At most one change per (action, entity, id), in the order first reported.
  const std::vector<WebhookChange>& webhook_changes() const { return webhook_changes_; }
  bool empty() const { return events_.empty() && webhook_changes_.empty(); }

 private:
  void Event(std::string type, EntityKind kind, int64_t id, std::vector<EventValue> before,
             std::vector<EventValue> after);
  void Webhook(WebhookChange change);
  void AddedEvent(EntityKind kind, int64_t id);
  // entity_linked / entity_unlinked on both sides.
  void LinkEvents(EntityKind a, int64_t a_id, EntityKind b, int64_t b_id, bool linked);
  // What leads, contacts and companies share: the name, the responsible user, custom fields and
  // tags. Records their events (and the responsible webhook); true when any of them changed.
  bool CommonChanges(EntityKind kind, int64_t id, const std::string& name_before,
                     const std::string& name_after, int64_t responsible_before,
                     int64_t responsible_after, const std::vector<FieldValues>& fields_before,
                     const std::vector<FieldValues>& fields_after,
                     const std::vector<std::string>& tags_before,
                     const std::vector<std::string>& tags_after);

  const Store* const store_;
  const int64_t user_id_;
  int64_t* const next_system_note_id_;
  std::vector<EventRecord> events_;
  std::vector<WebhookChange> webhook_changes_;
};

}  // namespace kommo::emulator

#endif  // KOMMO_EMULATOR_CHANGES_H_
