#include "server/api/services.h"

#include <chrono>
#include <utility>

#include "server/api/grpc_status.h"
#include "server/api/validation.h"
#include "server/mapping/page_token.h"

namespace kommo::api {
namespace {

using kommo_api::CallOptions;

constexpr char kLeadsScope[] = "leads";
constexpr char kContactsScope[] = "contacts";

CallOptions OptionsFor(const grpc::CallbackServerContext* context, const ServiceOptions& options) {
  const auto deadline = context->deadline();
  const absl::Time now = absl::Now();
  const absl::Time fallback = now + options.default_deadline;
  if (deadline == std::chrono::system_clock::time_point::max()) return {fallback};
  const absl::Time given = absl::FromChrono(deadline);
  return {given > now + absl::Hours(24) ? fallback : given};
}

// The Kommo page a search asks for: 1, or the one its page_token names.
absl::StatusOr<int64_t> PageOf(absl::string_view token, absl::string_view scope,
                               absl::string_view query, int32_t page_size) {
  if (token.empty()) return 1;
  return mapping::DecodePageToken(token, scope, query, page_size);
}

int32_t EffectivePageSize(int32_t page_size) {
  return page_size == 0 ? kDefaultPageSize : page_size;
}

// Finishes `reactor` with `status` when it is not OK; returns whether it did.
bool FinishIfError(grpc::CallbackServerContext* context, grpc::ServerUnaryReactor* reactor,
                   const absl::Status& status) {
  if (status.ok()) return false;
  FinishRpc(context, reactor, status);
  return true;
}

}  // namespace

grpc::ServerUnaryReactor* LeadServiceImpl::CreateLead(grpc::CallbackServerContext* context,
                                                      const v1::CreateLeadRequest* request,
                                                      v1::CreateLeadResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (FinishIfError(context, reactor, ValidateCreateLead(*request))) return reactor;
  client_->CreateLead(*request, OptionsFor(context, options_),
                      [context, reactor, response](absl::StatusOr<v1::Lead> lead) {
                        if (lead.ok()) *response->mutable_lead() = *std::move(lead);
                        FinishRpc(context, reactor, lead.status());
                      });
  return reactor;
}

grpc::ServerUnaryReactor* LeadServiceImpl::UpdateLead(grpc::CallbackServerContext* context,
                                                      const v1::UpdateLeadRequest* request,
                                                      v1::UpdateLeadResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (FinishIfError(context, reactor, ValidateUpdateLead(*request))) return reactor;
  client_->UpdateLead(*request, OptionsFor(context, options_),
                      [context, reactor, response](absl::StatusOr<v1::Lead> lead) {
                        if (lead.ok()) *response->mutable_lead() = *std::move(lead);
                        FinishRpc(context, reactor, lead.status());
                      });
  return reactor;
}

grpc::ServerUnaryReactor* LeadServiceImpl::GetLead(grpc::CallbackServerContext* context,
                                                   const v1::GetLeadRequest* request,
                                                   v1::GetLeadResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (FinishIfError(context, reactor, ValidateGetLead(*request))) return reactor;
  client_->GetLead(request->lead_id(), OptionsFor(context, options_),
                   [context, reactor, response](absl::StatusOr<v1::Lead> lead) {
                     if (lead.ok()) *response->mutable_lead() = *std::move(lead);
                     FinishRpc(context, reactor, lead.status());
                   });
  return reactor;
}

grpc::ServerUnaryReactor* LeadServiceImpl::SearchLeads(grpc::CallbackServerContext* context,
                                                       const v1::SearchLeadsRequest* request,
                                                       v1::SearchLeadsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (FinishIfError(context, reactor, ValidateSearchLeads(*request))) return reactor;
  absl::StatusOr<int64_t> page =
      PageOf(request->page_token(), kLeadsScope, request->query(), request->page_size());
  if (FinishIfError(context, reactor, page.status())) return reactor;
  const int32_t page_size = EffectivePageSize(request->page_size());
  client_->SearchLeads(
      request->query(), *page, page_size, OptionsFor(context, options_),
      [context, reactor, response, page = *page, query = request->query(),
       requested_size = request->page_size()](absl::StatusOr<kommo_api::LeadPageResult> result) {
        if (result.ok()) {
          for (v1::Lead& lead : result->leads) *response->add_leads() = std::move(lead);
          if (result->has_next) {
            response->set_next_page_token(
                mapping::EncodePageToken(kLeadsScope, page + 1, query, requested_size));
          }
        }
        FinishRpc(context, reactor, result.status());
      });
  return reactor;
}

grpc::ServerUnaryReactor* ContactServiceImpl::CreateContact(grpc::CallbackServerContext* context,
                                                            const v1::CreateContactRequest* request,
                                                            v1::CreateContactResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (FinishIfError(context, reactor, ValidateCreateContact(*request))) return reactor;
  client_->CreateContact(*request, OptionsFor(context, options_),
                         [context, reactor, response](absl::StatusOr<v1::Contact> contact) {
                           if (contact.ok()) *response->mutable_contact() = *std::move(contact);
                           FinishRpc(context, reactor, contact.status());
                         });
  return reactor;
}

grpc::ServerUnaryReactor* ContactServiceImpl::GetContact(grpc::CallbackServerContext* context,
                                                         const v1::GetContactRequest* request,
                                                         v1::GetContactResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (FinishIfError(context, reactor, ValidateGetContact(*request))) return reactor;
  client_->GetContact(request->contact_id(), OptionsFor(context, options_),
                      [context, reactor, response](absl::StatusOr<v1::Contact> contact) {
                        if (contact.ok()) *response->mutable_contact() = *std::move(contact);
                        FinishRpc(context, reactor, contact.status());
                      });
  return reactor;
}

grpc::ServerUnaryReactor* ContactServiceImpl::SearchContacts(
    grpc::CallbackServerContext* context, const v1::SearchContactsRequest* request,
    v1::SearchContactsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (FinishIfError(context, reactor, ValidateSearchContacts(*request))) return reactor;
  absl::StatusOr<int64_t> page =
      PageOf(request->page_token(), kContactsScope, request->query(), request->page_size());
  if (FinishIfError(context, reactor, page.status())) return reactor;
  const int32_t page_size = EffectivePageSize(request->page_size());
  client_->SearchContacts(
      request->query(), *page, page_size, OptionsFor(context, options_),
      [context, reactor, response, page = *page, query = request->query(),
       requested_size = request->page_size()](absl::StatusOr<kommo_api::ContactPageResult> result) {
        if (result.ok()) {
          for (v1::Contact& contact : result->contacts) {
            *response->add_contacts() = std::move(contact);
          }
          if (result->has_next) {
            response->set_next_page_token(
                mapping::EncodePageToken(kContactsScope, page + 1, query, requested_size));
          }
        }
        FinishRpc(context, reactor, result.status());
      });
  return reactor;
}

}  // namespace kommo::api
