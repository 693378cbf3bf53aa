#ifndef KOMMO_TESTS_SUPPORT_SERVICE_STACK_H_
#define KOMMO_TESTS_SUPPORT_SERVICE_STACK_H_

// The service in-process for integration tests: event loop, libcurl transport, Kommo client and
// gRPC server on 127.0.0.1:0, plus what a caller reads off a failed call.

#include <grpcpp/grpcpp.h>

#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "kommo/v1/company_service.grpc.pb.h"
#include "kommo/v1/contact_service.grpc.pb.h"
#include "kommo/v1/lead_service.grpc.pb.h"
#include "kommo/v1/link_service.grpc.pb.h"
#include "kommo/v1/note_service.grpc.pb.h"
#include "kommo/v1/task_service.grpc.pb.h"
#include "server/api/grpc_server.h"
#include "server/api/idempotency.h"
#include "server/api/shared_idempotency.h"
#include "server/http/curl_transport.h"
#include "server/http/epoll_loop.h"
#include "server/kommo/kommo_client.h"
#include "server/redis/redis_client.h"
#include "server/watch/shared_history.h"
#include "server/watch/watch_hub.h"

namespace kommo::testing {

// What a caller can read off a failed call.
struct CallError {
  grpc::StatusCode code = grpc::StatusCode::OK;
  std::string message;
  std::string reason;
  std::map<std::string, std::string> metadata;
  std::vector<std::string> fields;  // BadRequest field violations
  bool has_retry_info = false;
};

inline CallError Inspect(const grpc::Status& status) {
  CallError error;
  error.code = status.error_code();
  error.message = status.error_message();
  google::rpc::Status details;
  if (!details.ParseFromString(status.error_details())) return error;
  for (const auto& any : details.details()) {
    google::rpc::ErrorInfo info;
    google::rpc::BadRequest bad_request;
    google::rpc::RetryInfo retry;
    if (any.UnpackTo(&info)) {
      error.reason = info.reason();
      error.metadata.insert(info.metadata().begin(), info.metadata().end());
    } else if (any.UnpackTo(&bad_request)) {
      for (const auto& violation : bad_request.field_violations()) {
        error.fields.push_back(violation.field());
      }
    } else if (any.UnpackTo(&retry)) {
      error.has_retry_info = true;
    }
  }
  return error;
}

// The state a stack shares with other replicas through Redis (REDIS_URL).
struct StackRedis {
  std::string url;
  api::SharedIdempotency::Options idempotency;
  // The change history through Redis too (WatchOptions::shared).
  bool share_watch = true;
  watch::SharedHistoryOptions watch;
};

// One service stack: loop, transport, Kommo client and gRPC server, pointed at
// `options.api_base_url`.
class ServiceStack {
 public:
  // `adjust`, when given, changes the server's options before it starts (TLS, a health port).
  // `redis`, when given, makes the stack one replica of several sharing that Redis.
  explicit ServiceStack(rest::KommoClientOptions options,
                        http::CurlTransportOptions transport_options = {},
                        watch::WatchOptions watch_options = FastWatchOptions(),
                        const std::function<void(api::GrpcServerOptions&)>& adjust = nullptr,
                        const StackRedis* redis = nullptr) {
    loop_ = *http::EpollLoop::Create();
    absl::Status started = loop_->Start();
    if (!started.ok()) std::abort();
    transport_ = *http::CurlTransport::Create(loop_.get(), std::move(transport_options));
    client_ = rest::NewKommoClient(std::move(options), transport_.get(), loop_.get());
    api::GrpcServerOptions server_options;
    server_options.listen = "127.0.0.1:0";
    server_options.service.idempotency = &idempotency_;
    server_options.service.loop = loop_.get();
    if (redis != nullptr) {
      loop_->RunAndWait([this, redis] {
        redis::RedisOptions redis_options;
        redis_options.url = redis->url;
        redis_options.name = "test-stack";
        absl::StatusOr<std::unique_ptr<redis::RedisClient>> made =
            redis::RedisClient::Create(loop_.get(), redis_options);
        if (!made.ok()) std::abort();
        redis_ = std::move(*made);
        shared_idempotency_ =
            std::make_unique<api::SharedIdempotency>(redis_.get(), loop_.get(), redis->idempotency);
        if (redis->share_watch) {
          watch::SharedHistoryOptions history_options = redis->watch;
          if (history_options.replica_id.empty()) {
            history_options.replica_id = shared_idempotency_->replica_id();
          }
          shared_history_ =
              std::make_unique<watch::SharedHistory>(redis_.get(), std::move(history_options));
        }
      });
      server_options.service.shared_idempotency = shared_idempotency_.get();
      watch_options.shared = shared_history_.get();
      watch_options.lease = redis->watch.lease;
    }
    watch_hub_ = std::make_unique<watch::WatchHub>(client_.get(), loop_.get(), watch_options);
    server_options.service.watch_hub = watch_hub_.get();
    server_options.service.watch_heartbeat_interval = absl::Milliseconds(500);
    if (adjust) adjust(server_options);
    server_ = *api::GrpcServer::Start(server_options, client_.get());
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                   grpc::InsecureChannelCredentials());
    leads = v1::LeadService::NewStub(channel_);
    contacts = v1::ContactService::NewStub(channel_);
    notes = v1::NoteService::NewStub(channel_);
    tasks = v1::TaskService::NewStub(channel_);
    companies = v1::CompanyService::NewStub(channel_);
    links = v1::LinkService::NewStub(channel_);
  }
  // A stack with fast defaults for tests against the emulator (which does not limit by default).
  ServiceStack(const std::string& api_base_url, const std::string& token)
      : ServiceStack(FastOptions(api_base_url, token)) {}
  ~ServiceStack() {
    loop_->Post([hub = watch_hub_.get()] { hub->Shutdown(); });
    server_->Shutdown(absl::Now() + absl::Seconds(1));
    server_.reset();
    transport_->Shutdown();
    loop_->Shutdown();  // nothing may run on the loop once the client is gone
    shared_idempotency_.reset();
    watch_hub_.reset();
    shared_history_.reset();
    redis_.reset();
    client_.reset();
    transport_.reset();
    loop_.reset();
  }

  // Change streams for tests: a poll every 200 ms, a short lookback.
  static watch::WatchOptions FastWatchOptions() {
    watch::WatchOptions options;
    options.poll_interval = absl::Milliseconds(200);
    options.lookback = absl::Minutes(5);
    options.overlap = absl::Seconds(10);
    options.settle = absl::Seconds(1);
    return options;
  }

  static rest::KommoClientOptions FastOptions(const std::string& api_base_url,
                                              const std::string& token) {
    rest::KommoClientOptions options;
    options.api_base_url = api_base_url;
    options.access_token = token;
    options.rate_limit_rps = 200;
    options.request_timeout = absl::Seconds(5);
    return options;
  }

  std::shared_ptr<grpc::Channel> channel() { return channel_; }
  rest::KommoClient* client() { return client_.get(); }
  api::GrpcServer* server() { return server_.get(); }
  watch::WatchHub* watch_hub() { return watch_hub_.get(); }
  EventLoop* loop() { return loop_.get(); }
  http::EpollLoop* epoll_loop() { return loop_.get(); }
  api::SharedIdempotency* shared_idempotency() { return shared_idempotency_.get(); }
  redis::RedisClient* redis() { return redis_.get(); }

  std::unique_ptr<v1::LeadService::Stub> leads;
  std::unique_ptr<v1::ContactService::Stub> contacts;
  std::unique_ptr<v1::NoteService::Stub> notes;
  std::unique_ptr<v1::TaskService::Stub> tasks;
  std::unique_ptr<v1::CompanyService::Stub> companies;
  std::unique_ptr<v1::LinkService::Stub> links;

 private:
  // Declared first: outlives the loop and the server, whose callbacks use it.
  api::IdempotencyStore idempotency_;
  std::unique_ptr<http::EpollLoop> loop_;
  std::unique_ptr<http::CurlTransport> transport_;
  std::unique_ptr<rest::KommoClient> client_;
  std::unique_ptr<redis::RedisClient> redis_;
  std::unique_ptr<api::SharedIdempotency> shared_idempotency_;
  std::unique_ptr<watch::SharedHistory> shared_history_;
  std::unique_ptr<watch::WatchHub> watch_hub_;
  std::unique_ptr<api::GrpcServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
};

}  // namespace kommo::testing

#endif  // KOMMO_TESTS_SUPPORT_SERVICE_STACK_H_
