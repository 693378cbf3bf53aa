// The gRPC server with TLS in-process (ctest label `integration`): GrpcServer with mTLS files
// against the emulator, a real client channel with the CA and a client certificate, and the
// plaintext health-only port that probes use when the gRPC port speaks TLS.

#include <grpcpp/grpcpp.h>

#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "emulator/emulator.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "kommo/client/channel.h"
#include "kommo/v1/account_service.grpc.pb.h"
#include "kommo/v1/lead_service.grpc.pb.h"
#include "tests/support/service_stack.h"
#include "tests/support/test_cert.h"

namespace kommo {
namespace {

namespace emu = ::kommo::emulator;
using ::kommo::testing::CertFiles;
using ::kommo::testing::MakeCa;
using ::kommo::testing::MakeSignedCert;
using ::kommo::testing::ServiceStack;

constexpr char kToken[] = "tls-token";

class GrpcTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/grpc_tls_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::create_directories(dir_);
    ca_ = MakeCa(dir_, "ca");
    client_ca_ = MakeCa(dir_, "client-ca");
    server_cert_ = MakeSignedCert(ca_, dir_, "server", "kommo-grpc", "IP:127.0.0.1");
    client_cert_ = MakeSignedCert(client_ca_, dir_, "client", "crm-ui", "DNS:crm-ui");
    ASSERT_FALSE(server_cert_.cert.empty());
    ASSERT_FALSE(client_cert_.cert.empty());

    emu::EmulatorOptions options;
    options.token = kToken;
    auto emulator = emu::Emulator::Start(options);
    ASSERT_TRUE(emulator.ok()) << emulator.status();
    emulator_ = std::move(*emulator);
    stack_ = std::make_unique<ServiceStack>(
        ServiceStack::FastOptions(emulator_->base_url() + "/api/v4", kToken),
        http::CurlTransportOptions{}, ServiceStack::FastWatchOptions(),
        [this](api::GrpcServerOptions& server) {
          server.tls = {server_cert_.cert, server_cert_.key, client_ca_.cert};
          server.health_listen = "127.0.0.1:0";
        });
  }
  void TearDown() override {
    stack_.reset();
    if (emulator_) emulator_->Stop();
    std::filesystem::remove_all(dir_);
  }

  std::shared_ptr<grpc::Channel> Channel(bool with_client_cert) {
    client::ChannelOptions options;
    options.retry.max_attempts = 1;
    options.tls.enabled = true;
    options.tls.ca_file = ca_.cert;
    if (with_client_cert) {
      options.tls.cert_file = client_cert_.cert;
      options.tls.key_file = client_cert_.key;
    }
    return client::CreateChannel("127.0.0.1:" + std::to_string(stack_->server()->port()), options);
  }

  grpc::Status GetAccount(const std::shared_ptr<grpc::Channel>& channel) {
    auto stub = v1::AccountService::NewStub(channel);
    auto context = client::NewCallContext(std::chrono::seconds(5));
    v1::GetAccountRequest request;
    v1::GetAccountResponse response;
    const grpc::Status status = stub->GetAccount(context.get(), request, &response);
    if (status.ok()) {
      EXPECT_GT(response.account().id(), 0);
    }
    return status;
  }

  std::string dir_;
  CertFiles ca_, client_ca_, server_cert_, client_cert_;
  std::unique_ptr<emu::Emulator> emulator_;
  std::unique_ptr<ServiceStack> stack_;
};

TEST_F(GrpcTlsTest, MutualTlsCallsReachKommo) {
  const grpc::Status status = GetAccount(Channel(/*with_client_cert=*/true));
  EXPECT_TRUE(status.ok()) << status.error_message();
  // The same server refuses a caller without a certificate, and plaintext.
  EXPECT_EQ(GetAccount(Channel(/*with_client_cert=*/false)).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(GetAccount(stack_->channel()).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(GrpcTlsTest, TheHealthPortIsPlaintextAndServesHealthOnly) {
  ASSERT_NE(stack_->server()->health_port(), 0);
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(stack_->server()->health_port()),
                                     grpc::InsecureChannelCredentials());
  auto health = grpc::health::v1::Health::NewStub(channel);
  for (const char* service : {"", "kommo.v1.LeadService", "kommo.v1.AccountService"}) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(service);
    grpc::health::v1::HealthCheckResponse response;
    const grpc::Status status = health->Check(&context, request, &response);
    ASSERT_TRUE(status.ok()) << service << ": " << status.error_message();
    EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING) << service;
  }
  // No kommo.v1 method answers there: plaintext reaches health only.
  auto account = v1::AccountService::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  v1::GetAccountResponse response;
  EXPECT_EQ(account->GetAccount(&context, v1::GetAccountRequest(), &response).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_EQ(emulator_->requests().size(), 0u);

  // While the server shuts down (an open change stream holds it for up to its grace period), the
  // health port answers NOT_SERVING: probes see the pod leave before it is gone.
  auto leads = v1::LeadService::NewStub(Channel(/*with_client_cert=*/true));
  grpc::ClientContext watch_context;
  auto stream = leads->WatchLeads(&watch_context, v1::WatchLeadsRequest());
  v1::WatchLeadsResponse first;
  ASSERT_TRUE(stream->Read(&first));  // the stream is open (its first heartbeat came)
  std::thread shutdown([this] { stack_->server()->Shutdown(absl::Now() + absl::Seconds(3)); });
  bool not_serving = false;
  for (int i = 0; i < 100 && !not_serving; ++i) {
    grpc::ClientContext check;
    check.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(1));
    grpc::health::v1::HealthCheckResponse answer;
    const grpc::Status status =
        health->Check(&check, grpc::health::v1::HealthCheckRequest(), &answer);
    not_serving =
        status.ok() && answer.status() == grpc::health::v1::HealthCheckResponse::NOT_SERVING;
    if (!not_serving) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(not_serving);
  watch_context.TryCancel();
  shutdown.join();
}

}  // namespace
}  // namespace kommo
