#ifndef KOMMO_SERVER_API_SERVICES_H_
#define KOMMO_SERVER_API_SERVICES_H_

// The gRPC handlers: decode, validate, call the Kommo client, convert. No JSON, URLs or retries.
//
// The methods are registered in gRPC's "raw" callback form (the request arrives as bytes) so that
// a request protobuf cannot parse, such as a string field holding invalid UTF-8, is answered with
// INVALID_ARGUMENT (reason MALFORMED_REQUEST) instead of gRPC's generic INTERNAL. Reflection and
// the wire format are the same as for the ordinary generated service.

#include <utility>

#include "absl/time/time.h"
#include "kommo/v1/contact_service.grpc.pb.h"
#include "kommo/v1/lead_service.grpc.pb.h"
#include "kommo/v1/note_service.grpc.pb.h"
#include "server/accounts/accounts.h"
#include "server/api/idempotency.h"
#include "server/api/shared_idempotency.h"
#include "server/auth/callers.h"
#include "server/common/event_loop.h"
#include "server/kommo/kommo_client.h"
#include "server/metrics/service_metrics.h"
#include "server/watch/watch_hub.h"

namespace kommo::api {

struct ServiceOptions {
  // Deadline given to calls that arrive without one.
  absl::Duration default_deadline = absl::Seconds(30);
  // Where RPCs are counted and timed; may be null.
  metrics::ServiceMetrics* metrics = nullptr;
  // Idempotency keys (request_id) of the creating calls, and the loop that times their callers
  // (the Kommo client's). Without both, request_id is ignored.
  IdempotencyStore* idempotency = nullptr;
  EventLoop* loop = nullptr;
  // The same keys shared by every replica through Redis (REDIS_URL), behind `idempotency`, on
  // `loop`. Null: request_ids are per replica.
  SharedIdempotency* shared_idempotency = nullptr;
  // The Kommo accounts served, each with its client and change stream; a call picks one by its
  // `x-kommo-account` metadata (accounts.h). GrpcServer::Start fills it with the one account
  // ("default") of the client it is given and `watch_hub` when it is null.
  accounts::AccountDirectory* accounts = nullptr;
  // The change stream source of that one account (WatchLeads, WatchContacts; on `loop`). Null:
  // those methods fail UNIMPLEMENTED for it.
  watch::WatchHub* watch_hub = nullptr;
  // Who may call what (CALLERS_FILE). Null: every call is allowed.
  auth::Authorizer* authorizer = nullptr;
  // A stream that has sent nothing for this long sends a heartbeat.
  absl::Duration watch_heartbeat_interval = absl::Seconds(20);
};

using RawLeadService = kommo::v1::LeadService::WithRawCallbackMethod_CreateLead<
    kommo::v1::LeadService::WithRawCallbackMethod_UpdateLead<
        kommo::v1::LeadService::WithRawCallbackMethod_GetLead<
            kommo::v1::LeadService::WithRawCallbackMethod_SearchLeads<
                kommo::v1::LeadService::WithRawCallbackMethod_CreateLeadWithContact<
                    kommo::v1::LeadService::WithRawCallbackMethod_CreateIncomingLead<
                        kommo::v1::LeadService::WithRawCallbackMethod_AcceptIncomingLead<
                            kommo::v1::LeadService::WithRawCallbackMethod_DeclineIncomingLead<
                                kommo::v1::LeadService::WithRawCallbackMethod_ListIncomingLeads<
                                    kommo::v1::LeadService::WithRawCallbackMethod_ListLeads<
                                        kommo::v1::LeadService::WithRawCallbackMethod_WatchLeads<
                                            kommo::v1::LeadService::Service>>>>>>>>>>>;

using RawContactService = kommo::v1::ContactService::WithRawCallbackMethod_CreateContact<
    kommo::v1::ContactService::WithRawCallbackMethod_GetContact<
        kommo::v1::ContactService::WithRawCallbackMethod_SearchContacts<
            kommo::v1::ContactService::WithRawCallbackMethod_LookupContacts<
                kommo::v1::ContactService::WithRawCallbackMethod_FindOrCreateContact<
                    kommo::v1::ContactService::WithRawCallbackMethod_UpdateContact<
                        kommo::v1::ContactService::WithRawCallbackMethod_WatchContacts<
                            kommo::v1::ContactService::Service>>>>>>>;

using RawNoteService = kommo::v1::NoteService::WithRawCallbackMethod_AddNote<
    kommo::v1::NoteService::WithRawCallbackMethod_ListNotes<kommo::v1::NoteService::Service>>;

// Declares a raw unary handler.
#define KOMMO_RAW_HANDLER(Method)                                                               \
  grpc::ServerUnaryReactor* Method(grpc::CallbackServerContext* context,                        \
                                   const grpc::ByteBuffer* request, grpc::ByteBuffer* response) \
      override

class LeadServiceImpl final : public RawLeadService {
 public:
  explicit LeadServiceImpl(ServiceOptions options) : options_(std::move(options)) {}

  grpc::ServerUnaryReactor* CreateLead(grpc::CallbackServerContext* context,
                                       const grpc::ByteBuffer* request,
                                       grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* UpdateLead(grpc::CallbackServerContext* context,
                                       const grpc::ByteBuffer* request,
                                       grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GetLead(grpc::CallbackServerContext* context,
                                    const grpc::ByteBuffer* request,
                                    grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* ListLeads(grpc::CallbackServerContext* context,
                                      const grpc::ByteBuffer* request,
                                      grpc::ByteBuffer* response) override;
  grpc::ServerWriteReactor<grpc::ByteBuffer>* WatchLeads(grpc::CallbackServerContext* context,
                                                         const grpc::ByteBuffer* request) override;
  grpc::ServerUnaryReactor* SearchLeads(grpc::CallbackServerContext* context,
                                        const grpc::ByteBuffer* request,
                                        grpc::ByteBuffer* response) override;
  KOMMO_RAW_HANDLER(CreateLeadWithContact);
  KOMMO_RAW_HANDLER(CreateIncomingLead);
  KOMMO_RAW_HANDLER(AcceptIncomingLead);
  KOMMO_RAW_HANDLER(DeclineIncomingLead);
  KOMMO_RAW_HANDLER(ListIncomingLeads);

 private:
  ServiceOptions options_;
};

class ContactServiceImpl final : public RawContactService {
 public:
  explicit ContactServiceImpl(ServiceOptions options) : options_(std::move(options)) {}

  grpc::ServerUnaryReactor* CreateContact(grpc::CallbackServerContext* context,
                                          const grpc::ByteBuffer* request,
                                          grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GetContact(grpc::CallbackServerContext* context,
                                       const grpc::ByteBuffer* request,
                                       grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* SearchContacts(grpc::CallbackServerContext* context,
                                           const grpc::ByteBuffer* request,
                                           grpc::ByteBuffer* response) override;
  KOMMO_RAW_HANDLER(LookupContacts);
  KOMMO_RAW_HANDLER(FindOrCreateContact);
  KOMMO_RAW_HANDLER(UpdateContact);

  grpc::ServerWriteReactor<grpc::ByteBuffer>* WatchContacts(
      grpc::CallbackServerContext* context, const grpc::ByteBuffer* request) override;

 private:
  ServiceOptions options_;
};

class NoteServiceImpl final : public RawNoteService {
 public:
  explicit NoteServiceImpl(ServiceOptions options) : options_(std::move(options)) {}

  KOMMO_RAW_HANDLER(AddNote);
  KOMMO_RAW_HANDLER(ListNotes);

 private:
  ServiceOptions options_;
};

#undef KOMMO_RAW_HANDLER

}  // namespace kommo::api

#endif  // KOMMO_SERVER_API_SERVICES_H_
