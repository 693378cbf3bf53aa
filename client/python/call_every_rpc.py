#!/usr/bin/python3
"""Calls every kommo.v1 RPC, and two error cases, from Python.

Proves the API works outside C++: the stubs are generated from proto/ with Debian's protoc and
grpc_python_plugin, the runtime is Debian's python3-grpcio. Usage (tests/client/python_client_e2e.sh
does all of it):

    protoc -I proto -I proto/third_party --python_out=OUT --grpc_out=OUT \
        --plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin \
        kommo/v1/*.proto google/rpc/status.proto google/rpc/error_details.proto
    PYTHONPATH=OUT /usr/bin/python3 client/python/call_every_rpc.py 127.0.0.1:50051

Uses the emulator's seeded ids (admin user 8000001, main pipeline 7000001 with stages 60000002
and 60000003). Exits 1 when a check fails.
"""

import sys

import grpc
from google.rpc import error_details_pb2, status_pb2
from kommo.v1 import (common_pb2, contact_pb2, contact_service_pb2, contact_service_pb2_grpc,
                      incoming_lead_pb2, lead_service_pb2, lead_service_pb2_grpc, note_service_pb2,
                      note_service_pb2_grpc)

ADMIN_USER = 8000001
MAIN_PIPELINE = 7000001
SECOND_STAGE = 60000003
TIMEOUT_SECONDS = 10

failures = []


def check(name, condition, detail=""):
    print(("ok: " if condition else "FAIL: ") + name + ("" if condition else f": {detail}"))
    if not condition:
        failures.append(name)


def error_details(error):
    """The google.rpc.Status the server put in the grpc-status-details-bin trailer."""
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            return status_pb2.Status.FromString(value)
    return None


def unpack(status, message_type):
    """The first detail of `message_type` in a google.rpc.Status, or None."""
    for any_detail in status.details:
        if any_detail.Is(message_type.DESCRIPTOR):
            detail = message_type()
            any_detail.Unpack(detail)
            return detail
    return None


def main(target):
    with grpc.insecure_channel(target) as channel:
        leads = lead_service_pb2_grpc.LeadServiceStub(channel)
        contacts = contact_service_pb2_grpc.ContactServiceStub(channel)

        contact = contacts.CreateContact(
            contact_service_pb2.CreateContactRequest(
                responsible_user_id=ADMIN_USER, created_by=ADMIN_USER, name="Python Client",
                phones=["+1 555 0199"], emails=["python@example.com"]),
            timeout=TIMEOUT_SECONDS).contact
        check("CreateContact", contact.id > 2**31 and list(contact.emails) == ["python@example.com"],
              contact)

        got = contacts.GetContact(contact_service_pb2.GetContactRequest(contact_id=contact.id),
                                  timeout=TIMEOUT_SECONDS).contact
        check("GetContact", got.name == "Python Client" and list(got.phones) == ["+1 555 0199"], got)

        found = contacts.SearchContacts(
            contact_service_pb2.SearchContactsRequest(query="python@example.com"),
            timeout=TIMEOUT_SECONDS)
        check("SearchContacts", [c.id for c in found.contacts] == [contact.id], found)

        lead = leads.CreateLead(
            lead_service_pb2.CreateLeadRequest(name="Python lead", price=700,
                                               contact_ids=[contact.id]),
            timeout=TIMEOUT_SECONDS).lead
        check("CreateLead",
              lead.pipeline_id == MAIN_PIPELINE and list(lead.contact_ids) == [contact.id]
              and lead.price == 700 and lead.created_at.seconds > 0, lead)

        # proto3 `optional`: price=0 is sent as set; name is left alone.
        update = lead_service_pb2.UpdateLeadRequest(lead_id=lead.id, price=0, status_id=SECOND_STAGE)
        check("UpdateLead request has price set", update.HasField("price") and
              not update.HasField("name"))
        updated = leads.UpdateLead(update, timeout=TIMEOUT_SECONDS).lead
        check("UpdateLead", updated.price == 0 and updated.status_id == SECOND_STAGE
              and updated.name == "Python lead", updated)

        got_lead = leads.GetLead(lead_service_pb2.GetLeadRequest(lead_id=lead.id),
                                 timeout=TIMEOUT_SECONDS).lead
        check("GetLead", got_lead.status_id == SECOND_STAGE, got_lead)

        searched = leads.SearchLeads(lead_service_pb2.SearchLeadsRequest(query="Python", page_size=10),
                                     timeout=TIMEOUT_SECONDS)
        check("SearchLeads", [l.id for l in searched.leads] == [lead.id], searched)

        # Lead capture.
        notes = note_service_pb2_grpc.NoteServiceStub(channel)
        person = contact_pb2.NewContact(name="Py Visitor", phones=["+7 (912) 000-11-22"],
                                        emails=["Py.Visitor@example.com"])
        found_or_made = contacts.FindOrCreateContact(
            contact_service_pb2.FindOrCreateContactRequest(request_id="py-visitor", contact=person),
            timeout=TIMEOUT_SECONDS)
        check("FindOrCreateContact", found_or_made.outcome ==
              contact_service_pb2.FindOrCreateContactResponse.OUTCOME_CREATED, found_or_made)
        looked_up = contacts.LookupContacts(
            contact_service_pb2.LookupContactsRequest(phones=["8 912 000 11 22"]),
            timeout=TIMEOUT_SECONDS)
        check("LookupContacts", [c.id for c in looked_up.contacts] == [found_or_made.contact.id],
              looked_up)
        with_contact = leads.CreateLeadWithContact(
            lead_service_pb2.CreateLeadWithContactRequest(
                request_id="py-deal", name="Py deal",
                contact=contact_pb2.NewContact(name="Py Buyer", emails=["buyer@example.com"])),
            timeout=TIMEOUT_SECONDS)
        check("CreateLeadWithContact",
              list(with_contact.lead.contact_ids) == [with_contact.contact.id], with_contact)
        note = notes.AddNote(note_service_pb2.AddNoteRequest(
            entity_type=common_pb2.ENTITY_TYPE_LEAD, entity_id=with_contact.lead.id,
            text="Visitor: hi\nBot: hello"), timeout=TIMEOUT_SECONDS).note
        listed = notes.ListNotes(note_service_pb2.ListNotesRequest(
            entity_type=common_pb2.ENTITY_TYPE_LEAD, entity_id=with_contact.lead.id),
            timeout=TIMEOUT_SECONDS)
        check("AddNote and ListNotes", [n.id for n in listed.notes] == [note.id], listed)
        incoming = leads.CreateIncomingLead(lead_service_pb2.CreateIncomingLeadRequest(
            source_uid="py-form-1", source_name="Python form",
            form=incoming_lead_pb2.FormMetadata(form_id="f1", form_name="Contact us")),
            timeout=TIMEOUT_SECONDS).incoming_lead
        waiting = leads.ListIncomingLeads(lead_service_pb2.ListIncomingLeadsRequest(),
                                          timeout=TIMEOUT_SECONDS)
        check("CreateIncomingLead and ListIncomingLeads",
              [i.uid for i in waiting.incoming_leads] == [incoming.uid], waiting)
        accepted = leads.AcceptIncomingLead(
            lead_service_pb2.AcceptIncomingLeadRequest(uid=incoming.uid),
            timeout=TIMEOUT_SECONDS).lead
        check("AcceptIncomingLead", accepted.id == incoming.lead_id, accepted)

        # Errors: the code, and the details a Python caller decodes with googleapis' messages.
        try:
            leads.GetLead(lead_service_pb2.GetLeadRequest(lead_id=31000009999),
                          timeout=TIMEOUT_SECONDS)
            check("GetLead of an unknown id fails", False, "it succeeded")
        except grpc.RpcError as error:
            info = unpack(error_details(error) or status_pb2.Status(), error_details_pb2.ErrorInfo)
            check("unknown id: NOT_FOUND with ErrorInfo LEAD_NOT_FOUND",
                  error.code() == grpc.StatusCode.NOT_FOUND and info is not None
                  and info.reason == "LEAD_NOT_FOUND" and info.domain == "kommo-grpc",
                  f"{error.code()} {info}")

        try:
            leads.CreateLead(lead_service_pb2.CreateLeadRequest(price=-1), timeout=TIMEOUT_SECONDS)
            check("CreateLead without a name fails", False, "it succeeded")
        except grpc.RpcError as error:
            details = error_details(error) or status_pb2.Status()
            bad_request = unpack(details, error_details_pb2.BadRequest)
            fields = [v.field for v in bad_request.field_violations] if bad_request else []
            check("invalid request: INVALID_ARGUMENT with BadRequest naming the fields",
                  error.code() == grpc.StatusCode.INVALID_ARGUMENT and fields == ["name", "price"],
                  f"{error.code()} {fields}")

    print(f"{'FAILED: ' + ', '.join(failures) if failures else 'all RPCs work from Python'}")
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: call_every_rpc.py HOST:PORT")
    sys.exit(main(sys.argv[1]))
