// The lead-qualification flow of a chatbot backend, written against the generated kommo.v1 stubs:
//  1. find the contact by email (Kommo's search is loose, so the email must match exactly),
//  2. create the contact if there is none,
//  3. create a lead linked to the contact,
//  4. move the lead to the next stage ("qualified").
//
// It takes the stub interfaces, not a channel, so tests pass the generated mocks
// (kommo::v1::MockLeadServiceStub, MockContactServiceStub) and production passes real stubs.
#ifndef LEAD_QUALIFICATION_H_
#define LEAD_QUALIFICATION_H_

#include <cstdint>
#include <string>

#include "kommo/v1/contact_service.grpc.pb.h"
#include "kommo/v1/lead_service.grpc.pb.h"

namespace lead_qualification {

struct Prospect {
  std::string email;                // required: how the contact is found
  std::string name;                 // the contact's name, when it has to be created
  std::string phone;                // optional, stored on a new contact
  std::string lead_name;            // required
  int64_t price = 0;                // the expected deal value
  int64_t responsible_user_id = 0;  // required: owner (and creator) of a new contact
  int64_t qualified_status_id = 0;  // required: the stage the lead moves to
};

struct Outcome {
  // OK, or the status of the call that failed; `failed_step` names it.
  grpc::Status status;
  std::string failed_step;
  kommo::v1::Contact contact;
  bool contact_created = false;
  // The lead as last seen: after the move on success; as created when only the move failed
  // (lead.id() != 0 then: the lead exists, do not create it again).
  kommo::v1::Lead lead;
};

// Runs the flow. Every call gets its own ClientContext with the default deadline
// (kommo::client::NewCallContext); the channel's service config supplies the retries.
Outcome Qualify(kommo::v1::LeadService::StubInterface& leads,
                kommo::v1::ContactService::StubInterface& contacts, const Prospect& prospect);

}  // namespace lead_qualification

#endif  // LEAD_QUALIFICATION_H_
