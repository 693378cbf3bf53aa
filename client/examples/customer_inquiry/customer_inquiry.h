// Customer inquiry handling: what a chat backend does with one inquiry (a visitor who wrote in,
// left an email and maybe a phone, and talked with the bot), on kommo-grpc's lead-capture RPCs:
//  1. LookupContacts: is the person known? (exact match on the email and phone);
//  2. known: FindOrCreateContact resolves the one contact and adds the phone or email it lacks;
//  3. new: CreateLeadWithContact creates the lead and the contact in one Kommo request;
//     known: CreateLead links a new lead to the contact;
//  4. AddNote puts the chat transcript on the lead;
//  5. UpdateLead moves the lead through the stages the conversation reached.
//
// Every write carries a request_id derived from the inquiry id ("<inquiry_id>:lead"), so a write
// whose answer was lost (the call's deadline passed, the connection dropped) is sent once more
// with the same request_id: the server answers it from the first call and writes nothing twice.
// (UpdateLead sets given values, so repeating it is harmless: the channel's retry policy does.)
// The server keeps request ids per RPC: they make each call safe to repeat, not a second run of
// the whole flow, which would find the person known and create another lead. A run that fails
// after creating the lead reports its id; run the inquiry again with Inquiry::lead_id set.
//
// It takes the stub interfaces, so tests pass the generated mocks and production real stubs.
#ifndef CUSTOMER_INQUIRY_H_
#define CUSTOMER_INQUIRY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "kommo/v1/contact_service.grpc.pb.h"
#include "kommo/v1/lead_service.grpc.pb.h"
#include "kommo/v1/note_service.grpc.pb.h"

namespace customer_inquiry {

struct Inquiry {
  // Required: the inquiry's id in the chat system, at most 55 characters; the request ids are
  // made from it.
  std::string inquiry_id;
  std::string email;                // required: how the person is found
  std::string phone;                // optional: also matched, and stored
  std::string name;                 // the person's name, when the contact is created
  std::string subject;              // required: the lead's name
  int64_t price = 0;                // the expected deal value
  int64_t responsible_user_id = 0;  // 0: the server token's user
  std::string transcript;           // the chat, as the lead's note; empty: no note
  std::string note_service;         // set: the note is a service message from this name
  std::vector<int64_t> stage_ids;   // the stages the conversation reached, in order
  // Set: an earlier run of this inquiry created this lead and then failed; only the note and
  // the stage moves are done (the note's request_id makes a note that was added the first time
  // come back instead of a second one).
  int64_t lead_id = 0;
};

// The request ids of one inquiry's writes.
std::string ContactRequestId(const std::string& inquiry_id);
std::string LeadRequestId(const std::string& inquiry_id);
std::string NoteRequestId(const std::string& inquiry_id);

// The longest inquiry id: its request ids stay within the server's 64 characters.
inline constexpr size_t kMaxInquiryIdLength = 55;

struct Outcome {
  // OK, or the status of the call that failed; `failed_step` names it.
  grpc::Status status;
  std::string failed_step;
  // True when the lookup found nobody, so the contact was created with the lead.
  bool person_new = false;
  // True when Inquiry::lead_id was given: steps 1 to 3 were skipped.
  bool resumed = false;
  // For a known person: MATCHED, or CREATED when the contact vanished since the lookup.
  kommo::v1::FindOrCreateContactResponse::Outcome contact_outcome =
      kommo::v1::FindOrCreateContactResponse::OUTCOME_UNSPECIFIED;
  // For a new person: Kommo's duplicate control merged the new contact into an existing one.
  bool contact_merged = false;
  kommo::v1::Contact contact;
  // The lead as last seen (id() != 0 once it exists: do not create it again).
  kommo::v1::Lead lead;
  kommo::v1::Note note;
  // CONTACT_AMBIGUOUS: the contacts that matched (merge them in Kommo, or pick one).
  std::vector<int64_t> candidate_ids;
};

// Runs the flow for one inquiry. Each call gets its own ClientContext with the default deadline.
Outcome HandleInquiry(kommo::v1::LeadService::StubInterface& leads,
                      kommo::v1::ContactService::StubInterface& contacts,
                      kommo::v1::NoteService::StubInterface& notes, const Inquiry& inquiry);

}  // namespace customer_inquiry

#endif  // CUSTOMER_INQUIRY_H_
