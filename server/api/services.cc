#include "server/api/services.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/api/grpc_status.h"
#include "server/api/serve.h"
#include "server/api/validation.h"
#include "server/api/watch_stream.h"
#include "server/common/call_trace.h"
#include "server/common/cancellation.h"
#include "server/common/clock.h"
#include "server/common/error_details.h"
#include "server/common/log.h"
#include "server/kommo/waiter.h"
#include "server/mapping/page_token.h"

namespace kommo::api {
namespace {

using internal::Kind;
using internal::Reply;
using internal::Serve;
using internal::TrimToMask;
using rest::CallOptions;

constexpr char kLeadsScope[] = "leads";
constexpr char kContactsScope[] = "contacts";
constexpr char kIncomingLeadsScope[] = "incoming_leads";
constexpr char kNotesScope[] = "notes";

// The Kommo page a search asks for: 1, or the one its page_token names.
absl::StatusOr<int64_t> PageOf(absl::string_view token, absl::string_view scope,
                               absl::string_view query, int32_t page_size) {
  if (token.empty()) return 1;
  return mapping::DecodePageToken(token, scope, query, page_size);
}

int32_t EffectivePageSize(int32_t page_size) {
  return page_size == 0 ? kDefaultPageSize : page_size;
}

// A page token's query for a list that is not a search: the request's other fields.
std::string ListScopeQuery(std::initializer_list<int64_t> fields) {
  std::string query;
  for (int64_t field : fields) absl::StrAppend(&query, query.empty() ? "" : "/", field);
  return query;
}

}  // namespace

grpc::ServerUnaryReactor* LeadServiceImpl::CreateLead(grpc::CallbackServerContext* context,
                                                      const grpc::ByteBuffer* request,
                                                      grpc::ByteBuffer* response) {
  return Serve<v1::CreateLeadRequest, v1::CreateLeadResponse>(
      context, request, response, "kommo.v1.LeadService/CreateLead", Kind::kWrite, options_,
      ValidateCreateLead,
      [](rest::KommoClient& client, const v1::CreateLeadRequest& req, CallOptions call, auto done) {
        client.CreateLead(req, std::move(call),
                          [done = std::move(done),
                           mask = req.read_mask()](absl::StatusOr<v1::Lead> lead) mutable {
                            if (!lead.ok()) return done(lead.status(), 0);
                            v1::CreateLeadResponse out;
                            const int64_t id = lead->id();
                            TrimToMask(mask, &*lead);
                            *out.mutable_lead() = *std::move(lead);
                            done(std::move(out), id);
                          });
      });
}

grpc::ServerUnaryReactor* LeadServiceImpl::UpdateLead(grpc::CallbackServerContext* context,
                                                      const grpc::ByteBuffer* request,
                                                      grpc::ByteBuffer* response) {
  return Serve<v1::UpdateLeadRequest, v1::UpdateLeadResponse>(
      context, request, response, "kommo.v1.LeadService/UpdateLead", Kind::kWrite, options_,
      ValidateUpdateLead,
      [](rest::KommoClient& client, const v1::UpdateLeadRequest& req, CallOptions call, auto done) {
        client.UpdateLead(req, std::move(call),
                          [done = std::move(done),
                           mask = req.read_mask()](absl::StatusOr<v1::Lead> lead) mutable {
                            if (!lead.ok()) return done(lead.status(), 0);
                            v1::UpdateLeadResponse out;
                            const int64_t id = lead->id();
                            TrimToMask(mask, &*lead);
                            *out.mutable_lead() = *std::move(lead);
                            done(std::move(out), id);
                          });
      });
}

grpc::ServerUnaryReactor* LeadServiceImpl::GetLead(grpc::CallbackServerContext* context,
                                                   const grpc::ByteBuffer* request,
                                                   grpc::ByteBuffer* response) {
  return Serve<v1::GetLeadRequest, v1::GetLeadResponse>(
      context, request, response, "kommo.v1.LeadService/GetLead", Kind::kRead, options_,
      ValidateGetLead,
      [](rest::KommoClient& client, const v1::GetLeadRequest& req, CallOptions call, auto done) {
        client.GetLead(req.lead_id(), std::move(call),
                       [done = std::move(done)](absl::StatusOr<v1::Lead> lead) mutable {
                         if (!lead.ok()) return done(lead.status(), 0);
                         v1::GetLeadResponse out;
                         *out.mutable_lead() = *std::move(lead);
                         done(std::move(out), 0);
                       });
      });
}

grpc::ServerUnaryReactor* LeadServiceImpl::SearchLeads(grpc::CallbackServerContext* context,
                                                       const grpc::ByteBuffer* request,
                                                       grpc::ByteBuffer* response) {
  return Serve<v1::SearchLeadsRequest, v1::SearchLeadsResponse>(
      context, request, response, "kommo.v1.LeadService/SearchLeads", Kind::kRead, options_,
      ValidateSearchLeads,
      [](rest::KommoClient& client, const v1::SearchLeadsRequest& req, CallOptions call,
         auto done) {
        absl::StatusOr<int64_t> page =
            PageOf(req.page_token(), kLeadsScope, req.query(), req.page_size());
        if (!page.ok()) return done(page.status(), 0);
        client.SearchLeads(
            req.query(), *page, EffectivePageSize(req.page_size()), std::move(call),
            [done = std::move(done), page = *page, query = req.query(),
             page_size = req.page_size()](absl::StatusOr<rest::LeadPageResult> result) mutable {
              if (!result.ok()) return done(result.status(), 0);
              v1::SearchLeadsResponse out;
              for (v1::Lead& lead : result->leads) *out.add_leads() = std::move(lead);
              if (result->has_next) {
                out.set_next_page_token(
                    mapping::EncodePageToken(kLeadsScope, page + 1, query, page_size));
              }
              done(std::move(out), 0);
            });
      });
}

namespace {

constexpr char kLeadListScope[] = "lead-list";

// A page token's query for ListLeads: every filter and the order, so that a token is valid only
// with the request it came from.
std::string LeadListScopeQuery(const v1::ListLeadsRequest& request) {
  std::string stages;
  for (const v1::PipelineStage& stage : request.stages()) {
    absl::StrAppend(&stages, stage.pipeline_id(), ":", stage.status_id(), ",");
  }
  const auto range = [](const v1::TimeRange& r, bool set) {
    if (!set) return std::string("-");
    return absl::StrCat(r.has_from() ? absl::StrCat(r.from().seconds()) : "", "..",
                        r.has_to() ? absl::StrCat(r.to().seconds()) : "");
  };
  return absl::StrCat(absl::StrJoin(request.ids(), ","), "/", stages, "/",
                      absl::StrJoin(request.responsible_user_ids(), ","), "/",
                      range(request.created(), request.has_created()), "/",
                      range(request.updated(), request.has_updated()), "/", request.order_by(),
                      request.descending() ? "d" : "a", "/", request.query());
}

// The query Kommo is asked: stage pairs as filter[statuses], whole pipelines as
// filter[pipeline_id]; a stage of a pipeline also listed whole is covered by the pipeline.
rest::LeadsQuery LeadsQueryOf(const v1::ListLeadsRequest& request) {
  rest::LeadsQuery query;
  query.ids.assign(request.ids().begin(), request.ids().end());
  std::set<int64_t> whole;
  for (const v1::PipelineStage& stage : request.stages()) {
    if (stage.status_id() == 0 && whole.insert(stage.pipeline_id()).second) {
      query.pipeline_ids.push_back(stage.pipeline_id());
    }
  }
  std::set<std::pair<int64_t, int64_t>> seen;
  for (const v1::PipelineStage& stage : request.stages()) {
    if (stage.status_id() == 0 || whole.count(stage.pipeline_id()) > 0) continue;
    if (seen.insert({stage.pipeline_id(), stage.status_id()}).second) {
      query.pipeline_stages.emplace_back(stage.pipeline_id(), stage.status_id());
    }
  }
  query.responsible_user_ids.assign(request.responsible_user_ids().begin(),
                                    request.responsible_user_ids().end());
  if (request.created().has_from()) query.created_from = request.created().from().seconds();
  if (request.created().has_to()) query.created_to = request.created().to().seconds();
  if (request.updated().has_from()) query.updated_from = request.updated().from().seconds();
  if (request.updated().has_to()) query.updated_to = request.updated().to().seconds();
  query.query = request.query();
  switch (request.order_by()) {
    case v1::ListLeadsRequest::ORDER_BY_CREATED_AT:
      query.order_field = "created_at";
      break;
    case v1::ListLeadsRequest::ORDER_BY_UPDATED_AT:
      query.order_field = "updated_at";
      break;
    default:
      query.order_field = "id";
      break;
  }
  query.descending = request.descending();
  return query;
}

}  // namespace

grpc::ServerUnaryReactor* LeadServiceImpl::ListLeads(grpc::CallbackServerContext* context,
                                                     const grpc::ByteBuffer* request,
                                                     grpc::ByteBuffer* response) {
  return Serve<v1::ListLeadsRequest, v1::ListLeadsResponse>(
      context, request, response, "kommo.v1.LeadService/ListLeads", Kind::kRead, options_,
      ValidateListLeads,
      [](rest::KommoClient& client, const v1::ListLeadsRequest& req, CallOptions call, auto done) {
        rest::LeadsQuery query = LeadsQueryOf(req);
        // Kommo ANDs filter[pipeline_id] with filter[statuses]: whole pipelines and single stages
        // of other pipelines cannot be asked together.
        if (!query.pipeline_ids.empty() && !query.pipeline_stages.empty()) {
          return done(MakeInvalidArgument(
                          "invalid ListLeadsRequest: stages mixes whole pipelines (status_id 0) "
                          "with single stages of other pipelines; Kommo cannot filter both at "
                          "once: list them in two calls",
                          {{"stages",
                            "mixes whole pipelines with single stages of other "
                            "pipelines"}}),
                      0);
        }
        const std::string scope = LeadListScopeQuery(req);
        absl::StatusOr<int64_t> page =
            PageOf(req.page_token(), kLeadListScope, scope, req.page_size());
        if (!page.ok()) return done(page.status(), 0);
        query.page = *page;
        query.limit = EffectivePageSize(req.page_size());
        client.ListLeads(query, std::move(call),
                         [done = std::move(done), page = *page, scope, page_size = req.page_size()](
                             absl::StatusOr<rest::LeadPageResult> result) mutable {
                           if (!result.ok()) return done(result.status(), 0);
                           v1::ListLeadsResponse out;
                           for (v1::Lead& lead : result->leads) *out.add_leads() = std::move(lead);
                           if (result->has_next && !out.leads().empty()) {
                             out.set_next_page_token(mapping::EncodePageToken(
                                 kLeadListScope, page + 1, scope, page_size));
                           }
                           done(std::move(out), 0);
                         });
      });
}

grpc::ServerUnaryReactor* ContactServiceImpl::CreateContact(grpc::CallbackServerContext* context,
                                                            const grpc::ByteBuffer* request,
                                                            grpc::ByteBuffer* response) {
  return Serve<v1::CreateContactRequest, v1::CreateContactResponse>(
      context, request, response, "kommo.v1.ContactService/CreateContact", Kind::kWrite, options_,
      ValidateCreateContact,
      [](rest::KommoClient& client, const v1::CreateContactRequest& req, CallOptions call,
         auto done) {
        client.CreateContact(req, std::move(call),
                             [done = std::move(done),
                              mask = req.read_mask()](absl::StatusOr<v1::Contact> contact) mutable {
                               if (!contact.ok()) return done(contact.status(), 0);
                               v1::CreateContactResponse out;
                               const int64_t id = contact->id();
                               TrimToMask(mask, &*contact);
                               *out.mutable_contact() = *std::move(contact);
                               done(std::move(out), id);
                             });
      });
}

grpc::ServerUnaryReactor* ContactServiceImpl::UpdateContact(grpc::CallbackServerContext* context,
                                                            const grpc::ByteBuffer* request,
                                                            grpc::ByteBuffer* response) {
  return Serve<v1::UpdateContactRequest, v1::UpdateContactResponse>(
      context, request, response, "kommo.v1.ContactService/UpdateContact", Kind::kWrite, options_,
      ValidateUpdateContact,
      [](rest::KommoClient& client, const v1::UpdateContactRequest& req, CallOptions call,
         auto done) {
        client.UpdateContact(req, std::move(call),
                             [done = std::move(done),
                              mask = req.read_mask()](absl::StatusOr<v1::Contact> contact) mutable {
                               if (!contact.ok()) return done(contact.status(), 0);
                               v1::UpdateContactResponse out;
                               const int64_t id = contact->id();
                               TrimToMask(mask, &*contact);
                               *out.mutable_contact() = *std::move(contact);
                               done(std::move(out), id);
                             });
      });
}

grpc::ServerUnaryReactor* ContactServiceImpl::GetContact(grpc::CallbackServerContext* context,
                                                         const grpc::ByteBuffer* request,
                                                         grpc::ByteBuffer* response) {
  return Serve<v1::GetContactRequest, v1::GetContactResponse>(
      context, request, response, "kommo.v1.ContactService/GetContact", Kind::kRead, options_,
      ValidateGetContact,
      [](rest::KommoClient& client, const v1::GetContactRequest& req, CallOptions call, auto done) {
        client.GetContact(req.contact_id(), std::move(call),
                          [done = std::move(done)](absl::StatusOr<v1::Contact> contact) mutable {
                            if (!contact.ok()) return done(contact.status(), 0);
                            v1::GetContactResponse out;
                            *out.mutable_contact() = *std::move(contact);
                            done(std::move(out), 0);
                          });
      });
}

grpc::ServerUnaryReactor* ContactServiceImpl::SearchContacts(grpc::CallbackServerContext* context,
                                                             const grpc::ByteBuffer* request,
                                                             grpc::ByteBuffer* response) {
  return Serve<v1::SearchContactsRequest, v1::SearchContactsResponse>(
      context, request, response, "kommo.v1.ContactService/SearchContacts", Kind::kRead, options_,
      ValidateSearchContacts,
      [](rest::KommoClient& client, const v1::SearchContactsRequest& req, CallOptions call,
         auto done) {
        absl::StatusOr<int64_t> page =
            PageOf(req.page_token(), kContactsScope, req.query(), req.page_size());
        if (!page.ok()) return done(page.status(), 0);
        client.SearchContacts(
            req.query(), *page, EffectivePageSize(req.page_size()), std::move(call),
            [done = std::move(done), page = *page, query = req.query(),
             page_size = req.page_size()](absl::StatusOr<rest::ContactPageResult> result) mutable {
              if (!result.ok()) return done(result.status(), 0);
              v1::SearchContactsResponse out;
              for (v1::Contact& contact : result->contacts) {
                *out.add_contacts() = std::move(contact);
              }
              if (result->has_next) {
                out.set_next_page_token(
                    mapping::EncodePageToken(kContactsScope, page + 1, query, page_size));
              }
              done(std::move(out), 0);
            });
      });
}

grpc::ServerUnaryReactor* LeadServiceImpl::CreateLeadWithContact(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  using Response = v1::CreateLeadWithContactResponse;
  return Serve<v1::CreateLeadWithContactRequest, Response>(
      context, request, response, "kommo.v1.LeadService/CreateLeadWithContact", Kind::kWrite,
      options_, ValidateCreateLeadWithContact,
      [](rest::KommoClient& client, const v1::CreateLeadWithContactRequest& req, CallOptions call,
         auto done) {
        client.CreateLeadWithContact(
            req, std::move(call),
            Reply<Response, Response>(std::move(done),
                                      [mask = req.read_mask()](Response& out, Response created) {
                                        const int64_t id = created.lead().id();
                                        TrimToMask(mask, &created);
                                        out = std::move(created);
                                        return id;
                                      }));
      });
}

grpc::ServerUnaryReactor* LeadServiceImpl::CreateIncomingLead(grpc::CallbackServerContext* context,
                                                              const grpc::ByteBuffer* request,
                                                              grpc::ByteBuffer* response) {
  using Response = v1::CreateIncomingLeadResponse;
  return Serve<v1::CreateIncomingLeadRequest, Response>(
      context, request, response, "kommo.v1.LeadService/CreateIncomingLead", Kind::kWrite, options_,
      ValidateCreateIncomingLead,
      [](rest::KommoClient& client, const v1::CreateIncomingLeadRequest& req, CallOptions call,
         auto done) {
        client.CreateIncomingLead(
            req, std::move(call),
            Reply<Response, v1::IncomingLead>(
                std::move(done), [mask = req.read_mask()](Response& out, v1::IncomingLead lead) {
                  const int64_t id = lead.lead_id();
                  TrimToMask(mask, &lead);
                  *out.mutable_incoming_lead() = std::move(lead);
                  return id;
                }));
      });
}

grpc::ServerUnaryReactor* LeadServiceImpl::AcceptIncomingLead(grpc::CallbackServerContext* context,
                                                              const grpc::ByteBuffer* request,
                                                              grpc::ByteBuffer* response) {
  using Response = v1::AcceptIncomingLeadResponse;
  return Serve<v1::AcceptIncomingLeadRequest, Response>(
      context, request, response, "kommo.v1.LeadService/AcceptIncomingLead", Kind::kWrite, options_,
      ValidateAcceptIncomingLead,
      [](rest::KommoClient& client, const v1::AcceptIncomingLeadRequest& req, CallOptions call,
         auto done) {
        client.AcceptIncomingLead(
            req, std::move(call),
            Reply<Response, v1::Lead>(std::move(done),
                                      [mask = req.read_mask()](Response& out, v1::Lead lead) {
                                        const int64_t id = lead.id();
                                        TrimToMask(mask, &lead);
                                        *out.mutable_lead() = std::move(lead);
                                        return id;
                                      }));
      });
}

grpc::ServerUnaryReactor* LeadServiceImpl::DeclineIncomingLead(grpc::CallbackServerContext* context,
                                                               const grpc::ByteBuffer* request,
                                                               grpc::ByteBuffer* response) {
  using Response = v1::DeclineIncomingLeadResponse;
  return Serve<v1::DeclineIncomingLeadRequest, Response>(
      context, request, response, "kommo.v1.LeadService/DeclineIncomingLead", Kind::kWrite,
      options_, ValidateDeclineIncomingLead,
      [](rest::KommoClient& client, const v1::DeclineIncomingLeadRequest& req, CallOptions call,
         auto done) {
        client.DeclineIncomingLead(
            req, std::move(call),
            Reply<Response, Response>(std::move(done), [](Response& out, Response declined) {
              out = std::move(declined);
              return int64_t{0};
            }));
      });
}

grpc::ServerUnaryReactor* LeadServiceImpl::ListIncomingLeads(grpc::CallbackServerContext* context,
                                                             const grpc::ByteBuffer* request,
                                                             grpc::ByteBuffer* response) {
  return Serve<v1::ListIncomingLeadsRequest, v1::ListIncomingLeadsResponse>(
      context, request, response, "kommo.v1.LeadService/ListIncomingLeads", Kind::kRead, options_,
      ValidateListIncomingLeads,
      [](rest::KommoClient& client, const v1::ListIncomingLeadsRequest& req, CallOptions call,
         auto done) {
        const std::string scope = ListScopeQuery({req.pipeline_id()});
        absl::StatusOr<int64_t> page =
            PageOf(req.page_token(), kIncomingLeadsScope, scope, req.page_size());
        if (!page.ok()) return done(page.status(), 0);
        client.ListIncomingLeads(
            req.pipeline_id(), *page, EffectivePageSize(req.page_size()), std::move(call),
            [done = std::move(done), page = *page, scope, page_size = req.page_size()](
                absl::StatusOr<rest::IncomingLeadPageResult> result) mutable {
              if (!result.ok()) return done(result.status(), 0);
              v1::ListIncomingLeadsResponse out;
              for (v1::IncomingLead& lead : result->incoming_leads) {
                *out.add_incoming_leads() = std::move(lead);
              }
              if (result->has_next) {
                out.set_next_page_token(
                    mapping::EncodePageToken(kIncomingLeadsScope, page + 1, scope, page_size));
              }
              done(std::move(out), 0);
            });
      });
}

grpc::ServerUnaryReactor* ContactServiceImpl::LookupContacts(grpc::CallbackServerContext* context,
                                                             const grpc::ByteBuffer* request,
                                                             grpc::ByteBuffer* response) {
  using Response = v1::LookupContactsResponse;
  return Serve<v1::LookupContactsRequest, Response>(
      context, request, response, "kommo.v1.ContactService/LookupContacts", Kind::kRead, options_,
      ValidateLookupContacts,
      [](rest::KommoClient& client, const v1::LookupContactsRequest& req, CallOptions call,
         auto done) {
        client.LookupContacts(
            {req.phones().begin(), req.phones().end()}, {req.emails().begin(), req.emails().end()},
            std::move(call),
            Reply<Response, std::vector<v1::Contact>>(
                std::move(done), [](Response& out, std::vector<v1::Contact> contacts) {
                  for (v1::Contact& contact : contacts) *out.add_contacts() = std::move(contact);
                  return int64_t{0};
                }));
      });
}

grpc::ServerUnaryReactor* ContactServiceImpl::FindOrCreateContact(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    grpc::ByteBuffer* response) {
  using Response = v1::FindOrCreateContactResponse;
  return Serve<v1::FindOrCreateContactRequest, Response>(
      context, request, response, "kommo.v1.ContactService/FindOrCreateContact", Kind::kWrite,
      options_, ValidateFindOrCreateContact,
      [](rest::KommoClient& client, const v1::FindOrCreateContactRequest& req, CallOptions call,
         auto done) {
        client.FindOrCreateContact(
            req, std::move(call),
            Reply<Response, Response>(
                std::move(done), [mask = req.read_mask()](Response& out, Response found) {
                  const int64_t id =
                      found.outcome() == Response::OUTCOME_CREATED ? found.contact().id() : 0;
                  TrimToMask(mask, &found);
                  out = std::move(found);
                  return id;
                }));
      });
}

grpc::ServerUnaryReactor* NoteServiceImpl::AddNote(grpc::CallbackServerContext* context,
                                                   const grpc::ByteBuffer* request,
                                                   grpc::ByteBuffer* response) {
  using Response = v1::AddNoteResponse;
  return Serve<v1::AddNoteRequest, Response>(
      context, request, response, "kommo.v1.NoteService/AddNote", Kind::kWrite, options_,
      ValidateAddNote,
      [](rest::KommoClient& client, const v1::AddNoteRequest& req, CallOptions call, auto done) {
        client.AddNote(req, std::move(call),
                       Reply<Response, v1::Note>(
                           std::move(done), [mask = req.read_mask()](Response& out, v1::Note note) {
                             const int64_t id = note.id();
                             TrimToMask(mask, &note);
                             *out.mutable_note() = std::move(note);
                             return id;
                           }));
      });
}

grpc::ServerUnaryReactor* NoteServiceImpl::ListNotes(grpc::CallbackServerContext* context,
                                                     const grpc::ByteBuffer* request,
                                                     grpc::ByteBuffer* response) {
  return Serve<v1::ListNotesRequest, v1::ListNotesResponse>(
      context, request, response, "kommo.v1.NoteService/ListNotes", Kind::kRead, options_,
      ValidateListNotes,
      [](rest::KommoClient& client, const v1::ListNotesRequest& req, CallOptions call, auto done) {
        const std::string scope =
            ListScopeQuery({req.entity_type(), req.entity_id(), req.order(),
                            req.has_updated_since() ? req.updated_since().seconds() : 0});
        absl::StatusOr<int64_t> page =
            PageOf(req.page_token(), kNotesScope, scope, req.page_size());
        if (!page.ok()) return done(page.status(), 0);
        rest::NotesQuery query;
        query.entity_type = req.entity_type();
        query.entity_id = req.entity_id();
        query.order = req.order();
        query.updated_since = req.has_updated_since() ? req.updated_since().seconds() : 0;
        query.page = *page;
        query.limit = EffectivePageSize(req.page_size());
        client.ListNotes(query, std::move(call),
                         [done = std::move(done), page = *page, scope, page_size = req.page_size()](
                             absl::StatusOr<rest::NotePageResult> result) mutable {
                           if (!result.ok()) return done(result.status(), 0);
                           v1::ListNotesResponse out;
                           for (v1::Note& note : result->notes) *out.add_notes() = std::move(note);
                           if (result->has_next) {
                             out.set_next_page_token(
                                 mapping::EncodePageToken(kNotesScope, page + 1, scope, page_size));
                           }
                           done(std::move(out), 0);
                         });
      });
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* LeadServiceImpl::WatchLeads(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request) {
  return WatchLeadsStream(context, request, options_);
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* ContactServiceImpl::WatchContacts(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request) {
  return WatchContactsStream(context, request, options_);
}

}  // namespace kommo::api
