#ifndef KOMMO_SERVER_API_SERVICES_H_
#define KOMMO_SERVER_API_SERVICES_H_

// The gRPC handlers: validate, call the Kommo client, convert. No JSON, URLs or retries here.

#include "absl/time/time.h"
#include "kommo/v1/contact_service.grpc.pb.h"
#include "kommo/v1/lead_service.grpc.pb.h"
#include "server/kommo/kommo_client.h"

namespace kommo::api {

struct ServiceOptions {
  // Deadline given to calls that arrive without one.
  absl::Duration default_deadline = absl::Seconds(30);
};

class LeadServiceImpl final : public kommo::v1::LeadService::CallbackService {
 public:
  LeadServiceImpl(kommo_api::KommoClient* client, ServiceOptions options)
      : client_(client), options_(options) {}

  grpc::ServerUnaryReactor* CreateLead(grpc::CallbackServerContext* context,
                                       const kommo::v1::CreateLeadRequest* request,
                                       kommo::v1::CreateLeadResponse* response) override;
  grpc::ServerUnaryReactor* UpdateLead(grpc::CallbackServerContext* context,
                                       const kommo::v1::UpdateLeadRequest* request,
                                       kommo::v1::UpdateLeadResponse* response) override;
  grpc::ServerUnaryReactor* GetLead(grpc::CallbackServerContext* context,
                                    const kommo::v1::GetLeadRequest* request,
                                    kommo::v1::GetLeadResponse* response) override;
  grpc::ServerUnaryReactor* SearchLeads(grpc::CallbackServerContext* context,
                                        const kommo::v1::SearchLeadsRequest* request,
                                        kommo::v1::SearchLeadsResponse* response) override;

 private:
  kommo_api::KommoClient* client_;
  ServiceOptions options_;
};

class ContactServiceImpl final : public kommo::v1::ContactService::CallbackService {
 public:
  ContactServiceImpl(kommo_api::KommoClient* client, ServiceOptions options)
      : client_(client), options_(options) {}

  grpc::ServerUnaryReactor* CreateContact(grpc::CallbackServerContext* context,
                                          const kommo::v1::CreateContactRequest* request,
                                          kommo::v1::CreateContactResponse* response) override;
  grpc::ServerUnaryReactor* GetContact(grpc::CallbackServerContext* context,
                                       const kommo::v1::GetContactRequest* request,
                                       kommo::v1::GetContactResponse* response) override;
  grpc::ServerUnaryReactor* SearchContacts(grpc::CallbackServerContext* context,
                                           const kommo::v1::SearchContactsRequest* request,
                                           kommo::v1::SearchContactsResponse* response) override;

 private:
  kommo_api::KommoClient* client_;
  ServiceOptions options_;
};

}  // namespace kommo::api

#endif  // KOMMO_SERVER_API_SERVICES_H_
