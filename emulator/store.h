// The emulator's in-memory account: seeded reference data (users, groups, pipelines, contact
// custom fields) and the leads and contacts created through the API. Loop thread only.
#ifndef KOMMO_EMULATOR_STORE_H_
#define KOMMO_EMULATOR_STORE_H_

#include <cstdint>
#include <map>
#include <optional>
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
};

class Store {
 public:
  Store();

  const std::vector<Group>& groups() const { return groups_; }
  const std::vector<User>& users() const { return users_; }
  const std::vector<Pipeline>& pipelines() const { return pipelines_; }
  const std::vector<CustomField>& contact_fields() const { return contact_fields_; }

  const User* FindUser(int64_t id) const;
  const Pipeline* FindPipeline(int64_t id) const;
  const Pipeline& main_pipeline() const;
  const CustomField* FindContactField(int64_t id) const;
  const CustomField* FindContactFieldByCode(std::string_view code) const;  // case-insensitive

  std::map<int64_t, Lead>& leads() { return leads_; }
  const std::map<int64_t, Lead>& leads() const { return leads_; }
  std::map<int64_t, Contact>& contacts() { return contacts_; }
  const std::map<int64_t, Contact>& contacts() const { return contacts_; }

  int64_t NextLeadId() { return next_lead_id_++; }
  int64_t NextContactId() { return next_contact_id_++; }

  // Drops leads and contacts and restarts ids; reference data stays.
  void Reset();

 private:
  std::vector<Group> groups_;
  std::vector<User> users_;
  std::vector<Pipeline> pipelines_;
  std::vector<CustomField> contact_fields_;
  std::map<int64_t, Lead> leads_;
  std::map<int64_t, Contact> contacts_;
  int64_t next_lead_id_;
  int64_t next_contact_id_;
};

}  // namespace kommo::emulator

#endif  // KOMMO_EMULATOR_STORE_H_
