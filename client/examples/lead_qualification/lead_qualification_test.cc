// The flow against gRPC's generated mock stubs, as a consumer of the KommoGrpc package tests its
// own code: no server, no network.
#include "lead_qualification.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>

#include "kommo/client/errors.h"
#include "kommo/v1/contact_service_mock.grpc.pb.h"
#include "kommo/v1/lead_service_mock.grpc.pb.h"

namespace lead_qualification {
namespace {

using ::testing::_;
using ::testing::ElementsAre;
using ::testing::Invoke;
using ::testing::NiceMock;
using ::testing::Return;

constexpr int64_t kUser = 8000001;
constexpr int64_t kPipeline = 7000001;
constexpr int64_t kFirstStage = 60000002;
constexpr int64_t kQualified = 60000003;

Prospect AnnLee() {
  Prospect prospect;
  prospect.email = "ann@example.com";
  prospect.name = "Ann Lee";
  prospect.phone = "+1 555 0100";
  prospect.lead_name = "Chat: pricing question";
  prospect.price = 1500;
  prospect.responsible_user_id = kUser;
  prospect.qualified_status_id = kQualified;
  return prospect;
}

kommo::v1::Contact MakeContact(int64_t id, const std::string& email) {
  kommo::v1::Contact contact;
  contact.set_id(id);
  contact.add_emails(email);
  return contact;
}

// The server's lead after CreateLead (first stage) and after UpdateLead (the stage asked for).
kommo::v1::Lead MakeLead(int64_t id, const kommo::v1::CreateLeadRequest& request, int64_t stage) {
  kommo::v1::Lead lead;
  lead.set_id(id);
  lead.set_name(request.name());
  lead.set_price(request.price());
  lead.set_pipeline_id(kPipeline);
  lead.set_status_id(stage);
  *lead.mutable_contact_ids() = request.contact_ids();
  return lead;
}

class QualifyTest : public ::testing::Test {
 protected:
  // Expects CreateLead and UpdateLead as a successful flow makes them; records the requests.
  void ExpectLeadCreatedAndMoved() {
    EXPECT_CALL(leads_, CreateLead(_, _, _))
        .WillOnce(Invoke([this](grpc::ClientContext*, const kommo::v1::CreateLeadRequest& request,
                                kommo::v1::CreateLeadResponse* response) {
          create_lead_ = request;
          *response->mutable_lead() = MakeLead(31000000007, request, kFirstStage);
          return grpc::Status::OK;
        }));
    EXPECT_CALL(leads_, UpdateLead(_, _, _))
        .WillOnce(Invoke([this](grpc::ClientContext*, const kommo::v1::UpdateLeadRequest& request,
                                kommo::v1::UpdateLeadResponse* response) {
          update_lead_ = request;
          *response->mutable_lead() =
              MakeLead(request.lead_id(), create_lead_, request.status_id());
          return grpc::Status::OK;
        }));
  }

  NiceMock<kommo::v1::MockLeadServiceStub> leads_;
  NiceMock<kommo::v1::MockContactServiceStub> contacts_;
  kommo::v1::CreateLeadRequest create_lead_;
  kommo::v1::UpdateLeadRequest update_lead_;
};

TEST_F(QualifyTest, ReusesTheContactWhoseEmailMatchesExactly) {
  EXPECT_CALL(contacts_, SearchContacts(_, _, _))
      .WillOnce(Invoke([](grpc::ClientContext*, const kommo::v1::SearchContactsRequest& request,
                          kommo::v1::SearchContactsResponse* response) {
        EXPECT_EQ(request.query(), "ann@example.com");
        // Kommo's loose search also returns joann@; the exact match differs only in case.
        *response->add_contacts() = MakeContact(52000000001, "joann@example.com");
        *response->add_contacts() = MakeContact(52000000002, "Ann@Example.com");
        return grpc::Status::OK;
      }));
  EXPECT_CALL(contacts_, CreateContact(_, _, _)).Times(0);
  ExpectLeadCreatedAndMoved();

  const Outcome outcome = Qualify(leads_, contacts_, AnnLee());

  ASSERT_TRUE(outcome.status.ok()) << outcome.status.error_message();
  EXPECT_FALSE(outcome.contact_created);
  EXPECT_EQ(outcome.contact.id(), 52000000002);
  EXPECT_EQ(create_lead_.name(), "Chat: pricing question");
  EXPECT_EQ(create_lead_.price(), 1500);
  EXPECT_THAT(create_lead_.contact_ids(), ElementsAre(52000000002));
  // The move sets the stage (in the lead's pipeline) and leaves everything else alone.
  EXPECT_EQ(update_lead_.lead_id(), 31000000007);
  EXPECT_EQ(update_lead_.status_id(), kQualified);
  EXPECT_EQ(update_lead_.pipeline_id(), kPipeline);
  EXPECT_FALSE(update_lead_.has_name());
  EXPECT_FALSE(update_lead_.has_price());
  EXPECT_FALSE(update_lead_.has_responsible_user_id());
  EXPECT_EQ(outcome.lead.status_id(), kQualified);
}

TEST_F(QualifyTest, CreatesTheContactWhenNoneMatches) {
  EXPECT_CALL(contacts_, SearchContacts(_, _, _)).WillOnce(Return(grpc::Status::OK));
  kommo::v1::CreateContactRequest created;
  EXPECT_CALL(contacts_, CreateContact(_, _, _))
      .WillOnce(
          Invoke([&created](grpc::ClientContext*, const kommo::v1::CreateContactRequest& request,
                            kommo::v1::CreateContactResponse* response) {
            created = request;
            response->mutable_contact()->set_id(52000000009);
            return grpc::Status::OK;
          }));
  ExpectLeadCreatedAndMoved();

  const Outcome outcome = Qualify(leads_, contacts_, AnnLee());

  ASSERT_TRUE(outcome.status.ok()) << outcome.status.error_message();
  EXPECT_TRUE(outcome.contact_created);
  EXPECT_EQ(created.name(), "Ann Lee");
  EXPECT_EQ(created.responsible_user_id(), kUser);
  EXPECT_EQ(created.created_by(), kUser);
  EXPECT_THAT(created.emails(), ElementsAre("ann@example.com"));
  EXPECT_THAT(created.phones(), ElementsAre("+1 555 0100"));
  EXPECT_THAT(create_lead_.contact_ids(), ElementsAre(52000000009));
}

TEST_F(QualifyTest, LooksAtTheNextPageForTheExactMatch) {
  std::vector<std::string> tokens;
  EXPECT_CALL(contacts_, SearchContacts(_, _, _))
      .Times(2)
      .WillRepeatedly(
          Invoke([&tokens](grpc::ClientContext*, const kommo::v1::SearchContactsRequest& request,
                           kommo::v1::SearchContactsResponse* response) {
            tokens.push_back(request.page_token());
            if (request.page_token().empty()) {
              *response->add_contacts() = MakeContact(52000000001, "joann@example.com");
              response->set_next_page_token("page-2");
            } else {
              *response->add_contacts() = MakeContact(52000000003, "ann@example.com");
            }
            return grpc::Status::OK;
          }));
  ExpectLeadCreatedAndMoved();

  const Outcome outcome = Qualify(leads_, contacts_, AnnLee());

  ASSERT_TRUE(outcome.status.ok());
  EXPECT_THAT(tokens, ElementsAre("", "page-2"));
  EXPECT_EQ(outcome.contact.id(), 52000000003);
}

// What the server sends when its rate limit cannot admit the call in time.
grpc::Status RateLimited() {
  google::rpc::Status details;
  details.set_code(static_cast<int>(grpc::StatusCode::RESOURCE_EXHAUSTED));
  details.set_message("rate limit: no slot before the deadline");
  google::rpc::ErrorInfo info;
  info.set_domain(kommo::client::kErrorDomain);
  info.set_reason(kommo::client::ReasonName(kommo::v1::ERROR_REASON_RATE_LIMIT_QUEUE_TIMEOUT));
  details.add_details()->PackFrom(info);
  google::rpc::RetryInfo retry;
  retry.mutable_retry_delay()->set_seconds(2);
  details.add_details()->PackFrom(retry);
  return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, details.message(),
                      details.SerializeAsString());
}

TEST_F(QualifyTest, StopsAtAFailedCreateWithTheServersDetails) {
  EXPECT_CALL(contacts_, SearchContacts(_, _, _))
      .WillOnce(Invoke([](grpc::ClientContext*, const kommo::v1::SearchContactsRequest&,
                          kommo::v1::SearchContactsResponse* response) {
        *response->add_contacts() = MakeContact(52000000001, "ann@example.com");
        return grpc::Status::OK;
      }));
  EXPECT_CALL(leads_, CreateLead(_, _, _)).WillOnce(Return(RateLimited()));
  EXPECT_CALL(leads_, UpdateLead(_, _, _)).Times(0);

  const Outcome outcome = Qualify(leads_, contacts_, AnnLee());

  EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(outcome.failed_step, "create lead");
  EXPECT_EQ(kommo::client::ErrorReason(outcome.status), "RATE_LIMIT_QUEUE_TIMEOUT");
  EXPECT_EQ(kommo::client::ReasonOf(outcome.status),
            kommo::v1::ERROR_REASON_RATE_LIMIT_QUEUE_TIMEOUT);
  EXPECT_EQ(kommo::client::GetRetryDelay(outcome.status), std::chrono::milliseconds(2000));
  EXPECT_EQ(outcome.lead.id(), 0);
}

TEST_F(QualifyTest, AFailedMoveStillReportsTheCreatedLead) {
  EXPECT_CALL(contacts_, SearchContacts(_, _, _))
      .WillOnce(Invoke([](grpc::ClientContext*, const kommo::v1::SearchContactsRequest&,
                          kommo::v1::SearchContactsResponse* response) {
        *response->add_contacts() = MakeContact(52000000001, "ann@example.com");
        return grpc::Status::OK;
      }));
  EXPECT_CALL(leads_, CreateLead(_, _, _))
      .WillOnce(Invoke([](grpc::ClientContext*, const kommo::v1::CreateLeadRequest& request,
                          kommo::v1::CreateLeadResponse* response) {
        *response->mutable_lead() = MakeLead(31000000008, request, kFirstStage);
        return grpc::Status::OK;
      }));
  EXPECT_CALL(leads_, UpdateLead(_, _, _))
      .WillOnce(Return(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "unknown stage")));

  const Outcome outcome = Qualify(leads_, contacts_, AnnLee());

  EXPECT_EQ(outcome.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(outcome.failed_step, "move lead");
  EXPECT_EQ(outcome.lead.id(), 31000000008);
  EXPECT_EQ(outcome.lead.status_id(), kFirstStage);
}

}  // namespace
}  // namespace lead_qualification
