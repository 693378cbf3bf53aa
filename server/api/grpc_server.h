#ifndef KOMMO_SERVER_API_GRPC_SERVER_H_
#define KOMMO_SERVER_API_GRPC_SERVER_H_

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/api/account_service.h"
#include "server/api/company_service.h"
#include "server/api/reflection_service.h"
#include "server/api/server_tls.h"
#include "server/api/services.h"
#include "server/api/task_service.h"
#include "server/kommo/kommo_client.h"

namespace kommo::api {

// The full names of every method the server serves ("kommo.v1.LeadService/GetLead",
// "grpc.health.v1.Health/Check", ...), for the callers file's method patterns.
std::vector<std::string> ServedMethods();

// The methods open to calls without credentials when a callers file is in force: health always
// (Kubernetes' probes carry none), reflection when `reflection_open`.
std::vector<std::string> OpenMethods(bool reflection_open);

struct GrpcServerOptions {
  // host:port to listen on; port 0 picks a free port (see GrpcServer::port()).
  std::string listen = "0.0.0.0:50051";
  // Inbound TLS / mTLS (server_tls.h); no certificate: plaintext.
  ServerTlsOptions tls;
  // host:port of a second, plaintext port that serves grpc.health.v1 only (the same statuses as
  // the main port), for probes that cannot speak TLS (the kubelet's gRPC probe); "" for none.
  std::string health_listen;
  ServiceOptions service;
};

// The gRPC server: LeadService, ContactService, NoteService, AccountService, TaskService,
// CompanyService, LinkService,
// grpc.health.v1.Health and reflection (with the .proto comments, see reflection_service.h), with
// keepalive settings suited to long-lived channels from other services. Port reuse is off: a
// second server on a taken address fails.
class GrpcServer {
 public:
  // Binds and starts serving; health reports SERVING for "" and both services. A taken or
  // unusable address is UNAVAILABLE with a message naming it and the system's reason; TLS files
  // that are missing or do not parse are INVALID_ARGUMENT naming the setting and the file
  // (CheckServerTlsFiles). Calls go to the accounts of `options.service.accounts`; without them,
  // to one account, "default", of `client` and `options.service.watch_hub`.
  static absl::StatusOr<std::unique_ptr<GrpcServer>> Start(GrpcServerOptions options,
                                                           rest::KommoClient* client = nullptr);
  ~GrpcServer();

  // The bound port.
  int port() const { return port_; }
  // The bound health-only port; 0 without one.
  int health_port() const { return health_port_; }

  // Health turns NOT_SERVING, new calls are refused, calls in flight get until `deadline` to
  // finish (then they are cancelled). Idempotent.
  void Shutdown(absl::Time deadline);
  // Blocks until the server has shut down.
  void Wait();

 private:
  explicit GrpcServer(ServiceOptions options);

  // The one account of a server started with a client and no accounts.
  std::unique_ptr<accounts::SingleAccount> single_account_;
  LeadServiceImpl leads_;
  ContactServiceImpl contacts_;
  NoteServiceImpl notes_;
  AccountServiceImpl account_;
  TaskServiceImpl tasks_;
  CompanyServiceImpl companies_;
  LinkServiceImpl links_;
  std::unique_ptr<ReflectionService> reflection_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  // The health port's answer to every other method: UNIMPLEMENTED (gRPC builds no server with the
  // default health service alone).
  grpc::CallbackGenericService unimplemented_;
  std::unique_ptr<grpc::Server> health_server_;
  int health_port_ = 0;
  bool shut_down_ = false;
};

// Sends gRPC's own log lines (gpr_log) to the server's JSON log, as {"source":"grpc",...}.
void RouteGrpcLogsToJsonLog();

}  // namespace kommo::api

#endif  // KOMMO_SERVER_API_GRPC_SERVER_H_
