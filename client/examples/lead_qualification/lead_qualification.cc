#include "lead_qualification.h"

#include <algorithm>
#include <cctype>
#include <optional>
#include <utility>

#include "kommo/client/channel.h"

namespace lead_qualification {
namespace {

// Kommo's search matches loosely ("ann@example.com" also finds "joann@example.com"): look at a few
// pages for an exact, case-insensitive match. More pages than this means the query is too vague.
constexpr int kMaxSearchPages = 5;
constexpr int kSearchPageSize = 50;

bool SameEmail(const std::string& a, const std::string& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// The contact whose emails include `email`, nullopt when none; a failed call sets `status`.
std::optional<kommo::v1::Contact> FindByEmail(kommo::v1::ContactService::StubInterface& contacts,
                                              const std::string& email, grpc::Status& status) {
  kommo::v1::SearchContactsRequest request;
  request.set_query(email);
  request.set_page_size(kSearchPageSize);
  for (int page = 0; page < kMaxSearchPages; ++page) {
    kommo::v1::SearchContactsResponse response;
    status = contacts.SearchContacts(kommo::client::NewCallContext().get(), request, &response);
    if (!status.ok()) return std::nullopt;
    for (const kommo::v1::Contact& contact : response.contacts()) {
      for (const std::string& candidate : contact.emails()) {
        if (SameEmail(candidate, email)) return contact;
      }
    }
    if (response.next_page_token().empty()) break;
    request.set_page_token(response.next_page_token());
  }
  return std::nullopt;
}

}  // namespace

Outcome Qualify(kommo::v1::LeadService::StubInterface& leads,
                kommo::v1::ContactService::StubInterface& contacts, const Prospect& prospect) {
  // Each call below gets NewCallContext(): the temporary lives until the end of the statement,
  // that is past the (synchronous) call.
  Outcome outcome;
  auto fail = [&outcome](const char* step, grpc::Status status) {
    outcome.failed_step = step;
    outcome.status = std::move(status);
    return outcome;
  };

  // 1. Find the contact.
  grpc::Status status;
  std::optional<kommo::v1::Contact> found = FindByEmail(contacts, prospect.email, status);
  if (!status.ok()) return fail("search contact", status);

  // 2. Create it when missing. A create that fails UNAVAILABLE may still have happened (reason
  // WRITE_OUTCOME_UNKNOWN); running the flow again searches first, so it cannot duplicate it.
  if (found) {
    outcome.contact = *found;
  } else {
    kommo::v1::CreateContactRequest request;
    request.set_responsible_user_id(prospect.responsible_user_id);
    request.set_created_by(prospect.responsible_user_id);
    request.set_name(prospect.name);
    request.add_emails(prospect.email);
    if (!prospect.phone.empty()) request.add_phones(prospect.phone);
    kommo::v1::CreateContactResponse response;
    status = contacts.CreateContact(kommo::client::NewCallContext().get(), request, &response);
    if (!status.ok()) return fail("create contact", status);
    outcome.contact = response.contact();
    outcome.contact_created = true;
  }

  // 3. Create the lead, linked to the contact.
  {
    kommo::v1::CreateLeadRequest request;
    request.set_name(prospect.lead_name);
    request.set_price(prospect.price);
    request.add_contact_ids(outcome.contact.id());
    kommo::v1::CreateLeadResponse response;
    status = leads.CreateLead(kommo::client::NewCallContext().get(), request, &response);
    if (!status.ok()) return fail("create lead", status);
    outcome.lead = response.lead();
  }

  // 4. Move it to the next stage, in the pipeline it landed in. Only the fields set here change.
  {
    kommo::v1::UpdateLeadRequest request;
    request.set_lead_id(outcome.lead.id());
    request.set_pipeline_id(outcome.lead.pipeline_id());
    request.set_status_id(prospect.qualified_status_id);
    kommo::v1::UpdateLeadResponse response;
    status = leads.UpdateLead(kommo::client::NewCallContext().get(), request, &response);
    if (!status.ok()) return fail("move lead", status);
    outcome.lead = response.lead();
  }
  return outcome;
}

}  // namespace lead_qualification
