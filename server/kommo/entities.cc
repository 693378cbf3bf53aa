#include "server/kommo/entities.h"

#include <algorithm>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/types/span.h"
#include "server/common/error_details.h"
#include "server/mapping/account_json.h"
#include "server/mapping/company_json.h"
#include "server/mapping/kommo_json.h"

namespace kommo::rest {

using kommo::v1::Contact;
using kommo::v1::Lead;

namespace {

// A mapping's page (LeadPage, ContactPage) as the generic EntityPage: `Items` names its list.
template <typename Entity, typename Page, std::vector<Entity> Page::*Items,
          absl::StatusOr<Page> (*Parse)(absl::string_view)>
absl::StatusOr<EntityPage<Entity>> PageFrom(absl::string_view body) {
  absl::StatusOr<Page> page = Parse(body);
  if (!page.ok()) return page.status();
  return EntityPage<Entity>{std::move((*page).*Items), page->has_next};
}

// A batch body builder from a mapping's item type and body function.
template <typename Request, typename Item, std::string (*Body)(absl::Span<const Item>)>
std::string BatchBody(const std::vector<std::pair<std::string, const Request*>>& items) {
  std::vector<Item> batch;
  batch.reserve(items.size());
  for (const auto& [id, request] : items) batch.push_back({id, request});
  return Body(batch);
}

}  // namespace

const EntityDescription<Lead>& LeadEntity() {
  static const auto* const kLead = new EntityDescription<Lead>{
      "lead",
      "leads",
      "contacts",
      reason::kLeadNotFound,
      &mapping::ParseLead,
      &PageFrom<Lead, mapping::LeadPage, &mapping::LeadPage::leads, &mapping::ParseLeadPage>};
  return *kLead;
}

const EntityDescription<Contact>& ContactEntity() {
  static const auto* const kContact = new EntityDescription<Contact>{
      "contact",
      "contacts",
      "",
      reason::kContactNotFound,
      &mapping::ParseContact,
      &PageFrom<Contact, mapping::ContactPage, &mapping::ContactPage::contacts,
                &mapping::ParseContactPage>};
  return *kContact;
}

WriteDescription<v1::CreateLeadRequest, Lead> LeadCreate() {
  WriteDescription<v1::CreateLeadRequest, Lead> write;
  write.method = http::Method::kPost;
  write.kind = RequestKind::kCreate;
  write.what = "POST /leads";
  write.body =
      &BatchBody<v1::CreateLeadRequest, mapping::LeadCreateItem, &mapping::LeadsCreateBody>;
  write.field = [](absl::string_view path, const v1::CreateLeadRequest&) {
    return mapping::LeadFieldFromKommoPath(path);
  };
  // Kommo names an unnamed lead itself, so any lead could be an unnamed request's.
  write.could_be = [](const Lead& lead, const v1::CreateLeadRequest& request) {
    return request.name().empty() || lead.name() == request.name();
  };
  write.unread = &IdOnlyAnswer<v1::CreateLeadRequest, Lead>;
  return write;
}

WriteDescription<v1::UpdateLeadRequest, Lead> LeadUpdate() {
  WriteDescription<v1::UpdateLeadRequest, Lead> write;
  write.method = http::Method::kPatch;
  write.kind = RequestKind::kUpdate;
  write.what = "PATCH /leads";
  write.target = [](const v1::UpdateLeadRequest& request) { return request.lead_id(); };
  write.body =
      &BatchBody<v1::UpdateLeadRequest, mapping::LeadUpdateItem, &mapping::LeadsUpdateBody>;
  write.field = [](absl::string_view path, const v1::UpdateLeadRequest&) {
    return mapping::LeadFieldFromKommoPath(path);
  };
  write.unread = &IdOnlyAnswer<v1::UpdateLeadRequest, Lead>;
  return write;
}

WriteDescription<v1::CreateContactRequest, Contact> ContactCreate() {
  WriteDescription<v1::CreateContactRequest, Contact> write;
  write.method = http::Method::kPost;
  write.kind = RequestKind::kCreate;
  write.what = "POST /contacts";
  write.body = &BatchBody<v1::CreateContactRequest, mapping::ContactCreateItem,
                          &mapping::ContactsCreateBody>;
  write.field = [](absl::string_view path, const v1::CreateContactRequest& request) {
    return mapping::ContactFieldFromKommoPath(path, request);
  };
  write.could_be = [](const Contact& contact, const v1::CreateContactRequest& request) {
    return request.name().empty() || contact.name() == request.name();
  };
  write.unread = &IdOnlyAnswer<v1::CreateContactRequest, Contact>;
  return write;
}

}  // namespace kommo::rest

namespace kommo::rest {

using v1::CreateLeadWithContactResponse;
using v1::DeclineIncomingLeadResponse;
using v1::EntityType;
using v1::IncomingLead;
using v1::Note;

namespace {

// Kommo's limit of leads per complex request.
constexpr int kMaxComplexItems = 50;

// Orders writes to one incoming lead: its uid as a (nonzero) target.
int64_t UidTarget(const std::string& uid) {
  const uint64_t hash = std::hash<std::string>()(uid) & 0x3fffffffffffffffULL;
  return static_cast<int64_t>(hash) + 1;
}

// The answer of an action on one incoming lead, for the one item it carried.
absl::StatusOr<WrittenItems> ActionAnswer(absl::string_view body,
                                          const std::vector<std::string>& request_ids) {
  absl::StatusOr<mapping::UnsortedResult> result = mapping::ParseUnsortedActionAnswer(body);
  if (!result.ok()) return result.status();
  WrittenItems written;
  if (!request_ids.empty()) {
    written[request_ids.front()] =
        Written{result->lead_id, result->uid, result->contact_id, false, {}};
  }
  return written;
}

absl::string_view NotFoundReasonOf(EntityType type) {
  switch (type) {
    case v1::ENTITY_TYPE_LEAD:
      return reason::kLeadNotFound;
    case v1::ENTITY_TYPE_CONTACT:
      return reason::kContactNotFound;
    case v1::ENTITY_TYPE_COMPANY:
      return reason::kCompanyNotFound;
    default:
      return reason::kNotFound;
  }
}

std::string SingularOf(EntityType type) {
  switch (type) {
    case v1::ENTITY_TYPE_LEAD:
      return "lead";
    case v1::ENTITY_TYPE_CONTACT:
      return "contact";
    case v1::ENTITY_TYPE_COMPANY:
      return "company";
    default:
      return "entity";
  }
}

}  // namespace

bool OnlyWriteDetermined(const google::protobuf::FieldMask& mask) {
  return OnlyWriteDetermined(mask, {"id"});
}

bool OnlyWriteDetermined(const google::protobuf::FieldMask& mask,
                         std::initializer_list<absl::string_view> determined) {
  if (mask.paths().empty()) return false;
  for (const std::string& path : mask.paths()) {
    if (std::find(determined.begin(), determined.end(), path) == determined.end()) return false;
  }
  return true;
}

absl::string_view CollectionOf(EntityType type) {
  switch (type) {
    case v1::ENTITY_TYPE_LEAD:
      return "leads";
    case v1::ENTITY_TYPE_CONTACT:
      return "contacts";
    case v1::ENTITY_TYPE_COMPANY:
      return "companies";
    default:
      return "";
  }
}

const EntityDescription<CreateLeadWithContactResponse>& LeadWithContactEntity() {
  // Listed as leads (what was created since a rejected batch is read as its leads).
  static const auto* const kEntity = new EntityDescription<CreateLeadWithContactResponse>{
      "lead",
      "leads",
      "contacts",
      reason::kLeadNotFound,
      nullptr,
      [](absl::string_view body) -> absl::StatusOr<EntityPage<CreateLeadWithContactResponse>> {
        absl::StatusOr<mapping::LeadPage> page = mapping::ParseLeadPage(body);
        if (!page.ok()) return page.status();
        EntityPage<CreateLeadWithContactResponse> out;
        out.has_next = page->has_next;
        for (Lead& lead : page->leads) *out.items.emplace_back().mutable_lead() = std::move(lead);
        return out;
      }};
  return *kEntity;
}

const EntityDescription<IncomingLead>& IncomingLeadEntity() {
  static const auto* const kEntity = new EntityDescription<IncomingLead>{
      "incoming_lead",
      "leads/unsorted",
      "",
      reason::kIncomingLeadNotFound,
      nullptr,
      [](absl::string_view body) -> absl::StatusOr<EntityPage<IncomingLead>> {
        absl::StatusOr<mapping::IncomingLeadPage> page = mapping::ParseIncomingLeadPage(body);
        if (!page.ok()) return page.status();
        return EntityPage<IncomingLead>{std::move(page->incoming_leads), page->has_next};
      }};
  return *kEntity;
}

const EntityDescription<DeclineIncomingLeadResponse>& DeclinedIncomingLeadEntity() {
  static const auto* const kEntity = new EntityDescription<DeclineIncomingLeadResponse>{
      "incoming_lead", "leads/unsorted", "", reason::kIncomingLeadNotFound, nullptr, nullptr};
  return *kEntity;
}

const EntityDescription<Note>& NoteEntity(EntityType type) {
  static const auto* const kNotes = [] {
    auto* notes = new std::map<EntityType, EntityDescription<Note>>();
    for (EntityType each :
         {v1::ENTITY_TYPE_LEAD, v1::ENTITY_TYPE_CONTACT, v1::ENTITY_TYPE_COMPANY}) {
      notes->emplace(
          each, EntityDescription<Note>{
                    "note", absl::StrCat(CollectionOf(each), "/notes"), "", reason::kNotFound,
                    nullptr, [each](absl::string_view body) -> absl::StatusOr<EntityPage<Note>> {
                      absl::StatusOr<mapping::NotePage> page = mapping::ParseNotePage(body, each);
                      if (!page.ok()) return page.status();
                      return EntityPage<Note>{std::move(page->notes), page->has_next};
                    }});
    }
    return notes;
  }();
  auto it = kNotes->find(type);
  return it != kNotes->end() ? it->second : kNotes->at(v1::ENTITY_TYPE_LEAD);
}

WriteDescription<v1::UpdateContactRequest, Contact> ContactUpdate() {
  WriteDescription<v1::UpdateContactRequest, Contact> write;
  write.method = http::Method::kPatch;
  write.kind = RequestKind::kUpdate;
  write.what = "PATCH /contacts";
  // Writes to one contact go one at a time, in order.
  write.target = [](const v1::UpdateContactRequest& request) { return request.contact_id(); };
  write.body = &BatchBody<v1::UpdateContactRequest, mapping::ContactUpdateItem,
                          &mapping::ContactsUpdateBody>;
  write.field = [](absl::string_view path, const v1::UpdateContactRequest& request) {
    return mapping::ContactUpdateFieldFromKommoPath(path, request);
  };
  write.unread = &IdOnlyAnswer<v1::UpdateContactRequest, Contact>;
  return write;
}

WriteDescription<v1::CreateLeadWithContactRequest, CreateLeadWithContactResponse>
LeadWithContactCreate() {
  WriteDescription<v1::CreateLeadWithContactRequest, CreateLeadWithContactResponse> write;
  write.method = http::Method::kPost;
  write.kind = RequestKind::kCreate;
  write.what = "POST /leads/complex";
  write.path = "/leads/complex";
  write.max_items = kMaxComplexItems;
  write.body = &BatchBody<v1::CreateLeadWithContactRequest, mapping::LeadWithContactItem,
                          &mapping::LeadsComplexBody>;
  write.answer = [](absl::string_view body,
                    const std::vector<std::string>&) -> absl::StatusOr<WrittenItems> {
    absl::StatusOr<std::map<std::string, mapping::ComplexResult>> results =
        mapping::ParseComplexAnswer(body);
    if (!results.ok()) return results.status();
    WrittenItems written;
    for (const auto& [request_id, result] : *results) {
      written[request_id] = Written{result.lead_id, "", result.contact_id, result.merged, {}};
    }
    return written;
  };
  write.field = [](absl::string_view path, const v1::CreateLeadWithContactRequest& request) {
    return mapping::LeadWithContactFieldFromKommoPath(path, request);
  };
  // After a rejection, a lead created since with this item's name could be its own.
  write.could_be = [](const CreateLeadWithContactResponse& created,
                      const v1::CreateLeadWithContactRequest& request) {
    return created.lead().name() == request.name();
  };
  // Kommo's answer names the lead, the contact (the existing one when merged) and the merge.
  write.unread = [](const v1::CreateLeadWithContactRequest& request,
                    const Written& written) -> std::optional<CreateLeadWithContactResponse> {
    if (!OnlyWriteDetermined(request.read_mask(), {"lead.id", "contact.id", "contact_merged"})) {
      return std::nullopt;
    }
    CreateLeadWithContactResponse response;
    response.mutable_lead()->set_id(written.id);
    // A contact Kommo names no id for is not read back either (ReadBackLeadWithContact).
    if (written.contact_id != 0) response.mutable_contact()->set_id(written.contact_id);
    response.set_contact_merged(written.merged);
    return response;
  };
  return write;
}

WriteDescription<v1::CreateIncomingLeadRequest, IncomingLead> IncomingLeadCreate() {
  WriteDescription<v1::CreateIncomingLeadRequest, IncomingLead> write;
  write.method = http::Method::kPost;
  write.kind = RequestKind::kCreate;
  write.what = "POST /leads/unsorted/forms";
  write.path = "/leads/unsorted/forms";
  write.max_items = kMaxComplexItems;
  write.body =
      [](const std::vector<std::pair<std::string, const v1::CreateIncomingLeadRequest*>>& items) {
        const int64_t now = absl::ToUnixSeconds(absl::Now());
        std::vector<mapping::IncomingLeadItem> batch;
        batch.reserve(items.size());
        for (const auto& [id, request] : items) batch.push_back({id, request, now});
        return mapping::UnsortedFormsBody(batch);
      };
  write.answer = [](absl::string_view body,
                    const std::vector<std::string>&) -> absl::StatusOr<WrittenItems> {
    absl::StatusOr<std::map<std::string, mapping::UnsortedResult>> results =
        mapping::ParseUnsortedAnswer(body);
    if (!results.ok()) return results.status();
    WrittenItems written;
    for (const auto& [request_id, result] : *results) {
      written[request_id] = Written{result.lead_id, result.uid, result.contact_id, false, {}};
    }
    return written;
  };
  write.field = [](absl::string_view path, const v1::CreateIncomingLeadRequest& request) {
    return mapping::IncomingLeadFieldFromKommoPath(path, request);
  };
  // Kommo's answer names the incoming lead's uid and the lead and contact it created.
  write.unread = [](const v1::CreateIncomingLeadRequest& request,
                    const Written& written) -> std::optional<IncomingLead> {
    if (!OnlyWriteDetermined(request.read_mask(), {"uid", "lead_id", "contact_id"})) {
      return std::nullopt;
    }
    IncomingLead incoming;
    incoming.set_uid(written.uid);
    incoming.set_lead_id(written.id);
    incoming.set_contact_id(written.contact_id);
    return incoming;
  };
  return write;
}

WriteDescription<v1::AcceptIncomingLeadRequest, Lead> IncomingLeadAccept() {
  WriteDescription<v1::AcceptIncomingLeadRequest, Lead> write;
  write.method = http::Method::kPost;
  write.kind = RequestKind::kAction;
  write.what = "POST /leads/unsorted/{uid}/accept";
  write.path_of = [](const v1::AcceptIncomingLeadRequest& request) {
    return absl::StrCat("/leads/unsorted/", request.uid(), "/accept");
  };
  write.not_found_reason = reason::kIncomingLeadNotFound;
  write.target = [](const v1::AcceptIncomingLeadRequest& request) {
    return UidTarget(request.uid());
  };
  write.body =
      [](const std::vector<std::pair<std::string, const v1::AcceptIncomingLeadRequest*>>& items) {
        return mapping::AcceptBody(*items.front().second);
      };
  write.answer = &ActionAnswer;
  write.field = [](absl::string_view path, const v1::AcceptIncomingLeadRequest&) {
    return std::string(path);
  };
  // Kommo's answer names the accepted lead by id (_embedded.leads[0].id), nothing else of it.
  write.unread = &IdOnlyAnswer<v1::AcceptIncomingLeadRequest, Lead>;
  return write;
}

WriteDescription<v1::DeclineIncomingLeadRequest, DeclineIncomingLeadResponse>
IncomingLeadDecline() {
  WriteDescription<v1::DeclineIncomingLeadRequest, DeclineIncomingLeadResponse> write;
  write.method = http::Method::kPost;
  write.kind = RequestKind::kAction;
  write.what = "POST /leads/unsorted/{uid}/decline";
  write.path_of = [](const v1::DeclineIncomingLeadRequest& request) {
    return absl::StrCat("/leads/unsorted/", request.uid(), "/decline");
  };
  write.not_found_reason = reason::kIncomingLeadNotFound;
  write.target = [](const v1::DeclineIncomingLeadRequest& request) {
    return UidTarget(request.uid());
  };
  write.body =
      [](const std::vector<std::pair<std::string, const v1::DeclineIncomingLeadRequest*>>& items) {
        return mapping::DeclineBody(*items.front().second);
      };
  write.answer = &ActionAnswer;
  write.field = [](absl::string_view path, const v1::DeclineIncomingLeadRequest&) {
    return std::string(path);
  };
  return write;
}

WriteDescription<v1::AddNoteRequest, Note> NoteCreate(EntityType type) {
  WriteDescription<v1::AddNoteRequest, Note> write;
  write.method = http::Method::kPost;
  write.kind = RequestKind::kCreate;
  write.what = absl::StrCat("POST /", CollectionOf(type), "/notes");
  write.body = &BatchBody<v1::AddNoteRequest, mapping::NoteCreateItem, &mapping::NotesCreateBody>;
  write.answer = [](absl::string_view body,
                    const std::vector<std::string>&) -> absl::StatusOr<WrittenItems> {
    absl::StatusOr<std::map<std::string, int64_t>> ids = mapping::ParseCreatedIds(body, "notes");
    if (!ids.ok()) return ids.status();
    WrittenItems written;
    for (const auto& [request_id, id] : *ids) written[request_id].id = id;
    return written;
  };
  write.field = [](absl::string_view path, const v1::AddNoteRequest&) {
    return mapping::NoteFieldFromKommoPath(path);
  };
  write.missing = [type](const mapping::ValidationError& error,
                         const v1::AddNoteRequest& request) -> std::optional<absl::Status> {
    if (error.path != "entity_id" || error.code != "NotFound") return std::nullopt;
    ErrorContext context;
    context.kind = RequestKind::kRead;
    context.not_found_reason = NotFoundReasonOf(type);
    context.entity = SingularOf(type);
    context.entity_id = request.entity_id();
    return EntityNotFound(context);
  };
  // Notes have no created_at filter; one created since has been changed since.
  write.created_since_filter = "filter[updated_at][from]";
  write.could_be = [](const Note& note, const v1::AddNoteRequest& request) {
    return note.entity_id() == request.entity_id() && note.text() == request.text();
  };
  write.unread = &IdOnlyAnswer<v1::AddNoteRequest, Note>;
  return write;
}

// ---- tasks ------------------------------------------------------------------------------------

const EntityDescription<v1::Task>& TaskEntity() {
  static const auto* const kTask = new EntityDescription<v1::Task>{
      "task",
      "tasks",
      "",
      reason::kTaskNotFound,
      &mapping::ParseTask,
      &PageFrom<v1::Task, mapping::TaskPage, &mapping::TaskPage::tasks, &mapping::ParseTaskPage>};
  return *kTask;
}

const EntityDescription<mapping::KommoEvent>& EventEntity() {
  static const auto* const kEvent = new EntityDescription<mapping::KommoEvent>{
      "event",
      "events",
      "",
      "",
      [](absl::string_view) -> absl::StatusOr<mapping::KommoEvent> {
        return absl::UnimplementedError("events are only listed");
      },
      &PageFrom<mapping::KommoEvent, mapping::EventPage, &mapping::EventPage::events,
                &mapping::ParseEventPage>};
  return *kEvent;
}

WriteDescription<v1::CreateTaskRequest, v1::Task> TaskCreate() {
  WriteDescription<v1::CreateTaskRequest, v1::Task> write;
  write.method = http::Method::kPost;
  write.kind = RequestKind::kCreate;
  write.what = "POST /tasks";
  write.body =
      &BatchBody<v1::CreateTaskRequest, mapping::TaskCreateItem, &mapping::TasksCreateBody>;
  write.field = [](absl::string_view path, const v1::CreateTaskRequest&) {
    return mapping::TaskFieldFromKommoPath(path);
  };
  // The entity a task goes on does not exist: NOT_FOUND with that entity's reason.
  write.missing = [](const mapping::ValidationError& error,
                     const v1::CreateTaskRequest& request) -> std::optional<absl::Status> {
    if (error.path != "entity_id" || error.code != "NotFound") return std::nullopt;
    ErrorContext context;
    context.kind = RequestKind::kRead;
    context.not_found_reason = NotFoundReasonOf(request.entity_type());
    context.entity = SingularOf(request.entity_type());
    context.entity_id = request.entity_id();
    return EntityNotFound(context);
  };
  // Kommo documents no created_at filter for tasks; one created since has been changed since.
  write.created_since_filter = "filter[updated_at][from]";
  write.could_be = [](const v1::Task& task, const v1::CreateTaskRequest& request) {
    return task.text() == request.text() && task.entity_type() == request.entity_type() &&
           task.entity_id() == request.entity_id() &&
           task.due_at().seconds() == request.due_at().seconds();
  };
  write.unread = &IdOnlyAnswer<v1::CreateTaskRequest, v1::Task>;
  return write;
}

WriteDescription<v1::CompleteTaskRequest, v1::Task> TaskComplete() {
  WriteDescription<v1::CompleteTaskRequest, v1::Task> write;
  write.method = http::Method::kPatch;
  write.kind = RequestKind::kUpdate;
  write.what = "PATCH /tasks";
  // Writes to one task go one at a time, in order: a repeated PATCH never lands after a newer one.
  write.target = [](const v1::CompleteTaskRequest& request) { return request.task_id(); };
  write.body =
      &BatchBody<v1::CompleteTaskRequest, mapping::TaskCompleteItem, &mapping::TasksCompleteBody>;
  write.field = [](absl::string_view path, const v1::CompleteTaskRequest&) {
    return mapping::TaskFieldFromKommoPath(path);
  };
  write.unread = &IdOnlyAnswer<v1::CompleteTaskRequest, v1::Task>;
  return write;
}

}  // namespace kommo::rest

namespace kommo::rest {
namespace {

// A catalogue page of the mapping as the generic EntityPage.
template <typename Item>
absl::StatusOr<EntityPage<Item>> AsEntityPage(absl::StatusOr<mapping::CataloguePage<Item>> page) {
  if (!page.ok()) return page.status();
  return EntityPage<Item>{std::move(page->items), page->has_next};
}

}  // namespace

const EntityDescription<v1::Account>& AccountEntity() {
  static const auto* const kEntity = new EntityDescription<v1::Account>{
      "account", "account", mapping::kAccountWith, reason::kNotFound, &mapping::ParseAccount,
      nullptr};
  return *kEntity;
}

const EntityDescription<v1::Pipeline>& PipelineEntity() {
  static const auto* const kEntity =
      new EntityDescription<v1::Pipeline>{"pipeline",
                                          "leads/pipelines",
                                          "",
                                          reason::kNotFound,
                                          nullptr,
                                          [](absl::string_view body) { return AsEntityPage(mapping::ParsePipelinePage(body)); }};
  return *kEntity;
}

const EntityDescription<v1::User>& UserEntity() {
  static const auto* const kEntity = new EntityDescription<v1::User>{
      "user",  "users",
      "",      reason::kNotFound,
      nullptr, [](absl::string_view body) { return AsEntityPage(mapping::ParseUserPage(body)); }};
  return *kEntity;
}

const EntityDescription<v1::CustomField>& CustomFieldEntity(EntityType type) {
  static const auto* const kFields = [] {
    auto* fields = new std::map<EntityType, EntityDescription<v1::CustomField>>();
    for (EntityType each :
         {v1::ENTITY_TYPE_LEAD, v1::ENTITY_TYPE_CONTACT, v1::ENTITY_TYPE_COMPANY}) {
      fields->emplace(each, EntityDescription<v1::CustomField>{
                                "custom_field", absl::StrCat(CollectionOf(each), "/custom_fields"),
                                "", reason::kNotFound, nullptr, [each](absl::string_view body) {
                                  return AsEntityPage(mapping::ParseCustomFieldPage(body, each));
                                }});
    }
    return fields;
  }();
  auto it = kFields->find(type);
  return it != kFields->end() ? it->second : kFields->at(v1::ENTITY_TYPE_LEAD);
}

const EntityDescription<v1::LossReason>& LossReasonEntity() {
  static const auto* const kEntity = new EntityDescription<v1::LossReason>{
      "loss_reason",
      "leads/loss_reasons",
      "",
      reason::kNotFound,
      nullptr,
      [](absl::string_view body) { return AsEntityPage(mapping::ParseLossReasonPage(body)); }};
  return *kEntity;
}

}  // namespace kommo::rest

// ---- companies and links ----------------------------------------------------------------------

namespace kommo::rest {

const EntityDescription<v1::Company>& CompanyEntity() {
  static const auto* const kCompany = new EntityDescription<v1::Company>{
      "company",
      "companies",
      "",
      reason::kCompanyNotFound,
      &mapping::ParseCompany,
      &PageFrom<v1::Company, mapping::CompanyPage, &mapping::CompanyPage::companies,
                &mapping::ParseCompanyPage>};
  return *kCompany;
}

WriteDescription<v1::CreateCompanyRequest, v1::Company> CompanyCreate() {
  WriteDescription<v1::CreateCompanyRequest, v1::Company> write;
  write.method = http::Method::kPost;
  write.kind = RequestKind::kCreate;
  write.what = "POST /companies";
  write.body = &BatchBody<v1::CreateCompanyRequest, mapping::CompanyCreateItem,
                          &mapping::CompaniesCreateBody>;
  write.field = [](absl::string_view path, const v1::CreateCompanyRequest&) {
    return mapping::CompanyFieldFromKommoPath(path);
  };
  write.could_be = [](const v1::Company& company, const v1::CreateCompanyRequest& request) {
    return company.name() == request.name();
  };
  write.unread = &IdOnlyAnswer<v1::CreateCompanyRequest, v1::Company>;
  return write;
}

WriteDescription<v1::UpdateCompanyRequest, v1::Company> CompanyUpdate() {
  WriteDescription<v1::UpdateCompanyRequest, v1::Company> write;
  write.method = http::Method::kPatch;
  write.kind = RequestKind::kUpdate;
  write.what = "PATCH /companies";
  write.target = [](const v1::UpdateCompanyRequest& request) { return request.company_id(); };
  write.body = &BatchBody<v1::UpdateCompanyRequest, mapping::CompanyUpdateItem,
                          &mapping::CompaniesUpdateBody>;
  write.field = [](absl::string_view path, const v1::UpdateCompanyRequest&) {
    return mapping::CompanyFieldFromKommoPath(path);
  };
  write.unread = &IdOnlyAnswer<v1::UpdateCompanyRequest, v1::Company>;
  return write;
}

const EntityDescription<v1::Link>& LinkEntity(EntityType type) {
  static const auto* const kLinks = [] {
    auto* links = new std::map<EntityType, EntityDescription<v1::Link>>();
    for (EntityType each :
         {v1::ENTITY_TYPE_LEAD, v1::ENTITY_TYPE_CONTACT, v1::ENTITY_TYPE_COMPANY}) {
      links->emplace(
          each, EntityDescription<v1::Link>{SingularOf(each), std::string(CollectionOf(each)), "",
                                            NotFoundReasonOf(each), nullptr, nullptr});
    }
    return links;
  }();
  auto it = kLinks->find(type);
  return it != kLinks->end() ? it->second : kLinks->at(v1::ENTITY_TYPE_LEAD);
}

WriteDescription<mapping::LinkChange, v1::Link> LinkWrite(EntityType type) {
  WriteDescription<mapping::LinkChange, v1::Link> write;
  write.method = http::Method::kPost;
  // Linking or unlinking again leaves the same links: safe to repeat, like a PATCH.
  write.kind = RequestKind::kUpdate;
  write.what = absl::StrCat("POST /", CollectionOf(type), "/{id}/link");
  write.path_of = [](const mapping::LinkChange& change) {
    return absl::StrCat("/", CollectionOf(change.entity_type), "/", change.entity_id,
                        change.unlink ? "/unlink" : "/link");
  };
  write.target = [](const mapping::LinkChange& change) { return change.entity_id; };
  write.no_content_answer = true;
  write.body = [](const std::vector<std::pair<std::string, const mapping::LinkChange*>>& items) {
    return mapping::LinkBody(*items.front().second);
  };
  // One change a request: the answer's first link (none for an unlink) is the item's.
  write.answer = [type](
                     absl::string_view body,
                     const std::vector<std::string>& request_ids) -> absl::StatusOr<WrittenItems> {
    WrittenItems written;
    if (request_ids.empty()) return written;
    Written& item = written[request_ids.front()];
    if (body.empty()) return written;
    // The entity id is not known here; ParseLinks checks the items name this side's type.
    absl::StatusOr<std::vector<v1::Link>> links = mapping::ParseLinks(body, type, 0);
    if (!links.ok()) return links.status();
    if (!links->empty()) item.link = links->front();
    return written;
  };
  write.field = [](absl::string_view path, const mapping::LinkChange&) {
    // Kommo's paths of one link item ("0.to_entity_id" or "to_entity_id").
    const size_t dot = path.rfind('.');
    return std::string(dot == absl::string_view::npos ? path : path.substr(dot + 1));
  };
  // Kommo refuses an unknown entity on the other side as a validation error of to_entity_id.
  write.missing = [](const mapping::ValidationError& error,
                     const mapping::LinkChange& change) -> std::optional<absl::Status> {
    if (!absl::EndsWith(error.path, "to_entity_id") ||
        (error.code != "NotFound" && error.code != "NotSupportedChoice")) {
      return std::nullopt;
    }
    ErrorContext context;
    context.kind = RequestKind::kRead;
    context.not_found_reason = NotFoundReasonOf(change.to_entity_type);
    context.entity = SingularOf(change.to_entity_type);
    context.entity_id = change.to_entity_id;
    return EntityNotFound(context);
  };
  return write;
}

}  // namespace kommo::rest
