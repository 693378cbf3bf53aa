// kommo-bench-echo-server: the floor of the overhead scenario. A gRPC callback server that answers
// kommo.bench.v1.EchoService/Echo at once, built like kommo-grpc-server (callback API, default
// thread pool, a separate process), so that the difference between the two is the service's work.
//
//   kommo-bench-echo-server --listen=127.0.0.1:0
//   first stdout line: "kommo-bench-echo-server listening on port N"; SIGTERM or SIGINT stops it.

#include <signal.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "grpcpp/grpcpp.h"
#include "kommo/bench/v1/echo.grpc.pb.h"

namespace {

constexpr uint32_t kMaxResponseBytes = 1024 * 1024;

class EchoService final : public kommo::bench::v1::EchoService::CallbackService {
  grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext* context,
                                 const kommo::bench::v1::EchoRequest* request,
                                 kommo::bench::v1::EchoResponse* response) override {
    const uint32_t size = request->response_bytes() < kMaxResponseBytes ? request->response_bytes()
                                                                        : kMaxResponseBytes;
    response->mutable_payload()->assign(size, 'x');
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

int Run(int argc, char** argv) {
  std::string listen = "127.0.0.1:0";
  for (int i = 1; i < argc; ++i) {
    constexpr char kListen[] = "--listen=";
    if (std::strncmp(argv[i], kListen, sizeof(kListen) - 1) == 0) {
      listen = argv[i] + sizeof(kListen) - 1;
    } else {
      std::fprintf(stderr, "usage: kommo-bench-echo-server [--listen=HOST:PORT]\n");
      return 2;
    }
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  EchoService service;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    std::fprintf(stderr, "kommo-bench-echo-server: cannot listen on %s\n", listen.c_str());
    return 1;
  }
  std::printf("kommo-bench-echo-server listening on port %d\n", port);
  std::fflush(stdout);
  int signal_number = 0;
  sigwait(&signals, &signal_number);
  server->Shutdown();
  server->Wait();
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return Run(argc, argv); }
