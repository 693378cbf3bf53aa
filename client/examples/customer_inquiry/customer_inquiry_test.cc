// The inquiry flow against gRPC's generated mock stubs, as a consumer of the KommoGrpc package
// tests its own code: no server, no network.
#include "customer_inquiry.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kommo/client/errors.h"
#include "kommo/v1/contact_service_mock.grpc.pb.h"
#include "kommo/v1/lead_service_mock.grpc.pb.h"
#include "kommo/v1/note_service_mock.grpc.pb.h"

namespace customer_inquiry {
namespace {

using ::testing::_;
using ::testing::ElementsAre;
using ::testing::Invoke;
using ::testing::NiceMock;
using ::testing::Return;
using ::testing::StrictMock;

constexpr int64_t kPipeline = 7000001;
constexpr int64_t kFirstStage = 60000002;
constexpr int64_t kQualified = 60000003;
constexpr int64_t kProposal = 60000004;

Inquiry AnnAsks() {
  Inquiry inquiry;
  inquiry.inquiry_id = "chat-1042";
  inquiry.email = "ann@example.com";
  inquiry.phone = "+1 555 0100";
  inquiry.name = "Ann Lee";
  inquiry.subject = "Chat: delivery to Lisbon";
  inquiry.price = 1500;
  inquiry.transcript = "Visitor: Do you ship to Lisbon?\nBot: Yes, within 3 days.\n";
  inquiry.note_service = "Website chat";
  inquiry.stage_ids = {kQualified, kProposal};
  return inquiry;
}

kommo::v1::Contact MakeContact(int64_t id) {
  kommo::v1::Contact contact;
  contact.set_id(id);
  return contact;
}

kommo::v1::Lead MakeLead(int64_t id, int64_t contact_id, int64_t stage) {
  kommo::v1::Lead lead;
  lead.set_id(id);
  lead.set_pipeline_id(kPipeline);
  lead.set_status_id(stage);
  lead.add_contact_ids(contact_id);
  return lead;
}

// An error as the server sends it: the code, and ErrorInfo with the reason and metadata.
grpc::Status ServerError(grpc::StatusCode code, kommo::v1::ErrorReason reason,
                         const std::map<std::string, std::string>& metadata = {}) {
  google::rpc::Status details;
  details.set_code(static_cast<int>(code));
  details.set_message("failed");
  google::rpc::ErrorInfo info;
  info.set_domain(kommo::client::kErrorDomain);
  info.set_reason(kommo::client::ReasonName(reason));
  info.mutable_metadata()->insert(metadata.begin(), metadata.end());
  details.add_details()->PackFrom(info);
  return grpc::Status(code, details.message(), details.SerializeAsString());
}

class InquiryTest : public ::testing::Test {
 protected:
  // The lookup answers with `found` contacts and records its request.
  void ExpectLookup(std::vector<int64_t> found) {
    EXPECT_CALL(contacts_, LookupContacts(_, _, _))
        .WillOnce(Invoke([this, found](grpc::ClientContext*,
                                       const kommo::v1::LookupContactsRequest& request,
                                       kommo::v1::LookupContactsResponse* response) {
          lookup_ = request;
          for (int64_t id : found) *response->add_contacts() = MakeContact(id);
          return grpc::Status::OK;
        }));
  }

  // AddNote and one UpdateLead per stage, as a successful flow makes them; records the requests.
  void ExpectNoteAndMoves() {
    EXPECT_CALL(notes_, AddNote(_, _, _))
        .WillOnce(Invoke([this](grpc::ClientContext*, const kommo::v1::AddNoteRequest& request,
                                kommo::v1::AddNoteResponse* response) {
          add_note_ = request;
          response->mutable_note()->set_id(90000001);
          response->mutable_note()->set_entity_id(request.entity_id());
          return grpc::Status::OK;
        }));
    EXPECT_CALL(leads_, UpdateLead(_, _, _))
        .WillRepeatedly(
            Invoke([this](grpc::ClientContext*, const kommo::v1::UpdateLeadRequest& request,
                          kommo::v1::UpdateLeadResponse* response) {
              updates_.push_back(request);
              *response->mutable_lead() = MakeLead(request.lead_id(), 0, request.status_id());
              return grpc::Status::OK;
            }));
  }

  StrictMock<kommo::v1::MockLeadServiceStub> leads_;
  StrictMock<kommo::v1::MockContactServiceStub> contacts_;
  StrictMock<kommo::v1::MockNoteServiceStub> notes_;
  kommo::v1::LookupContactsRequest lookup_;
  kommo::v1::AddNoteRequest add_note_;
  std::vector<kommo::v1::UpdateLeadRequest> updates_;
};

TEST_F(InquiryTest, NewPersonGetsTheLeadAndContactInOneCall) {
  ExpectLookup({});
  kommo::v1::CreateLeadWithContactRequest created;
  EXPECT_CALL(leads_, CreateLeadWithContact(_, _, _))
      .WillOnce(Invoke([&created](grpc::ClientContext*,
                                  const kommo::v1::CreateLeadWithContactRequest& request,
                                  kommo::v1::CreateLeadWithContactResponse* response) {
        created = request;
        *response->mutable_lead() = MakeLead(31000000001, 52000000001, kFirstStage);
        *response->mutable_contact() = MakeContact(52000000001);
        return grpc::Status::OK;
      }));
  ExpectNoteAndMoves();

  const Outcome outcome = HandleInquiry(leads_, contacts_, notes_, AnnAsks());

  ASSERT_TRUE(outcome.status.ok()) << kommo::client::FormatError(outcome.status);
  // 1. The lookup is exact, on the email and the phone.
  EXPECT_THAT(lookup_.emails(), ElementsAre("ann@example.com"));
  EXPECT_THAT(lookup_.phones(), ElementsAre("+1 555 0100"));
  // 3. One create for both, keyed by the inquiry.
  EXPECT_TRUE(outcome.person_new);
  EXPECT_EQ(created.request_id(), "chat-1042:lead");
  EXPECT_EQ(created.name(), "Chat: delivery to Lisbon");
  EXPECT_EQ(created.price(), 1500);
  EXPECT_EQ(created.contact().name(), "Ann Lee");
  EXPECT_THAT(created.contact().emails(), ElementsAre("ann@example.com"));
  EXPECT_THAT(created.contact().phones(), ElementsAre("+1 555 0100"));
  EXPECT_EQ(outcome.contact.id(), 52000000001);
  // 4. The transcript on the lead, as the chat service's message.
  EXPECT_EQ(add_note_.request_id(), "chat-1042:note");
  EXPECT_EQ(add_note_.entity_type(), kommo::v1::ENTITY_TYPE_LEAD);
  EXPECT_EQ(add_note_.entity_id(), 31000000001);
  EXPECT_EQ(add_note_.text(), AnnAsks().transcript);
  EXPECT_EQ(add_note_.service(), "Website chat");
  EXPECT_EQ(outcome.note.id(), 90000001);
  // 5. Both stages, in order, in the lead's pipeline; nothing else changes.
  ASSERT_EQ(updates_.size(), 2u);
  EXPECT_EQ(updates_[0].status_id(), kQualified);
  EXPECT_EQ(updates_[1].status_id(), kProposal);
  for (const kommo::v1::UpdateLeadRequest& update : updates_) {
    EXPECT_EQ(update.lead_id(), 31000000001);
    EXPECT_EQ(update.pipeline_id(), kPipeline);
    EXPECT_FALSE(update.has_name());
    EXPECT_FALSE(update.has_price());
  }
  EXPECT_EQ(outcome.lead.status_id(), kProposal);
}

TEST_F(InquiryTest, KnownPersonGetsTheMissingPhoneAndALinkedLead) {
  ExpectLookup({52000000007});
  kommo::v1::FindOrCreateContactRequest find;
  EXPECT_CALL(contacts_, FindOrCreateContact(_, _, _))
      .WillOnce(
          Invoke([&find](grpc::ClientContext*, const kommo::v1::FindOrCreateContactRequest& request,
                         kommo::v1::FindOrCreateContactResponse* response) {
            find = request;
            *response->mutable_contact() = MakeContact(52000000007);
            response->set_outcome(kommo::v1::FindOrCreateContactResponse::OUTCOME_MATCHED);
            return grpc::Status::OK;
          }));
  kommo::v1::CreateLeadRequest lead;
  EXPECT_CALL(leads_, CreateLead(_, _, _))
      .WillOnce(Invoke([&lead](grpc::ClientContext*, const kommo::v1::CreateLeadRequest& request,
                               kommo::v1::CreateLeadResponse* response) {
        lead = request;
        *response->mutable_lead() = MakeLead(31000000002, 52000000007, kFirstStage);
        return grpc::Status::OK;
      }));
  ExpectNoteAndMoves();

  const Outcome outcome = HandleInquiry(leads_, contacts_, notes_, AnnAsks());

  ASSERT_TRUE(outcome.status.ok()) << kommo::client::FormatError(outcome.status);
  EXPECT_FALSE(outcome.person_new);
  EXPECT_EQ(find.request_id(), "chat-1042:contact");
  EXPECT_TRUE(find.add_missing());
  EXPECT_THAT(find.contact().emails(), ElementsAre("ann@example.com"));
  EXPECT_THAT(find.contact().phones(), ElementsAre("+1 555 0100"));
  EXPECT_EQ(outcome.contact_outcome, kommo::v1::FindOrCreateContactResponse::OUTCOME_MATCHED);
  EXPECT_EQ(lead.request_id(), "chat-1042:lead");
  EXPECT_THAT(lead.contact_ids(), ElementsAre(52000000007));
  EXPECT_EQ(add_note_.entity_id(), 31000000002);
  EXPECT_EQ(updates_.size(), 2u);
}

TEST_F(InquiryTest, SeveralMatchingContactsStopTheFlowWithTheCandidates) {
  ExpectLookup({52000000001, 52000000002});
  EXPECT_CALL(contacts_, FindOrCreateContact(_, _, _))
      .WillOnce(Return(ServerError(grpc::StatusCode::FAILED_PRECONDITION,
                                   kommo::v1::ERROR_REASON_CONTACT_AMBIGUOUS,
                                   {{"candidate_ids", "52000000001,52000000002"}})));
  // StrictMock: no lead, note or move.

  const Outcome outcome = HandleInquiry(leads_, contacts_, notes_, AnnAsks());

  EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(outcome.failed_step, "find the contact");
  EXPECT_THAT(outcome.candidate_ids, ElementsAre(52000000001, 52000000002));
  EXPECT_EQ(outcome.lead.id(), 0);
}

// The call's deadline passed before any answer: the same request (same request_id) once more,
// which the server answers from the first call.
TEST_F(InquiryTest, AWriteWhoseAnswerWasLostIsRepeatedWithTheSameRequestId) {
  ExpectLookup({});
  std::vector<std::string> request_ids;
  EXPECT_CALL(leads_, CreateLeadWithContact(_, _, _))
      .WillOnce(Invoke([&request_ids](grpc::ClientContext*,
                                      const kommo::v1::CreateLeadWithContactRequest& request,
                                      kommo::v1::CreateLeadWithContactResponse*) {
        request_ids.push_back(request.request_id());
        return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "Deadline Exceeded");
      }))
      .WillOnce(Invoke([&request_ids](grpc::ClientContext*,
                                      const kommo::v1::CreateLeadWithContactRequest& request,
                                      kommo::v1::CreateLeadWithContactResponse* response) {
        request_ids.push_back(request.request_id());
        *response->mutable_lead() = MakeLead(31000000001, 52000000001, kFirstStage);
        *response->mutable_contact() = MakeContact(52000000001);
        return grpc::Status::OK;
      }));
  ExpectNoteAndMoves();

  const Outcome outcome = HandleInquiry(leads_, contacts_, notes_, AnnAsks());

  ASSERT_TRUE(outcome.status.ok()) << kommo::client::FormatError(outcome.status);
  EXPECT_THAT(request_ids, ElementsAre("chat-1042:lead", "chat-1042:lead"));
  EXPECT_EQ(outcome.lead.id(), 31000000001);
}

// The server's own answer is final: WRITE_OUTCOME_UNKNOWN would come back for the same
// request_id. A failure after the lead exists keeps the lead, so nobody creates it again.
TEST_F(InquiryTest, TheServersErrorsAreNotRepeated) {
  ExpectLookup({});
  EXPECT_CALL(leads_, CreateLeadWithContact(_, _, _))
      .WillOnce(Invoke([](grpc::ClientContext*, const kommo::v1::CreateLeadWithContactRequest&,
                          kommo::v1::CreateLeadWithContactResponse* response) {
        *response->mutable_lead() = MakeLead(31000000001, 52000000001, kFirstStage);
        return grpc::Status::OK;
      }));
  EXPECT_CALL(notes_, AddNote(_, _, _))
      .WillOnce(Return(ServerError(grpc::StatusCode::UNAVAILABLE,
                                   kommo::v1::ERROR_REASON_WRITE_OUTCOME_UNKNOWN)));

  const Outcome outcome = HandleInquiry(leads_, contacts_, notes_, AnnAsks());

  EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(outcome.failed_step, "add the transcript");
  EXPECT_EQ(kommo::client::ReasonOf(outcome.status), kommo::v1::ERROR_REASON_WRITE_OUTCOME_UNKNOWN);
  EXPECT_EQ(outcome.lead.id(), 31000000001);
}

// A run that failed after creating the lead is finished with Inquiry::lead_id: no lookup, no
// contact, no new lead; the note with the inquiry's request_id, then the moves.
TEST_F(InquiryTest, ResumesWithTheLeadAnEarlierRunCreated) {
  Inquiry again = AnnAsks();
  again.lead_id = 31000000001;
  EXPECT_CALL(leads_, GetLead(_, _, _))
      .WillOnce(Invoke([](grpc::ClientContext*, const kommo::v1::GetLeadRequest& request,
                          kommo::v1::GetLeadResponse* response) {
        *response->mutable_lead() = MakeLead(request.lead_id(), 52000000001, kFirstStage);
        return grpc::Status::OK;
      }));
  ExpectNoteAndMoves();  // StrictMock: nothing else

  const Outcome outcome = HandleInquiry(leads_, contacts_, notes_, again);

  ASSERT_TRUE(outcome.status.ok()) << kommo::client::FormatError(outcome.status);
  EXPECT_TRUE(outcome.resumed);
  EXPECT_EQ(add_note_.request_id(), "chat-1042:note");
  EXPECT_EQ(add_note_.entity_id(), 31000000001);
  ASSERT_EQ(updates_.size(), 2u);
  EXPECT_EQ(updates_[0].pipeline_id(), kPipeline);
  EXPECT_EQ(outcome.lead.status_id(), kProposal);
}

TEST_F(InquiryTest, NoTranscriptNoNoteAndAnInquiryIdTooLongForItsRequestIds) {
  Inquiry quiet = AnnAsks();
  quiet.transcript.clear();
  quiet.stage_ids.clear();
  ExpectLookup({});
  EXPECT_CALL(leads_, CreateLeadWithContact(_, _, _)).WillOnce(Return(grpc::Status::OK));
  EXPECT_TRUE(HandleInquiry(leads_, contacts_, notes_, quiet).status.ok());

  Inquiry long_id = AnnAsks();
  long_id.inquiry_id = std::string(kMaxInquiryIdLength + 1, 'x');
  const Outcome outcome = HandleInquiry(leads_, contacts_, notes_, long_id);
  EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(outcome.failed_step, "check the inquiry");
  for (const std::string& id : {ContactRequestId(std::string(kMaxInquiryIdLength, 'x')),
                                LeadRequestId(std::string(kMaxInquiryIdLength, 'x')),
                                NoteRequestId(std::string(kMaxInquiryIdLength, 'x'))}) {
    EXPECT_LE(id.size(), 64u) << id;
  }
}

}  // namespace
}  // namespace customer_inquiry
