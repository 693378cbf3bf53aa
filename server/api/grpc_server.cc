#include "server/api/grpc_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>

#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.pb.h"

namespace kommo::api {

GrpcServer::GrpcServer(rest::KommoClient* client, ServiceOptions options)
    : leads_(client, options), contacts_(client, options) {}

GrpcServer::~GrpcServer() {
  Shutdown(absl::Now());
  Wait();
}

absl::StatusOr<std::unique_ptr<GrpcServer>> GrpcServer::Start(GrpcServerOptions options,
                                                              rest::KommoClient* client) {
  std::unique_ptr<GrpcServer> server(new GrpcServer(client, options.service));
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  // gRPC's built-in health service is implemented without the C++ descriptors; referencing them
  // links health.pb.cc in, so that reflection can describe grpc.health.v1.Health.
  (void)grpc::health::v1::HealthCheckRequest::descriptor();

  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, grpc::InsecureServerCredentials(), &server->port_);
  builder.RegisterService(&server->leads_);
  builder.RegisterService(&server->contacts_);
  // Callers keep channels open for long: answer their keepalive pings (at most one every 10 s
  // without calls) instead of closing the connection with GOAWAY "too_many_pings".
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
  // Ping idle callers every 60 s so that dead connections are noticed; allow 20 s for the answer.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 60000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20000);
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.listen, " (address in use or not valid?)"));
  }
  grpc::HealthCheckServiceInterface* health = server->server_->GetHealthCheckService();
  health->SetServingStatus(true);
  health->SetServingStatus("kommo.v1.LeadService", true);
  health->SetServingStatus("kommo.v1.ContactService", true);
  return server;
}

void GrpcServer::Shutdown(absl::Time deadline) {
  if (shut_down_ || server_ == nullptr) return;
  shut_down_ = true;
  server_->GetHealthCheckService()->SetServingStatus(false);
  server_->Shutdown(absl::ToChronoTime(deadline));
}

void GrpcServer::Wait() {
  if (server_ != nullptr) server_->Wait();
}

}  // namespace kommo::api
