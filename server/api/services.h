#ifndef KOMMO_SERVER_API_SERVICES_H_
#define KOMMO_SERVER_API_SERVICES_H_

// The gRPC handlers: decode, validate, call the Kommo client, convert. No JSON, URLs or retries.
//
// The methods are registered in gRPC's "raw" callback form (the request arrives as bytes) so that
// a request protobuf cannot parse, such as a string field holding invalid UTF-8, is answered with
// INVALID_ARGUMENT (reason MALFORMED_REQUEST) instead of gRPC's generic INTERNAL. Reflection and
// the wire format are the same as for the ordinary generated service.

#include "absl/time/time.h"
#include "kommo/v1/contact_service.grpc.pb.h"
#include "kommo/v1/lead_service.grpc.pb.h"
#include "server/kommo/kommo_client.h"
#include "server/metrics/service_metrics.h"

namespace kommo::api {

struct ServiceOptions {
  // Deadline given to calls that arrive without one.
  absl::Duration default_deadline = absl::Seconds(30);
  // Where RPCs are counted and timed; may be null.
  metrics::ServiceMetrics* metrics = nullptr;
};

using RawLeadService = kommo::v1::LeadService::WithRawCallbackMethod_CreateLead<
    kommo::v1::LeadService::WithRawCallbackMethod_UpdateLead<
        kommo::v1::LeadService::WithRawCallbackMethod_GetLead<
            kommo::v1::LeadService::WithRawCallbackMethod_SearchLeads<
                kommo::v1::LeadService::Service>>>>;

using RawContactService = kommo::v1::ContactService::WithRawCallbackMethod_CreateContact<
    kommo::v1::ContactService::WithRawCallbackMethod_GetContact<
        kommo::v1::ContactService::WithRawCallbackMethod_SearchContacts<
            kommo::v1::ContactService::Service>>>;

class LeadServiceImpl final : public RawLeadService {
 public:
  LeadServiceImpl(rest::KommoClient* client, ServiceOptions options)
      : client_(client), options_(options) {}

  grpc::ServerUnaryReactor* CreateLead(grpc::CallbackServerContext* context,
                                       const grpc::ByteBuffer* request,
                                       grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* UpdateLead(grpc::CallbackServerContext* context,
                                       const grpc::ByteBuffer* request,
                                       grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GetLead(grpc::CallbackServerContext* context,
                                    const grpc::ByteBuffer* request,
                                    grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* SearchLeads(grpc::CallbackServerContext* context,
                                        const grpc::ByteBuffer* request,
                                        grpc::ByteBuffer* response) override;

 private:
  rest::KommoClient* client_;
  ServiceOptions options_;
};

class ContactServiceImpl final : public RawContactService {
 public:
  ContactServiceImpl(rest::KommoClient* client, ServiceOptions options)
      : client_(client), options_(options) {}

  grpc::ServerUnaryReactor* CreateContact(grpc::CallbackServerContext* context,
                                          const grpc::ByteBuffer* request,
                                          grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GetContact(grpc::CallbackServerContext* context,
                                       const grpc::ByteBuffer* request,
                                       grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* SearchContacts(grpc::CallbackServerContext* context,
                                           const grpc::ByteBuffer* request,
                                           grpc::ByteBuffer* response) override;

 private:
  rest::KommoClient* client_;
  ServiceOptions options_;
};

}  // namespace kommo::api

#endif  // KOMMO_SERVER_API_SERVICES_H_
