#include "customer_inquiry.h"

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <utility>

#include "kommo/client/channel.h"
#include "kommo/client/errors.h"

namespace customer_inquiry {
namespace {

// True when a write's answer never arrived: the call's deadline passed or the connection failed
// before the server said anything (no ErrorInfo). The write may or may not have happened; sent
// again with the same request_id, the server returns the first call's answer if it did.
// A server's own error (with ErrorInfo, WRITE_OUTCOME_UNKNOWN included) is final: a repeat with
// the same request_id would only get that answer again.
bool AnswerLost(const grpc::Status& status) {
  return (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED ||
          status.error_code() == grpc::StatusCode::UNAVAILABLE) &&
         !kommo::client::GetErrorInfo(status).has_value();
}

// Calls `write` (which makes a fresh ClientContext each time), once more when the answer was lost.
template <typename Write>
grpc::Status WriteOnce(Write&& write) {
  grpc::Status status = write();
  if (AnswerLost(status)) status = write();
  return status;
}

// ErrorInfo metadata candidate_ids ("52000000001,52000000002") of CONTACT_AMBIGUOUS.
std::vector<int64_t> CandidateIds(const grpc::Status& status) {
  std::vector<int64_t> ids;
  const std::optional<google::rpc::ErrorInfo> info = kommo::client::GetErrorInfo(status);
  if (!info) return ids;
  const auto it = info->metadata().find("candidate_ids");
  if (it == info->metadata().end()) return ids;
  const std::string& text = it->second;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    const std::string part = text.substr(start, comma - start);
    char* end = nullptr;
    const long long id = std::strtoll(part.c_str(), &end, 10);
    if (!part.empty() && *end == '\0' && id > 0) ids.push_back(id);
    start = comma + 1;
  }
  return ids;
}

void FillContact(const Inquiry& inquiry, kommo::v1::NewContact& contact) {
  contact.set_name(inquiry.name);
  contact.add_emails(inquiry.email);
  if (!inquiry.phone.empty()) contact.add_phones(inquiry.phone);
  contact.set_responsible_user_id(inquiry.responsible_user_id);
}

Outcome Fail(Outcome& outcome, const char* step, grpc::Status status) {
  outcome.failed_step = step;
  outcome.status = std::move(status);
  return outcome;
}

// Steps 4 and 5, on outcome.lead.
Outcome AddTranscriptAndMove(kommo::v1::LeadService::StubInterface& leads,
                             kommo::v1::NoteService::StubInterface& notes, const Inquiry& inquiry,
                             Outcome& outcome) {
  using kommo::client::NewCallContext;
  // 4. The chat transcript, on the lead.
  if (!inquiry.transcript.empty()) {
    kommo::v1::AddNoteRequest request;
    request.set_request_id(NoteRequestId(inquiry.inquiry_id));
    request.set_entity_type(kommo::v1::ENTITY_TYPE_LEAD);
    request.set_entity_id(outcome.lead.id());
    request.set_text(inquiry.transcript);
    request.set_service(inquiry.note_service);
    kommo::v1::AddNoteResponse response;
    const grpc::Status status =
        WriteOnce([&] { return notes.AddNote(NewCallContext().get(), request, &response); });
    if (!status.ok()) return Fail(outcome, "add the transcript", status);
    outcome.note = response.note();
  }

  // 5. The stages the conversation reached, in order, within the lead's pipeline. Only the
  // stage changes.
  for (const int64_t stage : inquiry.stage_ids) {
    kommo::v1::UpdateLeadRequest request;
    request.set_lead_id(outcome.lead.id());
    request.set_pipeline_id(outcome.lead.pipeline_id());
    request.set_status_id(stage);
    kommo::v1::UpdateLeadResponse response;
    const grpc::Status status = leads.UpdateLead(NewCallContext().get(), request, &response);
    if (!status.ok()) return Fail(outcome, "move the lead", status);
    outcome.lead = response.lead();
  }
  return outcome;
}

}  // namespace

std::string ContactRequestId(const std::string& inquiry_id) { return inquiry_id + ":contact"; }
std::string LeadRequestId(const std::string& inquiry_id) { return inquiry_id + ":lead"; }
std::string NoteRequestId(const std::string& inquiry_id) { return inquiry_id + ":note"; }

Outcome HandleInquiry(kommo::v1::LeadService::StubInterface& leads,
                      kommo::v1::ContactService::StubInterface& contacts,
                      kommo::v1::NoteService::StubInterface& notes, const Inquiry& inquiry) {
  // Each call gets NewCallContext(): the temporary lives until the end of the statement, that is
  // past the (synchronous) call.
  using kommo::client::NewCallContext;
  Outcome outcome;
  auto fail = [&outcome](const char* step, grpc::Status status) {
    return Fail(outcome, step, std::move(status));
  };
  if (inquiry.inquiry_id.empty() || inquiry.inquiry_id.size() > kMaxInquiryIdLength) {
    return fail("check the inquiry", grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                                  "the inquiry id must be 1 to 55 characters"));
  }

  if (inquiry.lead_id != 0) {
    // An earlier run made the lead: continue with it.
    kommo::v1::GetLeadRequest request;
    request.set_lead_id(inquiry.lead_id);
    kommo::v1::GetLeadResponse response;
    const grpc::Status status = leads.GetLead(NewCallContext().get(), request, &response);
    if (!status.ok()) return fail("get the lead", status);
    outcome.resumed = true;
    outcome.lead = response.lead();
    return AddTranscriptAndMove(leads, notes, inquiry, outcome);
  }

  // 1. Is the person known? An exact match on the email or the phone, never a loose one.
  {
    kommo::v1::LookupContactsRequest request;
    request.add_emails(inquiry.email);
    if (!inquiry.phone.empty()) request.add_phones(inquiry.phone);
    kommo::v1::LookupContactsResponse response;
    const grpc::Status status = contacts.LookupContacts(NewCallContext().get(), request, &response);
    if (!status.ok()) return fail("look up the contact", status);
    outcome.person_new = response.contacts().empty();
  }

  if (!outcome.person_new) {
    // 2. Known: the one contact (several matching is CONTACT_AMBIGUOUS, nothing written), with
    // the email or phone it lacks added.
    kommo::v1::FindOrCreateContactRequest request;
    request.set_request_id(ContactRequestId(inquiry.inquiry_id));
    FillContact(inquiry, *request.mutable_contact());
    request.set_add_missing(true);
    kommo::v1::FindOrCreateContactResponse response;
    grpc::Status status = WriteOnce(
        [&] { return contacts.FindOrCreateContact(NewCallContext().get(), request, &response); });
    if (!status.ok()) {
      if (kommo::client::ReasonOf(status) == kommo::v1::ERROR_REASON_CONTACT_AMBIGUOUS) {
        outcome.candidate_ids = CandidateIds(status);
      }
      return fail("find the contact", std::move(status));
    }
    outcome.contact = response.contact();
    outcome.contact_outcome = response.outcome();

    // 3. A new lead linked to that contact.
    kommo::v1::CreateLeadRequest lead;
    lead.set_request_id(LeadRequestId(inquiry.inquiry_id));
    lead.set_name(inquiry.subject);
    lead.set_price(inquiry.price);
    lead.set_responsible_user_id(inquiry.responsible_user_id);
    lead.add_contact_ids(outcome.contact.id());
    kommo::v1::CreateLeadResponse created;
    status = WriteOnce([&] { return leads.CreateLead(NewCallContext().get(), lead, &created); });
    if (!status.ok()) return fail("create the lead", std::move(status));
    outcome.lead = created.lead();
  } else {
    // 3. New: the lead and its contact in one Kommo request.
    kommo::v1::CreateLeadWithContactRequest request;
    request.set_request_id(LeadRequestId(inquiry.inquiry_id));
    request.set_name(inquiry.subject);
    request.set_price(inquiry.price);
    request.set_responsible_user_id(inquiry.responsible_user_id);
    FillContact(inquiry, *request.mutable_contact());
    kommo::v1::CreateLeadWithContactResponse response;
    grpc::Status status = WriteOnce(
        [&] { return leads.CreateLeadWithContact(NewCallContext().get(), request, &response); });
    if (!status.ok()) return fail("create the lead with its contact", std::move(status));
    outcome.lead = response.lead();
    outcome.contact = response.contact();
    outcome.contact_merged = response.contact_merged();
  }

  return AddTranscriptAndMove(leads, notes, inquiry, outcome);
}

}  // namespace customer_inquiry
