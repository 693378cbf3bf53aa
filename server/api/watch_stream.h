#ifndef KOMMO_SERVER_API_WATCH_STREAM_H_
#define KOMMO_SERVER_API_WATCH_STREAM_H_

// The server-streaming handlers LeadService.WatchLeads and ContactService.WatchContacts: one
// reactor per stream, reading the account's change history (server/watch) from its resume point,
// filtering, reading the changed entities when the request needs them (one batched list request
// per up to 250 changed entities, shared by watchers asking for the same ones at the same time),
// writing one response at a time, and sending a heartbeat when it is caught up and has written
// nothing for `heartbeat_interval`. A stream that falls behind further than the history reaches
// ends with OUT_OF_RANGE (WATCH_HISTORY_EXPIRED); a failed entity read ends it with that error
// (the caller resumes from its last token: nothing is lost). The history's loop runs every step;
// gRPC's callbacks only post to it. The stream is served by the account its `x-kommo-account`
// metadata names (its own history and poller), which it holds to its end.

#include <grpcpp/grpcpp.h>

#include "kommo/v1/contact_service.pb.h"
#include "kommo/v1/lead_service.pb.h"
#include "server/api/services.h"

namespace kommo::api {

grpc::ServerWriteReactor<grpc::ByteBuffer>* WatchLeadsStream(grpc::CallbackServerContext* context,
                                                             const grpc::ByteBuffer* request,
                                                             const ServiceOptions& options);

grpc::ServerWriteReactor<grpc::ByteBuffer>* WatchContactsStream(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request,
    const ServiceOptions& options);

}  // namespace kommo::api

#endif  // KOMMO_SERVER_API_WATCH_STREAM_H_
