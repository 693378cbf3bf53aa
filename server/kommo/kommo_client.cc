#include "server/kommo/kommo_client.h"

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/common/error_details.h"
#include "server/kommo/catalogue.h"
#include "server/kommo/contact_finder.h"
#include "server/kommo/entities.h"
#include "server/kommo/error_table.h"
#include "server/kommo/read_backs.h"
#include "server/kommo/requester.h"
#include "server/kommo/shared_reads.h"
#include "server/kommo/waiter.h"
#include "server/kommo/write_batcher.h"
#include "server/kommo/write_check.h"

namespace kommo::rest {
namespace {

using kommo::v1::Contact;
using kommo::v1::CreateLeadWithContactResponse;
using kommo::v1::DeclineIncomingLeadResponse;
using kommo::v1::IncomingLead;
using kommo::v1::Lead;
using kommo::v1::Note;

// Most ids one list request reads back (Kommo's page limit).
constexpr int kMaxIdsPerList = 250;
// Most pages one catalogue is read in (250 items each): a `next` link beyond that is taken for a
// malformed answer rather than followed for ever.
constexpr int64_t kMaxCataloguePages = 40;

// The operations, as short adapters over the generic machinery: shared reads for GETs, one
// batcher per kind of write, and read-backs of what was written.
class KommoClientImpl final : public KommoClient {
 public:
  KommoClientImpl(KommoClientOptions options, http::HttpTransport* transport, EventLoop* loop)
      : options_(std::move(options)),
        loop_(loop),
        requester_(options_, transport, loop),
        lead_read_backs_(LeadEntity(), &requester_, loop, ReadBackOptions()),
        contact_read_backs_(ContactEntity(), &requester_, loop, ReadBackOptions()),
        task_read_backs_(TaskEntity(), &requester_, loop, ReadBackOptions()),
        company_read_backs_(CompanyEntity(), &requester_, loop, ReadBackOptions()),
        lead_reads_(&requester_, loop),
        lead_lists_(&requester_, loop),
        contact_reads_(&requester_, loop),
        contact_lists_(&requester_, loop),
        lead_creates_(LeadEntity(), LeadCreate(), BatcherOptions(), &requester_, loop,
                      lead_read_backs_.Callback()),
        lead_updates_(LeadEntity(), LeadUpdate(), BatcherOptions(), &requester_, loop,
                      lead_read_backs_.Callback()),
        contact_creates_(ContactEntity(), ContactCreate(), BatcherOptions(), &requester_, loop,
                         contact_read_backs_.Callback()),
        incoming_lists_(&requester_, loop),
        note_lists_(&requester_, loop),
        contact_updates_(ContactEntity(), ContactUpdate(), BatcherOptions(), &requester_, loop,
                         contact_read_backs_.Callback()),
        lead_with_contact_creates_(LeadWithContactEntity(), LeadWithContactCreate(),
                                   BatcherOptions(), &requester_, loop, ReadBackLeadWithContact()),
        incoming_creates_(IncomingLeadEntity(), IncomingLeadCreate(), BatcherOptions(), &requester_,
                          loop, ReadBackIncomingLead()),
        incoming_accepts_(LeadEntity(), IncomingLeadAccept(), BatcherOptions(), &requester_, loop,
                          lead_read_backs_.Callback()),
        incoming_declines_(DeclinedIncomingLeadEntity(), IncomingLeadDecline(), BatcherOptions(),
                           &requester_, loop, AnswerDeclined()),
        finder_(loop, FinderOps()),
        task_creates_(TaskEntity(), TaskCreate(), BatcherOptions(), &requester_, loop,
                      task_read_backs_.Callback()),
        task_completes_(TaskEntity(), TaskComplete(), BatcherOptions(), &requester_, loop,
                        task_read_backs_.Callback()),
        task_lists_(&requester_, loop),
        company_reads_(&requester_, loop),
        company_lists_(&requester_, loop),
        event_lists_(&requester_, loop),
        company_creates_(CompanyEntity(), CompanyCreate(), BatcherOptions(), &requester_, loop,
                         company_read_backs_.Callback()),
        company_updates_(CompanyEntity(), CompanyUpdate(), BatcherOptions(), &requester_, loop,
                         company_read_backs_.Callback()) {
    for (v1::EntityType type : {v1::ENTITY_TYPE_LEAD, v1::ENTITY_TYPE_CONTACT}) {
      link_writes_[type] = std::make_unique<WriteBatcher<mapping::LinkChange, v1::Link>>(
          LinkEntity(type), LinkWrite(type), BatcherOptions(), &requester_, loop, AnswerLinked());
    }
    for (v1::EntityType type :
         {v1::ENTITY_TYPE_LEAD, v1::ENTITY_TYPE_CONTACT, v1::ENTITY_TYPE_COMPANY}) {
      note_read_backs_[type] =
          std::make_unique<ReadBacks<Note>>(NoteEntity(type), &requester_, loop, ReadBackOptions());
      note_creates_[type] = std::make_unique<WriteBatcher<v1::AddNoteRequest, Note>>(
          NoteEntity(type), NoteCreate(type), BatcherOptions(), &requester_, loop,
          note_read_backs_[type]->Callback());
      note_read_backs_[type]->AddSource(
          [batcher = note_creates_[type].get()] { return batcher->AwaitsReadBack(); });
    }
    // The batches of one entity share its read-backs; each batcher tells whether writes that
    // need one are still under way.
    lead_read_backs_.AddSource([this] {
      return lead_creates_.AwaitsReadBack() || lead_updates_.AwaitsReadBack() ||
             incoming_accepts_.AwaitsReadBack();
    });
    contact_read_backs_.AddSource(
        [this] { return contact_creates_.AwaitsReadBack() || contact_updates_.AwaitsReadBack(); });
    task_read_backs_.AddSource(
        [this] { return task_creates_.AwaitsReadBack() || task_completes_.AwaitsReadBack(); });
    company_read_backs_.AddSource(
        [this] { return company_creates_.AwaitsReadBack() || company_updates_.AwaitsReadBack(); });
    MakeCatalogues();
  }

  // ---- The account's catalogues --------------------------------------------------------------

  void GetAccount(bool refresh, CallOptions options, Done<Fetched<v1::Account>> done) override {
    FromCatalogue(*account_, refresh, std::move(options), std::move(done));
  }

  void ListPipelines(bool refresh, CallOptions options,
                     Done<Fetched<std::vector<v1::Pipeline>>> done) override {
    FromCatalogue(*pipelines_, refresh, std::move(options), std::move(done));
  }

  void ListUsers(bool refresh, CallOptions options,
                 Done<Fetched<std::vector<v1::User>>> done) override {
    FromCatalogue(*users_, refresh, std::move(options), std::move(done));
  }

  void ListCustomFields(v1::EntityType entity_type, bool refresh, CallOptions options,
                        Done<Fetched<std::vector<v1::CustomField>>> done) override {
    auto catalogue = custom_fields_.find(entity_type);
    if (catalogue == custom_fields_.end()) {
      return loop_->Post([done = std::move(done)]() mutable {
        done(MakeError(absl::StatusCode::kInvalidArgument, "entity_type is not set",
                       reason::kInvalidField));
      });
    }
    FromCatalogue(*catalogue->second, refresh, std::move(options), std::move(done));
  }

  void ListLossReasons(bool refresh, CallOptions options,
                       Done<Fetched<std::vector<v1::LossReason>>> done) override {
    FromCatalogue(*loss_reasons_, refresh, std::move(options), std::move(done));
  }

  void InvalidateCatalogues() override {
    loop_->Post([this] {
      account_->Invalidate();
      pipelines_->Invalidate();
      users_->Invalidate();
      for (auto& [type, catalogue] : custom_fields_) catalogue->Invalidate();
      loss_reasons_->Invalidate();
    });
  }

  void GetStats(absl::AnyInvocable<void(KommoClientStats)> done) override {
    loop_->Post([this, done = std::move(done)]() mutable { done(requester_.Stats()); });
  }

  void CreateLead(const v1::CreateLeadRequest& request, CallOptions options,
                  Done<Lead> done) override {
    WriteReferences references;
    references.entity_type = v1::ENTITY_TYPE_LEAD;
    references.custom_fields = request.custom_fields();
    if (request.pipeline_id() != 0) references.pipeline_id = request.pipeline_id();
    if (request.status_id() != 0) references.status_id = request.status_id();
    if (request.responsible_user_id() != 0) {
      references.users.emplace_back("responsible_user_id", request.responsible_user_id());
    }
    CheckedWrite(lead_creates_, request, std::move(references), std::move(options),
                 std::move(done));
  }

  void UpdateLead(const v1::UpdateLeadRequest& request, CallOptions options,
                  Done<Lead> done) override {
    const bool changes = request.has_name() || request.has_price() ||
                         request.has_responsible_user_id() || request.has_pipeline_id() ||
                         request.has_status_id() || !request.custom_fields().empty() ||
                         !request.tags_to_add().empty() || !request.tags_to_remove().empty();
    if (!changes) {  // nothing to write: the current lead is the answer
      return loop_->Post([this, id = request.lead_id(), options = std::move(options),
                          done = std::move(done)]() mutable {
        Get<Lead>(LeadEntity(), lead_reads_, id, std::move(options), std::move(done));
      });
    }
    WriteReferences references;
    references.entity_type = v1::ENTITY_TYPE_LEAD;
    references.custom_fields = request.custom_fields();
    if (request.has_pipeline_id()) references.pipeline_id = request.pipeline_id();
    if (request.has_status_id()) references.status_id = request.status_id();
    if (request.has_responsible_user_id()) {
      references.users.emplace_back("responsible_user_id", request.responsible_user_id());
    }
    CheckedWrite(lead_updates_, request, std::move(references), std::move(options),
                 std::move(done));
  }

  void GetLead(int64_t lead_id, CallOptions options, Done<Lead> done) override {
    loop_->Post([this, lead_id, options = std::move(options), done = std::move(done)]() mutable {
      Get<Lead>(LeadEntity(), lead_reads_, lead_id, std::move(options), std::move(done));
    });
  }

  void SearchLeads(const std::string& query, int64_t page, int32_t limit, CallOptions options,
                   Done<LeadPageResult> done) override {
    loop_->Post(
        [this, query, page, limit, options = std::move(options), done = std::move(done)]() mutable {
          Search<Lead>(LeadEntity(), lead_lists_, query, page, limit, std::move(options),
                       [done = std::move(done)](absl::StatusOr<EntityPage<Lead>> found) mutable {
                         if (!found.ok()) return done(found.status());
                         done(LeadPageResult{std::move(found->items), found->has_next});
                       });
        });
  }

  void CreateContact(const v1::CreateContactRequest& request, CallOptions options,
                     Done<Contact> done) override {
    WriteReferences references;
    references.entity_type = v1::ENTITY_TYPE_CONTACT;
    references.custom_fields = request.custom_fields();
    if (request.responsible_user_id() != 0) {
      references.users.emplace_back("responsible_user_id", request.responsible_user_id());
    }
    references.phones_given = !request.phones().empty();
    references.emails_given = !request.emails().empty();
    CheckedWrite(contact_creates_, request, std::move(references), std::move(options),
                 std::move(done));
  }

  void UpdateContact(const v1::UpdateContactRequest& request, CallOptions options,
                     Done<Contact> done) override {
    const bool changes = request.has_name() || request.has_first_name() ||
                         request.has_last_name() || request.has_responsible_user_id() ||
                         request.has_phones() || request.has_emails() ||
                         !request.custom_fields().empty() || !request.tags_to_add().empty() ||
                         !request.tags_to_remove().empty();
    if (!changes) {  // nothing to write: the current contact is the answer
      return loop_->Post([this, id = request.contact_id(), options = std::move(options),
                          done = std::move(done)]() mutable {
        Get<Contact>(ContactEntity(), contact_reads_, id, std::move(options), std::move(done));
      });
    }
    WriteReferences references;
    references.entity_type = v1::ENTITY_TYPE_CONTACT;
    references.custom_fields = request.custom_fields();
    if (request.has_responsible_user_id()) {
      references.users.emplace_back("responsible_user_id", request.responsible_user_id());
    }
    references.phones_given = request.has_phones();
    references.emails_given = request.has_emails();
    CheckedWrite(contact_updates_, request, std::move(references), std::move(options),
                 std::move(done));
  }

  void GetContact(int64_t contact_id, CallOptions options, Done<Contact> done) override {
    loop_->Post([this, contact_id, options = std::move(options), done = std::move(done)]() mutable {
      Get<Contact>(ContactEntity(), contact_reads_, contact_id, std::move(options),
                   std::move(done));
    });
  }

  void SearchContacts(const std::string& query, int64_t page, int32_t limit, CallOptions options,
                      Done<ContactPageResult> done) override {
    loop_->Post([this, query, page, limit, options = std::move(options),
                 done = std::move(done)]() mutable {
      Search<Contact>(ContactEntity(), contact_lists_, query, page, limit, std::move(options),
                      [done = std::move(done)](absl::StatusOr<EntityPage<Contact>> found) mutable {
                        if (!found.ok()) return done(found.status());
                        done(ContactPageResult{std::move(found->items), found->has_next});
                      });
    });
  }

  void LookupContacts(const std::vector<std::string>& phones,
                      const std::vector<std::string>& emails, CallOptions options,
                      Done<std::vector<Contact>> done) override {
    loop_->Post(
        [this, phones, emails, options = std::move(options), done = std::move(done)]() mutable {
          finder_.Lookup(phones, emails, std::move(options), std::move(done));
        });
  }

  void FindOrCreateContact(const v1::FindOrCreateContactRequest& request, CallOptions options,
                           Done<v1::FindOrCreateContactResponse> done) override {
    loop_->Post([this, request, options = std::move(options), done = std::move(done)]() mutable {
      finder_.FindOrCreate(request, std::move(options), std::move(done));
    });
  }

  void CreateLeadWithContact(const v1::CreateLeadWithContactRequest& request, CallOptions options,
                             Done<CreateLeadWithContactResponse> done) override {
    Write(lead_with_contact_creates_, request, std::move(options), std::move(done));
  }

  void CreateIncomingLead(const v1::CreateIncomingLeadRequest& request, CallOptions options,
                          Done<IncomingLead> done) override {
    Write(incoming_creates_, request, std::move(options), std::move(done));
  }

  void AcceptIncomingLead(const v1::AcceptIncomingLeadRequest& request, CallOptions options,
                          Done<Lead> done) override {
    Write(incoming_accepts_, request, std::move(options), std::move(done));
  }

  void DeclineIncomingLead(const v1::DeclineIncomingLeadRequest& request, CallOptions options,
                           Done<DeclineIncomingLeadResponse> done) override {
    Write(incoming_declines_, request, std::move(options), std::move(done));
  }

  void ListIncomingLeads(int64_t pipeline_id, int64_t page, int32_t limit, CallOptions options,
                         Done<IncomingLeadPageResult> done) override {
    std::string params = absl::StrCat("limit=", limit, "&page=", page, "&order[created_at]=desc");
    if (pipeline_id != 0) absl::StrAppend(&params, "&filter[pipeline_id]=", pipeline_id);
    loop_->Post([this, params = std::move(params), options = std::move(options),
                 done = std::move(done)]() mutable {
      List<IncomingLead>(
          IncomingLeadEntity(), incoming_lists_, params, std::move(options),
          [done = std::move(done)](absl::StatusOr<EntityPage<IncomingLead>> found) mutable {
            if (!found.ok()) return done(found.status());
            done(IncomingLeadPageResult{std::move(found->items), found->has_next});
          });
    });
  }

  void AddNote(const v1::AddNoteRequest& request, CallOptions options, Done<Note> done) override {
    auto batcher = note_creates_.find(request.entity_type());
    if (batcher == note_creates_.end()) {
      return loop_->Post([done = std::move(done)]() mutable {
        done(MakeError(absl::StatusCode::kInvalidArgument, "entity_type is not set",
                       reason::kInvalidField));
      });
    }
    Write(*batcher->second, request, std::move(options), std::move(done));
  }

  void ListNotes(const NotesQuery& query, CallOptions options, Done<NotePageResult> done) override {
    std::string params = absl::StrCat("limit=", query.limit, "&page=", query.page,
                                      "&filter[entity_id][]=", query.entity_id);
    switch (query.order) {
      case v1::ListNotesRequest::ORDER_UPDATED_DESC:
        absl::StrAppend(&params, "&order[updated_at]=desc");
        break;
      case v1::ListNotesRequest::ORDER_UPDATED_ASC:
        absl::StrAppend(&params, "&order[updated_at]=asc");
        break;
      default:
        absl::StrAppend(&params, "&order[id]=desc");
        break;
    }
    if (query.updated_since > 0) {
      absl::StrAppend(&params, "&filter[updated_at][from]=", query.updated_since);
    }
    const v1::EntityType type = query.entity_type;
    loop_->Post([this, type, params = std::move(params), options = std::move(options),
                 done = std::move(done)]() mutable {
      List<Note>(NoteEntity(type), note_lists_, params, std::move(options),
                 [done = std::move(done)](absl::StatusOr<EntityPage<Note>> found) mutable {
                   if (!found.ok()) return done(found.status());
                   done(NotePageResult{std::move(found->items), found->has_next});
                 });
    });
  }

  // ---- tasks ----------------------------------------------------------------------------------

  void CreateTask(const v1::CreateTaskRequest& request, CallOptions options,
                  Done<v1::Task> done) override {
    Write(task_creates_, request, std::move(options), std::move(done));
  }

  void CompleteTask(const v1::CompleteTaskRequest& request, CallOptions options,
                    Done<v1::Task> done) override {
    Write(task_completes_, request, std::move(options), std::move(done));
  }

  void ListTasks(const TasksQuery& query, CallOptions options, Done<TaskPageResult> done) override {
    std::string params =
        absl::StrCat("limit=", query.limit, "&page=", query.page,
                     "&order[complete_till]=", query.soonest_first ? "asc" : "desc");
    const absl::string_view collection = CollectionOf(query.entity_type);
    if (!collection.empty()) absl::StrAppend(&params, "&filter[entity_type]=", collection);
    for (int64_t id : query.entity_ids) absl::StrAppend(&params, "&filter[entity_id][]=", id);
    for (int64_t id : query.responsible_user_ids) {
      absl::StrAppend(&params, "&filter[responsible_user_id][]=", id);
    }
    if (query.completion == v1::ListTasksRequest::COMPLETION_OPEN) {
      absl::StrAppend(&params, "&filter[is_completed]=0");
    } else if (query.completion == v1::ListTasksRequest::COMPLETION_COMPLETED) {
      absl::StrAppend(&params, "&filter[is_completed]=1");
    }
    loop_->Post([this, params = std::move(params), from = query.due_from, to = query.due_to,
                 ascending = query.soonest_first, options = std::move(options),
                 done = std::move(done)]() mutable {
      List<v1::Task>(TaskEntity(), task_lists_, params, std::move(options),
                     [done = std::move(done), from, to,
                      ascending](absl::StatusOr<EntityPage<v1::Task>> found) mutable {
                       if (!found.ok()) return done(found.status());
                       // The page is in due order: tasks before the range are skipped, and a task
                       // past its far end means no later page can hold one in range.
                       TaskPageResult result;
                       bool past_range = false;
                       for (v1::Task& task : found->items) {
                         const int64_t due = task.due_at().seconds();
                         if (from.has_value() && due < *from) {
                           past_range |= !ascending;
                           continue;
                         }
                         if (to.has_value() && due > *to) {
                           past_range |= ascending;
                           continue;
                         }
                         result.tasks.push_back(std::move(task));
                       }
                       result.has_next = found->has_next && !past_range;
                       done(std::move(result));
                     });
    });
  }

  // ---- companies ------------------------------------------------------------------------------

  void CreateCompany(const v1::CreateCompanyRequest& request, CallOptions options,
                     Done<v1::Company> done) override {
    WriteReferences references;
    references.entity_type = v1::ENTITY_TYPE_COMPANY;
    references.custom_fields = request.custom_fields();
    if (request.responsible_user_id() != 0) {
      references.users.emplace_back("responsible_user_id", request.responsible_user_id());
    }
    CheckedWrite(company_creates_, request, std::move(references), std::move(options),
                 std::move(done));
  }

  void UpdateCompany(const v1::UpdateCompanyRequest& request, CallOptions options,
                     Done<v1::Company> done) override {
    const bool changes = request.has_name() || request.has_responsible_user_id() ||
                         !request.custom_fields().empty() || !request.tags_to_add().empty() ||
                         !request.tags_to_remove().empty();
    if (!changes) {  // nothing to write: the current company is the answer
      return loop_->Post([this, id = request.company_id(), options = std::move(options),
                          done = std::move(done)]() mutable {
        Get<v1::Company>(CompanyEntity(), company_reads_, id, std::move(options), std::move(done));
      });
    }
    WriteReferences references;
    references.entity_type = v1::ENTITY_TYPE_COMPANY;
    references.custom_fields = request.custom_fields();
    if (request.has_responsible_user_id()) {
      references.users.emplace_back("responsible_user_id", request.responsible_user_id());
    }
    CheckedWrite(company_updates_, request, std::move(references), std::move(options),
                 std::move(done));
  }

  void GetCompany(int64_t company_id, CallOptions options, Done<v1::Company> done) override {
    loop_->Post([this, company_id, options = std::move(options), done = std::move(done)]() mutable {
      Get<v1::Company>(CompanyEntity(), company_reads_, company_id, std::move(options),
                       std::move(done));
    });
  }

  void SearchCompanies(const std::string& query, int64_t page, int32_t limit, CallOptions options,
                       Done<CompanyPageResult> done) override {
    loop_->Post(
        [this, query, page, limit, options = std::move(options), done = std::move(done)]() mutable {
          Search<v1::Company>(
              CompanyEntity(), company_lists_, query, page, limit, std::move(options),
              [done = std::move(done)](absl::StatusOr<EntityPage<v1::Company>> found) mutable {
                if (!found.ok()) return done(found.status());
                done(CompanyPageResult{std::move(found->items), found->has_next});
              });
        });
  }

  // ---- links ----------------------------------------------------------------------------------

  void ChangeLink(const mapping::LinkChange& change, CallOptions options,
                  Done<v1::Link> done) override {
    auto batcher = link_writes_.find(change.entity_type);
    if (batcher == link_writes_.end()) {
      return loop_->Post([done = std::move(done)]() mutable {
        done(MakeError(absl::StatusCode::kInvalidArgument,
                       "a link is written on its lead or contact side", reason::kInvalidField));
      });
    }
    Write(*batcher->second, change, std::move(options), std::move(done));
  }

  void ListLinks(v1::EntityType entity_type, int64_t entity_id, v1::EntityType to_entity_type,
                 CallOptions options, Done<std::vector<v1::Link>> done) override {
    const EntityDescription<v1::Link>& entity = LinkEntity(entity_type);
    RequestSpec spec;
    spec.path = absl::StrCat("/", entity.plural, "/", entity_id, "/links");
    const absl::string_view to = mapping::LinkCollection(to_entity_type);
    if (!to.empty()) spec.params = absl::StrCat("filter[to_entity_type]=", to);
    spec.context.kind = RequestKind::kList;
    spec.context.not_found_reason = entity.not_found_reason;
    spec.context.what = absl::StrCat("GET /", entity.plural, "/{id}/links");
    spec.context.entity = entity.singular;
    spec.context.entity_id = entity_id;
    std::string key = absl::StrCat(spec.path, "?", spec.params);
    loop_->Post([this, key = std::move(key), spec = std::move(spec), entity_type, entity_id,
                 options = std::move(options), done = std::move(done)]() mutable {
      link_lists_.Read(std::move(key), std::move(spec), std::move(options), std::move(done),
                       [entity_type, entity_id](
                           absl::StatusOr<http::HttpResponse> response,
                           const ErrorContext& context) -> absl::StatusOr<std::vector<v1::Link>> {
                         if (!response.ok()) return response.status();
                         absl::StatusOr<std::optional<absl::string_view>> body =
                             AnswerBody(*response, context);
                         if (!body.ok()) return body.status();
                         if (!body->has_value()) return std::vector<v1::Link>();
                         absl::StatusOr<std::vector<v1::Link>> links =
                             mapping::ParseLinks(**body, entity_type, entity_id);
                         if (!links.ok()) return links.status();
                         // The main contact first, then in Kommo's order.
                         std::stable_partition(links->begin(), links->end(),
                                               [](const v1::Link& link) { return link.is_main(); });
                         return links;
                       });
    });
  }

  void ListLeads(const LeadsQuery& query, CallOptions options, Done<LeadPageResult> done) override {
    std::string params =
        absl::StrCat("limit=", query.limit, "&page=", query.page, "&with=", LeadEntity().with,
                     "&order[", query.order_field, "]=", query.descending ? "desc" : "asc");
    for (int64_t id : query.ids) absl::StrAppend(&params, "&filter[id][]=", id);
    for (int64_t id : query.pipeline_ids) absl::StrAppend(&params, "&filter[pipeline_id][]=", id);
    for (size_t i = 0; i < query.pipeline_stages.size(); ++i) {
      absl::StrAppend(&params, "&filter[statuses][", i,
                      "][pipeline_id]=", query.pipeline_stages[i].first, "&filter[statuses][", i,
                      "][status_id]=", query.pipeline_stages[i].second);
    }
    for (int64_t id : query.responsible_user_ids) {
      absl::StrAppend(&params, "&filter[responsible_user_id][]=", id);
    }
    const std::pair<const char*, const std::optional<int64_t>*> ranges[] = {
        {"filter[created_at][from]", &query.created_from},
        {"filter[created_at][to]", &query.created_to},
        {"filter[updated_at][from]", &query.updated_from},
        {"filter[updated_at][to]", &query.updated_to}};
    for (const auto& [key, value] : ranges) {
      if (value->has_value()) absl::StrAppend(&params, "&", key, "=", **value);
    }
    if (!query.query.empty()) absl::StrAppend(&params, "&query=", UrlEncode(query.query));
    loop_->Post([this, params = std::move(params), options = std::move(options),
                 done = std::move(done)]() mutable {
      List<Lead>(LeadEntity(), lead_lists_, params, std::move(options),
                 [done = std::move(done)](absl::StatusOr<EntityPage<Lead>> found) mutable {
                   if (!found.ok()) return done(found.status());
                   done(LeadPageResult{std::move(found->items), found->has_next});
                 });
    });
  }

  void GetContacts(const std::vector<int64_t>& ids, CallOptions options,
                   Done<std::vector<Contact>> done) override {
    std::string params = absl::StrCat("limit=", kMaxIdsPerList);
    for (int64_t id : ids) absl::StrAppend(&params, "&filter[id][]=", id);
    loop_->Post([this, params = std::move(params), options = std::move(options),
                 done = std::move(done)]() mutable {
      List<Contact>(ContactEntity(), contact_lists_, params, std::move(options),
                    [done = std::move(done)](absl::StatusOr<EntityPage<Contact>> found) mutable {
                      if (!found.ok()) return done(found.status());
                      done(std::move(found->items));
                    });
    });
  }

  void ListEvents(const EventsQuery& query, CallOptions options,
                  Done<mapping::EventPage> done) override {
    std::string params = absl::StrCat("limit=", query.limit, "&page=", query.page);
    for (const std::string& entity : query.entities) {
      absl::StrAppend(&params, "&filter[entity][]=", UrlEncode(entity));
    }
    if (query.created_from > 0) {
      absl::StrAppend(&params, "&filter[created_at][from]=", query.created_from);
    }
    loop_->Post([this, params = std::move(params), options = std::move(options),
                 done = std::move(done)]() mutable {
      List<mapping::KommoEvent>(
          EventEntity(), event_lists_, params, std::move(options),
          [done = std::move(done)](absl::StatusOr<EntityPage<mapping::KommoEvent>> found) mutable {
            if (!found.ok()) return done(found.status());
            done(mapping::EventPage{std::move(found->items), found->has_next});
          });
    });
  }

 private:
  // A link write is answered from Kommo's answer: the link itself is what was written.
  static ReadBack<v1::Link> AnswerLinked() {
    return [](std::vector<std::pair<Written, WaiterPtr<v1::Link>>> written, absl::Time) {
      for (auto& [item, waiter] : written) Complete<v1::Link>(waiter, item.link);
    };
  }

  template <typename Request, typename Entity>
  void Write(WriteBatcher<Request, Entity>& batcher, const Request& request, CallOptions options,
             Done<Entity> done) {
    loop_->Post(
        [&batcher, request, options = std::move(options), done = std::move(done)]() mutable {
          batcher.Enqueue(request, std::move(options), std::move(done));
        });
  }

  // The write after its check against the catalogues (write_check.h): the catalogues the
  // references need are read (kept ones answer at once), the request's custom fields are
  // replaced by the checked ones, and the request enters the batcher. A catalogue that cannot be
  // read leaves its part to Kommo. Kommo refusing the write for a field, stage or user makes
  // every catalogue be read again next time.
  template <typename Request, typename Entity>
  void CheckedWrite(WriteBatcher<Request, Entity>& batcher, const Request& request,
                    WriteReferences references, CallOptions options, Done<Entity> done) {
    struct Check {
      Request request;
      WriteReferences references;
      CallOptions options;
      Done<Entity> done;
      std::optional<std::vector<v1::CustomField>> custom_fields;
      std::optional<std::vector<v1::Pipeline>> pipelines;
      std::optional<std::vector<v1::User>> users;
      int pending = 1;  // the catalogue reads under way, and this function's own part
    };
    auto check = std::make_shared<Check>();
    check->request = request;
    check->references = std::move(references);
    check->options = std::move(options);
    check->done = std::move(done);
    loop_->Post([this, &batcher, check] {
      auto finish = [this, &batcher, check] {
        if (--check->pending > 0) return;
        CheckCatalogues catalogues;
        if (check->custom_fields.has_value()) catalogues.custom_fields = &*check->custom_fields;
        if (check->pipelines.has_value()) catalogues.pipelines = &*check->pipelines;
        if (check->users.has_value()) catalogues.users = &*check->users;
        absl::StatusOr<google::protobuf::RepeatedPtrField<v1::CustomFieldValues>> fields =
            CheckWriteReferences(check->references, catalogues);
        if (!fields.ok()) return check->done(fields.status());
        *check->request.mutable_custom_fields() = *std::move(fields);
        batcher.Enqueue(
            check->request, std::move(check->options),
            [this, done = std::move(check->done)](absl::StatusOr<Entity> written) mutable {
              if (!written.ok() && RefusalConcernsCatalogues(written.status())) {
                InvalidateCatalogues();
              }
              done(std::move(written));
            });
      };
      const WriteReferences& refs = check->references;
      if (refs.needs_custom_fields()) {
        auto catalogue = custom_fields_.find(refs.entity_type);
        if (catalogue != custom_fields_.end()) {
          ++check->pending;
          catalogue->second->Get(
              false, check->options,
              [check, finish](absl::StatusOr<Fetched<std::vector<v1::CustomField>>> read) {
                if (read.ok()) check->custom_fields = std::move(read->value);
                finish();
              });
        }
      }
      if (refs.needs_pipelines()) {
        ++check->pending;
        pipelines_->Get(false, check->options,
                        [check, finish](absl::StatusOr<Fetched<std::vector<v1::Pipeline>>> read) {
                          if (read.ok()) check->pipelines = std::move(read->value);
                          finish();
                        });
      }
      if (refs.needs_users()) {
        ++check->pending;
        users_->Get(false, check->options,
                    [check, finish](absl::StatusOr<Fetched<std::vector<v1::User>>> read) {
                      if (read.ok()) check->users = std::move(read->value);
                      finish();
                    });
      }
      finish();
    });
  }

  ContactFinderOps FinderOps() {
    ContactFinderOps ops;
    ops.search = [this](const std::string& query, int64_t page, CallOptions options,
                        Done<EntityPage<Contact>> done) {
      Search<Contact>(ContactEntity(), contact_lists_, query, page, kLookupPageSize,
                      std::move(options), std::move(done));
    };
    ops.create = [this](const v1::CreateContactRequest& request, CallOptions options,
                        Done<Contact> done) {
      contact_creates_.Enqueue(request, std::move(options), std::move(done));
    };
    ops.update_values = [this](const v1::UpdateContactRequest& request, CallOptions options,
                               Done<Contact> done) {
      contact_updates_.Enqueue(request, std::move(options), std::move(done));
    };
    ops.get = [this](int64_t id, CallOptions options, Done<Contact> done) {
      Get<Contact>(ContactEntity(), contact_reads_, id, std::move(options), std::move(done));
    };
    return ops;
  }

  // Read-backs shared across batches (read_backs.h): up to Kommo's 250 ids a list request, held
  // while more writes are under way, re-checked about once per rate-limit slot, and for at most
  // the slots the batches that fill one take (250 / 50 = 5) and half a second for their answers.
  ReadBacksOptions ReadBackOptions() const {
    ReadBacksOptions read_backs;
    read_backs.max_ids = kMaxIdsPerList;
    const double rps = options_.rate_limit_rps > 0 ? options_.rate_limit_rps : 7;
    const absl::Duration slot = absl::Seconds(1 / rps);
    read_backs.recheck = std::clamp(slot, absl::Milliseconds(10), absl::Milliseconds(200));
    const int per_batch = std::max(1, BatcherOptions().max_items);
    const int batches = (kMaxIdsPerList + per_batch - 1) / per_batch;
    read_backs.max_hold = std::min(slot * batches + absl::Milliseconds(500), absl::Seconds(5));
    return read_backs;
  }

  WriteBatcherOptions BatcherOptions() const {
    WriteBatcherOptions batcher;
    batcher.window = options_.coalesce_window;
    batcher.max_items = std::clamp(options_.max_batch_items, 1, kMaxIdsPerList);
    batcher.max_queue = options_.max_queue;
    return batcher;
  }

  template <typename Entity>
  static std::string WithParam(const EntityDescription<Entity>& entity) {
    return entity.with.empty() ? std::string() : absl::StrCat("with=", entity.with);
  }

  // GET /{plural}/{id}: NOT_FOUND (the entity's reason) for an unknown id.
  template <typename Entity>
  void Get(const EntityDescription<Entity>& entity, SharedReads<Entity>& reads, int64_t id,
           CallOptions options, Done<Entity> done) {
    RequestSpec spec;
    spec.path = absl::StrCat("/", entity.plural, "/", id);
    spec.params = WithParam(entity);
    spec.context.kind = RequestKind::kRead;
    spec.context.not_found_reason = entity.not_found_reason;
    spec.context.what = absl::StrCat("GET /", entity.plural, "/{id}");
    spec.context.entity = entity.singular;
    spec.context.entity_id = id;
    std::string key = absl::StrCat(spec.path, "?", spec.params);
    reads.Read(std::move(key), std::move(spec), std::move(options), std::move(done),
               [&entity](absl::StatusOr<http::HttpResponse> response,
                         const ErrorContext& context) -> absl::StatusOr<Entity> {
                 if (!response.ok()) return response.status();
                 absl::StatusOr<std::optional<absl::string_view>> body =
                     AnswerBody(*response, context);
                 if (!body.ok()) return body.status();
                 if (!body->has_value()) return EntityNotFound(context);
                 return entity.parse(**body);
               });
  }

  // GET /{plural}?query=&page=&limit=: an empty page when nothing matches.
  template <typename Entity>
  void Search(const EntityDescription<Entity>& entity, SharedReads<EntityPage<Entity>>& lists,
              const std::string& query, int64_t page, int32_t limit, CallOptions options,
              Done<EntityPage<Entity>> done) {
    std::string params = absl::StrCat("limit=", limit, "&page=", page);
    if (!entity.with.empty()) absl::StrAppend(&params, "&", WithParam(entity));
    if (!query.empty()) absl::StrAppend(&params, "&query=", UrlEncode(query));
    List(entity, lists, std::move(params), std::move(options), std::move(done));
  }

  // GET /{plural}?{params}: a page, shared by the callers asking for the same one; an empty page
  // when nothing matches.
  template <typename Entity>
  void List(const EntityDescription<Entity>& entity, SharedReads<EntityPage<Entity>>& lists,
            std::string params, CallOptions options, Done<EntityPage<Entity>> done) {
    RequestSpec spec;
    spec.path = absl::StrCat("/", entity.plural);
    spec.params = std::move(params);
    spec.context.kind = RequestKind::kList;
    spec.context.not_found_reason = entity.not_found_reason;
    spec.context.what = absl::StrCat("GET /", entity.plural);
    spec.context.entity = entity.singular;
    std::string key = absl::StrCat(spec.path, "?", spec.params);
    lists.Read(std::move(key), std::move(spec), std::move(options), std::move(done),
               [&entity](absl::StatusOr<http::HttpResponse> response, const ErrorContext& context) {
                 return PageOf(entity, response, context);
               });
  }

  // One list request for the entities whose `filter` (filter[id][], filter[uid][]) is one of
  // `keys`, ahead of new calls in the rate-limit queue.
  template <typename Entity>
  void ReadByKeys(const EntityDescription<Entity>& entity, absl::string_view filter,
                  const std::vector<std::string>& keys, absl::Time deadline,
                  std::shared_ptr<CallTrace> trace,
                  absl::AnyInvocable<void(absl::StatusOr<EntityPage<Entity>>)> done) {
    RequestSpec spec;
    spec.path = absl::StrCat("/", entity.plural);
    spec.params = absl::StrCat("limit=", kMaxIdsPerList);
    if (!entity.with.empty()) absl::StrAppend(&spec.params, "&", WithParam(entity));
    for (const std::string& key : keys) {
      absl::StrAppend(&spec.params, "&", filter, "=", UrlEncode(key));
    }
    spec.priority = true;
    spec.context.kind = RequestKind::kList;
    spec.context.what = absl::StrCat("GET /", entity.plural);
    spec.context.entity = entity.singular;
    const ErrorContext context = spec.context;
    requester_.Send(std::move(spec), CallOptions{deadline, nullptr, std::move(trace)},
                    [&entity, context,
                     done = std::move(done)](absl::StatusOr<http::HttpResponse> response) mutable {
                      done(PageOf(entity, response, context));
                    });
  }

  // Incoming leads are read back by uid (GET /leads/unsorted?filter[uid][]=...).
  ReadBack<IncomingLead> ReadBackIncomingLead() {
    return [this](std::vector<std::pair<Written, WaiterPtr<IncomingLead>>> written,
                  absl::Time deadline) {
      std::vector<std::string> uids;
      for (const auto& each : written) uids.push_back(each.first.uid);
      auto trace = GroupTrace<IncomingLead>(written.front().second);
      ReadByKeys<IncomingLead>(IncomingLeadEntity(), "filter[uid][]", uids, deadline, trace,
                               [written = std::move(written),
                                trace](absl::StatusOr<EntityPage<IncomingLead>> page) mutable {
                                 for (const auto& each : written)
                                   ShareTrace<IncomingLead>(*trace, each.second);
                                 std::map<std::string, IncomingLead> found;
                                 if (page.ok()) {
                                   for (IncomingLead& each : page->items)
                                     found[each.uid()] = std::move(each);
                                 }
                                 AnswerWritten<IncomingLead, std::string>(
                                     written, page.status(), found,
                                     [](const Written& item) { return item.uid; }, "lead");
                               });
    };
  }

  // A lead written with its contact: the leads and the contacts of a batch are read back with
  // one list request each, at the same time.
  ReadBack<CreateLeadWithContactResponse> ReadBackLeadWithContact() {
    return [this](std::vector<std::pair<Written, WaiterPtr<CreateLeadWithContactResponse>>> written,
                  absl::Time deadline) {
      struct Reads {
        std::vector<std::pair<Written, WaiterPtr<CreateLeadWithContactResponse>>> written;
        std::shared_ptr<CallTrace> trace;
        absl::Status error;
        std::map<int64_t, Lead> leads;
        std::map<int64_t, Contact> contacts;
        int pending = 2;
      };
      auto reads = std::make_shared<Reads>();
      reads->trace = GroupTrace<CreateLeadWithContactResponse>(written.front().second);
      std::vector<std::string> lead_ids;
      std::vector<std::string> contact_ids;
      for (const auto& each : written) {
        lead_ids.push_back(absl::StrCat(each.first.id));
        if (each.first.contact_id != 0) contact_ids.push_back(absl::StrCat(each.first.contact_id));
      }
      reads->written = std::move(written);
      auto finish = [reads] {
        if (--reads->pending > 0) return;
        for (const auto& each : reads->written) {
          ShareTrace<CreateLeadWithContactResponse>(*reads->trace, each.second);
        }
        std::map<int64_t, CreateLeadWithContactResponse> found;
        for (const auto& [item, waiter] : reads->written) {
          auto lead = reads->leads.find(item.id);
          auto contact = reads->contacts.find(item.contact_id);
          if (lead == reads->leads.end() ||
              (item.contact_id != 0 && contact == reads->contacts.end())) {
            continue;
          }
          CreateLeadWithContactResponse& response = found[item.id];
          *response.mutable_lead() = lead->second;
          if (contact != reads->contacts.end()) *response.mutable_contact() = contact->second;
          response.set_contact_merged(item.merged);
        }
        AnswerWritten<CreateLeadWithContactResponse, int64_t>(
            reads->written, reads->error, found, [](const Written& item) { return item.id; },
            "lead");
      };
      ReadByKeys<Lead>(LeadEntity(), "filter[id][]", lead_ids, deadline, reads->trace,
                       [reads, finish](absl::StatusOr<EntityPage<Lead>> page) {
                         if (!page.ok()) {
                           reads->error.Update(page.status());
                         } else {
                           for (Lead& each : page->items) reads->leads[each.id()] = each;
                         }
                         finish();
                       });
      if (contact_ids.empty()) return finish();
      ReadByKeys<Contact>(ContactEntity(), "filter[id][]", contact_ids, deadline, reads->trace,
                          [reads, finish](absl::StatusOr<EntityPage<Contact>> page) {
                            if (!page.ok()) {
                              reads->error.Update(page.status());
                            } else {
                              for (Contact& each : page->items) reads->contacts[each.id()] = each;
                            }
                            finish();
                          });
    };
  }

  // A declined incoming lead is answered from Kommo's answer: there is nothing to read back.
  static ReadBack<DeclineIncomingLeadResponse> AnswerDeclined() {
    return [](std::vector<std::pair<Written, WaiterPtr<DeclineIncomingLeadResponse>>> written,
              absl::Time) {
      for (auto& [item, waiter] : written) {
        DeclineIncomingLeadResponse response;
        response.set_uid(item.uid);
        Complete<DeclineIncomingLeadResponse>(waiter, std::move(response));
      }
    };
  }

  // ---- The account's catalogues: reads and the kept values ----------------------------------

  template <typename T>
  void FromCatalogue(Catalogue<T>& catalogue, bool refresh, CallOptions options,
                     Done<Fetched<T>> done) {
    loop_->Post(
        [&catalogue, refresh, options = std::move(options), done = std::move(done)]() mutable {
          catalogue.Get(refresh, std::move(options), std::move(done));
        });
  }

  void MakeCatalogues() {
    const absl::Duration ttl = options_.catalogue_ttl;
    account_ = std::make_unique<Catalogue<v1::Account>>(
        loop_, ttl, [this](CallOptions options, Done<v1::Account> done) {
          ReadAccount(std::move(options), std::move(done));
        });
    pipelines_ = std::make_unique<Catalogue<std::vector<v1::Pipeline>>>(
        loop_, ttl, [this](CallOptions options, Done<std::vector<v1::Pipeline>> done) {
          // Kommo answers every pipeline at once (an account has at most 50).
          ReadAll<v1::Pipeline>(PipelineEntity(), pipeline_lists_, /*paged=*/false,
                                std::move(options), std::move(done));
        });
    users_ = std::make_unique<Catalogue<std::vector<v1::User>>>(
        loop_, ttl, [this](CallOptions options, Done<std::vector<v1::User>> done) {
          ReadAll<v1::User>(UserEntity(), user_lists_, /*paged=*/true, std::move(options),
                            std::move(done));
        });
    for (v1::EntityType type :
         {v1::ENTITY_TYPE_LEAD, v1::ENTITY_TYPE_CONTACT, v1::ENTITY_TYPE_COMPANY}) {
      custom_fields_[type] = std::make_unique<Catalogue<std::vector<v1::CustomField>>>(
          loop_, ttl, [this, type](CallOptions options, Done<std::vector<v1::CustomField>> done) {
            ReadAll<v1::CustomField>(CustomFieldEntity(type), custom_field_lists_, /*paged=*/true,
                                     std::move(options), std::move(done));
          });
    }
    loss_reasons_ = std::make_unique<Catalogue<std::vector<v1::LossReason>>>(
        loop_, ttl, [this](CallOptions options, Done<std::vector<v1::LossReason>> done) {
          ReadAll<v1::LossReason>(LossReasonEntity(), loss_reason_lists_, /*paged=*/true,
                                  std::move(options), std::move(done));
        });
  }

  // GET /account?with=...: shared by the callers asking at once.
  void ReadAccount(CallOptions options, Done<v1::Account> done) {
    const EntityDescription<v1::Account>& entity = AccountEntity();
    RequestSpec spec;
    spec.path = absl::StrCat("/", entity.plural);
    spec.params = WithParam(entity);
    spec.context.kind = RequestKind::kRead;
    spec.context.not_found_reason = entity.not_found_reason;
    spec.context.what = absl::StrCat("GET /", entity.plural);
    spec.context.entity = entity.singular;
    std::string key = absl::StrCat(spec.path, "?", spec.params);
    account_reads_.Read(std::move(key), std::move(spec), std::move(options), std::move(done),
                        [&entity](absl::StatusOr<http::HttpResponse> response,
                                  const ErrorContext& context) -> absl::StatusOr<v1::Account> {
                          if (!response.ok()) return response.status();
                          absl::StatusOr<std::optional<absl::string_view>> body =
                              AnswerBody(*response, context);
                          if (!body.ok()) return body.status();
                          if (!body->has_value()) return EntityNotFound(context);
                          return entity.parse(**body);
                        });
  }

  // Every item of a list: page after page (250 items each) while Kommo says more follow, or the
  // one answer of a list Kommo does not page. Each page is a shared read (SharedReads), so
  // callers reading the same catalogue at once share its requests.
  template <typename Item>
  void ReadAll(const EntityDescription<Item>& entity, SharedReads<EntityPage<Item>>& lists,
               bool paged, CallOptions options, Done<std::vector<Item>> done) {
    struct Walk {
      std::vector<Item> items;
      int64_t page = 1;
      CallOptions options;
      Done<std::vector<Item>> done;
    };
    auto walk = std::make_shared<Walk>();
    walk->options = std::move(options);
    walk->done = std::move(done);
    ReadPages<Item>(entity, lists, paged, std::move(walk));
  }

  template <typename Item, typename Walk>
  void ReadPages(const EntityDescription<Item>& entity, SharedReads<EntityPage<Item>>& lists,
                 bool paged, std::shared_ptr<Walk> walk) {
    std::string params =
        paged ? absl::StrCat("limit=", kMaxIdsPerList, "&page=", walk->page) : std::string();
    List<Item>(entity, lists, std::move(params), walk->options,
               [this, &entity, &lists, paged, walk](absl::StatusOr<EntityPage<Item>> page) mutable {
                 if (!page.ok()) return walk->done(page.status());
                 for (Item& item : page->items) walk->items.push_back(std::move(item));
                 if (!paged || !page->has_next || page->items.empty()) {
                   return walk->done(std::move(walk->items));
                 }
                 if (walk->page >= kMaxCataloguePages) {
                   return walk->done(MakeError(
                       absl::StatusCode::kInternal,
                       absl::StrCat("Kommo sent a malformed response: GET /", entity.plural,
                                    " announced more than ", kMaxCataloguePages, " pages"),
                       reason::kKommoBadResponse));
                 }
                 ++walk->page;
                 ReadPages<Item>(entity, lists, paged, std::move(walk));
               });
  }

  KommoClientOptions options_;
  EventLoop* loop_;
  // Declared first: destroyed last, after everything that sends through it.
  Requester requester_;
  // Shared read-backs of each entity's writes (before the batchers that use them).
  ReadBacks<Lead> lead_read_backs_;
  ReadBacks<Contact> contact_read_backs_;
  ReadBacks<v1::Task> task_read_backs_;
  ReadBacks<v1::Company> company_read_backs_;
  std::map<v1::EntityType, std::unique_ptr<ReadBacks<Note>>> note_read_backs_;

  SharedReads<Lead> lead_reads_;
  SharedReads<EntityPage<Lead>> lead_lists_;
  SharedReads<Contact> contact_reads_;
  SharedReads<EntityPage<Contact>> contact_lists_;

  WriteBatcher<v1::CreateLeadRequest, Lead> lead_creates_;
  WriteBatcher<v1::UpdateLeadRequest, Lead> lead_updates_;
  WriteBatcher<v1::CreateContactRequest, Contact> contact_creates_;

  SharedReads<EntityPage<IncomingLead>> incoming_lists_;
  SharedReads<EntityPage<Note>> note_lists_;
  WriteBatcher<v1::UpdateContactRequest, Contact> contact_updates_;
  WriteBatcher<v1::CreateLeadWithContactRequest, CreateLeadWithContactResponse>
      lead_with_contact_creates_;
  WriteBatcher<v1::CreateIncomingLeadRequest, IncomingLead> incoming_creates_;
  WriteBatcher<v1::AcceptIncomingLeadRequest, Lead> incoming_accepts_;
  WriteBatcher<v1::DeclineIncomingLeadRequest, DeclineIncomingLeadResponse> incoming_declines_;
  std::map<v1::EntityType, std::unique_ptr<WriteBatcher<v1::AddNoteRequest, Note>>> note_creates_;
  ContactFinder finder_;

  WriteBatcher<v1::CreateTaskRequest, v1::Task> task_creates_;
  WriteBatcher<v1::CompleteTaskRequest, v1::Task> task_completes_;
  SharedReads<EntityPage<v1::Task>> task_lists_;

  SharedReads<v1::Company> company_reads_;
  SharedReads<EntityPage<v1::Company>> company_lists_;
  SharedReads<EntityPage<mapping::KommoEvent>> event_lists_;
  WriteBatcher<v1::CreateCompanyRequest, v1::Company> company_creates_;
  WriteBatcher<v1::UpdateCompanyRequest, v1::Company> company_updates_;
  std::map<v1::EntityType, std::unique_ptr<WriteBatcher<mapping::LinkChange, v1::Link>>>
      link_writes_;
  SharedReads<std::vector<v1::Link>> link_lists_{&requester_, loop_};

  // The account's catalogues: shared reads, then the kept values (made in MakeCatalogues).
  SharedReads<v1::Account> account_reads_{&requester_, loop_};
  SharedReads<EntityPage<v1::Pipeline>> pipeline_lists_{&requester_, loop_};
  SharedReads<EntityPage<v1::User>> user_lists_{&requester_, loop_};
  SharedReads<EntityPage<v1::CustomField>> custom_field_lists_{&requester_, loop_};
  SharedReads<EntityPage<v1::LossReason>> loss_reason_lists_{&requester_, loop_};
  std::unique_ptr<Catalogue<v1::Account>> account_;
  std::unique_ptr<Catalogue<std::vector<v1::Pipeline>>> pipelines_;
  std::unique_ptr<Catalogue<std::vector<v1::User>>> users_;
  std::map<v1::EntityType, std::unique_ptr<Catalogue<std::vector<v1::CustomField>>>> custom_fields_;
  std::unique_ptr<Catalogue<std::vector<v1::LossReason>>> loss_reasons_;
};

}  // namespace

std::string UrlEncode(absl::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size() * 3);
  for (unsigned char c : text) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

std::unique_ptr<KommoClient> NewKommoClient(KommoClientOptions options,
                                            http::HttpTransport* transport, EventLoop* loop) {
  return std::make_unique<KommoClientImpl>(std::move(options), transport, loop);
}

}  // namespace kommo::rest
