// kommo-grpc-server: flags and environment → config, wiring, signals; nothing else.

#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/api/grpc_server.h"
#include "server/config.h"
#include "server/http/curl_transport.h"
#include "server/kommo/kommo_client.h"

namespace {

void Log(const std::string& line) {
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

int Run(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  absl::StatusOr<kommo::Config> config =
      kommo::LoadConfig(args, [](const char* name) { return std::getenv(name); });
  if (absl::IsNotFound(config.status())) {  // --help
    std::fputs(std::string(config.status().message()).c_str(), stdout);
    return 0;
  }
  if (!config.ok()) {
    Log(absl::StrCat("kommo-grpc-server: configuration error: ", config.status().message()));
    return 2;
  }

  // Signals are taken by sigwait() below; block them before any thread starts so that every
  // thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  kommo::http::CurlTransportOptions transport_options;
  transport_options.user_agent = "kommo-grpc/" KOMMO_GRPC_VERSION;
  transport_options.ca_file = config->ca_file;
  absl::StatusOr<std::unique_ptr<kommo::http::CurlTransport>> transport =
      kommo::http::CurlTransport::Create(transport_options);
  if (!transport.ok()) {
    Log(absl::StrCat("kommo-grpc-server: ", transport.status().message()));
    return 1;
  }

  kommo::kommo_api::KommoClientOptions client_options;
  client_options.api_base_url = config->api_base_url;
  client_options.access_token = config->access_token;
  client_options.rate_limit_rps = config->rate_limit_rps;
  client_options.rate_limit_burst = config->rate_limit_burst;
  client_options.request_timeout = config->request_timeout;
  std::unique_ptr<kommo::kommo_api::KommoClient> client =
      kommo::kommo_api::NewKommoClient(client_options, transport->get(), transport->get());

  kommo::api::GrpcServerOptions server_options;
  server_options.listen = config->listen;
  server_options.service.default_deadline = config->default_deadline;
  absl::StatusOr<std::unique_ptr<kommo::api::GrpcServer>> server =
      kommo::api::GrpcServer::Start(server_options, client.get());
  if (!server.ok()) {
    Log(absl::StrCat("kommo-grpc-server: ", server.status().message()));
    return 1;
  }
  std::printf("kommo-grpc-server listening on port %d (Kommo API %s, %.3g requests/s)\n",
              (*server)->port(), config->api_base_url.c_str(), config->rate_limit_rps);
  std::fflush(stdout);

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  Log(absl::StrCat("kommo-grpc-server: ", signal_number == SIGTERM ? "SIGTERM" : "SIGINT",
                   ": not serving; letting calls in flight finish (up to ",
                   absl::FormatDuration(config->shutdown_grace), ")"));
  (*server)->Shutdown(absl::Now() + config->shutdown_grace);
  (*server)->Wait();
  server->reset();
  client.reset();
  transport->reset();
  Log("kommo-grpc-server: stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return Run(argc, argv); }
