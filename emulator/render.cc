#include "emulator/render.h"

#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "emulator/custom_fields.h"
#include "emulator/emulator.h"
#include "emulator/tags.h"
#include "emulator/text.h"

namespace kommo::emulator {
namespace {

void WriteRights(JsonWriter& w, const User& user) {
  const bool admin = user.is_admin;
  const char* level = admin ? "A" : "M";  // A: all, M: only their own (Kommo's letters)
  w.StartObject();
  for (const char* entity : {"leads", "contacts", "companies"}) {
    Key(w, entity);
    w.StartObject();
    for (const char* right : {"view", "edit", "add", "delete", "export"}) {
      Key(w, right);
      w.String(level);
    }
    w.EndObject();
  }
  Key(w, "tasks");
  w.StartObject();
  Key(w, "edit");
  w.String(level);
  Key(w, "delete");
  w.String(level);
  w.EndObject();
  Key(w, "mail_access");
  w.Bool(true);
  Key(w, "catalog_access");
  w.Bool(true);
  Key(w, "status_rights");
  w.StartArray();
  w.EndArray();
  Key(w, "is_admin");
  w.Bool(admin);
  Key(w, "is_free");
  w.Bool(false);
  Key(w, "is_active");
  w.Bool(true);
  Key(w, "group_id");
  w.Int64(user.group_id);
  Key(w, "role_id");
  w.Null();
  w.EndObject();
}

// "companies":[{id,_links}] (one or none).
void WriteCompanyLink(JsonWriter& w, const Store& store, const std::optional<int64_t>& company_id,
                      const Hrefs& hrefs) {
  Key(w, "companies");
  w.StartArray();
  if (company_id.has_value() && store.companies().count(*company_id) > 0) {
    w.StartObject();
    Key(w, "id");
    w.Int64(*company_id);
    WriteSelfLinks(w, absl::StrCat(hrefs.api_base, "/companies/", *company_id));
    w.EndObject();
  }
  w.EndArray();
}

}  // namespace

void WriteSelfLinks(JsonWriter& w, std::string_view href) {
  Key(w, "_links");
  w.StartObject();
  Key(w, "self");
  w.StartObject();
  Key(w, "href");
  Str(w, href);
  w.EndObject();
  w.EndObject();
}

void WriteLead(JsonWriter& w, const Store& store, const Lead& lead, const Hrefs& hrefs,
               bool with_contacts) {
  w.StartObject();
  Key(w, "id");
  w.Int64(lead.id);
  Key(w, "name");
  Str(w, lead.name);
  Key(w, "price");
  w.Int64(lead.price);
  Key(w, "responsible_user_id");
  w.Int64(lead.responsible_user_id);
  Key(w, "group_id");
  w.Int64(lead.group_id);
  Key(w, "status_id");
  w.Int64(lead.status_id);
  Key(w, "pipeline_id");
  w.Int64(lead.pipeline_id);
  Key(w, "loss_reason_id");
  w.Null();
  Key(w, "created_by");
  w.Int64(lead.created_by);
  Key(w, "updated_by");
  w.Int64(lead.updated_by);
  Key(w, "created_at");
  w.Int64(lead.created_at);
  Key(w, "updated_at");
  w.Int64(lead.updated_at);
  Key(w, "closed_at");
  if (lead.closed_at.has_value()) {
    w.Int64(*lead.closed_at);
  } else {
    w.Null();
  }
  Key(w, "closest_task_at");
  w.Null();
  Key(w, "is_deleted");
  w.Bool(false);
  WriteFieldValues(w, store.lead_fields(), lead.fields);
  Key(w, "score");
  w.Null();
  Key(w, "account_id");
  w.Int64(kAccountId);
  Key(w, "labor_cost");
  w.Null();
  Key(w, "is_price_computed");
  w.Bool(false);
  WriteSelfLinks(w, absl::StrCat(hrefs.api_base, "/leads/", lead.id, hrefs.entity_suffix));
  Key(w, "_embedded");
  w.StartObject();
  WriteTags(w, *store.TagsOf("leads"), lead.tags);
  WriteCompanyLink(w, store, lead.company_id, hrefs);
  if (with_contacts) {
    Key(w, "contacts");
    w.StartArray();
    for (const LeadContact& link : lead.contacts) {
      if (store.contacts().count(link.contact_id) == 0) continue;
      w.StartObject();
      Key(w, "id");
      w.Int64(link.contact_id);
      Key(w, "is_main");
      w.Bool(link.is_main);
      WriteSelfLinks(w, absl::StrCat(hrefs.api_base, "/contacts/", link.contact_id));
      w.EndObject();
    }
    w.EndArray();
  }
  w.EndObject();
  w.EndObject();
}

void WriteContact(JsonWriter& w, const Store& store, const Contact& contact, const Hrefs& hrefs,
                  bool with_leads) {
  w.StartObject();
  Key(w, "id");
  w.Int64(contact.id);
  Key(w, "name");
  Str(w, contact.name);
  Key(w, "first_name");
  Str(w, contact.first_name);
  Key(w, "last_name");
  Str(w, contact.last_name);
  Key(w, "responsible_user_id");
  w.Int64(contact.responsible_user_id);
  Key(w, "group_id");
  w.Int64(contact.group_id);
  Key(w, "created_by");
  w.Int64(contact.created_by);
  Key(w, "updated_by");
  w.Int64(contact.updated_by);
  Key(w, "created_at");
  w.Int64(contact.created_at);
  Key(w, "updated_at");
  w.Int64(contact.updated_at);
  Key(w, "closest_task_at");
  w.Null();
  Key(w, "is_deleted");
  w.Bool(false);
  Key(w, "is_unsorted");
  w.Bool(false);
  WriteFieldValues(w, store.contact_fields(), contact.fields);
  Key(w, "account_id");
  w.Int64(kAccountId);
  WriteSelfLinks(w, absl::StrCat(hrefs.api_base, "/contacts/", contact.id, hrefs.entity_suffix));
  Key(w, "_embedded");
  w.StartObject();
  WriteTags(w, *store.TagsOf("contacts"), contact.tags);
  WriteCompanyLink(w, store, contact.company_id, hrefs);
  if (with_leads) {
    Key(w, "leads");
    w.StartArray();
    for (const auto& [id, lead] : store.leads()) {
      for (const LeadContact& link : lead.contacts) {
        if (link.contact_id != contact.id) continue;
        w.StartObject();
        Key(w, "id");
        w.Int64(id);
        WriteSelfLinks(w, absl::StrCat(hrefs.api_base, "/leads/", id));
        w.EndObject();
        break;
      }
    }
    w.EndArray();
  }
  w.EndObject();
  w.EndObject();
}

void WriteCompany(JsonWriter& w, const Store& store, const Company& company, const Hrefs& hrefs,
                  bool with_contacts) {
  w.StartObject();
  Key(w, "id");
  w.Int64(company.id);
  Key(w, "name");
  Str(w, company.name);
  Key(w, "responsible_user_id");
  w.Int64(company.responsible_user_id);
  Key(w, "group_id");
  w.Int64(company.group_id);
  Key(w, "created_by");
  w.Int64(company.created_by);
  Key(w, "updated_by");
  w.Int64(company.updated_by);
  Key(w, "created_at");
  w.Int64(company.created_at);
  Key(w, "updated_at");
  w.Int64(company.updated_at);
  Key(w, "closest_task_at");
  w.Null();
  Key(w, "is_deleted");
  w.Bool(false);
  WriteFieldValues(w, store.company_fields(), company.fields);
  Key(w, "account_id");
  w.Int64(kAccountId);
  WriteSelfLinks(w, absl::StrCat(hrefs.api_base, "/companies/", company.id, hrefs.entity_suffix));
  Key(w, "_embedded");
  w.StartObject();
  WriteTags(w, *store.TagsOf("companies"), company.tags);
  if (with_contacts) {
    Key(w, "contacts");
    w.StartArray();
    for (const auto& [id, contact] : store.contacts()) {
      if (contact.company_id != company.id) continue;
      w.StartObject();
      Key(w, "id");
      w.Int64(id);
      WriteSelfLinks(w, absl::StrCat(hrefs.api_base, "/contacts/", id));
      w.EndObject();
    }
    w.EndArray();
  }
  w.EndObject();
  w.EndObject();
}

void WriteNote(JsonWriter& w, const Note& note, const Hrefs& hrefs) {
  w.StartObject();
  Key(w, "id");
  w.Int64(note.id);
  Key(w, "entity_id");
  w.Int64(note.entity_id);
  Key(w, "created_by");
  w.Int64(note.created_by);
  Key(w, "updated_by");
  w.Int64(note.updated_by);
  Key(w, "created_at");
  w.Int64(note.created_at);
  Key(w, "updated_at");
  w.Int64(note.updated_at);
  Key(w, "responsible_user_id");
  w.Int64(note.responsible_user_id);
  Key(w, "group_id");
  w.Int64(note.group_id);
  Key(w, "note_type");
  Str(w, note.note_type);
  Key(w, "params");
  w.RawValue(note.params_json.data(), note.params_json.size(), rapidjson::kObjectType);
  Key(w, "account_id");
  w.Int64(kAccountId);
  WriteSelfLinks(w, absl::StrCat(hrefs.api_base, "/", note.entity_type, "/", note.entity_id,
                                 "/notes/", note.id, hrefs.entity_suffix));
  w.EndObject();
}

void WriteTask(JsonWriter& w, const Task& task, const Hrefs& hrefs) {
  w.StartObject();
  Key(w, "id");
  w.Int64(task.id);
  Key(w, "created_by");
  w.Int64(task.created_by);
  Key(w, "updated_by");
  w.Int64(task.updated_by);
  Key(w, "created_at");
  w.Int64(task.created_at);
  Key(w, "updated_at");
  w.Int64(task.updated_at);
  Key(w, "responsible_user_id");
  w.Int64(task.responsible_user_id);
  Key(w, "group_id");
  w.Int64(task.group_id);
  Key(w, "entity_id");
  if (task.entity_type.empty()) {
    w.Null();
  } else {
    w.Int64(task.entity_id);
  }
  Key(w, "entity_type");
  if (task.entity_type.empty()) {
    w.Null();
  } else {
    Str(w, task.entity_type);
  }
  Key(w, "duration");
  w.Int64(task.duration);
  Key(w, "is_completed");
  w.Bool(task.is_completed);
  Key(w, "task_type_id");
  w.Int64(task.task_type_id);
  Key(w, "text");
  Str(w, task.text);
  Key(w, "result");
  if (task.result_text.has_value()) {
    w.StartObject();
    Key(w, "text");
    Str(w, *task.result_text);
    w.EndObject();
  } else {
    w.StartArray();  // PHP's empty array, as Kommo sends it
    w.EndArray();
  }
  Key(w, "complete_till");
  w.Int64(task.complete_till);
  Key(w, "account_id");
  w.Int64(kAccountId);
  WriteSelfLinks(w, absl::StrCat(hrefs.api_base, "/tasks/", task.id, hrefs.entity_suffix));
  w.EndObject();
}

void WriteStatus(JsonWriter& w, const PipelineStatus& status, int64_t pipeline_id,
                 const Hrefs& hrefs) {
  w.StartObject();
  Key(w, "id");
  w.Int64(status.id);
  Key(w, "name");
  Str(w, status.name);
  Key(w, "sort");
  w.Int(status.sort);
  Key(w, "is_editable");
  w.Bool(status.is_editable);
  Key(w, "pipeline_id");
  w.Int64(pipeline_id);
  Key(w, "color");
  Str(w, status.color);
  Key(w, "type");
  w.Int(status.type);
  Key(w, "account_id");
  w.Int64(kAccountId);
  WriteSelfLinks(
      w, absl::StrCat(hrefs.api_base, "/leads/pipelines/", pipeline_id, "/statuses/", status.id));
  w.EndObject();
}

void WritePipeline(JsonWriter& w, const Pipeline& pipeline, const Hrefs& hrefs) {
  w.StartObject();
  Key(w, "id");
  w.Int64(pipeline.id);
  Key(w, "name");
  Str(w, pipeline.name);
  Key(w, "sort");
  w.Int(pipeline.sort);
  Key(w, "is_main");
  w.Bool(pipeline.is_main);
  Key(w, "is_unsorted_on");
  w.Bool(true);
  Key(w, "is_archive");
  w.Bool(false);
  Key(w, "account_id");
  w.Int64(kAccountId);
  WriteSelfLinks(w, absl::StrCat(hrefs.api_base, "/leads/pipelines/", pipeline.id));
  Key(w, "_embedded");
  w.StartObject();
  Key(w, "statuses");
  w.StartArray();
  for (const PipelineStatus& status : pipeline.statuses) {
    WriteStatus(w, status, pipeline.id, hrefs);
  }
  w.EndArray();
  w.EndObject();
  w.EndObject();
}

void WriteUser(JsonWriter& w, const User& user, const Hrefs& hrefs) {
  w.StartObject();
  Key(w, "id");
  w.Int64(user.id);
  Key(w, "name");
  Str(w, user.name);
  Key(w, "email");
  Str(w, user.email);
  Key(w, "lang");
  w.String("en");
  Key(w, "rights");
  WriteRights(w, user);
  WriteSelfLinks(w, absl::StrCat(hrefs.api_base, "/users/", user.id));
  w.EndObject();
}

void WriteCustomField(JsonWriter& w, const CustomField& field, std::string_view entity_type,
                      const Hrefs& hrefs) {
  w.StartObject();
  Key(w, "id");
  w.Int64(field.id);
  Key(w, "name");
  Str(w, field.name);
  Key(w, "type");
  Str(w, field.type);
  Key(w, "account_id");
  w.Int64(kAccountId);
  Key(w, "code");
  if (field.code.empty()) {
    w.Null();  // fields made in Kommo's settings have no code
  } else {
    Str(w, field.code);
  }
  Key(w, "sort");
  w.Int(field.sort);
  Key(w, "is_api_only");
  w.Bool(false);
  Key(w, "enums");
  if (field.enums.empty()) {
    w.Null();  // Kommo sends null, not [], for a field without choices
  } else {
    w.StartArray();
    for (const FieldEnum& e : field.enums) {
      w.StartObject();
      Key(w, "id");
      w.Int64(e.id);
      Key(w, "value");
      Str(w, e.value);
      Key(w, "sort");
      w.Int(e.sort);
      w.EndObject();
    }
    w.EndArray();
  }
  Key(w, "group_id");
  w.Null();
  Key(w, "required_statuses");
  w.StartArray();
  w.EndArray();
  Key(w, "is_deletable");
  w.Bool(field.code.empty());
  Key(w, "is_predefined");
  w.Bool(!field.code.empty());
  Key(w, "entity_type");
  Str(w, entity_type);
  Key(w, "remind");
  w.Null();
  WriteSelfLinks(
      w, absl::StrCat(hrefs.api_base, "/", AsAbsl(entity_type), "/custom_fields/", field.id));
  w.EndObject();
}

void WriteLossReason(JsonWriter& w, const LossReason& reason, const Hrefs& hrefs) {
  w.StartObject();
  Key(w, "id");
  w.Int64(reason.id);
  Key(w, "name");
  Str(w, reason.name);
  Key(w, "sort");
  w.Int(reason.sort);
  Key(w, "created_at");
  w.Int64(kAccountCreatedAt);
  Key(w, "updated_at");
  w.Int64(kAccountCreatedAt);
  WriteSelfLinks(w, absl::StrCat(hrefs.api_base, "/leads/loss_reasons/", reason.id));
  w.EndObject();
}

}  // namespace kommo::emulator
