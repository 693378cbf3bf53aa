#include "emulator/emulator.h"

#include <sys/resource.h>

#include <cstdio>
#include <future>
#include <utility>

#include "absl/strings/str_cat.h"
#include "emulator/event_loop.h"
#include "emulator/http_server.h"
#include "emulator/kommo_api.h"
#include "emulator/store.h"

namespace kommo::emulator {
namespace {

constexpr std::string_view kAdminPrefix = "/_emulator/";

// Thousands of concurrent connections need more descriptors than the usual soft limit of 1024.
void RaiseFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

HttpResponse AdminJson(int status, std::string body) {
  return HttpResponse::WithBody(status, "application/json", std::move(body));
}

}  // namespace

// Everything that lives on the loop thread.
class EmulatorImpl {
 public:
  EmulatorImpl(EmulatorOptions options, std::unique_ptr<EventLoop> loop)
      : options_(std::move(options)), loop_(std::move(loop)) {}

  absl::Status Listen() {
    HttpServerOptions server_options;
    server_options.max_body_bytes = options_.max_body_bytes;
    server_options.max_header_bytes = options_.max_header_bytes;
    server_options.max_connections = options_.max_connections;
    server_options.idle_timeout = options_.idle_timeout;
    absl::StatusOr<std::unique_ptr<HttpServer>> server =
        HttpServer::Create(loop_.get(), options_.listen, server_options,
                           [this](HttpRequest request, Responder responder) {
                             OnRequest(std::move(request), std::move(responder));
                           });
    if (!server.ok()) return server.status();
    server_ = *std::move(server);
    std::string host = server_->host();
    if (host == "0.0.0.0") host = "127.0.0.1";
    if (host == "::") host = "::1";
    if (host.find(':') != std::string::npos) host = absl::StrCat("[", host, "]");
    base_url_ = absl::StrCat("http://", host, ":", server_->port());
    api_ = std::make_unique<KommoApi>(&store_, &options_, base_url_);
    return absl::OkStatus();
  }

  EventLoop* loop() { return loop_.get(); }
  Store& store() { return store_; }
  int port() const { return server_->port(); }
  const std::string& base_url() const { return base_url_; }
  void CloseServer() { server_.reset(); }

 private:
  // The one place every request passes. The order of stages is the contract the next stages
  // (request log, fault injection, latency timers) plug into: admin → faults → Kommo API.
  void OnRequest(HttpRequest request, Responder responder) {
    ++requests_total_;
    HttpResponse response;
    if (request.path.compare(0, kAdminPrefix.size(), kAdminPrefix) == 0) {
      response = HandleAdmin(request);
    } else {
      response = api_->Handle(request);
    }
    if (options_.access_log) {
      // Method, path and status only: queries and bodies may hold contact data, headers the token.
      std::fprintf(stderr, "kommo-emulator: %s %s -> %d (request %s)\n", request.method.c_str(),
                   request.path.c_str(), response.status, request.request_id.c_str());
    }
    responder.Send(std::move(response));
  }

  // /_emulator/...: test controls real Kommo never has. No authentication.
  HttpResponse HandleAdmin(const HttpRequest& request) {
    const std::string what = request.path.substr(kAdminPrefix.size());
    const bool get = request.method == "GET";
    const bool post = request.method == "POST";
    if (what == "health") {
      return get ? AdminJson(200, R"({"status":"ok"})") : AdminMethodNotAllowed("GET");
    }
    if (what == "reset") {
      if (!post) return AdminMethodNotAllowed("POST");
      store_.Reset();
      return AdminJson(200, R"({"leads":0,"contacts":0})");
    }
    if (what == "stats") {
      if (!get) return AdminMethodNotAllowed("GET");
      const HttpServerStats stats = server_->stats();
      return AdminJson(
          200, absl::StrCat(R"({"leads":)", store_.leads().size(), R"(,"contacts":)",
                            store_.contacts().size(), R"(,"requests_total":)", requests_total_,
                            R"(,"connections_open":)", stats.connections_open,
                            R"(,"connections_accepted":)", stats.connections_accepted, "}"));
    }
    if (what == "leads/count" || what == "contacts/count") {
      if (!get) return AdminMethodNotAllowed("GET");
      const size_t count = what == "leads/count" ? store_.leads().size() : store_.contacts().size();
      return AdminJson(200, absl::StrCat(R"({"count":)", count, "}"));
    }
    return ProblemResponse(404, absl::StrCat("Unknown emulator admin path ", request.path));
  }

  static HttpResponse AdminMethodNotAllowed(const char* allow) {
    HttpResponse response = ProblemResponse(405, "Method not allowed here");
    response.headers.emplace_back("Allow", allow);
    return response;
  }

  EmulatorOptions options_;
  std::unique_ptr<EventLoop> loop_;
  Store store_;
  std::unique_ptr<HttpServer> server_;
  std::unique_ptr<KommoApi> api_;
  std::string base_url_;
  uint64_t requests_total_ = 0;
};

absl::StatusOr<std::unique_ptr<Emulator>> Emulator::Start(EmulatorOptions options) {
  RaiseFileLimit();
  absl::StatusOr<std::unique_ptr<EventLoop>> loop = EventLoop::Create();
  if (!loop.ok()) return loop.status();
  auto impl = std::make_unique<EmulatorImpl>(std::move(options), *std::move(loop));
  if (absl::Status status = impl->Listen(); !status.ok()) return status;
  std::unique_ptr<Emulator> emulator(new Emulator());
  emulator->port_ = impl->port();
  emulator->base_url_ = impl->base_url();
  emulator->impl_ = std::move(impl);
  EventLoop* loop_ptr = emulator->impl_->loop();
  emulator->thread_ = std::thread([loop_ptr] { loop_ptr->Run(); });
  return emulator;
}

Emulator::~Emulator() { Stop(); }

void Emulator::Stop() {
  if (stopped_) return;
  stopped_ = true;
  impl_->loop()->Quit();
  if (thread_.joinable()) thread_.join();
  impl_->CloseServer();  // the loop no longer runs: safe to close its sockets from here
}

void Emulator::RunOnLoop(const std::function<void()>& task) {
  if (stopped_) {
    task();
    return;
  }
  std::promise<void> done;
  impl_->loop()->Post([&] {
    task();
    done.set_value();
  });
  done.get_future().wait();
}

void Emulator::Reset() {
  RunOnLoop([this] { impl_->store().Reset(); });
}

size_t Emulator::lead_count() {
  size_t count = 0;
  RunOnLoop([&] { count = impl_->store().leads().size(); });
  return count;
}

size_t Emulator::contact_count() {
  size_t count = 0;
  RunOnLoop([&] { count = impl_->store().contacts().size(); });
  return count;
}

}  // namespace kommo::emulator
