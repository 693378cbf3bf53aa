#include "server/api/grpc_server.h"

#include <grpc/support/log.h>
#include <grpcpp/health_check_service_interface.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "server/common/log.h"

namespace kommo::api {
namespace {

// Why `listen` ("host:port", validated by the configuration) cannot be bound, or "" when it can:
// binds a socket the way gRPC does (SO_REUSEADDR, no SO_REUSEPORT) and closes it. Asked before
// gRPC binds so that a taken port is one clear line instead of gRPC's own error lines.
std::string BindProblem(const std::string& listen) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return "";
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  addrinfo hints = {};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), listen.c_str() + colon + 1, &hints, &found) != 0) return "";
  std::string problem;
  for (addrinfo* address = found; address != nullptr; address = address->ai_next) {
    const int fd = socket(address->ai_family, address->ai_socktype | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    const bool bound = bind(fd, address->ai_addr, address->ai_addrlen) == 0;
    if (!bound) problem = std::strerror(errno);
    close(fd);
    if (bound) {
      problem.clear();
      break;
    }
  }
  freeaddrinfo(found);
  return problem;
}

// The services health reports on (besides "", the server as a whole).
constexpr const char* kApiServices[] = {"kommo.v1.LeadService", "kommo.v1.ContactService",
                                        "kommo.v1.NoteService", "kommo.v1.AccountService",
                                        "kommo.v1.TaskService", "kommo.v1.CompanyService",
                                        "kommo.v1.LinkService"};

void LogFromGrpc(gpr_log_func_args* args) {
  log::Level level = log::Level::kInfo;
  if (args->severity == GPR_LOG_SEVERITY_DEBUG) level = log::Level::kDebug;
  if (args->severity == GPR_LOG_SEVERITY_ERROR) level = log::Level::kError;
  const char* file = args->file != nullptr ? std::strrchr(args->file, '/') : nullptr;
  log::Write(level, args->message != nullptr ? args->message : "",
             {{"source", "grpc"},
              {"file", file != nullptr ? file + 1 : (args->file != nullptr ? args->file : "")},
              {"line", args->line}});
}

// Every service served: the API's, health and reflection.
std::vector<std::string> AllServices() {
  std::vector<std::string> services(std::begin(kApiServices), std::end(kApiServices));
  services.push_back("grpc.health.v1.Health");
  services.push_back("grpc.reflection.v1alpha.ServerReflection");
  return services;
}

}  // namespace

std::vector<std::string> ServedMethods() {
  // The embedded descriptors hold every served service, also those whose generated code is not
  // linked in (health).
  absl::StatusOr<std::unique_ptr<ReflectionService>> reflection =
      ReflectionService::Create(kDescriptorSet, AllServices());
  return reflection.ok() ? (*reflection)->Methods() : std::vector<std::string>();
}

std::vector<std::string> OpenMethods(bool reflection_open) {
  std::vector<std::string> open = {"grpc.health.v1.Health/*"};
  if (reflection_open) open.push_back("grpc.reflection.v1alpha.ServerReflection/*");
  return open;
}

void RouteGrpcLogsToJsonLog() { gpr_set_log_function(LogFromGrpc); }

GrpcServer::GrpcServer(ServiceOptions options)
    : leads_(options),
      contacts_(options),
      notes_(options),
      account_(options),
      tasks_(options),
      companies_(options),
      links_(options) {}

GrpcServer::~GrpcServer() {
  Shutdown(absl::Now());
  Wait();
}

absl::StatusOr<std::unique_ptr<GrpcServer>> GrpcServer::Start(GrpcServerOptions options,
                                                              rest::KommoClient* client) {
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      ServerCredentialsFor(options.tls);
  if (!credentials.ok()) return credentials.status();
  std::unique_ptr<accounts::SingleAccount> single;
  if (options.service.accounts == nullptr) {
    if (client == nullptr) {
      return absl::InvalidArgumentError("a server needs a Kommo client or accounts");
    }
    single = std::make_unique<accounts::SingleAccount>(client, options.service.watch_hub);
    options.service.accounts = single.get();
  }
  std::unique_ptr<GrpcServer> server(new GrpcServer(options.service));
  server->single_account_ = std::move(single);
  absl::StatusOr<std::unique_ptr<ReflectionService>> reflection =
      ReflectionService::Create(kDescriptorSet, AllServices());
  if (!reflection.ok()) return reflection.status();
  server->reflection_ = std::move(*reflection);
  server->reflection_->set_authorizer(options.service.authorizer);
  if (std::string problem = BindProblem(options.listen); !problem.empty()) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on ", options.listen, ": ", problem,
        problem == std::strerror(EADDRINUSE) ? " (is another server running there?)" : ""));
  }
  grpc::EnableDefaultHealthCheckService(true);

  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, *credentials, &server->port_);
  builder.RegisterService(&server->leads_);
  builder.RegisterService(&server->contacts_);
  builder.RegisterService(&server->notes_);
  builder.RegisterService(&server->account_);
  builder.RegisterService(&server->tasks_);
  builder.RegisterService(&server->companies_);
  builder.RegisterService(&server->links_);
  builder.RegisterService(server->reflection_.get());
  // gRPC lets several processes listen on one port by default (SO_REUSEPORT), and calls are then
  // split between them silently. One address, one server.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
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
  if (!options.health_listen.empty()) {
    if (std::string problem = BindProblem(options.health_listen); !problem.empty()) {
      return absl::UnavailableError(
          absl::StrCat("cannot listen on ", options.health_listen, " (health): ", problem));
    }
    // The default health service, and UNIMPLEMENTED for any other method.
    grpc::ServerBuilder health_builder;
    health_builder.RegisterCallbackGenericService(&server->unimplemented_);
    health_builder.AddListeningPort(options.health_listen, grpc::InsecureServerCredentials(),
                                    &server->health_port_);
    health_builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    server->health_server_ = health_builder.BuildAndStart();
    if (server->health_server_ == nullptr || server->health_port_ == 0) {
      return absl::UnavailableError(
          absl::StrCat("cannot listen on ", options.health_listen, " (health)"));
    }
  }
  for (grpc::Server* serving : {server->server_.get(), server->health_server_.get()}) {
    if (serving == nullptr) continue;
    grpc::HealthCheckServiceInterface* health = serving->GetHealthCheckService();
    health->SetServingStatus(true);
    for (const char* service : kApiServices) health->SetServingStatus(service, true);
  }
  return server;
}

void GrpcServer::Shutdown(absl::Time deadline) {
  if (shut_down_ || server_ == nullptr) return;
  shut_down_ = true;
  server_->GetHealthCheckService()->SetServingStatus(false);
  if (health_server_ != nullptr) health_server_->GetHealthCheckService()->SetServingStatus(false);
  server_->Shutdown(absl::ToChronoTime(deadline));
  // The health port says NOT_SERVING until the main port has closed.
  if (health_server_ != nullptr) health_server_->Shutdown(absl::ToChronoTime(absl::Now()));
}

void GrpcServer::Wait() {
  if (server_ != nullptr) server_->Wait();
  if (health_server_ != nullptr) health_server_->Wait();
}

}  // namespace kommo::api
