#include "emulator/store.h"

#include "emulator/emulator.h"
#include "emulator/text.h"

namespace kommo::emulator {
namespace {

Pipeline MakePipeline(int64_t id, std::string name, int sort, bool is_main, int64_t incoming_id,
                      int64_t first_id, int64_t second_id) {
  return Pipeline{id,
                  std::move(name),
                  sort,
                  is_main,
                  {
                      {incoming_id, "Incoming leads", 10, false, "#c1c1c1", 1},
                      {first_id, "Initial contact", 20, true, "#99ccff", 0},
                      {second_id, "Negotiation", 30, true, "#ffff99", 0},
                      {kWonStatusId, "Closed - won", 10000, false, "#ccff66", 0},
                      {kLostStatusId, "Closed - lost", 11000, false, "#d5d8db", 0},
                  }};
}

}  // namespace

const PipelineStatus* Pipeline::FindStatus(int64_t status_id) const {
  for (const PipelineStatus& status : statuses) {
    if (status.id == status_id) return &status;
  }
  return nullptr;
}

int64_t Pipeline::first_regular_status_id() const {
  for (const PipelineStatus& status : statuses) {
    if (status.type == 0 && status.id != kWonStatusId && status.id != kLostStatusId) {
      return status.id;
    }
  }
  return statuses.front().id;
}

const PipelineStatus* Pipeline::incoming_status() const {
  for (const PipelineStatus& status : statuses) {
    if (status.type == 1) return &status;
  }
  return nullptr;
}

const FieldEnum* CustomField::FindEnum(int64_t enum_id) const {
  for (const FieldEnum& e : enums) {
    if (e.id == enum_id) return &e;
  }
  return nullptr;
}

const FieldEnum* CustomField::FindEnumByCode(std::string_view enum_code) const {
  for (const FieldEnum& e : enums) {
    if (EqualsIgnoreCase(e.value, enum_code)) return &e;
  }
  return nullptr;
}

Store::Store()
    : groups_{{kDefaultGroupId, "Main group"}, {kSalesGroupId, "Sales"}},
      users_{{kAdminUserId, "Admin", "admin@emulator.example", true, kDefaultGroupId},
             {kManagerUserId, "Manager", "manager@emulator.example", false, kSalesGroupId}},
      pipelines_{
          MakePipeline(kMainPipelineId, "Sales funnel", 1, true, kMainPipelineIncomingStatusId,
                       kMainPipelineFirstStatusId, kMainPipelineSecondStatusId),
          MakePipeline(kSecondPipelineId, "Partners", 2, false, kSecondPipelineIncomingStatusId,
                       kSecondPipelineFirstStatusId, kSecondPipelineSecondStatusId)},
      contact_fields_{{kPhoneFieldId,
                       "Phone",
                       "PHONE",
                       "multitext",
                       4,
                       {{kPhoneWorkEnumId, "WORK", 2},
                        {kPhoneWorkDdEnumId, "WORKDD", 4},
                        {kPhoneMobEnumId, "MOB", 6},
                        {kPhoneFaxEnumId, "FAX", 8},
                        {kPhoneHomeEnumId, "HOME", 10},
                        {kPhoneOtherEnumId, "OTHER", 12}}},
                      {kEmailFieldId,
                       "Email",
                       "EMAIL",
                       "multitext",
                       6,
                       {{kEmailWorkEnumId, "WORK", 2},
                        {kEmailPrivEnumId, "PRIV", 4},
                        {kEmailOtherEnumId, "OTHER", 6}}}},
      lead_fields_{{kUtmSourceFieldId, "UTM source", "UTM_SOURCE", "text", 10, {}},
                   {kUnitsFieldId, "Units", "", "numeric", 20, {}},
                   {kPaidFieldId, "Paid", "", "checkbox", 30, {}},
                   {kProductFieldId,
                    "Product",
                    "",
                    "select",
                    40,
                    {{kProductBasicEnumId, "Basic", 1},
                     {kProductProEnumId, "Pro", 2},
                     {kProductEnterpriseEnumId, "Enterprise", 3}}},
                   {kChannelsFieldId,
                    "Channels",
                    "",
                    "multiselect",
                    50,
                    {{kChannelWhatsAppEnumId, "WhatsApp", 1},
                     {kChannelTelegramEnumId, "Telegram", 2},
                     {kChannelEmailEnumId, "Email", 3}}},
                   {kPriorityFieldId,
                    "Priority",
                    "",
                    "radiobutton",
                    60,
                    {{kPriorityLowEnumId, "Low", 1}, {kPriorityHighEnumId, "High", 2}}},
                   {kFollowUpFieldId, "Follow-up date", "", "date", 70, {}},
                   {kMeetingAtFieldId, "Meeting at", "", "date_time", 80, {}},
                   {kClientBirthdayFieldId, "Client birthday", "", "birthday", 90, {}},
                   {kLandingPageFieldId, "Landing page", "", "url", 100, {}},
                   {kCommentFieldId, "Comment", "", "textarea", 110, {}}},
      loss_reasons_{{kLossTooExpensiveId, "Too expensive", 1},
                    {kLossCompetitorId, "Chose a competitor", 2},
                    {kLossNoAnswerId, "No answer", 3}},
      next_lead_id_(kFirstLeadId),
      next_contact_id_(kFirstContactId),
      next_company_id_(kFirstCompanyId),
      next_note_id_(kFirstNoteId),
      next_task_id_(kFirstTaskId),
      next_tag_id_(kFirstTagId) {
  // Companies keep their phones and emails under the contacts' PHONE and EMAIL fields.
  company_fields_ = contact_fields_;
  company_fields_.push_back({kWebFieldId, "Web", "WEB", "url", 8, {}});
  company_fields_.push_back({kAddressFieldId, "Address", "ADDRESS", "textarea", 10, {}});
  company_fields_.push_back({kIndustryFieldId,
                             "Industry",
                             "",
                             "select",
                             12,
                             {{kIndustryRetailEnumId, "Retail", 1},
                              {kIndustrySoftwareEnumId, "Software", 2},
                              {kIndustryOtherEnumId, "Other", 3}}});
  // The contacts' own fields besides PHONE and EMAIL (companies do not have them).
  contact_fields_.push_back({kPositionFieldId, "Position", "POSITION", "text", 8, {}});
  contact_fields_.push_back({kImFieldId,
                             "Instant messenger",
                             "IM",
                             "multitext",
                             10,
                             {{kImSkypeEnumId, "SKYPE", 2},
                              {kImIcqEnumId, "ICQ", 4},
                              {kImJabberEnumId, "JABBER", 6},
                              {kImGtalkEnumId, "GTALK", 8},
                              {kImMsnEnumId, "MSN", 10},
                              {kImOtherEnumId, "OTHER", 12}}});
  contact_fields_.push_back({kContactBirthdayFieldId, "Birthday", "", "birthday", 12, {}});
}

const Tag* TagCatalogue::Find(int64_t id) const {
  for (const Tag& tag : tags_) {
    if (tag.id == id) return &tag;
  }
  return nullptr;
}

const Tag* TagCatalogue::FindByName(std::string_view name) const {
  for (const Tag& tag : tags_) {
    if (tag.name == name) return &tag;
  }
  return nullptr;
}

const Tag& TagCatalogue::Add(int64_t id, std::string name) {
  if (const Tag* existing = FindByName(name)) return *existing;
  tags_.push_back(Tag{id, std::move(name)});
  return tags_.back();
}

const User* Store::FindUser(int64_t id) const {
  for (const User& user : users_) {
    if (user.id == id) return &user;
  }
  return nullptr;
}

const Pipeline* Store::FindPipeline(int64_t id) const {
  for (const Pipeline& pipeline : pipelines_) {
    if (pipeline.id == id) return &pipeline;
  }
  return nullptr;
}

const Pipeline& Store::main_pipeline() const {
  for (const Pipeline& pipeline : pipelines_) {
    if (pipeline.is_main) return pipeline;
  }
  return pipelines_.front();
}

const CustomField* Store::FindField(const std::vector<CustomField>& catalogue, int64_t id) {
  for (const CustomField& field : catalogue) {
    if (field.id == id) return &field;
  }
  return nullptr;
}

const CustomField* Store::FindContactField(int64_t id) const {
  return FindField(contact_fields_, id);
}

const CustomField* Store::FindContactFieldByCode(std::string_view code) const {
  for (const CustomField& field : contact_fields_) {
    if (EqualsIgnoreCase(field.code, code)) return &field;
  }
  return nullptr;
}

const std::vector<CustomField>* Store::FieldsOf(std::string_view entity_type) const {
  if (entity_type == "leads") return &lead_fields_;
  if (entity_type == "contacts") return &contact_fields_;
  if (entity_type == "companies") return &company_fields_;
  return nullptr;
}

const TagCatalogue* Store::TagsOf(std::string_view entity_type) const {
  if (entity_type == "leads") return &lead_tags_;
  if (entity_type == "contacts") return &contact_tags_;
  if (entity_type == "companies") return &company_tags_;
  return nullptr;
}

TagCatalogue* Store::MutableTagsOf(std::string_view entity_type) {
  if (entity_type == "leads") return &lead_tags_;
  if (entity_type == "contacts") return &contact_tags_;
  if (entity_type == "companies") return &company_tags_;
  return nullptr;
}

void Store::RegisterTags(std::string_view entity_type, const std::vector<std::string>& names) {
  TagCatalogue* catalogue = MutableTagsOf(entity_type);
  if (catalogue == nullptr) return;
  for (const std::string& name : names) {
    if (catalogue->FindByName(name) == nullptr) catalogue->Add(next_tag_id_++, name);
  }
}

UnsortedEntry* Store::FindUnsorted(std::string_view uid) {
  for (UnsortedEntry& entry : unsorted_) {
    if (entry.uid == uid) return &entry;
  }
  return nullptr;
}

bool Store::EntityExists(std::string_view entity_type, int64_t id) const {
  if (entity_type == "leads") return leads_.count(id) > 0;
  if (entity_type == "contacts") return contacts_.count(id) > 0;
  if (entity_type == "companies") return companies_.count(id) > 0;
  return false;
}

bool Store::TaskTypeExists(int64_t id) const {
  return id == kTaskTypeCall || id == kTaskTypeMeeting || id == kCustomTaskTypeId;
}

void Store::set_duplicate_control(int64_t pipeline_id, bool enabled) {
  if (enabled) {
    duplicate_control_.insert(pipeline_id);
  } else {
    duplicate_control_.erase(pipeline_id);
  }
}

void Store::Reset() {
  leads_.clear();
  contacts_.clear();
  companies_.clear();
  deleted_leads_.clear();
  deleted_contacts_.clear();
  deleted_companies_.clear();
  notes_.clear();
  tasks_.clear();
  unsorted_.clear();
  lead_tags_.Clear();
  contact_tags_.Clear();
  company_tags_.Clear();
  next_lead_id_ = kFirstLeadId;
  next_contact_id_ = kFirstContactId;
  next_company_id_ = kFirstCompanyId;
  next_note_id_ = kFirstNoteId;
  next_task_id_ = kFirstTaskId;
  next_tag_id_ = kFirstTagId;
  next_unsorted_sequence_ = 1;
}

}  // namespace kommo::emulator
