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
};

struct FieldValue {
  std::string value;
  int64_t enum_id;
};

struct ContactFieldValues {
  int64_t field_id;
  std::vector<FieldValue> values;  // never empty
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
  std::vector<ContactFieldValues> fields;  // ordered by the fields' sort
  std::optional<int64_t> company_id;       // set by /leads/complex and incoming leads only
};

// A company: contact-shaped, with a name only (no first or last name); its custom fields are the
// contacts' PHONE and EMAIL.
struct Company {
  int64_t id = 0;
  std::string name;
  int64_t responsible_user_id = 0;
  int64_t group_id = 0;
  int64_t created_by = 0;
  int64_t updated_by = 0;
  int64_t created_at = 0;
  int64_t updated_at = 0;
  std::vector<ContactFieldValues> fields;
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

  const User* FindUser(int64_t id) const;
  const Pipeline* FindPipeline(int64_t id) const;
  const Pipeline& main_pipeline() const;
  const CustomField* FindContactField(int64_t id) const;
  const CustomField* FindContactFieldByCode(std::string_view code) const;  // case-insensitive

  std::map<int64_t, Lead>& leads() { return leads_; }
  const std::map<int64_t, Lead>& leads() const { return leads_; }
  std::map<int64_t, Contact>& contacts() { return contacts_; }
  const std::map<int64_t, Contact>& contacts() const { return contacts_; }
  std::map<int64_t, Company>& companies() { return companies_; }
  const std::map<int64_t, Company>& companies() const { return companies_; }
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

  // Drops leads, contacts, companies, notes, tasks and incoming leads and restarts ids; reference
  // data and settings stay.
  void Reset();

 private:
  std::vector<Group> groups_;
  std::vector<User> users_;
  std::vector<Pipeline> pipelines_;
  std::vector<CustomField> contact_fields_;
  std::vector<CustomField> lead_fields_;
  std::vector<CustomField> company_fields_;
  std::vector<LossReason> loss_reasons_;
  std::map<int64_t, Lead> leads_;
  std::map<int64_t, Contact> contacts_;
  std::map<int64_t, Company> companies_;
  std::map<int64_t, Note> notes_;
  std::map<int64_t, Task> tasks_;
  std::vector<UnsortedEntry> unsorted_;
  std::set<int64_t> duplicate_control_;
  int64_t next_lead_id_;
  int64_t next_contact_id_;
  int64_t next_company_id_;
  int64_t next_note_id_;
  int64_t next_task_id_;
  uint64_t next_unsorted_sequence_ = 1;
};

}  // namespace kommo::emulator

#endif  // KOMMO_EMULATOR_STORE_H_
