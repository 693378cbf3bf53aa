// The emulator's in-memory account: seeded reference data (users, groups, pipelines, custom-field
// catalogues of leads, contacts and companies, loss reasons) and the leads, contacts, companies,
// notes and incoming leads created through the API. Loop thread only.
#ifndef KOMMO_EMULATOR_STORE_H_
#define KOMMO_EMULATOR_STORE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace kommo::emulator {

struct Group {
  int64_t id;
  std::string name;
};

struct User {
  int64_t id;
  std::string name;
  std::string email;
  bool is_admin;
  int64_t group_id;
};

struct PipelineStatus {
  int64_t id;
  std::string name;
  int sort;
  bool is_editable;
  std::string color;
  int type;  // 1: incoming ("unsorted"), 0: everything else
};

struct Pipeline {
  int64_t id;
  std::string name;
  int sort;
  bool is_main;
  std::vector<PipelineStatus> statuses;  // incoming, regular stages, 142, 143

  const PipelineStatus* FindStatus(int64_t status_id) const;
  // Where new leads land: the first stage that is neither incoming nor 142/143.
  int64_t first_regular_status_id() const;
  // The incoming ("Unsorted", type 1) stage, where incoming leads wait to be accepted.
  const PipelineStatus* incoming_status() const;
};

struct FieldEnum {
  int64_t id;
  std::string value;  // the enum code, e.g. "WORK"
  int sort;
};

struct CustomField {
  int64_t id;
  std::string name;
  std::string code;
  std::string type;
  int sort;
  std::vector<FieldEnum> enums;  // the first one is the default

  const FieldEnum* FindEnum(int64_t enum_id) const;
  const FieldEnum* FindEnumByCode(std::string_view code) const;  // case-insensitive
};

// A reason a lead was lost (GET /leads/loss_reasons).
struct LossReason {
  int64_t id;
  std::string name;
  int sort;
};

// One stored value of a custom field, typed by the field's type (custom_fields.h reads and
// writes them):
// - text, textarea, url, multitext: `value`;
// - numeric: `value`, the number's decimal text (Kommo keeps and sends numbers as strings);
// - checkbox: `flag`;
// - select, multiselect, radiobutton: `enum_id`, and `value` the enum's value;
// - multitext: `enum_id` names the kind (WORK, MOB, ...);
// - date, date_time, birthday: `time`, Unix seconds.
struct FieldValue {
  std::string value;
  int64_t enum_id = 0;  // 0: none
  bool flag = false;
  int64_t time = 0;
};

// The values of one custom field of a lead, contact or company.
struct FieldValues {
  int64_t field_id;
  std::vector<FieldValue> values;  // never empty
};
using ContactFieldValues = FieldValues;  // the name from when only contacts had fields

// A tag of a lead, contact or company; each entity type has a catalogue of its own.
struct Tag {
  int64_t id;
  std::string name;
};

// The tags of one entity type, in the order they were made. Names are compared exactly.
class TagCatalogue {
 public:
  const Tag* Find(int64_t id) const;
  const Tag* FindByName(std::string_view name) const;
  const std::vector<Tag>& tags() const { return tags_; }
  // Adds a tag with this id unless one with this name exists; returns the name's tag.
  const Tag& Add(int64_t id, std::string name);
  void Clear() { tags_.clear(); }

 private:
  std::vector<Tag> tags_;
};

struct LeadContact {
  int64_t contact_id;
  bool is_main;
};

struct Lead {
  int64_t id = 0;
  std::string name;
  int64_t price = 0;
  int64_t responsible_user_id = 0;
  int64_t group_id = 0;
  int64_t status_id = 0;
  int64_t pipeline_id = 0;
  int64_t created_by = 0;
  int64_t updated_by = 0;
  int64_t created_at = 0;
  int64_t updated_at = 0;
  std::optional<int64_t> closed_at;
  std::vector<LeadContact> contacts;
  std::optional<int64_t> company_id;  // set by /leads/complex and incoming leads only
  std::vector<FieldValues> fields;    // ordered by the fields' sort
  std::vector<std::string> tags;      // names in the leads' tag catalogue, in the order added
};

struct Contact {
  int64_t id = 0;
  std::string name;
  std::string first_name;
  std::string last_name;
  int64_t responsible_user_id = 0;
  int64_t group_id = 0;
  int64_t created_by = 0;
  int64_t updated_by = 0;
  int64_t created_at = 0;
  int64_t updated_at = 0;
  std::vector<FieldValues> fields;    // ordered by the fields' sort
  std::optional<int64_t> company_id;  // set by /leads/complex and incoming leads only
  std::vector<std::string> tags;      // names in the contacts' tag catalogue, in the order added
};

// A company: contact-shaped, with a name only (no first or last name); its custom fields are the
// contacts' PHONE and EMAIL and the companies' own (WEB, ADDRESS, Industry).
struct Company {
  int64_t id = 0;
  std::string name;
  int64_t responsible_user_id = 0;
  int64_t group_id = 0;
  int64_t created_by = 0;
  int64_t updated_by = 0;
  int64_t created_at = 0;
  int64_t updated_at = 0;
  std::vector<FieldValues> fields;  // ordered by the fields' sort
  std::vector<std::string> tags;    // names in the companies' tag catalogue, in the order added
};

// A note on a lead, contact or company.
struct Note {
  int64_t id = 0;
  std::string entity_type;  // "leads", "contacts" or "companies"
  int64_t entity_id = 0;
  std::string note_type;    // "common", "service_message", ... as sent
  std::string params_json;  // the params object, serialized ({"text":"…"})
  int64_t responsible_user_id = 0;
  int64_t group_id = 0;
  int64_t created_by = 0;
  int64_t updated_by = 0;
  int64_t created_at = 0;
  int64_t updated_at = 0;
};

// A task (POST /tasks): on a lead, contact or company, or on nothing.
struct Task {
  int64_t id = 0;
  std::string entity_type;  // "leads", "contacts", "companies", or "" for none
  int64_t entity_id = 0;    // 0 for none
  std::string text;
  int64_t task_type_id = 0;
  int64_t complete_till = 0;  // Unix seconds
  int64_t duration = 0;       // seconds
  bool is_completed = false;
  std::optional<std::string> result_text;  // result.text, when one was recorded
  int64_t responsible_user_id = 0;
  int64_t group_id = 0;
  int64_t created_by = 0;
  int64_t updated_by = 0;
  int64_t created_at = 0;
  int64_t updated_at = 0;
};

// An incoming lead ("unsorted" entry) made by POST /leads/unsorted/forms.
struct UnsortedEntry {
  enum class State { kPending, kAccepted, kDeclined };

  std::string uid;        // 40 lowercase hex digits
  uint64_t sequence = 0;  // creation order (ties of created_at)
  std::string category;   // "forms"
  std::string source_uid;
  std::string source_name;
  int64_t pipeline_id = 0;
  int64_t created_at = 0;
  // metadata of a form
  std::string form_id;
  std::string form_name;
  std::optional<std::string> form_page;
  std::optional<std::string> ip;
  std::optional<int64_t> form_sent_at;
  std::optional<std::string> referer;

  int64_t lead_id = 0;
  std::optional<int64_t> contact_id;
  std::optional<int64_t> company_id;
  State state = State::kPending;
  std::optional<int64_t> processed_at;  // when it was accepted or declined
  // What makes two entries identical (source_uid and the content as stored); a second identical
  // entry is refused.
  std::string content_key;
};
class Store {
 public:
  Store();

  const std::vector<Group>& groups() const { return groups_; }
  const std::vector<User>& users() const { return users_; }
  const std::vector<Pipeline>& pipelines() const { return pipelines_; }
  const std::vector<CustomField>& contact_fields() const { return contact_fields_; }
  const std::vector<CustomField>& lead_fields() const { return lead_fields_; }
  const std::vector<CustomField>& company_fields() const { return company_fields_; }
  // The custom-field catalogue of "leads", "contacts" or "companies"; nullptr for anything else.
  const std::vector<CustomField>* FieldsOf(std::string_view entity_type) const;
  const std::vector<LossReason>& loss_reasons() const { return loss_reasons_; }
  // The tag catalogue of "leads", "contacts" or "companies"; nullptr for anything else.
  const TagCatalogue* TagsOf(std::string_view entity_type) const;
  // Saving an entity: every tag name it carries gets a tag in its type's catalogue (new names a
  // new id). Writes validate against the catalogue without changing it, and call this only for
  // what they save.
  void RegisterTags(std::string_view entity_type, const std::vector<std::string>& names);

  const User* FindUser(int64_t id) const;
  const Pipeline* FindPipeline(int64_t id) const;
  const Pipeline& main_pipeline() const;
  // The field of `catalogue` (one of the three above) with this id; nullptr if none.
  static const CustomField* FindField(const std::vector<CustomField>& catalogue, int64_t id);
  const CustomField* FindContactField(int64_t id) const;
  const CustomField* FindContactFieldByCode(std::string_view code) const;  // case-insensitive

  std::map<int64_t, Lead>& leads() { return leads_; }
  const std::map<int64_t, Lead>& leads() const { return leads_; }
  std::map<int64_t, Contact>& contacts() { return contacts_; }
  const std::map<int64_t, Contact>& contacts() const { return contacts_; }
  std::map<int64_t, Company>& companies() { return companies_; }
  const std::map<int64_t, Company>& companies() const { return companies_; }
  // The trash: leads, contacts and companies deleted through the admin API (Kommo's UI can,
  // API v4 cannot), restorable. Entities here are invisible to the API.
  std::map<int64_t, Lead>& deleted_leads() { return deleted_leads_; }
  const std::map<int64_t, Lead>& deleted_leads() const { return deleted_leads_; }
  std::map<int64_t, Contact>& deleted_contacts() { return deleted_contacts_; }
  const std::map<int64_t, Contact>& deleted_contacts() const { return deleted_contacts_; }
  std::map<int64_t, Company>& deleted_companies() { return deleted_companies_; }
  const std::map<int64_t, Company>& deleted_companies() const { return deleted_companies_; }
  std::map<int64_t, Note>& notes() { return notes_; }
  const std::map<int64_t, Note>& notes() const { return notes_; }
  std::map<int64_t, Task>& tasks() { return tasks_; }
  const std::map<int64_t, Task>& tasks() const { return tasks_; }
  // Whether the account has this task type (built-in or its own).
  bool TaskTypeExists(int64_t id) const;
  std::vector<UnsortedEntry>& unsorted() { return unsorted_; }
  const std::vector<UnsortedEntry>& unsorted() const { return unsorted_; }
  UnsortedEntry* FindUnsorted(std::string_view uid);
  // Whether `entity_type` ("leads", "contacts", "companies") has an entity with this id.
  bool EntityExists(std::string_view entity_type, int64_t id) const;

  int64_t NextLeadId() { return next_lead_id_++; }
  int64_t NextContactId() { return next_contact_id_++; }
  int64_t NextCompanyId() { return next_company_id_++; }
  int64_t NextNoteId() { return next_note_id_++; }
  int64_t NextTaskId() { return next_task_id_++; }
  uint64_t NextUnsortedSequence() { return next_unsorted_sequence_++; }

  // Duplicate control of POST /leads/complex, per pipeline (a setting, not data: Reset() keeps it).
  bool duplicate_control(int64_t pipeline_id) const {
    return duplicate_control_.count(pipeline_id) > 0;
  }
  void set_duplicate_control(int64_t pipeline_id, bool enabled);
  void ClearDuplicateControl() { duplicate_control_.clear(); }

  // Drops leads, contacts, companies (the trash too), their tags, notes, tasks and incoming
  // leads and restarts ids; reference data and settings stay.
  void Reset();

 private:
  TagCatalogue* MutableTagsOf(std::string_view entity_type);

  std::vector<Group> groups_;
  std::vector<User> users_;
  std::vector<Pipeline> pipelines_;
  std::vector<CustomField> contact_fields_;
  std::vector<CustomField> lead_fields_;
  std::vector<CustomField> company_fields_;
  std::vector<LossReason> loss_reasons_;
  TagCatalogue lead_tags_;
  TagCatalogue contact_tags_;
  TagCatalogue company_tags_;
  std::map<int64_t, Lead> leads_;
  std::map<int64_t, Contact> contacts_;
  std::map<int64_t, Company> companies_;
  std::map<int64_t, Lead> deleted_leads_;
  std::map<int64_t, Contact> deleted_contacts_;
  std::map<int64_t, Company> deleted_companies_;
  std::map<int64_t, Note> notes_;
  std::map<int64_t, Task> tasks_;
  std::vector<UnsortedEntry> unsorted_;
  std::set<int64_t> duplicate_control_;
  int64_t next_lead_id_;
  int64_t next_contact_id_;
  int64_t next_company_id_;
  int64_t next_note_id_;
  int64_t next_task_id_;
  int64_t next_tag_id_;  // one sequence for the three tag catalogues
  uint64_t next_unsorted_sequence_ = 1;
};

}  // namespace kommo::emulator

#endif  // KOMMO_EMULATOR_STORE_H_
